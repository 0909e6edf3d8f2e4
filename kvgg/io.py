"""Model files: atomic `.keras` saves that carry kvgg's metadata, and loads with clear errors.

A kvgg model file is a standard `.keras` archive (``keras.saving.load_model`` reads it
without kvgg) with one extra member, ``kvgg.json``: the class names and whatever else
kvgg recorded (configuration, training scale, source of the weights). Keras ignores it.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import io
import json
import os
import secrets
import zipfile
import zlib
from collections.abc import Callable, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

import keras
import numpy as np

from kvgg.precision import follow_global_policy

INFO_MEMBER = "kvgg.json"
BEST_MODEL_FILE = "model.keras"  # in a `kvgg fit` run directory: the best epoch's model


def save_model(
    model: keras.Model,
    path: str | os.PathLike,
    *,
    class_names: Sequence[str] | None = None,
    info: dict | None = None,
) -> Path:
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
        >>> import tempfile, kvgg
        >>> folder = Path(tempfile.mkdtemp())
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> save_model(model, folder / "a.keras", class_names=["cat", "dog", "fish"]).name
        'a.keras'
        >>> read_info(folder / "a.keras")["class_names"]
        ['cat', 'dog', 'fish']
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


def write_atomic(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """Call ``write(partial_path)``, then move the result to ``path`` in one rename.

    The partial file sits beside ``path`` and ends in the same suffix (Keras needs
    ``.keras``). A crash or an exception part-way leaves whatever was at ``path`` as it was;
    the hidden partial files such a crash leaves are removed by the next write of ``path``.

    Args:
        path: the destination; its folder is created if needed.
        write: writes the whole file at the path it is given.

    Returns:
        The destination path.

    Raises:
        OSError: naming ``path`` (never the partial file) when it cannot be written, or
            when it exists and is not a regular file (a device such as /dev/null, a folder).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "out" / "notes.txt"
        >>> write_atomic(path, lambda partial: partial.write_text("hello")).read_text()
        'hello'
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # never replace /dev/null, a folder, a fifo
        raise OSError(f"Cannot write {str(path)!r}: it exists and is not a regular file.")
    partial = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        for stale in path.parent.glob(f".{glob.escape(path.name)}.*.partial{path.suffix}"):
            stale.unlink(missing_ok=True)  # left by a write that was killed part-way
        partial = _new_partial_file(path)
        write(partial)
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, path)
    except OSError as error:  # name the destination, not the hidden partial file
        raise OSError(f"Cannot write {str(path)!r}: {_write_problem(path, error)}") from None
    finally:
        if partial is not None:
            partial.unlink(missing_ok=True)
    return path


def check_outputs(outputs, inputs=(), *, made_from=None) -> None:
    """Refuse, before any work, a file a command would write over one of its own inputs,
    or over another of its outputs.

    Every command that writes files calls this once with everything it writes and reads.
    Files are compared as the file system sees them: through symbolic links, ``..``, hard
    links, and run directories (pass a run directory's model file, `resolve_model_file`).

    Args:
        outputs: the paths the command writes (None entries are ignored).
        inputs: the paths the command reads (None entries are ignored).
        made_from: per output, what it is written for (named when two outputs collide),
            e.g. the image of each picture.

    Raises:
        ValueError: one line naming the output and the input (or the two sources of
            one output).

    Example:
        >>> import tempfile
        >>> photo = Path(tempfile.mkdtemp()) / "cat.jpg"
        >>> _ = photo.write_bytes(b"...")
        >>> check_outputs([photo.with_suffix(".json")], [photo])  # fine
        >>> check_outputs([photo], [photo])
        Traceback (most recent call last):
        ...
        ValueError: Refusing to write '.../cat.jpg' over the input '.../cat.jpg' ...
    """
    outputs = list(outputs)
    made_from = [None] * len(outputs) if made_from is None else list(made_from)
    existing = {}  # (device, inode) of each output that exists -> the output
    seen = {}  # resolved output path -> (the output as given, what it is for)
    for path, origin in zip(outputs, made_from, strict=True):
        if path is None:
            continue
        path = Path(path)
        key = os.path.realpath(path)
        if key in seen:
            first, first_origin = seen[key]
            raise ValueError(
                f"Two outputs would be written to {str(path)!r}"
                + (f" (for {str(first_origin)!r} and {str(origin)!r})" if origin else "")
                + ": give inputs with different names, or different output paths."
            )
        seen[key] = (path, origin)
        with contextlib.suppress(OSError):
            info = path.stat()
            existing[(info.st_dev, info.st_ino)] = path
    if not existing:
        return  # nothing there yet, so no input to overwrite
    for source in inputs:
        if source is None:
            continue
        try:
            info = os.stat(source)
        except OSError:
            continue  # a missing input is the reader's error, named there
        target = existing.get((info.st_dev, info.st_ino))
        if target is not None:
            raise ValueError(
                f"Refusing to write {str(target)!r} over the input {str(source)!r} (the same "
                "file): give another output path."
            )


