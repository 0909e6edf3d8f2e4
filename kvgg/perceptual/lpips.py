"""LPIPS (Zhang et al. 2018, "The unreasonable effectiveness of deep features as a perceptual
metric"), VGG variant, version 0.1, as the `lpips` package computes it, on every Keras backend.

For each of VGG-16's relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3: the two images'
feature maps, each unit-normalised over its channels at every position; the squared
difference weighted per channel by the learned linear weights; averaged over positions;
summed over the five layers. One number per image pair, 0 for identical images.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import ops

from kvgg.perceptual.features import backbone_model, feature_info, features

LPIPS_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3", "relu5_3")
_EPS = 1e-10  # the reference's normalize_tensor: x / (||x|| + 1e-10)
_MIN_SIDE = 16  # relu5_3 lies after four 2x2 max-pools
_PACKAGE_FILE = ("weights", "v0.1", "vgg.pth")  # inside the installed `lpips` package


def lpips_linear_weights(source=None) -> list[np.ndarray]:
    """The five per-channel linear weight vectors of LPIPS v0.1 (VGG): 64, 128, 256, 512, 512.

    Args:
        source: None (the file ``weights/v0.1/vgg.pth`` shipped in the installed `lpips`
            package: ``pip install --no-deps lpips``; it is not imported), the path of that
            file (read with PyTorch's safe loader) or of an ``.npz`` with arrays ``lin0`` ...
            ``lin4``, or a sequence of five arrays (no PyTorch needed).

    Example:
        >>> weights = lpips_linear_weights([np.ones(c) for c in (64, 128, 256, 512, 512)])
        >>> [w.shape for w in weights][:2]
        [(64,), (128,)]
    """
    if source is None:
        source = _package_file()
    if isinstance(source, str | Path):
        arrays = _read_file(Path(source))
    else:
        arrays = [np.asarray(array, dtype="float32") for array in source]
        source = "the `linear` arrays"
    arrays = [array.reshape(-1) for array in arrays]
    channels = [64, 128, 256, 512, 512]
    if [a.size for a in arrays] != channels or not all(np.isfinite(a).all() for a in arrays):
        raise ValueError(
            f"{source}: LPIPS (VGG) needs five finite weight vectors of sizes {channels}. "
            f"Received: sizes {[a.size for a in arrays]}"
        )
    return arrays


def _package_file() -> Path:
    spec = importlib.util.find_spec("lpips")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            "LPIPS needs its learned linear weights: pass linear=<path of the lpips package's "
            "weights/v0.1/vgg.pth> (or five arrays), or install the package that ships them: "
            "pip install --no-deps lpips."
        )
    return Path(spec.submodule_search_locations[0]).joinpath(*_PACKAGE_FILE)


def _read_file(path: Path) -> list[np.ndarray]:
    if path.suffix == ".npz":
        if not path.is_file():
            raise FileNotFoundError(f"No LPIPS weights file at {str(path)!r}.")
        with np.load(path) as data:
            keys = [f"lin{k}" for k in range(len(LPIPS_LAYERS))]
            if sorted(data.files) != keys:
                raise ValueError(f"{str(path)!r} must hold arrays {keys}. Found: {data.files}")
            return [data[key].astype("float32") for key in keys]
    from kvgg.weights.torchvision import read_state_dict

    state = read_state_dict(path)
    arrays = []
    for k in range(len(LPIPS_LAYERS)):
        # model.1 after the reference's (inactive) dropout, model.0 when built without it
        names = [f"lin{k}.model.{i}.weight" for i in (1, 0)]
        key = next((name for name in names if name in state), None)
        if key is None:
            raise ValueError(
                f"{str(path)!r} is not an LPIPS linear-weights file: no key 'lin{k}.model.1.weight'"
                f" (keys: {sorted(state)[:5]})."
            )
        arrays.append(state[key])
    return arrays


class _LPIPSHead(keras.layers.Layer):
    """Normalise, difference, weight per channel, average over positions, sum over layers."""

    def __init__(self, channels: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.channels = tuple(channels)

    def build(self, input_shape):
        self.linear = [
            self.add_weight(shape=(c,), initializer="zeros", trainable=False, name=f"lin{k}")
            for k, c in enumerate(self.channels)
        ]

    def call(self, maps):
        half = len(self.channels)
        total = 0.0
        for map_a, map_b, weight in zip(maps[:half], maps[half:], self.linear, strict=True):
            difference = ops.square(_unit(map_a) - _unit(map_b))
            total = total + ops.mean(ops.sum(difference * weight, axis=-1), axis=(1, 2))
        return total

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0],)

    def get_config(self):
        return super().get_config() | {"channels": list(self.channels)}


def _unit(feature_map):
    norm = ops.sqrt(ops.sum(ops.square(feature_map), axis=-1, keepdims=True))
    return feature_map / (norm + _EPS)


class LPIPS:
    """The LPIPS distance (v0.1, VGG) between pairs of RGB images in [0, 255].

    Args:
        backbone: the VGG-16 (config D): None for the published ImageNet weights
            (keras.applications', downloaded once; offline, the message says where to put
            the file), a kvgg model, a ``.keras`` file, or torchvision's VGG-16 state dict
            (``vgg16-397923af.pth``, the weights the `lpips` package uses: with them the
            distances are the package's; keras.applications' Caffe weights give close but
            not identical values). The backbone's own ``preprocess`` layer scales the input;
            for a torchvision import it is LPIPS's ScalingLayer on the [0, 255] scale
            (mean 127.5 * (1 + shift) = 255 * torchvision's mean, std 127.5 * scale).
        linear: the learned linear weights (`lpips_linear_weights`): None for the file in
            the installed `lpips` package, a path, or five arrays.

    Calling it on two batches of images of one size (at least 16 x 16) gives one distance
    per pair, a backend tensor that gradients flow through; `model` is the same as a Keras
    model taking ``[images_a, images_b]``.

    Example:
        >>> import kvgg, numpy as np
        >>> lpips = LPIPS(kvgg.build("D", include_top=False), linear=[np.ones(c) for c in
        ...     (64, 128, 256, 512, 512)])  # a random net and unit weights: a test
        >>> a = np.random.default_rng(0).uniform(0, 255, (3, 32, 48, 3))
        >>> d = np.asarray(lpips(a, a[::-1]))
        >>> d.shape, float(d[1]), bool(d[0] > 0)
        ((3,), 0.0, True)
    """

    def __init__(self, backbone=None, linear=None):
        net = backbone_model("D" if backbone is None else backbone)
        self.features = features(net, LPIPS_LAYERS)
        infos = {info.name: info for info in feature_info(net)}
        channels = [infos[name].channels for name in LPIPS_LAYERS]
        weights = lpips_linear_weights(linear)
        if [w.size for w in weights] != channels:
            raise ValueError(
                f"The backbone's LPIPS layers have {channels} channels, the linear weights "
                f"{[w.size for w in weights]}: LPIPS (VGG) needs a full-width VGG-16."
            )
        image_a = keras.Input((None, None, 3), name="image_a")
        image_b = keras.Input((None, None, 3), name="image_b")
        maps_a, maps_b = self.features(image_a), self.features(image_b)
        head = _LPIPSHead(channels, name="lpips")
        distance = head([maps_a[n] for n in LPIPS_LAYERS] + [maps_b[n] for n in LPIPS_LAYERS])
        head.set_weights(weights)
        self.model = keras.Model([image_a, image_b], distance, name="lpips_vgg")

    def __call__(self, images_a, images_b):
        """Distances of the pairs ``(images_a[i], images_b[i])``, shape ``(batch,)``."""
        images_a = ops.cast(images_a, "float32")
        images_b = ops.cast(images_b, "float32")
        shape_a, shape_b = tuple(images_a.shape), tuple(images_b.shape)
        if shape_a != shape_b or len(shape_a) != 4 or shape_a[-1] != 3:
            raise ValueError(
                "LPIPS compares batches of RGB images of one shape (batch, height, width, 3). "
                f"Received: {shape_a} and {shape_b}"
            )
        if any(side is not None and side < _MIN_SIDE for side in shape_a[1:3]):
            raise ValueError(
                f"LPIPS needs images of at least {_MIN_SIDE}x{_MIN_SIDE} (relu5_3 lies after four "
                f"2x2 max-pools). Received: {shape_a[1]}x{shape_a[2]}"
            )
        return self.model([images_a, images_b], training=False)
