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


MAX_PIXELS = 2**24
"""Default bound on the pixels of one rescaled view (16.8 M: a 4096 x 4096 image, or a
512-pixel-high strip 32768 wide). Dense evaluation holds a view and its feature maps in
memory at once; past this, a hostile or freak image (10 x 10000 pixels rescaled to
Q = 512) would exhaust memory. Raise it with ``max_pixels`` / ``--max-pixels``."""


def view_pixels(height: int, width: int, scale: int) -> tuple[int, int]:
    """(H', W') of an H x W image rescaled so that its smallest side is ``scale``.

    Example:
        >>> view_pixels(10, 10_000, 32)
        (32, 32000)
    """
    ratio = scale / min(height, width)
    return round(height * ratio), round(width * ratio)


def check_pixels(
    scales, max_pixels: int | None, shape: tuple[int, int] | None = None, name: str = "An image"
) -> None:
    """Refuse test scales, or an image at those scales, whose views exceed ``max_pixels``.

    Without ``shape`` only the scales are checked (a square image has the fewest pixels:
    Q x Q). ``max_pixels=None`` disables the bound.

    Args:
        scales: the test scales Q.
        max_pixels: the bound on H' x W' of one view, or None.
        shape: (H, W) of the image, if known.
        name: names the image in the message.

    Example:
        >>> try:
        ...     check_pixels([256, 384], MAX_PIXELS, (10, 10_000), "wide.jpg")
        ... except ValueError as error:
        ...     print(str(error).split(" view")[0])
        wide.jpg (10000x10 pixels) at Q = 384 would be a 384000x384
    """
    if max_pixels is None:
        return
    for q in sorted(scales, reverse=True):
        height, width = view_pixels(*shape, q) if shape is not None else (q, q)
        if height * width > max_pixels:
            what = f"{name} ({shape[1]}x{shape[0]} pixels)" if shape is not None else "Each image"
            raise ValueError(
                f"{what} at Q = {q} would be a {width}x{height} view ({height * width:,} "
                f"pixels), over the bound of {max_pixels:,} pixels (--max-pixels): lower "
                "the scales or raise the bound."
            )
