"""Training and evaluation datasets: the paper's augmentation as fast tf.data pipelines.

Every dataset here yields float32 RGB on the [0, 255] scale (the model subtracts the mean)
and works with ``model.fit``/``predict`` on every Keras backend.

Knobs, and what they cost:

- **Parallel map**: decoding and augmentation run in ``Dataset.map`` with
  ``num_parallel_calls=tf.data.AUTOTUNE``, i.e. on all cores tf.data sees fit.
  Limit it with ``tf.data.Options().threading.private_threadpool_size`` on the result.
- **Prefetch**: the finished batches are prefetched (``AUTOTUNE``) so the accelerator
  never waits for the CPU between steps.
- **Cache**: ``cache=True`` keeps the encoded images (not the decoded ones: augmentation
  stays random) in memory after the first epoch; ``cache="path/prefix"`` keeps them in
  files instead. Use it for datasets that fit; it saves the disk reads, not the decoding.
- **Shuffle**: file lists are shuffled whole (cheap: paths only) before reading; TFRecord
  shards are shuffled by file, then through a buffer of ``shuffle_buffer`` records.
- **Determinism**: with ``seed`` set, every random choice (order, scale, crop, flip,
  colour) is drawn from stateless per-image seeds, so two runs give identical batches; each
  epoch still differs from the last. File sources keep their (shuffled) order through the
  decoding map either way, which is how decoder failures are named (see ``_guarded_map``).
- **Bad files**: undecodable images (empty, truncated, not images, or failing inside the
  decoder) are skipped, counted in ``source.bad_files`` and logged by path (see
  :mod:`kvgg.data.bad_files`); ``strict=True`` stops at the first one instead, naming it
  (wrap the loop in :func:`~kvgg.data.bad_files.strict_errors` for a plain
  ``UndecodableImageError``).
"""

from __future__ import annotations

import tensorflow as tf

from kvgg.data import transforms
from kvgg.data.bad_files import STRICT_MESSAGE, looks_decodable

AUTOTUNE = tf.data.AUTOTUNE

__all__ = ["eval_dataset", "image_dataset", "train_dataset"]


def train_dataset(
    source,
    *,
    batch_size: int,
    scale=256,
    crop: int = 224,
    flip: bool = True,
    color_stats=None,
    shuffle: bool = True,
    seed: int | None = None,
    cache=False,
    strict: bool = False,
    repeat: bool = False,
    shuffle_buffer: int = 10_000,
) -> tf.data.Dataset:
    """Batches of the paper's training augmentation (Sec. 3.1).

    Per image and step: isotropic rescale so the smallest side is S (fixed, or drawn
    uniformly from [S_min, S_max] for scale jittering), one random ``crop`` x ``crop``
    window, a random horizontal flip and, when ``color_stats`` is given, AlexNet's PCA
    colour shift. Encoded JPEGs take the fused path of
    :func:`~kvgg.data.transforms.decode_random_crop`, which decodes and resizes only the
    crop's part of the image.

    Args:
        source: a :class:`~kvgg.data.sources.Source`.
        batch_size: images per batch (the last batch of an epoch may be smaller).
        scale: S as an int, or (S_min, S_max) for scale jittering; S_min >= crop.
        crop: side of the square crops.
        flip: random horizontal flips.
        color_stats: a :class:`~kvgg.data.stats.ColorStats` (e.g. ``IMAGENET_STATS``) to
            enable the colour shift, or None.
        shuffle: shuffle the images every epoch.
        seed: makes the order and every augmentation reproducible.
        cache: False, True (memory) or a file prefix: cache the encoded images.
        strict: stop at the first undecodable image instead of skipping it.
        repeat: repeat forever (then pass ``steps_per_epoch`` to ``fit``).
        shuffle_buffer: records buffered when shuffling TFRecord shards.

    Returns:
        A dataset of (float32 (B, crop, crop, 3) images in [0, 255], labels).

    Example:
        >>> data = train_dataset(image_folder("train"), batch_size=256, scale=(256, 512),
        ...                      color_stats=IMAGENET_STATS, seed=0)  # doctest: +SKIP
        >>> model.fit(data, epochs=74)  # doctest: +SKIP
    """
    _check_scale(scale, crop, "scale")
    items = _ordered_items(source, shuffle, seed, cache, shuffle_buffer)
    if repeat:
        items = items.repeat()
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    items = tf.data.Dataset.zip(items, seeds.batch(2, drop_remainder=True))
    items = items.map(lambda item, element_seed: (*item, element_seed))

    def augment(image, element_seed):
        crop_seed, flip_seed, color_seed = tf.unstack(
            tf.random.experimental.stateless_split(element_seed, 3)
        )
        if image.dtype == tf.string:
            image = transforms.decode_random_crop(image, scale, crop, crop_seed)
        else:
            image = transforms.rescale_random_crop(image, scale, crop, crop_seed)
        if flip:
            image = transforms.random_flip(image, flip_seed)
        if color_stats is not None:
            image = transforms.color_shift(image, color_stats, seed=color_seed)
        return image

    images = _guarded_map(items, augment, source, strict, tf.zeros([crop, crop, 3]), seed)
    return images.batch(batch_size).prefetch(AUTOTUNE)


