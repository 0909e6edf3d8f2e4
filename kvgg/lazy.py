"""Public names that load their module on first use (PEP 562), so that importing a kvgg
package is instant and the ``kvgg`` command answers ``--help`` without starting Keras."""

from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_names(namespace: dict, homes: dict[str, str]) -> tuple[Callable, Callable]:
    """The ``__getattr__`` and ``__dir__`` of a package whose names live in its modules.

    Args:
        namespace: the package's ``globals()``; a name, once loaded, is kept there.
        homes: public name -> its module, absolute (``"kvgg.models"``) or relative to the
            package (``".boxes"``).

    Example:
        >>> namespace = {"__name__": "kvgg.localize"}
        >>> getattr_, dir_ = lazy_names(namespace, {"iou": ".boxes"})
        >>> getattr_("iou").__module__, "iou" in namespace, dir_()
        ('kvgg.localize.boxes', True, ['__name__', 'iou'])
    """
    package = namespace["__name__"]

    def __getattr__(name: str):
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name], package), name)
        namespace[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
