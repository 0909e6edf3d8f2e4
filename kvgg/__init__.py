"""kvgg: the VGG paper (Simonyan & Zisserman, ICLR 2015) end to end in Keras 3.

The subpackages follow the data: `kvgg.data` (sources, transforms, pipelines),
`kvgg.train` (recipes, fit), `kvgg.evaluate` (dense, multi-crop, multi-scale, fusion),
`kvgg.weights` (published weights), `kvgg.transfer` (features and SVMs),
`kvgg.perceptual` (VGG as a feature network: perceptual and style losses, LPIPS).

``import kvgg`` is instant: the names below load their module (and Keras) on first use,
so the ``kvgg`` command answers ``--help`` without starting a deep-learning framework.

Configuration A-LRN has the one custom layer. To load an A-LRN ``.keras`` file in your
own code, import ``kvgg.layers`` once first (it registers the layer with Keras)::

    import keras
    import kvgg.layers  # noqa: F401  (registers LocalResponseNormalization)

    model = keras.saving.load_model("a_lrn.keras")

Every other configuration loads with ``keras.saving.load_model`` without kvgg.
"""

from __future__ import annotations

from kvgg.lazy import lazy_names

__version__ = "0.1.0"

# Public name -> the module that defines it (imported on first access, PEP 562).
_LAZY = {
    "CONFIGS": "kvgg.models",
    "LPIPS": "kvgg.perceptual",
    "LocalResponseNormalization": "kvgg.models",
    "PerceptualLoss": "kvgg.perceptual",
    "StyleLoss": "kvgg.perceptual",
    "build": "kvgg.models",
    "export": "kvgg.deploy",
    "get_config": "kvgg.models",
    "profile": "kvgg.models",
    "fully_convolutional": "kvgg.models.surgery",
    "load_model": "kvgg.io",
    "save_model": "kvgg.io",
    "warm_start": "kvgg.train.initial_weights",
}

__all__ = [
    "CONFIGS",
    "LPIPS",
    "LocalResponseNormalization",
    "PerceptualLoss",
    "StyleLoss",
    "__version__",
    "build",
    "export",
    "fully_convolutional",
    "get_config",
    "load_model",
    "profile",
    "save_model",
    "warm_start",
]


__getattr__, __dir__ = lazy_names(globals(), _LAZY)
