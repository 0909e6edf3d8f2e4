"""Deployment: kvgg models exported to ONNX, OpenVINO, SavedModel and LiteRT, and run there.

`export` writes an artifact (one input, the RGB image in [0, 255]; named outputs; class
names and evaluation defaults in its metadata); `load_exported` runs one in its runtime.
The runtimes come with the ``export`` extra: ``pip install 'kvgg[export]'``.
Names are imported lazily (PEP 562): `kvgg.deploy.choices` loads without TensorFlow.
"""

from __future__ import annotations

from kvgg.lazy import lazy_names

_HOMES = {
    "FORMATS": ".choices",
    "PRECISIONS": ".choices",
    "export": ".api",
    "ExportedModel": ".runtime",
    "is_exported": ".runtime",
    "load_exported": ".runtime",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_names(globals(), _HOMES)
