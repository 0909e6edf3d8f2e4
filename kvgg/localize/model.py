"""Localisation nets (paper Appendix A): a classifier whose last FC layer regresses boxes.

The box head is a stock ``Dense`` layer named ``boxes``, without activation, in place of
``predictions``: 4 units for single-class regression (SCR, one box shared by all classes)
or ``4 * num_classes`` for per-class regression (PCR), laid out class by class (units
``4k ... 4k + 3`` are class k's ``(cx, cy, w, h)``). Boxes are in the normalised frame of
`kvgg.localize.boxes` relative to the network's input window. Everything is a stock
layer, so the `.keras` file loads with ``keras.saving.load_model`` without kvgg, and
`kvgg.fully_convolutional` turns the head into a 1x1 convolution: a box per output
location (per class for PCR).
"""

from __future__ import annotations

from typing import Literal

import keras
from keras import ops

from kvgg.models.kinds import BOX_LAYER, NET_KINDS, check_kind, is_localizer

__all__ = [
    "BOX_LAYER",
    "FINE_TUNE",
    "NET_KINDS",
    "REGRESSIONS",
    "BoxLoss",
    "build_localizer",
    "check_kind",
    "is_localizer",
    "regression_of",
]

REGRESSIONS = ("scr", "pcr")
FINE_TUNE = ("all", "fc")
_FC_LAYERS = ("fc1", "fc2", BOX_LAYER)


def build_localizer(
    classifier: keras.Model,
    *,
    regression: Literal["scr", "pcr"] = "pcr",
    fine_tune: Literal["all", "fc"] = "all",
    seed: int | None = None,
) -> keras.Model:
    """A localisation net from a trained classifier (paper Appendix A).

    The classifier's layers and weights are copied up to FC-2 (and its dropout); the
    last FC layer is replaced by a randomly initialised box regressor named ``boxes``,
    with the replaced layer's initialiser (the recipe's ``model.init``, seeded by
    ``seed``) and weight decay (``model.weight_decay``), like every other layer.
    With ``fine_tune="fc"`` only FC-1, FC-2 and the regressor are trainable (the paper's
    OverFeat-like variant); with ``"all"`` every layer is.

    Args:
        classifier: a kvgg classifier (`kvgg.build` or a loaded `.keras` file of one).
        regression: ``"scr"`` (4 outputs) or ``"pcr"`` (4 per class).
        fine_tune: ``"all"`` or ``"fc"``.
        seed: seed of the regressor's random initialisation.

    Returns:
        A functional `keras.Model` named ``<classifier>_<regression>`` whose output is
        (batch, 4) or (batch, 4 * num_classes).

    Example:
        >>> import kvgg
        >>> net = kvgg.build("A", width=1 / 16, num_classes=5, input_shape=(32, 32, 3))
        >>> build_localizer(net, regression="pcr").output_shape
        (None, 20)
    """
    if regression not in REGRESSIONS:
        raise ValueError(
            f"`regression` must be 'scr' or 'pcr'. Received: regression={regression!r}"
        )
    if fine_tune not in FINE_TUNE:
        raise ValueError(f"`fine_tune` must be 'all' or 'fc'. Received: fine_tune={fine_tune!r}")
    names = [layer.name for layer in classifier.layers]
    if "predictions" not in names or "fc2" not in names:
        raise ValueError(
            f"build_localizer needs a kvgg classifier with layers 'fc2' and 'predictions'; "
            f"model {classifier.name!r} has neither one or both."
        )
    copy = keras.models.clone_model(classifier)
    copy.set_weights(classifier.get_weights())
    predictions = copy.get_layer("predictions")
    num_classes = predictions.units
    units = 4 if regression == "scr" else 4 * num_classes
    boxes = keras.layers.Dense(
        units,
        name=BOX_LAYER,
        kernel_initializer=_seeded(predictions.kernel_initializer, seed),
        kernel_regularizer=_copied(predictions.kernel_regularizer),
        dtype=predictions.dtype_policy,
    )(predictions.input)
    model = keras.Model(copy.inputs, boxes, name=f"{classifier.name}_{regression}")
    set_fine_tune(model, fine_tune)
    return model


def _seeded(initializer, seed):
    """A fresh copy of ``initializer`` drawing from ``seed`` (when it draws at all)."""
    config = initializer.get_config()
    if "seed" in config:
        config["seed"] = seed
    return initializer.__class__.from_config(config)


def _copied(regularizer):
    return (
        None if regularizer is None else regularizer.__class__.from_config(regularizer.get_config())
    )


