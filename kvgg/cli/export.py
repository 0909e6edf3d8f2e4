"""`kvgg export`: a model as an ONNX, OpenVINO, SavedModel or LiteRT artifact (kvgg.deploy)."""

from __future__ import annotations

import click

from kvgg.cli.options import model_option, out_option, runtime_precision_option
from kvgg.deploy.choices import FORMATS


@click.command("export")
@model_option(help="A .keras classifier or localisation net, or a `kvgg fit` run directory.")
@click.option(
    "--format",
    "format_",
    type=click.Choice(list(FORMATS)),
    required=True,
    help="onnx (ONNX Runtime), openvino (IR .xml + .bin), saved_model (TensorFlow "
    "Serving, a folder) or litert (.tflite).",
)
@out_option(
    "The artifact: NAME.onnx, NAME.xml (OpenVINO), NAME.tflite, or a folder (SavedModel).",
    required=True,
)
@click.option(
    "--dense",
    is_flag=True,
    help="Export the fully-convolutional net: any image size, the output a map of class "
    "posteriors (the paper's dense evaluation, Sec. 3.2).",
)
@runtime_precision_option()
@click.option(
    "--int8",
    is_flag=True,
    help="Static post-training int8 quantisation by the runtime's own tooling "
    "(onnxruntime.quantization, OpenVINO NNCF, the LiteRT converter); needs --calibration.",
)
@click.option(
    "--calibration",
    default=None,
    metavar="DATA",
    help="With --int8: images to calibrate on (digits:train, a folder, any source spec); "
    "every 4th is held out and the int8 model's top-1 agreement with float32 printed.",
)
def export(model, format_, out, dense, precision, int8, calibration):
    """Write --model for a serving runtime: one input (RGB image in [0, 255]), named outputs,
    class names and evaluation defaults in the artifact's metadata.

    \b
    kvgg export --model runs/quickstart --format onnx -o quickstart.onnx
    kvgg export --model vgg16.keras --format openvino --dense -o vgg16_dense.xml
    kvgg export --model runs/quickstart --format onnx --int8 --calibration digits:train \\
        -o quickstart_int8.onnx

    Run the artifact with `kvgg predict --model FILE` or `kvgg evaluate --model FILE`, or in
    the runtime itself (docs: Deploy).
    """
    if int8 != (calibration is not None):
        raise click.UsageError("--int8 and --calibration DATA go together.")
    from kvgg.deploy import export as export_model

    path = export_model(
        model,
        out,
        format=format_,
        dense=dense,
        precision=precision,
        calibration=calibration,
        echo=click.echo,
    )
    click.echo(f"Wrote {path}")
