"""VGG models: Table 1 as data, one builder, the LRN layer and size profiles."""

from kvgg.models.configs import CONFIGS, IMAGENET_MEAN_RGB, VGGConfig, custom_config, get_config
from kvgg.models.layers import LocalResponseNormalization
from kvgg.models.profile import LayerProfile, format_profile, profile
from kvgg.models.vgg import build

__all__ = [
    "CONFIGS",
    "IMAGENET_MEAN_RGB",
    "LayerProfile",
    "LocalResponseNormalization",
    "VGGConfig",
    "build",
    "custom_config",
    "format_profile",
    "get_config",
    "profile",
]
