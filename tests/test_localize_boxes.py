"""Boxes, IoU, OverFeat greedy merging and the ILSVRC criterion against hand-worked cases."""

import json
import math

import numpy as np
import pytest

from kvgg.localize import (
    box_is_correct,
    corners_to_frame,
    frame_to_corners,
    greedy_merge,
    iou,
    localization_error,
    match_scores,
)
from tests.helpers import run_python


def test_frame_and_corners_convert_both_ways():
    # A 200x100 image; a box from x=50..150, y=0..100 is centred, half as wide, full height.
    assert corners_to_frame([50, 0, 150, 100], 200, 100).tolist() == [0.5, 0.5, 0.5, 1.0]
    assert frame_to_corners([0.5, 0.5, 0.5, 1.0], 200, 100).tolist() == [50, 0, 150, 100]
    boxes = np.random.default_rng(0).uniform(0, 1, (3, 5, 4))
    np.testing.assert_allclose(corners_to_frame(frame_to_corners(boxes, 7, 3), 7, 3), boxes)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 2, 2], [1, 0, 3, 2], 2 / 6),  # half overlap: 2 / (4 + 4 - 2)
        ([0, 0, 4, 4], [1, 1, 3, 3], 4 / 16),  # contained
        ([0, 0, 1, 1], [2, 2, 3, 3], 0.0),  # disjoint
        ([0, 0, 1, 1], [1, 0, 2, 1], 0.0),  # touching edges
        ([5, 5, 9, 8], [5, 5, 9, 8], 1.0),
        ([0, 0, 0, 0], [0, 0, 0, 0], 0.0),  # empty boxes: no division by zero
    ],
)
def test_iou_of_hand_worked_pairs(a, b, expected):
    assert float(iou(a, b)) == pytest.approx(expected)
    assert float(iou(b, a)) == pytest.approx(expected)


def test_iou_broadcasts_to_a_pairwise_matrix():
    a = np.array([[0, 0, 2, 2], [0, 0, 4, 4]], float)
    b = np.array([[1, 0, 3, 2], [0, 0, 4, 4], [10, 10, 11, 11]], float)
    expected = [[2 / 6, 4 / 16, 0], [4 / 16, 1, 0]]
    np.testing.assert_allclose(iou(a[:, None], b[None]), expected)


def test_match_score_is_centre_distance_plus_intersection():
    # Centres 0.3 apart, no overlap: 0.3. Centres 0.2 apart, overlap 0.2 x 0.4: 0.28.
    scores = match_scores(
        [[0, 0, 0.2, 0.2], [0, 0, 0.4, 0.4]], [[0.3, 0, 0.5, 0.2], [0.2, 0, 0.6, 0.4]]
    )
    assert scores[0, 0] == pytest.approx(0.3)
    assert scores[1, 1] == pytest.approx(0.2 + 0.08)


def test_greedy_merge_averages_the_closest_pair_and_adds_its_scores():
    boxes = [[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.7, 0.7, 0.9, 0.9]]
    # score(0, 1) = 0.02 + 0.18 * 0.2 = 0.056 <= 0.1; the far box stays alone.
    merged, rating = greedy_merge(boxes, [0.5, 0.25, 0.5], threshold=0.1)
    np.testing.assert_allclose(merged, [[0.11, 0.1, 0.31, 0.3], [0.7, 0.7, 0.9, 0.9]])
    np.testing.assert_allclose(rating, [0.75, 0.5])
    # Below the pair's score nothing merges.
    merged, rating = greedy_merge(boxes, [0.5, 0.25, 0.5], threshold=0.05)
    assert len(merged) == 3
    assert rating.tolist() == [0.5, 0.5, 0.25]


def test_greedy_merge_goes_on_with_the_merged_box():
    # Tiny boxes (no intersection) centred at x = 0, 0.05, 0.2.
    boxes = [[x - 0.005, 0.5, x + 0.005, 0.51] for x in (0.0, 0.05, 0.2)]
    # First merge: 0 and 0.05 (distance 0.05) -> centre 0.025; then 0.175 to the third.
    merged, _ = greedy_merge(boxes, [1, 1, 1], threshold=0.17)
    centres = sorted(((m[0] + m[2]) / 2).round(4) for m in merged)
    assert centres == [0.025, 0.2]
    merged, rating = greedy_merge(boxes, [1, 1, 1], threshold=0.18)
    assert len(merged) == 1
    assert (merged[0][0] + merged[0][2]) / 2 == pytest.approx((0.025 + 0.2) / 2)
    assert rating.tolist() == [3.0]


