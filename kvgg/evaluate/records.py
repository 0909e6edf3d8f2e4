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
from collections.abc import Sequence
from pathlib import Path

from kvgg.evaluate.report import Report

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
