"""`kvgg export`: each format run by its real runtime, one input, matching Keras within 1e-4."""

from __future__ import annotations

import json
import re
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from kvgg.cli import main
from tests.helpers import random_images, tiny_model

RUNTIMES = {  # format -> (artifact name, the packages its export and runtime need)
    "onnx": ("vgg.onnx", ("tf2onnx", "onnxruntime")),
    "openvino": ("vgg.xml", ("openvino",)),
    "saved_model": ("vgg_saved_model", ()),
    "litert": ("vgg.tflite", ("ai_edge_litert",)),
}
NAMES = ["cat", "dog", "fish", "bird", "frog"]


def needs(format_: str) -> str:
    for package in RUNTIMES[format_][1]:
        pytest.importorskip(package)
    return RUNTIMES[format_][0]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A tiny classifier file as `kvgg fit` writes one: class names, training scale, flip."""
    from kvgg.io import save_model

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    info = {"config": "A", "scale": [32, 40], "recipe": {"data": {"flip": False}}}
    save_model(tiny_model(), path, class_names=NAMES, info=info)
    return path


@pytest.fixture(scope="module")
def keras_model(model_file):
    from kvgg.io import load_model

    return load_model(model_file)


def invoke(*args):
    return CliRunner().invoke(main, [str(arg) for arg in args])


@pytest.mark.parametrize("format_", list(RUNTIMES))
def test_cli_export_runs_in_its_runtime_with_one_input_and_matches_keras(
    format_, model_file, keras_model, tmp_path
):
    from kvgg.deploy import load_exported

    out = tmp_path / needs(format_)
    result = invoke("export", "--model", model_file, "--format", format_, "-o", out)
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.output
    served = load_exported(out)
    images = random_images(3)
    outputs = served(images)
    assert list(outputs) == ["predictions"]
    np.testing.assert_allclose(
        outputs["predictions"], keras_model.predict(images, verbose=0), atol=1e-4
    )
    meta = served.metadata
    assert meta["class_names"] == NAMES
    assert meta["input_size"] == [32, 32]
    assert meta["scales"] == [32, 36, 40]  # the preset of the jittered training scale
    assert meta["flip"] is False
    assert meta["precision"] == "float32" and meta["int8"] is False
    assert meta["kvgg_version"]


def test_onnx_graph_has_the_image_as_its_only_input(keras_model, tmp_path):
    """Keras's own ONNX export of a kvgg model has 3 inputs (the image and the
    Normalization's captured mean and variance); kvgg's has one."""
    pytest.importorskip("tf2onnx")
    onnx = pytest.importorskip("onnx")
    import kvgg

    path = kvgg.export(keras_model, tmp_path / "vgg.onnx", format="onnx")
    graph = onnx.load(path).graph
    initializers = {init.name for init in graph.initializer}
    assert [value.name for value in graph.input if value.name not in initializers] == ["image"]
    assert [value.name for value in graph.output] == ["predictions"]
    props = {prop.key: json.loads(prop.value) for prop in onnx.load(path).metadata_props}
    assert props["class_names"] == [str(i) for i in range(5)]


@pytest.mark.parametrize("format_", list(RUNTIMES))
def test_dense_export_takes_any_size_and_returns_maps_of_matching_size(
    format_, keras_model, tmp_path
):
    import kvgg
    from kvgg.deploy import load_exported

    path = kvgg.export(keras_model, tmp_path / needs(format_), format=format_, dense=True)
    served = load_exported(path)
    fcn = kvgg.fully_convolutional(keras_model, logits=True)  # the paper averages scores
    for height, width, expected in [(32, 32, (1, 1)), (64, 96, (2, 3))]:
        images = random_images(2, size=height)[:, :, :1].repeat(width, axis=2)
        maps = served(images)["scores"]
        assert maps.shape == (2, *expected, 5)
        np.testing.assert_allclose(maps, fcn.predict(images, verbose=0), atol=1e-4)
    assert served.metadata["dense"] is True and served.metadata["input_size"] == [None, None]


@pytest.mark.parametrize("format_", ["onnx", "litert"])
def test_localisation_net_exports_with_its_box_output_named(format_, tmp_path):
    import kvgg
    from kvgg.deploy import load_exported
    from kvgg.localize import build_localizer

    net = build_localizer(tiny_model(), regression="scr", seed=0)
    path = kvgg.export(net, tmp_path / needs(format_), format=format_)
    served = load_exported(path)
    images = random_images(2)
    outputs = served(images)
    assert list(outputs) == ["boxes"]
    np.testing.assert_allclose(outputs["boxes"], net.predict(images, verbose=0), atol=1e-4)
    assert "class_names" not in served.metadata and served.metadata["outputs"] == ["boxes"]


def test_openvino_bfloat16_is_recorded_and_close_to_float32(keras_model, tmp_path):
    pytest.importorskip("openvino")
    import kvgg
    from kvgg.deploy import load_exported

    path = kvgg.export(keras_model, tmp_path / "bf16.xml", format="openvino", precision="bfloat16")
    served = load_exported(path)
    assert served.metadata["precision"] == "bfloat16"
    images = random_images(2)
    np.testing.assert_allclose(
        served(images)["predictions"], keras_model.predict(images, verbose=0), atol=0.05
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "onnx", "-o", "x.tflite"], "written as NAME.onnx"),
        (["--format", "litert", "-o", "x.tflite", "--precision", "bfloat16"], "is for OpenVINO"),
        (["--format", "onnx", "-o", "x.onnx", "--int8"], "go together"),
        (["--format", "saved_model", "-o", "x.keras"], "is a folder"),
    ],
)
def test_bad_export_options_end_in_one_line(args, message, model_file, tmp_path):
    result = invoke("export", "--model", model_file, *args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_foreign_file_is_refused_by_name(tmp_path):
    from kvgg.deploy import load_exported

    bad = tmp_path / "not_a_model.onnx"
    bad.write_bytes(b"hello, not a protobuf")
    pytest.importorskip("onnxruntime")
    with pytest.raises(ValueError, match="not_a_model.onnx"):
        load_exported(bad)


def test_a_missing_runtime_package_is_named_with_the_extra(model_file, tmp_path, monkeypatch):
    for package in ("tf2onnx", "onnx", "onnxruntime"):  # as if not installed (a fresh venv)
        monkeypatch.setitem(sys.modules, package, None)
    result = invoke("export", "--model", model_file, "--format", "onnx", "-o", tmp_path / "a.onnx")
    assert result.exit_code == 2
    assert re.search(
        r"needs (tf2onnx|onnx|onnxruntime): pip install 'kvgg\[export\]'", result.output
    )
    assert not (tmp_path / "a.onnx").exists()


def test_an_artifact_is_never_written_over_the_model(model_file, tmp_path):
    """`-o` naming the model itself (here through a link) is refused before any work."""
    link = tmp_path / "tiny.onnx"
    link.symlink_to(model_file)
    before = model_file.read_bytes()
    result = invoke("export", "--model", model_file, "--format", "onnx", "-o", link)
    assert result.exit_code == 2 and "Refusing to write" in result.output, result.output
    assert model_file.read_bytes() == before
