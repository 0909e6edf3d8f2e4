"""Evaluation records: what `kvgg evaluate` keeps in each run directory for `kvgg report`.

Every evaluation of a model that lives in a `kvgg fit` run directory is written, as the
JSON of its `Report`, to ``RUN/evaluations/<method>-<scales>-<flip>[-fusion-<n>]-<key>.json``
(``key`` is a short hash of the data and the models, so evaluating the same way on other
data, or fused with other models, adds a file instead of replacing one; evaluating again
the same way replaces it). A fused evaluation is recorded in the run directory of each
of its models. The file has the same content as ``kvgg evaluate --json``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from pathlib import Path

from kvgg.evaluate.report import Report
from kvgg.io import read_text_file

EVALUATIONS = "evaluations"  # the folder inside a run directory


def run_directory_of(model_path: str | Path) -> Path | None:
    """The `kvgg fit` run directory a model belongs to, or None for a standalone file.

    A run directory is given directly, or holds the model file next to its ``recipe.yaml``.

    Example:
        >>> run_directory_of("vgg16.keras") is None
        True
    """
    path = Path(model_path)
    run = path if path.is_dir() else path.parent
    return run if (run / "recipe.yaml").is_file() else None


def record_name(report: Report) -> str:
    """The file name of a report's record, e.g. ``dense-256_384_512-flip-1a2b3c4d.json``.

    Example:
        >>> from types import SimpleNamespace as R
        >>> record_name(R(method="both", scales=[256, 384, 512], flip=True, data="val",
        ...               per_model=[{"path": "runs/d", "method": "both",
        ...                           "scales": [256, 384, 512]}]))[:22]
        'both-256_384_512-flip-'
    """
    identity = json.dumps(
        [report.data, [[m.get("path"), m["method"], m["scales"]] for m in report.per_model]]
    )
    key = hashlib.sha256(identity.encode()).hexdigest()[:8]
    fused = f"-fusion-{len(report.per_model)}" if len(report.per_model) > 1 else ""
    scales = "_".join(str(q) for q in report.scales)
    return f"{report.method}-{scales}-{'flip' if report.flip else 'noflip'}{fused}-{key}.json"


def write_records(report: Report, model_paths: Sequence[str | Path]) -> list[Path]:
    """Write the report into the ``evaluations/`` folder of each model's run directory.

    Args:
        report: what `evaluate_files` returned.
        model_paths: the evaluated models' paths (standalone files are not recorded).

    Returns:
        The files written (none when no model is in a run directory).
    """
    runs = dict.fromkeys(run for run in map(run_directory_of, model_paths) if run is not None)
    name = record_name(report)
    return [report.save_json(run / EVALUATIONS / name) for run in runs]


def record_files(paths: Sequence[str | Path]) -> list[Path]:
    """The record files of run directories, folders of runs, or JSON reports (see `read_records`).

    Raises:
        FileNotFoundError: for a path that does not exist.
    """
    files: list[Path] = []
    for path in map(Path, paths):
        if not path.exists():
            raise FileNotFoundError(f"No run directory or report at {str(path)!r}.")
        if path.is_file():
            files.append(path)
        elif (path / EVALUATIONS).is_dir():
            files += sorted((path / EVALUATIONS).glob("*.json"))
        else:
            files += sorted(path.glob(f"*/{EVALUATIONS}/*.json"))
    return files


def read_records(paths: Sequence[str | Path]) -> tuple[list[dict], list[str]]:
    """Read and validate the evaluation records of run directories, folders of runs, or
    JSON reports; a damaged record is named and skipped, never shown as a result.

    Args:
        paths: a run directory (its ``evaluations/*.json``), a folder of run directories
            (``runs/``), or a JSON file written by ``kvgg evaluate -o``.

    Returns:
        (the valid records, each with ``"file"`` added, the same record found in several
        run directories (a fusion) kept once; one line per record skipped, naming it and
        why).

    Raises:
        FileNotFoundError: for a path that does not exist.

    Example:
        >>> import tempfile
        >>> bad = Path(tempfile.mkdtemp()) / "bad.json"
        >>> _ = bad.write_text('{"method": "dense", "top1_error": true}')
        >>> records, skipped = read_records([bad])
        >>> records
        []
        >>> print(skipped[0].split(": ", 1)[1])
        it is not a `kvgg evaluate` report (missing scales, flip, top5_error, per_model)
    """
    records, skipped, seen = [], [], set()
    for file in record_files(paths):
        try:
            data = read_record(file)
        except ValueError as error:
            skipped.append(f"Skipped {str(file)!r}: {error}")
            continue
        identity = json.dumps({k: v for k, v in data.items() if k != "seconds"}, sort_keys=True)
        if identity not in seen:
            seen.add(identity)
            records.append(data | {"file": str(file)})
    return records, skipped


REQUIRED = ("method", "scales", "flip", "top1_error", "top5_error", "per_model")


def read_record(file: str | Path) -> dict:
    """One evaluation record, checked field by field against what `kvgg evaluate` writes.

    Raises:
        ValueError: why the file is no usable record (without the file's name: the
            caller names it), e.g. ``top1_error must be a fraction in [0, 1]``.
    """
    try:
        data = json.loads(read_text_file(file))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        raise ValueError(f"it is not a readable JSON report ({error})") from None
    if isinstance(data, dict):  # what every kind of record shows beside its numbers
        _check(isinstance(data.get("data", ""), str), "data", data.get("data"), "text")
        images = data.get("images", 1)
        _check(_positive_int(images), "images", images, "a positive number of images")
    if isinstance(data, dict) and data.get("kind", "classification") != "classification":
        return _check_other_kind(data)
    missing = [key for key in REQUIRED if not isinstance(data, dict) or key not in data]
    if missing:
        raise ValueError(f"it is not a `kvgg evaluate` report (missing {', '.join(missing)})")
    _check(isinstance(data["method"], str), "method", data["method"], "a method name")
    _check_scales(data["scales"], "scales")
    _check(isinstance(data["flip"], bool), "flip", data["flip"], "true or false")
    for key in ("top1_error", "top5_error"):
        _check(_fraction(data[key]), key, data[key], "a fraction in [0, 1]")
    _check(data["top5_error"] <= data["top1_error"], "top5_error", data["top5_error"],
           "at most top1_error (a top-1 hit is a top-5 hit)")  # fmt: skip
    models = data["per_model"]
    _check(isinstance(models, list) and models and all(isinstance(m, dict) for m in models),
           "per_model", models, "a non-empty list of mappings, one per model")  # fmt: skip
    for index, model in enumerate(models):
        _check_net(model, f"per_model[{index}]")
    return data


def _check_other_kind(data: dict) -> dict:
    """A localisation record (``kind: localization``): rows of errors in [0, 1]."""
    kind = data["kind"]
    _check(kind == "localization", "kind", kind, "classification or localization")
    rows = data.get("rows")
    _check(isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows),
           "rows", rows, "a non-empty list of mappings")  # fmt: skip
    for index, row in enumerate(rows):
        _check(_fraction(row.get("error")), f"rows[{index}].error", row.get("error"),
               "a fraction in [0, 1]")  # fmt: skip
        _check(row.get("protocol") in (1, 2) and not isinstance(row.get("protocol"), bool),
               f"rows[{index}].protocol", row.get("protocol"), "1 or 2")  # fmt: skip
        for key in ("model", "setting"):
            _check(isinstance(row.get(key), str), f"rows[{index}].{key}", row.get(key), "text")
        nets = row.get("nets", [])
        _check(isinstance(nets, list) and all(isinstance(n, dict) for n in nets),
               f"rows[{index}].nets", nets, "a list of mappings, one per net")  # fmt: skip
        for number, net in enumerate(nets):
            _check_net(net, f"rows[{index}].nets[{number}]")
    return data


def _check_net(net: dict, where: str) -> None:
    """One net's entry in a record: its test scales, training scale and names."""
    if "scales" in net:
        _check_scales(net["scales"], f"{where}.scales")
    scale = net.get("train_scale")
    _check(scale is None or _positive_int(scale) or (
        isinstance(scale, list) and len(scale) == 2 and all(map(_positive_int, scale))),
        f"{where}.train_scale", scale, "S or [S_min, S_max]")  # fmt: skip
    for key in ("config", "regression", "fine_tune", "method"):
        value = net.get(key)
        _check(value is None or isinstance(value, str), f"{where}.{key}", value, "a name")


def _check(ok: bool, key: str, value, expected: str) -> None:
    if not ok:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else shown[:57] + "..."
        raise ValueError(f"{key} must be {expected}. Received: {key}={shown}")


def _check_scales(scales, key: str) -> None:
    _check(isinstance(scales, list) and scales and all(map(_positive_int, scales)), key,
           scales, "a non-empty list of test scales Q (positive integers)")  # fmt: skip


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _fraction(value) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and 0 <= value <= 1
    )
