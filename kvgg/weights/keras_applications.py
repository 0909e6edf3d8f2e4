"""Import keras.applications' VGG16/VGG19 ImageNet weights into kvgg models D and E."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from kvgg.models import build, get_config
from kvgg.weights.common import assign, weighted_layer_names

# keras.applications' weights are the original Caffe ones: BGR input, this mean subtracted.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
_PEERS = {"D": "VGG16", "E": "VGG19"}


def from_keras_applications(config: str = "D", weights: str = "imagenet") -> keras.Model:
    """Build kvgg model D or E holding keras.applications' VGG16/VGG19 weights.

    Every layer is copied by name. keras.applications' weights expect Caffe-style input
    (BGR, mean ``[103.939, 116.779, 123.68]`` subtracted); the import reverses the input
    channels of ``block1_conv1``'s kernel and puts the RGB mean into the model's
    ``preprocess`` layer, so the kvgg model takes RGB images in [0, 255] and gives the
    posteriors the peer gives for ``keras.applications.vgg16.preprocess_input(rgb)``.

    Args:
        config: "D" (VGG16) or "E" (VGG19), or the aliases "vgg16" / "vgg19".
        weights: "imagenet" (Keras downloads the file once and caches it in
            ``~/.keras/models``), or the path of a keras.applications weights file
            (``.h5`` as Keras publishes it, ``.weights.h5``, or a whole ``.keras`` model).

    Returns:
        A 224x224, 1000-class kvgg model (dropout 0.5 after FC-1 and FC-2, as in the
        paper, active only in training).

    Example:
        >>> model = from_keras_applications("D")  # doctest: +SKIP
        >>> model.predict(rgb_images_224)  # RGB in [0, 255], no preprocessing  # doctest: +SKIP
    """
    cfg = get_config(config)
    if cfg.name not in _PEERS:
        raise ValueError(
            "keras.applications publishes VGG16 (config D) and VGG19 (config E) only. "
            f"Received: config={config!r}"
        )
    peer = _load_peer(_PEERS[cfg.name], weights)
    model = build(cfg.name, mean=CAFFE_MEAN_BGR[::-1])
    copied = set()
    for layer in peer.layers:
        if not layer.weights:
            continue
        arrays = [keras.ops.convert_to_numpy(w) for w in layer.weights]
        if layer.name == "block1_conv1":
            arrays[0] = np.ascontiguousarray(arrays[0][:, :, ::-1, :])  # BGR -> RGB inputs
        assign(model.get_layer(layer.name), arrays, f"keras.applications layer {layer.name!r}")
        copied.add(layer.name)
    missing = set(weighted_layer_names(model)) - copied
    if missing:
        raise ValueError(f"The peer model has no weights for kvgg layers {sorted(missing)}.")
    return model


def _load_peer(architecture: str, weights) -> keras.Model:
    """keras.applications.VGG16/VGG19 with `weights` ("imagenet" or a file) loaded."""
    constructor = getattr(keras.applications, architecture)
    if weights != "imagenet":
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"No keras.applications weights file at {str(path)!r}.")
        weights = str(path)
    try:
        return constructor(weights=weights)
    except Exception as error:  # Keras raises bare Exception for failed downloads.
        raise ValueError(
            f"Could not load keras.applications.{architecture} weights from {weights!r}: {error}"
        ) from error
