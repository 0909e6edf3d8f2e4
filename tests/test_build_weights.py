"""`kvgg.build(weights=...)`: saved files, headless bases, wrong files, and the offline hint."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from click.testing import CliRunner

import kvgg
from kvgg.cli import main
from tests.helpers import random_images

TINY = {"width": 1 / 16, "input_shape": (32, 32, 3), "num_classes": 5}


@pytest.fixture(scope="module")
def trained_like(tmp_path_factory):
    """A tiny model with non-initial weights, saved as .keras and as .weights.h5."""
    model = kvgg.build("A", **TINY)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if layer.weights and layer.name != "preprocess":
            layer.set_weights(
                [rng.normal(0, 0.2, w.shape).astype("float32") for w in layer.weights]
            )
    folder = tmp_path_factory.mktemp("weights")
    model.save(folder / "tiny.keras")
    model.save_weights(folder / "tiny.weights.h5")
    return model, folder


@pytest.mark.backend
@pytest.mark.parametrize("file_name", ["tiny.keras", "tiny.weights.h5"])
def test_build_from_a_file_gives_identical_predictions(trained_like, file_name):
    source, folder = trained_like
    images = random_images(3, size=32)
    model = kvgg.build("A", weights=folder / file_name, **TINY)
    expected = keras.ops.convert_to_numpy(source(images, training=False))
    assert expected.std() > 1e-3, "source model too close to constant to compare"
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(images)), expected)


@pytest.mark.backend
def test_headless_base_from_a_full_file_and_pooling_shapes(trained_like):
    source, folder = trained_like
    images = random_images(2, size=64)
    base = kvgg.build(
        "A",
        weights=folder / "tiny.keras",
        include_top=False,
        width=1 / 16,
        input_shape=(None, None, 3),
    )
    assert base.output_shape == (None, None, None, 32)
    features = keras.ops.convert_to_numpy(base(images))
    assert features.shape == (2, 2, 2, 32)
    source_base = keras.Model(source.input, source.get_layer("block5_pool").output)
    small = random_images(2, size=32)
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(base(small)), keras.ops.convert_to_numpy(source_base(small))
    )
    for pooling in ("avg", "max"):
        pooled = kvgg.build(
            "A",
            weights=folder / "tiny.weights.h5",
            include_top=False,
            pooling=pooling,
            width=1 / 16,
            input_shape=(None, None, 3),
        )
        assert pooled.output_shape == (None, 32)
        reduce = np.mean if pooling == "avg" else np.max
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(pooled(images)), reduce(features, axis=(1, 2)), rtol=1e-5
        )


def test_wrong_architecture_names_the_file_and_the_layer(trained_like):
    _, folder = trained_like
    path = folder / "tiny.keras"
    with pytest.raises(ValueError, match=r"tiny\.keras: no weights for layer 'block1_conv2'"):
        kvgg.build("B", weights=path, **TINY)
    with pytest.raises(ValueError, match=r"tiny\.weights\.h5 layer 'block1_conv1'.*\(3, 3, 3, 8\)"):
        kvgg.build("A", weights=folder / "tiny.weights.h5", **(TINY | {"width": 1 / 8}))
    with pytest.raises(ValueError, match=r"tiny\.keras.*'predictions'"):
        kvgg.build("A", weights=path, **(TINY | {"num_classes": 7}))
    with pytest.raises(ValueError, match=r"tiny\.keras preprocesses inputs with mean"):
        kvgg.build("A", weights=path, mean=(0.0, 0.0, 0.0), **TINY)
    headless = folder / "no_mean_layer.weights.h5"  # like a keras.applications model's file
    kvgg.build("A", preprocess=False, **TINY).save_weights(headless)
    with pytest.raises(ValueError, match=r"no_mean_layer\.weights\.h5: .*'preprocess'"):
        kvgg.build("A", weights=headless, **TINY)
    with pytest.raises(FileNotFoundError, match="absent.keras"):
        kvgg.build("A", weights=folder / "absent.keras", **TINY)
    text = folder / "notes.weights.h5"
    text.write_text("not HDF5")
    with pytest.raises(ValueError, match=r"notes\.weights\.h5 is not a Keras weights file"):
        kvgg.build("A", weights=text, **TINY)


@pytest.mark.parametrize("file_name", ["tiny.keras", "tiny.weights.h5"])
def test_a_file_of_a_deeper_configuration_is_refused_naming_its_extra_layer(
    trained_like, tmp_path, file_name
):
    # B's file holds every layer A has, with A's shapes, plus two more convolutions: loading
    # it into A by layer name would silently drop them.
    _, folder = trained_like
    deeper = kvgg.build("B", **TINY)
    lrn = kvgg.build("A-LRN", **TINY)
    save = (
        (lambda m, p: m.save(p))
        if file_name.endswith(".keras")
        else (lambda m, p: m.save_weights(p))
    )
    save(deeper, tmp_path / f"b.{file_name.split('.', 1)[1]}")
    save(lrn, tmp_path / f"lrn.{file_name.split('.', 1)[1]}")
    suffix = file_name.split(".", 1)[1]
    with pytest.raises(ValueError, match=rf"b\.{suffix}: .*layer 'block1_conv2'.*configuration"):
        kvgg.build("A", weights=tmp_path / f"b.{suffix}", **TINY)
    with pytest.raises(ValueError, match=rf"lrn\.{suffix}: .*layer 'block1_lrn'"):
        kvgg.build("A", weights=tmp_path / f"lrn.{suffix}", **TINY)
    with pytest.raises(ValueError, match=r"no weights for layer 'block1_conv2'"):
        kvgg.build("B", weights=folder / file_name, **TINY)


def test_weights_of_the_wrong_type_are_named():
    with pytest.raises(
        TypeError, match=r"`weights` must be None, 'imagenet' or the path.*weights=123"
    ):
        kvgg.build("A", weights=123, **TINY)


def test_imagenet_weights_exist_for_d_and_e_only_at_their_size():
    with pytest.raises(ValueError, match="configs D .* and E .* only.*config='A'"):
        kvgg.build("A", weights="imagenet")
    with pytest.raises(ValueError, match="num_classes=1000 and 224x224"):
        kvgg.build("D", weights="imagenet", num_classes=10)


@pytest.fixture
def offline(monkeypatch):
    def fail(fname, origin, **kwargs):
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -2] Name not known")

    monkeypatch.setattr(keras.utils, "get_file", fail)


def test_offline_imagenet_error_says_where_to_download_and_how_to_pass(offline):
    url = (
        "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/"
        "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    )
    with pytest.raises(ValueError) as error:
        kvgg.build("D", weights="imagenet", include_top=False, input_shape=(None, None, 3))
    message = str(error.value)
    assert f"Download {url} elsewhere" in message
    assert "--file vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert ".keras/models/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in message
    assert "\n" not in message


def test_cli_import_offline_gives_the_hint_and_exit_2(offline, tmp_path):
    out = str(tmp_path / "vgg19.keras")
    args = ["weights", "import", "--from", "keras", "--config", "E", "--out", out]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "vgg19/vgg19_weights_tf_dim_ordering_tf_kernels.h5 elsewhere" in result.output
    assert "--file vgg19_weights_tf_dim_ordering_tf_kernels.h5" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "vgg19.keras").exists()
