"""Import keras.applications' VGG16/VGG19 ImageNet weights into kvgg models D and E."""

from __future__ import annotations

import keras

from kvgg.models import build, get_config
from kvgg.models.pretrained import CAFFE_MEAN_BGR, IMAGENET_FILES, load_weights


def from_keras_applications(config: str = "D", weights="imagenet") -> keras.Model:
    """Build kvgg model D or E holding keras.applications' VGG16/VGG19 weights.

    Every layer is copied by name. keras.applications' weights expect Caffe-style input
    (BGR, mean ``[103.939, 116.779, 123.68]`` subtracted); the import reverses the input
    channels of ``block1_conv1``'s kernel and puts the RGB mean into the model's
    ``preprocess`` layer, so the kvgg model takes RGB images in [0, 255] and gives the
    posteriors keras.applications' model gives for
    ``keras.applications.vgg16.preprocess_input(rgb)``.

    Args:
        config: "D" (VGG16) or "E" (VGG19), or the aliases "vgg16" / "vgg19".
        weights: "imagenet" (Keras downloads the file once and caches it in
            ``~/.keras/models/``; offline, the error names the URL to fetch it from), or
            the path of a keras.applications weights file (``.h5`` as Keras publishes it,
            or a keras.applications model saved as ``.weights.h5`` or ``.keras``).

    Returns:
        A 224x224, 1000-class kvgg model (dropout 0.5 after FC-1 and FC-2, as in the
        paper, active only in training).

    Example:
        Not run as a doctest: the first call downloads the 528 MB ImageNet weights.

        >>> model = from_keras_applications("D")  # doctest: +SKIP
        >>> model.predict(rgb_images_224)  # RGB in [0, 255], no preprocessing  # doctest: +SKIP
    """
    cfg = get_config(config)
    if cfg.name not in IMAGENET_FILES:
        raise ValueError(
            "keras.applications publishes VGG16 (config D) and VGG19 (config E) only. "
            f"Received: config={config!r}"
        )
    if isinstance(weights, str) and weights == "imagenet":
        return build(cfg.name, weights="imagenet")
    return load_weights(build(cfg.name, mean=CAFFE_MEAN_BGR[::-1]), weights, caffe=True)
