"""`kvgg localize`: the top-5 classes of each image with a box each (paper Appendix A)."""

from __future__ import annotations

import click

from kvgg.cli.options import Scales, out_option

MERGE_HELP = (
    "OverFeat greedy merging stops when the best match score (centre distance plus "
    "intersection, in image units) passes this value. Default: the value measured best on "
    "a validation split (kvgg.localize.DEFAULT_MERGE_THRESHOLD)."
)


def merge_threshold_option():
    """The ``--merge-threshold`` option (shared with ``kvgg evaluate --boxes``)."""
    return click.option(
        "--merge-threshold", type=click.FloatRange(0), default=None, help=MERGE_HELP
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
@click.option(
    "--classifier",
    required=True,
    help="The classifier whose top classes are localised (.keras file or run directory).",
)
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--scales",
    type=Scales(),
    multiple=True,
    help="Test scales Q of the dense application, e.g. 352,384; once for all nets or once "
    "per --model. Default: each net's training scale S.",
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
    help="Folder for the pictures with the boxes drawn (IMAGE.boxes.png). Default: beside "
    "each IMAGE.",
)
@click.option("--no-pictures", is_flag=True, help="Draw no pictures.")
def localize(models, classifier, images, scales, top, merge_threshold, out, pictures, no_pictures):
    """Print the top classes of each IMAGE, each with its box; draw the boxes on the photo.

    Protocol 2 of the paper: the nets run densely over the whole image at each scale,
    the boxes of each class are merged greedily (OverFeat) and rated by the classifier.

    \b
    kvgg localize --model runs/vgg16_pcr_all_s384 --classifier runs/vgg16_s384 cat.jpg
    kvgg localize --model runs/loc_s256 --model runs/loc_s384 --scales 256 \\
        --scales 352,384 --classifier vgg16.keras *.jpg -o boxes.json
    """
    from kvgg.localize.boxes import DEFAULT_MERGE_THRESHOLD
    from kvgg.localize.files import localize_files

    localize_files(
        models,
        classifier,
        images,
        scales=_per_model(scales, len(models)),
        top=top,
        threshold=DEFAULT_MERGE_THRESHOLD if merge_threshold is None else merge_threshold,
        out=out,
        pictures=False if no_pictures else pictures,
        echo=click.echo,
    )


def _per_model(scales, count):
    if not scales:
        return None
    if len(scales) == 1:
        return [scales[0]] * count
    if len(scales) != count:
        raise click.UsageError(
            f"--scales: give it once, or once per --model ({count}). Received {len(scales)}."
        )
    return list(scales)
