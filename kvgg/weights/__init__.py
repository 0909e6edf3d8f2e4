"""Published ImageNet weights (keras.applications, torchvision) imported into kvgg models.

The imported models take RGB images in [0, 255] like every kvgg model: the original
framework's input convention (Caffe BGR and mean, or torchvision's /255 and mean/std) moves
into the model. `kvgg.build(weights=...)` reads keras.applications' files and saved kvgg
files through `load_weights` and `imagenet_weights_file`.
"""

from kvgg.models.pretrained import imagenet_weights_file, load_weights
from kvgg.weights.importer import import_weights
from kvgg.weights.keras_applications import from_keras_applications
from kvgg.weights.torchvision import from_torchvision, read_state_dict

__all__ = [
    "from_keras_applications",
    "from_torchvision",
    "imagenet_weights_file",
    "import_weights",
    "load_weights",
    "read_state_dict",
]
