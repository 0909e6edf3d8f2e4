"""A kvgg net as a feature network: named feature maps (``relu3_3``, ``pool4``, ...) by name.

The names are the ones the perceptual-loss, style-transfer and LPIPS papers use (Caffe's):
``reluB_C`` is the ReLU after convolution C of block B, ``poolB`` the max-pool ending block
B. kvgg fuses the ReLU into the convolution, so ``relu3_3`` is layer ``block3_conv3``'s
output (``block3_conv3_relu`` in the batch-norm variants), ``pool4`` is ``block4_pool``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras

_RELU = re.compile(r"relu(\d+)_(\d+)")
_POOL = re.compile(r"pool(\d+)")
_KVGG_LAYER = re.compile(r"block(\d+)_(conv\d+(?:_relu)?|pool)")


@dataclass(frozen=True)
class FeatureInfo:
    """One feature map of a VGG net, as timm's ``feature_info`` describes a backbone's.

    Attributes:
        name: the papers' name ("relu3_3", "pool4").
        layer: the kvgg layer giving it ("block3_conv3", "block4_pool").
        channels: its number of channels.
        stride: input pixels per feature-map cell (1 in block 1, 2 in block 2, ...).
    """

    name: str
    layer: str
    channels: int
    stride: int


def feature_info(model: keras.Model) -> list[FeatureInfo]:
    """Every named feature map of a kvgg net, in network order.

    Args:
        model: a model built by `kvgg.build` (any configuration, width, with or without
            the classifier, batch-norm or not) or imported by `kvgg.weights`.

    Example:
        >>> import kvgg
        >>> net = kvgg.build("D", include_top=False, input_shape=(None, None, 3))
        >>> [(f.name, f.layer, f.channels, f.stride) for f in feature_info(net)][6:9]
        [('relu3_1', 'block3_conv1', 256, 4), ('relu3_2', 'block3_conv2', 256, 4), \
('relu3_3', 'block3_conv3', 256, 4)]
        >>> feature_info(net)[-1]
        FeatureInfo(name='pool5', layer='block5_pool', channels=512, stride=32)
    """
    layers = {layer.name: layer for layer in model.layers}
    infos = []
    for layer in model.layers:
        match = _KVGG_LAYER.fullmatch(layer.name)
        if not match:
            continue
        block, kind = int(match[1]), match[2]
        if kind == "pool":
            name, stride = f"pool{block}", 2**block
        elif isinstance(layer, keras.layers.ReLU) or (
            isinstance(layer, keras.layers.Conv2D)
            and f"{layer.name}_relu" not in layers
            and keras.activations.serialize(layer.activation) == "relu"
        ):
            conv = kind.removeprefix("conv").removesuffix("_relu")
            name, stride = f"relu{block}_{conv}", 2 ** (block - 1)
        else:
            continue
        infos.append(FeatureInfo(name, layer.name, int(layer.output.shape[-1]), stride))
    return infos


def layer_name(model: keras.Model, name: str) -> str:
    """The kvgg layer giving feature map `name` ("relu3_3", "pool4", or a kvgg layer name).

    Example:
        >>> import kvgg
        >>> layer_name(kvgg.build("B", width=1 / 16, batch_norm=True), "relu2_2")
        'block2_conv2_relu'
    """
    infos = feature_info(model)
    for info in infos:
        if name in (info.name, info.layer):
            return info.layer
    available = ", ".join(info.name for info in infos)
    raise ValueError(
        f"{model.name!r} has no feature map {name!r}. Available: {available} "
        "(or their kvgg layer names, e.g. block3_conv3)."
    )


def backbone_model(backbone="D", *, weights="imagenet") -> keras.Model:
    """A kvgg net from a model, a configuration name or a weights file.

    Args:
        backbone: a `keras.Model` built by kvgg (returned as is), a configuration name
            ("D", "vgg19", ...: built headless with `weights`), or the path of a
            ``.keras`` file (a kvgg model, e.g. from ``kvgg weights import``; or a ``kvgg fit``
            run directory) or of a
            torchvision VGG16 state dict (``.pth``, read by `kvgg.weights.from_torchvision`).
        weights: for a configuration name: "imagenet" (keras.applications' published
            weights, D and E; downloaded once, with the usual message offline), a file, or
            None (random, for tests).
    """
    if isinstance(backbone, keras.Model):
        return backbone
    text = str(backbone)
    if text.endswith((".pth", ".pt")):
        from kvgg.weights.torchvision import from_torchvision

        return from_torchvision(text, "D")
    if text.endswith(".keras") or Path(text).is_dir():
        from kvgg.io import load_model, resolve_model_file

        return load_model(resolve_model_file(text))
    from kvgg.models import build

    return build(text, weights=weights, include_top=False, input_shape=(None, None, 3))


def features(model="D", layers: Sequence[str] = ("relu1_2",), *, weights="imagenet") -> keras.Model:
    """A frozen Keras model from RGB images in [0, 255] to a dict of named feature maps.

    The layers up to the last one asked for are copied from `model` (weights included) onto
    an input of any size, so the feature net stays fixed when `model` is trained later, and
    takes images of any size even when `model` has a fixed-size classifier.

    Args:
        model: a kvgg net, a configuration name or a weights file (`backbone_model`).
        layers: feature-map names ("relu1_2", "relu3_3", "pool4", ...; `feature_info`
            lists them) or kvgg layer names ("block3_conv3").
        weights: for a configuration name, as in `backbone_model`.

    Returns:
        A `keras.Model` whose output is ``{name: (batch, height, width, channels)}``, one
        entry per name in `layers` (look them up by name: some backends sort the keys),
        non-trainable.

    Example:
        >>> import kvgg, numpy as np
        >>> net = kvgg.build("D", width=1 / 16, input_shape=(64, 64, 3))
        >>> extractor = features(net, ["relu1_2", "relu3_3", "pool4"])
        >>> maps = extractor(np.zeros((2, 96, 128, 3), "float32"))
        >>> {name: tuple(maps[name].shape) for name in ("relu1_2", "relu3_3", "pool4")}
        {'relu1_2': (2, 96, 128, 4), 'relu3_3': (2, 24, 32, 16), 'pool4': (2, 6, 8, 32)}
    """
    model = backbone_model(model, weights=weights)
    if isinstance(layers, str) or not layers:
        raise ValueError(f"`layers` must be a non-empty list of names. Received: {layers!r}")
    wanted = {name: layer_name(model, name) for name in layers}
    inputs = keras.Input(shape=(None, None, model.input.shape[-1]), name="image")
    x, produced = inputs, {}
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        copy = layer.__class__.from_config(layer.get_config())
        x = copy(x)
        copy.set_weights(layer.get_weights())
        copy.trainable = False
        produced[layer.name] = x
        if all(name in produced for name in wanted.values()):
            break
    outputs = {name: produced[layer] for name, layer in wanted.items()}
    extractor = keras.Model(inputs, outputs, name=f"{model.name}_features")
    extractor.trainable = False
    return extractor
