"""Initial weights of a run: the paper's warm start from net A (Sec. 3.1), and `init_from`
(the parent run of a chain, or any file), both matching layers by name."""

from __future__ import annotations

from pathlib import Path

import keras

from kvgg.io import load_model, resolve_model_file

_NET_A_HEAD = ("fc1", "fc2", "predictions")


def warm_start(model: keras.Model, *, source: keras.Model | str | Path) -> list[str]:
    """Initialise a deeper net from a trained net A, as the paper did (Sec. 3.1).

    The first four convolutional layers of `source` (in A: ``block1_conv1``,
    ``block2_conv1``, ``block3_conv1``, ``block3_conv2``) and its three FC layers are
    copied into the layers of the same names in `model`, as Caffe copies weights by
    layer name; every other layer keeps its random initialisation. Nothing is copied
    unless every pair matches in shape.

    Args:
        model: the deeper net (B, C, D or E), built with the same width and classes.
        source: the trained net A: a `keras.Model`, a `.keras` file or a run directory
            (its ``model.keras``). Keyword-only: A and D share the copied layer shapes,
            so swapped positional arguments would silently copy the wrong way.

    Returns:
        The names of the layers copied, in order.

    Raises:
        ValueError: when a layer is missing from `model` or differs in shape.

    Example:
        >>> from kvgg.models import build
        >>> net_a = build("A", width=1 / 16, num_classes=10, input_shape=(32, 32, 3))
        >>> net_d = build("D", width=1 / 16, num_classes=10, input_shape=(32, 32, 3))
        >>> warm_start(net_d, source=net_a)[:4]
        ['block1_conv1', 'block2_conv1', 'block3_conv1', 'block3_conv2']
    """
    source = load_source_model(source)
    convs = [layer.name for layer in source.layers if isinstance(layer, keras.layers.Conv2D)]
    return copy_layers(model, source=source, names=[*convs[:4], *_NET_A_HEAD])


def init_from(model: keras.Model, path: str | Path) -> list[str]:
    """Load initial weights into `model` from a `.keras` file, a run directory or `.weights.h5`.

    A ``.keras`` file (or a run directory's ``model.keras``) is matched by layer name:
    every layer of `model` whose name exists there is copied, the others keep their
    initialisation. A ``.weights.h5`` file stores no layer names, so it must come from
    the same architecture (Keras matches its layers in order).

    Args:
        model: the freshly built model.
        path: ``.keras`` file, run directory or ``.weights.h5`` file.

    Returns:
        The names of the layers that received weights.

    Raises:
        ValueError: on a shape mismatch (nothing is copied) or an unreadable file.

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.io import save_model
        >>> trained = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> path = save_model(trained, Path(tempfile.mkdtemp()) / "model.keras")
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> init_from(model, path)
        ['block1_conv1', 'block2_conv1', 'block3_conv1', ..., 'fc2', 'predictions']
    """
    path = Path(path)
    if str(path).endswith(".weights.h5"):
        if not path.is_file():
            raise FileNotFoundError(f"No weights file at {str(path)!r}.")
        try:
            model.load_weights(path)
        except OSError as error:  # h5py: not an HDF5 file, truncated, ...
            raise ValueError(f"{str(path)!r} is not a readable .weights.h5 file: {error}") from None
        except ValueError as error:
            raise ValueError(
                f"Could not load {str(path)!r} into {model.name!r} (a .weights.h5 file must "
                f"come from the same architecture): {error}"
            ) from None
        return [layer.name for layer in model.layers if layer.weights]
    return copy_layers(model, source=load_source_model(path))


def copy_layers(
    model: keras.Model, *, source: keras.Model, names: list[str] | None = None
) -> list[str]:
    """Copy weights from `source` into the layers of `model` that have the same names.

    Args:
        model: the model to initialise.
        source: the model to copy from (keyword-only, so the direction is always explicit).
        names: the layers to copy (each must exist in both); default: every layer with
            weights whose name exists in both.

    Returns:
        The names of the layers copied.

    Raises:
        ValueError: when a named layer is missing, any pair differs in shape (nothing is
            copied then), or no layer matches.

    Example:
        >>> from kvgg.models import build
        >>> parent = build("A", width=1 / 16, num_classes=10, input_shape=(32, 32, 3))
        >>> child = build("A", width=1 / 16, num_classes=10, input_shape=(32, 32, 3))
        >>> copy_layers(child, source=parent)[-3:]
        ['fc1', 'fc2', 'predictions']
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


def load_source_model(source: keras.Model | str | Path) -> keras.Model:
    """A model from a `keras.Model`, a `.keras` file or a run directory (its model.keras).

    Example:
        >>> import tempfile, kvgg
        >>> from kvgg.io import save_model
        >>> run = Path(tempfile.mkdtemp())  # a run directory holding model.keras
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3))
        >>> _ = save_model(model, run / "model.keras")
        >>> load_source_model(run).name
        'vgg11'
    """
    if isinstance(source, keras.Model):
        return source
    return load_model(resolve_model_file(source))
