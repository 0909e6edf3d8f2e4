"""What the dense and multi-crop scorers share: the soft-max, the crop size, the scale check."""

from __future__ import annotations

import keras
import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Soft-max over the last axis, in float64 for stability."""
    shifted = np.asarray(logits, "float64") - np.max(logits, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def crop_size(model: keras.Model) -> int:
    """The classifier's own (training) input side: 224 normally, 32 for tiny test models."""
    height, width = model.input_shape[1:3]
    if height is None or height != width:
        raise ValueError(
            f"Evaluation needs the trained classifier (fixed square input), not a "
            f"fully-convolutional model; {model.name!r} takes input {model.input_shape}."
        )
    return height


def mean_rgb(model: keras.Model) -> np.ndarray:
    """The mean RGB the model's ``preprocess`` layer subtracts (zeros without one)."""
    names = [layer.name for layer in model.layers]
    if "preprocess" not in names:
        return np.zeros(3, "float32")
    mean = model.get_layer("preprocess").get_config().get("mean")
    return np.asarray(mean if mean is not None else 0.0, "float32").reshape(-1)[:3]


def check_scales(scales, crop: int) -> tuple[int, ...]:
    """Return ``scales`` as a tuple of ints, each at least the crop size."""
    scales = tuple(int(q) for q in scales)
    if not scales:
        raise ValueError("At least one test scale Q is needed. Received: scales=()")
    small = [q for q in scales if q < crop]
    if small:
        raise ValueError(
            f"Test scales must be at least the model's input size ({crop}): a smaller "
            f"image has no {crop}x{crop} window. Received: scales={scales}"
        )
    return scales
