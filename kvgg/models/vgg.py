"""One functional builder for every configuration of Table 1."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import keras

from kvgg.models.configs import (
    FC_UNITS,
    IMAGENET_MEAN_RGB,
    INPUT_SIZE,
    STRIDE,
    VGGConfig,
    get_config,
)
from kvgg.models.layers import LocalResponseNormalization
from kvgg.models.pretrained import check_imagenet_arguments, imagenet_weights_file, load_weights


def build(
    config: str | VGGConfig = "D",
    *,
    weights: str | os.PathLike | None = None,
    num_classes: int = 1000,
    include_top: bool = True,
    input_shape: Sequence[int | None] | None = None,
    pooling: str | None = None,
    dropout: float = 0.5,
    classifier_activation: str | None = "softmax",
    width: float = 1.0,
    fc_units: int | None = None,
    batch_norm: bool = False,
    kernel_initializer: str | float | keras.initializers.Initializer = "glorot_uniform",
    weight_decay: float = 0.0,
    preprocess: bool = True,
    mean: Sequence[float] = IMAGENET_MEAN_RGB,
    std: Sequence[float] | None = None,
    name: str | None = None,
) -> keras.Model:
    """Build a VGG network of Table 1 as a plain functional `keras.Model`.

    The model takes RGB images with values in [0, 255]. Its first layer, a stock
    `keras.layers.Normalization` named ``preprocess``, subtracts ``mean`` (and divides
    by ``std`` when given), so a saved model is self-contained.

    Args:
        config: "A", "A-LRN", "B", "C", "D", "E" or an alias ("vgg11", "vgg11_lrn",
            "vgg13", "vgg16_conv1", "vgg16", "vgg19"), case-insensitive, or a `VGGConfig`
            (e.g. `kvgg.models.custom_config` for Sec. 4.1's 5x5 ablation).
        weights: None (random initialisation), "imagenet" (keras.applications' published
            weights, configs D and E; downloaded once into Keras' cache ``~/.keras/models/``),
            or the path of a ``.keras`` / ``.weights.h5`` file of the same architecture
            (a file with the classifier also fills a headless model), or of a
            keras.applications VGG16/VGG19 ``.h5`` file. Layers are matched by name; a
            file that does not fit raises ValueError naming the file and the layer.
        num_classes: size of the last FC layer.
        include_top: whether to add the three FC layers.
        input_shape: ``(height, width, 3)``; defaults to ``(224, 224, 3)``. Without the
            top, ``(None, None, 3)`` accepts any size. With the top, any fixed size of
            at least 32 works (FC-1's input grows with it).
        pooling: for the headless model, None (the block-5 feature map), "avg" or "max".
        dropout: dropout rate after FC-1 and FC-2 (the paper: 0.5; 0 removes the layers).
        classifier_activation: "softmax" (posteriors) or None (logits).
        width: multiplier on every hidden width (1/4 gives a small VGG for 32x32 datasets; tiny
            values make fast tests).
        fc_units: units of FC-1 and FC-2; defaults to ``4096 * width``.
        batch_norm: add batch normalisation after every convolution (the widely used
            "VGG-BN" variants, torchvision's layout: conv with bias, BN, ReLU).
        kernel_initializer: any Keras initializer identifier, or a float ``std`` for the
            paper's zero-mean normal (the paper's text says variance 1e-2, i.e.
            ``0.1``; the released Caffe models used ``0.01``). Biases start at zero.
        weight_decay: the paper's weight decay in Caffe semantics: ``weight_decay * w``
            is added to each kernel's gradient. Implemented as
            ``keras.regularizers.L2(weight_decay / 2)`` (Keras' L2 adds ``l * w**2`` to
            the loss, gradient ``2 * l * w``). The paper: 5e-4.
        preprocess: include the mean/std layer; False for users who normalise inputs
            themselves.
        mean: per-channel mean to subtract, on the [0, 255] scale (ImageNet RGB by default).
        std: per-channel std on the [0, 255] scale, or None to subtract the mean only.
        name: the model's name; defaults to the configuration's common name.

    Returns:
        A `keras.Model` with layers named like keras.applications (``block1_conv1`` ...
        ``block5_pool``, ``flatten``, ``fc1``, ``fc2``, ``predictions``).

    Example:
        >>> model = build("D", width=1 / 16, num_classes=10, input_shape=(32, 32, 3))
        >>> model.output_shape
        (None, 10)
    """
    cfg = get_config(config)
    if weights is not None and not isinstance(weights, str | os.PathLike):
        raise TypeError(
            "`weights` must be None, 'imagenet' or the path of a .keras / .weights.h5 file. "
            f"Received: weights={weights!r}"
        )
    input_shape = _check_arguments(
        input_shape=input_shape,
        include_top=include_top,
        pooling=pooling,
        num_classes=num_classes,
        dropout=dropout,
        width=width,
        weight_decay=weight_decay,
        mean=mean,
        std=std,
        preprocess=preprocess,
    )
    if weights == "imagenet":
        check_imagenet_arguments(cfg.name, include_top, num_classes, input_shape, mean, std)
        weights = imagenet_weights_file(cfg.name, include_top)  # fails before building
    initializer = (
        keras.initializers.RandomNormal(mean=0.0, stddev=float(kernel_initializer))
        if isinstance(kernel_initializer, int | float)
        else keras.initializers.get(kernel_initializer)
    )
    regularizer = keras.regularizers.L2(weight_decay / 2) if weight_decay else None
    dense_args = {
        "kernel_initializer": initializer,
        "kernel_regularizer": regularizer,
    }

    inputs = keras.Input(shape=input_shape, name="image")
    x = inputs
    if preprocess:
        variance = None if std is None else [float(s) ** 2 for s in std]
        x = keras.layers.Normalization(
            mean=[float(m) for m in mean],
            variance=variance or [1.0] * len(mean),
            name="preprocess",
        )(x)

    for block, (kernels, filters) in enumerate(zip(cfg.kernels, cfg.filters, strict=True), start=1):
        channels = _scaled(filters, width)
        for index, kernel in enumerate(kernels, start=1):
            layer_name = f"block{block}_conv{index}"
            x = keras.layers.Conv2D(
                channels,
                kernel,
                padding="same",
                activation=None if batch_norm else "relu",
                name=layer_name,
                **dense_args,
            )(x)
            if batch_norm:
                x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{layer_name}_bn")(x)
                x = keras.layers.ReLU(name=f"{layer_name}_relu")(x)
            if cfg.lrn and block == 1 and index == 1:
                x = LocalResponseNormalization(name="block1_lrn")(x)
        x = keras.layers.MaxPooling2D(2, strides=2, name=f"block{block}_pool")(x)

    if include_top:
        if fc_units is not None and fc_units < 1:
            raise ValueError(f"`fc_units` must be positive. Received: fc_units={fc_units!r}")
        units = fc_units or _scaled(FC_UNITS, width)
        x = keras.layers.Flatten(name="flatten")(x)
        for fc in ("fc1", "fc2"):
            x = keras.layers.Dense(units, activation="relu", name=fc, **dense_args)(x)
            if dropout:
                x = keras.layers.Dropout(dropout, name=f"{fc}_dropout")(x)
        x = keras.layers.Dense(  # float32 soft-max under mixed precision (kvgg.precision)
            num_classes,
            activation=classifier_activation,
            name="predictions",
            dtype="float32",
            **dense_args,
        )(x)
    elif pooling == "avg":
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    elif pooling == "max":
        x = keras.layers.GlobalMaxPooling2D(name="max_pool")(x)

    default_name = cfg.model_name + ("_bn" if batch_norm else "")
    model = keras.Model(inputs, x, name=name or default_name)
    return model if weights is None else load_weights(model, weights)


def _scaled(channels: int, width: float) -> int:
    return max(1, round(channels * width))


def _check_arguments(
    *,
    input_shape: Sequence[int | None] | None,
    include_top: bool,
    pooling: str | None,
    num_classes: int,
    dropout: float,
    width: float,
    weight_decay: float,
    mean: Sequence[float],
    std: Sequence[float] | None,
    preprocess: bool,
) -> tuple[int | None, int | None, int]:
    """Validate builder arguments up front; return the resolved input shape.

    Keyword-only: several arguments share a type (floats, booleans, sequences), so a
    positional swap would validate the wrong values without a word.
    """
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"`pooling` must be None, 'avg' or 'max'. Received: pooling={pooling!r}")
    if include_top and pooling is not None:
        raise ValueError(
            "`pooling` applies to the headless model only; pass include_top=False. "
            f"Received: pooling={pooling!r}, include_top=True"
        )
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"`num_classes` must be a positive integer. Received: num_classes={num_classes!r}"
        )
    if not 0 <= dropout < 1:
        raise ValueError(f"`dropout` must be in [0, 1). Received: dropout={dropout!r}")
    if not 0 < width < math.inf:
        raise ValueError(f"`width` must be a positive finite number. Received: width={width!r}")
    if weight_decay < 0:
        raise ValueError(f"`weight_decay` must be >= 0. Received: weight_decay={weight_decay!r}")
    if input_shape is None:
        input_shape = (INPUT_SIZE, INPUT_SIZE, 3)
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(
            f"`input_shape` must be (height, width, channels). Received: input_shape={input_shape}"
        )
    height, width_px, channels = input_shape
    if include_top and (height is None or width_px is None):
        raise ValueError(
            "A model with the FC top needs a fixed image size (FC-1 sees the whole block-5 map); "
            "use include_top=False for variable sizes, or kvgg.fully_convolutional for dense "
            f"evaluation. Received: input_shape={input_shape}"
        )
    for size in (height, width_px):
        if size is not None and size < STRIDE:
            raise ValueError(
                f"Images must be at least {STRIDE}x{STRIDE} (five 2x2 max-pools). "
                f"Received: input_shape={input_shape}"
            )
    if preprocess and channels != len(mean):
        raise ValueError(
            f"`mean` needs one value per input channel ({channels}). Received: mean={tuple(mean)}"
        )
    if std is not None and len(std) != len(mean):
        raise ValueError(f"`std` needs one value per channel. Received: std={tuple(std)}")
    if std is not None and any(s <= 0 for s in std):
        raise ValueError(f"`std` values must be positive. Received: std={tuple(std)}")
    return input_shape
