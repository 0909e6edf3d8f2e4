"""Fuzzers of the files users hand to kvgg besides images and recipes (issue 25).

- `record_cases`: evaluation records (`kvgg evaluate -o`, ``RUN/evaluations/*.json``,
  classification and localisation) with one value made hostile, a key deleted, the text
  truncated or junk bytes; read by `kvgg report` beside a good record.
- `box_cases`: ground-truth boxes, in ILSVRC/VOC XML files and Kaggle's solution CSV, with
  hostile coordinates, tags, rows and bytes; read by `kvgg.localize.annotations`.

Oracle: a result or one clean error (`tests.adversarial.oracle`); a record or box that is
accepted must hold only sane values (finite errors in [0, 1]; finite boxes of positive
area inside their image).
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import numpy as np

from tests.adversarial.oracle import ACCEPTED, CLEAN_ERROR, TRACEBACK, Tally, invoke
from tests.data_fixtures import class_image, write_image

HOSTILE_VALUES = [
    True, False, None, "", "x", "384", -1, 0, 1e308, -1e308, float("nan"), float("inf"),
    [], {}, [True], ["a"], [[384]], {"a": 1}, 2**70, 0.5, [384, 384, 384], "\x00",
]  # fmt: skip

CLASSIFICATION_RECORD = {
    "models": ["vgg16"], "method": "dense", "scales": [384], "flip": True, "images": 10,
    "top1_error": 0.25, "top5_error": 0.08, "mean_class_accuracy": 0.75, "per_class": [],
    "seconds": 1.0, "images_per_second": 10.0, "data": "val",
    "per_model": [{"name": "vgg16", "method": "dense", "scales": [384], "config": "D",
                   "train_scale": 384}],
}  # fmt: skip
LOCALIZATION_RECORD = {
    "kind": "localization", "data": "val", "boxes": "bbox/val", "images": 10,
    "threshold": 0.1, "flip": True, "classifiers": [{"path": "d.keras", "scales": [384]}],
    "rows": [{"model": "loc.keras", "protocol": 1, "setting": "PCR, all layers, Q=384",
              "nets": [{"config": "D", "regression": "pcr", "fine_tune": "all",
                        "train_scale": 384, "scales": [384]}],
              "error": 0.3, "paper": 33.1}],
}  # fmt: skip


def record_cases(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` (name, JSON text) records, each one mutation of a good record."""
    rng = random.Random(seed)
    cases = []
    for number in range(count):
        record = copy.deepcopy(rng.choice([CLASSIFICATION_RECORD, LOCALIZATION_RECORD]))
        kind = rng.choice(["value", "value", "value", "delete", "truncate", "junk"])
        paths = list(_paths(record))
        path = rng.choice(paths)
        if kind == "value":
            value = rng.choice(HOSTILE_VALUES)
            _parent(record, path)[path[-1]] = value
            text = json.dumps(record)
        elif kind == "delete":
            del _parent(record, path)[path[-1]]
            text = json.dumps(record)
        elif kind == "truncate":
            text = json.dumps(record)[: rng.randrange(len(json.dumps(record)))]
        else:
            text = json.dumps(record).replace(",", ",\udcff" if rng.random() < 0.5 else ",\x00", 1)
        cases.append((f"record {number}: {kind} {'.'.join(map(str, path))}", text))
    return cases


