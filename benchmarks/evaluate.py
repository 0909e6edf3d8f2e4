"""Dense vs 150-crop multi-crop evaluation on the same model and images, in one run.

    python benchmarks/evaluate.py [--config D] [--width 0.25] [--images 6] [--rounds 3]

Part 1, speed: a VGG of full 224x224 geometry (random weights; ``--width`` scales every
layer to keep a CPU run short) scores the same images, of random sizes, by dense
evaluation (Q in {256, 384, 512}, each image with its mirror) and by multi-crop
evaluation (a 5x5 grid of crops per scale, each mirrored: 150 crops). The images are
rescaled to each Q beforehand, so both timings are of the network work alone. Rounds
alternate the two methods; the median images/s of each and the ratio dense / multi-crop
are printed.

Part 2, retracing: 100 images of random sizes (smallest side 256..512, aspect 1..2, either
orientation) go through dense evaluation at Q = 256, 384, 512; prints how many times the
net was traced (compiled), per 100 images, for the backend's default shape bucket and
for 32-pixel buckets, and how far the bucketed (padded) posteriors are from the exact
ones on this random-weight net.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kvgg  # noqa: E402
from kvgg.evaluate import DenseScorer, MultiCropScorer  # noqa: E402
from kvgg.evaluate.predict import rescaled  # noqa: E402

SCALES = (256, 384, 512)


def random_images(count, rng, low=256, high=512):
    """uint8 images with smallest side in [low, high] and aspect ratio in [1, 2]."""
    images = []
    for _ in range(count):
        short = int(rng.integers(low, high + 1))
        long = int(short * rng.uniform(1.0, 2.0))
        shape = (short, long, 3) if rng.random() < 0.5 else (long, short, 3)
        images.append(rng.integers(0, 256, shape, dtype=np.uint8))
    return images


def images_per_second(scorer, views):
    start = time.perf_counter()
    for view in views:
        scorer(view)
    return len(views) / (time.perf_counter() - start)


def speed(args, rng):
    model = kvgg.build(args.config, width=args.width)
    views = [{q: rescaled(image, q) for q in SCALES} for image in random_images(args.images, rng)]
    dense = DenseScorer(model, scales=SCALES)
    crops = MultiCropScorer(model, scales=SCALES)
    dense(views[0]), crops(views[0])  # warm-up: compile both
    runs = {"dense": [], "multicrop": []}
    for round_ in range(args.rounds):
        order = [("dense", dense), ("multicrop", crops)]
        for name, scorer in order if round_ % 2 == 0 else order[::-1]:
            runs[name].append(images_per_second(scorer, views))
    dense_speed = statistics.median(runs["dense"])
    crops_speed = statistics.median(runs["multicrop"])
    print(
        f"{model.name} width {args.width}, {args.images} images of random sizes, "
        f"Q = {SCALES}, {args.rounds} rounds, backend {keras.backend.backend()}"
    )
    print(f"  dense (3 scales x 2 flips):     {dense_speed:8.2f} images/s")
    print(f"  multi-crop (150 crops):         {crops_speed:8.2f} images/s")
    print(f"  ratio dense / multi-crop:       {dense_speed / crops_speed:8.1f}x")


def retracing(rng):
    model = kvgg.build("D", width=1 / 16)
    views = [{q: rescaled(image, q) for q in SCALES} for image in random_images(100, rng)]
    results = {}
    for label, bucket in (("default", "auto"), ("32-pixel buckets", 32), ("exact sizes", None)):
        scorer = DenseScorer(model, scales=SCALES, bucket=bucket)
        results[label] = np.stack([scorer(view) for view in views])
        print(f"  {label:<18} {scorer.forward.traces:4d} traces per 100 images")
    difference = np.abs(results["32-pixel buckets"] - results["exact sizes"])
    agree = np.mean(results["32-pixel buckets"].argmax(1) == results["exact sizes"].argmax(1))
    print(
        f"  32-pixel buckets vs exact: max |posterior difference| {difference.max():.2e}, "
        f"mean {difference.mean():.2e}, same top-1 class for {100 * agree:.0f}% of images"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="D")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    speed(args, rng)
    print(f"retracing, dense at Q = {SCALES}, backend {keras.backend.backend()}:")
    retracing(rng)


if __name__ == "__main__":
    main()
