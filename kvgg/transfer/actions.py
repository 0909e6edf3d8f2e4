"""VOC-2012 action classification (paper Appendix B, Table 12): the two settings and the report.

Setting "image": the descriptor of the whole image only, the box ignored. Setting "image
and box": the whole image's descriptor stacked with the descriptor of the person's box
region (then L2-normalised, as every fusion). Per action a one-vs-rest linear SVM; the
metric is AP per action (VOC-2010+ area AP) and their mean. `run_transfer` runs it from a
recipe whose ``data.dataset`` is ``voc2012_action``; this module holds the steps that do
not touch files, and the Table 12 report.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from kvgg.evaluate.paper_numbers import TABLE12
from kvgg.io import write_text
from kvgg.transfer.features import fuse
from kvgg.transfer.metrics import voc_mean_average_precision

SETTINGS = ("image", "image and box")
"""The paper's two settings, in Table 12's order."""

PAPER_TABLE_12 = TABLE12
"""Table 12: mean AP % on the VOC-2012 action test set (the evaluation server)."""


def setting_features(features: Mapping[str, np.ndarray], role: str, setting: str) -> np.ndarray:
    """The descriptors of one setting: ``<role>_image``, or it stacked with ``<role>_box``.

    Example:
        >>> f = {"train_image": np.eye(2, 3), "train_box": np.ones((2, 3))}
        >>> setting_features(f, "train", "image and box").shape
        (2, 6)
    """
    if setting not in SETTINGS:
        raise ValueError(f"The setting must be one of {SETTINGS}. Received: {setting!r}")
    image = features[f"{role}_image"]
    return image if setting == "image" else fuse(image, features[f"{role}_box"])


def action_results(
    features: Mapping[str, np.ndarray],
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    fit: Callable[[np.ndarray, np.ndarray], object],
    action_names,
) -> dict[str, dict]:
    """Train the SVMs of both settings and score them on the test people with known actions.

    Args:
        features: ``train_image``, ``train_box``, ``test_image``, ``test_box`` descriptors.
        train_labels: (N, 11) 0/1 action labels of the training people; NaN rows (unknown
            actions) are left out of training.
        test_labels: the same for the test people; NaN rows are left out of scoring.
        fit: ``fit(features, targets) -> svms`` with a ``decision_function`` (the recipe's
            `kvgg.transfer.fit_one_vs_rest`).
        action_names: the 11 action names, in label order.

    Returns:
        Per setting: ``c``, ``people`` (trained on, scored), ``map`` and ``ap`` per action
        (%; None for an action without a positive test person), and ``scores`` (the test
        people's decision values, all of them, for result files).
    """
    train_known = np.isfinite(train_labels).all(axis=1)
    test_known = np.isfinite(test_labels).all(axis=1)
    if not train_known.any():
        raise ValueError("No training person has annotated actions: nothing to train on.")
    results = {}
    for setting in SETTINGS:
        train = setting_features(features, "train", setting)
        svms = fit(train[train_known], train_labels[train_known])
        scores = np.asarray(svms.decision_function(setting_features(features, "test", setting)))
        row = {"c": svms.c, "people": [int(train_known.sum()), int(test_known.sum())]}
        if test_known.any():
            mean, per_action = voc_mean_average_precision(
                scores[test_known], test_labels[test_known], method="area"
            )
            row["map"] = 100 * mean
            row["ap"] = {
                name: None if np.isnan(ap) else 100 * ap
                for name, ap in zip(action_names, per_action.tolist(), strict=True)
            }
        row["scores"] = scores
        results[setting] = row
    return results


def format_table_12(rows: Mapping[str, Mapping[str, dict]], metric: str) -> str:
    """Markdown: each model row's mAP in both settings, the paper's Table 12 beside it.

    Args:
        rows: model label ("D", "E", "D & E") -> setting -> result of `action_results`.
        metric: what the kvgg numbers measure (split, AP flavour).
    """
    lines = ["| features | image | image and box |", "|---|---|---|"]
    for label, settings in rows.items():
        cells = [_percent(settings[s].get("map")) for s in SETTINGS]
        lines.append(f"| kvgg {label} | " + " | ".join(cells) + " |")
    for name, value in PAPER_TABLE_12.items():
        setting = "image and box" if name.endswith("image and box") else "image"
        cells = [f"{value:.1f}" if s == setting else "-" for s in SETTINGS]
        lines.append(f"| paper: {name} | " + " | ".join(cells) + " |")
    lines += ["", f"- kvgg: {metric}; paper: mAP on the test set (evaluation server).", ""]
    actions = next(iter(next(iter(rows.values())).values())).get("ap") or {}
    if actions:
        lines += ["| features | setting | " + " | ".join(actions) + " |"]
        lines += ["|---" * (2 + len(actions)) + "|"]
        for label, settings in rows.items():
            for setting in SETTINGS:
                aps = settings[setting].get("ap", {})
                cells = [_percent(aps.get(name)) for name in actions]
                lines.append(f"| {label} | {setting} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_table_12(rows: Mapping[str, Mapping[str, dict]], metric: str, directory) -> Path:
    """Write ``report.md`` and ``report.json`` (Table 12 layout) atomically; return the .md."""
    directory = Path(directory)
    data = {
        "metric": metric,
        "paper": PAPER_TABLE_12,
        "rows": {
            label: {s: {k: v for k, v in r.items() if k != "scores"} for s, r in settings.items()}
            for label, settings in rows.items()
        },
    }
    write_text(directory / "report.json", json.dumps(data, indent=1) + "\n")
    title = "# VOC-2012 action classification (paper Table 12), mean AP %\n\n"
    return write_text(directory / "report.md", title + format_table_12(rows, metric))


def write_action_results(folder, split: str, source, scores) -> Path:
    """Write results in the VOC devkit / server format, one file per action.

    ``<folder>/results/VOC2012/Action/comp10_action_<split>_<action>.txt`` with lines
    ``<image id> <person index> <confidence>`` (comp10: trained on data outside VOC).

    Returns:
        The ``Action`` folder holding the files.
    """
    folder = Path(folder) / "results" / "VOC2012" / "Action"
    scores = np.asarray(scores)
    for column, action in enumerate(source.class_names):
        people = zip(
            source.image_ids, source.person_indices, scores[:, column].tolist(), strict=True
        )
        lines = [f"{image} {person} {score!r}" for image, person, score in people]
        write_text(folder / f"comp10_action_{split}_{action}.txt", "\n".join(lines) + "\n")
    return folder


def _percent(value) -> str:
    return "-" if value is None else f"{value:.1f}"
