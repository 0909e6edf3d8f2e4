"""Box-aware augmentation (paper Appendix A) and the localisation training dataset.

The transforms are pure TensorFlow functions like `kvgg.data.transforms` (eager or inside
``Dataset.map``) on an image and its boxes, (K, 4) pixel corners ``(xmin, ymin, xmax,
ymax)``; all-zero rows are padding and stay empty. The box moves with the image:

- **rescale** (isotropic, smallest side S): corners scale with the image;
- **crop**: corners shift by the window's corner and are clipped to it. *A box cropped
  away* (nothing of it left inside the window) becomes empty; `box_target` then picks
  the largest box still visible, and a crop that shows no box of the class gets sample
  weight 0 (it trains nothing, rather than teaching a made-up box);
- **flip**: ``x -> width - x`` (xmin and xmax swap roles).

Images are decoded by the classification pipelines' guarded decode
(`kvgg.data.pipeline.decoded_images`): an undecodable one is skipped, counted in
``source.bad_files`` and logged by path, never a crash.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kvgg.data import pipeline, transforms
from kvgg.data.pipeline import decoded_images
from kvgg.data.sources import file_items
from kvgg.localize.annotations import BoxSource

__all__ = [
    "box_augmentation",
    "box_eval_dataset",
    "box_images",
    "box_target",
    "box_train_dataset",
    "centre_view",
    "crop_with_boxes",
    "flat_batches",
    "flip_with_boxes",
    "random_crop_with_boxes",
    "random_flip_with_boxes",
    "require_decodable",
    "rescale_with_boxes",
]


def rescale_with_boxes(image, boxes, size):
    """Isotropic rescale to smallest side ``size``; the boxes scale with the image.

    Args:
        image: (H, W, 3) image.
        boxes: (K, 4) pixel corners.
        size: the new smallest side S.

    Returns:
        (float32 rescaled image, float32 boxes).

    Example:
        >>> image, boxes = rescale_with_boxes(tf.zeros([100, 200, 3]), [[10., 20, 50, 60]], 50)
        >>> boxes.numpy().tolist()
        [[5.0, 10.0, 25.0, 30.0]]
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    old = tf.cast(tf.shape(image)[:2], tf.float32)
    resized = transforms.rescale(image, size)
    factor = tf.cast(tf.shape(resized)[:2], tf.float32) / old  # (y, x), rounded sizes
    return resized, boxes * tf.stack([factor[1], factor[0], factor[1], factor[0]])


def crop_with_boxes(image, boxes, top, left, size: int):
    """The ``size`` x ``size`` window at (top, left); boxes shifted and clipped to it.

    Example:
        >>> _, boxes = crop_with_boxes(tf.zeros([64, 64, 3]), [[0., 0, 40, 40]], 16, 8, 32)
        >>> boxes.numpy().tolist()
        [[0.0, 0.0, 32.0, 24.0]]
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    top, left = tf.cast(top, tf.int32), tf.cast(left, tf.int32)
    crop = tf.cast(image[top : top + size, left : left + size], tf.float32)
    crop = tf.ensure_shape(crop, [size, size, 3])
    shift = tf.cast(tf.stack([left, top, left, top]), tf.float32)
    moved = tf.clip_by_value(boxes - shift, 0.0, float(size))
    visible = (moved[:, 2] > moved[:, 0]) & (moved[:, 3] > moved[:, 1])
    return crop, tf.where(visible[:, None], moved, tf.zeros_like(moved))


def random_crop_with_boxes(image, boxes, size: int, seed=None):
    """A uniformly placed ``size`` x ``size`` window (as `kvgg.data.transforms.random_crop`)
    with its boxes.

    Example:
        >>> crop, boxes = random_crop_with_boxes(tf.zeros([64, 96, 3]), [[10., 10, 50, 50]], 32,
        ...                                      seed=[1, 2])
        >>> crop.shape, boxes.numpy().tolist()
        (TensorShape([32, 32, 3]), [[0.0, 0.0, 32.0, 23.0]])
    """
    shape = tf.shape(image)
    draws = _uniform([2], seed)
    limits = tf.cast(shape[:2] - size + 1, tf.float32)
    corner = tf.cast(tf.minimum(tf.floor(draws * limits), limits - 1.0), tf.int32)
    return crop_with_boxes(image, boxes, corner[0], corner[1], size)


def flip_with_boxes(image, boxes):
    """Mirror the image left-right and its boxes with it.

    Example:
        >>> _, boxes = flip_with_boxes(tf.zeros([10, 100, 3]), [[10., 0, 30, 5]])
        >>> boxes.numpy().tolist()
        [[70.0, 0.0, 90.0, 5.0]]
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    width = tf.cast(tf.shape(image)[1], tf.float32)
    mirrored = tf.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], 1)
    empty = tf.reduce_all(tf.equal(boxes, 0.0), axis=1, keepdims=True)
    return tf.reverse(image, axis=[1]), tf.where(empty, boxes, mirrored)


