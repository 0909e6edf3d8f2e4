"""Bounding boxes: the regression frame, pixel corners, IoU and OverFeat's greedy merging.

**The frame.** A box travels through kvgg as ``(cx, cy, w, h)``, normalised to the
image (or crop) it is expressed in: ``cx`` and ``w`` are fractions of that image's width
(0 = left edge, 1 = right edge), ``cy`` and ``h`` fractions of its height (0 = top). The
box covers ``[cx - w/2, cx + w/2] x [cy - h/2, cy + h/2]``. This is what a localisation
net regresses (paper Appendix A: "centre x, centre y, width, height") and it is
independent of the image's size, so the same numbers survive an isotropic rescale.

**Pixel corners.** ``(xmin, ymin, xmax, ymax)`` in continuous pixel coordinates: an image
of width W spans ``[0, W]``, pixel ``i`` covers ``[i, i + 1)``. VOC/ILSVRC XML's 1-based
inclusive corners ``(x1, y1, x2, y2)`` are ``(x1 - 1, y1 - 1, x2, y2)`` here.

The frame conversions, IoU and the match score are vectorised NumPy over the leading
axes; greedy merging is NumPy for the usual counts and compiled by numba for large ones
(`kvgg.localize.merging`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_MERGE_THRESHOLD",
    "NUMPY_MERGE_LIMIT",
    "corners_to_frame",
    "frame_to_corners",
    "greedy_merge",
    "iou",
    "match_scores",
]

DEFAULT_MERGE_THRESHOLD = 0.1
"""Greedy merging stops when the best match score passes this value (normalised units:
centre distance in image widths/heights plus intersection area in image areas). Measured
on the validation split of the tests' pasted-object dataset
(tests/test_localize_end_to_end.py, a tiny PCR net over Q = 64, 72, 80): top-5
localisation error 0.38-0.40 at 0 and 0.1, 0.65-0.80 at 0.15-0.2, 0.45-0.53 at 0.3; 0.1
is the largest of the best. With OverFeat's score as stated, heavily overlapping boxes
score high (their intersection counts against them), so large thresholds merge boxes of
different places. Re-measure it on your validation data with
``kvgg evaluate --boxes ... --merge-threshold``."""


def frame_to_corners(boxes, width: float = 1.0, height: float = 1.0) -> np.ndarray:
    """Normalised ``(cx, cy, w, h)`` -> ``(xmin, ymin, xmax, ymax)`` scaled to an image.

    Args:
        boxes: array (..., 4) in the normalised frame.
        width: the image width in pixels (1 keeps normalised corners).
        height: the image height in pixels.

    Returns:
        float array (..., 4) of corners.

    Example:
        >>> frame_to_corners([0.5, 0.5, 0.5, 1.0], width=200, height=100).tolist()
        [50.0, 0.0, 150.0, 100.0]
    """
    boxes = np.asarray(boxes, dtype=np.float64)
    cx, cy, w, h = np.moveaxis(boxes, -1, 0)
    corners = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)
    return corners * np.array([width, height, width, height])


def corners_to_frame(corners, width: float = 1.0, height: float = 1.0) -> np.ndarray:
    """``(xmin, ymin, xmax, ymax)`` in pixels of a ``width`` x ``height`` image -> normalised
    ``(cx, cy, w, h)``; the inverse of `frame_to_corners`.

    Example:
        >>> corners_to_frame([50, 0, 150, 100], width=200, height=100).tolist()
        [0.5, 0.5, 0.5, 1.0]
    """
    corners = np.asarray(corners, dtype=np.float64) / np.array([width, height, width, height])
    x0, y0, x1, y1 = np.moveaxis(corners, -1, 0)
    return np.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], axis=-1)


def iou(a, b) -> np.ndarray:
    """Intersection over union of corner boxes, broadcast over the leading axes.

    Args:
        a: array (..., 4) of ``(xmin, ymin, xmax, ymax)``.
        b: array (..., 4), broadcastable against ``a`` (use ``a[:, None]`` and
            ``b[None, :]`` for the full pairwise matrix).

    Returns:
        IoU in [0, 1], shape of the broadcast leading axes; 0 where both boxes are empty.

    Example:
        >>> float(iou([0, 0, 2, 2], [1, 0, 3, 2]))  # 2 / 6
        0.3333333333333333
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    inter = _intersection(a, b)
    union = _area(a) + _area(b) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def match_scores(a, b) -> np.ndarray:
    """OverFeat's match score of corner boxes (Sermanet et al. 2014, Sec. 4.3), pairwise.

    "The sum of the distance between centres of the two bounding boxes and the
    intersection area of the boxes", as OverFeat states it (and the VGG paper follows).
    Lower means a better match. Use normalised corners so that both terms are in image
    units (widths and areas of the image).

    Args:
        a: (N, 4) corners.
        b: (M, 4) corners.

    Returns:
        (N, M) scores.

    Example:
        >>> match_scores([[0, 0, 0.2, 0.2]], [[0.3, 0, 0.5, 0.2]]).round(3).tolist()
        [[0.3]]
    """
    a, b = _corner_array(a), _corner_array(b)
    return _scores(a[:, None], b[None, :])


