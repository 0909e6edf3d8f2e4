"""`kvgg evaluate`, `kvgg predict`, `kvgg scoremap`: the paper's test protocol."""

from __future__ import annotations

import click

from kvgg.cli.options import (
    MODEL_HELP,
    SCALES_HELP,
    Scales,
    classifier_option,
    classifier_scales_option,
    flip_option,
    given,
    max_pixels_option,
    merge_threshold_option,
    model_option,
    out_option,
    per_option,
    precision_option,
    renamed_option,
    scales_option,
)


@click.command()
@model_option(
    multiple=True,
    help=MODEL_HELP + " Repeat the option to fuse several models (their posteriors are averaged).",
)
@click.option(
    "--data",
    required=True,
    help="Labelled images: a folder with one subfolder per "
    "class, or any source spec (folder:PATH, tfrecord:PATTERN, digits:test, ...).",
)
@click.option(
    "--method",
    type=click.Choice(["dense", "multicrop", "both"]),
    multiple=True,
    default=["dense"],
    show_default=True,
    help="Dense (whole image), 50-crop grid per scale, or both. Fusing: once for all models, "
    "or repeated, one per --model in the same order.",
)
@scales_option(
    SCALES_HELP + " Fusing: each model its own preset by default; --scales once for "
    "all models, or repeated, one set per --model in the same order.",
    multiple=True,
)
@flip_option()
@click.option(
    "--bucket",
    type=click.IntRange(0),
    default=None,
    help="Dense: pad image sides to a multiple of this many pixels, so that a compiled net "
    "is reused instead of compiled per image size; 0 for exact sizes. Default: 32 on JAX "
    "(fixed-shape compilation), exact on TensorFlow and PyTorch.",
)
@out_option("Also write the report (errors, per-class accuracy) to this JSON file.")
@renamed_option("--json", new="-o/--out", param="out", type=click.Path())
@precision_option()
@max_pixels_option()
@click.option(
    "--boxes",
    default=None,
    help="Localisation (paper Appendix A): the ground-truth boxes of --data (a folder of "
    "VOC/ILSVRC XML files, or Kaggle's LOC_val_solution.csv). --model is then a localisation "
    "net (repeat to fuse); prints the localisation errors of both protocols like Tables 8, 9.",
)
@classifier_option(required=False)
@classifier_scales_option()
@merge_threshold_option()
def evaluate(
    model,
    data,
    method,
    scales,
    flip,
    bucket,
    out,
    max_pixels,
    boxes,
    classifiers,
    classifier_scales,
    merge_threshold,
):
    """Top-1 / top-5 error of one model, or of several fused, by the paper's protocol.

    A model in a `kvgg fit` run directory also gets the report recorded in
    RUN/evaluations/, where `kvgg report` finds it.

    \b
    kvgg evaluate --model runs/d --data val/ --method both --scales 256,384,512
    kvgg evaluate --model runs/d --data val/ -o report.json
    kvgg evaluate --model runs/d_s384 --model runs/d --data val/ \\
        --scales 352,384,416 --scales 256,384,512 --method both
    kvgg evaluate --model runs/loc_s384 --classifier runs/d_s384 --data val/ --boxes bbox/val/
    """
    if boxes or classifiers or classifier_scales or merge_threshold is not None:
        return _evaluate_localization(
            model,
            data,
            boxes,
            classifiers,
            scales=scales,
            classifier_scales=classifier_scales,
            method=method,
            flip=flip,
            bucket=bucket,
            threshold=merge_threshold,
            out=out,
            max_pixels=max_pixels,
        )
    from kvgg.evaluate import evaluate_files

    evaluate_files(
        model,
        data,
        method=list(method),
        scales=list(scales) or None,
        flip=flip,
        json_path=out,
        echo=click.echo,  # the table is shown before any file is written
        **given(bucket=bucket, max_pixels=max_pixels),
    )


