"""OverFeat's match score and greedy merging, compiled with numba.

Greedy merging is a sequential loop (each merge changes the next closest pair), so it is
compiled rather than vectorised. Only pairs scoring at most the threshold can ever merge,
and a pair's score is at least half the distance between the centres, so:

- each box keeps the list of boxes within the threshold of it and its closest one among
  them; a box whose closest box changed or left looks through its own list;
- the boxes are kept sorted by centre x, so the pairs are found by a sweep and a merged
  box is scored only against the band of boxes whose centres are near enough in x.

Results are bit-for-bit those of the procedure run one pair at a time in float64
(``tests/test_localize_boxes.py`` checks them against it, and runs this module as plain
Python, where NumPy checks every index). numba compiles these functions on first use
(about 10 s) and caches the machine code beside this file (or in ``NUMBA_CACHE_DIR``) for
later processes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["merge_in_place", "pairwise_scores"]

_JIT = {"cache": True, "nogil": True}


@njit(**_JIT)
def _score(x0, y0, x1, y1, sx, sy, i, j):
    """Match score of boxes ``i`` and ``j``: the centre distance plus the intersection
    area. ``sx``, ``sy`` are ``x0 + x1``, ``y0 + y1``; a box at infinity scores inf."""
    right = x1[i] if x1[i] < x1[j] else x1[j]
    left = x0[i] if x0[i] > x0[j] else x0[j]
    bottom = y1[i] if y1[i] < y1[j] else y1[j]
    top = y0[i] if y0[i] > y0[j] else y0[j]
    width = right - left if right > left else 0.0
    height = bottom - top if bottom > top else 0.0
    dx = sx[i] - sx[j]  # twice the centre offsets
    dy = sy[i] - sy[j]
    return np.sqrt(dx * dx + dy * dy) * 0.5 + width * height


@njit(**_JIT)
def _columns(corners):
    """x0, y0, x1, y1, x0 + x1, y0 + y1 of (N, 4) corners, as contiguous arrays."""
    n = len(corners)
    x0, y0, x1, y1 = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
    for k in range(n):
        x0[k], y0[k], x1[k], y1[k] = corners[k, 0], corners[k, 1], corners[k, 2], corners[k, 3]
    return x0, y0, x1, y1, x0 + x1, y0 + y1


@njit(**_JIT)
def pairwise_scores(a, b):
    """(N, M) match scores of (N, 4) and (M, 4) float64 corner boxes."""
    x0, y0, x1, y1, sx, sy = _columns(np.vstack((a, b)))
    scores = np.empty((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            scores[i, j] = _score(x0, y0, x1, y1, sx, sy, i, len(a) + j)
    return scores


@njit(**_JIT)
def _grown(values, size):
    bigger = np.empty(size, values.dtype)
    for k in range(len(values)):
        bigger[k] = values[k]
    return bigger


@njit(**_JIT)
def _count_below(values, stop, value, inclusive):
    """How many of the sorted ``values[:stop]`` are below ``value`` (or at most it, if
    ``inclusive``): a binary search, like ``np.searchsorted``."""
    low, high = 0, stop
    while low < high:
        middle = (low + high) // 2
        if values[middle] < value or (inclusive and values[middle] == value):
            low = middle + 1
        else:
            high = middle
    return low


@njit(**_JIT)
def _gathered(values, order):
    out = np.empty(len(order))
    for k in range(len(order)):
        out[k] = values[order[k]]
    return out


@njit(**_JIT)
def _pairs_within(x0, y0, x1, y1, sx, sy, by_x, threshold, reach):
    """Every pair scoring at most ``threshold``, with its score. A pair's score is at
    least half its ``|sx_i - sx_j|``, so a sweep over the boxes sorted by centre x
    (``by_x``) scores each box only against the band after it within ``reach``."""
    n = len(x0)
    ox0, oy0, ox1, oy1 = (
        _gathered(x0, by_x),
        _gathered(y0, by_x),
        _gathered(x1, by_x),
        _gathered(y1, by_x),
    )
    osx, osy = _gathered(sx, by_x), _gathered(sy, by_x)
    out = np.empty(n)
    first = np.empty(n, np.int64)
    second = np.empty(n, np.int64)
    scores = np.empty(n)
    found = 0
    for a in range(n):
        stop = _count_below(osx, n, osx[a] + reach, True)
        within = 0
        for b in range(a + 1, stop):
            out[b] = _score(ox0, oy0, ox1, oy1, osx, osy, a, b)
            within += out[b] <= threshold
        if found + within > len(scores):  # grown out here: the loops stay simple
            size = max(2 * len(scores), found + within)
            first, second, scores = _grown(first, size), _grown(second, size), _grown(scores, size)
        for b in range(a + 1, stop):
            if out[b] <= threshold:
                first[found], second[found], scores[found] = by_x[a], by_x[b], out[b]
                found += 1
    return first[:found], second[:found], scores[:found]


@njit(**_JIT)
def _room_for(count):
    """Room for a list (or the pool) of ``count`` entries: a little more, so that most
    lists never move (a list that fills up moves to the pool's end, twice as large)."""
    return count + count // 4 + 2


@njit(**_JIT)
def _listed_closest(k, slot, size, listed, listed_score, listed_version, alive, current):
    """The least score among box ``k``'s valid list entries and its first box
    (``(inf, -1)`` if none)."""
    least, where = np.inf, -1
    for e in range(slot[k], slot[k] + size[k]):
        j = listed[e]
        if alive[j] and listed_version[e] == current[j]:
            value = listed_score[e]
            if value < least or (value == least and j < where):
                least, where = value, j
    return least, where


@njit(**_JIT)
def _compact(k, slot, size, listed, listed_score, listed_version, alive, current):
    """Drop box ``k``'s stale list entries (boxes merged away, or changed since)."""
    kept = slot[k]
    for e in range(slot[k], slot[k] + size[k]):
        j = listed[e]
        if alive[j] and listed_version[e] == current[j]:
            listed[kept], listed_score[kept] = j, listed_score[e]
            listed_version[kept] = listed_version[e]
            kept += 1
    size[k] = kept - slot[k]


@njit(**_JIT)
def _move_to_end(k, end, slot, room, size, listed, listed_score, listed_version):
    """Move box ``k``'s full list to the pool's ``end`` with twice the room; return the
    new end."""
    for e in range(size[k]):
        listed[end + e], listed_score[end + e] = listed[slot[k] + e], listed_score[slot[k] + e]
        listed_version[end + e] = listed_version[slot[k] + e]
    slot[k], room[k] = end, 2 * room[k]
    return end + room[k]


@njit(**_JIT)
def _append(k, j, value, version, slot, size, listed, listed_score, listed_version):
    at = slot[k] + size[k]
    listed[at], listed_score[at], listed_version[at] = j, value, version
    size[k] += 1


@njit(**_JIT)
def _position(by_x, xs, stop, k, value):
    """Where box ``k`` (centre ``value``) stands in the first ``stop`` of the x order."""
    at = _count_below(xs, stop, value, False)
    while by_x[at] != k:
        at += 1
    return at


@njit(**_JIT)
def _move(by_x, xs, stop, k, old, new):
    """Move box ``k`` in the x order from centre ``old`` to ``new``, shifting only the
    entries in between (a merged box moves by half its pair's distance)."""
    at = _position(by_x, xs, stop, k, old)
    to = _count_below(xs, stop, new, False)  # entries before the new place
    if new > old:  # k itself is one of them
        to -= 1
        for m in range(at, to):
            by_x[m], xs[m] = by_x[m + 1], xs[m + 1]
    elif new < old:
        for m in range(at, to, -1):
            by_x[m], xs[m] = by_x[m - 1], xs[m - 1]
    else:
        to = at
    by_x[to], xs[to] = k, new


@njit(**_JIT)
def _without_gone(by_x, xs, stop):
    """Close the gaps (-1) of boxes merged away in the first ``stop`` of the x order;
    return the new length."""
    kept = 0
    for m in range(stop):
        if by_x[m] >= 0:
            by_x[kept], xs[kept] = by_x[m], xs[m]
            kept += 1
    return kept


@njit(**_JIT)
def _first_least(values):
    """The first index of the least of ``values``: its least in eight independent
    running minima (the comparisons overlap), then a scan for it."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = np.inf
    n, j = len(values), 0
    while j + 8 <= n:
        v0, v1, v2, v3 = values[j], values[j + 1], values[j + 2], values[j + 3]
        v4, v5, v6, v7 = values[j + 4], values[j + 5], values[j + 6], values[j + 7]
        a0, a1 = (v0 if v0 < a0 else a0), (v1 if v1 < a1 else a1)
        a2, a3 = (v2 if v2 < a2 else a2), (v3 if v3 < a3 else a3)
        a4, a5 = (v4 if v4 < a4 else a4), (v5 if v5 < a5 else a5)
        a6, a7 = (v6 if v6 < a6 else a6), (v7 if v7 < a7 else a7)
        j += 8
    for m in range(j, n):
        a0 = values[m] if values[m] < a0 else a0
    a0, a2 = (a1 if a1 < a0 else a0), (a3 if a3 < a2 else a2)
    a4, a6 = (a5 if a5 < a4 else a4), (a7 if a7 < a6 else a6)
    a0, a4 = (a2 if a2 < a0 else a0), (a6 if a6 < a4 else a4)
    least = a4 if a4 < a0 else a0
    j = 0
    while values[j] != least:
        j += 1
    return j


def merge_in_place(boxes, rating, threshold: float) -> int:
    """Greedy-merge (N, 4) float64 ``boxes`` rated by (N,) ``rating``; return K, the
    number left: ``boxes[:K]`` and ``rating[:K]`` hold them, in input order.

    The closest pair (lowest score; ties to the first pair in input order) becomes the
    average of its two boxes, in the first box's place, rated by the sum of their
    ratings, until the lowest score is above ``threshold``.

    State: box ``k``'s list, ``pool[slot[k] : slot[k] + size[k]]`` of ``listed`` (box),
    ``listed_score`` and ``listed_version``, has an entry for every box left that scores
    at most ``threshold`` with it; an entry is stale once its box left or changed
    (``current`` counts each box's merges). ``best[k]``, ``near[k]``: the least of those
    scores and the first box scoring it. ``by_x``/``xs``: the boxes left by centre x.
    """
    by_x = np.argsort(boxes[:, 0] + boxes[:, 2], kind="stable")  # as _columns sums
    return _merge(boxes, rating, float(threshold), by_x)


@njit(**_JIT)
def _merge(boxes, rating, threshold, order):
    """`merge_in_place`, given the boxes' ``order`` by centre x."""
    n = len(boxes)
    if n < 2 or not threshold >= 0:  # no score is negative
        return n
    x0, y0, x1, y1, sx, sy = _columns(boxes)
    reach = 2 * threshold * (1 + 1e-9) + 1e-12  # in sx units, with a margin for rounding
    by_x = order.copy()  # kept in x order as boxes move and leave
    xs = _gathered(sx, by_x)
    first, second, pair_scores = _pairs_within(x0, y0, x1, y1, sx, sy, by_x, threshold, reach)
    size = np.zeros(n, np.int64)
    for e in range(len(first)):
        size[first[e]] += 1
        size[second[e]] += 1
    room = _room_for(size)
    slot = np.zeros(n, np.int64)
    for k in range(1, n):
        slot[k] = slot[k - 1] + room[k - 1]
    end = slot[-1] + room[-1]  # lists that fill up move to the end of the pool
    listed = np.empty(_room_for(end), np.int32)
    listed_score = np.empty(len(listed))
    listed_version = np.empty(len(listed), np.int32)
    size[:] = 0
    for e in range(len(first)):
        i, j, value = first[e], second[e], pair_scores[e]
        _append(i, j, value, 0, slot, size, listed, listed_score, listed_version)
        _append(j, i, value, 0, slot, size, listed, listed_score, listed_version)
    alive = np.ones(n, np.bool_)
    current = np.zeros(n, np.int32)
    best = np.full(n, np.inf)
    near = np.full(n, -1, np.int64)
    for k in range(n):
        best[k], near[k] = _listed_closest(
            k, slot, size, listed, listed_score, listed_version, alive, current
        )
    fresh = np.full(n, np.inf)  # the merged box's scores against its band
    ordered, gaps = n, 0  # the x order's length, and its gaps (-1) of boxes gone
    while True:
        p = _first_least(best)  # the first box of the first closest pair; p < q
        if best[p] == np.inf:
            break
        q = near[p]
        # The boxes that may have had p or q as closest are on their lists.
        affected = np.empty(size[p] + size[q], np.int64)
        for e in range(size[p]):
            affected[e] = listed[slot[p] + e]
        for e in range(size[q]):
            affected[size[p] + e] = listed[slot[q] + e]
        by_x[_position(by_x, xs, ordered, q, sx[q])] = -1  # a gap, closed now and then
        gaps += 1
        old = sx[p]
        x0[p], y0[p] = (x0[p] + x0[q]) / 2, (y0[p] + y0[q]) / 2
        x1[p], y1[p] = (x1[p] + x1[q]) / 2, (y1[p] + y1[q]) / 2
        sx[p], sy[p] = x0[p] + x1[p], y0[p] + y1[p]
        x0[q] = y0[q] = x1[q] = y1[q] = sx[q] = sy[q] = best[q] = np.inf
        rating[p] += rating[q]
        alive[q] = False
        current[p] += 1
        _move(by_x, xs, ordered, p, old, sx[p])
        if gaps > ordered // 2:
            ordered, gaps = _without_gone(by_x, xs, ordered), 0
        low = _count_below(xs, ordered, sx[p] - reach, False)
        high = _count_below(xs, ordered, sx[p] + reach, True)
        # Score the merged box against its band; make room on the lists for it.
        need, own = 0, 0
        for m in range(low, high):
            k = by_x[m]
            if k == p or k < 0:
                continue
            fresh[k] = _score(x0, y0, x1, y1, sx, sy, p, k)
            if fresh[k] <= threshold:
                own += 1
                if size[k] == room[k]:
                    _compact(k, slot, size, listed, listed_score, listed_version, alive, current)
                    if size[k] == room[k]:
                        need += 2 * room[k]
        if own > room[p]:
            need += _room_for(own)
        if end + need > len(listed):
            pool = 2 * (end + need)
            listed, listed_score = _grown(listed, pool), _grown(listed_score, pool)
            listed_version = _grown(listed_version, pool)
        size[p] = 0
        if own > room[p]:
            slot[p], room[p] = end, _room_for(own)
            end += room[p]
        best[p], near[p] = np.inf, -1
        for m in range(low, high):
            k = by_x[m]
            if k < 0 or not fresh[k] <= threshold:
                continue
            value = fresh[k]
            if size[k] == room[k]:
                end = _move_to_end(k, end, slot, room, size, listed, listed_score, listed_version)
            _append(k, p, value, current[p], slot, size, listed, listed_score, listed_version)
            _append(p, k, value, current[k], slot, size, listed, listed_score, listed_version)
            if value < best[p] or (value == best[p] and k < near[p]):
                best[p], near[p] = value, k
            was = near[k]
            if was != p and was != q and (value < best[k] or (value == best[k] and p < was)):
                best[k], near[k] = value, p
        for k in affected:
            if not alive[k] or k == p or (near[k] != p and near[k] != q):
                continue
            # Its closest box changed or left. If the merged box is at least as close as
            # that one was, nothing is closer and nothing as close comes before p.
            if fresh[k] <= best[k]:
                best[k], near[k] = fresh[k], p
            else:
                best[k], near[k] = _listed_closest(
                    k, slot, size, listed, listed_score, listed_version, alive, current
                )
        for m in range(low, high):
            if by_x[m] >= 0:
                fresh[by_x[m]] = np.inf
    kept = 0
    for k in range(n):  # the boxes left, moved up in input order
        if alive[k]:
            boxes[kept, 0], boxes[kept, 1], boxes[kept, 2], boxes[kept, 3] = (
                x0[k],
                y0[k],
                x1[k],
                y1[k],
            )
            rating[kept] = rating[k]
            kept += 1
    return kept
