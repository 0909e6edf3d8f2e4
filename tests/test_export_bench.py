"""benchmarks/serve.py --quick: every variant runs and the table and ratios are printed (slow)."""

from __future__ import annotations

import re

import pytest

from tests.helpers import run_benchmark

VARIANTS = [
    "keras (tensorflow) f32",
    "onnxruntime f32",
    "onnxruntime f32 spin-wait",
    "onnxruntime int8",
    "openvino f32",
    "openvino f32 pinned",
    "openvino bf16",
    "openvino int8",
    "torchvision onnxruntime f32",
]


@pytest.mark.slow
def test_serving_benchmark_prints_its_table():
    for package in ("tf2onnx", "onnxruntime", "openvino", "nncf", "torch"):
        pytest.importorskip(package)
    stdout = run_benchmark("serve", "--quick")
    for variant in VARIANTS:
        row = re.search(rf"^{re.escape(variant)}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+", stdout, re.M)
        assert row, f"{variant} missing:\n{stdout}"
        p50, p99, throughput = map(float, row.groups())
        assert 0 < p50 <= p99 and throughput > 0
    assert re.search(r"kvgg ONNX / torchvision ONNX .*: [\d.]+x", stdout)
