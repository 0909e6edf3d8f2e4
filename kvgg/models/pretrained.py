"""Weights for `build(weights=...)`: keras.applications' ImageNet files and saved kvgg files.

Files are read by layer name, so a file saved with the classifier also fills a headless
model (``include_top=False``), and a file that does not fit the architecture is reported
with its path and the first layer that differs.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np

from kvgg.models.configs import IMAGENET_MEAN_RGB, INPUT_SIZE

# keras.applications' VGG weights are the original Caffe ones: BGR input, this mean subtracted.
CAFFE_MEAN_BGR = IMAGENET_MEAN_RGB[::-1]
_KERAS_APPLICATIONS_URL = "https://storage.googleapis.com/tensorflow/keras-applications"
# config -> (keras.applications name, {include_top: (file name, md5)}), as keras.applications.
IMAGENET_FILES = {
    "D": (
        "VGG16",
        {
            True: (
                "vgg16_weights_tf_dim_ordering_tf_kernels.h5",
                "64373286793e3c8b2b4e3219cbf3544b",
            ),
            False: (
                "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "6d6bbae143d832006294945121d1f1fc",
            ),
        },
    ),
    "E": (
        "VGG19",
        {
            True: (
                "vgg19_weights_tf_dim_ordering_tf_kernels.h5",
                "cbe5617147190e668d6c5d5026f83318",
            ),
            False: (
                "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5",
                "253f8cb515780f3b799900260a226db6",
            ),
        },
    ),
}


def assign(layer: keras.layers.Layer, arrays, origin: str) -> None:
    """Set `layer`'s weights to `arrays` (in the layer's own order) after checking shapes.

    Args:
        layer: the kvgg layer to fill.
        arrays: one array per weight of `layer`, already in Keras layout.
        origin: where the arrays came from (a file, key or layer name), for errors.
    """
    arrays = [np.asarray(array, dtype="float32") for array in arrays]
    expected = [tuple(weight.shape) for weight in layer.weights]
    received = [array.shape for array in arrays]
    if expected != received:
        raise ValueError(
            f"Shape mismatch for {origin} -> kvgg layer {layer.name!r}: the kvgg model expects "
            f"{expected}, the file holds {received} (after conversion to Keras layout)."
        )
    layer.set_weights(arrays)


def weighted_layer_names(model: keras.Model) -> list[str]:
    """Names of the layers of `model` that hold weights, except the preprocessing layer."""
    return [layer.name for layer in model.layers if layer.weights and layer.name != "preprocess"]


def imagenet_weights_file(config: str, include_top: bool = True) -> Path:
    """The keras.applications ImageNet weights file of `config`, downloaded once if needed.

    Keras keeps the file in its cache folder (``~/.keras/models/``, or ``$KERAS_HOME/models``).

    Args:
        config: the canonical configuration name, "D" (VGG16) or "E" (VGG19).
        include_top: the file with the three FC layers (528 MB for VGG16) rather than the
            convolutional base only (56 MB).

    Returns:
        The local path of the file.
    """
    if config not in IMAGENET_FILES:
        raise ValueError(
            "keras.applications publishes VGG16 (config D) and VGG19 (config E) only. "
            f"Received: config={config!r}"
        )
    architecture, files = IMAGENET_FILES[config]
    file_name, md5 = files[include_top]
    url = f"{_KERAS_APPLICATIONS_URL}/{architecture.lower()}/{file_name}"
    try:
        path = keras.utils.get_file(file_name, url, cache_subdir="models", file_hash=md5)
    except Exception as error:  # Keras raises bare Exception for failed downloads.
        cache = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
        reason = str(error).split(" -- ")[-1]  # Keras' message repeats the URL before " -- "
        raise ValueError(
            f"Could not download the {architecture} ImageNet weights ({reason}). Download {url} "
            f"elsewhere, then pass the file: `kvgg weights import --from keras --config {config} "
            f"--file {file_name} -o {architecture.lower()}.keras`, or "
            f"`kvgg.build({config!r}, weights={file_name!r})` in Python, or copy it to "
            f"{cache / file_name} (Keras' cache folder) and use weights='imagenet'."
        ) from error
    return Path(path)


def load_weights(model: keras.Model, weights, *, caffe: bool | None = None) -> keras.Model:
    """Fill `model` (built by `build`) with `weights`, matching layers by name.

    Args:
        model: a kvgg model.
        weights: a keras.applications VGG16/VGG19 ``.h5`` file as Keras publishes it (BGR
            Caffe weights: the first kernel's input channels are reversed to take RGB), or a
            kvgg ``.keras`` / ``.weights.h5`` file of the same architecture.
        caffe: whether the file holds keras.applications' Caffe weights (BGR input); None
            decides from the layout (only keras.applications' downloads use Keras 2's).

    Returns:
        `model`, with its weights replaced.
    """
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"No weights file at {str(path)!r}.")
    by_name, layout = _read_weights(path)
    if layout == "keras.applications" if caffe is None else caffe:
        _check_caffe_preprocessing(model, path)
        block1 = by_name.get("block1_conv1")
        if block1:
            block1[0] = np.ascontiguousarray(block1[0][:, :, ::-1, :])  # BGR -> RGB inputs
    elif layout == "keras":
        _check_same_preprocessing(model, path)
    elif ("preprocess" in by_name) != ("preprocess" in [layer.name for layer in model.layers]):
        raise ValueError(
            f"{path}: the file's model and the built one differ in their 'preprocess' (mean) "
            "layer; a keras.applications model's weights import with "
            "`kvgg weights import --from keras --file`, a kvgg model's with the same `preprocess`."
        )
    if layout != "keras.applications":
        _check_same_blocks(model, by_name, path)
    for name in weighted_layer_names(model):
        if name not in by_name:
            raise ValueError(
                f"{path}: no weights for layer {name!r}; the file holds a different "
                "architecture (saved without the classifier, or another configuration?)."
            )
        assign(model.get_layer(name), by_name[name], f"{path} layer {name!r}")
    return model


def _check_same_blocks(model: keras.Model, by_name: dict, path: Path) -> None:
    """A kvgg file lists all its layers: one in its convolutional blocks that the built model
    lacks (B's file loaded into A, an LRN layer) means another configuration, refused rather
    than dropped. A full file still fills a headless model (its head layers are not blocks)."""
    built = {layer.name for layer in model.layers}
    extra = sorted(
        (name for name in by_name if name.startswith("block") and name not in built),
        key=lambda name: (
            int(name[5:].split("_")[0]) if name[5:].split("_")[0].isdigit() else 0,
            name,
        ),
    )
    if extra:
        raise ValueError(
            f"{path}: the file's layer {extra[0]!r} is not in the built model; the file holds "
            "another configuration (its weights must match the architecture: build the "
            "configuration it was saved from)."
        )


def _read_weights(path: Path) -> tuple[dict[str, list[np.ndarray]], str]:
    """Arrays per layer name, and the layout: "keras.applications", "keras" or "weights.h5"."""
    try:
        if path.suffix == ".keras":
            with zipfile.ZipFile(path) as archive:
                data = io.BytesIO(archive.read("model.weights.h5"))
            with h5py.File(data, "r") as file:
                return _read_keras3(file, path), "keras"
        with h5py.File(path, "r") as file:
            if "layer_names" in file.attrs:
                return _read_legacy(file), "keras.applications"
            return _read_keras3(file, path), "weights.h5"
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{path} is not a Keras weights file (.keras, .weights.h5, or keras.applications "
            f".h5): {error}"
        ) from error


def _read_legacy(file: h5py.File) -> dict[str, list[np.ndarray]]:
    """The Keras 2 HDF5 layout of the files keras.applications publishes."""
    by_name = {}
    for name in file.attrs["layer_names"]:
        name = name.decode() if isinstance(name, bytes) else str(name)
        group = file[name]
        weight_names = [
            n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]
        ]
        if weight_names:
            by_name[name] = [np.asarray(group[n]) for n in weight_names]
    return by_name


def _read_keras3(file: h5py.File, path: Path) -> dict[str, list[np.ndarray]]:
    """The Keras 3 layout: ``layers/<key>/vars/<i>``, the layer's name in ``vars``' attrs.

    Layers without weights are listed too (with no arrays), so the file's layer names are known.
    """
    by_name = {}
    for group in file["layers"].values():
        variables = group.get("vars")
        if variables is None:
            continue
        if not len(variables):
            if "name" in variables.attrs:
                by_name[str(variables.attrs["name"])] = []
            continue
        if "name" not in variables.attrs:
            raise ValueError(
                f"{path} was written by a Keras version that does not record layer names; "
                "load it with keras.saving.load_model and copy the weights by hand."
            )
        by_name[str(variables.attrs["name"])] = [
            np.asarray(variables[str(i)]) for i in range(len(variables))
        ]
    return by_name


def _preprocess_config(model: keras.Model) -> dict | None:
    names = [layer.name for layer in model.layers]
    return model.get_layer("preprocess").get_config() if "preprocess" in names else None


def _check_caffe_preprocessing(model: keras.Model, path: Path) -> None:
    config = _preprocess_config(model)
    expected = [float(m) for m in CAFFE_MEAN_BGR[::-1]]
    if (
        config is None
        or not np.allclose(config["mean"], expected)
        or not np.allclose(config["variance"], 1.0)
    ):
        raise ValueError(
            f"{path} holds keras.applications' Caffe weights, which need the ImageNet mean "
            f"{tuple(expected)} subtracted and no std: build with the default `mean`, "
            "`std=None` and `preprocess=True`."
        )


def _check_same_preprocessing(model: keras.Model, path: Path) -> None:
    """A saved kvgg model's mean/std are in its configuration, not its weights: compare."""
    with zipfile.ZipFile(path) as archive:
        layers = json.loads(archive.read("config.json"))["config"]["layers"]
    saved = next((layer["config"] for layer in layers if layer["name"] == "preprocess"), None)
    built = _preprocess_config(model)
    described = {
        "file": _describe(saved),
        "model": _describe(built),
    }
    if described["file"] != described["model"]:
        raise ValueError(
            f"{path} preprocesses inputs with {described['file']}, the built model with "
            f"{described['model']}: pass the file's values as build(mean=..., std=...), "
            "preprocess=False, or load the whole model with kvgg.load_model."
        )


def _describe(config: dict | None) -> str:
    if config is None:
        return "no mean/std layer"
    mean = np.round(np.ravel(config["mean"]), 3).tolist()
    std = np.round(np.sqrt(np.ravel(config["variance"])), 3).tolist()
    return f"mean {mean}, std {std}"


def check_imagenet_arguments(config: str, include_top, num_classes, input_shape, mean, std):
    """Reject `build` arguments that cannot hold the published ImageNet weights."""
    if config not in IMAGENET_FILES:
        raise ValueError(
            "weights='imagenet' exists for configs D (VGG16) and E (VGG19) only; other "
            "configurations: `kvgg weights import --from torchvision` or a file of yours. "
            f"Received: config={config!r}"
        )
    if include_top and (num_classes != 1000 or tuple(input_shape)[:2] != (INPUT_SIZE,) * 2):
        raise ValueError(
            "weights='imagenet' with the classifier needs num_classes=1000 and 224x224 "
            "inputs (or include_top=False for other sizes). "
            f"Received: num_classes={num_classes}, input_shape={tuple(input_shape)}"
        )
    if tuple(mean) != IMAGENET_MEAN_RGB or std is not None:
        raise ValueError(
            "weights='imagenet' needs the ImageNet mean the weights were trained with: leave "
            f"`mean` and `std` at their defaults. Received: mean={tuple(mean)}, std={std}"
        )
