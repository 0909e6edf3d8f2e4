"""Named feature maps, perceptual and style losses: values against NumPy, gradients, compile."""

from __future__ import annotations

import keras
import numpy as np
import pytest

import kvgg
from kvgg.perceptual import (
    PerceptualLoss,
    StyleLoss,
    feature_info,
    features,
    layer_name,
)
from tests.helpers import random_images

pytestmark = pytest.mark.backend


def gradient_wrt_input(fn, x) -> np.ndarray:
    """d sum(fn(x)) / dx with the running backend's own autodiff."""
    backend = keras.backend.backend()
    x = np.asarray(x, dtype="float32")
    if backend == "tensorflow":
        import tensorflow as tf

        x = tf.convert_to_tensor(x)
        with tf.GradientTape() as tape:
            tape.watch(x)
            total = keras.ops.sum(fn(x))
        return tape.gradient(total, x).numpy()
    if backend == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: keras.ops.sum(fn(v)))(x))
    if backend == "torch":
        import torch

        x = torch.tensor(x, requires_grad=True)
        keras.ops.sum(fn(x)).backward()
        return x.grad.cpu().numpy()
    raise NotImplementedError(backend)


def numpy_maps(extractor, images) -> dict[str, np.ndarray]:
    return {k: keras.ops.convert_to_numpy(v) for k, v in extractor(images).items()}


@pytest.fixture(scope="module")
def net():
    keras.utils.set_random_seed(0)
    return kvgg.build("D", width=1 / 16, num_classes=5, input_shape=(32, 32, 3))


def test_feature_info_names_channels_and_strides_of_every_map():
    info = feature_info(kvgg.build("E", width=1 / 16, include_top=False))
    names = [i.name for i in info]
    assert names[:3] == ["relu1_1", "relu1_2", "pool1"] and names[-2:] == ["relu5_4", "pool5"]
    assert len(names) == 16 + 5
    by_name = {i.name: i for i in info}
    assert (by_name["relu3_4"].layer, by_name["relu3_4"].channels) == ("block3_conv4", 256 // 16)
    assert [by_name[f"relu{b}_1"].stride for b in range(1, 6)] == [1, 2, 4, 8, 16]
    assert by_name["pool5"].stride == 32
    bn = kvgg.build("B", width=1 / 16, batch_norm=True)
    assert layer_name(bn, "relu1_2") == "block1_conv2_relu"  # after BN, not the bare conv


def test_features_are_the_nets_own_maps_at_any_size(net):
    names = ["relu1_2", "relu3_3", "pool4", "block5_conv1"]
    extractor = features(net, names)
    images = random_images(2, size=32)
    maps = numpy_maps(extractor, images)
    assert sorted(maps) == sorted(names)
    for name in names:
        own = keras.Model(net.input, net.get_layer(layer_name(net, name)).output)
        expected = keras.ops.convert_to_numpy(own(images))
        np.testing.assert_allclose(maps[name], expected, rtol=1e-5, atol=1e-5)
    larger = numpy_maps(extractor, random_images(1, size=64)[:, :, :48])  # 64 x 48
    assert larger["relu3_3"].shape == (1, 16, 12, 16)


def test_feature_net_is_frozen_and_independent_of_later_training(net):
    extractor = features(net, ["relu2_2"])
    images = random_images(1)
    before = numpy_maps(extractor, images)["relu2_2"]
    assert extractor.trainable_weights == []
    net.get_layer("block1_conv1").kernel.assign(net.get_layer("block1_conv1").kernel * 2)
    np.testing.assert_array_equal(numpy_maps(extractor, images)["relu2_2"], before)
    net.get_layer("block1_conv1").kernel.assign(net.get_layer("block1_conv1").kernel / 2)


def test_unknown_feature_name_lists_the_available_ones(net):
    with pytest.raises(ValueError, match=r"no feature map 'relu3_4'.*relu3_3"):
        features(net, ["relu3_4"])  # VGG-16 has three convolutions in block 3


def test_perceptual_loss_equals_numpy(net):
    layers, weights = ("relu1_2", "relu2_2", "relu3_3"), (1.0, 0.5, 2.0)
    loss = PerceptualLoss(layers, weights, backbone=net)
    y_true, y_pred = random_images(3, seed=1), random_images(3, seed=2)
    true, pred = numpy_maps(loss.feature_net, y_true), numpy_maps(loss.feature_net, y_pred)
    per_image = sum(
        w * ((pred[n].astype("float64") - true[n]) ** 2).mean(axis=(1, 2, 3))
        for n, w in zip(layers, weights, strict=True)
    )
    assert per_image.min() > 0
    value = keras.ops.convert_to_numpy(loss(y_true, y_pred))
    np.testing.assert_allclose(value, per_image.mean(), rtol=1e-5)


def test_style_loss_equals_numpy_with_a_style_image_of_another_size(net):
    layers = ("relu1_1", "relu2_1", "relu3_1")
    loss = StyleLoss(layers, (1.0, 2.0, 3.0), backbone=net)
    style, images = random_images(1, size=48, seed=3), random_images(2, seed=4)
    true, pred = numpy_maps(loss.feature_net, style), numpy_maps(loss.feature_net, images)

    def gram(f):
        f = f.astype("float64")
        return np.einsum("bhwc,bhwd->bcd", f, f) / np.prod(f.shape[1:])

    per_image = sum(
        w * ((gram(pred[n]) - gram(true[n])) ** 2).sum(axis=(1, 2))
        for n, w in zip(layers, (1.0, 2.0, 3.0), strict=True)
    )
    assert per_image.min() > 0
    value = keras.ops.convert_to_numpy(loss(style, images))
    np.testing.assert_allclose(value, per_image.mean(), rtol=1e-4)


@pytest.mark.parametrize("loss_class", [PerceptualLoss, StyleLoss])
def test_loss_gradient_reaches_the_image(net, loss_class):
    loss = loss_class(backbone=net, layers=["relu1_2", "relu3_3"])
    target, start = random_images(1, seed=5), random_images(1, seed=6)
    gradient = gradient_wrt_input(lambda x: loss(target, x), start)
    assert gradient.shape == start.shape
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_perceptual_loss_trains_a_model_in_compile(net):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(3, 3, padding="same")(x)
    model = keras.Model(inputs, outputs)
    loss = PerceptualLoss(layers=["relu1_2", "relu2_2"], backbone=net)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss)
    images = random_images(4)
    frozen = [w.copy() for w in loss.feature_net.get_weights()]
    history = model.fit(images, images, epochs=5, batch_size=4, verbose=0).history["loss"]
    assert np.isfinite(history).all() and history[-1] < history[0]
    for after, before in zip(loss.feature_net.get_weights(), frozen, strict=True):
        np.testing.assert_array_equal(after, before)


