"""Training input pipeline speed: kvgg's fused decode-crop path vs the naive tf.data one.

Both pipelines do the paper's training transform (decode, isotropic rescale with S drawn
from [256, 512], random 224 crop, random flip, PCA colour shift) on the same ImageNet-like
JPEGs (about 500x375, quality 90, cut from scikit-learn's sample photographs). The naive
pipeline decodes the whole image, resizes the whole image, then crops; kvgg's
``train_dataset`` decodes and resizes only the crop's window. tf.data runs on a private
thread pool of ``--threads`` threads (default 1); throughput is images per CPU-second of
the process (images/s per core), which other jobs on a shared machine barely disturb.
Rounds are interleaved and the medians compared. Both resample with plain bilinear
(half-pixel centres, no antialiasing: ``tf.image.resize``'s default), and both output
float32 224x224 crops in [0, 255] with the same S distribution; kvgg's also runs its
bad-file guard (every undecodable file counted and named), which the naive one lacks.

Run: python benchmarks/pipeline.py [--images 200] [--rounds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from PIL import Image  # noqa: E402
from sklearn.datasets import load_sample_images  # noqa: E402

from kvgg.data import IMAGENET_STATS, image_folder, train_dataset, transforms  # noqa: E402

SCALE = (256, 512)
CROP = 224
BATCH = 32


def make_jpegs(root: Path, count: int, seed: int = 0) -> Path:
    """``count`` 500x375 / 375x500 quality-90 JPEGs cut from the sample photographs."""
    photos = load_sample_images().images  # two 427x640 RGB photographs
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = photos[i % len(photos)]
        top = rng.integers(0, photo.shape[0] - 400)
        left = rng.integers(0, photo.shape[1] - 533)
        image = Image.fromarray(photo[top : top + 400, left : left + 533]).resize((500, 375))
        if i % 4 == 3:
            image = image.transpose(Image.Transpose.ROTATE_90)  # some portrait images
        folder = root / f"class{i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        image.save(folder / f"{i:05d}.jpg", quality=90)
    return root


def naive_dataset(source, seed):
    """The textbook pipeline: decode -> resize the whole image -> crop, flip, colour shift."""
    seeds = tf.data.Dataset.random(seed=seed).batch(2, drop_remainder=True)
    files = tf.data.Dataset.from_tensor_slices((source.paths, source.labels))
    items = tf.data.Dataset.zip(files, seeds)

    def transform(item, element_seed):
        path, label = item
        crop_seed, flip_seed, color_seed = tf.unstack(
            tf.random.experimental.stateless_split(element_seed, 3)
        )
        scale_seed, window_seed = tf.unstack(tf.random.experimental.stateless_split(crop_seed, 2))
        image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
        height, width = tf.unstack(tf.cast(tf.shape(image)[:2], tf.float32))
        factor = tf.cast(transforms.draw_scale(SCALE, scale_seed), tf.float32) / tf.minimum(
            height, width
        )
        size = tf.cast(tf.round(tf.stack([height, width]) * factor), tf.int32)
        image = tf.image.resize(image, size)  # bilinear, the tf.image default
        image = tf.image.stateless_random_crop(image, [CROP, CROP, 3], window_seed)
        image = transforms.random_flip(image, flip_seed)
        return transforms.color_shift(image, IMAGENET_STATS, seed=color_seed), label

    items = items.map(transform, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
    return items.batch(BATCH).prefetch(tf.data.AUTOTUNE)


def kvgg_dataset(source, seed):
    return train_dataset(
        source, batch_size=BATCH, scale=SCALE, crop=CROP, color_stats=IMAGENET_STATS, seed=seed
    )


def images_per_second(dataset, threads) -> float:
    options = tf.data.Options()
    options.threading.private_threadpool_size = threads
    options.threading.max_intra_op_parallelism = 1
    dataset = dataset.with_options(options)
    start = time.process_time()  # CPU seconds of all threads: robust on a shared machine
    count = sum(int(images.shape[0]) for images, _ in dataset)
    return count / (time.process_time() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = image_folder(make_jpegs(Path(tmp), args.images))
        for make in (naive_dataset, kvgg_dataset):  # warm up: tracing, file cache
            images_per_second(make(source, 0), args.threads)
        rates = {"naive": [], "kvgg": []}
        for round_ in range(args.rounds):
            rates["naive"].append(images_per_second(naive_dataset(source, round_), args.threads))
            rates["kvgg"].append(images_per_second(kvgg_dataset(source, round_), args.threads))
    naive, fused = (statistics.median(rates[k]) for k in ("naive", "kvgg"))
    ratios = [k / n for k, n in zip(rates["kvgg"], rates["naive"], strict=True)]
    per = f"images per CPU-second ({args.threads} tf.data thread{'s' * (args.threads > 1)})"
    print(f"{args.images} JPEGs ~500x375 q90, S in {list(SCALE)}, crop {CROP}, flip, colour")
    print("both: plain bilinear resampling (no antialiasing), float32 [0, 255] out")
    for label, key in (
        ("naive (decode -> resize all -> crop)", "naive"),
        ("kvgg train_dataset (fused crop)", "kvgg"),
    ):
        low, high = min(rates[key]), max(rates[key])
        print(
            f"{label:36s}: {statistics.median(rates[key]):7.1f} {per}, rounds {low:.0f}-{high:.0f}"
        )
    print(
        f"ratio kvgg / naive: {fused / naive:.2f}x (median of {args.rounds} interleaved rounds; "
        f"per-round ratios {min(ratios):.2f}-{max(ratios):.2f})"
    )


if __name__ == "__main__":
    main()
