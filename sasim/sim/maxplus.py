"""Vectorized in-order streams: when does each element of a stream move?

An engine moves the elements of a tile in order, at most ``bw`` per cycle, each no
earlier than it is readable (``ready[k]``) and none before ``start``. The golden
rule "in each cycle move the readable prefix, up to ``bw`` elements" gives
``m[k] = max(m[k-1], ready[k], m[k-bw] + 1, start)``, whose solution is
``m[k] = max over j <= k of (ready'[j] + floor((k - j) / bw))`` with
``ready'[0] = max(ready[0], start)``. Writing ``k = a*bw + α`` and ``j = b*bw + β``,
``floor((k-j)/bw) = a - b - [β > α]``, so with ``u[j] = ready'[j] - b`` the maximum is
``a + max(prefix_max(u)[k] - 1, Q[a, α])`` where ``Q[a, α]`` is the largest ``u[j]``
over blocks ``b <= a`` and ``β <= α`` -- two cumulative maxima on a (blocks, bw) grid.
"""

from __future__ import annotations

import numpy as np

__all__ = ["stream_moves"]


def stream_moves(ready: np.ndarray, bw: int, start: int) -> np.ndarray:
    """Cycle in which each element moves (see the module docstring)."""
    n = len(ready)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    r = np.asarray(ready, dtype=np.int64).copy()
    r[0] = max(int(r[0]), start)
    if bw == 1:
        k = np.arange(n, dtype=np.int64)
        return np.asarray(np.maximum.accumulate(r - k) + k)
    bw = min(bw, n)
    k = np.arange(n, dtype=np.int64)
    a, alpha = k // bw, k % bw
    u = r - a
    prefix = np.maximum.accumulate(u)
    blocks = -(-n // bw)
    floor = np.iinfo(np.int64).min // 4
    flat = np.full(blocks * bw, floor, dtype=np.int64)
    flat[:n] = u
    grid = np.maximum.accumulate(np.maximum.accumulate(flat.reshape(blocks, bw), axis=1), axis=0)
    q = grid[a, alpha]
    return np.asarray(a + np.maximum(prefix - 1, q))
