"""keras.applications VGG16/VGG19 weights imported into kvgg give the peer's posteriors.

The peer is built with random weights and written in the layout of the file Keras
downloads (``vgg16_weights_tf_dim_ordering_tf_kernels.h5``), so no download is needed.
"""

from __future__ import annotations

import h5py
import keras
import numpy as np
import pytest
from click.testing import CliRunner

from kvgg.cli import main
from kvgg.io import read_info
from kvgg.weights import from_keras_applications
from tests.helpers import random_images

PEERS = {"D": (keras.applications.VGG16, keras.applications.vgg16.preprocess_input)}
PEERS["E"] = (keras.applications.VGG19, keras.applications.vgg19.preprocess_input)


def random_peer(config):
    """keras.applications VGG with He-scaled random weights and logits spread by ~3."""
    constructor, _ = PEERS[config]
    peer = constructor(weights=None)
    rng = np.random.default_rng(0)
    for layer in peer.layers:
        if layer.weights:
            kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.weights)
            fan_in = np.prod(kernel.shape[:-1])
            kernel = rng.normal(0, np.sqrt(2 / fan_in), kernel.shape).astype("float32")
            layer.set_weights([kernel, rng.uniform(-0.1, 0.1, bias.shape).astype("float32")])
    features = keras.Model(peer.input, peer.get_layer("fc2").output).predict(
        peer_input(config, random_images(2, size=224, seed=99)), verbose=0
    )
    last = peer.get_layer("predictions")
    kernel, bias = last.get_weights()
    scale = 3 / (features @ kernel + bias).std()
    last.set_weights([kernel * scale, bias * scale])
    return peer


def peer_input(config, rgb):
    """The peer's preprocessing (which modifies float arrays in place, hence the copy)."""
    return PEERS[config][1](rgb.copy())


def write_downloaded_layout(model, path):
    """Write `model`'s weights like Keras' published VGG .h5 files (legacy HDF5 layout)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        f.attrs["backend"] = b"tensorflow"
        f.attrs["keras_version"] = b"2.2.4"
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{kind}:0" for kind in ("kernel", "bias")][: len(layer.weights)]
            group.attrs["weight_names"] = [name.encode() for name in names]
            for name, weight in zip(names, layer.weights, strict=True):
                group.create_dataset(name, data=keras.ops.convert_to_numpy(weight))
    return path


@pytest.fixture(scope="module")
def vgg16_file(tmp_path_factory):
    peer = random_peer("D")
    path = write_downloaded_layout(peer, tmp_path_factory.mktemp("peer") / "vgg16.h5")
    return peer, path


def assert_same_posteriors(model, peer, config, images):
    expected = peer.predict(peer_input(config, images), verbose=0)
    assert expected.max() > 0.01, "random peer too close to uniform to check"
    actual = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_allclose(actual, expected, atol=1e-4)
    np.testing.assert_array_equal(actual.argmax(1), expected.argmax(1))


@pytest.mark.slow  # full-size VGG16s (the peer and kvgg's) at 224x224
@pytest.mark.backend
def test_vgg16_import_gives_peer_posteriors_on_rgb(vgg16_file):
    peer, path = vgg16_file
    model = from_keras_applications("vgg16", weights=path)
    assert model.name == "vgg16" and model.output_shape == (None, 1000)
    np.testing.assert_allclose(
        np.ravel(keras.ops.convert_to_numpy(model.get_layer("preprocess").mean)),
        [123.68, 116.779, 103.939],
        rtol=1e-6,
    )
    assert_same_posteriors(model, peer, "D", random_images(2, size=224))


@pytest.mark.slow  # full-size VGG16s (the peer and kvgg's) at 224x224
def test_cli_import_writes_a_self_contained_file(vgg16_file, tmp_path):
    peer, path = vgg16_file
    out = tmp_path / "vgg16.keras"
    args = ["weights", "import", "--from", "keras", "--file", path, "--config", "D", "--out", out]
    result = CliRunner().invoke(main, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}" in result.output
    info = read_info(out)
    assert info["config"] == "D" and info["batch_norm"] is False
    assert info["weights"]["source"] == "keras.applications"
    assert info["weights"]["preprocessing"]["mean"] == [123.68, 116.779, 103.939]
    assert info["class_names"][0] == "tench, Tinca tinca" and len(info["class_names"]) == 1000
    loaded = keras.saving.load_model(out)
    assert_same_posteriors(loaded, peer, "D", random_images(2, size=224, seed=1))


@pytest.mark.slow
def test_vgg19_import_from_a_keras_file_gives_peer_posteriors(tmp_path):
    peer = random_peer("E")
    peer.save(tmp_path / "vgg19.keras")
    model = from_keras_applications("E", weights=tmp_path / "vgg19.keras")
    assert model.name == "vgg19"
    assert_same_posteriors(model, peer, "E", random_images(2, size=224))


def test_only_d_and_e_are_published(tmp_path):
    with pytest.raises(ValueError, match="config='A'"):
        from_keras_applications("A")
    args = ["weights", "import", "--from", "keras", "--config", "A", "--out", "a.keras"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert "VGG16 (config D) and VGG19 (config E) only" in result.output


@pytest.mark.slow  # builds a full-size VGG16 before it reads the file
def test_missing_and_foreign_files_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        from_keras_applications("D", weights=tmp_path / "absent.h5")
    foreign = tmp_path / "tiny.weights.h5"
    keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)]).save_weights(foreign)
    with pytest.raises(ValueError, match=r"tiny\.weights\.h5: no weights for layer .block1_conv1."):
        from_keras_applications("D", weights=foreign)