def random_flip_with_boxes(image, boxes, seed=None):
    """`flip_with_boxes` with probability 1/2.

    Example:
        >>> image, boxes = random_flip_with_boxes(tf.zeros([64, 96, 3]), [[10., 10, 50, 50]],
        ...                                       seed=[0, 7])
        >>> boxes.numpy().tolist()  # not flipped with this seed
        [[10.0, 10.0, 50.0, 50.0]]
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    image = tf.cast(image, tf.float32)
    return tf.cond(
        _uniform([], seed) < 0.5,
        lambda: flip_with_boxes(image, boxes),
        lambda: (tf.identity(image), tf.identity(boxes)),
    )


def box_target(boxes, label, size):
    """The training target of a crop: ((cx, cy, w, h, label), weight).

    The largest visible box (pixel corners in a ``size`` x ``size`` crop) in the
    normalised frame of `kvgg.localize.boxes`, then the class index; weight 0 when every
    box was cropped away (see the module docstring), else 1.

    Example:
        >>> target, weight = box_target([[0., 0, 16, 32], [0, 0, 0, 0]], 3, 32)
        >>> target.numpy().tolist(), float(weight)
        ([0.25, 0.5, 0.5, 1.0, 3.0], 1.0)
    """
    boxes = tf.convert_to_tensor(boxes, tf.float32)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    best = tf.gather(boxes, tf.argmax(area)) / float(size)
    frame = tf.stack(
        [(best[0] + best[2]) / 2, (best[1] + best[3]) / 2, best[2] - best[0], best[3] - best[1]]
    )
    target = tf.concat([frame, tf.cast(tf.reshape(label, [1]), tf.float32)], 0)
    return target, tf.cast(tf.reduce_max(area) > 0, tf.float32)


def box_augmentation(*, scale: int, crop: int, flip: bool = True, color_stats=None):
    """The paper's localisation training augmentation (Appendix A) of one image, as a
    ``transform(image, (label, boxes), seed) -> (image, (target, weight))`` for
    `kvgg.data.pipeline.train_dataset`.

    Rescale to S, a random ``crop`` x ``crop`` window, a random flip, each applied to the
    image and its boxes, then (with ``color_stats``) AlexNet's colour shift, which leaves
    the boxes alone; the target is `box_target`'s. The crop and flip come from the image's
    stateless seed, the colour shift from its own, so crops and flips are as without it.

    Example:
        >>> augment = box_augmentation(scale=40, crop=32)
        >>> image, (target, weight) = augment(tf.zeros([48, 64, 3], tf.uint8),
        ...                                   (1, [[8.0, 8.0, 40.0, 40.0]]), [0, 3])
        >>> tuple(image.shape), tuple(target.shape), float(weight)
        ((32, 32, 3), (5,), 1.0)
    """
    _check_scale(scale, crop)

    def augment(image, label_and_boxes, element_seed):
        label, boxes = label_and_boxes
        crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(element_seed, 2))
        image, boxes = rescale_with_boxes(image, boxes, scale)
        image, boxes = random_crop_with_boxes(image, boxes, crop, crop_seed)
        if flip:
            image, boxes = random_flip_with_boxes(image, boxes, flip_seed)
        if color_stats is not None:
            color_seed = tf.random.experimental.stateless_fold_in(element_seed, 1)
            image = transforms.color_shift(image, color_stats, seed=color_seed)
        return image, box_target(boxes, label, crop)

    return augment


def centre_view(*, scale: int, crop: int):
    """Protocol 1's view of one image (Table 8): rescale to Q = ``scale``, the centre
    crop, its `box_target`; a ``transform`` for `kvgg.data.pipeline.eval_dataset`.

    Example:
        >>> view = centre_view(scale=32, crop=32)
        >>> image, (target, weight) = view(tf.zeros([32, 64, 3], tf.uint8),
        ...                                (0, [[16.0, 0.0, 48.0, 32.0]]), None)
        >>> target.numpy().tolist()
        [0.5, 0.5, 1.0, 1.0, 0.0]
    """
    _check_scale(scale, crop)

    def centre(image, label_and_boxes, _):
        label, boxes = label_and_boxes
        image, boxes = rescale_with_boxes(image, boxes, scale)
        shape = tf.shape(image)
        image, boxes = crop_with_boxes(
            image, boxes, (shape[0] - crop) // 2, (shape[1] - crop) // 2, crop
        )
        return image, box_target(boxes, label, crop)

    return centre


def box_train_dataset(
    source,
    *,
    batch_size: int,
    scale: int = 256,
    crop: int = 224,
    flip: bool = True,
    color_stats=None,
    shuffle: bool = True,
    seed: int | None = None,
    repeat: bool = False,
    cache=False,
    shard: tuple[int, int] | None = None,
) -> tf.data.Dataset:
    """Batches of the paper's localisation training augmentation (`box_augmentation`).

    `kvgg.data.pipeline.train_dataset` with the box-aware transform: the same order,
    cache, shards and guarded decode as classification's. Undecodable images are skipped,
    counted in ``source.bad_files`` and logged by path. Each image's crop and flip come
    from stateless seeds split from (a draw of ``Dataset.random(seed)``, its position in
    the epoch), fixed before decoding: a bad image changes nothing about the others' crops.

    Args:
        source: a `kvgg.localize.annotations.BoxSource`.
        batch_size: images per batch.
        scale: the training scale S (>= crop).
        crop: side of the square crops.
        flip: random horizontal flips.
        color_stats: a `kvgg.data.stats.ColorStats` (e.g. ``IMAGENET_STATS``) to enable
            the colour shift (`kvgg.data.transforms.color_shift`), or None.
        shuffle: shuffle every epoch.
        seed: makes the order and the augmentation reproducible.
        repeat: repeat forever.
        cache: as `kvgg.data.pipeline.train_dataset`'s.
        shard: as `kvgg.data.pipeline.train_dataset`'s.

    Returns:
        A dataset of (float32 (B, crop, crop, 3) images, float32 (B, 5) targets, float32
        (B,) sample weights), ready for ``model.fit`` with `BoxLoss`.

    Example:
        >>> import tempfile
        >>> from kvgg.localize.annotations import box_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> source = box_folder(*pasted_objects(tempfile.mkdtemp(), per_class=2))  # 6 images
        >>> images, targets, weights = next(iter(box_train_dataset(source, batch_size=4, scale=40,
        ...                                                        crop=32, seed=0)))
        >>> tuple(images.shape), tuple(targets.shape), tuple(weights.shape)
        ((4, 32, 32, 3), (4, 5), (4,))
    """
    augment = box_augmentation(scale=scale, crop=crop, flip=flip, color_stats=color_stats)
    batches = pipeline.train_dataset(
        source,
        batch_size=batch_size,
        scale=scale,
        crop=crop,
        shuffle=shuffle,
        seed=seed,
        cache=cache,
        repeat=repeat,
        shard=shard,
        transform=augment,
    )
    return flat_batches(batches)


def box_eval_dataset(source, *, batch_size: int, scale: int = 256, crop: int = 224):
    """Validation batches: rescale to Q = ``scale``, the centre crop, its target
    (`centre_view`, through `kvgg.data.pipeline.eval_dataset`).

    The centre crop and the ground-truth class are protocol 1 of the paper (Table 8);
    `kvgg.localize.BoxAccuracy` on these batches is 1 - that error, measured against the
    box clipped to the crop. Undecodable images are skipped, counted in
    ``source.bad_files`` and logged by path.

    Returns:
        A dataset of (images, (B, 5) targets, (B,) weights), in source order.

    Example:
        >>> import tempfile
        >>> from kvgg.localize.annotations import box_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> source = box_folder(*pasted_objects(tempfile.mkdtemp(), per_class=2))  # 6 images
        >>> data = box_eval_dataset(source, batch_size=4, scale=32, crop=32)
        >>> [tuple(images.shape) for images, targets, weights in data]
        [(4, 32, 32, 3), (2, 32, 32, 3)]
    """
    view = centre_view(scale=scale, crop=crop)
    batches = pipeline.eval_dataset(
        source, batch_size=batch_size, scale=scale, crop=crop, transform=view
    )
    return flat_batches(batches)


def box_images(source) -> tuple[list[np.ndarray], BoxSource]:
    """Every decodable image of ``source`` as a uint8 (H, W, 3) array, and the source of
    just those images (for whole-image evaluation).

    Undecodable images are left out, counted in ``source.bad_files`` and logged by path,
    by the same rule as the training batches.

    Raises:
        ValueError: when no image decodes, naming a few.

    Example:
        >>> import tempfile
        >>> from kvgg.localize.annotations import box_folder
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, annotations = pasted_objects(tempfile.mkdtemp(), per_class=2)  # 6 images
        >>> _ = (images / "red" / "red_0000.jpg").write_bytes(b"")  # an empty file
        >>> pixels, good = box_images(box_folder(images, annotations))
        >>> len(pixels), len(good), pixels[0].shape, good.bad_files.count
        (5, 5, (48, 64, 3), 1)
    """
    numbered = file_items(source.paths, tf.range(len(source), dtype=tf.int64), read=False)
    pixels, kept = [], []
    for image, index in decoded_images(numbered, source).as_numpy_iterator():
        pixels.append(image)
        kept.append(int(index))
    if not kept:
        raise ValueError(pipeline.no_image_decodes(source))
    return pixels, source.subset(kept)


def require_decodable(source) -> None:
    """`kvgg.data.pipeline.require_decodable` for a `BoxSource`: a ValueError naming a few
    files when none of its images decodes."""
    pipeline.require_decodable(source)


def flat_batches(batches):
    """(images, (targets, weights)) batches -> (images, targets, weights): the form
    ``model.fit`` takes sample weights in (crops without a box weigh 0)."""
    return batches.map(lambda images, labels: (images, *labels))


def _check_scale(scale, crop):
    if not isinstance(scale, int) or scale < crop:
        raise ValueError(f"scale must be an int >= crop ({crop}). Received: scale={scale!r}")


def _uniform(shape, seed):
    if seed is None:
        return tf.random.uniform(shape)
    return tf.random.stateless_uniform(shape, seed)
