"""Training and evaluation datasets: the paper's augmentation as fast tf.data pipelines.

Every dataset here yields float32 RGB on the [0, 255] scale (the model subtracts the mean)
and works with ``model.fit``/``predict`` on every Keras backend.

Speed: each batch is one fused parallel map that reads every file, checks it and runs
the fused transform (:func:`~kvgg.data.transforms.decode_random_crop`: only the crop's
part of a JPEG is decoded, mirrored and resized) straight into the batch tensor. Bad files
cost nothing until one turns up: then only its batch is decoded again, image by image
(see ``_guarded_map``). ``benchmarks/pipeline.py`` measures it against the textbook
decode -> resize -> crop pipeline.

Knobs, and what they cost:

- **Parallelism**: decoding and augmentation run in a parallel ``Dataset.map`` on every
  core this process may use, the next batch started before the last one is done. Limit
  it with ``tf.data.Options().threading.private_threadpool_size`` on the result.
- **Prefetch**: the finished batches are prefetched (``AUTOTUNE``) so the accelerator
  never waits for the CPU between steps.
- **Cache**: ``cache=True`` keeps the encoded images (not the decoded ones: augmentation
  stays random) in memory after the first epoch; ``cache="path/prefix"`` keeps them in
  files instead. Use it for datasets that fit; it saves the disk reads, not the decoding.
- **Shuffle**: file lists are shuffled whole (cheap: paths only) before reading; TFRecord
  shards are shuffled by file, then through a buffer of ``shuffle_buffer`` records.
- **Determinism**: with ``seed`` set, every random choice (order, scale, crop, flip,
  colour) is drawn from stateless per-image seeds, so two runs give identical batches; each
  epoch still differs from the last. Without a seed, batches may come out in the order
  they are ready rather than the order they were read.
- **Bad files**: undecodable images (empty, truncated, not images, or failing inside the
  decoder) are skipped, counted in ``source.bad_files`` and logged by path (see
  :mod:`kvgg.data.bad_files`); ``strict=True`` stops at the first one instead, naming it
  (wrap the loop in :func:`~kvgg.data.bad_files.strict_errors` for a plain
  ``UndecodableImageError``).
"""

from __future__ import annotations

import tensorflow as tf

from kvgg.data import transforms
from kvgg.data.bad_files import STRICT_MESSAGE, BadFiles, looks_decodable
from kvgg.data.cpus import usable_cpus
from kvgg.models.configs import INPUT_SIZE

AUTOTUNE = tf.data.AUTOTUNE

__all__ = [
    "decoded_images",
    "eval_dataset",
    "image_dataset",
    "no_image_decodes",
    "require_decodable",
    "train_dataset",
]


