"""Classification metrics: top-k error (what the paper reports) and per-class accuracy."""

from __future__ import annotations

import numpy as np


def top_k_error(posteriors: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Fraction of images whose true class is not among the ``k`` highest posteriors.

    Ties are broken by class index (the lower index ranks first), so the result does not
    depend on the sort's stability.

    Args:
        posteriors: (N, C) scores; any monotone transform gives the same result.
        labels: (N,) integer class indices.
        k: how many guesses count (1 and 5 in the paper); capped at C.

    Example:
        >>> top_k_error(np.array([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]]), np.array([2, 0]), 1)
        0.5
    """
    posteriors, labels = _checked(posteriors, labels)
    true_scores = posteriors[np.arange(len(labels)), labels][:, None]
    classes = np.arange(posteriors.shape[1])[None]
    better = (posteriors > true_scores) | (
        (posteriors == true_scores) & (classes < labels[:, None])
    )
    rank = better.sum(axis=1)
    return float(np.mean(rank >= min(k, posteriors.shape[1])))


def per_class_accuracy(posteriors: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Top-1 accuracy of each class (NaN for a class without images).

    Args:
        posteriors: (N, C) scores.
        labels: (N,) integer class indices.

    Returns:
        (C,) float64.

    Example:
        >>> per_class_accuracy(np.array([[0.9, 0.1], [0.8, 0.2]]), np.array([0, 1]))
        array([1., 0.])
    """
    posteriors, labels = _checked(posteriors, labels)
    num_classes = posteriors.shape[1]
    correct = _top1(posteriors) == labels
    counts = np.bincount(labels, minlength=num_classes)
    hits = np.bincount(labels, weights=correct, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)


def check_finite(scores: np.ndarray, what: str) -> np.ndarray:
    """Return ``scores``, or raise ValueError when any is NaN or infinite.

    NaN compares false with everything, so a model whose outputs are NaN would otherwise
    rank every true class first and score 0 % error.

    Args:
        scores: (N, ...) array of model outputs, one row per image.
        what: names them in the message, e.g. "posteriors of model.keras".

    Example:
        >>> try:
        ...     check_finite(np.array([[0.5, np.nan]]), "posteriors")
        ... except ValueError as error:
        ...     print(str(error).split(";")[0])
        The posteriors are not finite (NaN or infinite) for 1 of 1 images
    """
    scores = np.asarray(scores)
    bad = ~np.isfinite(scores.reshape(len(scores), -1)).all(axis=1) if scores.size else []
    if np.any(bad):
        raise ValueError(
            f"The {what} are not finite (NaN or infinite) for {int(np.sum(bad))} of "
            f"{len(scores)} images; the model's weights have diverged or are damaged."
        )
    return scores


def _top1(posteriors):
    return np.argmax(posteriors, axis=1)  # the first maximum: the same tie rule as above


def _checked(posteriors, labels):
    posteriors = np.asarray(posteriors, "float64")
    labels = np.asarray(labels)
    if posteriors.ndim != 2 or labels.shape != (len(posteriors),):
        raise ValueError(
            f"Expected posteriors (N, C) and integer labels (N,). Received: posteriors "
            f"of shape {posteriors.shape}, labels of shape {labels.shape}"
        )
    check_finite(posteriors, "posteriors")
    if len(labels) and (labels.min() < 0 or labels.max() >= posteriors.shape[1]):
        raise ValueError(
            f"Labels must be class indices in [0, {posteriors.shape[1]}). Received: labels "
            f"from {labels.min()} to {labels.max()}"
        )
    return posteriors, labels.astype("int64")
