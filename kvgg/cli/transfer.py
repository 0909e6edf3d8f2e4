"""`kvgg transfer` and `kvgg features`: the paper's Appendix B."""

from __future__ import annotations

import os

import click

from kvgg.cli.options import Scales


@click.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a recipe value, e.g. --set models.D=vgg16.keras or "
    "--set features.scales=[256] (repeatable; YAML values).",
)
def transfer(recipe_path, overrides):
    """Reproduce a column of the paper's Table 11 with RECIPE (recipes/transfer/*.yaml).

    Extracts VGG descriptors (cached on disk; an interrupted run resumes), trains
    one-vs-rest linear SVMs and writes results.json, report.md and report.json (the
    paper's numbers beside yours) to runs/transfer/<name>; for VOC also the result
    files in the evaluation server's format.

    \b
    Example:  kvgg transfer recipes/transfer/voc2007.yaml
              kvgg transfer recipes/transfer/caltech101.yaml --set models.D=vgg16.keras
    """
    from kvgg.transfer.experiment import run_transfer

    results = run_transfer(recipe_path, overrides)
    with open(os.path.join(results["out_dir"], "report.md")) as report:
        click.echo(report.read(), nl=False)


@click.command()
@click.argument("model", type=click.Path())
@click.argument("data", metavar="SOURCE")
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(dir_okay=False),
    help="The .npz file to write (features, labels, image_ids, class_names, settings).",
)
@click.option(
    "--scales",
    type=Scales(),
    default="256,384,512",
    show_default=True,
    help="Smallest image sides Q, comma-separated (paper: VOC 256..768, Caltech 256..512).",
)
@click.option(
    "--combine",
    type=click.Choice(["average", "stack"]),
    default="average",
    show_default=True,
    help="Average the per-scale descriptors (VOC) or stack them (Caltech).",
)
@click.option(
    "--flip/--no-flip", default=True, show_default=True, help="Average in the mirrored image."
)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Feature cache (resumable). Default: ~/.cache/kvgg/features.",
)
def features(model, data, out, scales, combine, flip, batch_size, cache_dir):
    """Write L2-normalised 4096-D VGG descriptors (FC-2, dense, paper App. B) of SOURCE.

    MODEL is a .keras classifier or a run directory; SOURCE an image folder or any source
    spec (voc:VOCdevkit?year=2007&split=test, caltech:DIR?kind=101&seed=0, ...). For users
    who bring their own classifier: np.load(OUT)["features"].

    \b
    Example:  kvgg features vgg16.keras voc:data/VOCdevkit?split=test -o voc07_test.npz
    """
    from kvgg.transfer.features import extract_features_file

    path = extract_features_file(
        model,
        data,
        out,
        scales=scales,
        combine=combine,
        flip=flip,
        batch_size=batch_size,
        cache_dir=cache_dir,
    )
    click.echo(f"Wrote {path}")
