"""Test-suite options: the fast suite by default, slow tests on request.

``python -m pytest`` runs the fast suite (seconds per test: tiny widths, 32-pixel images) and
the docstring examples of ``kvgg``. Tests marked ``slow`` (real training, full-size VGG
builds, several processes, end-to-end transfer, documentation pages that train) run with
``--run-slow`` or when a ``-m`` expression names the marker (``-m slow``).
"""

import os
import re

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

SLOW_DESELECTED = pytest.StashKey[int]()


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow",
        action="store_true",
        default=False,
        help="also run the tests marked slow (real training, full-size models, several "
        "processes, end-to-end transfer, documentation pages that train)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow") or "slow" in re.findall(r"\w+", config.option.markexpr):
        return  # asked for, or left to the -m expression ("-m slow", "-m 'not slow'")
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]
        config.stash[SLOW_DESELECTED] = len(slow)


def pytest_terminal_summary(terminalreporter, config):
    count = config.stash.get(SLOW_DESELECTED, 0)
    if count:
        terminalreporter.write_line(f"{count} slow tests not run: add --run-slow (or -m slow)")
