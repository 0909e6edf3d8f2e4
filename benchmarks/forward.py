"""Inference speed of kvgg's VGG16 against keras.applications.VGG16, interleaved in one run.

    python benchmarks/forward.py [--batch 8] [--size 224] [--rounds 7]

Both models are built with random weights on the current Keras backend and run through
their compiled predict step on the same batch. kvgg's model includes its mean-subtraction
layer; the peer's preprocessing is done outside the model, as its users do. Prints the
median images/s of each and the ratio kvgg / peer (>= 1 means kvgg is at least as fast).
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


def images_per_second(model, images, preprocess=None):
    start = time.perf_counter()
    batch = preprocess(images.copy()) if preprocess else images
    model.predict_on_batch(batch)
    return len(images) / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    shape = (args.size, args.size, 3)
    ours = kvgg.build("D", input_shape=shape)
    peer = keras.applications.VGG16(weights=None, input_shape=shape)
    peer_preprocess = keras.applications.vgg16.preprocess_input
    images = np.random.default_rng(0).uniform(0, 255, (args.batch, *shape)).astype("float32")
    for _ in range(2):  # warm-up: compile both predict steps
        images_per_second(ours, images)
        images_per_second(peer, images, peer_preprocess)

    ours_runs, peer_runs = [], []
    for round_index in range(args.rounds):
        # ABBA order: neither model always runs first (caches, clocks, allocator state).
        order = [0, 1] if round_index % 2 == 0 else [1, 0]
        for which in order:
            if which == 0:
                ours_runs.append(images_per_second(ours, images))
            else:
                peer_runs.append(images_per_second(peer, images, peer_preprocess))
    ours_ips, peer_ips = statistics.median(ours_runs), statistics.median(peer_runs)
    print(
        f"backend: {keras.backend.backend()}, batch {args.batch}, {args.size}x{args.size}, "
        f"{args.rounds} interleaved rounds in ABBA order (medians)"
    )
    print(f"kvgg.build('D')                   {ours_ips:8.2f} images/s")
    print(f"keras.applications.VGG16          {peer_ips:8.2f} images/s")
    print(f"ratio kvgg / keras.applications:  {ours_ips / peer_ips:.3f}")


if __name__ == "__main__":
    main()
