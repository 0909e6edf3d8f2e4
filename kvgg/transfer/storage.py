"""Atomic file writes for everything the transfer recipes produce (caches, results, reports)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def write_atomic(path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)``, then move the result to ``path`` in one step.

    A crash or an exception part-way leaves whatever was at ``path`` untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    temporary = Path(temporary)
    try:
        write(temporary)
        with open(temporary, "rb") as f:
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_text(path, text: str) -> Path:
    """Write a text file atomically."""
    return write_atomic(path, lambda p: p.write_text(text))


def write_npz(path, **arrays) -> Path:
    """Write an uncompressed NumPy ``.npz`` archive atomically."""

    def write(temporary: Path):
        with open(temporary, "wb") as f:
            np.savez(f, **arrays)

    return write_atomic(path, write)
