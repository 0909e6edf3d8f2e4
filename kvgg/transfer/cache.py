"""An on-disk store of per-image descriptors that survives interruptions.

One directory per (model weights, scale, flip) holds chunk files, each an ``.npz`` with the
``keys`` (content hashes of the images) and ``features`` of a few images. Chunks are written
atomically and never modified, so an interrupted extraction keeps every finished chunk and
the next run computes only the images whose keys are missing. Keys hash the image bytes, so
the same image met again (another split, another recipe) is reused.
"""

from __future__ import annotations

import uuid
import warnings
from pathlib import Path

import numpy as np

from kvgg.io import write_npz


class FeatureStore:
    """Descriptors keyed by image hash, in memory or backed by a directory of chunks.

    Args:
        directory: where the chunks live, or None for an in-memory store.

    Example:
        >>> import tempfile
        >>> store = FeatureStore(tempfile.mkdtemp())  # kvgg: <cache>/<model>/q256-flip
        >>> store.add(["k1"], np.zeros((1, 4096), "float32")); store.flush()
        >>> "k1" in FeatureStore(store.directory), len(FeatureStore(store.directory))  # read back
        (True, 1)
    """

    def __init__(self, directory=None):
        self.directory = None if directory is None else Path(directory).expanduser()
        self._features: dict[str, np.ndarray] = {}
        self._pending: list[str] = []
        if self.directory is not None and self.directory.is_dir():
            for chunk in sorted(self.directory.glob("chunk-*.npz")):
                self._read(chunk)

    def __contains__(self, key: str) -> bool:
        return key in self._features

    def __len__(self) -> int:
        return len(self._features)

    def add(self, keys, features) -> None:
        """Remember ``features[i]`` for ``keys[i]``; written to disk at the next `flush`."""
        for key, row in zip(keys, np.asarray(features, np.float32), strict=True):
            if key not in self._features:
                self._pending.append(key)
            self._features[key] = row

    def flush(self) -> None:
        """Write the descriptors added since the last flush as one new chunk (atomically)."""
        if self.directory is None or not self._pending:
            self._pending = []
            return
        keys = self._pending
        write_npz(
            self.directory / f"chunk-{uuid.uuid4().hex}.npz",
            keys=np.array(keys),
            features=np.stack([self._features[key] for key in keys]),
        )
        self._pending = []

    def get(self, keys) -> np.ndarray:
        """(len(keys), D) descriptors of `keys`, all of which must be present."""
        return np.stack([self._features[key] for key in keys])

    def _read(self, chunk: Path) -> None:
        try:
            with np.load(chunk) as archive:
                keys, features = archive["keys"], archive["features"]
        except (OSError, ValueError, KeyError) as error:
            warnings.warn(f"Ignoring unreadable feature cache chunk {chunk}: {error}", stacklevel=3)
            return
        self._features.update(zip(keys.tolist(), features, strict=True))
