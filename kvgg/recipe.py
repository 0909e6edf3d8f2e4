"""Recipes: YAML files that map to typed dataclasses, with errors that point at the line.

A recipe class is a (nested) dataclass whose fields carry type annotations. `load` reads a
YAML file into it, checking every key and value on the way: an unknown key, a value of the
wrong type or an impossible value raises `ValueError` naming the key, the value received
and the YAML line (or the ``--set`` override) it came from. Nothing is written anywhere.

Supported annotations: ``int``, ``float`` (ints accepted), ``str``, ``bool``, ``None``,
unions (``int | None``), ``Literal[...]``, ``list[T]``, ``tuple[T, ...]``, ``tuple[A, B]``,
``dict[str, T]``, nested dataclasses, ``Any``, and ``Annotated[T, Check(...)]`` for extra
checks (`ExistingPath` checks that a path exists). Cross-field rules go in the
dataclass's ``__post_init__``, raising `Invalid` with the offending field's name.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import math
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml

__all__ = ["Check", "ExistingPath", "Invalid", "load", "parse", "to_dict", "to_yaml"]


class Invalid(ValueError):
    """Raised by a recipe dataclass's ``__post_init__`` to reject the value of one field.

    The loader turns it into an error naming the field's full key, its value and its line.

    Args:
        field: the name of the rejected field in the dataclass raising it.
        message: what is wrong, read after the key, e.g. "must not exceed data.scale".

    Example:
        >>> @dataclass
        ... class Crop:
        ...     size: int = 224
        ...     def __post_init__(self):
        ...         if self.size < 1:
        ...             raise Invalid("size", "must be positive")
    """

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Check:
    """An extra check on a field: ``Annotated[T, Check(fn)]``; ``fn(value)`` raises ValueError.

    Args:
        fn: called with the parsed value; raises ValueError with a short reason.
        files: True for checks that look at the filesystem; ``load(check_paths=False)``
            skips them (to validate recipes whose data is not on this machine).
    """

    fn: Callable[[Any], None]
    files: bool = False


def _must_exist(value) -> None:
    if not Path(value).expanduser().exists():
        raise ValueError("no such file or directory")


ExistingPath = Annotated[str, Check(_must_exist, files=True)]
"""A path (string) that must exist when the recipe is loaded with ``check_paths=True``."""


def _data_source(value) -> None:
    from kvgg.data.spec import check_spec  # tensorflow: imported when a recipe is checked

    check_spec(value)


DataSource = Annotated[dict[str, Any] | str, Check(_data_source)]
"""A `kvgg.data.open_source` spec whose kind and options are checked (files are not read)."""

_T = typing.TypeVar("_T")
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def load(
    path: str | Path,
    cls: type[_T],
    overrides: Sequence[str | tuple[str, Any]] | Mapping[str, Any] = (),
    *,
    check_paths: bool = True,
) -> _T:
    """Read a YAML recipe into the dataclass `cls`, validating every key and value.

    Args:
        path: the YAML file.
        cls: the recipe dataclass.
        overrides: ``["optimizer.lr=0.001", ...]`` (values parsed as YAML), ``(key, value)``
            pairs, or a mapping ``{"optimizer.lr": 0.001}``; dotted keys reach into
            nested sections; later ones win.
        check_paths: run the filesystem checks (`ExistingPath`); False validates a recipe
            whose data lives on another machine.

    Returns:
        An instance of `cls`.

    Raises:
        FileNotFoundError: when `path` does not exist.
        ValueError: on bad YAML, unknown keys, wrong types or impossible values; the
            message names the file, line, key and the value received.

    Example:
        >>> import tempfile
        >>> from kvgg.train.config import TrainRecipe
        >>> path = Path(tempfile.mkdtemp()) / "demo.yaml"
        >>> _ = path.write_text("{name: demo, data: {train: digits}}")
        >>> recipe = load(path, TrainRecipe, ["schedule.epochs=2"])
        >>> recipe.data.train, recipe.schedule.epochs
        ('digits', 2)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No recipe file at {str(path)!r}.")
    data, lines = _read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a recipe must be a mapping of keys to values at the top level.")
    origins = {key: f"{path} line {line}" for key, line in lines.items()}
    for key, value, origin in _parse_overrides(overrides):
        _set(data, key, value, f"{path}, {origin}", origins)
    return parse(data, cls, origins=origins, source=str(path), check_paths=check_paths)


