"""The `kvgg` command line. Each command parses its options, then calls one library function.

Heavy imports (TensorFlow, Keras) happen inside the commands, so that `kvgg --help`,
`--version` and option errors answer at once; TensorFlow's start-up lines are kept off
the terminal (`kvgg.cli.quiet`).
"""

from __future__ import annotations

import os
import sys

import click

from kvgg import __version__
from kvgg.cli.quiet import quiet_tensorflow_import

# TensorFlow's C++ log below FATAL (e.g. "failed call to cuInit" on a machine without a
# GPU) is noise to a command's user: real failures reach kvgg as Python exceptions.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


class _Group(click.Group):
    """Turns bad input into a one-line error and exit code 2: ValueError (bad values,
    damaged files) and OSError (missing files, unwritable destinations, full disks)."""

    def invoke(self, ctx):
        try:
            return self._invoke_with_strict_errors(ctx)
        except (ValueError, OSError) as error:
            one_line = " ".join(str(error).split())  # e.g. a TensorFlow message's lines
            click.echo(f"Error: {one_line}", err=True)
            sys.exit(2)
        except Exception as error:
            if type(error).__name__ != "ResourceExhaustedError":  # no TensorFlow import here
                raise
            click.echo(
                "Error: out of memory (TensorFlow ResourceExhausted); lower the test scales, "
                "the batch size or --max-pixels.",
                err=True,
            )
            sys.exit(2)

    def _invoke_with_strict_errors(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception:
            # A strict-mode pipeline raises TensorFlow's error naming the bad image; it can
            # only have run if the data package is loaded (not imported here: it loads TF).
            bad_files = sys.modules.get("kvgg.data.bad_files")
            if bad_files is None:
                raise
            with bad_files.strict_errors():  # an UndecodableImageError, else the same error
                raise


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="kvgg")
def main():
    """kvgg: the VGG paper (Simonyan & Zisserman, ICLR 2015) end to end in Keras 3.

    \b
    Look at a model:        kvgg summary --config D
    Train (2 min on CPU):   kvgg fit recipes/quickstart.yaml
    Evaluate like paper:    kvgg evaluate --model runs/quickstart --data digits:test
    ImageNet weights:       kvgg weights import --from keras --config D -o vgg16.keras
    Classify images:        kvgg predict --model vgg16.keras cat.jpg
    Localise (Appendix A):  kvgg localize --model LOC --classifier CLS cat.jpg
    Transfer (Appendix B):  kvgg transfer recipes/transfer/voc2007.yaml

    Run `kvgg COMMAND --help` for each command's options.
    """
    quiet_tensorflow_import()  # a command runs: keep TensorFlow's start-up lines quiet


from kvgg.cli import (  # noqa: E402
    datasets,
    evaluation,
    export,
    localization,
    models,
    perceptual,
    training,
    transfer,
)

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
    localization.localize,
    evaluation.report,
    export.export,
    models.weights,
    transfer.transfer,
    transfer.features,
    perceptual.lpips,
):
    main.add_command(_command)
