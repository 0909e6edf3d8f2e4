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

Part 3: the typical count. How many boxes protocol 2 merges per class for configuration
D at the paper's scales on a 500x375 image (S=256 net at Q=256 and S=384 net at
Q={352, 384}, fused; doubled if flipped images were localised too), and the merging of 5
classes at that count: kvgg (NumPy below `NUMPY_MERGE_LIMIT` boxes) against the numba
path and the sequential Python baseline, interleaved ABBA, medians.

Part 4: the first call. `kvgg localize` of one 500x375 photo with those nets (VGG16 of
``--width``, 10 classes) in a fresh process, first with empty numba and matplotlib caches
(a fresh install) and warm (on caches an earlier first call filled), in ABBA order,
medians, beside `python -c "import keras"`
(the floor: every `kvgg` command that runs a net imports Keras and TensorFlow); and where
a warm call's time goes: the steps of `kvgg localize` timed one by one in a fresh process
(starting Python, the imports, loading the nets, making them fully convolutional, reading
the photo, the first image split into forward passes, tracing and merging, the picture),
medians, with their sum beside the warm call.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

_LOADED = time.perf_counter()  # the breakdown's "starting Python" ends here
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

_NUMPY = time.perf_counter()

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
    print(f"First 1,000-box merge (numba compiles, or loads its cache): "
          f"{time.perf_counter() - start:.1f} s")  # fmt: skip
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


PAPER_NETS = ((256,), (352, 384))  # the fusion of Table 9: S=256 at Q=256, S=384 at Q={352,384}


def boxes_per_class(height=375, width=500, nets=PAPER_NETS, crop=224):
    """Windows of dense D (one box per class each) over the fused nets' scales."""
    from kvgg.evaluate.common import view_pixels
    from kvgg.models.configs import STRIDE

    window = crop // STRIDE
    total = 0
    for scales in nets:
        for q in scales:
            rows, cols = (side // STRIDE - window + 1 for side in view_pixels(height, width, q))
            total += rows * cols
    return total


def typical_merging(args):
    from kvgg.localize.boxes import DEFAULT_MERGE_THRESHOLD, greedy_merge
    from kvgg.localize.merging import merge_in_place

    count = boxes_per_class()
    print(f"Protocol 2 per class on a 500x375 image, D at S=256/Q=256 + S=384/Q=352,384: "
          f"{count} boxes ({2 * count} if flipped images were localised too)")  # fmt: skip
    rng = np.random.default_rng(2)
    threshold = DEFAULT_MERGE_THRESHOLD
    for n in (count, 2 * count):
        classes = [clustered_boxes(n, rng) for _ in range(5)]

        def kvgg_path(classes=classes):
            for corners, scores in classes:
                greedy_merge(corners, scores, threshold=threshold)

        def numba_path(classes=classes):
            for corners, scores in classes:
                merge_in_place(corners.copy(), scores.copy(), threshold)

        def sequential(classes=classes):
            for corners, scores in classes:
                sequential_greedy(corners, scores, threshold)

        runs = {"kvgg": kvgg_path, "numba": numba_path, "sequential": sequential}
        numba_path()  # compile or load the cache first
        times = {name: [] for name in runs}
        for round_ in range(args.rounds):
            for name in list(runs) if round_ % 2 == 0 else list(runs)[::-1]:
                start = time.perf_counter()
                runs[name]()
                times[name].append(time.perf_counter() - start)
        kvgg_, numba_, plain = (statistics.median(times[name]) for name in runs)
        print(f"  5 classes x {n} boxes: kvgg {kvgg_ * 1e3:.1f} ms, numba path "
              f"{numba_ * 1e3:.1f} ms, sequential Python {plain * 1e3:.0f} ms "
              f"({plain / kvgg_:.0f}x)")  # fmt: skip


def _nets(folder, width):
    import kvgg
    from kvgg.io import save_model
    from kvgg.localize import build_localizer

    names = [f"class{i}" for i in range(10)]
    classifier = kvgg.build("D", width=width, fc_units=round(4096 * width), num_classes=10)
    save_model(classifier, folder / "cls.keras", class_names=names, info={"scale": 256})
    for scale in (256, 384):
        net = build_localizer(classifier, regression="pcr", seed=scale)
        save_model(net, folder / f"loc{scale}.keras", class_names=names, info={"scale": scale})
    photo = folder / "photo.jpg"
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 256, (375, 500, 3), "uint8")).save(photo)
    return photo


