"""Model files: atomic `.keras` saves that carry kvgg's metadata, and loads with clear errors.

A kvgg model file is a standard `.keras` archive (``keras.saving.load_model`` reads it
without kvgg) with one extra member, ``kvgg.json``: the class names and whatever else
kvgg recorded (configuration, training scale, source of the weights). Keras ignores it.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from functools import cache
from importlib import resources
from pathlib import Path

import keras
import numpy as np

INFO_MEMBER = "kvgg.json"


def save_model(model: keras.Model, path, *, class_names=None, info: dict | None = None) -> Path:
    """Save `model` to a `.keras` file atomically, with kvgg metadata inside.

    The file is written beside its destination and moved into place in one step, so a
    crash during the save never leaves a broken file where a good one was.

    Args:
        model: the model to save.
        path: destination, ending in ``.keras``.
        class_names: optional list of class names, one per output unit.
        info: optional JSON-serialisable dict stored alongside (e.g. ``{"config": "D"}``).

    Returns:
        The destination path.

    Example:
        >>> save_model(kvgg.build("A", width=1/16, input_shape=(32, 32, 3)), "a.keras",
        ...            class_names=[str(i) for i in range(1000)])  # doctest: +SKIP
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ValueError(f"Model files must end in .keras. Received: path={str(path)!r}")
    metadata = dict(info or {})
    if class_names is not None:
        metadata["class_names"] = [str(name) for name in class_names]
    metadata["kvgg_version"] = _version()

    def write(partial: Path):
        model.save(partial)
        with zipfile.ZipFile(partial, "a") as archive:
            archive.writestr(INFO_MEMBER, json.dumps(metadata, indent=1))

    return write_atomic(path, write)


def write_atomic(path, write: Callable[[Path], None]) -> Path:
    """Call ``write(partial_path)``, then move the result to ``path`` in one rename.

    The partial file sits beside ``path`` and ends in the same suffix (Keras needs
    ``.keras``). A crash or an exception part-way leaves whatever was at ``path`` as it was.

    Args:
        path: the destination; its folder is created if needed.
        write: writes the whole file at the path it is given.

    Returns:
        The destination path.

    Example:
        >>> write_atomic("out/notes.txt", lambda p: p.write_text("hello"))  # doctest: +SKIP
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=f".partial{path.suffix}"
    )
    os.close(handle)
    partial = Path(partial)
    try:
        write(partial)
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_text(path, text: str) -> Path:
    """Write a text file atomically (see `write_atomic`).

    Example:
        >>> write_text("runs/x/notes.txt", "hello")  # doctest: +SKIP
    """
    return write_atomic(path, lambda partial: partial.write_text(text))


def write_npz(path, **arrays) -> Path:
    """Write an uncompressed NumPy ``.npz`` archive atomically (see `write_atomic`).

    Example:
        >>> write_npz("features.npz", features=np.zeros((2, 4)))  # doctest: +SKIP
    """

    def write(partial: Path):
        with open(partial, "wb") as f:
            np.savez(f, **arrays)

    return write_atomic(path, write)


def load_model(path, *, compile: bool = False) -> keras.Model:
    """Load a `.keras` model file, with an error that names the file when it is not one.

    Args:
        path: a `.keras` file (written by kvgg or by Keras).
        compile: whether to restore the training configuration too.

    Example:
        >>> model = load_model("runs/quickstart/model.keras")  # doctest: +SKIP
    """
    import kvgg.models  # noqa: F401  (registers the LRN layer)

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {str(path)!r}.")
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{str(path)!r} is not a Keras model file (.keras archive); got a file of "
            f"{path.stat().st_size} bytes that is not a zip archive."
        )
    try:
        return keras.saving.load_model(path, compile=compile)
    except Exception as error:  # Keras raises many types for foreign or damaged archives.
        raise ValueError(f"Could not load a Keras model from {str(path)!r}: {error}") from error


def read_info(path) -> dict:
    """Return the kvgg metadata stored in a model file (empty for plain Keras files).

    Args:
        path: a `.keras` file.

    Example:
        >>> read_info("runs/quickstart/model.keras")["class_names"][:3]  # doctest: +SKIP
    """
    with zipfile.ZipFile(path) as archive:
        if INFO_MEMBER not in archive.namelist():
            return {}
        return json.loads(archive.read(INFO_MEMBER))


def class_names_for(path, num_classes: int) -> list[str]:
    """Class names for a model file: its own, else ImageNet's for 1000 classes, else indices.

    Args:
        path: a `.keras` file.
        num_classes: the model's number of outputs.

    Example:
        >>> class_names_for("vgg16.keras", 1000)[0]  # doctest: +SKIP
        'tench, Tinca tinca'
    """
    names = read_info(path).get("class_names")
    if names and len(names) == num_classes:
        return names
    if num_classes == 1000:
        return imagenet_class_names()
    return [str(i) for i in range(num_classes)]


@cache
def imagenet_synsets() -> list[tuple[str, str]]:
    """The 1000 ILSVRC-2012 classes as (WordNet id, name), in the standard index order."""
    text = resources.files("kvgg.resources").joinpath("imagenet_classes.tsv").read_text()
    return [tuple(line.split("\t", 1)) for line in text.splitlines()]


def imagenet_class_names() -> list[str]:
    """The 1000 ILSVRC-2012 class names in index order (``'tench, Tinca tinca'``, ...)."""
    return [name for _, name in imagenet_synsets()]


def _version() -> str:
    from kvgg import __version__

    return __version__
