"""`init_from`: start a run from saved weights (the parent run of a chain, or any file)."""

from __future__ import annotations

from pathlib import Path

import keras

from kvgg.models.surgery import copy_layers, load_source_model


def init_from(model: keras.Model, path) -> list[str]:
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
        >>> init_from(model, "runs/vgg16_s256")  # doctest: +SKIP
        ['preprocess', 'block1_conv1', ..., 'predictions']
    """
    path = Path(path)
    if str(path).endswith(".weights.h5"):
        if not path.is_file():
            raise FileNotFoundError(f"No weights file at {str(path)!r}.")
        try:
            model.load_weights(path)
        except ValueError as error:
            raise ValueError(
                f"Could not load {str(path)!r} into {model.name!r} (a .weights.h5 file must "
                f"come from the same architecture): {error}"
            ) from None
        return [layer.name for layer in model.layers if layer.weights]
    return copy_layers(model, load_source_model(path))
