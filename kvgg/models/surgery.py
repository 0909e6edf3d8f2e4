"""Model surgery: fully-convolutional conversion for dense evaluation (paper Sec. 3.2) and
warm starts from a trained shallower net (paper Sec. 3.1)."""

from __future__ import annotations

import keras

_HEAD_STOPS = ("fc1", "fc2")


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

    Args:
        model: a classifier built by `kvgg.build` (any configuration, with or without
            batch norm, any width, number of classes or input size), or loaded from a
            `.keras` file of one.
        until: None for the class score map; ``"fc2"`` to stop after FC-2's ReLU (the
            4096-D descriptor map used for transfer, paper Appendix B); ``"fc1"`` after
            FC-1's ReLU.
        logits: drop the classifier's output activation, so the map holds class scores
            before the soft-max (what dense evaluation averages spatially).

    Returns:
        A functional `keras.Model` named ``<name>_fcn`` with input ``(None, None, 3)``;
        it saves and loads with ``keras.saving.load_model``.

    Example:
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
    missing = [name for name in ("flatten", "fc1", "fc2", "predictions") if name not in names]
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
    if head[-1].name != "predictions":
        return f"ends in {head[-1].name!r} instead of 'predictions'"
    return None


_HEAD_LAYERS = (keras.layers.Dense, keras.layers.Dropout)


def _copy_layer(layer):
    """A new layer of the same class, configuration and weights (built on first call)."""
    copy = layer.__class__.from_config(layer.get_config())
    weights = layer.get_weights()

    def apply(x):
        y = copy(x)
        copy.set_weights(weights)
        return y

    return apply if weights else copy


# ----------------------------------------------------------------- warm start (training helper)

_NET_A_HEAD = ("fc1", "fc2", "predictions")


def warm_start(model: keras.Model, source) -> list[str]:
    """Initialise a deeper net from a trained net A, as the paper did (Sec. 3.1).

    The first four convolutional layers of `source` (in A: ``block1_conv1``,
    ``block2_conv1``, ``block3_conv1``, ``block3_conv2``) and its three FC layers are
    copied into the layers of the same names in `model`, as Caffe copies weights by
    layer name; every other layer keeps its random initialisation. Nothing is copied
    unless every pair matches in shape.

    Args:
        model: the deeper net (B, C, D or E), built with the same width and classes.
        source: the trained net A: a `keras.Model`, a `.keras` file or a run directory
            (its ``model.keras``).

    Returns:
        The names of the layers copied, in order.

    Raises:
        ValueError: when a layer is missing from `model` or differs in shape.

    Example:
        >>> net_a = kvgg.build("A", width=1 / 16, num_classes=10, input_shape=(32, 32, 3))
        >>> net_d = kvgg.build("D", width=1 / 16, num_classes=10, input_shape=(32, 32, 3))
        >>> warm_start(net_d, net_a)[:4]
        ['block1_conv1', 'block2_conv1', 'block3_conv1', 'block3_conv2']
    """
    source = load_source_model(source)
    convs = [layer.name for layer in source.layers if isinstance(layer, keras.layers.Conv2D)]
    return copy_layers(model, source, [*convs[:4], *_NET_A_HEAD])


def copy_layers(model: keras.Model, source: keras.Model, names=None) -> list[str]:
    """Copy weights from `source` into the layers of `model` that have the same names.

    Args:
        model: the model to initialise.
        source: the model to copy from.
        names: the layers to copy (each must exist in both); default: every layer with
            weights whose name exists in both.

    Returns:
        The names of the layers copied.

    Raises:
        ValueError: when a named layer is missing, any pair differs in shape (nothing is
            copied then), or no layer matches.

    Example:
        >>> copy_layers(fine_tuned, parent)  # doctest: +SKIP
        ['block1_conv1', ..., 'predictions']
    """
    targets = {layer.name: layer for layer in model.layers if layer.weights}
    sources = {layer.name: layer for layer in source.layers if layer.weights}
    if names is None:
        names = [name for name in targets if name in sources]
    for name in names:
        for where, layers in ((model, targets), (source, sources)):
            if name not in layers:
                raise ValueError(f"Layer {name!r} is not in model {where.name!r} (or no weights)")
    if not names:
        raise ValueError(f"Models {model.name!r} and {source.name!r} share no layer names.")
    for name in names:
        ours = [tuple(w.shape) for w in targets[name].weights]
        theirs = [tuple(w.shape) for w in sources[name].weights]
        if ours != theirs:
            raise ValueError(
                f"Layer {name!r} differs in shape: {model.name!r} has {ours}, "
                f"{source.name!r} has {theirs} (same configuration width and classes?)."
            )
    for name in names:
        targets[name].set_weights(sources[name].get_weights())
    return list(names)


def load_source_model(source) -> keras.Model:
    """A model from a `keras.Model`, a `.keras` file or a run directory (its model.keras).

    Example:
        >>> load_source_model("runs/vgg11_s256").name  # doctest: +SKIP
        'vgg11'
    """
    from pathlib import Path

    from kvgg.io import load_model

    if isinstance(source, keras.Model):
        return source
    path = Path(source)
    if path.is_dir():
        path = path / "model.keras"
    return load_model(path)


def fully_convolutional_file(source, destination, *, until: str | None = None):
    """Convert a saved classifier to a fully-convolutional `.keras` file (atomic save).

    The class names and metadata of ``source`` are kept, with ``"fully_convolutional"``
    (the ``until`` stop, or ``"scores"``) added.

    Args:
        source: a `.keras` classifier file.
        destination: the `.keras` file to write.
        until: as in `fully_convolutional`.

    Example:
        >>> fully_convolutional_file("vgg16.keras", "vgg16_fcn.keras")  # doctest: +SKIP
    """
    from kvgg import io

    model = io.load_model(source)
    fcn = fully_convolutional(model, until=until)
    info = io.read_info(source)
    class_names = info.pop("class_names", None)
    info["fully_convolutional"] = until or "scores"
    return io.save_model(fcn, destination, class_names=None if until else class_names, info=info)