def test_greedy_merge_merges_separate_pairs_and_sorts_by_rating():
    pairs = [[0.1, 0.1, 0.11, 0.11], [0.12, 0.1, 0.13, 0.11]]
    others = [[0.8, 0.8, 0.81, 0.81], [0.8, 0.82, 0.81, 0.83]]
    merged, rating = greedy_merge([*pairs, *others], [0.1, 0.1, 0.4, 0.5], threshold=0.05)
    np.testing.assert_allclose(rating, [0.9, 0.2])
    np.testing.assert_allclose(merged[0], [0.8, 0.81, 0.81, 0.82], atol=1e-6)
    np.testing.assert_allclose(merged[1], [0.11, 0.1, 0.12, 0.11], atol=1e-6)


def _reference_greedy(corners, scores, threshold):
    """OverFeat's greedy merging as written: one closest pair at a time, in plain Python.

    Ties go to the first pair (i < j) in row order; the merged box takes the place of the
    first box of the pair. Results are sorted by rating, best first (stable).
    """
    boxes = [[float(v) for v in box] for box in corners]
    rating = [float(v) for v in scores]

    def match(a, b):
        dx, dy = (a[0] + a[2]) - (b[0] + b[2]), (a[1] + a[3]) - (b[1] + b[3])
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        return math.sqrt(dx * dx + dy * dy) / 2 + w * h

    while len(boxes) > 1:
        best, pair = math.inf, None
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                score = match(boxes[i], boxes[j])
                if score < best:
                    best, pair = score, (i, j)
        if best > threshold:
            break
        i, j = pair
        boxes[i] = [(u + v) / 2 for u, v in zip(boxes[i], boxes[j], strict=True)]
        rating[i] += rating[j]
        del boxes[j], rating[j]
    order = sorted(range(len(boxes)), key=lambda k: -rating[k])
    return np.array([boxes[k] for k in order]).reshape(-1, 4), np.array([rating[k] for k in order])


@pytest.mark.parametrize("seed", range(8))
def test_greedy_merge_is_exactly_the_one_pair_at_a_time_procedure(seed):
    # Small boxes around a few objects: chains of merges where a merged box becomes the
    # closest match of others, the cases where merging many pairs at once goes astray.
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.2, 0.8, (3, 2))[rng.integers(0, 3, 40)]
    centres += rng.normal(0, 0.06, (40, 2))
    sizes = rng.uniform(0.02, 0.15, (40, 2))
    corners = np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)
    scores = rng.uniform(0, 1, 40)
    for threshold in (0.03, 0.08, 0.2):
        expected_boxes, expected_rating = _reference_greedy(corners, scores, threshold)
        merged, rating = greedy_merge(corners, scores, threshold=threshold)
        assert len(merged) == len(expected_boxes)
        np.testing.assert_allclose(rating, expected_rating, rtol=1e-12)
        np.testing.assert_allclose(merged, expected_boxes, atol=1e-6)


def test_greedy_merge_breaks_ties_like_the_one_pair_at_a_time_procedure():
    # Equal boxes on a grid in binary-exact coordinates: many pairs score exactly alike.
    rng = np.random.default_rng(0)
    cells = rng.integers(0, 6, (40, 2)) / 16
    corners = np.concatenate([cells, cells + 1 / 32], axis=1)
    scores = rng.integers(1, 4, 40) / 4
    for threshold in (1 / 16, 1 / 8, 0.2):
        expected_boxes, expected_rating = _reference_greedy(corners, scores, threshold)
        merged, rating = greedy_merge(corners, scores, threshold=threshold)
        np.testing.assert_array_equal(rating, expected_rating)
        np.testing.assert_array_equal(merged, expected_boxes)


