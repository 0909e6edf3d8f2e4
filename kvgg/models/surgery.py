"""Model surgery: fully-convolutional conversion for dense evaluation (paper Sec. 3.2).

Warm starts from a trained shallower net (paper Sec. 3.1) live beside the other initial
weights, in `kvgg.train.initial_weights`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import keras

_HEAD_STOPS = ("fc1", "fc2")
_OUTPUT_LAYERS = ("predictions", "boxes")  # class scores, or a localisation net's boxes


def fully_convolutional(
    model: keras.Model, *, until: str | None = None, logits: bool = False
) -> keras.Model:
    """Turn a kvgg VGG classifier into a fully-convolutional net of the same weights.

    FC-1 becomes a *valid* convolution whose kernel covers the whole block-5 map of the
    classifier's own input (7x7 at 224x224; 1x1 for a 32x32 test model), FC-2 and FC-3
    become 1x1 convolutions. The dense kernels are reshaped, not retrained: Keras'
    ``Flatten`` orders FC-1's inputs (height, width, channel), which is exactly the
    layout of a (height, width, channel, units) convolution kernel. Every layer before
    the head (the ``preprocess`` mean subtraction, convolutions, batch norm, LRN, pools)
    is copied with its weights; dropout is left out (it is the identity at test time).

    The result takes images of any size, ``(None, None, 3)``, RGB in [0, 255] like the
    classifier. On the classifier's input size its output is a 1x1 map equal to the
    classifier's output; on a larger image it is a map of class scores, one vector per
    224x224 window at a stride of 32 pixels (6x6 at 384x384: 12x12 after five pools,
    then the 7x7 valid convolution). If the classifier ends in a soft-max, the soft-max
    is applied at every location (each map vector is a posterior); with
    ``classifier_activation=None`` the map holds logits.

    A localisation net (`kvgg.localize.build_localizer`, last layer ``boxes``) converts
    the same way: its map holds a box per window (per class for PCR).

    Args:
        model: a classifier built by `kvgg.build` (any configuration, with or without
            batch norm, any width, number of classes or input size), or loaded from a
            `.keras` file of one, or a localisation net made from one.
        until: None for the class score map; ``"fc2"`` to stop after FC-2's ReLU (the
            4096-D descriptor map used for transfer, paper Appendix B); ``"fc1"`` after
            FC-1's ReLU.
        logits: drop the classifier's output activation, so the map holds class scores
            before the soft-max (what dense evaluation averages spatially).

    Returns:
        A functional `keras.Model` named ``<name>_fcn`` with input ``(None, None, 3)``;
        it saves and loads with ``keras.saving.load_model``.

    Example:
        >>> import kvgg
        >>> import numpy as np
        >>> model = kvgg.build("D", width=1 / 16, num_classes=10)
        >>> fcn = fully_convolutional(model)
        >>> tuple(fcn(np.zeros((1, 384, 384, 3), "float32")).shape)
        (1, 6, 6, 10)
    """
    if until not in (None, *_HEAD_STOPS):
        raise ValueError(f"`until` must be None, 'fc1' or 'fc2'. Received: until={until!r}")
    trunk, flatten, head = _split_classifier(model)

    inputs = keras.Input(shape=(None, None, 3), name="image")
    x = inputs
    for layer in trunk:
        x = _copy_layer(layer)(x)

    map_height, map_width, _ = flatten.input.shape[1:]
    dense_layers = [layer for layer in head if isinstance(layer, keras.layers.Dense)]
    for index, dense in enumerate(dense_layers):
        kernel, bias = dense.get_weights()
        size = (map_height, map_width) if index == 0 else (1, 1)
        conv = keras.layers.Conv2D(
            dense.units,
            size,
            padding="valid",
            activation=None if logits and dense.name == "predictions" else dense.activation,
            use_bias=dense.use_bias,
            dtype=dense.dtype_policy,
            name=dense.name,
        )
        with _zeros_at_build(conv):
            x = conv(x)
        conv.set_weights([kernel.reshape(*size, -1, dense.units), bias])
        if dense.name == until:
            break
    return keras.Model(inputs, x, name=f"{model.name}_fcn")


def _split_classifier(model):
    """Return (layers before Flatten, the Flatten layer, Dense/Dropout layers after it)."""
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    problem = _not_a_vgg_classifier(model, layers)
    if problem:
        raise ValueError(
            f"fully_convolutional needs a VGG classifier built by kvgg (convolutions, "
            f"'flatten', then the FC layers 'fc1', 'fc2', 'predictions'); model "
            f"{model.name!r} {problem}."
        )
    cut = [layer.name for layer in layers].index("flatten")
    return layers[:cut], layers[cut], layers[cut + 1 :]


def _not_a_vgg_classifier(model, layers) -> str | None:
    """Explain why `model` cannot be converted, or return None when it can."""
    names = [layer.name for layer in layers]
    missing = [name for name in ("flatten", "fc1", "fc2") if name not in names]
    if not any(name in names for name in _OUTPUT_LAYERS):
        missing.append("predictions")
    if missing:
        return f"has no layer named {', '.join(repr(name) for name in missing)}"
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return "does not have exactly one input and one output"
    previous = model.inputs[0]
    for layer in layers:
        if layer.input is not previous:
            return f"is not a single chain of layers (at layer {layer.name!r})"
        previous = layer.output
    flatten = layers[names.index("flatten")]
    if len(flatten.input.shape) != 4 or flatten.input.shape[-1] is None:
        return f"feeds 'flatten' with shape {flatten.input.shape}, not a (H, W, C) map"
    if getattr(flatten, "data_format", "channels_last") != "channels_last":
        return "uses channels_first; only channels_last models can be converted"
    head = layers[names.index("flatten") + 1 :]
    odd = [layer.name for layer in head if not isinstance(layer, _HEAD_LAYERS)]
    if odd:
        return f"has layers other than Dense and Dropout after 'flatten': {odd}"
    if head[-1].name not in _OUTPUT_LAYERS:
        return f"ends in {head[-1].name!r} instead of 'predictions' (or a box head, 'boxes')"
    return None


_HEAD_LAYERS = (keras.layers.Dense, keras.layers.Dropout)


def _copy_layer(layer):
    """A new layer of the same class, configuration and weights (built on first call)."""
    copy = layer.__class__.from_config(layer.get_config())
    weights = layer.get_weights()

    def apply(x):
        with _zeros_at_build(copy):
            y = copy(x)
        copy.set_weights(weights)
        return y

    return apply if weights else copy


@contextmanager
def _zeros_at_build(layer):
    """Build ``layer`` with zeros for weights that are set right after: its own random
    initializers would draw a number per weight for nothing (seconds for a full VGG's
    FC-1 as a 7x7 convolution). Its configuration keeps its initializers."""
    own = {name: value for name, value in vars(layer).items() if name.endswith("_initializer")}
    for name, value in own.items():
        if value is not None:
            setattr(layer, name, keras.initializers.Zeros())
    try:
        yield
    finally:
        for name, value in own.items():
            setattr(layer, name, value)


def fully_convolutional_file(
    source: str | Path, destination: str | Path, *, until: str | None = None
) -> Path:
    """Convert a saved classifier to a fully-convolutional `.keras` file (atomic save).

    The class names and metadata of ``source`` are kept, with ``"fully_convolutional"``
    (the ``until`` stop, or ``"scores"``) added.

    Args:
        source: a `.keras` classifier file, or a `kvgg fit` run directory (its best model).
        destination: the `.keras` file to write.
        until: as in `fully_convolutional`.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.io import read_info, save_model
        >>> folder = Path(tempfile.mkdtemp())
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> path = save_model(model, folder / "a.keras", class_names=["b", "g", "r"])
        >>> fully_convolutional_file(path, folder / "a_fcn.keras").name
        'a_fcn.keras'
        >>> read_info(folder / "a_fcn.keras")["fully_convolutional"]
        'scores'
    """
    from kvgg import io

    source = io.resolve_model_file(source)
    io.check_outputs([destination], [source])
    model = io.load_model(source)
    fcn = fully_convolutional(model, until=until)
    info = io.read_info(source)
    class_names = info.pop("class_names", None)
    info["fully_convolutional"] = until or "scores"
    return io.save_model(fcn, destination, class_names=None if until else class_names, info=info)
