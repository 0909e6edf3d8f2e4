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
        >>> image = decode_rgb(tf.io.read_file("cat.jpg"))  # doctest: +SKIP
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
    shape = tf.shape(image)
    target = _rescaled_size(shape[0], shape[1], size)
    resized = tf.image.resize(tf.cast(image, tf.float32), target, antialias=True)
    return tf.clip_by_value(resized, 0.0, 255.0)


def center_crop(image, size: int) -> tf.Tensor:
    """The central ``size`` x ``size`` window of an image at least that large.

    Args:
        image: (H, W, 3) image with H, W >= size (rescale first).
        size: side of the square crop.

    Example:
        >>> center_crop(rescale(image, 256), 224)  # doctest: +SKIP
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
        >>> random_crop(rescale(image, 256), 224, seed=[1, 2])  # doctest: +SKIP
    """
    shape = tf.shape(image)
    top, left = _crop_offsets(shape[0], shape[1], size, seed)
    crop = image[top : top + size, left : left + size]
    return tf.ensure_shape(tf.cast(crop, tf.float32), [size, size, 3])


def random_flip(image, seed=None) -> tf.Tensor:
    """Mirror the image left-right with probability 1/2.

    Args:
        image: (H, W, 3) image.
        seed: optional stateless seed, shape (2,).

    Example:
        >>> random_flip(crop, seed=[0, 7])  # doctest: +SKIP
    """
    flip = _uniform([], seed) < 0.5
    image = tf.cast(image, tf.float32)
    return tf.cond(flip, lambda: tf.reverse(image, axis=[1]), lambda: image)


def color_shift(image, stats, std: float = 0.1, seed=None) -> tf.Tensor:
    """AlexNet's PCA colour augmentation: add sum_i alpha_i * lambda_i * p_i to every pixel.

    alpha_i ~ N(0, std) is drawn once per image; lambda_i, p_i are the eigenvalues and
    eigenvectors in ``stats`` (a :class:`~kvgg.data.stats.ColorStats`), whose eigenvalues are
    on the [0, 255] pixel scale, so the offset is in pixel units. The result is clipped to
    [0, 255].

    Args:
        image: (H, W, 3) RGB image on the [0, 255] scale.
        stats: ColorStats with ``eigenvalues`` (3,) and ``eigenvectors`` (3, 3), columns.
        std: standard deviation of alpha (0.1 in AlexNet and VGG).
        seed: optional stateless seed, shape (2,).

    Example:
        >>> color_shift(crop, IMAGENET_STATS, seed=[3, 4])  # doctest: +SKIP
    """
    eigenvalues = tf.constant(stats.eigenvalues, tf.float32)
    eigenvectors = tf.constant(stats.eigenvectors, tf.float32)
    if seed is None:
        alpha = tf.random.normal([3], stddev=std)
    else:
        alpha = tf.random.stateless_normal([3], seed=seed, stddev=std)
    offset = tf.linalg.matvec(eigenvectors, alpha * eigenvalues)
    return tf.clip_by_value(tf.cast(image, tf.float32) + offset, 0.0, 255.0)


def draw_scale(scale, seed=None) -> tf.Tensor:
    """The training scale S: ``scale`` itself, or uniform in [S_min, S_max] (scale jittering).

    Args:
        scale: an int S, or a pair (S_min, S_max), both inclusive.
        seed: optional stateless seed, shape (2,).

    Example:
        >>> draw_scale((256, 512), seed=[0, 1])  # doctest: +SKIP
    """
    if isinstance(scale, int):
        return tf.constant(scale, tf.int32)
    low, high = scale
    if seed is None:
        return tf.random.uniform([], low, high + 1, dtype=tf.int32)
    return tf.random.stateless_uniform([], seed, low, high + 1, dtype=tf.int32)


