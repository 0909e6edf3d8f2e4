"""The `kvgg` command line. Each command parses its options, then calls one library function.

Heavy imports (TensorFlow, Keras) happen inside the commands so that `kvgg --help` is fast.
"""

from __future__ import annotations

import os
import sys

import click

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _Group(click.Group):
    """Turns bad input (ValueError, missing files) into a one-line error and exit code 2."""

    def invoke(self, ctx):
        from kvgg.data.bad_files import strict_errors

        try:
            with strict_errors():
                return super().invoke(ctx)
        except (ValueError, FileNotFoundError, NotADirectoryError) as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kvgg")
def main():
    """kvgg: the VGG paper (Simonyan & Zisserman, ICLR 2015) end to end in Keras 3.

    \b
    Look at a model:        kvgg summary D
    Train (2 min on CPU):   kvgg fit recipes/quickstart.yaml
    Evaluate like paper:    kvgg evaluate --model runs/quickstart --data digits:test
    ImageNet weights:       kvgg weights import --from keras --config D --out vgg16.keras
    Classify images:        kvgg predict --model vgg16.keras cat.jpg
    Transfer (Appendix B):  kvgg transfer recipes/transfer/voc2007.yaml

    Run `kvgg COMMAND --help` for each command's options.
    """


from kvgg.cli import datasets, evaluation, models, training, transfer  # noqa: E402

for _command in (
    models.summary,
    datasets.data,
    training.fit,
    training.recipe,
    training.plot,
    models.surgery,
    evaluation.evaluate,
    evaluation.predict,
    evaluation.scoremap,
    models.weights,
    transfer.transfer,
    transfer.features,
):
    main.add_command(_command)
