"""What travels with an exported model: class names, input size, evaluation defaults, version.

One flat mapping of JSON values; each format keeps it in its own metadata (ONNX
``metadata_props``, OpenVINO ``rt_info``, a SavedModel asset, a LiteRT metadata buffer),
every value JSON-encoded under its key, so a client in any language reads it.
"""

from __future__ import annotations

import json

import keras

from kvgg.deploy.choices import check_precision
from kvgg.deploy.graph import INPUT_NAME, output_names

DENSE_SCORES = "scores"  # a dense classifier's output: the class-score map (pre-soft-max)


def artifact_metadata(
    model: keras.Model,
    info: dict,
    *,
    class_names: list[str] | None,
    dense: bool,
    precision: str,
    int8: bool,
    source: str | None = None,
) -> dict:
    """The metadata of an artifact of ``model`` (a classifier or localisation net).

    Args:
        model: the Keras model as trained (its input size is the classifier's).
        info: the kvgg metadata of its ``.keras`` file (`kvgg.io.read_info`), or {}.
        class_names: one name per class output (`kvgg.io.class_names_for`); None for
            a localisation net.
        dense: whether the artifact is the fully-convolutional net (any image size; its
            class output is then ``scores``, the map of class scores before the soft-max).
        precision: ``"float32"`` or ``"bfloat16"``: what the runtime computes in.
        int8: whether the weights and activations are quantised to int8.
        source: the model file exported.

    Example:
        >>> import kvgg
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=2)
        >>> meta = artifact_metadata(model, {}, class_names=["cat", "dog"], dense=False,
        ...                          precision="float32", int8=False)
        >>> meta["class_names"], meta["input_size"], meta["outputs"]
        (['cat', 'dog'], [32, 32], ['predictions'])
    """
    from kvgg.evaluate.scales import default_flip, default_scales

    check_precision(precision)
    height, width = model.inputs[0].shape[1:3]
    outputs = output_names(model)
    if dense:
        outputs = [DENSE_SCORES if name == "predictions" else name for name in outputs]
    meta = {
        "kvgg_version": _version(),
        "input": INPUT_NAME,
        "input_range": [0, 255],
        "input_layout": "NHWC RGB float32",
        "input_size": [None, None] if dense else [height, width],
        "trained_input_size": [height, width],
        "dense": dense,
        "outputs": outputs,
        "precision": precision,
        "int8": int8,
        "config": info.get("config"),
        "source": source,
        "scales": list(default_scales(info, height)) if height == width else None,
        "scale": info.get("scale"),  # the training scale S, or [S_min, S_max]
        "flip": default_flip(info),
    }
    if class_names is not None:
        meta["class_names"] = list(class_names)
    return meta


def encode(meta: dict) -> dict[str, str]:
    """Each value as JSON text (metadata stores of all formats hold strings)."""
    return {key: json.dumps(value) for key, value in meta.items()}


def decode(strings: dict[str, str]) -> dict:
    """The inverse of `encode`; keys that are not kvgg's are left out."""
    meta = {}
    for key, text in strings.items():
        try:
            meta[key] = json.loads(text)
        except (json.JSONDecodeError, TypeError):
            continue
    return meta


def _version() -> str:
    import kvgg

    return kvgg.__version__
