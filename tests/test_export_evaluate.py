"""`kvgg predict` and `kvgg evaluate` on exported files: the paper's protocol in a runtime."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from kvgg.cli import main
from tests.helpers import tiny_model

ARTIFACTS = {  # format -> (name, packages)
    "onnx": ("dense.onnx", ("tf2onnx", "onnxruntime")),
    "openvino": ("dense.xml", ("openvino",)),
    "litert": ("dense.tflite", ("ai_edge_litert",)),
}


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """Images of 3 classes (48x64 pixels) and a classifier file with their names."""
    from kvgg.io import save_model
    from kvgg.localize.demo import pasted_objects

    root = tmp_path_factory.mktemp("export_eval")
    images, _ = pasted_objects(root / "images", per_class=3)
    model = save_model(
        tiny_model(num_classes=3), root / "m.keras", class_names=["blue", "green", "red"]
    )
    return images, model


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


def _report(path):
    report = json.loads(path.read_text())
    return report["top1_error"], report["top5_error"], report["images"]


@pytest.mark.parametrize("format_", list(ARTIFACTS))
def test_evaluate_and_predict_an_exported_file_as_the_keras_model(format_, setup, tmp_path):
    name, packages = ARTIFACTS[format_]
    for package in packages:
        pytest.importorskip(package)
    images, model = setup
    artifact = tmp_path / name
    exported = invoke("export", "--model", model, "--format", format_, "--dense", "-o", artifact)
    assert exported.exit_code == 0, exported.output

    common = ["--data", f"folder:{images}", "--scales", "32,64", "--method", "both"]
    by_keras = invoke("evaluate", "--model", model, *common, "-o", tmp_path / "keras.json")
    by_runtime = invoke("evaluate", "--model", artifact, *common, "-o", tmp_path / "rt.json")
    assert by_keras.exit_code == 0, by_keras.output
    assert by_runtime.exit_code == 0, by_runtime.output
    assert _report(tmp_path / "rt.json") == pytest.approx(_report(tmp_path / "keras.json"))

    photo = images / "red" / "red_0000.jpg"
    keras_top = invoke("predict", "--model", model, photo, "--scales", "32,64", "--top", "3")
    runtime_top = invoke("predict", "--model", artifact, photo, "--scales", "32,64", "--top", "3")
    assert runtime_top.exit_code == 0, runtime_top.output
    assert runtime_top.output == keras_top.output  # the same classes and posteriors (to 0.1%)


def test_a_fixed_size_export_is_refused_by_evaluate_with_the_fix(setup, tmp_path):
    pytest.importorskip("tf2onnx")
    pytest.importorskip("onnxruntime")
    images, model = setup
    artifact = tmp_path / "fixed.onnx"
    assert invoke("export", "--model", model, "--format", "onnx", "-o", artifact).exit_code == 0
    result = invoke("evaluate", "--model", artifact, "--data", f"folder:{images}")
    assert result.exit_code == 2
    assert "not a dense classifier export" in result.output and "--dense" in result.output
