"""Deployment: kvgg models exported to ONNX, OpenVINO, SavedModel and LiteRT, and run there.

`export` writes an artifact (one input, the RGB image in [0, 255]; named outputs; class
names and evaluation defaults in its metadata); `load_exported` runs one in its runtime.
The runtimes come with the ``export`` extra: ``pip install 'kvgg[export]'``.
Names are imported lazily (PEP 562): `kvgg.deploy.choices` loads without TensorFlow.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "FORMATS": "choices",
    "PRECISIONS": "choices",
    "export": "api",
    "ExportedModel": "runtime",
    "is_exported": "runtime",
    "load_exported": "runtime",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module 'kvgg.deploy' has no attribute {name!r}")
    return getattr(importlib.import_module(f"kvgg.deploy.{_HOMES[name]}"), name)


def __dir__():
    return __all__
