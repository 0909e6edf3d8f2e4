"""MkDocs hook: the recipe schema reference, generated from the recipe dataclasses.

A page line ``<!-- recipe-schema: kvgg.train.config:TrainRecipe -->`` becomes one table per
section of that dataclass (key, type, default, meaning), read from the dataclass fields and
the "Args:" (or "Attributes:") of their docstrings, so the reference cannot drift from the code.

The command-line reference (mkdocs-click) keeps Click's ``\\b`` paragraphs, the examples
that the terminal prints verbatim, as code blocks instead of letting Markdown reflow them
into one sentence.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import typing

import mkdocs_click._docs
from griffe import Docstring, DocstringSectionKind

MARKER = re.compile(r"^<!-- recipe-schema: (?P<target>[\w.]+:\w+) -->$", re.MULTILINE)


_CLICK_DESCRIPTION = mkdocs_click._docs._make_description


def _verbatim_description(ctx, remove_ascii_art=False):
    """mkdocs-click's description lines, each ``\\b`` paragraph fenced as a text block."""
    lines = iter(_CLICK_DESCRIPTION(ctx, remove_ascii_art))
    for line in lines:
        if line.strip() != "\b":
            yield line
            continue
        block = []
        for verbatim in lines:
            if not verbatim.strip():
                break
            block.append(verbatim)
        indent = min(len(v) - len(v.lstrip()) for v in block) if block else 0
        yield from ["```text", *(v[indent:] for v in block), "```", ""]


mkdocs_click._docs._make_description = _verbatim_description


def on_page_markdown(markdown, page, config, files):  # noqa: ARG001  (MkDocs hook signature)
    return MARKER.sub(lambda match: schema_markdown(_resolve(match["target"])), markdown)


def schema_markdown(cls) -> str:
    """Markdown tables for a recipe dataclass and, after it, each nested section."""
    parts = []
    for prefix, section in _sections(cls, ""):
        heading = f"`{prefix.rstrip('.')}`" if prefix else "top level"
        parts.append(f"### {heading}: {section.__name__}\n\n{_summary(section)}\n")
        parts.append(_table(section, prefix))
    return "\n".join(parts)


def _resolve(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def _sections(cls, prefix):
    yield prefix, cls
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            yield from _sections(hints[field.name], f"{prefix}{field.name}.")


def _table(cls, prefix: str) -> str:
    hints = typing.get_type_hints(cls)
    meanings = _arg_descriptions(cls)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for field in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[field.name]):
            kind, default = "section", f"see `{prefix}{field.name}.`"
        else:
            kind, default = f"`{_type_name(field.type)}`", _default(field)
        meaning = _escape_pipes(meanings.get(field.name, "").replace("\n", " "))
        rows.append(f"| `{prefix}{field.name}` | {kind} | {default} | {meaning} |")
    # The wrapper lets docs/stylesheets/extra.css keep keys and values from breaking mid-word.
    return '<div class="recipe-schema" markdown>\n\n' + "\n".join(rows) + "\n\n</div>\n"


def _type_name(annotation) -> str:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return text or str(annotation)  # a pipe inside a code span does not split the cell


def _default(field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "required"
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        value = list(value)
    return f"`{value!r}`"


def _escape_pipes(text: str) -> str:
    """Escape the pipes of table-cell text outside its code spans (inside, they show as-is)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(part if part.startswith("`") else part.replace("|", "\\|") for part in parts)


def _summary(cls) -> str:
    return (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")


def _arg_descriptions(cls) -> dict[str, str]:
    sections = Docstring(cls.__doc__ or "").parse("google", warn_missing_types=False)
    return {
        arg.name: arg.description
        for section in sections
        if section.kind in (DocstringSectionKind.parameters, DocstringSectionKind.attributes)
        for arg in section.value
    }
