"""Dense, multi-crop and multi-scale evaluation on tiny models whose answer is known."""

import keras
import numpy as np
import pytest

from kvgg.evaluate import DenseScorer, Forward, MultiCropScorer, grid_crops
from kvgg.models.configs import IMAGENET_MEAN_RGB
from kvgg.models.surgery import fully_convolutional
from tests.helpers import tiny_model

CLASS_WEIGHTS = np.array([0.0, 0.01, -0.01])


def red_max_model():
    """A tiny VGG whose logits are ``CLASS_WEIGHTS * m``, m the window's max of (red - mean).

    Every convolution passes channel 0 through its centre tap only (a 1x1 identity), so
    zero padding never matters; ReLUs and max-pools then make block 5 hold, per 32x32
    window, max(red - mean red, 0); the FC layers pass it to the logits.
    """
    model = tiny_model("A", num_classes=3)
    for layer in model.layers:
        if layer.name.startswith("block") and "conv" in layer.name:
            kernel, bias = layer.get_weights()
            kernel[...] = 0
            kernel[kernel.shape[0] // 2, kernel.shape[1] // 2, 0, 0] = 1
            layer.set_weights([kernel, np.zeros_like(bias)])
    for name in ("fc1", "fc2", "predictions"):
        layer = model.get_layer(name)
        kernel, bias = layer.get_weights()
        kernel[...] = 0
        if name == "predictions":
            kernel[0] = CLASS_WEIGHTS
        else:
            kernel[0, 0] = 1
        layer.set_weights([kernel, np.zeros_like(bias)])
    return model


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def window_value(window):
    return max(float((window[..., 0] - IMAGENET_MEAN_RGB[0]).max()), 0.0)


def image_of(height, width, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 255, (height, width, 3)).astype("float32")


def expected_dense(image):
    """Soft-max of the spatially averaged scores, averaged with the mirrored image's."""
    posteriors = []
    for view in (image, image[:, ::-1]):  # a mirrored width 80 sees other 32x32 windows
        rows, cols = view.shape[0] // 32, view.shape[1] // 32
        values = [
            window_value(view[32 * i : 32 * i + 32, 32 * j : 32 * j + 32])
            for i in range(rows)
            for j in range(cols)
        ]
        posteriors.append(softmax(CLASS_WEIGHTS * np.mean(values)))
    return np.mean(posteriors, 0)


def expected_multicrop(image):
    return np.mean([softmax(CLASS_WEIGHTS * window_value(c)) for c in grid_crops(image, 32)], 0)


@pytest.mark.backend
def test_the_constructed_model_computes_the_red_max():
    model = red_max_model()
    image = image_of(32, 32)
    logits = np.log(keras.ops.convert_to_numpy(model(image[None]))[0])
    np.testing.assert_allclose(logits - logits[0], CLASS_WEIGHTS * window_value(image), atol=1e-4)


@pytest.mark.backend
def test_dense_averages_the_score_map_then_applies_the_softmax():
    image = image_of(64, 96)
    scorer = DenseScorer(red_max_model(), scales=[64])
    np.testing.assert_allclose(scorer({64: image}), expected_dense(image), rtol=1e-5)
    # Not the average of per-location posteriors, which differs for a non-uniform map:
    rows = [image[32 * i : 32 * i + 32, 32 * j : 32 * j + 32] for i in range(2) for j in range(3)]
    per_location = np.mean([softmax(CLASS_WEIGHTS * window_value(w)) for w in rows], 0)
    assert not np.allclose(per_location, expected_dense(image), rtol=1e-7, atol=0)


@pytest.mark.backend
def test_multicrop_averages_50_crop_posteriors_per_scale():
    image = image_of(64, 96, seed=1)
    scorer = MultiCropScorer(red_max_model(), scales=[64])
    np.testing.assert_allclose(scorer({64: image}), expected_multicrop(image), rtol=1e-5)


@pytest.mark.backend
def test_multiple_scales_average_the_posteriors_of_each_scale():
    model = red_max_model()
    views = {64: image_of(64, 80, seed=2), 96: image_of(128, 96, seed=3)}
    dense = DenseScorer(model, scales=[64, 96])(views)
    crops = MultiCropScorer(model, scales=[64, 96])(views)
    np.testing.assert_allclose(
        dense, np.mean([expected_dense(v) for v in views.values()], 0), rtol=1e-5
    )
    np.testing.assert_allclose(
        crops, np.mean([expected_multicrop(v) for v in views.values()], 0), rtol=1e-5
    )


@pytest.mark.backend
def test_dense_and_multicrop_agree_where_padding_cannot_matter():
    # At the training size every grid crop is the whole image: both methods see the
    # same pixels with the same zero padding, whatever the weights.
    model = tiny_model("B", batch_norm=True)
    image = image_of(32, 32, seed=4)
    dense = DenseScorer(model, scales=[32])({32: image})
    crops = MultiCropScorer(model, scales=[32])({32: image})
    np.testing.assert_allclose(dense, crops, rtol=1e-5)
    mirrored = keras.ops.convert_to_numpy(model(np.stack([image, image[:, ::-1]])))
    np.testing.assert_allclose(dense, mirrored.mean(0), rtol=1e-5)


@pytest.mark.backend
def test_without_flip_only_the_image_itself_counts():
    model = tiny_model("A")
    image = image_of(32, 32, seed=5)
    dense = DenseScorer(model, scales=[32], flip=False)({32: image})
    np.testing.assert_allclose(dense, keras.ops.convert_to_numpy(model(image[None]))[0], rtol=1e-5)


@pytest.mark.backend
def test_bucket_padding_keeps_the_locations_inside_the_image():
    image = image_of(64, 80, seed=6)  # padded to 64x96; its 2x2 map locations are kept
    model = red_max_model()
    exact = DenseScorer(model, scales=[64], bucket=None)({64: image})
    padded = DenseScorer(model, scales=[64], bucket=32)({64: image})
    np.testing.assert_allclose(padded, exact, rtol=1e-6)
    np.testing.assert_allclose(exact, expected_dense(image), rtol=1e-5)


@pytest.mark.backend
def test_varying_sizes_do_not_retrace_per_image():
    forward = Forward(fully_convolutional(tiny_model("A"), logits=True), bucket=32)
    sizes = [(64, 70), (64, 75), (64, 90), (64, 96), (70, 64), (90, 64)]  # two buckets
    for height, width in sizes:
        padded_map = (3 if height > 64 else 2, 3 if width > 64 else 2)
        assert forward(image_of(height, width)[None]).shape[1:3] == padded_map
    assert forward.traces <= 2  # 0 on PyTorch (eager), 1 on TensorFlow, 2 on JAX


def test_tensorflow_serves_every_size_with_one_exact_trace():
    forward = Forward(fully_convolutional(tiny_model("A"), logits=True), bucket=None)
    for width in (64, 70, 81, 96, 128):
        assert forward(image_of(64, width)[None]).shape == (1, 2, width // 32, 5)
    assert forward.traces == 1


@pytest.mark.parametrize(
    "scorer, message",
    [
        (lambda m: DenseScorer(m, scales=[16]), "at least the model's input size \\(32\\)"),
        (lambda m: MultiCropScorer(m, scales=[]), "At least one test scale"),
        (lambda m: DenseScorer(m, scales=[32], bucket=20), "multiple of 32"),
        (lambda m: DenseScorer(fully_convolutional(m), scales=[32]), "fixed square input"),
    ],
)
def test_bad_settings_are_refused(scorer, message):
    with pytest.raises(ValueError, match=message):
        scorer(tiny_model("A"))
