"""kvgg: the VGG paper (Simonyan & Zisserman, ICLR 2015) end to end in Keras 3.

The subpackages follow the data: `kvgg.data` (sources, transforms, pipelines),
`kvgg.train` (recipes, fit), `kvgg.evaluate` (dense, multi-crop, multi-scale, fusion),
`kvgg.weights` (published weights), `kvgg.transfer` (features and SVMs).
"""

from kvgg.io import load_model, save_model
from kvgg.models import CONFIGS, LocalResponseNormalization, build, get_config, profile
from kvgg.models.surgery import fully_convolutional, warm_start

__version__ = "0.1.0"

__all__ = [
    "CONFIGS",
    "LocalResponseNormalization",
    "__version__",
    "build",
    "fully_convolutional",
    "get_config",
    "load_model",
    "profile",
    "save_model",
    "warm_start",
]
