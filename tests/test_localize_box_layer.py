"""The box layer follows the recipe like every other layer: weight decay and initialiser."""

import keras
import numpy as np
import pytest

import kvgg
from kvgg.localize import build_localizer


@pytest.mark.parametrize("regression", ["scr", "pcr"])
def test_the_box_layer_has_the_recipe_s_weight_decay_and_initialiser(regression):
    net = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3),
                     weight_decay=5e-4, kernel_initializer=0.01)  # fmt: skip
    boxes = build_localizer(net, regression=regression, seed=0).get_layer("boxes")
    fc2 = net.get_layer("fc2")
    assert boxes.kernel_regularizer.get_config() == fc2.kernel_regularizer.get_config()
    assert boxes.kernel_regularizer.get_config()["l2"] == pytest.approx(2.5e-4)  # Caffe's 5e-4
    initializer = boxes.kernel_initializer
    assert isinstance(initializer, keras.initializers.RandomNormal)
    assert initializer.stddev == pytest.approx(0.01)
    assert np.std(keras.ops.convert_to_numpy(boxes.kernel)) == pytest.approx(0.01, rel=0.5)


def test_the_box_layer_s_decay_is_in_the_loss_and_its_seed_is_kept():
    net = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3),
                     weight_decay=5e-4)  # fmt: skip
    a = build_localizer(net, regression="pcr", seed=3)
    b = build_localizer(net, regression="pcr", seed=3)
    np.testing.assert_array_equal(a.get_layer("boxes").get_weights()[0],
                                  b.get_layer("boxes").get_weights()[0])  # fmt: skip
    a(np.zeros((1, 32, 32, 3), "float32"))
    assert len(a.losses) == len(net.losses)  # the box layer's replaces the predictions'


def test_no_weight_decay_gives_none_on_the_box_layer_too():
    net = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3), weight_decay=0)
    assert build_localizer(net).get_layer("boxes").kernel_regularizer is None