def rescale_random_crop(image, scale, size: int, seed=None) -> tf.Tensor:
    """Rescale to a training scale S, then take a random crop: the plain (reference) way.

    The same seed gives the same S and window as :func:`decode_random_crop`.

    Args:
        image: decoded (H, W, 3) image.
        scale: S (int) or (S_min, S_max) for scale jittering; S >= size.
        size: side of the square crop.
        seed: optional stateless seed, shape (2,).

    Example:
        >>> rescale_random_crop(image, (256, 512), 224, seed=[0, 1])  # doctest: +SKIP
    """
    scale_seed, crop_seed = _split(seed, 2)
    return random_crop(rescale(image, draw_scale(scale, scale_seed)), size, crop_seed)


def decode_random_crop(encoded, scale, size: int, seed=None) -> tf.Tensor:
    """Fused decode -> rescale to S -> random crop that decodes and resizes only the crop.

    Gives the same window as ``random_crop(rescale(decode_rgb(encoded), S), size, seed)``
    with ``S = draw_scale(scale, seed)`` for the same seed, and the same pixels up to
    resampling: the window is chosen in rescaled coordinates, mapped back to source pixels,
    and only that part of a JPEG is decoded (``tf.io.decode_and_crop_jpeg``), after a
    DCT-domain downscale (decode ``ratio`` 2, 4 or 8) when the image is at least that much
    larger than needed; then just that part is resized (plain bilinear, like
    ``tf.image.resize``; sampled points within half an output pixel of the whole-image
    resize's).
    Other formats are decoded whole, then cut the same way.

    Args:
        encoded: scalar tf.string of encoded image bytes.
        scale: training scale S (int) or (S_min, S_max) for scale jittering; S >= size.
        size: side of the square crop.
        seed: optional stateless seed, shape (2,); split into the scale and crop seeds
            exactly as :func:`rescale_random_crop` splits it.

    Returns:
        float32 (size, size, 3) on the [0, 255] scale.

    Example:
        >>> crop = decode_random_crop(tf.io.read_file("cat.jpg"), (256, 512), 224, seed=[0, 1])
        ... # doctest: +SKIP
    """
    # Few ops on purpose: inside tf.data each op costs microseconds of scheduling, so the
    # geometry works on (height, width) pairs at once.
    if min([scale] if isinstance(scale, int) else list(scale)) < size:
        raise ValueError(f"scale must be >= size ({size}). Received: scale={scale!r}")
    scale_seed, crop_seed = _split(seed, 2)
    target = tf.cast(draw_scale(scale, scale_seed), tf.float32)
    is_jpeg = tf.io.is_jpeg(encoded)
    shape = tf.cond(
        is_jpeg,
        lambda: tf.io.extract_jpeg_shape(encoded, output_type=tf.int32)[:2],
        lambda: tf.shape(decode_rgb(encoded))[:2],
    )
    extent = tf.cast(shape, tf.float32)
    shortest = tf.reduce_min(extent)
    # The rescaled size, rounded exactly as _rescaled_size rounds it.
    short_axis = tf.stack([extent[0] <= extent[1], extent[0] > extent[1]])
    new = tf.where(short_axis, target, tf.round(extent * (target / shortest)))
    # The crop's corner, drawn exactly as _crop_offsets draws it.
    limits = new - size + 1.0
    offset = tf.minimum(tf.floor(_uniform([2], crop_seed) * limits), limits - 1.0)
    ratio_index = tf.where(is_jpeg, _ratio_index(shortest / target), 0)
    ratio = tf.bitwise.left_shift(1, ratio_index)  # _DCT_RATIOS[ratio_index]
    decoded = (shape + ratio - 1) // ratio  # a JPEG decoded at ratio k: ceil(extent / k)
    start, count, resized, shift = _source_window(offset, size, decoded, new)
    window = tf.concat([start, count], 0)

    def decode_jpeg_window(ratio):
        return lambda: tf.io.decode_and_crop_jpeg(encoded, window, channels=3, ratio=ratio)

    def decode_other():
        return decode_rgb(encoded)[start[0] : start[0] + count[0], start[1] : start[1] + count[1]]

    branches = [decode_jpeg_window(r) for r in _DCT_RATIOS]
    pixels = tf.cond(is_jpeg, lambda: tf.switch_case(ratio_index, branches), decode_other)
    # Plain bilinear (half-pixel centres, edges clamped), as tf.image.resize on the whole image.
    crop = tf.image.resize(pixels, resized)[shift[0] : shift[0] + size, shift[1] : shift[1] + size]
    return tf.ensure_shape(crop, [size, size, 3])


