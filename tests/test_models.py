import keras
import numpy as np
import pytest

import kvgg
from kvgg.models import CONFIGS, profile
from tests.helpers import assert_model_roundtrip, random_images, run_python, tiny_model

pytestmark = pytest.mark.backend

PAPER_PARAMS = {
    "A": 132_863_336,
    "A-LRN": 132_863_336,
    "B": 133_047_848,
    "C": 133_638_952,
    "D": 138_357_544,
    "E": 143_667_240,
}
PAPER_GMACS = {"A": 7.61, "A-LRN": 7.61, "B": 11.31, "C": 11.77, "D": 15.47, "E": 19.63}
# Table 1 as printed (PAPER.md), block by block: the kernel size of each convolution.
PAPER_TABLE_1 = {
    "A": ([3], [3], [3, 3], [3, 3], [3, 3]),
    "A-LRN": ([3], [3], [3, 3], [3, 3], [3, 3]),
    "B": ([3, 3], [3, 3], [3, 3], [3, 3], [3, 3]),
    "C": ([3, 3], [3, 3], [3, 3, 1], [3, 3, 1], [3, 3, 1]),
    "D": ([3, 3], [3, 3], [3, 3, 3], [3, 3, 3], [3, 3, 3]),
    "E": ([3, 3], [3, 3], [3, 3, 3, 3], [3, 3, 3, 3], [3, 3, 3, 3]),
}
PAPER_WEIGHT_LAYERS = {"A": 11, "A-LRN": 11, "B": 13, "C": 16, "D": 16, "E": 19}
PAPER_BLOCK_WIDTHS = (64, 128, 256, 512, 512)


def _conv_layers(model):
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]


def test_the_configs_are_the_papers():
    assert sorted(CONFIGS) == sorted(PAPER_TABLE_1)


@pytest.mark.parametrize("config", list(PAPER_TABLE_1))
def test_every_config_walks_table_1(config):
    model = kvgg.build(config, width=1 / 16, input_shape=(32, 32, 3), num_classes=5)
    blocks = [
        [
            (layer.kernel.shape[0], layer.kernel.shape[-1] * 16)
            for layer in _conv_layers(model)
            if layer.name.startswith(f"block{b}_")
        ]
        for b in range(1, 6)
    ]
    assert blocks == [
        [(kernel, width) for kernel in kernels]
        for kernels, width in zip(PAPER_TABLE_1[config], PAPER_BLOCK_WIDTHS, strict=True)
    ]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    assert len(sum(blocks, [])) + len(dense) == PAPER_WEIGHT_LAYERS[config]
    assert model.get_layer("block5_pool").output.shape[1:3] == (1, 1)
    assert model.output_shape == (None, 5)
    assert ("block1_lrn" in [layer.name for layer in model.layers]) == (config == "A-LRN")


@pytest.mark.parametrize("config", list(PAPER_PARAMS))
def test_full_width_parameter_counts_are_the_papers(config):
    # Full width at 32x32 (fast to build): FC-1 then sees 1x1 positions of block 5's 512
    # maps instead of 7x7 at 224x224, 48 * 512 * 4096 weights fewer; nothing else changes.
    model = kvgg.build(config, input_shape=(32, 32, 3))
    assert model.count_params() + 48 * 512 * 4096 == PAPER_PARAMS[config]


@pytest.mark.parametrize(
    "alias, letter",
    [
        ("vgg11", "A"),
        ("VGG11_LRN", "A-LRN"),
        ("vgg13", "B"),
        ("vgg16_conv1", "C"),
        ("Vgg16", "D"),
        ("vgg19", "E"),
        ("d", "D"),
        ("a-lrn", "A-LRN"),
    ],
)
def test_aliases_are_case_insensitive(alias, letter):
    assert kvgg.get_config(alias) is CONFIGS[letter]


