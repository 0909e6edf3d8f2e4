"""Shared by the importers: copy arrays into a layer, checking every shape first."""

from __future__ import annotations

import keras
import numpy as np


def assign(layer: keras.layers.Layer, arrays, origin: str) -> None:
    """Set `layer`'s weights to `arrays` (in the layer's own order) after checking shapes.

    Args:
        layer: the kvgg layer to fill.
        arrays: one array per weight of `layer`, already in Keras layout.
        origin: where the arrays came from (a key or layer name of the source), for errors.
    """
    arrays = [np.asarray(array, dtype="float32") for array in arrays]
    expected = [tuple(weight.shape) for weight in layer.weights]
    received = [array.shape for array in arrays]
    if expected != received:
        raise ValueError(
            f"Shape mismatch for {origin} -> kvgg layer {layer.name!r}: the kvgg model expects "
            f"{expected}, the file holds {received} (after conversion to Keras layout)."
        )
    layer.set_weights(arrays)


def weighted_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers of `model` that hold weights, except the preprocessing layer."""
    return [layer.name for layer in model.layers if layer.weights and layer.name != "preprocess"]
