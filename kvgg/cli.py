"""The `kvgg` command line. Each command parses its options, then calls one library function.

Heavy imports (TensorFlow, Keras) happen inside the commands so that `kvgg --help` is fast.
"""

from __future__ import annotations

import os
import sys

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CONFIG_CHOICES = ["A", "A-LRN", "B", "C", "D", "E"]


class _Group(click.Group):
    """Turns bad input (ValueError, missing files) into a one-line error and exit code 2."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (ValueError, FileNotFoundError, NotADirectoryError) as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kvgg")
def main():
    """kvgg: the VGG paper (Simonyan & Zisserman, ICLR 2015) end to end in Keras 3.

    \b
    Look at a model:       kvgg summary D
    """


@main.command()
@click.argument("config", metavar="CONFIG")
@click.option("--width", type=float, default=1.0, show_default=True, help="Channel multiplier.")
@click.option("--batch-norm", is_flag=True, help="The BN variant (BN after every conv).")
@click.option("--image-size", type=int, default=224, show_default=True, help="Input side.")
@click.option("--num-classes", type=int, default=1000, show_default=True)
def summary(config, width, batch_norm, image_size, num_classes):
    """Per-layer output shape, parameters, multiply-adds and activation memory of CONFIG.

    CONFIG is A, A-LRN, B, C, D, E or an alias such as vgg16 (case-insensitive).
    """
    from kvgg.models import build, format_profile, profile

    model = build(
        config,
        width=width,
        batch_norm=batch_norm,
        input_shape=(image_size, image_size, 3),
        num_classes=num_classes,
    )
    click.echo(f"{model.name} ({image_size}x{image_size} input, {num_classes} classes)")
    click.echo(format_profile(profile(model)))


# ----------------------------------------------------------------- data: kvgg data ...


# ----------------------------------------------------------------- training: kvgg fit, recipe, plot


# ----------------------------------------------------------------- evaluation: surgery, evaluate


# ----------------------------------------------------------------- weights: kvgg weights import


# ----------------------------------------------------------------- transfer: transfer, features