def _scores(a, b):
    """Match scores of corner boxes broadcast against each other: the same float64
    operations, in the same order, as the compiled `kvgg.localize.merging` (bit-equal)."""
    width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    dx = (a[..., 0] + a[..., 2]) - (b[..., 0] + b[..., 2])  # twice the centre offsets
    dy = (a[..., 1] + a[..., 3]) - (b[..., 1] + b[..., 3])
    return np.sqrt(dx * dx + dy * dy) * 0.5 + np.maximum(width, 0.0) * np.maximum(height, 0.0)


def greedy_merge(corners, scores, *, threshold: float = DEFAULT_MERGE_THRESHOLD):
    """Merge boxes with OverFeat's greedy procedure; each result rated by its windows.

    Repeatedly the closest pair (lowest `match_scores`) is replaced by the average of
    the two boxes' coordinates, until the best match score passes ``threshold``. A merged
    box carries the sum of the ``scores`` of the boxes (windows) it came from.

    The result is exactly that of the procedure run one pair at a time in float64 (ties
    go to the first pair in input order; the merged box takes the first box's place).
    Up to `NUMPY_MERGE_LIMIT` boxes (protocol 2 merges about 100-220 per class: D at
    the paper's scales on a 500x375 image, two nets) it runs in vectorised NumPy on the
    N x N score matrix; above, compiled with numba (`kvgg.localize.merging`, where the
    method is described), whose time and memory grow with the number of pairs within
    ``threshold`` rather than all N^2 pairs. Both give the same bits; numba is imported
    (and compiled, on first use in a fresh install) only for large counts.
    ``benchmarks/localize.py`` times both counts.

    Args:
        corners: (N, 4) boxes as normalised ``(xmin, ymin, xmax, ymax)``.
        scores: (N,) the class score of the window that predicted each box.
        threshold: stop when no remaining pair matches at or below this score.

    Returns:
        ``(merged_corners, merged_scores)``: (K, 4) and (K,) with K <= N, sorted by score,
        best first.

    Example:
        >>> boxes = [[0.1, 0.1, 0.3, 0.3], [0.12, 0.1, 0.32, 0.3], [0.7, 0.7, 0.9, 0.9]]
        >>> merged, rating = greedy_merge(boxes, [0.5, 0.25, 0.5], threshold=0.1)
        >>> merged.round(2).tolist(), rating.tolist()
        ([[0.11, 0.1, 0.31, 0.3], [0.7, 0.7, 0.9, 0.9]], [0.75, 0.5])
    """
    boxes = _corner_array(corners).copy()  # merged in place
    rating = np.array(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(rating):
        raise ValueError(
            f"greedy_merge needs one score per box. Received: {len(boxes)} boxes, "
            f"{len(rating)} scores"
        )
    if not (np.isfinite(boxes).all() and np.isfinite(rating).all()):
        raise ValueError("greedy_merge received non-finite boxes or scores.")
    if len(boxes) <= NUMPY_MERGE_LIMIT:
        left = _merge_small(boxes, rating, float(threshold))
    else:
        from kvgg.localize.merging import merge_in_place  # numba: compiled on first use

        left = merge_in_place(boxes, rating, float(threshold))
    boxes, rating = boxes[:left], rating[:left]
    order = np.argsort(-rating, kind="stable")
    return boxes[order], rating[order]


NUMPY_MERGE_LIMIT = 400
"""`greedy_merge` of at most this many boxes runs in NumPy, above it compiled by numba:
the NumPy path scans all N^2 pairs at each merge, so it is the faster one only for small
N (``benchmarks/localize.py`` measures both), and it needs no compilation."""


def _merge_small(boxes, rating, threshold: float) -> int:
    """`kvgg.localize.merging.merge_in_place` in NumPy for small N: the same result.

    The (N, N) matrix holds each pair's score once (i < j, the rest inf); ``argmin``
    finds the first least in row-major order, i.e. the first pair in input order, as
    the one-pair-at-a-time procedure breaks ties. The merged box replaces box i; box j's
    row and column become inf; box i's scores are computed again.
    """
    n = len(boxes)
    if n < 2 or not threshold >= 0:  # no score is negative
        return n
    scores = _scores(boxes[:, None], boxes[None, :])
    scores[np.tril_indices(n)] = np.inf
    alive = np.ones(n, bool)
    while True:
        i, j = divmod(int(np.argmin(scores)), n)
        if not scores[i, j] <= threshold:
            break
        boxes[i] = (boxes[i] + boxes[j]) / 2
        rating[i] += rating[j]
        alive[j] = False
        scores[j, :] = scores[:, j] = np.inf
        fresh = _scores(boxes[i], boxes)
        fresh[~alive] = np.inf
        scores[i, i + 1 :] = fresh[i + 1 :]
        scores[:i, i] = fresh[:i]
    kept = int(alive.sum())
    boxes[:kept], rating[:kept] = boxes[alive], rating[alive]
    return kept


def _corner_array(corners):
    """(N, 4) C-contiguous float64 corners (a copy only where needed)."""
    return np.ascontiguousarray(np.asarray(corners, dtype=np.float64).reshape(-1, 4))


def _area(boxes):
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(
        boxes[..., 3] - boxes[..., 1], 0, None
    )


def _intersection(a, b):
    width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)