def eval_dataset(source, *, batch_size: int, scale: int = 256, crop: int = 224):
    """Batches for single-crop evaluation: rescale to Q = ``scale``, then the centre crop.

    (Dense and multi-crop evaluation, which see the whole rescaled image, read
    :func:`image_dataset` instead.) Undecodable images are skipped and logged.

    Args:
        source: a :class:`~kvgg.data.sources.Source`.
        batch_size: images per batch.
        scale: test scale Q (smallest side after rescaling), >= crop.
        crop: side of the centre crop.

    Returns:
        A dataset of (float32 (B, crop, crop, 3) images in [0, 255], labels), in source order.

    Example:
        >>> model.evaluate(eval_dataset(labels_file("val", "val.txt"), batch_size=64))
        ... # doctest: +SKIP
    """
    _check_scale(scale, crop, "scale")
    items = source.named_dataset()

    def center(image, _):
        if image.dtype == tf.string:
            image = transforms.decode_rgb(image)
        return transforms.center_crop(transforms.rescale(image, scale), crop)

    items = items.map(lambda image, label, name: (image, label, name, tf.zeros([2], tf.int64)))
    images = _guarded_map(items, center, source, False, tf.zeros([crop, crop, 3]), 0)
    return images.batch(batch_size).prefetch(AUTOTUNE)


def image_dataset(source, *, strict: bool = False, shuffle: bool = False, seed=None):
    """Whole decoded images, unbatched: (uint8 (H, W, 3) RGB, label), in source order.

    For dense evaluation and feature extraction, which rescale each image per test scale
    with :func:`~kvgg.data.transforms.rescale`. Undecodable images are skipped and logged
    (or stop the run with ``strict=True``).

    Args:
        source: a :class:`~kvgg.data.sources.Source`.
        strict: stop at the first undecodable image instead of skipping it.
        shuffle: a random order instead (e.g. to sample with ``.take(n)``).
        seed: makes that order reproducible.

    Example:
        >>> for image, label in image_dataset(voc("VOCdevkit", 2007, "test")):  # doctest: +SKIP
        ...     ...
    """
    items = source.named_dataset(shuffle=shuffle, seed=seed)

    def decode(image, _):
        return transforms.decode_rgb(image) if image.dtype == tf.string else image

    items = items.map(lambda image, label, name: (image, label, name, tf.zeros([2], tf.int64)))
    return _guarded_map(items, decode, source, strict, tf.zeros([1, 1, 3], tf.uint8), 0)


def _ordered_items(source, shuffle, seed, cache, shuffle_buffer):
    if not cache:
        return source.named_dataset(shuffle=shuffle, seed=seed, shuffle_buffer=shuffle_buffer)
    items = source.named_dataset().cache("" if cache is True else str(cache))
    if shuffle:
        items = items.shuffle(len(source), seed=seed, reshuffle_each_iteration=True)
    return items


def _guarded_map(items, fn, source, strict, placeholder, seed):
    """Apply ``fn(image, seed)`` per element; undecodable images are dropped and recorded.

    A cheap check of each file's bytes (:func:`~kvgg.data.bad_files.looks_decodable`)
    routes empty, truncated and non-image files around the decoder. Files that pass it
    yet fail inside the decoder are dropped by ``ignore_errors``; the elements are numbered
    and their paths kept in a small table until they come out (in order), so a gap in the
    numbers names them. Both kinds are recorded in ``source.bad_files``; in strict mode the
    first one stops the run with an error naming it (see
    :func:`~kvgg.data.bad_files.strict_errors`). A last, empty element marks the end of an
    epoch, so failures among its final images are counted too.
    """
    in_memory = items.element_spec[0].dtype != tf.string
    if in_memory:
        return items.map(
            lambda image, label, name, s: (fn(image, s), label),
            num_parallel_calls=AUTOTUNE,
            deterministic=seed is not None,
        )
    end = tf.nest.map_structure(lambda spec: tf.zeros(spec.shape, spec.dtype), items.element_spec)
    items = items.concatenate(tf.data.Dataset.from_tensors(end))  # its name is ""
    paths = tf.lookup.experimental.MutableHashTable(tf.int64, tf.string, default_value="")

    def remember(index, item):
        with tf.control_dependencies([paths.insert(index[None], item[2][None])]):
            return (tf.identity(index), *item)

    def attempt(index, image, label, name, element_seed):
        ok = looks_decodable(image)
        result = tf.cond(ok, lambda: fn(image, element_seed), lambda: placeholder)
        return index, result, label, name, ok

    results = (
        items.enumerate()
        .map(remember)
        .map(attempt, num_parallel_calls=AUTOTUNE, deterministic=True)  # in order: gaps show
        .ignore_errors()
    )

    def report(names):
        for name in names.numpy():
            source.bad_files.record(name.decode())
        return False

    def failed(names):
        if strict:
            message = tf.strings.join([STRICT_MESSAGE, tf.strings.reduce_join(names[:1])])
            return tf.debugging.Assert(tf.size(names) == 0, [message])
        return tf.cond(
            tf.size(names) > 0, lambda: tf.py_function(report, [names], tf.bool), lambda: False
        )

    def account(expected, element):
        index, result, label, name, ok = element
        lost = paths.lookup(tf.range(expected, index))  # failed inside the decoder
        bad = tf.cond(ok | tf.equal(name, ""), lambda: lost, lambda: tf.concat([lost, [name]], 0))
        done = paths.remove(tf.range(expected, index + 1))
        with tf.control_dependencies([failed(bad), done]):
            return index + 1, (result, label, tf.identity(ok))

    accounted = results.scan(tf.constant(0, tf.int64), account)
    return accounted.filter(lambda result, label, ok: ok).map(
        lambda result, label, ok: (result, label)
    )


def _check_scale(scale, crop, what):
    sizes = [scale] if isinstance(scale, int) else list(scale)
    ok = len(sizes) in (1, 2) and all(isinstance(s, int) and s >= crop for s in sizes)
    if not ok or (len(sizes) == 2 and sizes[0] > sizes[1]):
        raise ValueError(
            f"{what} must be an int >= crop ({crop}) or a pair (S_min, S_max) with "
            f"crop <= S_min <= S_max. Received: {what}={scale!r}"
        )