def test_layer_names_follow_keras_applications():
    names = [layer.name for layer in tiny_model("D").layers]
    assert names[:4] == ["image", "preprocess", "block1_conv1", "block1_conv2"]
    assert names[-8:] == [
        "block5_conv3",
        "block5_pool",
        "flatten",
        "fc1",
        "fc1_dropout",
        "fc2",
        "fc2_dropout",
        "predictions",
    ]
    c_names = [layer.name for layer in tiny_model("C").layers]
    assert "block3_conv3" in c_names and CONFIGS["C"].kernels[2][2] == 1
    assert tiny_model("C").get_layer("block3_conv3").kernel.shape[:2] == (1, 1)


@pytest.mark.slow
@pytest.mark.parametrize("config", list(CONFIGS))
def test_exact_parameter_counts_and_macs(config):
    model = kvgg.build(config)
    assert model.count_params() == PAPER_PARAMS[config]
    assert round(sum(r.macs for r in profile(model)) / 1e9, 2) == PAPER_GMACS[config]


@pytest.mark.slow  # a full-size VGG16 at 224x224
def test_activation_memory_of_vgg16_matches_the_per_layer_listing():
    # The seeds' (cs231n's) per-layer listing for VGG16: input 150K, then conv and pool maps.
    listing = [224 * 224 * 3] + [224 * 224 * 64] * 2 + [112 * 112 * 64]
    listing += [112 * 112 * 128] * 2 + [56 * 56 * 128] + [56 * 56 * 256] * 3 + [28 * 28 * 256]
    listing += [28 * 28 * 512] * 3 + [14 * 14 * 512] * 4 + [7 * 7 * 512] + [4096, 4096, 1000]
    rows = profile(kvgg.build("D", include_top=True))
    assert sum(r.activations for r in rows) == sum(listing) == 15_237_608