def sections(path: str | Path) -> list[str]:
    """The top-level keys of a recipe file (e.g. to tell which task it trains).

    Example:
        >>> sections("recipes/quickstart.yaml")[:3]
        ['name', 'model', 'data']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No recipe file at {str(path)!r}.")
    data, _ = _read_yaml(path)
    return [str(key) for key in data] if isinstance(data, dict) else []


def parse(
    data: Mapping[str, Any],
    cls: type[_T],
    *,
    origins: Mapping[str, str] | None = None,
    source: str = "recipe",
    check_paths: bool = True,
) -> _T:
    """Build the dataclass `cls` from a plain mapping (e.g. a recipe saved in a run directory).

    Args:
        data: nested dicts/lists of plain values.
        cls: the recipe dataclass.
        origins: where each dotted key came from (for messages); `load` fills it.
        source: names the input in messages when a key has no recorded origin.
        check_paths: run the filesystem checks.

    Example:
        >>> from kvgg.train.config import OptimizerConfig
        >>> parse({"lr": 0.1}, OptimizerConfig)
        OptimizerConfig(lr=0.1, momentum=0.9, nesterov=False, batch_size=256)
    """
    context = _Context(origins or {}, source, check_paths)
    return context.convert(data, cls, "")


def to_dict(obj: Any) -> dict:
    """A recipe dataclass as plain nested dicts and lists (tuples become lists).

    Example:
        >>> from kvgg.train.config import OptimizerConfig
        >>> to_dict(OptimizerConfig(lr=0.1))
        {'lr': 0.1, 'momentum': 0.9, 'nesterov': False, 'batch_size': 256}
    """
    return _plain(dataclasses.asdict(obj))


def to_yaml(obj: Any) -> str:
    """A recipe dataclass as YAML text, keys in declaration order; `load` reads it back.

    Example:
        >>> from kvgg.train.config import OptimizerConfig
        >>> print(to_yaml(OptimizerConfig(lr=0.1)))
        lr: 0.1
        momentum: 0.9
        nesterov: false
        batch_size: 256
        <BLANKLINE>
    """
    return yaml.safe_dump(to_dict(obj), sort_keys=False, default_flow_style=False)


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


MAX_ALIAS_EXPANSION = 100_000
"""YAML nodes that aliases (``*name``) may add to a recipe once expanded. A recipe reuses
a section or two; a "billion laughs" file of 1 KB expands to 10^9 values."""


MAX_DEPTH = 50
"""Nesting levels a recipe may have (it has a few); deeper ones would exhaust the stack."""


def _read_yaml(path: Path) -> tuple[Any, dict[str, int]]:
    """Parse a YAML file once (with libyaml when present): (data, line of each dotted key).

    Refuses recursive aliases, aliases that expand past `MAX_ALIAS_EXPANSION` nodes and
    nesting deeper than `MAX_DEPTH`, before any value is built. Parses are cached by path,
    size and modification time, so `kvgg.train.recipes.load_train_recipe` reading a file twice (for
    ``--smoke``) parses it once.
    """
    stat = path.stat()
    data, lines = _parsed(str(path), str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    return copy.deepcopy(data), dict(lines)


@functools.lru_cache(maxsize=8)
def _parsed(path: str, resolved: str, size: int, mtime_ns: int) -> tuple[Any, dict[str, int]]:
    try:
        text = Path(resolved).read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(
            f"{path}: not a text (UTF-8) file: {error.reason} at byte {error.start}."
        ) from None
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        _check_aliases(node, path)
        lines = _key_lines(node, path)
        return loader.construct_document(node), lines
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not valid YAML: {_yaml_problem(error)}") from None
    finally:
        loader.dispose()


def _yaml_problem(error: yaml.YAMLError) -> str:
    """One line: what is wrong and where (line, column), without the quoted snippet."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    context = getattr(error, "context", None)
    return f"{context + ': ' if context else ''}{problem}{where}"


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _check_aliases(root, source: str) -> None:
    """Refuse a recursive alias, nesting past `MAX_DEPTH`, or aliases that expand the
    document past the bound. Iterative (deep nesting is no RecursionError either), and
    scalars are never pushed: a long list costs one pass over its items."""
    sizes: dict[int, int] = {}  # container node id -> values once expanded
    written = 1  # values as written: each container's items, counted once per container
    active = set()
    stack = [(root, False, 0)]
    while stack:
        node, done, depth = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            sizes[key] = 1 + sum(sizes.get(id(child), 1) for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in active:
            raise ValueError(
                f"{source} line {node.start_mark.line + 1}: a recursive alias (an anchor "
                "used inside itself); a recipe must be a finite tree."
            )
        if depth > MAX_DEPTH:
            raise ValueError(
                f"{source} line {node.start_mark.line + 1}: nested deeper than {MAX_DEPTH} "
                "levels; a recipe is a few sections deep."
            )
        active.add(key)
        children = _children(node)
        written += len(children)
        stack.append((node, True, depth))
        stack.extend(
            (child, False, depth + 1)
            for child in children
            if isinstance(child, yaml.CollectionNode)
        )
    expanded = sizes.get(id(root), 1)
    if expanded - written > MAX_ALIAS_EXPANSION:
        raise ValueError(
            f"{source}: its aliases (*name) expand it to {expanded:,} values, over the bound "
            f"of {MAX_ALIAS_EXPANSION:,} added values (a 'billion laughs' file?)."
        )


def _children(node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [item for pair in node.value for item in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _key_lines(node, source: str, prefix: str = "") -> dict[str, int]:
    """Map each dotted key of a composed YAML tree to the line it is written on."""
    lines: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            key = f"{prefix}{key_node.value}"
            if key in seen:
                raise ValueError(
                    f"{source} line {key_node.start_mark.line + 1}: key {key!r} is given twice."
                )
            seen.add(key)
            lines[key] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, source, f"{key}."))
    return lines


def _parse_overrides(overrides):
    if isinstance(overrides, Mapping):
        for key, value in overrides.items():
            yield key, value, f"override {key}={_shown(value)}"
        return
    for item in overrides:
        if isinstance(item, tuple):
            key, value = item
            if not isinstance(key, str):
                raise ValueError(f"Override keys are dotted strings. Received: key={key!r}")
            yield key, value, f"override {key}={_shown(value)}"
            continue
        key, sep, raw = str(item).partition("=")
        if not sep or not key.strip():
            raise ValueError(f"Overrides are written key.sub=value. Received: {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        yield key.strip(), value, f"--set {item}"


def _set(data: dict, key: str, value, origin: str, origins: dict) -> None:
    parts = key.split(".")
    node = data
    for depth, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            section = ".".join(parts[: depth + 1])
            raise ValueError(
                f"{origin}: {section} is not a section (it holds {child!r}), so {key} "
                "cannot be set."
            )
        node = child
    replaced = node.get(parts[-1])
    node[parts[-1]] = value
    for existing in (key, *_dotted_keys(replaced, key)):  # the replaced subtree only: linear
        origins.pop(existing, None)
    origins[key] = origin


def _dotted_keys(value, prefix: str) -> list[str]:
    """The dotted keys inside a section (``{"a": {"b": 1}}`` -> ``["p.a", "p.a.b"]``)."""
    keys, stack = [], [(value, prefix)]
    while stack:
        node, at = stack.pop()
        if isinstance(node, dict):
            for name, item in node.items():
                keys.append(f"{at}.{name}")
                stack.append((item, f"{at}.{name}"))
    return keys


class _Context:
    def __init__(self, origins, source, check_paths):
        self.origins = origins
        self.source = source
        self.check_paths = check_paths

    def error(self, key: str, message: str, value) -> ValueError:
        where = self.origins.get(key)
        if where is None:  # a key absent from the file: point at its closest written parent
            parent = key
            while "." in parent and where is None:
                parent = parent.rsplit(".", 1)[0]
                where = self.origins.get(parent)
            where = where or self.source
        return ValueError(
            f"{where}: {key or '(top level)'} {message}. Received: {key}={_shown(value)}"
        )

    def convert(self, value, annotation, key: str):
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if annotation is Any:
            bad = _first_non_finite(value, key)
            if bad is not None:  # no recipe value means anything as .inf or .nan
                raise self.error(bad[0], "must be a finite number (not .inf or .nan)", bad[1])
            return value
        if annotation in (dict, list, tuple):  # bare containers: any contents
            origin, args = annotation, ()
        if origin is Annotated:
            result = self.convert(value, args[0], key)
            for check in args[1:]:
                if isinstance(check, Check) and (self.check_paths or not check.files):
                    try:
                        check.fn(result)
                    except ValueError as error:
                        raise self.error(key, f"is invalid: {error}", value) from None
            return result
        if dataclasses.is_dataclass(annotation):
            return self.dataclass(value, annotation, key)
        if origin in (typing.Union, types.UnionType):
            return self.union(value, args, key)
        if origin is Literal:
            if value not in args:
                choices = ", ".join(repr(arg) for arg in args)
                raise self.error(key, f"must be one of {choices}", value)
            return value
        if origin in (list, tuple):
            return self.sequence(value, origin, args, key)
        if origin is dict:
            if not isinstance(value, dict):
                raise self.error(key, "must be a mapping (key: value)", value)
            key_type, item_type = args if args else (Any, Any)
            for name in value:
                if key_type is str and not isinstance(name, str):
                    raise self.error(
                        f"{key}.{name}", "is not a valid key: keys must be strings", name
                    )
            return {k: self.convert(v, item_type, f"{key}.{k}") for k, v in value.items()}
        return self.scalar(value, annotation, key)

    def scalar(self, value, annotation, key):
        if annotation is None or annotation is type(None):
            if value is not None:
                raise self.error(key, "must be null", value)
            return None
        if annotation is bool:
            if not isinstance(value, bool):
                raise self.error(key, "must be true or false", value)
            return value
        if annotation is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.error(key, "must be an integer", value)
            return value
        if annotation is float:
            # PyYAML reads 5e-4 (no dot) as a string: accept numbers written that way.
            if isinstance(value, str) and _NUMBER.match(value.strip()):
                value = float(value)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.error(key, "must be a number", value)
            try:
                number = float(value)
            except OverflowError:  # an integer past float's range
                number = math.inf
            if not math.isfinite(number):
                raise self.error(key, "must be a finite number (not .inf or .nan)", value)
            return number
        if annotation is str:
            if not isinstance(value, str):
                raise self.error(key, "must be a string", value)
            return value
        raise TypeError(f"Unsupported recipe annotation {annotation!r} for {key}")

    def union(self, value, args, key):
        if value is None and type(None) in args:
            return None
        failures = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return self.convert(value, arg, key)
            except ValueError as error:
                failures.append(error)
        if len(failures) == 1:
            raise failures[0]
        expected = " or ".join(_describe(arg) for arg in args)
        raise self.error(key, f"must be {expected}", value)

    def sequence(self, value, origin, args, key):
        if not isinstance(value, list | tuple):
            raise self.error(key, "must be a list", value)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise self.error(key, f"must be a list of {len(args)} values", value)
            items = [
                self.convert(v, a, f"{key}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            ]
        else:
            item_type = args[0] if args else Any
            items = [self.convert(v, item_type, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items

    def dataclass(self, value, cls, key):
        if not isinstance(value, dict):
            raise self.error(key, f"must be a section (mapping) for {cls.__name__}", value)
        prefix = f"{key}." if key else ""
        fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
        hints = typing.get_type_hints(cls, include_extras=True)
        for name in value:
            if name not in fields:
                close = difflib.get_close_matches(str(name), fields, n=1)
                hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
                known = ", ".join(fields)
                raise self.error(
                    f"{prefix}{name}", f"is not a known key{hint}; known keys: {known}", value[name]
                )
        kwargs = {}
        for name, field in fields.items():
            if name in value:
                kwargs[name] = self.convert(value[name], hints[name], f"{prefix}{name}")
            elif (
                field.default is dataclasses.MISSING
                and field.default_factory is dataclasses.MISSING
            ):
                raise self.error(f"{prefix}{name}", "is required but missing", None)
        try:
            return cls(**kwargs)
        except Invalid as error:
            full = f"{prefix}{error.field}"
            raise self.error(full, error.message, value.get(error.field)) from None


def _first_non_finite(value, key: str):
    """(dotted key, value) of the first NaN or infinite float inside ``value``, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return key, value
    if isinstance(value, dict):
        items = [(f"{key}.{name}", item) for name, item in value.items()]
    elif isinstance(value, list | tuple):
        items = [(f"{key}[{i}]", item) for i, item in enumerate(value)]
    else:
        items = []
    for name, item in items:
        found = _first_non_finite(item, name)
        if found is not None:
            return found
    return None


MAX_SHOWN = 120
"""Characters of a received value that an error message quotes (a value may be megabytes)."""


def _shown(value) -> str:
    """``repr(value)``, cut to `MAX_SHOWN` characters, with the length of a long list."""
    if isinstance(value, list | tuple | dict) and len(value) > 20:
        head = list(value)[:5] if not isinstance(value, dict) else list(value.items())[:5]
        return f"{type(value).__name__} of {len(value):,} values, starting {head!r}"[:MAX_SHOWN]
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 3]}..."


def _describe(annotation) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is tuple and args and args[-1] is not Ellipsis:
        return f"a list of {len(args)} values"
    if origin in (list, tuple):
        return "a list"
    if origin is Annotated:
        return _describe(typing.get_args(annotation)[0])
    if dataclasses.is_dataclass(annotation) or origin is dict:
        return "a mapping"
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false"}
    return names.get(annotation, "null" if annotation is type(None) else str(annotation))
