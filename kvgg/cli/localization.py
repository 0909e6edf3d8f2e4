"""`kvgg localize`: the top-5 classes of each image with a box each (paper Appendix A)."""

from __future__ import annotations

import click

from kvgg.cli.options import (
    classifier_option,
    classifier_scales_option,
    flip_option,
    given,
    max_pixels_option,
    merge_threshold_option,
    out_option,
    per_option,
    scales_option,
)


@click.command()
@click.option(
    "--model",
    "models",
    required=True,
    multiple=True,
    help="A localisation net (.keras file or `kvgg fit` run directory of a "
    "recipes/localization/ recipe). Repeat to merge the boxes of several nets (Table 9 fusion).",
)
@classifier_option()
@classifier_scales_option()
@flip_option()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@scales_option(
    "Test scales Q of the dense application, e.g. 352,384; once for all nets or once "
    "per --model. Default: each net's training scale S.",
    multiple=True,
)
@click.option(
    "--top",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="Classes per image, each with its box (5: the ILSVRC top-5).",
)
@merge_threshold_option()
@out_option("Also write the boxes (pixel corners of each original image) to this JSON file.")
@click.option(
    "--pictures",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the pictures with the boxes drawn (IMAGE.boxes.png). Default: the "
    "working directory.",
)
@click.option("--no-pictures", is_flag=True, help="Draw no pictures.")
@max_pixels_option()
def localize(
    models,
    classifiers,
    classifier_scales,
    flip,
    images,
    scales,
    top,
    merge_threshold,
    out,
    pictures,
    no_pictures,
    max_pixels,
):
    """Print the top classes of each IMAGE, each with its box; draw the boxes on the photo.

    Protocol 2 of the paper: the nets run densely over the whole image at each scale,
    the boxes of each class are merged greedily (OverFeat) and rated by the classifier.
    The top classes come from the classifiers as `kvgg evaluate --method dense` scores
    them: dense, with flips, at each classifier's own scales (--classifier-scales),
    fused when --classifier is repeated.

    \b
    kvgg localize --model runs/vgg16_pcr_all_s384 --classifier runs/vgg16_s384 cat.jpg
    kvgg localize --model runs/loc_s256 --model runs/loc_s384 --scales 256 \\
        --scales 352,384 --classifier vgg16.keras *.jpg -o boxes.json
    kvgg localize --model runs/loc_s384 --classifier runs/vgg16 --classifier runs/vgg19 \\
        --classifier-scales 256,384,512 cat.jpg
    """
    from kvgg.cli.shutdown import freeze_at_exit
    from kvgg.localize.files import localize_files

    freeze_at_exit()  # exit without collecting TensorFlow's objects (0.8 s)
    localize_files(
        models,
        list(classifiers),
        images,
        scales=per_option(scales, len(models), "--scales", "--model"),
        classifier_scales=per_option(
            classifier_scales, len(classifiers), "--classifier-scales", "--classifier"
        ),
        flip=flip,
        top=top,
        out=out,
        pictures=False if no_pictures else pictures,
        echo=click.echo,
        **given(threshold=merge_threshold, max_pixels=max_pixels),
    )