def _new_partial_file(path: Path) -> Path:
    """Create an empty, uniquely named file beside ``path`` with the umask's permissions.

    (``tempfile.mkstemp`` makes it 0600 whatever the umask: a run directory's model would
    then be unreadable to a team or a serving container.)
    """
    while True:
        partial = path.with_name(f".{path.name}.{secrets.token_hex(4)}.partial{path.suffix}")
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return partial


def _write_problem(path: Path, error: OSError) -> str:
    blocker = next((folder for folder in path.parents if folder.exists()), None)
    if blocker is not None and not blocker.is_dir():
        return f"{str(blocker)!r} is a file, not a folder"
    return error.strerror or str(error)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically (see `write_atomic`).

    Example:
        >>> import tempfile
        >>> write_text(Path(tempfile.mkdtemp()) / "runs" / "x" / "notes.txt", "hello").read_text()
        'hello'
    """
    return write_atomic(path, lambda partial: partial.write_text(text))


def write_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Write an uncompressed NumPy ``.npz`` archive atomically (see `write_atomic`).

    Example:
        >>> import tempfile
        >>> path = write_npz(Path(tempfile.mkdtemp()) / "features.npz", features=np.zeros((2, 4)))
        >>> np.load(path)["features"].shape
        (2, 4)
    """

    def write(partial: Path):
        with open(partial, "wb") as f:
            np.savez(f, **arrays)

    return write_atomic(path, write)


def load_model(path: str | os.PathLike, *, compile: bool = False) -> keras.Model:
    """Load a `.keras` model file, with an error that names the file when it is not one.

    Args:
        path: a `.keras` file (written by kvgg or by Keras).
        compile: whether to restore the training configuration too.

    Returns:
        The model; under a mixed Keras dtype policy (``kvgg evaluate --precision``) a
        copy computing in it (`kvgg.precision.follow_global_policy`), unless compiled.

    Example:
        >>> import tempfile, kvgg
        >>> path = Path(tempfile.mkdtemp()) / "a.keras"
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> _ = save_model(model, path)
        >>> load_model(path).output_shape
        (None, 3)
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
        model = keras.saving.load_model(path, compile=compile)
    except Exception as error:  # Keras raises many types for foreign or damaged archives.
        raise ValueError(f"Could not load a Keras model from {str(path)!r}: {error}") from error
    return model if compile else follow_global_policy(model)


def resolve_model_file(path: str | os.PathLike) -> Path:
    """The `.keras` file a model argument names: the file itself, or a run directory's.

    Args:
        path: a `.keras` file or a `kvgg fit` run directory (its ``model.keras``, the best
            epoch).

    Returns:
        The model file's path (not checked further: `load_model` does that).

    Raises:
        FileNotFoundError: for a directory without a ``model.keras``.

    Example:
        >>> str(resolve_model_file("vgg16.keras"))
        'vgg16.keras'
    """
    path = Path(path)
    if path.is_dir():
        if not (path / BEST_MODEL_FILE).is_file():
            raise FileNotFoundError(f"{str(path)!r} is a directory without a {BEST_MODEL_FILE}.")
        return path / BEST_MODEL_FILE
    return path


def read_text_file(path: str | os.PathLike) -> str:
    """The text of a UTF-8 file a user hands in (labels, class lists, image lists).

    Raises:
        ValueError: ``FILE:LINE: not UTF-8 text ...`` naming the first undecodable line.
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ValueError(
            f"{path}:{line}: not UTF-8 text (byte {data[error.start]:#x}); save it as UTF-8."
        ) from None


