"""Static post-training int8 quantisation with each runtime's own tooling.

ONNX by ``onnxruntime.quantization`` (QDQ, per-channel weights, the last layer and its
soft-max kept in float), OpenVINO by NNCF, LiteRT by the converter's full-integer path;
all calibrated on the same images (RGB in [0, 255], at the model's input size), one at a
time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from kvgg.deploy.graph import INPUT_NAME

CALIBRATION_CHUNK = 4  # ONNX calibration: images whose activations are held at once
WEIGHTED_OPS = ("Conv", "Gemm", "MatMul")


def onnx_int8(proto, images: np.ndarray):
    """The ONNX model ``proto`` quantised to int8 (QDQ, per-channel), calibrated on ``images``.

    The last layer (the class scores) and the soft-max stay float32 (`float_nodes`).
    """
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        """One image at a time, over the range onnxruntime's strided calibration sets."""

        def __init__(self):
            self.set_range(0, len(images))

        def __len__(self):
            return len(images)

        def set_range(self, start_index: int, end_index: int):
            self.batches = iter(images[i : i + 1] for i in range(start_index, end_index))

        def get_next(self):
            batch = next(self.batches, None)
            return None if batch is None else {INPUT_NAME: batch}

    # Ranges are folded every `stride` images ("CalibStridedMinMax", which must divide the
    # count): memory stays that of a few images' activations, not of all of them (a
    # width-1/2 VGG16 took 9 GiB to calibrate on 16 images at once).
    stride = max(k for k in range(1, CALIBRATION_CHUNK + 1) if len(images) % k == 0)
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "float.onnx", Path(folder) / "int8.onnx"
        onnx.save(proto, source)
        quantize_static(
            source,
            target,
            Reader(),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=float_nodes(proto),
            extra_options={"CalibStridedMinMax": stride},
        )
        return onnx.load(target)


def float_nodes(proto) -> list[str]:
    """The nodes an int8 ONNX keeps in float32: the last layer with weights (the class
    scores) and what follows it (the soft-max).

    Quantised, the posteriors come in steps of 1/255 and the scores on one 8-bit grid for
    all classes, so a near-tie becomes a tie that argmax breaks by the class's index: on
    the quickstart model, calibrated on digits:test, 1 of the 89 held-out images disagreed
    with float for every calibration method (MinMax, Entropy, Percentile), with its
    posteriors 127/255 and 127/255; with this layer in float, none did. It is the smallest
    layer (VGG16: 4M of 15.5G multiply-adds), as the first and last layers are commonly
    kept in higher precision.
    """
    nodes = list(proto.graph.node)  # topologically sorted
    last = max(i for i, node in enumerate(nodes) if node.op_type in WEIGHTED_OPS)
    return [node.name for node in nodes[last:]]


def openvino_int8(ov_model, images: np.ndarray):
    """The OpenVINO model quantised by NNCF's post-training quantisation on ``images``."""
    import nncf

    dataset = nncf.Dataset([images[i : i + 1] for i in range(len(images))])
    return nncf.quantize(ov_model, dataset, subset_size=len(images))


def litert_int8(converter, images: np.ndarray) -> None:
    """Set the LiteRT ``converter`` to int8 weights and activations, calibrated on ``images``
    (the input and outputs stay float32, so clients feed the same images)."""
    import tensorflow as tf

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([images[i : i + 1]] for i in range(len(images)))
