"""Griffe extension for the API reference: kvgg's docstrings title their doctests "Example:".

Google style only reads "Examples:" as a section of Python examples; griffe would render
"Example:" as a prose admonition, mangling its ``>>>`` lines. This renames the heading so
the reference shows them as highlighted Python sessions.
"""

from __future__ import annotations

import re

import griffe

HEADING = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


class ExampleSections(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:  # noqa: ARG002
        if obj.docstring:
            obj.docstring.value = HEADING.sub(r"\1Examples:", obj.docstring.value)
