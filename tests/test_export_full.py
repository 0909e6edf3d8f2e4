"""Full-size VGG16 and VGG19 export within memory (slow): each artifact checked in its runtime."""

from __future__ import annotations

import re

import pytest

from tests.helpers import run_benchmark

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
    stdout = run_benchmark("export_memory", "--config", config, "--format", format_, timeout=1200)
    found = re.search(r"peak RSS (\d+) MiB .* max \|runtime - Keras\| (\S+)", stdout)
    assert found, stdout
    assert float(found[2]) <= 1e-4
    print(stdout)  # the measurement, shown with -s
