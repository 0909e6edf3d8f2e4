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

Everything is vectorised NumPy over the leading axes.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "DEFAULT_MERGE_THRESHOLD",
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
    a, b = np.asarray(a), np.asarray(b)
    return _match(a[:, None, :], b[None, :, :])


def greedy_merge(corners, scores, *, threshold: float = DEFAULT_MERGE_THRESHOLD):
    """Merge boxes with OverFeat's greedy procedure; each result rated by its windows.

    Repeatedly the closest pair (lowest `match_scores`) is replaced by the average of
    the two boxes' coordinates, until the best match score passes ``threshold``. A merged
    box carries the sum of the ``scores`` of the boxes (windows) it came from.

    The result is exactly that of the procedure run one pair at a time (ties go to the
    first pair in input order; the merged box takes the first box's place). It is fast
    because the pairwise score matrix and each box's closest match are kept, and each
    step merges at once a run of mutual closest pairs that the one-at-a-time procedure
    provably takes next, in that order (each the strictly lowest pair left once the
    earlier ones are merged): a step costs O(N) vector work per pair plus the N x N
    matrix once (float64, 8 N^2 bytes). ``benchmarks/localize.py`` times 5,000 boxes.

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
    boxes = np.array(corners, dtype=np.float64).reshape(-1, 4)  # a copy: merged in place
    rating = np.array(scores, dtype=np.float64).reshape(-1)
    if len(boxes) != len(rating):
        raise ValueError(
            f"greedy_merge needs one score per box. Received: {len(boxes)} boxes, "
            f"{len(rating)} scores"
        )
    if not (np.isfinite(boxes).all() and np.isfinite(rating).all()):
        raise ValueError("greedy_merge received non-finite boxes or scores.")
    alive = _merge_pairs(boxes, rating, threshold)
    boxes, rating = boxes[alive], rating[alive]
    order = np.argsort(-rating, kind="stable")
    return boxes[order], rating[order]


def _merge_pairs(boxes, rating, threshold):
    """Merge in place (see `greedy_merge`); return the mask of the boxes left.

    ``nearest[k]`` is the first index of the lowest score in row ``k`` of ``match`` and
    ``best[k]`` that score (inf for merged-away boxes), so the first row holding the
    global minimum and its ``nearest`` are the first pair ``(a, b)``, ``a < b``, in input
    order. Each round takes the mutual closest pairs in the order the one-pair-at-a-time
    procedure would reach them and merges the longest prefix of them that it provably
    merges next (`_sequential_prefix`): at least one pair, often many.
    """
    count = len(boxes)
    alive = np.ones(count, dtype=bool)
    if count < 2:
        return alive
    index = np.arange(count)
    match = _initial_matches(boxes)
    nearest = match.argmin(axis=1)
    best = match[index, nearest]
    window = 8
    while True:
        mutual = alive & (best <= threshold) & (nearest[nearest] == index) & (index < nearest)
        first = np.flatnonzero(mutual)
        if first.size == 0:
            return alive
        # Score only as many pairs as the last round merged, and some more.
        order = np.lexsort((first, best[first]))[:window]
        first = first[order]
        second = nearest[first]
        merged = (boxes[first] + boxes[second]) / 2
        rows = _match(merged[:, None, :], np.concatenate([boxes, merged])[None, :, :])
        rows, among = rows[:, :count], rows[:, count:]
        np.fill_diagonal(among, np.inf)
        taken = _sequential_prefix(match, best, alive, first, second, rows, among)
        window = max(8, 2 * taken)
        first, second, merged = first[:taken], second[:taken], merged[:taken]
        rows, among = rows[:taken], among[:taken, :taken]
        boxes[first] = merged
        rating[first] += rating[second]
        alive[second] = False
        best[second] = np.inf
        rows[:, first] = among
        rows[:, ~alive] = np.inf
        match[second] = np.inf
        match[:, second] = np.inf
        match[first] = rows
        match[:, first] = rows.T
        # Rows whose closest match was merged look again in full; the others only check
        # whether a merged box is now closer (or as close and earlier).
        changed = np.zeros(count, dtype=bool)
        changed[first] = changed[second] = True
        stale = alive & changed[nearest]
        stale[first] = True
        value = rows.min(axis=0)
        closer = np.flatnonzero(alive & ~stale & (value <= best))
        by_index = np.argsort(first)
        closest = first[by_index][rows[by_index][:, closer].argmin(axis=0)]
        keep = (value[closer] < best[closer]) | (closest < nearest[closer])
        closer, closest = closer[keep], closest[keep]
        nearest[closer] = closest
        best[closer] = value[closer]
        look = np.flatnonzero(stale)
        nearest[look] = match[look].argmin(axis=1)
        best[look] = match[look, nearest[look]]


def _sequential_prefix(match, best, alive, first, second, rows, among):
    """How many of the mutual closest pairs ``(first, second)``, sorted by score, the
    one-pair-at-a-time procedure merges next, in this order.

    The first is its next merge. Pair ``t`` follows if, once pairs ``0..t-1`` are merged,
    it is the strictly lowest pair left: below every score of the boxes merged so far
    (``rows``: their scores against the current boxes; ``among``: against each other),
    below every other box's closest match (``best``, a lower bound on its scores; pairs
    ``t+1..`` score at least their own), and with no tie in its own two rows.
    """
    count = len(first)
    if count == 1:
        return 1
    score = best[first]
    rank = np.full(len(best), count)
    rank[first] = rank[second] = np.arange(count)
    others = alive & (rank == count)
    # Other boxes scoring below the last pair: their exact least score against the boxes
    # still there when pair t is merged; the rest are bounded by their closest match.
    low = others & (best <= score[-1])
    rest = others & ~low
    bound = np.full(count, best[rest].min() if rest.any() else np.inf)
    bound[:-1] = np.minimum(bound[:-1], score[1:])
    if low.any():
        bound = np.minimum(bound, _least_scores(match[low], others, first, second).min(axis=0))
    rows_min = _least_scores(rows, others, first, second)
    earlier = np.arange(count)[:, None] < np.arange(count)[None, :]
    bound = np.minimum(bound, np.where(earlier, rows_min, np.inf).min(axis=0))
    pairwise = np.where(earlier, among, np.inf).min(axis=0)  # min over k < k' of among
    bound[1:] = np.minimum(bound[1:], np.minimum.accumulate(pairwise)[:-1])
    unique = ((match[first] == score[:, None]).sum(axis=1) == 1) & (
        (match[second] == score[:, None]).sum(axis=1) == 1
    )
    follows = (score < bound) & unique
    follows[0] = True
    return int(follows.argmin()) if not follows.all() else count


def _least_scores(scores, others, first, second):
    """``[k, t]``: the least of ``scores[k]`` over the boxes still there when pair ``t`` of
    ``(first, second)`` is merged (the ``others`` and the pairs from ``t`` on)."""
    to_pairs = np.minimum(scores[:, first], scores[:, second])
    to_pairs = np.minimum.accumulate(to_pairs[:, ::-1], axis=1)[:, ::-1]
    to_others = np.where(others[None, :], scores, np.inf).min(axis=1)
    return np.minimum(to_pairs, to_others[:, None])


def _initial_matches(boxes, block: int = 64):
    """The pairwise score matrix with an inf diagonal, computed in cache-sized row blocks
    of its upper triangle and mirrored (the score is symmetric)."""
    count = len(boxes)
    match = np.empty((count, count))
    for start in range(0, count, block):
        stop = min(start + block, count)
        scores = _match(boxes[start:stop, None, :], boxes[None, start:, :])
        match[start:stop, start:] = scores
        match[start:, start:stop] = scores.T
    np.fill_diagonal(match, np.inf)
    return match


def _area(boxes):
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(
        boxes[..., 3] - boxes[..., 1], 0, None
    )


def _intersection(a, b):
    width = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    height = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.clip(width, 0, None) * np.clip(height, 0, None)


def _match(a, b):
    """OverFeat's match score of broadcast corner boxes (few passes, in place)."""
    ax0, ay0, ax1, ay1 = (a[..., k] for k in range(4))
    bx0, by0, bx1, by1 = (b[..., k] for k in range(4))
    inter = np.minimum(ax1, bx1)
    inter -= np.maximum(ax0, bx0)
    np.maximum(inter, 0, out=inter)
    height = np.minimum(ay1, by1)
    height -= np.maximum(ay0, by0)
    np.maximum(height, 0, out=height)
    inter *= height
    distance = (ax0 + ax1) - (bx0 + bx1)  # twice the centre offsets
    distance *= distance
    dy = (ay0 + ay1) - (by0 + by1)
    dy *= dy
    distance += dy
    np.sqrt(distance, out=distance)
    distance *= 0.5
    distance += inter
    return distance
