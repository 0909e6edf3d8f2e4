"""Perceptual (feature) and style (Gram-matrix) losses on a frozen kvgg feature net.

Both are Keras losses: ``model.compile(loss=PerceptualLoss())`` or ``loss(y_true, y_pred)``
in a custom training step, on every Keras backend. Images are RGB in [0, 255] (what every
kvgg net takes); ``y_true`` is the target image, ``y_pred`` the generated one.

A model compiled with either saves with ``model.save``: the loss's layers, weights and
feature net (its weights too) go into the ``.keras`` file. Loading it needs
``import kvgg.perceptual`` first, which registers the two classes with Keras (as
``import kvgg.models`` registers A-LRN's LRN layer).
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops

from kvgg.perceptual.features import features

# Johnson, Alahi & Fei-Fei 2016, "Perceptual losses for real-time style transfer and
# super-resolution": the feature maps of their losses (VGG-16).
JOHNSON_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
# Gatys, Ecker & Bethge 2015/2016, "A neural algorithm of artistic style": the style layers
# (VGG-19), equally weighted.
GATYS_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")


def gram_matrix(feature_map):
    """Gram matrices of a batch of feature maps, normalised by C * H * W (Johnson et al.).

    ``G[b, c, d] = sum over (h, w) of F[b, h, w, c] * F[b, h, w, d] / (C * H * W)``.

    Example:
        >>> import numpy as np
        >>> f = np.arange(8, dtype="float32").reshape(1, 2, 2, 2)  # channels [0,2,4,6], [1,3,5,7]
        >>> np.asarray(gram_matrix(f))  # [[0+4+16+36, 0+6+20+42], [.., 1+9+25+49]] / 8
        array([[[ 7. ,  8.5],
                [ 8.5, 10.5]]], dtype=float32)
    """
    feature_map = ops.convert_to_tensor(feature_map, dtype="float32")
    shape = ops.shape(feature_map)
    size = ops.cast(shape[1] * shape[2] * shape[3], "float32")
    return ops.einsum("bhwc,bhwd->bcd", feature_map, feature_map) / size


class _FeatureLoss(keras.losses.Loss):
    """A loss computed on named feature maps of a frozen kvgg feature net."""

    def __init__(self, layers, weights, backbone, *, name, reduction):
        super().__init__(name=name, reduction=reduction)
        if isinstance(backbone, dict):  # from `get_config`: the feature net, weights loaded later
            backbone = keras.saving.deserialize_keras_object(backbone)
        self.layers = tuple(layers)
        self.layer_weights = _layer_weights(self.layers, weights)
        self.feature_net = features(backbone, self.layers)

    def get_config(self):
        return {
            **super().get_config(),
            "layers": list(self.layers),
            "weights": list(self.layer_weights),
            "backbone": keras.saving.serialize_keras_object(self.feature_net),
        }

    def _features(self, images):
        return self.feature_net(ops.cast(images, "float32"), training=False)

    def call(self, y_true, y_pred):
        true, pred = self._features(y_true), self._features(y_pred)
        return sum(
            weight * self.layer_loss(true[name], pred[name])
            for name, weight in zip(self.layers, self.layer_weights, strict=True)
        )

    def layer_loss(self, true, pred):
        raise NotImplementedError


@keras.saving.register_keras_serializable(package="kvgg")
class PerceptualLoss(_FeatureLoss):
    """Feature reconstruction loss (Johnson et al. 2016): per layer, the mean squared
    difference of the two images' feature maps, ``||phi(y_pred) - phi(y_true)||^2 / (C H W)``,
    summed over `layers` with `weights`.

    Args:
        layers: feature-map names (`kvgg.perceptual.feature_info` lists them).
        weights: one weight per layer (default: 1 each).
        backbone: the feature net: a configuration name (built with keras.applications'
            ImageNet weights: "D" is VGG-16, as in the paper), a kvgg model or a weights
            file (`kvgg.perceptual.features.backbone_model`).

    Serialisable: a model compiled with it reloads with ``keras.saving.load_model`` after
    ``import kvgg.perceptual`` (the frozen feature net is saved in the file).

    Example:
        >>> import kvgg, numpy as np
        >>> net = kvgg.build("D", width=1 / 16, include_top=False)  # random: a test
        >>> loss = PerceptualLoss(backbone=net)
        >>> images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
        >>> float(loss(images, images)), float(loss(images, images[::-1])) > 0
        (0.0, True)
    """

    def __init__(
        self,
        layers: Sequence[str] = JOHNSON_LAYERS,
        weights: Sequence[float] | None = None,
        backbone="D",
        *,
        name="perceptual_loss",
        reduction="sum_over_batch_size",
    ):
        super().__init__(layers, weights, backbone, name=name, reduction=reduction)

    def layer_loss(self, true, pred):
        return ops.mean(ops.square(pred - true), axis=(1, 2, 3))


@keras.saving.register_keras_serializable(package="kvgg")
class StyleLoss(_FeatureLoss):
    """Style reconstruction loss: per layer, the squared Frobenius distance of the Gram
    matrices (`gram_matrix`, normalised by C H W as in Johnson et al. 2016; Gatys et al.'s
    ``E_l`` is a quarter of it), summed over `layers` with `weights`.

    The Gram matrices do not depend on the image size, so the style image (``y_true``)
    may differ in size from ``y_pred``; a batch of one style image applies to every image.

    Args:
        layers: feature-map names (default: Gatys et al.'s relu1_1 ... relu5_1).
        weights: one weight per layer (default: 1 each).
        backbone: as in `PerceptualLoss`; Gatys et al. use "E" (VGG-19).

    Serialisable as `PerceptualLoss` is: loading a model compiled with it needs
    ``import kvgg.perceptual``.

    Example:
        >>> import kvgg, numpy as np
        >>> net = kvgg.build("E", width=1 / 16, include_top=False, input_shape=(None, None, 3))
        >>> loss = StyleLoss(backbone=net)
        >>> style = np.random.default_rng(0).uniform(0, 255, (1, 64, 64, 3))
        >>> float(loss(style, style[:, :32, :32])) > 0, float(loss(style, style))
        (True, 0.0)
    """

    def __init__(
        self,
        layers: Sequence[str] = GATYS_LAYERS,
        weights: Sequence[float] | None = None,
        backbone="E",
        *,
        name="style_loss",
        reduction="sum_over_batch_size",
    ):
        super().__init__(layers, weights, backbone, name=name, reduction=reduction)

    def layer_loss(self, true, pred):
        return ops.sum(ops.square(gram_matrix(pred) - gram_matrix(true)), axis=(1, 2))


def _layer_weights(layers, weights) -> tuple[float, ...]:
    if isinstance(layers, str) or not layers:
        raise ValueError(f"`layers` must be a non-empty list of names. Received: {layers!r}")
    if weights is None:
        return (1.0,) * len(layers)
    weights = tuple(float(w) for w in weights)
    if len(weights) != len(layers) or not all(0 <= w < float("inf") for w in weights):
        raise ValueError(
            f"`weights` needs one finite, non-negative number per layer ({len(layers)}). "
            f"Received: weights={weights}"
        )
    return weights