def first_call(args):
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    folder = Path(tempfile.mkdtemp())
    photo = _nets(folder, args.width)
    command = [
        sys.executable, "-m", "kvgg", "localize", "--model", folder / "loc256.keras",
        "--model", folder / "loc384.keras", "--scales", "256", "--scales", "352,384",
        "--classifier", folder / "cls.keras", photo, "--pictures", folder,
    ]  # fmt: skip

    def caches(folder):  # empty: a fresh install, no numba or matplotlib cache yet
        return os.environ | {"NUMBA_CACHE_DIR": str(folder / "numba"),
                             "MPLCONFIGDIR": str(folder / "mpl")}  # fmt: skip

    def timed(name, argv, env):  # wall seconds, and the CPU seconds of the process (load-proof)
        start, used = time.perf_counter(), _children_cpu()
        subprocess.run(list(map(str, argv)), env=env, check=True, capture_output=True)
        cpu[name].append(_children_cpu() - used)
        times[name].append(time.perf_counter() - start)

    times, phases, filled = {"first": [], "warm": [], "import": []}, [], None
    cpu = {name: [] for name in times}
    for round_ in range(max(3, args.rounds // 2)):  # three at least: one slow run sets no median
        fresh = caches(Path(tempfile.mkdtemp()))
        # ABBA: a warm call runs on the caches an earlier first call filled
        for name in ("first", "warm") if round_ % 2 == 0 else ("warm", "first"):
            env = fresh if name == "first" else filled
            timed(name, command, env)
            filled = env if name == "first" else filled
        env = filled
        timed("import", [sys.executable, "-c", "import keras"], env)
        start = time.perf_counter()  # perf_counter is the system's monotonic clock
        child = [sys.executable, __file__, "--breakdown", str(folder), repr(start)]
        done = subprocess.run(child, env=env, check=True, capture_output=True, text=True)
        phases.append(json.loads(done.stdout.splitlines()[-1]))
        phases[-1]["exiting Python"] = time.perf_counter() - phases[-1].pop("printed")
    first, warm, imports = (statistics.median(times[name]) for name in times)
    first_cpu, warm_cpu, imports_cpu = (statistics.median(cpu[name]) for name in cpu)
    print(f"`kvgg localize` of one 500x375 photo, VGG16 width {args.width}, two nets fused "
          f"(fresh processes, medians of {len(times['warm'])}):")  # fmt: skip
    print(f"  first call (fresh caches) {first:.1f} s, warm call {warm:.1f} s: "
          f"{first - warm:+.1f} s (target <= 2 s); `python -c 'import keras'` alone "
          f"{imports:.1f} s")  # fmt: skip
    print(f"  CPU time of those processes (less swayed by a busy machine): first "
          f"{first_cpu:.1f} s, warm {warm_cpu:.1f} s, `import keras` "
          f"{imports_cpu:.1f} s")  # fmt: skip
    phase = {name: statistics.median(p[name] for p in phases) for name in phases[0]}
    print(f"  where a warm call's time goes (the same steps timed in a fresh process, "
          f"{phase['traces']:.0f} nets traced once each):")  # fmt: skip
    rows = [(name, phase[name]) for name in BREAKDOWN]
    for name, seconds in rows:
        print(f"    {seconds:6.2f} s  {name}")
    total = sum(seconds for _, seconds in rows)
    print(f"    {total:6.2f} s  in all (the warm call above: {warm:.2f} s); a later image "
          f"{phase['later image']:.2f} s")  # fmt: skip


def _children_cpu():
    import resource

    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


BREAKDOWN = (
    "starting Python",
    "importing Keras and TensorFlow (floor; and NumPy)",
    "importing kvgg's CLI and localisation modules",
    "loading the 3 nets (.keras files, checks)",
    "making them fully convolutional",
    "reading the photo",
    "first image: forward passes",
    "first image: tracing the 3 nets (first use)",
    "first image: merging",
    "the picture",
    "exiting Python",
)


def breakdown(folder, start):
    """`kvgg localize`'s steps (`kvgg.localize.files.localize_files`) timed one by one in
    this fresh process; ``start``: the parent's clock when it started the process."""
    from pathlib import Path

    from kvgg.cli.shutdown import freeze_at_exit

    freeze_at_exit()  # as `kvgg localize` does
    marks = [_LOADED, _NUMPY]
    import kvgg.cli  # noqa: F401

    marks.append(time.perf_counter())
    import keras  # noqa: F401

    marks.append(time.perf_counter())
    import kvgg.localize.protocols as protocols
    from kvgg.evaluate.predict import load_image
    from kvgg.localize.files import draw_boxes, load_nets

    marks.append(time.perf_counter())
    folder = Path(folder)
    nets = load_nets([folder / "loc256.keras", folder / "loc384.keras"], folder / "cls.keras",
                     scales=[(256,), (352, 384)])  # fmt: skip
    marks.append(time.perf_counter())
    localize = nets.dense_localizer(top=5)
    marks.append(time.perf_counter())
    image = load_image(folder / "photo.jpg")
    marks.append(time.perf_counter())
    merge, original = [], protocols.greedy_merge

    def timed(*a, **k):
        begin = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            merge[-1] += time.perf_counter() - begin

    protocols.greedy_merge = timed
    merge.append(0.0)
    guesses = localize(image)
    marks.append(time.perf_counter())
    merge.append(0.0)
    localize(image)  # the same image again: no tracing
    later = time.perf_counter() - marks[-1]
    protocols.greedy_merge = original
    rows = [{"class": str(g.label), "index": g.label, "posterior": g.posterior, "box": g.box}
            for g in guesses]  # fmt: skip
    begin = time.perf_counter()
    draw_boxes(image, rows, folder / "timed.png")
    picture = time.perf_counter() - begin
    first = marks[8] - marks[7]
    forwards = later - merge[1]
    traces = sum(forward.traces for forward, *_ in localize.nets)
    traces += sum(scorer.forward.traces for scorer in localize.scorers)
    values = [
        marks[0] - start,
        (marks[1] - marks[0]) + (marks[3] - marks[2]),
        (marks[2] - marks[1]) + (marks[4] - marks[3]),
        marks[5] - marks[4],
        marks[6] - marks[5],
        marks[7] - marks[6],
        forwards,
        first - forwards - merge[0],
        merge[0],
        picture,
    ]
    print(json.dumps(dict(zip(BREAKDOWN[:-1], values, strict=True)) | {
        "later image": later, "traces": traces, "printed": time.perf_counter()}))  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--skip-dense", action="store_true", help="Only the merging parts.")
    parser.add_argument("--skip-first-call", action="store_true", help="No `kvgg localize`.")
    parser.add_argument("--breakdown", nargs=2, help=argparse.SUPPRESS)  # FOLDER START
    args = parser.parse_args()
    if args.breakdown:
        return breakdown(args.breakdown[0], float(args.breakdown[1]))
    merging(args)
    typical_merging(args)
    if not args.skip_dense:
        dense_ratio(args)
    if not args.skip_first_call:
        first_call(args)


if __name__ == "__main__":
    main()
