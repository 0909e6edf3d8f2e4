"""Writers of the four formats: ONNX, OpenVINO IR, SavedModel and LiteRT (``.tflite``).

Each takes the Keras model to serve (the fully-convolutional one for a dense export) and
the metadata (`kvgg.deploy.metadata`), and writes one artifact whose one input is the
image. Files are written beside their destination and moved into place (`kvgg.io`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import keras
import numpy as np

from kvgg.deploy.graph import INPUT_NAME, serving_function, weightless_graph
from kvgg.deploy.metadata import encode
from kvgg.io import write_atomic

METADATA_ASSET = "kvgg.json"  # a SavedModel's metadata, in its assets/
LITERT_METADATA = "kvgg"  # the name of the LiteRT metadata buffer
OPENVINO_SECTION = "kvgg"  # rt_info section
ONNX_OPSET = 17


def write_onnx(model: keras.Model, path: Path, meta: dict, calibration=None) -> Path:
    """ONNX through tf2onnx, weights added after; int8 by onnxruntime.quantization.

    tf2onnx converts the graph with each weight as an input (`weightless_graph`: it holds
    dozens of copies of any constant, over 17 GiB for VGG16, against a 4.3 GiB peak this
    way), the weights then become the model's initializers, and ONNX Runtime's basic
    (standard-op) optimisation folds the layout transposes of the kernels into them.
    """
    import onnx
    import tf2onnx
    from onnx import numpy_helper

    from kvgg.deploy import quantize

    graph_def, inputs, outputs, weights = weightless_graph(serving_function(model, meta["outputs"]))
    _patch_tf2onnx()
    proto, _ = tf2onnx.convert.from_graph_def(
        graph_def,
        input_names=inputs + list(weights),
        output_names=list(outputs.values()),
        opset=ONNX_OPSET,
    )
    image = [value for value in proto.graph.input if value.name not in weights]
    del proto.graph.input[:]
    proto.graph.input.extend(image)
    for name, value in weights.items():
        proto.graph.initializer.append(numpy_helper.from_array(value, name))
    del weights
    _rename_onnx(proto, {inputs[0]: INPUT_NAME, **{v: k for k, v in outputs.items()}})
    proto = _fold_constants(proto)
    if calibration is not None:
        proto = quantize.onnx_int8(proto, calibration)
    for key, value in encode(meta).items():
        proto.metadata_props.add(key=key, value=value)
    return write_atomic(path, lambda partial: onnx.save(proto, partial))


def _fold_constants(proto):
    """``proto`` after ONNX Runtime's basic optimisations (constant folding, standard ops)."""
    import onnx
    import onnxruntime

    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "graph.onnx", Path(folder) / "folded.onnx"
        onnx.save(proto, source)
        del proto
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = str(target)
        onnxruntime.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
        return onnx.load(target)


def write_openvino(model: keras.Model, path: Path, meta: dict, calibration=None) -> Path:
    """OpenVINO IR (``.xml`` and ``.bin``) by ov.convert_model; int8 by NNCF."""
    import openvino as ov

    from kvgg.deploy import quantize

    if path.suffix != ".xml":
        raise ValueError(f"An OpenVINO model is written as NAME.xml (+ NAME.bin). Received: {path}")
    ov_model = ov.convert_model(serving_function(model, meta["outputs"]))
    ov_model.inputs[0].get_tensor().set_names({INPUT_NAME})
    for output, name in zip(ov_model.outputs, meta["outputs"], strict=True):
        output.get_tensor().set_names({name})
    if calibration is not None:
        ov_model = quantize.openvino_int8(ov_model, calibration)
    for key, value in encode(meta).items():
        ov_model.set_rt_info(value, [OPENVINO_SECTION, key])
    hint = {"float32": "f32", "bfloat16": "bf16"}[meta["precision"]]
    ov_model.set_rt_info(hint, ["runtime_options", "INFERENCE_PRECISION_HINT"])
    with tempfile.TemporaryDirectory(dir=_folder(path)) as folder:
        staged = Path(folder) / path.name
        ov.save_model(ov_model, staged, compress_to_fp16=False)
        weights = path.with_suffix(".bin")
        write_atomic(weights, lambda partial: shutil.copyfile(staged.with_suffix(".bin"), partial))
        return write_atomic(path, lambda partial: shutil.copyfile(staged, partial))


def write_saved_model(model: keras.Model, path: Path, meta: dict, calibration=None) -> Path:
    """A SavedModel folder with the signature ``serving_default`` and assets/kvgg.json
    (float32 only: `kvgg.deploy.export` refuses int8 for it)."""
    import tensorflow as tf

    if path.exists() and not (path / "saved_model.pb").is_file():
        raise OSError(f"Cannot write {str(path)!r}: it exists and is not a SavedModel folder.")
    module = tf.Module()
    module.model = model
    module.serve = serving_function(model, meta["outputs"])
    with tempfile.TemporaryDirectory(dir=_folder(path)) as folder:
        asset = Path(folder) / METADATA_ASSET
        asset.write_text(json.dumps(meta, indent=1))
        module.metadata = tf.saved_model.Asset(str(asset))
        staged = Path(folder) / "saved_model"
        tf.saved_model.save(module, str(staged), signatures={"serving_default": module.serve})
        old = Path(folder) / "old"
        if path.exists():
            os.replace(path, old)  # the old folder is removed with the temporary one
        os.replace(staged, path)
    return path


def write_litert(model: keras.Model, path: Path, meta: dict, calibration=None) -> Path:
    """A ``.tflite`` flat buffer by TensorFlow's LiteRT converter, metadata buffer ``kvgg``.

    The converter is given the function with its weights as variables, held by a module
    it freezes them from (4.8 GiB peak for VGG16; a graph with the weights as constants
    took it past 17 GiB). The module must hold the variables itself: it does not find
    a Keras 3 model's, and the converter then leaves them uninitialised (NaN outputs).
    """
    import tensorflow as tf
    from tensorflow.lite.tools import flatbuffer_utils

    from kvgg.deploy import quantize

    function = serving_function(model, meta["outputs"])
    module = tf.Module()
    module.weights = list(function.variables)
    module.serve = function
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], module)
    if calibration is not None:
        quantize.litert_int8(converter, calibration)
    flat = flatbuffer_utils.convert_bytearray_to_object(bytearray(converter.convert()))
    buffer = type(flat.buffers[0])()
    buffer.data = np.frombuffer(json.dumps(meta).encode(), np.uint8)
    flat.buffers.append(buffer)
    entry = flatbuffer_utils.schema_fb.MetadataT()
    entry.name, entry.buffer = LITERT_METADATA, len(flat.buffers) - 1
    flat.metadata = [*(flat.metadata or []), entry]
    data = flatbuffer_utils.convert_object_to_bytearray(flat)
    return write_atomic(path, lambda partial: partial.write_bytes(data))


WRITERS = {
    "onnx": write_onnx,
    "openvino": write_openvino,
    "saved_model": write_saved_model,
    "litert": write_litert,
}


def _folder(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


def _rename_onnx(proto, names: dict[str, str]) -> None:
    """Rename tensors (``image:0`` -> ``image``) wherever they appear in the graph."""
    graph = proto.graph
    for value in [*graph.input, *graph.output, *graph.value_info]:
        value.name = names.get(value.name, value.name)
    for node in graph.node:
        node.input[:] = [names.get(name, name) for name in node.input]
        node.output[:] = [names.get(name, name) for name in node.output]


def _patch_tf2onnx() -> None:
    """tf2onnx 1.17 reads ``np.object`` and friends, gone in NumPy 2: Keras's own patch."""
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    patch_tf2onnx()
