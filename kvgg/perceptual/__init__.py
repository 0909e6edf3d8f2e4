"""VGG as a feature network: named feature maps, perceptual and style losses, and LPIPS.

`features` turns a kvgg net into a frozen model from images to named feature maps
(``relu3_3``, ``pool4``, ...; `feature_info` lists them). `PerceptualLoss` and `StyleLoss`
are Keras losses on them (Johnson et al. 2016, Gatys et al. 2015), `LPIPS` is the LPIPS
distance v0.1 (VGG) equal to the `lpips` package's. Stock Keras ops only: they run and
differentiate on TensorFlow, JAX and PyTorch.
"""

from kvgg.perceptual.features import FeatureInfo, backbone_model, feature_info, features, layer_name
from kvgg.perceptual.losses import (
    GATYS_LAYERS,
    JOHNSON_LAYERS,
    PerceptualLoss,
    StyleLoss,
    gram_matrix,
)
from kvgg.perceptual.lpips import LPIPS, LPIPS_LAYERS, lpips_linear_weights

__all__ = [
    "GATYS_LAYERS",
    "JOHNSON_LAYERS",
    "LPIPS",
    "LPIPS_LAYERS",
    "FeatureInfo",
    "PerceptualLoss",
    "StyleLoss",
    "backbone_model",
    "feature_info",
    "features",
    "gram_matrix",
    "layer_name",
    "lpips_linear_weights",
]
