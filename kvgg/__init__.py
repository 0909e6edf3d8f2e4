"""kvgg: the VGG paper (Simonyan & Zisserman, ICLR 2015) end to end in Keras 3."""

from kvgg.models import CONFIGS, LocalResponseNormalization, build, get_config, profile

__version__ = "0.1.0"

__all__ = ["CONFIGS", "LocalResponseNormalization", "__version__", "build", "get_config", "profile"]
