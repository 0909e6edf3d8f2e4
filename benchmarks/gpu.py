"""VGG16 at GPU scale: training and inference images/s per precision, with and without XLA,
on TensorFlow and JAX; the tf.data pipeline's images/s beside them; and the model FLOPs
utilisation (MFU) of each training step.

    python benchmarks/gpu.py                          # VGG16 at 224 px, batches 64,128,256
    python benchmarks/gpu.py --batches 256 --backends jax --precisions mixed_bfloat16
    python benchmarks/gpu.py --quick                  # tiny and fast: CPU smoke run (tests)
    python benchmarks/gpu.py --peak-tflops 989 --json h200.json

Each backend runs in its own process (KERAS_BACKEND is fixed per process). For each
precision and batch, the step with XLA and the step without run in interleaved ABBA
rounds of ``--steps`` ``train_on_batch`` calls; the medians are reported, with the XLA
gain (on / off) and the speed-up over float32 at the same batch. Inference times
``predict_on_batch`` at the largest batch. The input pipeline is kvgg's
``train_dataset`` (decode, scale, crop, flip, colour shift) over synthetic JPEGs of
ImageNet's average size, on every CPU this process may use.

MFU = training images/s x 3 x 2 x MACs per image / peak FLOP/s: the backward pass costs
twice the forward pass, and a multiply-accumulate is two FLOPs. The peak is the device's
dense tensor-core peak for 16-bit precisions and its TF32 peak for float32 (`PEAKS`), or
``--peak-tflops`` (used for every precision); on a device not in the table it is "n/a".
The table and a JSON file (``--json``) hold every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
# Dense peaks in TFLOP/s: (16-bit tensor cores, float32 as TF32 tensor cores or FP32).
# First match of the substring in the device's name wins (specific names first).
PEAKS = [
    ("H200", (989.0, 494.5)),
    ("H100 PCIe", (756.0, 378.0)),
    ("H100", (989.0, 494.5)),
    ("GH200", (989.0, 494.5)),
    ("A100", (312.0, 156.0)),
    ("L40S", (362.0, 183.0)),
    ("L4", (121.0, 60.0)),
    ("A10G", (70.0, 35.0)),
    ("A10", (125.0, 62.5)),
    ("V100", (125.0, 15.7)),  # no bfloat16 tensor cores: float16's peak
    ("T4", (65.0, 8.1)),
]


FULL = {"batches": "64,128,256", "size": 224, "width": 1.0, "steps": 10, "rounds": 3}
FULL["pipeline_seconds"] = 10.0
QUICK = {"batches": "8", "size": 32, "width": 1 / 16, "steps": 1, "rounds": 1}
QUICK["pipeline_seconds"] = 1.0


def peak_tflops(device: str, precision: str, override: float | None) -> float | None:
    """The peak to divide by: `override`, else the table's for `device`, else None."""
    if override:
        return override
    for name, (half, single) in PEAKS:
        if name.lower() in device.lower():
            return single if precision == "float32" else half
    return None


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="tensorflow,jax")
    parser.add_argument("--precisions", default=",".join(PRECISIONS))
    parser.add_argument("--batches", help="training batch sizes (default 64,128,256)")
    parser.add_argument("--size", type=int, help="image side (default 224)")
    parser.add_argument("--width", type=float, help="VGG width multiplier (default 1)")
    parser.add_argument("--steps", type=int, help="steps timed per round (default 10)")
    parser.add_argument("--rounds", type=int, help="ABBA rounds, median taken (default 3)")
    parser.add_argument("--pipeline-seconds", type=float, help="default 10")
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--json", default="gpu_benchmark.json", help="where to write results")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny VGG16 (width 1/16, 32 px, batch 8), 1 step, 1 round: a CPU smoke run",
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    defaults = QUICK if args.quick else FULL  # options given on the command line win
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


# --------------------------------------------------------------------------- child process