def _evaluate_localization(models, data, boxes, classifiers, *, method, bucket, threshold, **rest):
    """`kvgg evaluate --boxes`: both localisation protocols (kvgg.localize.files)."""
    from kvgg.localize.files import evaluate_localization

    if not (boxes and classifiers):
        raise click.UsageError(
            "Localisation needs both --boxes and --classifier (--classifier-scales and "
            "--merge-threshold apply to localisation only)."
        )
    if tuple(method) != ("dense",):
        raise click.UsageError(
            f"--method {' '.join(method)} does not apply with --boxes: localisation's "
            "protocol 2 takes its top-5 classes from dense evaluation (the classifier's "
            "score map also rates each window's box)."
        )
    evaluate_localization(
        models,
        list(classifiers),
        data,
        boxes,
        scales=per_option(rest["scales"], len(models), "--scales", "--model"),
        classifier_scales=per_option(
            rest["classifier_scales"], len(classifiers), "--classifier-scales", "--classifier"
        ),
        flip=rest["flip"],
        out=rest["out"],
        echo=click.echo,
        **given(bucket=bucket, threshold=threshold, max_pixels=rest["max_pixels"]),
    )


@click.command()
@model_option()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@scales_option()
@flip_option()
@click.option(
    "--top",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="How many classes to print per image.",
)
@max_pixels_option()
def predict(model, images, scales, flip, top, max_pixels):
    """Print the most probable classes of each IMAGE (dense multi-scale evaluation).

    \b
    kvgg predict --model vgg16.keras cat.jpg dog.jpg --top 3
    """
    from kvgg.evaluate import predict_files

    for image, classes in zip(
        images,
        predict_files(
            model, images, scales=scales, flip=flip, top=top, **given(max_pixels=max_pixels)
        ),
        strict=True,
    ):
        click.echo(image)
        for name, probability in classes:
            click.echo(f"  {probability:6.1%}  {name}")


@click.command()
@model_option()
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@out_option(
    "A folder for the pictures (IMAGE's name + .scoremap.png), or for one IMAGE a file "
    "(.png, .pdf, .svg, ...). Default: the working directory."
)
@scales_option("The test scale Q (one value). Default: the middle of the model's default scales.")
@renamed_option("--scale", new="--scales", param="scales", type=Scales())
@flip_option()
def scoremap(model, images, out, scales, flip):
    """Draw the dense score map of each IMAGE's top class over the whole image.

    \b
    kvgg scoremap --model vgg16.keras photo.jpg          # writes ./photo.scoremap.png
    kvgg scoremap --model vgg16.keras *.jpg -o maps/ --scales 512
    """
    from kvgg.evaluate import score_map_files

    if scales is not None and len(scales) != 1:
        raise ValueError(f"A score map is drawn at one scale Q. Received: --scales {scales}")
    (scale,) = scales or (None,)
    for path, name, probability in score_map_files(model, images, out, scale=scale, flip=flip):
        click.echo(f"{name} ({probability:.1%}): wrote {path}")


@click.command()
@click.argument("runs", nargs=-1, required=True, metavar="RUN_OR_JSON...")
@out_option(
    "Also write the report: .md (Markdown tables), .json, or .png/.pdf/.svg (a picture of "
    "the errors by configuration and method). Repeatable.",
    multiple=True,
)
def report(runs, out):
    """Your evaluations beside the paper's Tables 3-7 (top-1 / top-5 error %).

    RUN_OR_JSON is a run directory (its evaluations/, which `kvgg evaluate` fills), a
    folder of runs such as runs/, or a JSON file from `kvgg evaluate -o`. Rows nobody
    evaluated stay blank; evaluations that fit no row of the paper are listed after.

    \b
    kvgg evaluate --model runs/vgg16 --data val/ --scales 384
    kvgg evaluate --model runs/vgg16 --data val/ --method both
    kvgg report runs/ -o table.md -o errors.png
    """
    from kvgg.evaluate.paper_tables import paper_report

    paper_report(runs, out, echo=click.echo, warn=lambda line: click.echo(line, err=True))
