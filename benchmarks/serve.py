"""Serving speed: a kvgg VGG in Keras, ONNX Runtime and OpenVINO (float32, bfloat16, int8),
and torchvision's VGG16 exported by ``torch.onnx`` in ONNX Runtime as the peer.

    python benchmarks/serve.py [--config D] [--width 0.5] [--rounds 5] [--quick]

Every variant serves the same random-weight net (``--width`` scales the channels to keep a
CPU run short; 1 is the full VGG16) on 224x224 RGB images: batch-1 latency (p50 and p99
over ``--latency-runs`` calls) and batch-8 throughput. Rounds interleave the variants,
in reverse order every other round (ABBA), and each figure is the median over rounds;
ratios are against Keras (TensorFlow backend, ``model(x, training=False)`` in a
``tf.function``). The int8 artifacts are calibrated on random images (speed only: their
top-1 agreement is what ``kvgg export --int8`` prints); OpenVINO float32 runs with
``INFERENCE_PRECISION_HINT`` f32 (its CPU default on bfloat16 hardware is bf16), its
bfloat16 artifact in bf16. ONNX Runtime runs with kvgg's session options
(`kvgg.deploy.runtime.onnx_session_options`: no spin-waiting), and once more with its
defaults ("spin-wait") to show what they cost; OpenVINO float32 likewise with kvgg's
configuration (`kvgg.deploy.runtime.openvino_config`: threads not pinned to cores) and
with its default ("pinned").

The peer is torchvision's ``vgg16`` layout (features, 7x7 adaptive average pool,
classifier) built from ``torch.nn`` layers at the same width, exported by
``torch.onnx.export`` and run by the same ONNX Runtime. (The registry's torchvision wheel
does not load beside the CPU torch of these machines; the layers are the same.)

``--quick`` is a smoke run at toy size (width 1/16, 32x32 images) for the tests.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

VGG16_LAYOUT = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


def torchvision_vgg16(width: float, image_size: int, num_classes: int):
    """torchvision.models.vgg16's exact layout (channels scaled by ``width``), from torch.nn."""
    import torch
    from torch import nn

    layers, channels = [], 3
    for item in [*VGG16_LAYOUT, "M"]:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            out = max(1, round(item * width))
            layers += [nn.Conv2d(channels, out, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            channels = out
    pooled = max(1, image_size // 32)
    hidden = max(1, round(4096 * width))
    net = nn.Sequential(
        nn.Sequential(*layers),  # features
        nn.AdaptiveAvgPool2d((7, 7) if pooled == 7 else (pooled, pooled)),
        nn.Flatten(1),
        nn.Sequential(  # classifier
            nn.Linear(channels * (7 if pooled == 7 else pooled) ** 2, hidden),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(hidden, hidden),
            nn.ReLU(True),
            nn.Dropout(),
            nn.Linear(hidden, num_classes),
        ),
    )
    return net.eval(), torch


def export_torchvision(path: Path, width: float, image_size: int, num_classes: int) -> Path:
    net, torch = torchvision_vgg16(width, image_size, num_classes)
    example = torch.zeros(1, 3, image_size, image_size)
    warnings.filterwarnings("ignore", "You are using the legacy TorchScript", DeprecationWarning)
    torch.onnx.export(
        net,
        (example,),
        str(path),
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}},
        dynamo=False,
    )
    return path


def variants(args, folder: Path) -> dict:
    """name -> a callable on NHWC float32 batches (NCHW for the torchvision peer)."""
    import onnxruntime
    import openvino
    import tensorflow as tf

    import kvgg
    from kvgg.deploy import load_exported
    from kvgg.deploy.graph import INPUT_NAME
    from kvgg.deploy.runtime import onnx_session_options

    size = args.image_size
    model = kvgg.build(
        args.config, width=args.width, input_shape=(size, size, 3), num_classes=args.classes
    )
    calibration = folder / "calibration"
    _write_images(calibration, np.random.default_rng(1), size, count=16)

    def artifact(name, fmt, **options):
        return load_exported(kvgg.export(model, folder / name, format=fmt, **options))

    keras_call = tf.function(lambda x: model(x, training=False), reduce_retracing=True)
    runs = {"keras (tensorflow) f32": lambda x: keras_call(tf.constant(x)).numpy()}
    runs["onnxruntime f32"] = artifact("f32.onnx", "onnx")
    default = onnxruntime.InferenceSession(  # ONNX Runtime's default options: spin-waiting
        str(folder / "f32.onnx"), providers=["CPUExecutionProvider"]
    )
    runs["onnxruntime f32 spin-wait"] = lambda x: default.run(None, {INPUT_NAME: x})
    runs["onnxruntime int8"] = artifact("int8.onnx", "onnx", calibration=str(calibration))
    runs["openvino f32"] = artifact("f32.xml", "openvino")
    pinned = openvino.Core().compile_model(  # OpenVINO's default: threads pinned to cores
        str(folder / "f32.xml"), "CPU", {"INFERENCE_PRECISION_HINT": "f32"}
    )
    request = pinned.create_infer_request()
    runs["openvino f32 pinned"] = lambda x: request.infer({INPUT_NAME: x})
    runs["openvino bf16"] = artifact("bf16.xml", "openvino", precision="bfloat16")
    runs["openvino int8"] = artifact("int8.xml", "openvino", calibration=str(calibration))
    peer = export_torchvision(folder / "torchvision.onnx", args.width, size, args.classes)
    session = onnxruntime.InferenceSession(  # the same session options as kvgg's artifact
        str(peer), onnx_session_options(), providers=["CPUExecutionProvider"]
    )
    runs["torchvision onnxruntime f32"] = lambda x: session.run(
        None, {"image": np.ascontiguousarray(x.transpose(0, 3, 1, 2))}
    )
    return runs


def _write_images(folder: Path, rng, size: int, count: int) -> None:
    """A folder of ``count`` random JPEG images in one class (calibration data)."""
    from PIL import Image

    (folder / "random").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "random" / f"{index}.jpg")


