"""Peak memory of exporting a full-size VGG, and the artifact checked in its runtime.

    python benchmarks/export_memory.py --config D --format onnx [--dense]

Builds the configuration at full size (random weights, 1000 classes, 224x224), exports
it with `kvgg.export`, runs the artifact in its runtime on two images and prints the peak
resident memory of the whole process (``ru_maxrss``: the Keras model, the export and the
runtime together), the size of the artifact and the largest difference from Keras.
One format per process, so that each peak is its own.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

SUFFIX = {"onnx": "vgg.onnx", "openvino": "vgg.xml", "saved_model": "vgg", "litert": "vgg.tflite"}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    if path.suffix == ".xml":
        files.append(path.with_suffix(".bin"))
    return sum(file.stat().st_size for file in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="D")
    parser.add_argument("--format", default="onnx", choices=sorted(SUFFIX))
    parser.add_argument("--dense", action="store_true")
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier")
    args = parser.parse_args()

    import kvgg
    from kvgg.deploy import load_exported

    model = kvgg.build(args.config, width=args.width)
    images = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    reference = kvgg.fully_convolutional(model, logits=True) if args.dense else model
    expected = np.asarray(reference(images, training=False))
    before = peak_rss_mib()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        path = kvgg.export(
            model, Path(folder) / SUFFIX[args.format], format=args.format, dense=args.dense
        )
        seconds = time.perf_counter() - start
        served = load_exported(path)
        got = next(iter(served(images).values()))
        difference = float(np.max(np.abs(got - expected)))
        size = size_mib(path)
    print(
        f"{model.name} {args.format}{' dense' if args.dense else ''}: export {seconds:.0f} s, "
        f"artifact {size:.0f} MiB, peak RSS {peak_rss_mib():.0f} MiB (model built: "
        f"{before:.0f} MiB), max |runtime - Keras| {difference:.2e}"
    )


if __name__ == "__main__":
    main()
