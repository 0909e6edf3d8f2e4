"""benchmarks/gpu.py: runs small on a CPU, prints one table, writes JSON, computes MFU."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "gpu.py"


def load_benchmark():
    spec = importlib.util.spec_from_file_location("gpu_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "gpu.json"
    command = [sys.executable, str(SCRIPT), "--quick", "--precisions", "float32,mixed_bfloat16"]
    command += ["--peak-tflops", "0.5", "--json", str(out)]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


@pytest.mark.slow  # three processes, 8 compiled steps per backend: minutes on 2 cores
def test_quick_run_prints_one_table_and_writes_json(quick_run):
    stdout, results = quick_run
    assert [b["backend"] for b in results["backends"]] == ["tensorflow", "jax"]
    for backend in results["backends"]:
        assert backend["device"].startswith("CPU")
        keys = {(r["precision"], r["xla"]) for r in backend["train"]}
        assert keys == {(p, x) for p in ("float32", "mixed_bfloat16") for x in (True, False)}
        assert all(r["train_images_per_second"] > 0 for r in backend["train"])
        assert len(backend["inference"]) == 2
    assert results["pipeline"]["images_per_second"] > 0
    rows = [line for line in stdout.splitlines() if line.startswith(("tensorflow", "jax"))]
    assert len(rows) == 2 * (4 + 2)  # per backend: 4 training rows, 2 inference rows
    assert "input keeps up:" in stdout and "wrote" in stdout.splitlines()[-1]


@pytest.mark.slow  # three processes, 8 compiled steps per backend: minutes on 2 cores
def test_mfu_is_images_times_six_macs_over_the_peak(quick_run):
    stdout, results = quick_run
    bench = load_benchmark()
    backend = results["backends"][0]
    row = backend["train"][0]
    expected = row["train_images_per_second"] * 6 * backend["macs_per_image"] / 0.5e12
    assert f"{expected:.1%}" in stdout
    # without a peak, a CPU's MFU is unknown, not made up
    args = bench.parse_args(["--quick"])
    assert "n/a" in bench.table(results, args)
    assert "%" not in bench.table(results, args).split("MFU")[1].split("tf.data")[0]


def test_peaks_come_from_the_table_or_the_command_line():
    bench = load_benchmark()
    assert bench.peak_tflops("NVIDIA H200", "mixed_bfloat16", None) == 989.0
    assert bench.peak_tflops("NVIDIA H100 PCIe", "mixed_float16", None) == 756.0
    assert bench.peak_tflops("NVIDIA A100-SXM4-80GB", "float32", None) == 156.0
    assert bench.peak_tflops("CPU x86_64 (2 usable cores)", "float32", None) is None
    assert bench.peak_tflops("CPU x86_64", "float32", 2.0) == 2.0
