"""Docstring examples that import an optional package skip cleanly where it is not installed.

The README's test command runs every example in ``kvgg`` (``--doctest-modules``) in a venv with
only the ``[test]`` extra: an example that imports torch (``kvgg.weights.torchvision``) or another
optional package is reported as skipped there, naming the package, and runs where it is installed
(CI installs the extras afterwards). The examples themselves stay plain code a reader can copy.
"""

from __future__ import annotations

import ast
import importlib.util

import pytest
from _pytest.doctest import DoctestItem


def doctest_imports(examples) -> set[str]:
    """The top-level modules imported by doctest examples (``import a.b, c`` -> ``{"a", "c"}``)."""
    modules = set()
    for example in examples:
        try:
            tree = ast.parse(example.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return modules


def missing_modules(names) -> list[str]:
    """The names that cannot be imported here (not installed, or blocked in ``sys.modules``)."""
    missing = []
    for name in sorted(names):
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def pytest_collection_modifyitems(config, items):
    for item in items:
        if isinstance(item, DoctestItem):
            missing = missing_modules(doctest_imports(item.dtest.examples))
            if missing:
                reason = f"the example needs {', '.join(missing)}, which is not installed"
                item.add_marker(pytest.mark.skip(reason=reason))