def _flowers(petals=8, count=3):
    """Tiny boxes in flowers: a centre and pairs of petals around it, each petal just
    beyond the 0.1 threshold's reach of the centre and each pair's merged box within it,
    so the centre's list of boxes within reach grows as the pairs merge."""
    centres = []
    for flower in range(count):
        middle = np.array([0.15 + 0.3 * flower, 0.15])
        centres.append(middle)
        for angle in np.arange(petals) * 2 * np.pi / petals:
            radial = np.array([np.cos(angle), np.sin(angle)])
            across = np.array([-radial[1], radial[0]])
            centres += [middle + 0.099 * radial + side * 0.02 * across for side in (-1, 1)]
    return np.concatenate([np.array(centres) - 0.001, np.array(centres) + 0.001], axis=1)


def _crowd():
    """Two tiny boxes whose merged box comes within 0.1 of ten big ones that neither
    reached (and the big ones overlap too much to match each other)."""
    big = [(dx, dy) for dx in (-0.008, -0.004, 0, 0.004, 0.008) for dy in (-0.0995, 0.0995)]
    centres = np.array([(-0.02, 0), *big, (0.02, 0)]) + [0.5, 0.7]
    half = np.array([[0.001]] + [[0.2]] * len(big) + [[0.001]])
    return np.concatenate([centres - half, centres + half], axis=1)


@pytest.mark.parametrize("boxes", [_flowers(), _crowd()], ids=["flowers", "crowd"])
def test_greedy_merge_stays_exact_when_merged_boxes_reach_new_boxes(boxes):
    # Merged boxes come within the threshold of boxes their parts did not reach: the
    # bookkeeping of each box's neighbours must grow, and the result stay the same.
    scores = np.random.default_rng(0).uniform(0, 1, len(boxes))
    expected_boxes, expected_rating = _reference_greedy(boxes, scores, 0.1)
    merged, rating = greedy_merge(boxes, scores, threshold=0.1)
    assert len(merged) <= len(boxes) - 2  # a pair merged, and its merged box merged on
    np.testing.assert_array_equal(rating, expected_rating)
    np.testing.assert_array_equal(merged, expected_boxes)


def test_greedy_merge_stays_in_bounds_run_as_plain_python():
    # Compiled, numba checks no index: a list or pool written past its end would corrupt
    # memory quietly. Run as plain Python, NumPy checks every index.
    cases = {"flowers": _flowers(), "crowd": _crowd()}
    code = f"""
        import json
        import numpy as np
        from kvgg.localize.boxes import greedy_merge
        cases = {json.dumps({name: boxes.tolist() for name, boxes in cases.items()})}
        results = {{}}
        for name, boxes in cases.items():
            merged, rating = greedy_merge(boxes, np.ones(len(boxes)), threshold=0.1)
            results[name] = merged.tolist()
        print(json.dumps(results))
    """
    results = json.loads(run_python(code, env={"NUMBA_DISABLE_JIT": "1"}))
    for name, boxes in cases.items():
        expected, _ = _reference_greedy(boxes, np.ones(len(boxes)), 0.1)
        np.testing.assert_array_equal(results[name], expected)


def test_greedy_merge_rejects_bad_input():
    with pytest.raises(ValueError, match="one score per box"):
        greedy_merge([[0, 0, 1, 1]], [1, 2])
    with pytest.raises(ValueError, match="non-finite"):
        greedy_merge([[0, 0, np.nan, 1]], [1])
    merged, rating = greedy_merge(np.zeros((0, 4)), [])
    assert merged.shape == (0, 4) and rating.shape == (0,)


def test_a_box_is_correct_above_half_iou_with_any_truth_box():
    assert box_is_correct([0, 0, 10, 10], [[50, 50, 60, 60], [1, 0, 10, 10]])
    assert not box_is_correct([0, 0, 2, 2], [[0, 0, 2, 1]])  # IoU exactly 0.5: not above
    assert not box_is_correct([0, 0, 2, 2], np.zeros((0, 4)))


def test_top5_localisation_error_needs_the_right_class_and_a_correct_box():
    truth = [[[0, 0, 10, 10]]] * 3
    guesses = [
        [(1, [0, 0, 10, 10]), (4, [0, 0, 10, 10])],  # right class (4) and box among five
        [(2, [0, 0, 10, 10]), (4, [20, 20, 30, 30])],  # right box, wrong class only
        [(4, [30, 30, 40, 40])],  # right class, wrong box
    ]
    assert localization_error(guesses, [4, 4, 4], truth) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="same images"):
        localization_error(guesses, [4], truth)
