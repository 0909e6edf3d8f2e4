"""Transfer metrics: PASCAL VOC average precision (both devkit variants) and mean class recall.

VOC average precision follows the official devkit (``VOCevalcls.m``): images are ranked by
decreasing confidence (ties keep their input order, as MATLAB's stable sort does), images
whose only instances of the class are marked *difficult* are ignored (neither true nor false
positives), and precision/recall are accumulated down the ranking. The two devkit variants
then differ in how the precision/recall curve becomes one number:

* ``"11point"`` (VOC2007 devkit): the mean, over recall thresholds 0, 0.1, ..., 1, of the
  highest precision reached at a recall of at least that threshold.
* ``"area"`` (VOC2010 devkit onwards, the VOC2012 server): the area under the monotone
  (non-increasing) envelope of the precision/recall curve.

Neither is scikit-learn's ``average_precision_score``, which is the non-interpolated AP.
"""

from __future__ import annotations

import numpy as np

AP_METHODS = ("11point", "area")


def precision_recall(scores, labels, difficult=None) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall down the ranking of one class, as the VOC devkit computes them.

    Args:
        scores: (N,) confidences for the class, higher meaning more likely present.
        labels: (N,) 1 where the image contains the class, 0 where it does not.
        difficult: optional (N,) flags; flagged images are ignored.

    Returns:
        ``(precision, recall)``, one entry per ranked (non-ignored) image.

    Example:
        >>> precision_recall([0.9, 0.2, 0.5], [1, 0, 1])[1].tolist()
        [0.5, 1.0, 1.0]
    """
    scores, labels, keep = _checked(scores, labels, difficult)
    scores, labels = scores[keep], labels[keep]
    positives = int(labels.sum())
    if positives == 0:
        raise ValueError("Average precision is undefined for a class without positive images.")
    order = np.argsort(-scores, kind="stable")
    true_positives = np.cumsum(labels[order])
    false_positives = np.cumsum(1 - labels[order])
    return true_positives / (true_positives + false_positives), true_positives / positives


def voc_average_precision(scores, labels, difficult=None, *, method: str = "11point") -> float:
    """Average precision of one class as the PASCAL VOC devkit computes it.

    Args:
        scores: (N,) confidences for the class.
        labels: (N,) 1 where the image contains the class, 0 where it does not.
        difficult: optional (N,) flags of images ignored for this class (those whose only
            instances of the class are marked difficult).
        method: ``"11point"`` (VOC2007 devkit, the paper's VOC-2007 numbers) or ``"area"``
            (VOC2010+ devkit and the VOC2012 evaluation server).

    Example:
        >>> voc_average_precision([0.9, 0.8, 0.7], [1, 0, 1], method="area")
        0.8333333333333333
    """
    if method not in AP_METHODS:
        raise ValueError(f"`method` must be one of {AP_METHODS}. Received: method={method!r}")
    precision, recall = precision_recall(scores, labels, difficult)
    if method == "11point":
        # The devkit's thresholds 0:0.1:1, compared without tolerance as it does.
        reached = [precision[recall >= t] for t in np.arange(0, 1.1, 0.1)]
        return float(np.mean([p.max() if p.size else 0.0 for p in reached]))
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    recall_steps = np.diff(recall, prepend=0.0)
    return float(np.sum(recall_steps * envelope))


def voc_mean_average_precision(
    scores, labels, difficult=None, *, method: str = "11point"
) -> tuple[float, np.ndarray]:
    """Per-class VOC average precision and their mean (mAP).

    Classes without any positive image have no AP (NaN in the per-class array) and are
    left out of the mean.

    Args:
        scores: (N, C) confidences.
        labels: (N, C) multi-hot ground truth.
        difficult: optional (N, C) flags of ignored (image, class) pairs.
        method: ``"11point"`` or ``"area"`` (see `voc_average_precision`).

    Returns:
        ``(mAP, per_class_AP)``.

    Example:
        >>> scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4]])
        >>> labels = np.array([[1, 0], [0, 1], [0, 0], [1, 0]])
        >>> mean_ap, per_class = voc_mean_average_precision(scores, labels, method="area")
        >>> round(mean_ap, 4), per_class.round(4).tolist()
        (0.9167, [0.8333, 1.0])
    """
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels)
    if scores.ndim != 2 or scores.shape != labels.shape:
        raise ValueError(
            "`scores` and `labels` must both have shape (images, classes). "
            f"Received: scores.shape={scores.shape}, labels.shape={labels.shape}"
        )
    flags = np.zeros(labels.shape, bool) if difficult is None else np.asarray(difficult, bool)
    per_class = np.full(scores.shape[1], np.nan)
    for c in range(scores.shape[1]):
        if np.any((labels[:, c] > 0) & ~flags[:, c]):
            per_class[c] = voc_average_precision(
                scores[:, c], labels[:, c], flags[:, c], method=method
            )
    if np.all(np.isnan(per_class)):
        raise ValueError("No class has a positive image: mean average precision is undefined.")
    return float(np.nanmean(per_class)), per_class


def mean_class_recall(predictions, labels, num_classes: int | None = None) -> float:
    """Mean over classes of the fraction of each class's images predicted correctly.

    The Caltech-101/256 metric (also called balanced accuracy); classes absent from
    ``labels`` are left out.

    Args:
        predictions: (N,) predicted class indices.
        labels: (N,) true class indices.
        num_classes: number of classes (defaults to ``max(labels) + 1``).

    Example:
        >>> mean_class_recall([0, 0, 1, 1], [0, 1, 1, 1])
        0.8333333333333333
    """
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape or labels.ndim != 1 or labels.size == 0:
        raise ValueError(
            "`predictions` and `labels` must be non-empty 1-D arrays of the same length. "
            f"Received: predictions.shape={predictions.shape}, labels.shape={labels.shape}"
        )
    num_classes = num_classes or int(labels.max()) + 1
    totals = np.bincount(labels, minlength=num_classes)
    correct = np.bincount(labels[predictions == labels], minlength=num_classes)
    present = totals > 0
    return float(np.mean(correct[present] / totals[present]))


def _checked(scores, labels, difficult):
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    if scores.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(
            "`scores` and `labels` must be 1-D arrays of the same length. "
            f"Received: scores.shape={scores.shape}, labels.shape={labels.shape}"
        )
    if not np.all(np.isin(labels, (0, 1))):
        raise ValueError(f"`labels` must be 0 or 1. Received values: {np.unique(labels)[:10]}")
    keep = np.ones(labels.shape, bool) if difficult is None else ~np.asarray(difficult, bool)
    if keep.shape != labels.shape:
        raise ValueError(
            f"`difficult` must have the shape of `labels` {labels.shape}. Received: {keep.shape}"
        )
    return scores, labels.astype(np.int64), keep
