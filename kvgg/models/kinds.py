"""The two kinds of saved net: classifiers (class scores) and localisation nets (boxes).

A localisation net is marked by its box regressor, a layer named `BOX_LAYER`; the mark
survives saving and `kvgg.fully_convolutional`. Readers of model files (`kvgg evaluate`,
`kvgg localize`) refuse the wrong kind with `check_kind` before any work.
"""

from __future__ import annotations

from typing import Literal

import keras

__all__ = ["BOX_LAYER", "NET_KINDS", "check_kind", "is_localizer"]

BOX_LAYER = "boxes"
NET_KINDS = ("classifier", "localizer")  # class scores, or boxes (layer `BOX_LAYER`)


def is_localizer(model: keras.Model) -> bool:
    """Whether ``model`` is a localisation net: it has the box regressor (layer ``boxes``).

    The layer's name is the mark, not the output width: a 4-class classifier also has 4
    outputs. The mark survives saving and `kvgg.fully_convolutional`.

    Example:
        >>> import kvgg
        >>> from kvgg.localize.model import build_localizer
        >>> net = kvgg.build("A", width=1 / 16, num_classes=4, input_shape=(32, 32, 3))
        >>> is_localizer(net), is_localizer(build_localizer(net, regression="scr"))
        (False, True)
    """
    return any(layer.name == BOX_LAYER for layer in model.layers)


def check_kind(model: keras.Model, path, kind: Literal["classifier", "localizer"]) -> None:
    """Refuse a model file that holds the other kind of net than the one expected.

    Args:
        model: the model loaded from ``path``.
        path: its file, named in the message.
        kind: ``"classifier"`` (class scores) or ``"localizer"`` (boxes).

    Raises:
        ValueError: one line naming the file, what it is, what was expected and what to
            pass instead.

    Example:
        >>> import kvgg
        >>> from kvgg.localize.model import build_localizer
        >>> net = kvgg.build("A", width=1 / 16, num_classes=4, input_shape=(32, 32, 3))
        >>> check_kind(net, "cls.keras", "classifier")  # fine: nothing happens
        >>> try:
        ...     check_kind(build_localizer(net), "loc.keras", "classifier")
        ... except ValueError as error:
        ...     print(str(error).split(" (")[0])
        'loc.keras' is a localisation net, not a classifier
    """
    if kind not in NET_KINDS:
        raise ValueError(f"`kind` must be one of {NET_KINDS}. Received: kind={kind!r}")
    if kind == "classifier" and is_localizer(model):
        raise ValueError(
            f"{str(path)!r} is a localisation net, not a classifier (its last layer "
            f"{BOX_LAYER!r} predicts boxes, not class scores): run it with `kvgg localize "
            f"--model {str(path)!r} --classifier CLASSIFIER IMAGE...`, evaluate it with "
            f"`kvgg evaluate --model {str(path)!r} --classifier CLASSIFIER --data DIR "
            "--boxes BOXES`."
        )
    if kind == "localizer" and not is_localizer(model):
        raise ValueError(
            f"{str(path)!r} is not a localisation net (no box regressor, layer {BOX_LAYER!r}): "
            "pass a classifier as --classifier, and as --model a net trained with a "
            "recipes/localization/ recipe."
        )
