"""LPIPS (VGG, v0.1) speed: kvgg on each installed Keras backend against the `lpips` package.

    python benchmarks/perceptual.py [--batch 8] [--size 224] [--rounds 7] [--quick]

Each contender runs in its own process (a Keras backend is chosen per process): kvgg's
`LPIPS` through its compiled ``predict_on_batch`` on TensorFlow, JAX and PyTorch (those
installed), and the reference ``lpips.LPIPS(net="vgg")`` under ``torch.no_grad()``. All
hold a random VGG-16 (the weights do not change the time) and score the same batch of
image pairs. The processes stay up; each round asks every one for one timed batch, in an
order that rotates and reverses from round to round (ABBA), so no contender always runs
first. Prints the median milliseconds per pair and the speed ratio reference / kvgg
(>= 1: kvgg is at least as fast). ``--quick`` (32 px, batch 2, 2 rounds, kvgg on the
default backend only) is a smoke test.

Needs PyTorch and ``pip install --no-deps lpips``. lpips imports torchvision only for
VGG-16's layout; where torchvision is absent or does not load, that layout is built here
from ``torch.nn`` layers (as tests/test_perceptual_lpips.py does).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
_VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"] + [512, 512, 512, "M"] * 2


def pairs(batch: int, size: int):
    import numpy as np

    rng = np.random.default_rng(0)
    images_a = rng.uniform(0, 255, (batch, size, size, 3)).astype("float32")
    noise = rng.normal(0, 20, images_a.shape).astype("float32")
    return images_a, np.clip(images_a + noise, 0, 255)


def kvgg_scorer(images_a, images_b):
    import keras
    import numpy as np

    import kvgg
    from kvgg.perceptual import LPIPS

    keras.utils.set_random_seed(0)
    linear = [np.full(c, 0.01, "float32") for c in (64, 128, 256, 512, 512)]
    metric = LPIPS(kvgg.build("D", include_top=False), linear=linear)
    return lambda: metric.model.predict_on_batch([images_a, images_b])


def lpips_scorer(images_a, images_b):
    import torch

    try:
        import torchvision.models  # noqa: F401
    except Exception:  # absent, or the registry's wheel beside a CPU build of torch
        _stub_torchvision(torch)
    import lpips

    torch.manual_seed(0)
    metric = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False)
    to_torch = lambda x: torch.from_numpy(x.transpose(0, 3, 1, 2) / 127.5 - 1).float()  # noqa: E731
    a, b = to_torch(images_a), to_torch(images_b)

    def score():
        with torch.no_grad():
            return metric(a, b)

    return score


def _stub_torchvision(torch) -> None:
    import types

    def vgg16(pretrained=False, **kwargs):
        layers, channels = [], 3
        for item in _VGG16:
            if item == "M":
                layers.append(torch.nn.MaxPool2d(2, 2))
            else:
                layers += [torch.nn.Conv2d(channels, item, 3, padding=1), torch.nn.ReLU(True)]
                channels = item
        return types.SimpleNamespace(features=torch.nn.Sequential(*layers))

    models = types.ModuleType("torchvision.models")
    models.vgg16 = vgg16
    stub = types.ModuleType("torchvision")
    stub.models = models
    sys.modules.update({"torchvision": stub, "torchvision.models": models})


def worker(kind: str, batch: int, size: int) -> None:
    """Serve timed batches: one line in ("run"), one line out (seconds)."""
    images_a, images_b = pairs(batch, size)
    score = kvgg_scorer(images_a, images_b) if kind == "kvgg" else lpips_scorer(images_a, images_b)
    score()  # warm-up: compile, allocate
    score()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        start = time.perf_counter()
        score()
        print(time.perf_counter() - start, flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="32 px, batch 2, 2 rounds")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.batch, args.size, args.rounds = 2, 32, 2
    if args.worker:
        return worker(args.worker, args.batch, args.size)
    for module in ("torch", "lpips"):
        if importlib.util.find_spec(module) is None:
            sys.exit(
                f"The reference needs {module}: pip install torch; pip install --no-deps lpips"
            )

    default = os.environ.get("KERAS_BACKEND", "tensorflow")
    backends = [default] if args.quick else list(BACKEND_MODULES)
    contenders = {"lpips package (torch)": ("lpips", None)}
    for backend in backends:
        if importlib.util.find_spec(BACKEND_MODULES[backend]):
            contenders[f"kvgg LPIPS ({backend})"] = ("kvgg", backend)
    processes = {name: _start(kind, backend, args) for name, (kind, backend) in contenders.items()}
    times = {name: [] for name in processes}
    names = list(processes)
    try:
        for round_index in range(args.rounds):
            shift = round_index % len(names)
            order = names[shift:] + names[:shift]
            for name in order if round_index % 2 == 0 else order[::-1]:
                processes[name].stdin.write("run\n")
                processes[name].stdin.flush()
                times[name].append(float(_line(processes[name], name)))
    finally:
        for process in processes.values():
            process.stdin.close()
            process.wait(timeout=60)

    per_pair = {name: 1000 * statistics.median(t) / args.batch for name, t in times.items()}
    reference = per_pair["lpips package (torch)"]
    print(
        f"LPIPS (VGG) per pair, {args.size}x{args.size}, batch {args.batch}, {args.rounds} "
        f"interleaved rounds (medians), {os.cpu_count()} CPUs"
    )
    for name, milliseconds in per_pair.items():
        print(f"{name:26s} {milliseconds:9.2f} ms/pair")
    for name, milliseconds in per_pair.items():
        if name.startswith("kvgg"):
            print(f"speed ratio lpips / {name}: {reference / milliseconds:.3f}")


def _start(kind: str, backend: str | None, args) -> subprocess.Popen:
    env = dict(os.environ)
    if backend:
        env["KERAS_BACKEND"] = backend
    command = [sys.executable, __file__, "--worker", kind, "--batch", str(args.batch)]
    process = subprocess.Popen(
        [*command, "--size", str(args.size)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    _line(process, kind)  # "ready"
    return process


def _line(process: subprocess.Popen, name: str) -> str:
    line = process.stdout.readline()
    if not line:
        raise SystemExit(f"{name}: the worker process ended (exit {process.wait()}).")
    return line.strip()


if __name__ == "__main__":
    main()
