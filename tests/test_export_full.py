"""Full-size VGG16 and VGG19 export within memory (slow): each artifact checked in its runtime."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {
    "onnx": ("tf2onnx", "onnxruntime"),
    "openvino": ("openvino",),
    "saved_model": (),
    "litert": ("ai_edge_litert",),
}


@pytest.mark.slow
@pytest.mark.parametrize("config", ["D", "E"])
@pytest.mark.parametrize("format_", list(PACKAGES))
def test_full_size_export_runs_and_matches_keras(config, format_):
    for package in PACKAGES[format_]:
        pytest.importorskip(package)
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "export_memory.py"),
            "--config",
            config,
            "--format",
            format_,
        ],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    found = re.search(r"peak RSS (\d+) MiB .* max \|runtime - Keras\| (\S+)", result.stdout)
    assert found, result.stdout
    assert float(found[2]) <= 1e-4
    print(result.stdout)  # the measurement, shown with -s