def measure(run, single, batch, latency_runs: int) -> tuple[list[float], float]:
    latencies = []
    for _ in range(latency_runs):
        start = time.perf_counter()
        run(single)
        latencies.append(time.perf_counter() - start)
    start = time.perf_counter()
    run(batch)
    return latencies, len(batch) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="D")
    parser.add_argument("--width", type=float, default=0.5)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="a toy-size smoke run")
    args = parser.parse_args()
    if args.quick:
        args.width, args.image_size, args.classes = 1 / 16, 32, 10
        args.rounds, args.latency_runs = 2, 3

    rng = np.random.default_rng(0)
    shape = (args.image_size, args.image_size, 3)
    single = rng.uniform(0, 255, (1, *shape)).astype("float32")
    batch = rng.uniform(0, 255, (8, *shape)).astype("float32")
    with tempfile.TemporaryDirectory() as folder:
        runs = variants(args, Path(folder))
        for run in runs.values():  # warm-up: compile, allocate
            run(single), run(batch)
        latencies = {name: [] for name in runs}
        throughputs = {name: [] for name in runs}
        names = list(runs)
        for round_ in range(args.rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                lat, thr = measure(runs[name], single, batch, args.latency_runs)
                latencies[name] += lat
                throughputs[name].append(thr)

    print(
        f"VGG {args.config} width {args.width:g}, {args.image_size}x{args.image_size}, "
        f"{args.classes} classes, random weights; {args.rounds} interleaved rounds, "
        f"{os.cpu_count()} CPUs"
    )
    print(
        f"{'variant':30s} {'b1 p50 ms':>10s} {'b1 p99 ms':>10s} {'b8 img/s':>10s} "
        f"{'b1 vs Keras':>12s} {'b8 vs Keras':>12s}"
    )
    base_latency = np.median(latencies[names[0]])
    base_throughput = statistics.median(throughputs[names[0]])
    for name in names:
        p50, p99 = np.percentile(latencies[name], [50, 99]) * 1000
        throughput = statistics.median(throughputs[name])
        print(
            f"{name:30s} {p50:10.2f} {p99:10.2f} {throughput:10.1f} "
            f"{base_latency * 1000 / p50:11.2f}x {throughput / base_throughput:11.2f}x"
        )
    kvgg_onnx = statistics.median(throughputs["onnxruntime f32"])
    peer = statistics.median(throughputs["torchvision onnxruntime f32"])
    print(f"kvgg ONNX / torchvision ONNX (batch 8, same runtime): {kvgg_onnx / peer:.2f}x")


if __name__ == "__main__":
    main()
