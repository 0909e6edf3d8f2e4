"""kvgg's custom Keras layer; importing this module registers it with Keras.

Only configuration A-LRN uses a custom layer (`LocalResponseNormalization`). Keras finds
it by its registered name when it loads a file, so code that loads an A-LRN ``.keras``
file imports this module once first:

Example:
    >>> import keras
    >>> import kvgg.layers
    >>> keras.saving.get_registered_object("kvgg>LocalResponseNormalization").__name__
    'LocalResponseNormalization'
"""

from __future__ import annotations

from kvgg.models.layers import LocalResponseNormalization

__all__ = ["LocalResponseNormalization"]
