"""`kvgg evaluate`, `kvgg predict`, `kvgg scoremap`: the paper's test protocol."""

from __future__ import annotations

import click

from kvgg.cli.options import MODEL_HELP, SCALES_HELP, Scales


@click.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    required=True,
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
    default="dense",
    show_default=True,
    help="Dense (whole image), 50-crop grid per scale, or both.",
)
@click.option("--scales", type=Scales(), default=None, help=SCALES_HELP)
@click.option(
    "--flip/--no-flip", default=True, show_default=True, help="Average in the mirrored image."
)
@click.option(
    "--bucket",
    type=click.IntRange(0),
    default=None,
    help="Dense: pad image sides to a multiple of this many pixels, so that a compiled net "
    "is reused instead of compiled per image size; 0 for exact sizes. Default: 32 on JAX "
    "(fixed-shape compilation), exact on TensorFlow and PyTorch.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Also write the report (errors, per-class accuracy) to this JSON file.",
)
def evaluate(models, data, method, scales, flip, bucket, json_path):
    """Top-1 / top-5 error of one model, or of several fused, by the paper's protocol.

    \b
    kvgg evaluate --model runs/d --data val/ --method both --scales 256,384,512
    """
    from kvgg.evaluate import evaluate_files

    report = evaluate_files(
        models,
        data,
        method=method,
        scales=scales,
        flip=flip,
        bucket="auto" if bucket is None else bucket or None,
        json_path=json_path,
    )
    click.echo(report.table())


@click.command()
@click.option("--model", required=True, help=MODEL_HELP)
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--scales", type=Scales(), default=None, help=SCALES_HELP)
@click.option(
    "--top",
    type=click.IntRange(1),
    default=5,
    show_default=True,
    help="How many classes to print per image.",
)
def predict(model, images, scales, top):
    """Print the most probable classes of each IMAGE (dense multi-scale evaluation)."""
    from kvgg.evaluate import predict_files

    for image, classes in zip(
        images, predict_files(model, images, scales=scales, top=top), strict=True
    ):
        click.echo(image)
        for name, probability in classes:
            click.echo(f"  {probability:6.1%}  {name}")


@click.command()
@click.option("--model", required=True, help=MODEL_HELP)
@click.argument("image", type=click.Path(dir_okay=False))
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="Output picture (.png, .pdf, .svg, ...).",
)
@click.option(
    "--scale",
    type=click.IntRange(1),
    default=None,
    help="Test scale Q; default: the middle of the model's default scales.",
)
def scoremap(model, image, out, scale):
    """Draw the dense score map of IMAGE's top class over the image."""
    from kvgg.evaluate import score_map_file

    name, probability = score_map_file(model, image, out, scale=scale)
    click.echo(f"{name} ({probability:.1%}): wrote {out}")
