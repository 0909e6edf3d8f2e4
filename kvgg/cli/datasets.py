"""`kvgg data ...`: convert to TFRecord, colour statistics, bad files."""

from __future__ import annotations

import sys

import click

from kvgg.cli.options import legacy_positionals, out_option, renamed_option, require


@click.group()
def data():
    """Datasets: convert to TFRecord, compute colour statistics, find bad files, make toy ones.

    \b
    SOURCE is a folder with one sub-folder per class, or KIND:PATH[?key=value&...]:
      folder:DIR  labels:DIR?labels=FILE  tfrecord:'GLOB'  voc:VOCdevkit?year=2007&split=test
      caltech:DIR?kind=101&subset=train&seed=0  digits  cifar10:test
    """


@data.command("to-tfrecord")
@click.argument("source", nargs=-1, required=True, metavar="SOURCE")
@out_option("The folder to write the shards to.")
@click.option("--shards", type=int, default=8, show_default=True, help="Number of files.")
@click.option("--prefix", default="train", show_default=True, help="Shard file name prefix.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the record order.")
def to_tfrecord(source, out, shards, prefix, seed):
    """Write the images of SOURCE as TFRecord shards (ImageNet schema) in the folder -o/--out.

    \b
    kvgg data to-tfrecord data/imagenet/train -o data/imagenet/tfrecord --shards 1024
    """
    from kvgg.data import open_source
    from kvgg.data.tfrecord import write_tfrecords

    old, new = "kvgg data to-tfrecord SOURCE OUT", "kvgg data to-tfrecord SOURCE -o OUT"
    (out,) = legacy_positionals(source[1:], old, new, out=out).values()
    require(out, "-o/--out")
    source = source[0]

    images = open_source(source)
    written, skipped = write_tfrecords(images, out, shards=shards, prefix=prefix, seed=seed)
    for path, reason in skipped:
        click.echo(f"skipped {path}: {reason}", err=True)
    click.echo(f"wrote {len(written)} shards to {out} ({len(skipped)} files skipped)")


@data.command()
@click.argument("source")
@out_option("JSON file that recipes reference.", default="color_stats.json", show_default=True)
@renamed_option("--output", new="-o/--out", param="out", type=click.Path())
@click.option(
    "--max-images",
    type=click.IntRange(0),
    default=10_000,
    show_default=True,
    help="Random sample size (0: every image).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
def stats(source, out, max_images, seed):
    """Mean RGB and the RGB covariance eigen basis of SOURCE (for the colour shift)."""
    from kvgg.data import open_source
    from kvgg.data.spec import source_files
    from kvgg.data.stats import compute_stats
    from kvgg.io import check_outputs

    source = open_source(source)
    check_outputs([out], source_files(source))
    result = compute_stats(source, max_images=max_images or None, seed=seed)
    click.echo(f"mean RGB     {_numbers(result.mean)}")  # shown first: a failed write loses nothing
    click.echo(f"eigenvalues  {_numbers(result.eigenvalues)}  ([0, 255] scale, AlexNet form)")
    result.save(out)
    click.echo(f"wrote {out}")


@data.command()
@click.argument("source")
def check(source):
    """List every undecodable image of SOURCE, and why; exit code 1 if there is any.

    Decodable oddities that training converts (grayscale, CMYK, alpha, a PNG named .jpg,
    tiny images) are listed as notes.
    """
    from kvgg.data import open_source
    from kvgg.data.bad_files import check_source

    findings = check_source(open_source(source))
    for finding in findings:
        click.echo(f"{'BAD ' if finding.bad else 'note'}  {finding.path}: {finding.problem}")
    bad = sum(finding.bad for finding in findings)
    click.echo(f"{bad} undecodable, {len(findings) - bad} notes")
    if bad:
        sys.exit(1)


@data.command()
@click.argument("kinds", nargs=-1, required=True, type=click.Choice(["imagenet", "voc", "caltech"]))
@out_option("The folder to write them under.", default="data", show_default=True)
def demo(kinds, out):
    """Write toy datasets in the real on-disk layouts, as the tutorials use them (seconds).

    \b
    imagenet  OUT/imagenet/{train,val}/<synset>/*.jpg (4 classes, 6 + 2 images each)
    voc       OUT/VOCdevkit/VOC2007 (30 images, XML annotations, the Main image sets)
    caltech   OUT/caltech/101_ObjectCategories (102 folders of 31-34 images)

    \b
    Example:  kvgg data demo voc caltech
              kvgg data demo imagenet -o toy
    """
    from kvgg.data.demo import demo_data

    for folder in demo_data(list(dict.fromkeys(kinds)), out).values():
        click.echo(f"Wrote {folder}")


def _numbers(values):
    return " ".join(f"{v:9.3f}" for v in values)