def test_headless_and_pooling():
    features = tiny_model("B", include_top=False, input_shape=(None, None, 3))
    assert features.output_shape == (None, None, None, 32)
    out = features(random_images(1, size=64))
    assert tuple(out.shape) == (1, 2, 2, 32)
    pooled = tiny_model("B", include_top=False, pooling="avg", input_shape=(None, None, 3))
    pooled.set_weights(features.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(pooled(random_images(1, size=64)))[0],
        keras.ops.convert_to_numpy(out)[0].mean(axis=(0, 1)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_non_224_input_with_classifier():
    model = kvgg.build("A", width=1 / 16, input_shape=(64, 96, 3), num_classes=3)
    assert model.get_layer("fc1").kernel.shape[0] == 2 * 3 * 32
    image = np.zeros((1, 64, 96, 3), "float32")
    assert tuple(model(image).shape) == (1, 3)


def test_preprocessing_layer_subtracts_the_mean_and_can_be_turned_off():
    images = random_images(2)
    with_pre = tiny_model("A", mean=(10.0, 20.0, 30.0), std=(2.0, 4.0, 8.0), dropout=0)
    without = tiny_model("A", preprocess=False, dropout=0)
    without.set_weights(with_pre.get_weights())
    normalised = (images - np.array([10.0, 20.0, 30.0])) / np.array([2.0, 4.0, 8.0])
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(with_pre(images)),
        keras.ops.convert_to_numpy(without(normalised.astype("float32"))),
        rtol=1e-4,
        atol=1e-6,
    )


def test_dropout_is_in_the_head_and_only_in_training():
    model = tiny_model("A", dropout=0.5)
    images = random_images(4)
    a = keras.ops.convert_to_numpy(model(images, training=False))
    b = keras.ops.convert_to_numpy(model(images, training=False))
    np.testing.assert_array_equal(a, b)
    assert model.get_layer("fc1_dropout").rate == 0.5
    assert "fc1_dropout" not in [layer.name for layer in tiny_model("A", dropout=0).layers]


def test_logits_and_softmax():
    logits_model = tiny_model("A", classifier_activation=None, dropout=0)
    softmax_model = tiny_model("A", dropout=0)
    softmax_model.set_weights(logits_model.get_weights())
    images = random_images(2)
    logits = keras.ops.convert_to_numpy(logits_model(images))
    probs = keras.ops.convert_to_numpy(softmax_model(images))
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(probs, expected / expected.sum(1, keepdims=True), rtol=1e-4)


def test_weight_decay_has_caffe_semantics():
    model = tiny_model("A", weight_decay=5e-4, batch_norm=True)
    model(random_images(1))
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    penalty = sum(float(keras.ops.sum(keras.ops.square(k))) for k in kernels)
    # The loss term 2.5e-4 * sum(w^2) has gradient 5e-4 * w: Caffe's weight_decay=5e-4.
    assert float(sum(model.losses)) == pytest.approx(2.5e-4 * penalty, rel=1e-4)
    assert all(
        layer.kernel_regularizer.l2 == pytest.approx(2.5e-4)
        for layer in model.layers
        if hasattr(layer, "kernel")
    )


def test_float_initializer_is_a_zero_mean_normal_with_that_std():
    model = kvgg.build("A", width=1 / 4, input_shape=(32, 32, 3), kernel_initializer=0.01)
    kernel = keras.ops.convert_to_numpy(model.get_layer("block4_conv1").kernel)
    assert abs(kernel.mean()) < 1e-3
    assert kernel.std() == pytest.approx(0.01, rel=0.05)
    assert not keras.ops.convert_to_numpy(model.get_layer("block4_conv1").bias).any()


def test_batch_norm_variant_uses_torchvision_layout():
    model = tiny_model("B", batch_norm=True)
    names = [layer.name for layer in model.layers]
    i = names.index("block1_conv1")
    assert names[i : i + 3] == ["block1_conv1", "block1_conv1_bn", "block1_conv1_relu"]
    assert model.get_layer("block1_conv1").activation.__name__ == "linear"
    assert model.name == "vgg13_bn"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"config": "F"}, "config='F'"),
        ({"pooling": "sum", "include_top": False}, "pooling='sum'"),
        ({"pooling": "avg"}, "include_top=True"),
        ({"num_classes": 0}, "num_classes=0"),
        ({"dropout": 1.0}, "dropout=1.0"),
        ({"width": 0}, "width=0"),
        ({"weight_decay": -1}, "weight_decay=-1"),
        ({"input_shape": (None, None, 3)}, "input_shape=(None, None, 3)"),
        ({"input_shape": (16, 16, 3)}, "input_shape=(16, 16, 3)"),
        ({"input_shape": (32, 32, 1)}, "mean="),
        ({"std": (1.0, 0.0, 1.0)}, "std="),
    ],
)
def test_invalid_arguments_name_the_argument(kwargs, message):
    config = kwargs.pop("config", "A")
    with pytest.raises(ValueError, match="Received") as info:
        kvgg.build(config, **kwargs)
    assert message in str(info.value)


@pytest.mark.parametrize("config", ["A", "A-LRN", "C", "D", "E"])
def test_roundtrip(config, tmp_path):
    assert_model_roundtrip(tiny_model(config), random_images(2), tmp_path)


def test_saved_files_load_in_a_fresh_process_with_plain_keras(tmp_path):
    images = random_images(2)
    np.save(tmp_path / "x.npy", images)
    for config, batch_norm in (("D", False), ("B", True), ("A-LRN", False)):
        model = tiny_model(config, batch_norm=batch_norm)
        model.save(tmp_path / f"{config}.keras")
        np.save(tmp_path / f"{config}.npy", keras.ops.convert_to_numpy(model(images)))
    # One fresh interpreter (importing TensorFlow is most of the time): plain Keras first.
    run_python(
        """
        import sys, numpy as np, keras
        def check(config):
            out = keras.saving.load_model(config + ".keras")(np.load("x.npy"))
            np.testing.assert_allclose(keras.ops.convert_to_numpy(out), np.load(config + ".npy"),
                                       rtol=1e-5, atol=1e-6)
        for config in ("D", "B"):
            check(config)
        assert "kvgg" not in sys.modules
        import kvgg.layers  # registers the LRN layer (kvgg.__doc__)
        check("A-LRN")
        model = keras.saving.load_model("A-LRN.keras")
        assert type(model.get_layer("block1_lrn")).__name__ == "LocalResponseNormalization"
        """,
        backend=keras.backend.backend(),
        cwd=tmp_path,
    )
