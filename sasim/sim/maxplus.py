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

__all__ = ["stream_moves", "banked_moves"]


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


def banked_moves(
    ready: np.ndarray, bw: int, start: int, bank: np.ndarray, word: np.ndarray, ports: int
) -> tuple[np.ndarray, int]:
    """Like :func:`stream_moves`, but each cycle a bank serves at most ``ports`` distinct words:
    each cycle moves the longest prefix that is readable, within ``bw``, and fits the banks.
    Returns the moves and the number of cycles cut short by a bank (conflict cycles).

    A plain loop, cycle by cycle: used only for regions a mapping lays out non-ideally."""
    n = len(ready)
    moves = np.zeros(n, dtype=np.int64)
    rd, bk, wd = ready.tolist(), bank.tolist(), word.tolist()
    cycle, i, conflicts = start, 0, 0
    while i < n:
        cycle = max(cycle, rd[i])
        used: dict[int, set[int]] = {}
        count = 0
        while i < n and count < bw and rd[i] <= cycle:
            words = used.setdefault(bk[i], set())
            if wd[i] not in words:
                if len(words) >= ports:
                    conflicts += 1
                    break
                words.add(wd[i])
            moves[i] = cycle
            i += 1
            count += 1
        cycle += 1
    return moves, conflicts
