"""Greedy merging's two paths, NumPy (usual counts) and numba (large counts), agree bit
for bit, ties included; the usual count does not import numba."""

import numpy as np
import pytest

from kvgg.localize.boxes import NUMPY_MERGE_LIMIT, _merge_small, greedy_merge
from tests.helpers import run_python


def _clustered(rng, count):
    centres = rng.uniform(0.2, 0.8, (4, 2))[rng.integers(0, 4, count)]
    centres += rng.normal(0, 0.05, (count, 2))
    sizes = rng.uniform(0.05, 0.4, (count, 2))
    return np.concatenate([centres - sizes / 2, centres + sizes / 2], axis=1)


def _grid(rng, count):
    cells = rng.integers(0, 8, (count, 2)) / 16  # binary-exact: many equal scores
    return np.concatenate([cells, cells + 1 / 32], axis=1)


def _both(boxes, rating, threshold):
    from kvgg.localize.merging import merge_in_place

    results = []
    for merge in (_merge_small, merge_in_place):
        b, r = boxes.copy(), rating.copy()
        left = merge(b, r, threshold)
        results.append((b[:left], r[:left]))
    return results


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("make", [_clustered, _grid], ids=["clustered", "ties"])
def test_numpy_and_numba_merges_are_bit_equal(seed, make):
    rng = np.random.default_rng(seed)
    count = int(rng.integers(50, 250))
    boxes = make(rng, count)
    rating = rng.integers(1, 5, count) / 4 if make is _grid else rng.uniform(0, 1, count)
    for threshold in (0.0, 1 / 16, 0.1, 0.3):
        (small_boxes, small_rating), (numba_boxes, numba_rating) = _both(boxes, rating, threshold)
        np.testing.assert_array_equal(small_boxes, numba_boxes)
        np.testing.assert_array_equal(small_rating, numba_rating)


def test_greedy_merge_takes_numba_only_above_the_limit():
    rng = np.random.default_rng(0)
    boxes = _clustered(rng, NUMPY_MERGE_LIMIT + 1)
    rating = rng.uniform(0, 1, len(boxes))
    merged, merged_rating = greedy_merge(boxes, rating, threshold=0.1)  # numba
    b, r = boxes.copy(), rating.copy()
    left = _merge_small(b, r, 0.1)
    order = np.argsort(-r[:left], kind="stable")
    np.testing.assert_array_equal(merged, b[:left][order])
    np.testing.assert_array_equal(merged_rating, r[:left][order])


def test_a_usual_merge_does_not_import_numba():
    code = """
        import sys
        import numpy as np
        from kvgg.localize.boxes import greedy_merge
        rng = np.random.default_rng(0)
        corners = np.sort(rng.uniform(0, 1, (200, 4)).reshape(200, 2, 2), axis=1).reshape(200, 4)
        greedy_merge(corners[:, [0, 2, 1, 3]], rng.uniform(0, 1, 200))
        print("numba" in sys.modules)
    """
    assert run_python(code).strip().splitlines()[-1] == "False"