def train_dataset(
    source,
    *,
    batch_size: int,
    scale=256,
    crop: int = INPUT_SIZE,
    flip: bool = True,
    color_stats=None,
    shuffle: bool = True,
    seed: int | None = None,
    cache=False,
    strict: bool = False,
    repeat: bool = False,
    shuffle_buffer: int = 10_000,
    shard: tuple[int, int] | None = None,
    transform=None,
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
        shard: ``(num_workers, worker_index)``: this worker's share of each epoch's image
            list, for multi-worker training. Every worker shuffles the whole list alike
            (``seed`` is required) and takes every ``num_workers``-th image from
            ``worker_index`` on, so each image is read and decoded by one worker per epoch.
        transform: a task's own augmentation, ``transform(image, label, seed) -> (image,
            label)`` on each decoded image (e.g. localisation's, which moves the boxes with
            the image), in place of the classification one built from ``scale``, ``crop``,
            ``flip`` and ``color_stats``; order, cache, shards, seeds and bad files are
            handled alike.

    Returns:
        A dataset of (float32 (B, crop, crop, 3) images in [0, 255], labels).

    Example:
        >>> import tempfile
        >>> from kvgg.data import image_folder
        >>> from kvgg.data.stats import IMAGENET_STATS
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> data = train_dataset(image_folder(images), batch_size=4, scale=(32, 48), crop=32,
        ...                      color_stats=IMAGENET_STATS, seed=0)  # ImageNet: 256, (256, 512)
        >>> images, labels = next(iter(data))
        >>> tuple(images.shape), tuple(labels.shape)
        ((4, 32, 32, 3), (4,))
    """
    _check_scale(scale, crop, "scale")
    items, unread = _ordered_items(source, shuffle, seed, cache, shuffle_buffer)
    if shard is not None:
        items = _shard(items, shard, shuffle, seed)
    if repeat:
        items = items.repeat()
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    if transform is not None:
        return decoded_images(
            items,
            source,
            transform=transform,
            batch_size=batch_size,
            seeds=seeds,
            strict=strict,
            unread=unread,
            ordered=seed is not None,
        ).prefetch(AUTOTUNE)

    def augment(image, element_seed):
        crop_seed, color_seed = tf.unstack(tf.random.experimental.stateless_split(element_seed, 2))
        if image.dtype == tf.string:  # encoded: the fused path
            image = transforms.decode_random_crop(image, scale, crop, crop_seed, flip=flip)
        else:
            image = transforms.rescale_random_crop(image, scale, crop, crop_seed, flip=flip)
        if color_stats is not None:
            image = transforms.color_shift(image, color_stats, seed=color_seed)
        return image

    batches = _guarded_map(
        items,
        augment,
        source,
        strict=strict,
        unread=unread,
        seeds=seeds,
        ordered=seed is not None,
        batch_size=batch_size,
    )
    return batches.prefetch(AUTOTUNE)


def eval_dataset(
    source, *, batch_size: int, scale: int = 256, crop: int = INPUT_SIZE, transform=None
):
    """Batches for single-crop evaluation: rescale to Q = ``scale``, then the centre crop.

    (Dense and multi-crop evaluation, which see the whole rescaled image, read
    :func:`image_dataset` instead.) Undecodable images are skipped and logged.

    Args:
        source: a :class:`~kvgg.data.sources.Source`.
        batch_size: images per batch.
        scale: test scale Q (smallest side after rescaling), >= crop.
        crop: side of the centre crop.
        transform: a task's own view, ``transform(image, label, seed) -> (image, label)``
            on each decoded image, in place of the centre crop (see `train_dataset`).

    Returns:
        A dataset of (float32 (B, crop, crop, 3) images in [0, 255], labels), in source order.

    Example:
        >>> import tempfile
        >>> from kvgg.data import image_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 6 images
        >>> data = eval_dataset(image_folder(images), batch_size=4, scale=32, crop=32)
        >>> [tuple(images.shape) for images, labels in data]
        [(4, 32, 32, 3), (2, 32, 32, 3)]
    """
    _check_scale(scale, crop, "scale")
    items = source.named_dataset(read=False)
    if transform is not None:
        return decoded_images(
            items, source, transform=transform, batch_size=batch_size, unread=source.stores_files
        ).prefetch(AUTOTUNE)

    def center(image, _):
        if image.dtype == tf.string:
            image = transforms.decode_rgb(image)
        return transforms.center_crop(transforms.rescale(image, scale), crop)

    batches = _guarded_map(
        items, center, source, strict=False, unread=source.stores_files, batch_size=batch_size
    )
    return batches.prefetch(AUTOTUNE)


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
        >>> import tempfile
        >>> from kvgg.data import image_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> image, label = next(iter(image_dataset(image_folder(images))))
        >>> tuple(image.shape), image.dtype.name, int(label)
        ((48, 64, 3), 'uint8', 0)
    """
    items = source.named_dataset(shuffle=shuffle, seed=seed, read=False)
    return decoded_images(items, source, strict=strict, unread=source.stores_files)


def decoded_images(
    items,
    source,
    *,
    transform=None,
    batch_size: int | None = None,
    seeds=None,
    strict: bool = False,
    unread: bool = True,
    ordered: bool = True,
) -> tf.data.Dataset:
    """The one guarded decode: (image, label, name) items -> (uint8 (H, W, 3) RGB, label).

    Undecodable images are skipped, counted in ``source.bad_files`` and logged by name, or
    with ``strict=True`` stop the run naming the first (see ``_guarded_map``: a cheap check
    of the bytes, a fused parallel decode of each batch, image by image only for a batch
    that failed). ``label`` may be any nest of tensors (e.g. a class index and its boxes);
    it travels with its image.

    Args:
        items: a dataset of (image, label, name): image a path (``unread``), encoded
            bytes or an already decoded uint8 image.
        source: has the ``bad_files`` (a :class:`~kvgg.data.bad_files.BadFiles`) to record in.
        transform: optional ``transform(image, label, seed) -> (result, label)``, applied to
            each decoded image inside the guard (so its failures are caught too); ``seed``
            is the image's stateless seed, (draw from ``seeds``, position in the dataset).
        batch_size: batch the results (short batches refilled); None: single results.
        seeds: a dataset of random int64 varying the stateless seeds (e.g.
            ``Dataset.random(seed)``); default: the position alone.
        strict: stop at the first undecodable image instead of skipping it.
        unread: the images are paths, read here.
        ordered: keep the items' order (False: whichever result is ready first).

    Example:
        >>> from types import SimpleNamespace
        >>> from kvgg.data.bad_files import BadFiles
        >>> source = SimpleNamespace(bad_files=BadFiles())  # e.g. a Source or a BoxSource
        >>> labels = ([7, 8], [[1.0, 2.0], [3.0, 4.0]])  # a nest: class index and a box
        >>> good = tf.io.encode_jpeg(tf.zeros([4, 6, 3], tf.uint8))
        >>> items = tf.data.Dataset.from_tensor_slices(([good, b""], labels, ["a.jpg", "b.jpg"]))
        >>> [(tuple(image.shape), int(label[0]), label[1].numpy().tolist())
        ...  for image, label in decoded_images(items, source, unread=False)]
        [((4, 6, 3), 7, [1.0, 2.0])]
        >>> source.bad_files.paths
        ['b.jpg']
    """

    def decode(image):
        return transforms.decode_rgb(image) if image.dtype == tf.string else image

    if transform is None:
        fn = lambda image, seed: decode(image)  # noqa: E731
    else:
        fn = lambda image, seed, label: transform(decode(image), label, seed)  # noqa: E731
    return _guarded_map(
        items,
        fn,
        source,
        strict=strict,
        unread=unread,
        seeds=seeds,
        ordered=ordered,
        batch_size=batch_size,
        relabel=transform is not None,
    )


