"""Import published weights and write them as a self-contained kvgg `.keras` file."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from kvgg.io import check_outputs, imagenet_class_names, save_model
from kvgg.models import get_config

SOURCES = ("keras", "torchvision")


def import_weights(
    source: str, config: str, out: str | Path, *, file: str | Path | None = None
) -> Path:
    """Import published ImageNet weights into a kvgg model and save it to `out`.

    The file carries the ImageNet class names (so ``kvgg predict`` prints names) and a
    record of where the weights came from and of the preprocessing now inside the model.

    Args:
        source: "keras" (keras.applications VGG16/VGG19, configs D and E) or
            "torchvision" (vgg11/13/16/19 and their _bn variants, configs A, B, D, E).
        config: the VGG configuration ("A", "B", "D", "E" or "vgg11" ... "vgg19").
        out: destination ``.keras`` file, written atomically.
        file: the weights file. Required for torchvision (``vgg16-397923af.pth``...);
            for keras, None downloads (once, cached by Keras) the ImageNet weights.

    Returns:
        The path written.

    Example:
        Not run as a doctest: both need the full-size ImageNet weights (downloads).

        >>> import_weights("keras", "D", "vgg16.keras")  # doctest: +SKIP
        >>> import_weights("torchvision", "vgg16", "vgg16_tv.keras",
        ...                file="vgg16-397923af.pth")  # doctest: +SKIP
    """
    if source not in SOURCES:
        raise ValueError(f"`source` must be one of {SOURCES}. Received: source={source!r}")
    cfg = get_config(config)
    out = Path(out)
    if out.suffix != ".keras":
        raise ValueError(f"Model files must end in .keras. Received: out={str(out)!r}")
    check_outputs([out], [file])
    if source == "keras":
        from kvgg.weights.keras_applications import from_keras_applications

        model = from_keras_applications(cfg.name, weights=file or "imagenet")
        origin = {
            "source": "keras.applications",
            "file": str(file) if file else "imagenet",
            "original_input": "Caffe: BGR, mean [103.939, 116.779, 123.68] subtracted",
        }
    else:
        if file is None:
            raise ValueError(
                "Importing torchvision weights needs the .pth file (`file=`, or --file on the "
                "command line): download it from torchvision.models.VGG16_Weights.IMAGENET1K_V1"
                ".url (or the weights of your depth)."
            )
        from kvgg.weights.torchvision import from_torchvision

        model = from_torchvision(file, cfg.name)
        origin = {
            "source": "torchvision",
            "file": str(file),
            "original_input": "RGB / 255, normalised by mean (0.485, 0.456, 0.406), "
            "std (0.229, 0.224, 0.225)",
        }
    num_classes = model.output_shape[-1]
    batch_norm = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    info = {
        "config": cfg.name,
        "batch_norm": batch_norm,
        "weights": origin | {"preprocessing": _preprocessing(model)},
    }
    class_names = imagenet_class_names() if num_classes == 1000 else None
    return save_model(model, out, class_names=class_names, info=info)


def _preprocessing(model: keras.Model) -> dict:
    """The mean and std (on the [0, 255] RGB scale) the model's first layer applies."""
    layer = model.get_layer("preprocess")
    mean = np.ravel(keras.ops.convert_to_numpy(layer.mean))
    std = np.sqrt(np.ravel(keras.ops.convert_to_numpy(layer.variance)))
    return {
        "input": "RGB in [0, 255]",
        "mean": [round(float(m), 4) for m in mean],
        "std": [round(float(s), 4) for s in std],
    }
