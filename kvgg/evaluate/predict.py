"""Single images: top-k predictions by name, and the dense score map drawn over the image."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from kvgg.evaluate.common import check_scales, crop_size, softmax
from kvgg.evaluate.dense import DenseScorer
from kvgg.models.surgery import fully_convolutional


def load_image(path) -> np.ndarray:
    """Decode a JPEG/PNG/GIF/BMP file to a uint8 (H, W, 3) RGB array, naming the file on error.

    Example:
        >>> load_image("cat.jpg").shape  # doctest: +SKIP
        (375, 500, 3)
    """
    import tensorflow as tf

    from kvgg.data.transforms import decode_rgb

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {str(path)!r}.")
    try:
        return decode_rgb(tf.io.read_file(str(path))).numpy()
    except tf.errors.InvalidArgumentError as error:
        raise ValueError(f"{str(path)!r} is not a readable image: {error.message}") from None


def rescaled(image: np.ndarray, scale: int) -> np.ndarray:
    """``image`` rescaled to smallest side ``scale`` (float32, [0, 255])."""
    from kvgg.data.transforms import rescale

    return rescale(image, scale).numpy()


def predict(
    model: keras.Model,
    images: Sequence,
    *,
    class_names: Sequence[str],
    scales: Sequence[int] = (256, 384, 512),
    flip: bool = True,
    top: int = 5,
) -> list[list[tuple[str, float]]]:
    """The ``top`` most probable classes of each image by dense multi-scale evaluation.

    Args:
        model: a kvgg classifier.
        images: image file paths or uint8 (H, W, 3) RGB arrays.
        class_names: one name per model output (`kvgg.io.class_names_for`).
        scales: test scales Q.
        flip: average in the mirrored image.
        top: how many classes to return per image.

    Returns:
        Per image, ``top`` pairs (class name, posterior), most probable first.

    Example:
        >>> predict(model, ["cat.jpg"], class_names=imagenet_class_names())[0][0]
        ... # doctest: +SKIP
        ('tabby, tabby cat', 0.62)
    """
    scorer = DenseScorer(model, scales=scales, flip=flip, bucket=None)
    results = []
    for image in images:
        pixels = load_image(image) if isinstance(image, str | os.PathLike) else image
        posteriors = scorer({q: rescaled(pixels, q) for q in scorer.scales})
        order = np.argsort(-posteriors, kind="stable")[:top]
        results.append([(class_names[c], float(posteriors[c])) for c in order])
    return results


def draw_score_map(
    model: keras.Model, image, out, *, class_names: Sequence[str], scale: int = 384
) -> tuple[str, float]:
    """Draw the top class's dense score map over the image and save it (PNG, PDF, ...).

    The image is rescaled to smallest side ``scale``; the fully-convolutional net gives a
    posterior map (soft-max at each location, one location per 224x224 window at a stride
    of 32 pixels); the class with the highest spatially averaged score is drawn, each
    location's posterior shown at the centre of its window, bilinearly interpolated.

    Args:
        model: a kvgg classifier.
        image: an image file path or a uint8 (H, W, 3) RGB array.
        out: output file; its suffix picks the format.
        class_names: one name per model output.
        scale: test scale Q.

    Returns:
        (class name, its image-level posterior).

    Example:
        >>> draw_score_map(model, "cat.jpg", "cat_map.png", class_names=names)  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    crop = crop_size(model)
    (scale,) = check_scales([scale], crop)
    pixels = load_image(image) if isinstance(image, str | os.PathLike) else image
    view = rescaled(pixels, scale)
    fcn = fully_convolutional(model, logits=True)
    scores = keras.ops.convert_to_numpy(fcn(view[None]))[0]
    posteriors = softmax(scores.mean(axis=(0, 1)))
    best = int(np.argmax(posteriors))
    score_map = softmax(scores)[..., best]
    rows, cols = score_map.shape
    stride = 32
    left, top = crop / 2 - stride / 2, crop / 2 - stride / 2
    extent = (left, left + cols * stride, top + rows * stride, top)

    figure, axes = plt.subplots(figsize=(6, 6 * view.shape[0] / view.shape[1] + 0.6))
    axes.imshow(view.astype("uint8"))
    shown = axes.imshow(
        score_map, cmap="jet", alpha=0.5, extent=extent, interpolation="bilinear", vmin=0, vmax=1
    )
    figure.colorbar(shown, ax=axes, fraction=0.04, label="posterior")
    axes.set_title(f"{class_names[best]} ({posteriors[best]:.2f}), Q = {scale}")
    axes.set_axis_off()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.stem}.partial-{os.getpid()}{out.suffix}")
    try:
        figure.savefig(partial, dpi=120, bbox_inches="tight")
        os.replace(partial, out)
    finally:
        plt.close(figure)
        partial.unlink(missing_ok=True)
    return class_names[best], float(posteriors[best])