_DCT_RATIOS = (1, 2, 4, 8)


def _ratio_index(shrink):
    """Index into _DCT_RATIOS of the largest JPEG decode ratio <= the shrink factor."""
    ratios = tf.constant(_DCT_RATIOS[1:], tf.float32)
    return tf.reduce_sum(tf.cast(ratios <= shrink, tf.int32))


def _source_window(offset, size, extent, new_extent):
    """The part of the image a crop needs when ``extent`` (height, width) pixels are
    resized to ``new_extent`` and outputs offset..offset+size-1 are kept, per axis: (start,
    count) of those source pixels, the size ``resized`` that part is resized to, and the
    crop's offset ``shift`` in it. The part's own scale count / resized can only approximate
    extent / new_extent, so of a few slightly larger parts the one whose sampled points land
    closest to the whole resize's is used (within half an output pixel)."""
    step = (tf.cast(extent, tf.float32) / new_extent)[:, None, None]
    offset = offset[:, None, None]
    first = tf.floor((offset + 0.5) * step - 0.5) - 1.0  # one pixel of margin each side
    last = tf.floor((offset + size - 0.5) * step - 0.5) + 2.0
    grow = tf.range(_WINDOW_CANDIDATES, dtype=tf.float32)
    end = tf.cast(extent, tf.float32)[:, None, None]
    starts = tf.maximum(first - grow[:, None], 0.0)  # (2, K, 1)
    stops = tf.minimum(tf.maximum(last + grow, starts + 1.0), end)  # (2, K, K)
    counts = stops - starts
    resized = tf.maximum(tf.round(counts / step), size)
    shifts = tf.minimum(tf.maximum(tf.round(offset - starts / step), 0.0), resized - size)
    # Source coordinate of crop pixel j: this part's resize vs the whole image's.
    ends = tf.constant([0.5, size - 0.5])  # the first and last crop pixels' centres
    miss = tf.abs(
        starts[..., None]
        + (shifts[..., None] + ends) * (counts / resized)[..., None]
        - (offset[..., None] + ends) * step[..., None]
    )
    starts = tf.broadcast_to(starts, tf.shape(counts))
    candidates = tf.reshape(tf.stack([starts, counts, resized, shifts], -1), [2, -1, 4])
    best = tf.argmin(tf.reshape(tf.reduce_max(miss, -1), [2, -1]), axis=1)
    chosen = tf.cast(tf.gather(candidates, best, batch_dims=1), tf.int32)  # (2, 4)
    return tf.unstack(chosen, axis=1)


_WINDOW_CANDIDATES = 8


def _rescaled_size(height, width, size):
    """(H', W') with the smallest side exactly ``size`` and the aspect ratio kept."""
    height = tf.cast(height, tf.float32)
    width = tf.cast(width, tf.float32)
    size = tf.cast(size, tf.float32)
    factor = size / tf.minimum(height, width)
    new_height = tf.where(height <= width, size, tf.round(height * factor))
    new_width = tf.where(height <= width, tf.round(width * factor), size)
    return tf.cast(tf.stack([new_height, new_width]), tf.int32)


def _crop_offsets(height, width, size, seed):
    """Uniform top-left corner of a size x size window inside (height, width)."""
    tf.debugging.assert_greater_equal(
        tf.minimum(height, width), size, message="image smaller than the crop; rescale first"
    )
    limits = tf.stack([height - size + 1, width - size + 1])
    draws = _uniform([2], seed)
    offsets = tf.cast(tf.floor(draws * tf.cast(limits, tf.float32)), tf.int32)
    offsets = tf.minimum(offsets, limits - 1)  # float rounding must not reach the limit
    return offsets[0], offsets[1]


def _uniform(shape, seed):
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(shape, seed)


def _split(seed, count):
    if seed is None:
        return [None] * count
    return tf.unstack(tf.random.experimental.stateless_split(seed, count))
