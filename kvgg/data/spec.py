"""``open_source``: one way to name a dataset, from a recipe (a dict) or the command line."""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from urllib.parse import parse_qsl

from kvgg.data import sources

KINDS = {
    "folder": (sources.image_folder, "root"),
    "labels": (sources.labels_file, "folder"),
    "tfrecord": (sources.tfrecords, "pattern"),
    "voc": (sources.voc, "root"),
    "caltech": (sources.caltech, "root"),
    "keras": (sources.keras_dataset, "name"),
    "digits": (sources.digits, "subset"),
}
SHORTHANDS = {"digits": "digits", "fashion_mnist": "keras", "cifar10": "keras", "cifar100": "keras"}


def open_source(spec: sources.Source | str | os.PathLike | dict) -> sources.Source:
    """Open a dataset named by a recipe dict or a command-line string.

    Strings:

    - ``PATH``: an image folder (one sub-folder per class).
    - ``KIND:PATH`` or ``KIND:PATH?key=value&key=value``, where KIND is ``folder``,
      ``labels`` (needs ``labels=FILE``), ``tfrecord`` (PATH is a glob), ``voc``
      (``year=``, ``split=``) or ``caltech`` (``kind=101|256``, ``subset=``, ``seed=``,
      ``split_dir=``); keys are the arguments of the matching function in
      :mod:`kvgg.data.sources`.
    - ``digits``, ``digits:test``, ``cifar10``, ``cifar100:test``, ``fashion_mnist``,
      ``keras:cifar10?subset=test``.

    Dicts: ``{"kind": KIND, "path": PATH, **options}`` (``path`` may be left out for
    ``digits`` and ``keras`` takes ``name``).

    Args:
        spec: the string or dict.

    Returns:
        The :class:`~kvgg.data.sources.Source`.

    Example:
        >>> open_source("digits:test").num_classes
        10
        >>> import tempfile
        >>> from kvgg.localize.demo import pasted_objects
        >>> images, _ = pasted_objects(tempfile.mkdtemp(), per_class=2)
        >>> open_source(f"folder:{images}").class_names
        ['blue', 'green', 'red']
    """
    if isinstance(spec, sources.Source):
        return spec
    kind, options, described = _parse(spec)
    return KINDS[kind][0](**_arguments(kind, options, described))


def check_spec(spec: str | os.PathLike | dict) -> None:
    """Check a source's kind and options as `open_source` does, without reading any file
    (a recipe's ``data.train`` in ``kvgg recipe show`` fails as ``kvgg fit`` would).

    Example:
        >>> check_spec({"kind": "folder", "path": "absent", "colour": "blue"})
        Traceback (most recent call last):
        ...
        ValueError: Unknown option 'colour' for a folder source in 'folder source'; ...
    """
    if not isinstance(spec, sources.Source):
        _arguments(*_parse(spec))


def _parse(spec) -> tuple[str, dict, str]:
    """(kind, options, how the spec was written) of a source string or dict."""
    if isinstance(spec, dict):
        return _parse_dict(dict(spec))
    if not isinstance(spec, (str, Path)):
        raise ValueError(f"A data source is a string or a dict. Received: spec={spec!r}")
    text = str(spec)
    if not text.strip():
        raise ValueError(
            "A data source cannot be empty (write . for the current folder). Received: spec=''"
        )
    head, _, query = text.partition("?")
    kind, sep, rest = head.partition(":")
    options = dict(parse_qsl(query, keep_blank_values=True))
    if kind in SHORTHANDS:  # digits, digits:test, cifar10:test (write ./digits for a folder)
        subset = {"subset": rest or "train"}
        if SHORTHANDS[kind] == "keras":
            return "keras", {"name": kind, **subset, **options}, text
        return "digits", {**subset, **options}, text
    if sep and kind in KINDS:
        return kind, {KINDS[kind][1]: rest, **options}, text
    if Path(text).is_dir() or not sep or len(kind) == 1:  # a bare path (C:\\... included)
        return "folder", {"root": text}, text
    raise ValueError(
        f"Unknown data source kind {kind!r}; expected one of {sorted(KINDS)} or a folder. "
        f"Received: spec={text!r}"
    )


def source_files(source: sources.Source) -> list[str]:
    """The files a source reads its images from (image files, TFRecord shards); empty for
    in-memory sources. Commands that write pass them to `kvgg.io.check_outputs`.

    Example:
        >>> source_files(open_source("digits"))
        []
    """
    return [*getattr(source, "paths", ()), *getattr(source, "files", ())]


def _parse_dict(spec):
    kind = spec.pop("kind", None)
    if kind not in KINDS:
        raise ValueError(
            f"A data source dict needs 'kind' in {sorted(KINDS)}. Received: kind={kind!r}"
        )
    if "path" in spec:
        spec[KINDS[kind][1]] = spec.pop("path")
    return kind, spec, f"{kind} source"


def _arguments(kind, options, described) -> dict:
    """The checked keyword arguments of `kind`'s function (unknown or missing options refused)."""
    parameters = inspect.signature(KINDS[kind][0]).parameters
    unknown = sorted(set(options) - set(parameters))
    if unknown:
        raise ValueError(
            f"Unknown option {unknown[0]!r} for a {kind} source in {described!r}; "
            f"expected some of {sorted(parameters)}."
        )
    required = [
        name
        for name, parameter in parameters.items()
        if parameter.default is inspect.Parameter.empty and options.get(name) in (None, "")
    ]
    if required:
        shown = ["path" if name == KINDS[kind][1] else name for name in required]
        raise ValueError(
            f"A {kind} source needs {' and '.join(repr(name) for name in shown)} "
            f"(missing in {described!r})."
        )
    converted = {}
    for key, value in options.items():
        default = parameters[key].default
        if isinstance(value, str) and isinstance(default, int) and not isinstance(default, bool):
            try:
                value = int(value)
            except ValueError:
                raise ValueError(
                    f"Option {key!r} of {described!r} must be an integer. Received: {key}={value!r}"
                ) from None
        converted[key] = value
    return converted