def read_csv_rows(path: str | os.PathLike) -> list[list[str]]:
    """The non-empty rows of a UTF-8 CSV file a user hands in (labels, Kaggle solutions).

    Raises:
        ValueError: ``FILE:LINE: ...`` for text that is not UTF-8 or a malformed row (a field
            past the csv module's limit of 131,072 characters).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "labels.csv"
        >>> _ = path.write_bytes("file,label\\na.jpg,caf\\xe9\\n".encode("latin-1"))
        >>> read_csv_rows(path)
        Traceback (most recent call last):
        ...
        ValueError: ...labels.csv:2: not UTF-8 text (byte 0xe9); save it as UTF-8.
    """
    reader = csv.reader(io.StringIO(read_text_file(path), newline=""))
    try:
        return [row for row in reader if row]
    except csv.Error as error:
        raise ValueError(f"{path}:{reader.line_num}: {error}.") from None


def check_archive(path: str | os.PathLike) -> None:
    """Check every member of a ``.keras`` archive against its CRC (the whole file is read).

    Raises:
        ValueError: naming the file and its first damaged member.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as error:
        raise ValueError(
            f"{str(path)!r} is damaged (not a readable .keras archive): {error}"
        ) from None
    if damaged is not None:
        raise ValueError(f"{str(path)!r} is damaged: its member {damaged!r} fails its CRC check.")


def read_info(path: str | os.PathLike) -> dict:
    """Return the kvgg metadata stored in a model file (empty for plain Keras files).

    Args:
        path: a `.keras` file.

    Example:
        >>> import tempfile, kvgg
        >>> path = Path(tempfile.mkdtemp()) / "a.keras"
        >>> model = kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3), num_classes=3)
        >>> _ = save_model(model, path, class_names=["cat", "dog", "fish"], info={"config": "A"})
        >>> info = read_info(path)
        >>> info["class_names"][:2], info["config"]
        (['cat', 'dog'], 'A')
    """
    try:
        with zipfile.ZipFile(path) as archive:
            if INFO_MEMBER not in archive.namelist():
                return {}
            info = json.loads(archive.read(INFO_MEMBER))
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise ValueError(f"{str(path)!r} is not a readable .keras archive: {error}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{str(path)!r} holds a damaged {INFO_MEMBER}: {error}") from None
    _check_info(info, path)
    return info


def _check_info(info, path) -> None:
    """The fields kvgg reads from ``kvgg.json`` have the types kvgg wrote."""
    problem = None
    names = info.get("class_names") if isinstance(info, dict) else None
    if not isinstance(info, dict):
        problem = f"is a {type(info).__name__}, not a mapping"
    elif names is not None and not (
        isinstance(names, list) and all(isinstance(name, str) for name in names)
    ):
        problem = "has class_names that are not a list of strings"
    elif not isinstance(info.get("train_state", {}), dict):
        problem = "has a train_state that is not a mapping"
    if problem:
        raise ValueError(f"{str(path)!r} holds a damaged {INFO_MEMBER}: it {problem}.")


def class_names_for(path: str | os.PathLike, num_classes: int) -> list[str]:
    """Class names for a model file: its own, else ImageNet's for 1000 classes, else indices.

    Args:
        path: a `.keras` file.
        num_classes: the model's number of outputs.

    Example:
        >>> import tempfile, kvgg
        >>> path = Path(tempfile.mkdtemp()) / "a.keras"
        >>> _ = save_model(kvgg.build("A", width=1 / 16, input_shape=(32, 32, 3)), path)
        >>> class_names_for(path, 1000)[0]  # no names stored, 1000 outputs: ImageNet's
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
    # The installed distribution's version (built from `kvgg.__version__`), read without
    # importing the package back from this module.
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("kvgg")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "unknown"