def device_name() -> str:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU")
    elif backend == "jax":
        import jax

        device = jax.devices()[0]
        if device.platform != "cpu":
            return device.device_kind
    from kvgg.data.cpus import usable_cpus

    return f"CPU {platform.processor() or platform.machine()} ({usable_cpus()} usable cores)"


def build(precision, args, xla):
    import keras

    import kvgg
    from kvgg.precision import dtype_policy, training_optimizer

    with dtype_policy(precision):
        model = kvgg.build("D", width=args.width, input_shape=(args.size, args.size, 3))
    optimizer = training_optimizer(keras.optimizers.SGD(0.01, momentum=0.9), precision)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", jit_compile=xla)
    return model


def timed(step, steps):
    """Seconds for `steps` calls of `step`, waiting for the last result."""
    import numpy as np

    start = time.perf_counter()
    for _ in range(steps):
        result = step()
    np.asarray(result[0] if isinstance(result, list | tuple) else result).ravel()[:1].tolist()
    return time.perf_counter() - start


def race(steps_by_name, steps, rounds):
    """Median seconds per step of each named step function, in ABBA rounds."""
    for step in steps_by_name.values():  # warm-up: trace and compile
        timed(step, 1)
    runs = {name: [] for name in steps_by_name}
    names = list(steps_by_name)
    for index in range(rounds):
        for name in names if index % 2 == 0 else names[::-1]:
            runs[name].append(timed(steps_by_name[name], steps) / steps)
    return {name: statistics.median(values) for name, values in runs.items()}


def measure_backend(args) -> dict:
    import keras
    import numpy as np

    from kvgg.models.profile import profile

    batches = [int(b) for b in args.batches.split(",")]
    rng = np.random.default_rng(0)
    macs = None
    rows, inference = [], []
    for precision in args.precisions.split(","):
        for batch in batches:
            images = rng.uniform(0, 255, (batch, args.size, args.size, 3)).astype("float32")
            labels = rng.integers(0, 1000, batch)
            models = {xla: build(precision, args, xla) for xla in (True, False)}
            macs = macs or sum(row.macs for row in profile(models[True]))
            seconds = race(
                {
                    xla: (lambda m=m, x=images, y=labels: m.train_on_batch(x, y))
                    for xla, m in models.items()
                },
                args.steps,
                args.rounds,
            )
            for xla, per_step in seconds.items():
                rows.append(
                    {
                        "precision": precision,
                        "xla": xla,
                        "batch": batch,
                        "train_images_per_second": batch / per_step,
                        "step_ms": per_step * 1e3,
                    }
                )
            if batch == batches[-1]:
                model = models[True]
                per_batch = race(
                    {"predict": lambda m=model, x=images: m.predict_on_batch(x)},
                    args.steps,
                    args.rounds,
                )["predict"]
                inference.append(
                    {"precision": precision, "batch": batch, "images_per_second": batch / per_batch}
                )
            del models
            keras.backend.clear_session()
    return {
        "backend": keras.backend.backend(),
        "device": device_name(),
        "macs_per_image": macs,
        "train": rows,
        "inference": inference,
    }


