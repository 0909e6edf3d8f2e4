"""One-vs-rest linear SVMs on fixed features, with C chosen on a held-out 20% (paper App. B)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from kvgg.transfer.metrics import mean_class_recall, voc_mean_average_precision

DEFAULT_C_VALUES = (0.01, 0.1, 1.0, 10.0, 100.0)
PARALLEL_MIN_VALUES = 1 << 22  # smaller features: worker processes cost more than they save


@dataclass
class LinearSVMs:
    """One linear SVM per class: ``scores = features @ weights.T + bias``.

    Attributes:
        weights: (C, D) one weight vector per class.
        bias: (C,) one offset per class.
        c: the regularisation constant they were trained with.
        validation: held-out score of each candidate C (empty when C was given).
    """

    weights: np.ndarray
    bias: np.ndarray
    c: float
    validation: dict[float, float] = field(default_factory=dict)

    def decision_function(self, features) -> np.ndarray:
        """(N, C) signed distances to each class's hyperplane (the VOC confidences)."""
        return np.asarray(features, np.float32) @ self.weights.T + self.bias

    def predict(self, features) -> np.ndarray:
        """(N,) the class with the highest score (single-label tasks such as Caltech)."""
        return np.argmax(self.decision_function(features), axis=1)


def fit_one_vs_rest(
    features,
    targets,
    *,
    ignore=None,
    c: float | None = None,
    c_values: Sequence[float] = DEFAULT_C_VALUES,
    score: Callable[[np.ndarray, np.ndarray, np.ndarray | None], float] | None = None,
    holdout: float = 0.2,
    seed: int = 0,
) -> LinearSVMs:
    """Train one linear SVM per class (scikit-learn's liblinear ``LinearSVC``).

    Unless ``c`` (or a single candidate) is given, each candidate of ``c_values`` is
    trained on 80% of the images and scored on the other 20% (``holdout``; stratified by
    class for single-label targets); the best C is then refit on all images, as the
    paper does.

    Args:
        features: (N, D) float features (kvgg's are L2-normalised).
        targets: (N, C) binary matrix: 1 where the image belongs to the class. For
            single-label data pass a one-hot matrix.
        ignore: optional (N, C) flags of (image, class) pairs left out of that class's
            SVM and its validation (VOC "difficult").
        c: a fixed regularisation constant; skips the selection.
        c_values: the candidates for C.
        score: ``score(decision, targets, ignore) -> float``, higher is better; defaults
            to the mean class recall of the arg-max for single-label targets and the
            VOC mean AP (area) otherwise.
        holdout: fraction of the images held out to choose C.
        seed: seed of the held-out split and of the order in which liblinear visits the
            images, so that the same inputs give the same SVMs.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> train_y = np.arange(40) % 4
        >>> train_x = np.eye(4)[train_y] + rng.normal(0, 0.1, (40, 4))
        >>> svms = fit_one_vs_rest(train_x, np.eye(4)[train_y])
        >>> svms.predict(np.eye(4)).tolist()
        [0, 1, 2, 3]
    """
    features = np.asarray(features, np.float32)
    targets = np.asarray(targets)
    if features.ndim != 2 or targets.ndim != 2 or len(features) != len(targets):
        raise ValueError(
            "`features` must be (images, dims) and `targets` (images, classes) with the same "
            f"number of images. Received: features.shape={features.shape}, "
            f"targets.shape={targets.shape}"
        )
    ignore = np.zeros(targets.shape, bool) if ignore is None else np.asarray(ignore, bool)
    single_label = bool(np.all(targets.sum(axis=1) == 1))
    score = score or (_mean_class_recall_score if single_label else _map_score)
    if c is not None or len(c_values) == 1:
        return _fit(features, targets, ignore, c if c is not None else c_values[0], seed)
    if not 0 < holdout < 1:
        raise ValueError(f"`holdout` must be in (0, 1). Received: holdout={holdout!r}")
    fit_rows, held_rows = _holdout_split(targets, single_label, holdout, seed)
    validation = {}
    for candidate in c_values:
        svms = _fit(features[fit_rows], targets[fit_rows], ignore[fit_rows], candidate, seed)
        decision = svms.decision_function(features[held_rows])
        validation[float(candidate)] = float(score(decision, targets[held_rows], ignore[held_rows]))
    best = max(validation, key=validation.get)
    final = _fit(features, targets, ignore, best, seed)
    final.validation = validation
    return final


def _fit(features, targets, ignore, c, seed) -> LinearSVMs:
    if not c > 0:
        raise ValueError(f"The SVM constant C must be positive. Received: c={c!r}")

    weights = np.zeros((targets.shape[1], features.shape[1]), np.float32)
    bias = np.zeros(targets.shape[1], np.float32)
    jobs = {}
    for k in range(targets.shape[1]):
        rows = ~ignore[:, k]
        y = targets[rows, k] > 0
        if y.all() or not y.any():  # one-sided class: a constant score, no hyperplane
            bias[k] = 1.0 if y.all() else -1.0
        else:
            jobs[k] = (features[rows], y)
    # Large problems: one process per core trains the classes in parallel. Not threads:
    # liblinear draws the order of its coordinate descent from one generator global to the
    # process (seeded by random_state as each fit starts), so concurrent fits would
    # interleave their draws and the SVMs, and any close ranking, would change by run.
    parallel = features.size >= PARALLEL_MIN_VALUES and len(jobs) > 1
    fitted = Parallel(n_jobs=min(len(jobs), os.cpu_count() or 1) if parallel else 1)(
        delayed(LinearSVC(C=c, dual="auto", max_iter=10000, random_state=seed + k).fit)(x, y)
        for k, (x, y) in jobs.items()
    )
    for k, svm in zip(jobs, fitted, strict=True):
        weights[k], bias[k] = svm.coef_[0], svm.intercept_[0]
    return LinearSVMs(weights, bias, float(c))


def _holdout_split(targets, single_label, holdout, seed):
    rows = np.arange(len(targets))
    stratify = targets.argmax(axis=1) if single_label else None
    if stratify is not None and np.bincount(stratify).min() < 2:
        stratify = None  # a class with one image cannot be split; fall back to random rows
    return train_test_split(rows, test_size=holdout, random_state=seed, stratify=stratify)


def _mean_class_recall_score(decision, targets, ignore):
    return mean_class_recall(decision.argmax(axis=1), targets.argmax(axis=1), targets.shape[1])


def _map_score(decision, targets, ignore):
    return voc_mean_average_precision(decision, targets, ignore, method="area")[0]