def require_decodable(source, items=None, *, unread: bool = True) -> None:
    """Raise a ValueError naming a few files when no image of ``source`` decodes (a
    repeated training dataset of it would never yield a batch). Costs one decoded image
    when all is well; ``source.bad_files`` is left as it was.

    Args:
        source: a :class:`~kvgg.data.sources.Source` (or anything with ``name``, a length
            and ``bad_files``, e.g. a ``BoxSource``).
        items: its (image, label, name) items; default: the Source's own.
        unread: with ``items``: they hold paths, read here.

    Example:
        >>> import tempfile
        >>> from kvgg.data import image_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> source = image_folder(pasted_objects(tempfile.mkdtemp(), per_class=1)[0])
        >>> for path in source.paths:
        ...     _ = open(path, "w").write("not a JPEG")
        >>> require_decodable(source)
        Traceback (most recent call last):
        ...
        ValueError: none of the 3 images of ... could be decoded (e.g. ...); ...
    """
    if items is None:
        items, unread = source.named_dataset(read=False), source.stores_files
    saved, source.bad_files = source.bad_files, BadFiles()
    try:
        for _ in decoded_images(items, source, unread=unread).take(1):
            return
        raise ValueError(no_image_decodes(source))
    finally:
        source.bad_files = saved


def no_image_decodes(source) -> str:
    """The message for a source of which no image decoded, naming a few of its bad files."""
    examples = ", ".join(source.bad_files.paths[:3]) or "none listed"
    return (
        f"none of the {len(source)} images of {source.name} could be decoded (e.g. "
        f"{examples}); `kvgg data check` lists why."
    )


def _ordered_items(source, shuffle, seed, cache, shuffle_buffer):
    """The source's items in training order, and whether their images are unread paths."""
    if not cache:
        items = source.named_dataset(
            shuffle=shuffle, seed=seed, shuffle_buffer=shuffle_buffer, read=False
        )
        return items, source.stores_files
    items = source.named_dataset().cache("" if cache is True else str(cache))
    if shuffle:
        items = items.shuffle(len(source), seed=seed, reshuffle_each_iteration=True)
    return items, False


def _shard(items, shard, shuffle, seed):
    """This worker's share of `items` (see `train_dataset`'s ``shard``)."""
    count, index = shard
    if not (isinstance(count, int) and isinstance(index, int) and 0 <= index < count):
        raise ValueError(
            f"shard must be (num_workers, worker_index) with 0 <= worker_index < num_workers. "
            f"Received: shard={shard!r}"
        )
    if shuffle and seed is None:
        raise ValueError(
            "Sharding a shuffled dataset needs a seed: every worker must shuffle the image "
            "list alike for the shares to be disjoint. Received: seed=None"
        )
    return items.shard(count, index)


