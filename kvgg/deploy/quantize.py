"""Static post-training int8 quantisation with each runtime's own tooling.

ONNX by ``onnxruntime.quantization`` (QDQ, per-channel weights), OpenVINO by NNCF, LiteRT
by the converter's full-integer path; all calibrated on the same images (RGB in [0, 255],
at the model's input size), one at a time.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from kvgg.deploy.graph import INPUT_NAME

CALIBRATION_CHUNK = 4  # ONNX calibration: images whose activations are held at once


def onnx_int8(proto, images: np.ndarray):
    """The ONNX model ``proto`` quantised to int8 (QDQ, per-channel), calibrated on ``images``."""
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
            extra_options={"CalibStridedMinMax": stride},
        )
        return onnx.load(target)


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