def _paths(node, prefix=()):
    """Every key path of a JSON tree (list indices included)."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*prefix, key)
        if isinstance(value, dict | list) and value:
            yield from _paths(value, (*prefix, key))


def _parent(data, path):
    for key in path[:-1]:
        data = data[key]
    return data


def run_record_case(name: str, text: str, folder: Path, tally: Tally) -> None:
    """`kvgg report GOOD BAD`: the good record's row, the bad one shown only if sane; a
    bad record named and skipped counts as a clean error."""
    good, bad = folder / "good.json", folder / "bad.json"
    good.write_text(json.dumps(CLASSIFICATION_RECORD))
    bad.write_text(text, errors="surrogateescape")
    outcome, result = invoke(["report", good, bad])
    detail = result.output
    if outcome == ACCEPTED and f"Skipped {str(bad)!r}" in result.stderr:
        outcome = CLEAN_ERROR  # named and left out: the clean refusal of one record
    if outcome == ACCEPTED and ("nan" in result.stdout.lower() or "inf " in result.stdout):
        outcome, detail = "non-finite number shown", result.stdout
    tally.add(name, outcome, detail)


# (xmin, ymin, xmax, ymax) texts of hostile boxes
HOSTILE_COORDINATES = [
    "nan", "inf", "-inf", "-1e9", "1e30", "0", "-5", "abc", "", "1e400", "0x10", "١٢",
    "3.5", "  7 ", "-0", "1_000",
]  # fmt: skip
SIZE = (48, 64)  # height, width of every image


def box_cases(count: int, seed: int = 0) -> list[tuple[str, str, list]]:
    """``count`` (name, "xml" or "kaggle", boxes as text quadruples) cases."""
    rng = random.Random(seed)
    cases = []
    for number in range(count):
        boxes = []
        for _ in range(rng.choice([1, 1, 2, 3, 50])):
            box = [str(v) for v in (11, 6, 40, 30)]
            for _ in range(rng.choice([0, 1, 1, 2])):
                box[rng.randrange(4)] = rng.choice(HOSTILE_COORDINATES)
            if rng.random() < 0.2:
                box = [box[2], box[3], box[0], box[1]]  # corners swapped
            if rng.random() < 0.1:
                box = box[: rng.randrange(4)]  # a coordinate missing
            boxes.append(box)
        form = rng.choice(["xml", "kaggle"])
        cases.append((f"boxes {number}: {form} {boxes[:2]}", form, boxes))
    return cases


def run_box_case(name: str, form: str, boxes: list, folder: Path, tally: Tally) -> None:
    """Read the boxes with `box_folder` / `kaggle_boxes`; an accepted source must hold only
    finite boxes of positive area inside the image."""
    from kvgg.localize.annotations import box_folder, kaggle_boxes

    folder.mkdir(parents=True, exist_ok=True)
    images = folder / "images"
    images.mkdir(exist_ok=True)
    write_image(images / "v1.JPEG", class_image(0, SIZE))
    try:
        if form == "xml":
            annotations = folder / "bbox"
            annotations.mkdir(exist_ok=True)
            objects = "".join(
                "<object><name>n01440764</name><bndbox>"
                + "".join(f"<{k}>{v}</{k}>" for k, v in zip(_CORNERS, box, strict=False))
                + "</bndbox></object>"
                for box in boxes
            )
            (annotations / "v1.xml").write_text(f"<annotation>{objects}</annotation>")
            source = box_folder(images, annotations)
        else:
            text = " ".join(f"n01440764 {' '.join(box)}" for box in boxes)
            csv = folder / "LOC_val_solution.csv"
            csv.write_text(f"ImageId,PredictionString\nv1,{text}\n")
            source = kaggle_boxes(images, csv)
    except (ValueError, OSError) as error:
        tally.add(name, CLEAN_ERROR if "\n" not in str(error) else "messy error", str(error))
        return
    except Exception as error:  # noqa: BLE001  (what the oracle counts)
        tally.add(name, TRACEBACK, repr(error))
        return
    height, width = SIZE
    for corners in source.boxes:
        x1, y1, x2, y2 = np.asarray(corners, float).T
        sane = (
            np.isfinite(corners).all()
            and (x2 > x1).all()
            and (y2 > y1).all()
            and (x1 >= 0).all()
            and (y1 >= 0).all()
            and (x2 <= width).all()
            and (y2 <= height).all()
        )
        if not sane:
            tally.add(name, "box believed", str(np.asarray(corners).tolist()[:3]))
            return
    tally.add(name, ACCEPTED)


_CORNERS = ("xmin", "ymin", "xmax", "ymax")
