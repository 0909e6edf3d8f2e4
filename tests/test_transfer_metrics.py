"""VOC average precision (both devkit variants) and mean class recall, checked three ways:
hand-computed values, the devkit's formulas written out independently, and scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, balanced_accuracy_score

from kvgg.transfer.metrics import (
    mean_class_recall,
    precision_recall,
    voc_average_precision,
    voc_mean_average_precision,
)


def devkit_ap(scores, gt, method):
    """VOCevalcls.m / VOCap.m transcribed literally: gt is +1 / -1, 0 for difficult."""
    order = np.argsort(-np.asarray(scores, float), kind="stable")
    gt = np.asarray(gt)[order]
    tp = np.cumsum(gt > 0)
    fp = np.cumsum(gt < 0)
    rec = tp / np.sum(gt > 0)
    prec = tp / (fp + tp)
    # Difficult images do not advance either count; the devkit still keeps their rows, which
    # repeat the previous (precision, recall) point and change neither formula.
    valid = gt != 0
    rec, prec = rec[valid], prec[valid]
    if method == "11point":  # VOC2007: ap = mean over t = 0:0.1:1 of max(prec(rec >= t))
        ap = 0.0
        for t in np.arange(0, 1.1, 0.1):
            p = prec[rec >= t]
            ap += (p.max() if p.size else 0.0) / 11
        return ap
    mrec = np.concatenate([[0], rec, [1]])  # VOC2010+: mrec = [0; rec; 1], mpre = [0; prec; 0]
    mpre = np.concatenate([[0], prec, [0]])
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    i = np.nonzero(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[i] - mrec[i - 1]) * mpre[i]))


# Ranking: + - + - - +  (3 positives among 6 images)
SCORES = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
LABELS = [1, 0, 1, 0, 0, 1]


def test_precision_recall_by_hand():
    precision, recall = precision_recall(SCORES, LABELS)
    np.testing.assert_allclose(precision, [1, 1 / 2, 2 / 3, 2 / 4, 2 / 5, 3 / 6])
    np.testing.assert_allclose(recall, [1 / 3, 1 / 3, 2 / 3, 2 / 3, 2 / 3, 1])


def test_area_ap_by_hand():
    # envelope: 1 up to recall 1/3, 2/3 up to 2/3, 1/2 up to 1
    expected = 1 / 3 * 1 + 1 / 3 * 2 / 3 + 1 / 3 * 1 / 2
    assert voc_average_precision(SCORES, LABELS, method="area") == pytest.approx(expected)


def test_11point_ap_by_hand():
    # thresholds 0..0.3 -> 1 (4 points), 0.4..0.6 -> 2/3 (3 points), 0.7..1.0 -> 1/2 (4 points)
    expected = (4 * 1 + 3 * 2 / 3 + 4 * 1 / 2) / 11
    assert voc_average_precision(SCORES, LABELS, method="11point") == pytest.approx(expected)


def test_difficult_images_are_ignored():
    # A difficult image ranked first would be a false positive if it counted.
    scores = [0.95, *SCORES]
    labels = [0, *LABELS]
    difficult = [True] + [False] * 6
    for method in ("11point", "area"):
        ignored = voc_average_precision(scores, labels, difficult, method=method)
        assert ignored == pytest.approx(voc_average_precision(SCORES, LABELS, method=method))
        assert voc_average_precision(scores, labels, method=method) < ignored


def test_perfect_and_worst_rankings():
    assert voc_average_precision([3, 2, 1], [1, 1, 0], method="area") == 1.0
    assert voc_average_precision([3, 2, 1], [1, 1, 0], method="11point") == 1.0
    assert voc_average_precision([3, 2, 1], [0, 0, 1], method="area") == pytest.approx(1 / 3)


@pytest.mark.parametrize("method", ["11point", "area"])
@pytest.mark.parametrize("seed", range(5))
def test_matches_devkit_formulas(method, seed):
    rng = np.random.default_rng(seed)
    n = 200
    labels = (rng.random(n) < 0.2).astype(int)
    difficult = rng.random(n) < 0.05
    scores = labels * 0.8 + rng.normal(size=n)
    scores[:20] = scores[20:40]  # ties are broken by input order, as in MATLAB's stable sort
    gt = np.where(difficult, 0, np.where(labels > 0, 1, -1))
    ours = voc_average_precision(scores, labels, difficult, method=method)
    assert ours == pytest.approx(devkit_ap(scores, gt, method), abs=1e-12)


def test_differs_from_sklearn_non_interpolated_ap():
    # scikit-learn's average_precision_score is sum (R_n - R_n-1) P_n, the precision at each
    # hit without the monotone envelope. Ranking + - - + +: precisions at the hits 1, 2/4, 3/5.
    scores, labels = [5, 4, 3, 2, 1], [1, 0, 0, 1, 1]
    sklearn_ap = average_precision_score(labels, scores)
    assert sklearn_ap == pytest.approx((1 + 2 / 4 + 3 / 5) / 3)
    # area: the envelope lifts 2/4 to 3/5; 11-point: 1 at t <= 0.3, 3/5 for t >= 0.4
    area = voc_average_precision(scores, labels, method="area")
    eleven = voc_average_precision(scores, labels, method="11point")
    assert area == pytest.approx((1 + 3 / 5 + 3 / 5) / 3)
    assert eleven == pytest.approx((4 * 1 + 7 * 3 / 5) / 11)
    assert min(area, eleven) > sklearn_ap + 0.03


def test_mean_ap_skips_classes_without_positives():
    scores = np.array([[0.9, 0.1, 0.3], [0.2, 0.8, 0.2], [0.1, 0.7, 0.1]])
    labels = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    mean, per_class = voc_mean_average_precision(scores, labels, method="area")
    assert per_class[0] == pytest.approx(1 / 2 + 1 / 2 * 2 / 3)  # ranking + - +
    assert per_class[1] == 1.0
    assert np.isnan(per_class[2])
    assert mean == pytest.approx(np.mean(per_class[:2]))


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="method='voc'"):
        voc_average_precision(SCORES, LABELS, method="voc")
    with pytest.raises(ValueError, match="without positive"):
        voc_average_precision([1, 2], [0, 0])
    with pytest.raises(ValueError, match="labels.shape"):
        voc_average_precision([1, 2, 3], [0, 1])
    with pytest.raises(ValueError, match="0 or 1"):
        voc_average_precision([1, 2], [-1, 1])


def test_mean_class_recall_by_hand_and_against_sklearn():
    labels = np.array([0, 0, 0, 0, 1, 1, 2])
    predictions = np.array([0, 0, 0, 1, 1, 0, 2])
    # class recalls 3/4, 1/2, 1 -> mean 3/4 (plain accuracy would be 5/7)
    assert mean_class_recall(predictions, labels) == pytest.approx(0.75)
    rng = np.random.default_rng(0)
    labels, predictions = rng.integers(0, 10, 500), rng.integers(0, 10, 500)
    assert mean_class_recall(predictions, labels) == pytest.approx(
        balanced_accuracy_score(labels, predictions)
    )
