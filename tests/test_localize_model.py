"""The localisation net: built from a classifier, saved without kvgg, fully convolutional;
the SCR/PCR losses use the right four outputs."""

import keras
import numpy as np
import pytest

from kvgg.localize import BoxAccuracy, BoxLoss, build_localizer
from kvgg.models.surgery import fully_convolutional
from tests.helpers import assert_model_roundtrip, random_images, run_python, tiny_model


@pytest.mark.backend
def test_pcr_net_keeps_the_classifier_and_adds_a_random_box_head(tmp_path):
    classifier = tiny_model("A", num_classes=5)
    net = build_localizer(classifier, regression="pcr", seed=1)
    assert net.output_shape == (None, 20)
    assert net.get_layer("boxes").get_config()["activation"] == "linear"
    for name in ("block1_conv1", "fc1", "fc2"):
        for ours, theirs in zip(
            net.get_layer(name).get_weights(),
            classifier.get_layer(name).get_weights(),
            strict=True,
        ):
            np.testing.assert_array_equal(ours, theirs)
    # A copy: training the localiser leaves the classifier alone.
    assert net.get_layer("fc1") is not classifier.get_layer("fc1")
    assert_model_roundtrip(net, random_images(2), tmp_path)


def test_scr_net_has_four_outputs_and_fc_fine_tuning_freezes_the_convolutions():
    net = build_localizer(tiny_model("A"), regression="scr", fine_tune="fc")
    assert net.output_shape == (None, 4)
    trainable = {layer.name for layer in net.layers if layer.trainable and layer.weights}
    assert trainable == {"fc1", "fc2", "boxes"}
    all_layers = build_localizer(tiny_model("A"), fine_tune="all")
    assert all(layer.trainable for layer in all_layers.layers)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="regression='box'"):
        build_localizer(tiny_model("A"), regression="box")
    with pytest.raises(ValueError, match="fine_tune='conv'"):
        build_localizer(tiny_model("A"), fine_tune="conv")
    headless = keras.Model(*(lambda m: (m.input, m.get_layer("fc1").output))(tiny_model("A")))
    with pytest.raises(ValueError, match="'fc2' and 'predictions'"):
        build_localizer(headless)


@pytest.mark.slow  # a fresh interpreter: ~10 s of Keras start-up
def test_saved_localizer_loads_without_kvgg(tmp_path):
    net = build_localizer(tiny_model("A"), regression="pcr", seed=0)
    net.compile(optimizer="sgd", loss=BoxLoss())
    path = tmp_path / "loc.keras"
    net.save(path)
    expected = net.predict(random_images(1), verbose=0)
    np.save(tmp_path / "x.npy", random_images(1))
    out = run_python(
        f"""
        import sys, numpy as np, keras
        model = keras.saving.load_model({str(path)!r}, compile=False)
        y = model.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0)
        print(y.shape, repr(y.ravel()[:3].tolist()))
        assert not [m for m in sys.modules if m.startswith("kvgg")]
        """
    )
    assert out.startswith("(1, 20)")
    np.testing.assert_allclose(eval(out.split(" ", 2)[2]), expected.ravel()[:3], rtol=1e-5)


@pytest.mark.backend
def test_fully_convolutional_localizer_gives_a_box_per_location_and_class():
    net = build_localizer(tiny_model("A", num_classes=3), regression="pcr", seed=0)
    fcn = fully_convolutional(net)
    images = random_images(1, size=96)
    box_map = keras.ops.convert_to_numpy(fcn(images))
    assert box_map.shape == (1, 3, 3, 12)  # (96 / 32 - 1 + 1)^2 windows, 4 x 3 classes
    # On the net's own input size the map is one location: the net's own boxes.
    window = images[:, 32:64, 64:96]
    one = keras.ops.convert_to_numpy(fcn(window))
    assert one.shape == (1, 1, 1, 12)
    np.testing.assert_allclose(one[0, 0, 0], net.predict(window, verbose=0)[0], atol=1e-4)


@pytest.mark.backend
def test_pcr_loss_uses_only_the_ground_truth_class_box():
    y_true = np.array([[0.5, 0.5, 0.2, 0.2, 1.0], [0.1, 0.2, 0.3, 0.4, 0.0]], "float32")
    y_pred = np.array(
        [
            [9, 9, 9, 9, 0.5, 0.5, 0.2, 0.4, 7, 7, 7, 7],  # class 1 off by 0.2 in h
            [0.1, 0.2, 0.3, 0.4, 5, 5, 5, 5, 5, 5, 5, 5],  # class 0 exact
        ],
        "float32",
    )
    per_sample = BoxLoss(reduction=None)(y_true, y_pred)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(per_sample), [0.02, 0.0], atol=1e-6)


@pytest.mark.backend
def test_scr_loss_uses_the_shared_box_whatever_the_class():
    y_true = np.array([[0.5, 0.5, 0.2, 0.2, 3.0]], "float32")
    y_pred = np.array([[0.5, 0.7, 0.2, 0.2]], "float32")
    assert float(BoxLoss()(y_true, y_pred)) == pytest.approx(0.5 * 0.2**2, abs=1e-6)


def test_box_accuracy_counts_iou_above_half():
    metric = BoxAccuracy()
    # Exact box; a box shifted by its whole width (IoU 0).
    metric.update_state(
        [[0.5, 0.5, 0.2, 0.2, 0], [0.5, 0.5, 0.2, 0.2, 0]],
        [[0.5, 0.5, 0.2, 0.2], [0.7, 0.5, 0.2, 0.2]],
    )
    assert float(metric.result()) == pytest.approx(0.5)
