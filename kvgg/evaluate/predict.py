"""Single images: top-k predictions by name, and the dense score map drawn over the image."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from kvgg.evaluate.common import MAX_PIXELS, check_pixels, check_scales, crop_size, softmax
from kvgg.evaluate.dense import DenseScorer
from kvgg.evaluate.metrics import check_finite
from kvgg.evaluate.scales import JITTERED_SCALES
from kvgg.io import write_atomic
from kvgg.models.configs import STRIDE
from kvgg.models.surgery import fully_convolutional


def load_image(path) -> np.ndarray:
    """Decode a JPEG/PNG/GIF/BMP/WebP file to a uint8 (H, W, 3) RGB array, naming the file
    on error. The same files are accepted as by the pipelines and `kvgg data check`
    (`kvgg.data.bad_files.decode_image_bytes`).

    Example:
        >>> import tempfile
        >>> from PIL import Image
        >>> path = f"{tempfile.mkdtemp()}/cat.jpg"
        >>> Image.new("L", (500, 375)).save(path)  # grayscale
        >>> load_image(path).shape
        (375, 500, 3)
    """
    from kvgg.data.bad_files import decode_image_bytes

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No image file at {str(path)!r}.")
    try:
        return decode_image_bytes(path.read_bytes(), str(path))
    except ValueError as error:
        raise ValueError(f"{str(path)!r} is not a readable image: {error}") from None


def rescaled(image: np.ndarray, scale: int) -> np.ndarray:
    """``image`` rescaled to smallest side ``scale`` (float32, [0, 255])."""
    from kvgg.data.transforms import rescale

    return rescale(image, scale).numpy()


def predict(
    model: keras.Model,
    images: Sequence,
    *,
    class_names: Sequence[str],
    scales: Sequence[int] = JITTERED_SCALES,
    flip: bool = True,
    top: int = 5,
    max_pixels: int | None = MAX_PIXELS,
) -> list[list[tuple[str, float]]]:
    """The ``top`` most probable classes of each image by dense multi-scale evaluation.

    Args:
        model: a kvgg classifier.
        images: image file paths or uint8 (H, W, 3) RGB arrays.
        class_names: one name per model output (`kvgg.io.class_names_for`).
        scales: test scales Q.
        flip: average in the mirrored image.
        top: how many classes to return per image.
        max_pixels: refuse an image whose rescaled view would exceed this many pixels
            (`kvgg.evaluate.common.MAX_PIXELS`); None for no bound.

    Returns:
        Per image, ``top`` pairs (class name, posterior), most probable first.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes, 48x64 px
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> photo = images / "red" / "red_0000.jpg"
        >>> top = predict(model, [photo], scales=(32,), class_names=["b", "g", "r"])[0]
        >>> sorted(name for name, posterior in top), round(sum(p for _, p in top), 4)
        (['b', 'g', 'r'], 1.0)
    """
    scorer = DenseScorer(model, scales=scales, flip=flip, bucket=None)
    check_pixels(scorer.scales, max_pixels)
    results = []
    for image in images:
        pixels = load_image(image) if isinstance(image, str | os.PathLike) else image
        check_pixels(scorer.scales, max_pixels, pixels.shape[:2], _described(image))
        posteriors = scorer({q: rescaled(pixels, q) for q in scorer.scales})
        check_finite(posteriors[None], f"posteriors of {model.name!r} for {str(image)!r}")
        order = np.argsort(-posteriors, kind="stable")[:top]
        results.append([(class_names[c], float(posteriors[c])) for c in order])
    return results


def _described(image) -> str:
    return repr(str(image)) if isinstance(image, str | os.PathLike) else "The image"


def draw_score_map(
    model: keras.Model,
    image,
    out,
    *,
    class_names: Sequence[str],
    scale: int = 384,
    flip: bool = True,
) -> tuple[str, float]:
    """Draw the top class's dense score map over the whole image and save it (PNG, PDF, ...).

    The image is rescaled to smallest side ``scale`` (the test scale Q); the
    fully-convolutional net gives a posterior map (soft-max at each location, one location
    per crop-sized window at a stride of 32 pixels). The class with the highest image-level
    posterior (as `predict` computes it, with the mirrored image when ``flip``) is drawn:
    each location's posterior at the centre of its window, linearly interpolated between
    centres and held from the outermost centres to the image's edges, over the whole
    original image at its own resolution and aspect (small images are enlarged to 480
    pixels on the longer side). The class, its posterior and Q are written in a corner,
    wrapped to the picture's width.

    Args:
        model: a kvgg classifier.
        image: an image file path or a uint8 (H, W, 3) RGB array.
        out: output file; its suffix picks the format.
        class_names: one name per model output.
        scale: test scale Q.
        flip: average in the mirrored image's posteriors to pick the class.

    Returns:
        (class name, its image-level posterior).

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 3 classes, 48x64 px
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> photo = images / "red" / "red_0000.jpg"
        >>> out = f"{tempfile.mkdtemp()}/map.png"
        >>> name, posterior = draw_score_map(model, photo, out, class_names=["b", "g", "r"],
        ...                                  scale=32)  # ImageNet: scale=384
        >>> name in ["b", "g", "r"], Path(out).is_file()
        (True, True)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    crop = crop_size(model)
    (scale,) = check_scales([scale], crop)
    check_pixels([scale], MAX_PIXELS)
    pixels = load_image(image) if isinstance(image, str | os.PathLike) else image
    check_pixels([scale], MAX_PIXELS, pixels.shape[:2], _described(image))
    view = rescaled(pixels, scale)
    fcn = fully_convolutional(model, logits=True)
    batch = np.stack([view, view[:, ::-1]]) if flip else view[None]
    scores = keras.ops.convert_to_numpy(fcn(batch))
    posteriors = softmax(scores.mean(axis=(1, 2))).mean(axis=0)
    best = int(np.argmax(posteriors))
    score_map = softmax(scores[0])[..., best]

    height, width = pixels.shape[:2]
    to_image = width / view.shape[1]  # view pixels -> original pixels
    dpi = 100
    zoom = max(1.0, _SMALLEST_PICTURE / max(height, width))
    figure = plt.figure(figsize=(width * zoom / dpi, height * zoom / dpi), dpi=dpi)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.imshow(pixels, extent=(0, width, height, 0), interpolation="nearest")
    axes.imshow(
        _whole_image_map(score_map, crop / 2 * to_image, STRIDE * to_image, height, width),
        cmap="jet",
        alpha=0.5,
        extent=(0, width, height, 0),
        interpolation="nearest",
        vmin=0,
        vmax=1,
    )
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)
    axes.set_axis_off()
    fontsize = max(7.0, min(height, width) * zoom / 24 * 72 / dpi)
    # Wrapped to the picture's width (a character is about 0.6 font sizes wide).
    characters = max(12, int(0.96 * width * zoom * 72 / dpi / (0.6 * fontsize)))
    caption = (
        f"{class_names[best]} ({posteriors[best]:.2f}), Q = {scale}; map: posterior "
        f"of {class_names[best]}, blue 0 to red 1"
    )
    axes.text(
        0.01,
        0.98,
        textwrap.fill(caption, characters),
        transform=axes.transAxes,
        va="top",
        fontsize=fontsize,
        bbox={"facecolor": "white", "alpha": 0.8, "linewidth": 0},
    )
    try:
        write_atomic(out, lambda partial: figure.savefig(partial, dpi=dpi))
    finally:
        plt.close(figure)
    return class_names[best], float(posteriors[best])


_SMALLEST_PICTURE = 480  # pixels on the longer side of a score-map picture
_MAP_SIDE = 512  # the most cells on a side of the map drawn over the image


def _whole_image_map(score_map, first, stride, height, width) -> np.ndarray:
    """The (rows, cols) map of window posteriors resampled over the whole image: window
    (i, j) centred at (first + i * stride, first + j * stride) image pixels, linear in
    between, held constant from the outermost centres to the edges."""
    rows, cols = score_map.shape
    ys = (np.arange(min(height, _MAP_SIDE)) + 0.5) * height / min(height, _MAP_SIDE)
    xs = (np.arange(min(width, _MAP_SIDE)) + 0.5) * width / min(width, _MAP_SIDE)
    centres_y, centres_x = first + stride * np.arange(rows), first + stride * np.arange(cols)
    across = np.stack([np.interp(xs, centres_x, row) for row in score_map])  # (rows, W')
    return np.stack([np.interp(ys, centres_y, column) for column in across.T], axis=1)
