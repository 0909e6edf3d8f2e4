"""Localisation speed (paper Appendix A): the dense box net vs the dense classifier, and
greedy merging, in one run.

    OMP_NUM_THREADS=1 python benchmarks/localize.py [--width 0.25] [--rounds 7]

Part 1: a VGG16 of full 224x224 geometry and 1000 classes (random weights; ``--width``
scales every layer to keep a CPU run short) and its per-class localisation net (the last
layer 4 x 1000 boxes) run fully-convolutionally on the same image rescaled to Q = 384
(384 x 512). Rounds alternate in ABBA order; the median seconds of each and the ratio
localisation / classification are printed (target: at most 1.1x, the box layer being one
more 1x1 convolution).

Part 2: OverFeat greedy merging (`kvgg.localize.greedy_merge`, compiled with numba) of
5,000 boxes: the top-5 classes x 1,000 boxes each (boxes around a few objects, as dense
localisation over several scales and nets produces), merged per class as protocol 2
does; median milliseconds on one core (target: under 50 ms), after one warm-up call
(numba compiles on first use and caches the code). Then kvgg's merging against a plain
sequential Python implementation of the greedy procedure on 300 boxes (the baseline a
first implementation would be), interleaved, with the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

Q = 384


def dense_ratio(args):
    import kvgg
    from kvgg.evaluate.forward import Forward
    from kvgg.localize import build_localizer
    from kvgg.localize.protocols import rescaled

    classifier = kvgg.build("D", width=args.width, fc_units=round(4096 * args.width))
    localizer = build_localizer(classifier, regression="pcr", seed=0)
    nets = {
        "classification": Forward(kvgg.fully_convolutional(classifier, logits=True), bucket=None),
        "localisation": Forward(kvgg.fully_convolutional(localizer), bucket=None),
    }
    rng = np.random.default_rng(0)
    view = rescaled(rng.integers(0, 256, (375, 500, 3), dtype=np.uint8), Q)[None]
    for forward in nets.values():
        forward(view)  # compile / warm up
    times = {name: [] for name in nets}
    for round_ in range(args.rounds):
        order = list(nets) if round_ % 2 == 0 else list(nets)[::-1]  # ABBA
        for name in order:
            start = time.perf_counter()
            forward = nets[name]
            shape = forward(view).shape
            times[name].append(time.perf_counter() - start)
            times.setdefault(f"{name} map", shape)
    cls, loc = (statistics.median(times[n]) for n in nets)
    print(f"Dense at Q={Q} ({view.shape[1]}x{view.shape[2]}), width {args.width}:")
    print(f"  classification  {cls * 1e3:8.1f} ms  map {times['classification map']}")
    print(f"  localisation    {loc * 1e3:8.1f} ms  map {times['localisation map']}")
    print(f"  ratio localisation / classification: {loc / cls:.3f}x (target <= 1.1x)")


def clustered_boxes(count, rng, objects=4):
    """Normalised corner boxes scattered around a few objects, and window scores."""
    centres = rng.uniform(0.25, 0.75, (objects, 2))
    sizes = rng.uniform(0.2, 0.5, (objects, 2))
    which = rng.integers(0, objects, count)
    centre = centres[which] + rng.normal(0, 0.03, (count, 2))
    size = sizes[which] * rng.uniform(0.85, 1.15, (count, 2))
    corners = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    return corners, rng.uniform(0, 1, count)


def sequential_greedy(corners, scores, threshold):
    """The greedy procedure as written, pair by pair in Python (the baseline)."""
    boxes = [list(map(float, box)) for box in corners]
    rating = list(map(float, scores))

    def match(a, b):
        dx = (a[0] + a[2] - b[0] - b[2]) / 2
        dy = (a[1] + a[3] - b[1] - b[3]) / 2
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        return (dx * dx + dy * dy) ** 0.5 + w * h

    while len(boxes) > 1:
        best, pair = None, None
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                score = match(boxes[i], boxes[j])
                if best is None or score < best:
                    best, pair = score, (i, j)
        if best > threshold:
            break
        i, j = pair
        boxes[i] = [(u + v) / 2 for u, v in zip(boxes[i], boxes[j], strict=True)]
        rating[i] += rating[j]
        del boxes[j], rating[j]
    return boxes, rating


def merging(args):
    from kvgg.localize.boxes import DEFAULT_MERGE_THRESHOLD, greedy_merge

    rng = np.random.default_rng(1)
    threshold = DEFAULT_MERGE_THRESHOLD
    classes = [clustered_boxes(1000, rng) for _ in range(5)]
    start = time.perf_counter()
    greedy_merge(*classes[0], threshold=threshold)
    print(f"First call (numba compiles, or loads its cache): {time.perf_counter() - start:.1f} s")
    times, kept = [], 0
    for _ in range(args.rounds):
        start = time.perf_counter()
        kept = sum(len(greedy_merge(c, s, threshold=threshold)[0]) for c, s in classes)
        times.append(time.perf_counter() - start)
    print(f"Greedy merging of 5,000 boxes (5 classes x 1,000, threshold {threshold}):")
    print(f"  {statistics.median(times) * 1e3:.1f} ms median -> {kept} boxes (target < 50 ms)")

    corners, scores = clustered_boxes(300, rng)
    fast, slow = [], []
    for round_ in range(3):
        for name in ("kvgg", "sequential") if round_ % 2 == 0 else ("sequential", "kvgg"):
            start = time.perf_counter()
            if name == "kvgg":
                merged = greedy_merge(corners, scores, threshold=threshold)
                fast.append(time.perf_counter() - start)
            else:
                reference = sequential_greedy(corners, scores, threshold)
                slow.append(time.perf_counter() - start)
    fast, slow = statistics.median(fast), statistics.median(slow)
    print(
        f"  300 boxes: kvgg {fast * 1e3:.1f} ms, sequential Python {slow * 1e3:.0f} ms: "
        f"{slow / fast:.0f}x faster; boxes left {len(merged[0])} vs {len(reference[0])}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--skip-dense", action="store_true", help="Only the merging part.")
    args = parser.parse_args()
    merging(args)
    if not args.skip_dense:
        dense_ratio(args)


if __name__ == "__main__":
    main()
