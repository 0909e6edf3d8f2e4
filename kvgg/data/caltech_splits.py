"""Caltech-101/256 layouts and the paper's seeded train/test splits, saved for repetition."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kvgg.io import read_text_file, write_text

# Per kind: (category folder, number of classes, training images per class, test cap).
LAYOUTS = {101: ("101_ObjectCategories", 102, 30, 50), 256: ("256_ObjectCategories", 257, 60, None)}


def category_folder(root: Path, kind: int) -> Path:
    """The ``NNN_ObjectCategories`` folder, given it or its parent."""
    if kind not in LAYOUTS:
        raise ValueError(f"Caltech kind must be 101 or 256. Received: kind={kind!r}")
    name = LAYOUTS[kind][0]
    folder = root if root.name == name else root / name
    if not folder.is_dir():
        raise FileNotFoundError(f"No Caltech-{kind} folder '{name}' at '{folder}'.")
    return folder


def class_folders(folder: Path, kind: int) -> list[str]:
    """Sorted class folder names (Caltech-256's are ``NNN.name``, so sorting keeps NNN order)."""
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    expected = LAYOUTS[kind][1]
    if len(names) != expected:
        raise ValueError(
            f"Caltech-{kind} folder '{folder}' has {len(names)} class folders; expected {expected}."
        )
    return names


def class_name(folder_name: str) -> str:
    """'001.ak47' -> 'ak47'; Caltech-101 names are kept as they are."""
    prefix, _, rest = folder_name.partition(".")
    return rest if prefix.isdigit() and rest else folder_name


def load_or_create(path: Path, files: dict[str, list[str]], *, kind: int, seed: int) -> dict:
    """The split saved at ``path``; drawn with ``seed`` and saved atomically if absent."""
    if path.is_file():
        split = json.loads(read_text_file(path))
        if split.get("kind") != kind or split.get("seed") != seed:
            raise ValueError(
                f"Split file '{path}' is for kind/seed {split.get('kind')}/"
                f"{split.get('seed')}, not {kind}/{seed}."
            )
        for subset in ("train", "test"):
            for name, chosen in split[subset].items():
                missing = sorted(set(chosen) - set(files.get(name, [])))
                if missing:
                    raise ValueError(
                        f"Split file '{path}' names '{name}/{missing[0]}', which is not on disk."
                    )
        return split
    split = draw(files, kind, seed)
    write_text(path, json.dumps(split, indent=1))
    return split


def draw(files: dict[str, list[str]], kind: int, seed: int) -> dict:
    """Per class: a seeded random ``train`` subset of fixed size, the rest (capped) ``test``."""
    _, _, num_train, test_cap = LAYOUTS[kind]
    rng = np.random.default_rng(seed)
    split = {"kind": kind, "seed": seed, "train": {}, "test": {}}
    for name in sorted(files):
        names = sorted(files[name])
        if len(names) <= num_train:
            raise ValueError(
                f"Caltech-{kind} class '{name}' has {len(names)} images; a split needs more "
                f"than {num_train}."
            )
        order = [names[i] for i in rng.permutation(len(names))]
        split["train"][name] = sorted(order[:num_train])
        split["test"][name] = sorted(order[num_train:][:test_cap])
    return split