def set_fine_tune(model: keras.Model, fine_tune: str) -> None:
    """Make every layer trainable (``"all"``) or only FC-1, FC-2 and the regressor (``"fc"``).

    Example:
        >>> import kvgg
        >>> net = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3))
        >>> localizer = build_localizer(net, regression="pcr")
        >>> set_fine_tune(localizer, "fc")
        >>> [layer.name for layer in localizer.layers if layer.trainable and layer.weights]
        ['fc1', 'fc2', 'boxes']
    """
    for layer in model.layers:
        layer.trainable = fine_tune == "all" or layer.name in _FC_LAYERS


def regression_of(model: keras.Model, num_classes: int) -> str:
    """``"scr"`` or ``"pcr"`` from the width of a localisation net's ``boxes`` layer.

    Example:
        >>> import kvgg
        >>> net = kvgg.build("A", width=1 / 16, num_classes=3, input_shape=(32, 32, 3))
        >>> localizer = build_localizer(net, regression="pcr")
        >>> regression_of(localizer, 3)
        'pcr'
    """
    try:
        layer = model.get_layer(BOX_LAYER)
    except ValueError:
        raise ValueError(
            f"Model {model.name!r} is not a localisation net (no layer named {BOX_LAYER!r})."
        ) from None
    units = layer.units if isinstance(layer, keras.layers.Dense) else layer.filters
    if units == 4:
        return "scr"
    if units == 4 * num_classes:
        return "pcr"
    raise ValueError(
        f"Localisation net {model.name!r} predicts {units} numbers, neither 4 (SCR) nor "
        f"4 x {num_classes} classes (PCR)."
    )


@keras.saving.register_keras_serializable(package="kvgg")
class BoxLoss(keras.losses.Loss):
    """The paper's Euclidean loss on the ground-truth class's box (Appendix A).

    ``y_true`` is (batch, 5): the target box ``(cx, cy, w, h)`` then the class index (as
    a float). ``y_pred`` is (batch, 4) for SCR, or (batch, 4 * num_classes) for PCR, of
    which only the 4 numbers of the ground-truth class count. Per sample the loss is
    half the squared L2 distance (Caffe's ``EuclideanLoss``).

    Example:
        >>> import numpy as np
        >>> loss = BoxLoss()
        >>> y_true = np.array([[0.5, 0.5, 0.2, 0.2, 1.0]], "float32")
        >>> y_pred = np.array([[9, 9, 9, 9, 0.5, 0.5, 0.2, 0.4]], "float32")  # PCR, 2 classes
        >>> round(float(loss(y_true, y_pred)), 4)
        0.02
    """

    def __init__(self, name: str = "box_loss", **kwargs):
        super().__init__(name=name, **kwargs)

    def call(self, y_true, y_pred):
        return box_errors(y_true, y_pred)


def box_errors(y_true, y_pred):
    """Per-sample half squared L2 error of the ground-truth class's box (see `BoxLoss`)."""
    target, chosen = _target_and_choice(y_true, y_pred)
    return 0.5 * ops.sum(ops.square(chosen - target), axis=-1)


def _target_and_choice(y_true, y_pred):
    """(target boxes, the predicted box of each sample's ground-truth class), float32."""
    y_pred = ops.cast(y_pred, "float32")
    y_true = ops.cast(y_true, "float32")
    per_class = ops.reshape(y_pred, (-1, y_pred.shape[-1] // 4, 4))
    if per_class.shape[1] == 1:  # SCR: the shared box
        return y_true[:, :4], per_class[:, 0]
    label = ops.one_hot(ops.cast(y_true[:, 4], "int32"), per_class.shape[1])
    return y_true[:, :4], ops.sum(per_class * label[:, :, None], axis=1)


@keras.saving.register_keras_serializable(package="kvgg")
class BoxAccuracy(keras.metrics.MeanMetricWrapper):
    """Fraction of samples whose ground-truth-class box has IoU > 0.5 with the target.

    On centre crops this is 1 - the paper's protocol-1 localisation error (Table 8).

    Example:
        >>> metric = BoxAccuracy()
        >>> metric.update_state([[0.5, 0.5, 0.2, 0.2, 0]], [[0.5, 0.5, 0.2, 0.2]])
        >>> float(metric.result())
        1.0
    """

    def __init__(self, name: str = "box_accuracy", dtype=None):
        super().__init__(_box_hits, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _box_hits(y_true, y_pred):
    target, chosen = _target_and_choice(y_true, y_pred)
    a, b = _corners(chosen), _corners(target)
    width = ops.relu(ops.minimum(a[2], b[2]) - ops.maximum(a[0], b[0]))
    height = ops.relu(ops.minimum(a[3], b[3]) - ops.maximum(a[1], b[1]))
    inter = width * height
    area_a = ops.relu(a[2] - a[0]) * ops.relu(a[3] - a[1])
    area_b = ops.relu(b[2] - b[0]) * ops.relu(b[3] - b[1])
    union = ops.maximum(area_a + area_b - inter, 1e-12)
    return ops.cast(inter / union > 0.5, "float32")


def _corners(boxes):
    cx, cy, w, h = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
