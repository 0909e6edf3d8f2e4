import keras
import numpy as np
import pytest

import kvgg
from kvgg.models.surgery import fully_convolutional
from tests.helpers import assert_model_roundtrip, random_images, tiny_model

# float32 tolerance: the 7x7 convolution sums the same products as the dense layer in
# another order.
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


@pytest.mark.backend
@pytest.mark.parametrize(
    "config, options",
    [
        ("A", {}),
        ("A-LRN", {}),
        ("C", {"batch_norm": True}),
        ("E", {"classifier_activation": None}),
    ],
)
def test_output_at_the_native_size_equals_the_classifier(config, options):
    # 64x96 input: FC-1 sees a 2x3 map, so the flatten order (rows, columns, channels) of
    # its reshaped kernel matters and a transposed or channel-first reshape would differ.
    model = tiny_model(config, input_shape=(64, 96, 3), **options)
    assert model.get_layer("flatten").input.shape[1:3] == (2, 3)
    images = np.random.default_rng(0).uniform(0, 255, (3, 64, 96, 3)).astype("float32")
    fcn = fully_convolutional(model)
    assert fcn.get_layer("fc1").kernel.shape[:2] == (2, 3)
    scores = _numpy(fcn(images))
    assert scores.shape == (3, 1, 1, 5)
    np.testing.assert_allclose(scores[:, 0, 0], _numpy(model(images)), **TOLERANCE)


@pytest.mark.backend
def test_full_geometry_gives_a_7x7_fc1_kernel_and_a_6x6_map_at_384():
    model = kvgg.build("D", width=1 / 16, fc_units=32, num_classes=7)
    fcn = fully_convolutional(model)
    assert fcn.get_layer("fc1").kernel.shape == (7, 7, 32, 32)
    assert fcn.input_shape == (None, None, None, 3)
    images = random_images(2, size=224)
    np.testing.assert_allclose(_numpy(fcn(images))[:, 0, 0], _numpy(model(images)), **TOLERANCE)
    assert tuple(fcn(random_images(1, size=384)).shape) == (1, 6, 6, 7)


@pytest.mark.backend
def test_map_holds_posteriors_per_location_or_logits_on_request():
    model = tiny_model("A")
    image = random_images(1, size=96)
    posteriors = _numpy(fully_convolutional(model)(image))
    logits = _numpy(fully_convolutional(model, logits=True)(image))
    assert posteriors.shape == logits.shape == (1, 3, 3, 5)
    np.testing.assert_allclose(posteriors.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(_numpy(keras.ops.softmax(logits)), posteriors, **TOLERANCE)


@pytest.mark.backend
def test_until_fc2_gives_the_fc2_relu_descriptor_map():
    model = tiny_model("B")
    images = random_images(2)
    descriptor = keras.Model(model.input, model.get_layer("fc2").output)
    features = fully_convolutional(model, until="fc2")
    assert features.output_shape == (None, None, None, 256)
    np.testing.assert_allclose(
        _numpy(features(images))[:, 0, 0], _numpy(descriptor(images)), **TOLERANCE
    )
    assert _numpy(features(random_images(1, size=64))).min() >= 0  # after the ReLU


def test_saves_and_loads_with_plain_keras(tmp_path):
    fcn = fully_convolutional(tiny_model("A-LRN", batch_norm=True))
    assert_model_roundtrip(fcn, random_images(2, size=64), tmp_path)


def test_dense_evaluation_of_a_non_square_image_gives_a_non_square_map():
    fcn = fully_convolutional(tiny_model("A"))
    image = np.random.default_rng(1).uniform(0, 255, (1, 64, 160, 3)).astype("float32")
    assert tuple(fcn(image).shape) == (1, 2, 5, 5)


@pytest.mark.parametrize(
    "model, message",
    [
        (kvgg.build("A", width=1 / 16, include_top=False, input_shape=(32, 32, 3)), "'flatten'"),
        (keras.Sequential([keras.Input((8,)), keras.layers.Dense(3)]), "'flatten', 'fc1'"),
    ],
)
def test_a_model_that_is_not_a_vgg_classifier_is_refused(model, message):
    with pytest.raises(ValueError, match=message):
        fully_convolutional(model)


def test_an_unknown_stop_is_refused():
    with pytest.raises(ValueError, match="until='fc3'"):
        fully_convolutional(tiny_model("A"), until="fc3")


@pytest.mark.backend
def test_the_copy_keeps_every_layers_initializers_and_its_own_weights():
    # The copies are built with zeros for speed, then given the weights: their
    # configurations (what a saved fully-convolutional file records) are unchanged.
    model = tiny_model("C", batch_norm=True)
    fcn = fully_convolutional(model)
    default = keras.layers.Conv2D(1, 1).get_config()
    for layer in fcn.layers:
        config = layer.get_config()
        source = model.get_layer(layer.name).get_config() if layer.name != "image" else {}
        for key in (key for key in config if key.endswith("_initializer")):
            expected = default[key] if layer.name in ("fc1", "fc2", "predictions") else source[key]
            assert config[key] == expected, (layer.name, key)
    before = _numpy(fcn(random_images(1, size=96)))
    first = model.get_layer("block1_conv1")
    first.kernel.assign(np.zeros(first.kernel.shape))  # the classifier changes, not its copy
    np.testing.assert_array_equal(_numpy(fcn(random_images(1, size=96))), before)
