"""`kvgg.export`: a kvgg model as an ONNX, OpenVINO, SavedModel or LiteRT artifact."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from kvgg.deploy.choices import FORMATS, check_precision
from kvgg.deploy.formats import WRITERS
from kvgg.deploy.metadata import artifact_metadata

HELD_OUT_EVERY = 4  # every 4th calibration image is held out to measure the int8 agreement
MAX_CALIBRATION = 300  # images the int8 statistics are gathered on, at most


def export(
    model: keras.Model | str | os.PathLike,
    path: str | os.PathLike,
    *,
    format: str,
    dense: bool = False,
    precision: str = "float32",
    calibration=None,
    class_names: list[str] | None = None,
    echo: Callable[[str], None] | None = None,
) -> Path:
    """Write ``model`` as an artifact that its runtime serves without Keras or kvgg.

    The artifact has one input, ``image``: RGB images in [0, 255], (batch, H, W, 3)
    float32, as kvgg models take them (the mean subtraction is inside, as constants).
    Its outputs are named after the model's last layer: ``predictions`` (class
    posteriors) or ``boxes`` (a localisation net); a dense classifier's is ``scores``.
    The class names, the input size, the evaluation defaults (test scales, flip) and the
    kvgg version are kept in the format's own metadata (`kvgg.deploy.load_exported`
    reads them back).

    Args:
        model: a `keras.Model` built by kvgg, a ``.keras`` file or a `kvgg fit` run folder.
        path: the artifact: ``NAME.onnx``, ``NAME.xml`` (OpenVINO, with ``NAME.bin``),
            ``NAME.tflite`` (LiteRT), or a folder for a SavedModel.
        format: ``"onnx"``, ``"openvino"``, ``"saved_model"`` or ``"litert"``.
        dense: export the fully-convolutional net (`kvgg.fully_convolutional`): any image
            height and width; the output ``scores`` is the map of class scores before the
            soft-max, which the paper's dense evaluation averages (Sec. 3.2), so that
            `kvgg evaluate --model ARTIFACT` applies its protocol exactly.
        precision: ``"float32"`` (outputs match Keras), or ``"bfloat16"`` for OpenVINO,
            whose CPU plug-in then computes in bfloat16 (recorded in the artifact).
        calibration: a data spec (``"digits:train"``, a folder, ...) or `kvgg.data`
            source: quantise to int8 (static, post-training) with the runtime's tooling,
            calibrated on its images; every 4th is held out, and the top-1 agreement of
            the int8 and float models on those is printed through ``echo``.
        class_names: for a `keras.Model` argument (files carry their own).
        echo: prints progress and the int8 agreement (e.g. ``print``); None is silent.

    Returns:
        The artifact's path.

    Example:
        >>> import tempfile, kvgg
        >>> import numpy as np
        >>> from kvgg.deploy import load_exported
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> path = kvgg.export(model, tempfile.mkdtemp() + "/a", format="saved_model")
        >>> served = load_exported(path)  # in TensorFlow; .onnx, .xml, .tflite in theirs
        >>> image = np.full((1, 32, 32, 3), 128, "float32")
        >>> bool(np.allclose(served(image)["predictions"], model(image), atol=1e-4))
        True
    """
    from kvgg.deploy.graph import require_tensorflow

    require_tensorflow()
    if format not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}. Received: {format!r}")
    check_precision(precision)
    if precision != "float32" and format != "openvino":
        raise ValueError(
            f"--precision {precision} is for OpenVINO (its CPU plug-in computes in "
            f"bfloat16); {format} artifacts compute in float32."
        )
    if calibration is not None and format == "saved_model":
        raise ValueError(
            "A SavedModel has no int8 form here: export --int8 to onnx, openvino or litert."
        )
    path = _checked_path(Path(path), format)
    _check_not_an_input(path, format, model, calibration)
    model, info, names, source = _model_and_info(model, class_names)
    served = model
    if dense:  # a classifier's map holds the class scores before the soft-max (Sec. 3.2)
        from kvgg.models.surgery import fully_convolutional

        served = fully_convolutional(model, logits=True)
    if calibration is not None and "predictions" not in _outputs(model):
        raise ValueError("--int8 needs a classifier (its agreement is top-1); got a box regressor.")
    calibrate, held_out = (None, None) if calibration is None else _calibration(model, calibration)
    meta = artifact_metadata(
        model,
        info,
        class_names=names,
        dense=dense,
        precision=precision,
        int8=calibration is not None,
        source=source,
    )
    try:
        written = WRITERS[format](served, path, meta, calibrate)
    except ImportError as error:  # the runtimes are the optional `export` extra
        raise ValueError(
            f"--format {format} needs {error.name}: pip install 'kvgg[export]'."
        ) from error
    if calibration is not None and echo is not None:
        agreement = int8_agreement(written, model, held_out)
        echo(
            f"int8 top-1 agreement with float32 on {len(held_out)} held-out images: {agreement:.2%}"
        )
    return written


def int8_agreement(path: Path, model: keras.Model, images: np.ndarray) -> float:
    """The fraction of ``images`` whose top-1 class is the same in the artifact and the model
    (a dense artifact's score map averaged over its locations)."""
    from kvgg.deploy.runtime import load_exported

    served = load_exported(path)
    reference = np.asarray(model.predict(images, batch_size=32, verbose=0))
    quantised = np.concatenate(
        [next(iter(served(images[i : i + 32]).values())) for i in range(0, len(images), 32)]
    )
    quantised = quantised.reshape(len(images), -1, quantised.shape[-1]).mean(axis=1)
    return float(np.mean(reference.argmax(-1) == quantised.argmax(-1)))


def _check_not_an_input(path: Path, format: str, model, calibration) -> None:
    """Refuse an artifact that would be written over the model or the calibration data."""
    from kvgg.io import check_outputs, resolve_model_file

    written = [path, path.with_suffix(".bin") if format == "openvino" else None]
    inputs = [resolve_model_file(model) if isinstance(model, str | os.PathLike) else None]
    if isinstance(calibration, str | os.PathLike) and Path(calibration).exists():
        inputs.append(calibration)
    check_outputs(written, inputs)


def _outputs(model) -> list[str]:
    from kvgg.deploy.graph import output_names

    return output_names(model)


def _checked_path(path: Path, format: str) -> Path:
    suffix = FORMATS[format]
    if suffix and path.suffix != suffix:
        raise ValueError(f"A {format} artifact is written as NAME{suffix}. Received: -o {path}")
    if not suffix and path.suffix in (".onnx", ".xml", ".tflite", ".keras"):
        raise ValueError(f"A SavedModel is a folder, not a {path.suffix} file. Received: -o {path}")
    return path


def _model_and_info(model, class_names):
    """(the Keras model, its kvgg metadata, its class names or None for a box regressor,
    the file it came from or None)."""
    from kvgg import io

    if isinstance(model, keras.Model):
        info, source = {}, None
        num_classes = model.outputs[0].shape[-1]
        names = class_names or (
            io.imagenet_class_names()
            if num_classes == 1000
            else [str(i) for i in range(num_classes)]
        )
    else:
        file = io.resolve_model_file(model)
        model = io.load_model(file)
        info, source = io.read_info(file), str(file)
        names = io.class_names_for(file, model.outputs[0].shape[-1])
    if "predictions" not in _outputs(model):
        names = None
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise ValueError(
            f"kvgg export takes a kvgg classifier or localisation net (one input, one output); "
            f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs."
        )
    return model, info, names, source


def _calibration(model, data) -> tuple[np.ndarray, np.ndarray]:
    """(calibration images, held-out images) from a data spec, at the model's input size."""
    from kvgg.data import eval_dataset, open_source

    height, width = model.inputs[0].shape[1:3]
    if height is None or height != width:
        raise ValueError(
            f"--calibration needs a model of fixed square input; got {height}x{width}."
        )
    wanted = MAX_CALIBRATION * HELD_OUT_EVERY // (HELD_OUT_EVERY - 1)
    images = []
    for batch, _ in eval_dataset(open_source(data), batch_size=64, scale=height, crop=height):
        images.append(batch.numpy())
        if sum(len(chunk) for chunk in images) >= wanted:
            break
    images = np.concatenate(images)[:wanted] if images else np.zeros((0, height, width, 3))
    if len(images) < HELD_OUT_EVERY:
        raise ValueError(f"--calibration {data}: {len(images)} images; at least 4 are needed.")
    held_out = np.arange(len(images)) % HELD_OUT_EVERY == HELD_OUT_EVERY - 1
    return images[~held_out].astype("float32"), images[held_out].astype("float32")