def measure_pipeline(args) -> dict:
    """kvgg's training pipeline over synthetic 500x375 JPEGs: images/s on all usable CPUs."""
    import numpy as np
    from PIL import Image

    from kvgg.data import IMAGENET_STATS, image_folder, train_dataset
    from kvgg.data.cpus import usable_cpus

    batch = int(args.batches.split(",")[-1])
    side = (375, 500) if args.size >= 224 else (args.size * 3 // 2, args.size * 2)
    scale = 256 if args.size >= 224 else args.size + args.size // 8
    with tempfile.TemporaryDirectory() as folder:
        rng = np.random.default_rng(0)
        for i in range(64):
            pixels = rng.integers(0, 255, (*side, 3), dtype=np.uint8)
            path = Path(folder) / f"class{i % 4}" / f"{i}.jpg"
            path.parent.mkdir(exist_ok=True)
            Image.fromarray(pixels).save(path, quality=90)
        data = train_dataset(
            image_folder(folder),
            batch_size=batch,
            scale=(scale, scale * 2) if args.size >= 224 else scale,
            crop=args.size,
            color_stats=IMAGENET_STATS,
            seed=0,
            cache=True,  # the files are read once: this measures decoding, not the disk
            repeat=True,
        )
        iterator = iter(data)
        next(iterator)  # warm-up (and fill the cache)
        images, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.pipeline_seconds:
            images += int(next(iterator)[0].shape[0])
        rate = images / (time.perf_counter() - start)
    return {"images_per_second": rate, "cpus": usable_cpus(), "batch": batch}


def child(args) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    result = measure_pipeline(args) if args.child == "pipeline" else measure_backend(args)
    print("RESULT " + json.dumps(result), flush=True)


# -------------------------------------------------------------------------- parent process


def run_child(kind: str, backend: str, argv: list[str]) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    command = [sys.executable, __file__, *argv, "--child", kind]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{kind} ({backend}) failed:\n{done.stderr[-3000:]}")
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def mfu(images_per_second, macs, peak):
    return None if peak is None else images_per_second * 3 * 2 * macs / (peak * 1e12)


def table(results: dict, args) -> str:
    pipeline = results["pipeline"]
    lines = [
        f"VGG16 (width {args.width:g}, {args.size} px), {args.steps} steps x {args.rounds} "
        f"ABBA rounds, medians",
        f"{'backend':<11}{'device':<30}{'precision':<16}{'XLA':<5}{'batch':>6}"
        f"{'img/s':>10}{'ms/step':>10}{'XLA gain':>10}{'vs fp32':>9}{'MFU':>8}",
    ]
    for backend in results["backends"]:
        rows = backend["train"]
        by_key = {(r["precision"], r["xla"], r["batch"]): r for r in rows}
        for row in rows:
            rate = row["train_images_per_second"]
            other = by_key[(row["precision"], not row["xla"], row["batch"])]
            fp32 = by_key.get(("float32", row["xla"], row["batch"]))
            peak = peak_tflops(backend["device"], row["precision"], args.peak_tflops)
            utilisation = mfu(rate, backend["macs_per_image"], peak)
            row["mfu"] = utilisation
            lines.append(
                f"{backend['backend']:<11}{backend['device'][:29]:<30}{row['precision']:<16}"
                f"{'on' if row['xla'] else 'off':<5}{row['batch']:>6}{rate:>10.1f}"
                f"{row['step_ms']:>10.1f}"
                f"{rate / other['train_images_per_second']:>10.2f}"
                f"{rate / fp32['train_images_per_second'] if fp32 else float('nan'):>9.2f}"
                f"{'n/a' if utilisation is None else f'{utilisation:.1%}':>8}"
            )
        for row in backend["inference"]:
            lines.append(
                f"{backend['backend']:<11}{'inference, XLA on':<30}{row['precision']:<16}"
                f"{'on':<5}{row['batch']:>6}{row['images_per_second']:>10.1f}"
            )
    best = max(r["train_images_per_second"] for b in results["backends"] for r in b["train"])
    keeps_up = "yes" if pipeline["images_per_second"] >= best else "NO"
    lines.append(
        f"tf.data (kvgg train_dataset, {pipeline['cpus']} CPUs): "
        f"{pipeline['images_per_second']:.1f} img/s; fastest training step "
        f"{best:.1f} img/s; input keeps up: {keeps_up}"
    )
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.child:
        return child(args)
    argv = list(sys.argv[1:] if argv is None else argv)
    results = {
        "command": " ".join(["python", "benchmarks/gpu.py", *argv]),
        "host": platform.node(),
        "settings": {k: v for k, v in vars(args).items() if k != "child"},
        "backends": [],
    }
    for backend in args.backends.split(","):
        results["backends"].append(run_child("train", backend, argv))
    results["pipeline"] = run_child("pipeline", "tensorflow", argv)
    text = table(results, args)
    print(text)
    Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