def _guarded_map(
    items, fn, source, *, strict, unread, seeds=None, ordered=True, batch_size=None, relabel=False
):
    """Apply ``fn(image, seed)`` to (image, label, name) items, then batch; undecodable
    images are dropped and recorded. With ``relabel``, ``fn(image, seed, label)`` returns
    (result, new label): a transform that moves the label with the image (boxes).

    ``unread`` items hold paths, read here. A cheap check of each file's bytes
    (:func:`~kvgg.data.bad_files.looks_decodable`) keeps empty, truncated and non-image
    files from the decoder. Each batch is decoded by a fused parallel map into one tensor;
    an image that fails the check, cannot be read or fails inside the decoder fails its
    whole batch, and only then are that batch's images decoded again one by one, keeping
    the good ones. The bad ones are recorded in ``source.bad_files`` by name, or in strict
    mode the first one stops the run with an error naming it (see
    :func:`~kvgg.data.bad_files.strict_errors`). Batches short of the lost images are
    refilled (``rebatch``); ``batch_size=None`` gives single images. ``seeds`` (a dataset
    of random int64) varies each element's stateless seed for ``fn``.
    """
    seeds = seeds if seeds is not None else tf.data.Dataset.from_tensors(tf.zeros([], tf.int64))
    items = tf.data.Dataset.zip(items, seeds.repeat()).enumerate()
    if items.element_spec[1][0][0].dtype != tf.string:  # in memory: nothing to decode

        def apply(index, element):
            (image, label, _), seed = element
            return _call(fn, image, tf.stack([seed, index]), label, relabel)

        results = items.map(apply, num_parallel_calls=AUTOTUNE, deterministic=ordered)
        return results.batch(batch_size) if batch_size else results

    def attempt(index, element):
        (image, label, _), seed = element
        encoded = tf.io.read_file(image) if unread else image
        checked = tf.debugging.Assert(looks_decodable(encoded), ["undecodable"])
        with tf.control_dependencies([checked]):
            return _call(fn, encoded, tf.stack([seed, index]), label, relabel)

    size = batch_size or 1
    # Every core on each batch (AUTOTUNE would start each batch's short-lived map at 16
    # calls at most), and a few batches at once: one starts while the last one's
    # stragglers finish, and small ones (single images) still keep every core busy.
    cores = _cores()
    cycle = max(2, -(-cores // size))
    handle_lost = _bad_file_handler(source, strict)

    def decode_batch(indices, elements):
        one_by_one = tf.data.Dataset.from_tensor_slices((indices, elements))
        whole = one_by_one.map(attempt, num_parallel_calls=cores).batch(size)
        names = elements[0][2]
        retry = _survivors(one_by_one, attempt, size, indices, names, handle_lost)
        # A failure anywhere drops ``whole``; only then does the retry run.
        return whole.ignore_errors().concatenate(retry).take(1)

    batches = items.batch(size).interleave(
        decode_batch, cycle_length=cycle, num_parallel_calls=cycle, deterministic=ordered
    )
    return batches.rebatch(batch_size) if batch_size else batches.unbatch()


def _survivors(elements, attempt, size, indices, names, handle_lost):
    """The batch of the good results among ``elements`` (numbered by ``indices``), or
    nothing if all are bad; ``handle_lost`` gets the names of the bad ones."""
    results = elements.map(lambda index, element: (index, *attempt(index, element)))
    _, result_spec, label_spec = results.element_spec
    no_labels = tf.nest.map_structure(_zeros, label_spec)  # the label may be a nest
    end = (tf.constant(-1, tf.int64), _zeros(result_spec), no_labels)
    # With an end marker there is always a batch, even when all were lost. Padding changes
    # nothing: the results share a shape, or there is one, next to the marker's empty one.
    results = results.ignore_errors().concatenate(tf.data.Dataset.from_tensors(end))

    def account(kept_indices, results, labels):
        kept = tf.size(kept_indices) - 1  # without the end marker
        lost = ~tf.reduce_any(indices[:, None] == kept_indices[None, :kept], axis=1)
        with tf.control_dependencies([handle_lost(tf.boolean_mask(names, lost))]):
            return results[:kept], tf.nest.map_structure(lambda label: label[:kept], labels)

    batch = results.padded_batch(size + 1).map(account)
    return batch.filter(lambda results, labels: tf.shape(results)[0] > 0)


def _call(fn, image, seed, label, relabel):
    return fn(image, seed, label) if relabel else (fn(image, seed), label)


def _bad_file_handler(source, strict):
    """names -> an op that records them in ``source.bad_files`` or, in strict mode, fails
    naming the first."""

    def report(names):
        for name in names.numpy():
            source.bad_files.record(name.decode())
        return False

    def handle(names):
        if strict:
            message = tf.strings.join([STRICT_MESSAGE, tf.strings.reduce_join(names[:1])])
            return tf.debugging.Assert(tf.size(names) == 0, [message])
        return tf.py_function(report, [names], tf.bool)

    return handle


def _cores():
    return usable_cpus()  # the affinity mask, capped by a container's CPU quota


def _zeros(spec):
    return tf.zeros([size or 0 for size in spec.shape], spec.dtype)


def _check_scale(scale, crop, what):
    sizes = [scale] if isinstance(scale, int) else list(scale)
    ok = len(sizes) in (1, 2) and all(isinstance(s, int) and s >= crop for s in sizes)
    if not ok or (len(sizes) == 2 and sizes[0] > sizes[1]):
        raise ValueError(
            f"{what} must be an int >= crop ({crop}) or a pair (S_min, S_max) with "
            f"crop <= S_min <= S_max. Received: {what}={scale!r}"
        )