def test_bad_layer_weights_are_refused(net):
    with pytest.raises(ValueError, match="one finite, non-negative number per layer"):
        PerceptualLoss(["relu1_2", "relu2_2"], [1.0], backbone=net)


def test_lpips_without_its_weights_says_how_to_get_them(monkeypatch):
    import kvgg.perceptual.lpips as module

    monkeypatch.setattr(module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match=r"pass linear=.*pip install --no-deps lpips"):
        module.lpips_linear_weights()


def test_lpips_refuses_pairs_of_different_shapes_or_tiny_images():
    from kvgg.perceptual import LPIPS

    keras.utils.set_random_seed(0)
    lpips = LPIPS(
        kvgg.build("D", include_top=False), [np.ones(c) for c in (64, 128, 256, 512, 512)]
    )
    with pytest.raises(ValueError, match=r"one shape.*\(1, 32, 32, 3\) and \(1, 32, 48, 3\)"):
        lpips(random_images(1), random_images(1, size=48)[:, :32])
    with pytest.raises(ValueError, match=r"at least 16x16 .*Received: 8x8"):
        lpips(random_images(1, size=8), random_images(1, size=8))
    with pytest.raises(ValueError, match="full-width VGG-16"):
        LPIPS(
            kvgg.build("D", width=1 / 16, include_top=False),
            [np.ones(c) for c in (64, 128, 256, 512, 512)],
        )


@pytest.mark.parametrize("loss_class", [PerceptualLoss, StyleLoss])
def test_model_compiled_with_the_loss_saves_and_reloads_with_the_same_loss(
    net, loss_class, tmp_path
):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, keras.layers.Conv2D(3, 3, padding="same")(inputs))
    loss = loss_class(["relu1_2", "relu2_2"], [1.0, 0.5], backbone=net, name="my_loss")
    model.compile(optimizer="adam", loss=loss)
    images, targets = random_images(2, seed=7), random_images(2, seed=8)
    model.fit(images, targets, epochs=1, verbose=0)
    before = model.evaluate(images, targets, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)

    reloaded = keras.saving.load_model(path)
    reloaded_loss = reloaded.loss
    assert isinstance(reloaded_loss, loss_class) and reloaded_loss is not loss
    assert reloaded_loss.layers == ("relu1_2", "relu2_2")
    assert (reloaded_loss.layer_weights, reloaded_loss.name) == ((1.0, 0.5), "my_loss")
    np.testing.assert_allclose(reloaded.evaluate(images, targets, verbose=0), before, rtol=1e-5)
    expected = keras.ops.convert_to_numpy(loss(targets, images))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(reloaded_loss(targets, images)), expected, rtol=1e-5
    )
