"""The paper's image transforms as pure TensorFlow functions (graph-safe, usable in tf.data).

Images are uint8 or float32 RGB tensors of shape (H, W, 3); every function returns float32
values on the [0, 255] scale (mean subtraction lives in the model). Random transforms take
an optional stateless ``seed`` (an int32/int64 tensor of shape (2,)): the same seed always
gives the same result, eagerly and inside ``Dataset.map`` alike. Without a seed they draw
from TensorFlow's global generator.
"""

from __future__ import annotations

import tensorflow as tf

__all__ = [
    "center_crop",
    "color_shift",
    "decode_random_crop",
    "decode_rgb",
    "draw_scale",
    "random_crop",
    "random_flip",
    "rescale",
    "rescale_random_crop",
]


def decode_rgb(encoded) -> tf.Tensor:
    """Decode JPEG, PNG, GIF or BMP bytes to a uint8 (H, W, 3) RGB image.

    Grayscale and CMYK JPEGs, RGBA and 16-bit PNGs and animated GIFs (first frame) all come
    out as 3-channel 8-bit RGB; the format is read from the bytes, not the file name.

    Args:
        encoded: scalar tf.string of encoded image bytes.

    Example:
        >>> grey = tf.io.encode_png(tf.fill([2, 3, 1], tf.constant(7, tf.uint8)))
        >>> decode_rgb(grey).shape, int(decode_rgb(grey)[0, 0, 2])  # e.g. of read_file("x.jpg")
        (TensorShape([2, 3, 3]), 7)
    """
    image = tf.io.decode_image(encoded, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def rescale(image, size) -> tf.Tensor:
    """Isotropically rescale so that the smallest side equals ``size`` (paper Sec. 3.1).

    Bilinear with antialiasing when shrinking. Works for images smaller than ``size`` too.

    Args:
        image: (H, W, 3) image, any numeric dtype.
        size: target smallest side S (int or scalar tensor).

    Returns:
        float32 (H', W', 3) with min(H', W') == size.

    Example:
        >>> rescale(tf.zeros([375, 500, 3], tf.uint8), 256).shape
        TensorShape([256, 341, 3])
    """
    target = tf.cast(_rescaled_size(tf.shape(image)[:2], size), tf.int32)
    resized = tf.image.resize(tf.cast(image, tf.float32), target, antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def center_crop(image, size: int) -> tf.Tensor:
    """The central ``size`` x ``size`` window of an image at least that large.

    Args:
        image: (H, W, 3) image with H, W >= size (rescale first).
        size: side of the square crop.

    Example:
        >>> center_crop(rescale(tf.zeros([375, 500, 3], tf.uint8), 256), 224).shape
        TensorShape([224, 224, 3])
    """
    shape = tf.shape(image)
    top = (shape[0] - size) // 2
    left = (shape[1] - size) // 2
    crop = image[top : top + size, left : left + size]
    return tf.ensure_shape(tf.cast(crop, tf.float32), [size, size, 3])


def random_crop(image, size: int, seed=None) -> tf.Tensor:
    """A uniformly placed ``size`` x ``size`` window of an image at least that large.

    Args:
        image: (H, W, 3) image with H, W >= size.
        size: side of the square crop (224 in the paper).
        seed: optional stateless seed, shape (2,).

    Example:
        >>> random_crop(rescale(tf.zeros([375, 500, 3]), 256), 224, seed=[1, 2]).shape
        TensorShape([224, 224, 3])
    """
    return _crop(image, size, _uniform([2], seed))


def random_flip(image, seed=None) -> tf.Tensor:
    """Mirror the image left-right with probability 1/2.

    Args:
        image: (H, W, C) image, any dtype (kept).
        seed: optional stateless seed, shape (2,).

    Example:
        >>> crop = tf.reshape(tf.range(6.0), [1, 2, 3])  # one row, two columns
        >>> [random_flip(crop, seed=[0, s])[0, 0].numpy().tolist() for s in range(4)]
        [[3.0, 4.0, 5.0], [3.0, 4.0, 5.0], [3.0, 4.0, 5.0], [0.0, 1.0, 2.0]]
    """
    return _mirror_if(image, _uniform([], seed))


def color_shift(image, stats, std: float = 0.1, seed=None) -> tf.Tensor:
    """AlexNet's PCA colour augmentation: add sum_i alpha_i * lambda_i * p_i to every pixel.

    alpha_i ~ N(0, std) is drawn once per image; lambda_i, p_i are the eigenvalues and
    eigenvectors in ``stats`` (a :class:`~kvgg.data.stats.ColorStats`), whose eigenvalues are
    on the [0, 255] pixel scale, so the offset is in pixel units. As in AlexNet the result
    is not clipped: the shift (a few units) may take a pixel slightly past 0 or 255.

    Args:
        image: (H, W, 3) RGB image on the [0, 255] scale.
        stats: ColorStats with ``eigenvalues`` (3,) and ``eigenvectors`` (3, 3), columns.
        std: standard deviation of alpha (0.1 in AlexNet and VGG).
        seed: optional stateless seed, shape (2,).

    Returns:
        float32 (H, W, 3).

    Example:
        >>> from kvgg.data.stats import IMAGENET_STATS
        >>> shifted = color_shift(tf.fill([2, 2, 3], 100.0), IMAGENET_STATS, seed=[3, 4])
        >>> bool(tf.reduce_all(shifted == shifted[0, 0])), bool(tf.reduce_any(shifted != 100))
        (True, True)
    """
    eigenvalues = tf.constant(stats.eigenvalues, tf.float32)
    eigenvectors = tf.constant(stats.eigenvectors, tf.float32)
    if seed is None:
        alpha = tf.random.normal([3], stddev=std)
    else:
        alpha = tf.random.stateless_normal([3], seed=seed, stddev=std)
    offset = tf.linalg.matvec(eigenvectors, alpha * eigenvalues)
    # Added a whole row at a time: broadcasting a (W * 3,) row is several times faster on
    # CPU than broadcasting the (3,) offset over every pixel.
    shape = tf.shape(image)
    rows = tf.reshape(tf.cast(image, tf.float32), [shape[0], -1])
    return tf.reshape(rows + tf.tile(offset, shape[1:2]), shape)


def draw_scale(scale, seed=None) -> tf.Tensor:
    """The training scale S: ``scale`` itself, or uniform in [S_min, S_max] (scale jittering).

    Args:
        scale: an int S, or a pair (S_min, S_max), both inclusive.
        seed: optional stateless seed, shape (2,).

    Example:
        >>> [int(draw_scale((256, 512), seed=[0, s])) for s in range(4)]  # S in [256, 512]
        [310, 277, 354, 455]
        >>> int(draw_scale(384, seed=[0, 1]))  # a single scale
        384
    """
    return tf.cast(_scale(scale, _uniform([], seed)), tf.int32)


def rescale_random_crop(image, scale, size: int, seed=None, flip: bool = False) -> tf.Tensor:
    """Rescale to a training scale S, take a random crop, maybe mirror it: the plain way.

    The reference for :func:`decode_random_crop`: the same seed gives the same S, window
    and flip.

    Args:
        image: decoded (H, W, 3) image.
        scale: S (int) or (S_min, S_max) for scale jittering; S >= size.
        size: side of the square crop.
        seed: optional stateless seed, shape (2,).
        flip: also mirror the crop left-right with probability 1/2.

    Example:
        >>> image = tf.zeros([375, 500, 3], tf.uint8)
        >>> rescale_random_crop(image, (256, 512), 224, seed=[0, 1], flip=True).shape
        TensorShape([224, 224, 3])
    """
    draws = _uniform([4], seed)  # S, top, left, flip: shared with decode_random_crop
    crop = _crop(rescale(image, _scale(scale, draws[0])), size, draws[1:3])
    return _mirror_if(crop, draws[3]) if flip else crop


def decode_random_crop(encoded, scale, size: int, seed=None, flip: bool = False) -> tf.Tensor:
    """Fused decode -> rescale to S -> random crop (-> random flip) that decodes and resizes
    only the crop.

    Draws the same S, window and flip as :func:`rescale_random_crop` for the same seed, and
    samples the same points up to half a source pixel: the window is chosen in rescaled
    coordinates and mapped back to source pixels (rounded to whole ones); only that part of
    a JPEG is decoded (``tf.io.decode_and_crop_jpeg``), after a DCT-domain downscale (decode
    ``ratio`` 2, 4 or 8) when the image is at least that much larger than needed. Then just
    that part is mirrored (when flipped) and resized to ``size`` x ``size`` with plain
    bilinear (half-pixel centres, like ``tf.image.resize``). Other formats are decoded
    whole, then cut the same way.

    Args:
        encoded: scalar tf.string of encoded image bytes.
        scale: training scale S (int) or (S_min, S_max) for scale jittering; S >= size.
        size: side of the square crop.
        seed: optional stateless seed, shape (2,).
        flip: also mirror the crop left-right with probability 1/2.

    Returns:
        float32 (size, size, 3) on the [0, 255] scale.

    Example:
        >>> encoded = tf.io.encode_jpeg(tf.zeros([375, 500, 3], tf.uint8))  # or read_file
        >>> decode_random_crop(encoded, (256, 512), 224, seed=[0, 1]).shape
        TensorShape([224, 224, 3])
    """
    # Few ops on purpose: inside tf.data each op costs microseconds of scheduling, so the
    # geometry works on (height, width) pairs in float32.
    if min([scale] if isinstance(scale, int) else list(scale)) < size:
        raise ValueError(f"scale must be >= size ({size}). Received: scale={scale!r}")
    draws = _uniform([4], seed)  # S, top, left, flip, as in rescale_random_crop
    target = _scale(scale, draws[0])
    is_jpeg = tf.io.is_jpeg(encoded)

    def jpeg_shape():  # the pixels come later, just the window's
        shape = tf.io.extract_jpeg_shape(encoded, output_type=tf.int32)[:2]
        return shape, tf.zeros([0, 0, 3], tf.uint8)

    def decode_whole():  # other formats are decoded once, whole
        image = decode_rgb(encoded)
        return tf.shape(image)[:2], image

    shape, whole = tf.cond(is_jpeg, jpeg_shape, decode_whole)
    extent = tf.cast(shape, tf.float32)
    new = _rescaled_size(extent, target)
    corner = _corner(new, size, draws[1:3])
    ratio_index = tf.where(is_jpeg, _ratio_index(tf.reduce_min(extent) / target), 0)
    # A JPEG decoded at ratio k has ceil(extent / k) pixels. The crop covers [corner,
    # corner + size) of the rescaled image, [corner, corner + size) * step of the decoded
    # one; rounding both ends to whole pixels moves each sampled point by at most half a
    # decoded pixel.
    decoded = tf.math.ceil(extent / tf.gather(_DCT_RATIOS, ratio_index))
    step = decoded / new
    start = tf.minimum(tf.round(corner * step), decoded - 1.0)
    stop = tf.minimum(tf.round((corner + size) * step), decoded)
    window = tf.cast(tf.concat([start, tf.maximum(stop - start, 1.0)], 0), tf.int32)

    def decode_jpeg_window(ratio):
        return lambda: tf.io.decode_and_crop_jpeg(encoded, window, channels=3, ratio=ratio)

    def cut_whole():
        top, left, height, width = tf.unstack(window)
        return whole[top : top + height, left : left + width]

    branches = [decode_jpeg_window(int(r)) for r in _DCT_RATIOS] + [cut_whole]
    pixels = tf.switch_case(tf.where(is_jpeg, ratio_index, len(_DCT_RATIOS)), branches)
    if flip:
        pixels = _mirror_if(pixels, draws[3])  # mirroring before the resize is exact
    crop = tf.image.resize(tf.cast(pixels, tf.float32), [size, size])  # faster from float
    return tf.ensure_shape(crop, [size, size, 3])


_DCT_RATIOS = (1.0, 2.0, 4.0, 8.0)


def _ratio_index(shrink):
    """Index into _DCT_RATIOS of the largest JPEG decode ratio <= the shrink factor."""
    return tf.reduce_sum(tf.cast(tf.constant(_DCT_RATIOS[1:]) <= shrink, tf.int32))


def _rescaled_size(extent, size):
    """float32 (H', W'): ``extent`` (H, W) scaled so that its smallest side is ``size``."""
    extent = tf.cast(extent, tf.float32)
    return tf.round(extent * (tf.cast(size, tf.float32) / tf.reduce_min(extent)))


def _scale(scale, draw):
    """float32 S from a uniform draw in [0, 1): ``scale``, or uniform in [S_min, S_max]."""
    if isinstance(scale, int):
        return tf.constant(scale, tf.float32)
    low, high = scale
    return tf.minimum(low + tf.floor(draw * (high - low + 1)), high)


def _corner(extent, size, draws):
    """float32 top-left corner of a size x size window placed uniformly in ``extent``."""
    limits = extent - size + 1.0
    return tf.minimum(tf.floor(draws * limits), limits - 1.0)  # rounding must not reach it


def _crop(image, size, draws):
    shape = tf.shape(image)
    tf.debugging.assert_greater_equal(
        tf.reduce_min(shape[:2]), size, message="image smaller than the crop; rescale first"
    )
    top, left = tf.unstack(tf.cast(_corner(tf.cast(shape[:2], tf.float32), size, draws), tf.int32))
    crop = image[top : top + size, left : left + size]
    return tf.ensure_shape(tf.cast(crop, tf.float32), [size, size, 3])


def _mirror_if(image, draw):
    """``image`` mirrored left-right when the uniform draw is below 1/2."""
    return tf.cond(draw < 0.5, lambda: tf.reverse(image, axis=[1]), lambda: tf.identity(image))


def _uniform(shape, seed):
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(shape, seed)
