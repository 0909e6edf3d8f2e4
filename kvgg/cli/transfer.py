"""`kvgg transfer` and `kvgg features`: the paper's Appendix B."""

from __future__ import annotations

import os

import click

from kvgg.cli.options import (
    flip_option,
    given,
    legacy_positionals,
    model_option,
    out_option,
    precision_option,
    require,
    scales_option,
)


@click.command()
@click.argument("recipe_path", metavar="RECIPE", type=click.Path(dir_okay=False))
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override a recipe value, e.g. --set models.D=vgg16.keras, --set models.E=null "
    "(leave E out) or --set features.scales=[256] (repeatable; YAML values).",
)
def transfer(recipe_path, overrides):
    """Reproduce a column of the paper's Table 11 with RECIPE (recipes/transfer/*.yaml).

    Extracts VGG descriptors (cached on disk; an interrupted run resumes), trains
    one-vs-rest linear SVMs and writes results.json, report.md and report.json (the
    paper's numbers beside yours) to runs/transfer/<name>; for VOC also the result
    files in the evaluation server's format.

    A model the recipe names that you do not have is left out with null: --set
    models.E=null runs D alone, without the "D & E" row.

    \b
    Example:  kvgg transfer recipes/transfer/voc2007.yaml
              kvgg transfer recipes/transfer/caltech101.yaml \\
                --set models.D=vgg16.keras --set models.E=null
    """
    from kvgg.transfer.experiment import run_transfer

    results = run_transfer(recipe_path, overrides)
    with open(os.path.join(results["out_dir"], "report.md")) as report:
        click.echo(report.read(), nl=False)


@click.command()
@model_option(required=False)
@click.argument("data", nargs=-1, required=True, metavar="SOURCE")
@out_option(
    "The .npz file to write (features, labels, image_ids, class_names, settings).",
    required=True,
)
@scales_option(
    "Smallest image sides Q, comma-separated (paper: VOC 256..768, Caltech 256..512). "
    "Default: kvgg.transfer.DEFAULT_SCALES."
)
@click.option(
    "--combine",
    type=click.Choice(["average", "stack"]),
    default=None,
    help="Average the per-scale descriptors (VOC) or stack them (Caltech). "
    "Default: kvgg.transfer.DEFAULT_COMBINE.",
)
@flip_option()
@click.option(
    "--batch-size",
    type=click.IntRange(1),
    default=None,
    help="Images per forward pass. Default: kvgg.transfer.DEFAULT_BATCH_SIZE.",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Feature cache (resumable). Default: ~/.cache/kvgg/features.",
)
@precision_option()
def features(model, data, out, scales, combine, flip, batch_size, cache_dir):
    """Write L2-normalised 4096-D VGG descriptors (FC-2, dense, paper App. B) of SOURCE.

    SOURCE is an image folder or any source spec (voc:VOCdevkit?year=2007&split=test,
    caltech:DIR?kind=101&seed=0, ...). For users who bring their own classifier:
    np.load(OUT)["features"].

    \b
    Example:  kvgg features --model vgg16.keras voc:data/VOCdevkit?split=test -o voc07.npz
    """
    from kvgg.transfer.features import extract_features_file

    (model,) = legacy_positionals(
        data[:-1],
        "kvgg features MODEL SOURCE",
        "kvgg features --model MODEL SOURCE",
        model=model,
    ).values()
    require(model, "--model")
    data = data[-1]

    path = extract_features_file(
        model,
        data,
        out,
        flip=flip,
        cache_dir=cache_dir,
        **given(scales=scales, combine=combine, batch_size=batch_size),
    )
    click.echo(f"Wrote {path}")
