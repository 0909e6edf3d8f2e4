"""benchmarks/serve.py --quick: every variant runs and the table and ratios are printed (slow)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serve.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for variant in VARIANTS:
        row = re.search(
            rf"^{re.escape(variant)}\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+", result.stdout, re.M
        )
        assert row, f"{variant} missing:\n{result.stdout}"
        p50, p99, throughput = map(float, row.groups())
        assert 0 < p50 <= p99 and throughput > 0
    assert re.search(r"kvgg ONNX / torchvision ONNX .*: [\d.]+x", result.stdout)
