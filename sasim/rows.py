"""Distinct rows of integer matrices, fast.

``np.unique(rows, axis=0)`` compares rows field by field and is several times slower
than sorting one key per row. Both helpers here are exact.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["distinct_pairs", "group_rows", "grouped", "representatives", "unique_rows"]


def unique_rows(rows: np.ndarray) -> np.ndarray:
    """The distinct rows of an integer matrix, each at its first occurrence, in order
    (the rows are compared as raw bytes: one sort of fixed-size strings)."""
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    if len(rows) < 2:
        return rows
    keys = rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize))).ravel()
    _, first = np.unique(keys, return_index=True)
    return rows[np.sort(first)]


def group_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, axis=0, return_inverse=True)`` for a non-negative integer matrix:
    the distinct rows in lexicographic order and each row's index among them.

    Each row becomes one integer in mixed radix (column ``j`` in base ``max + 1``), which
    orders rows as they compare lexicographically; the keys are counted when their range is
    small, else sorted; when that number could exceed 62 bits the rows are compared field by
    field."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.ndim == 2 and rows.size and bool((rows == rows[0]).all()):
        return rows[:1], np.zeros(len(rows), dtype=np.int64)  # one distinct row (common: whole tiles)
    if rows.ndim == 2 and rows.size and rows.min() >= 0:
        radix = [int(c) + 1 for c in rows.max(axis=0)]
        if math.prod(radix) < 1 << 62:
            key = np.zeros(len(rows), dtype=np.int64)
            for j, r in enumerate(radix):
                key = key * r + rows[:, j]
            span = math.prod(radix)
            if span <= max(4 * len(rows), 1 << 16):
                # a small key range: count instead of sort
                present = np.bincount(key, minlength=span) > 0
                rank = np.cumsum(present) - 1
                distinct = np.flatnonzero(present)
                inverse = rank[key]
                return rows[representatives(inverse, len(distinct))], inverse
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            return rows[first], inverse.ravel()
    keys, inverse = np.unique(rows, axis=0, return_inverse=True)
    return keys, inverse.ravel()


def representatives(inverse: np.ndarray, count: int) -> np.ndarray:
    """One row index per group, for group indices ``inverse`` in ``0..count-1``: any row of
    the group (one scatter, no sort), for groups whose rows are alike."""
    some = np.zeros(count, dtype=np.int64)
    some[inverse] = np.arange(len(inverse))
    return some


def grouped(inverse: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows by group, for group indices ``inverse`` in ``0..count-1`` (as :func:`group_rows`
    returns): an order that lists group 0's rows, then group 1's, ... (each in their order),
    and the ``count + 1`` bounds of the groups in it."""
    order = np.argsort(inverse, kind="stable")
    return order, np.searchsorted(inverse[order], np.arange(count + 1))


def distinct_pairs(major: np.ndarray, minor: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """The distinct pairs of two integer columns, in lexicographic order (``group_rows`` of
    their two-column matrix, without the inverse); ``0 <= minor < bound``. One combined key
    when it fits in 62 bits, else a lexicographic sort."""
    if not len(major):
        return major, minor
    if (int(major.max()) + 1) * bound < 1 << 62:
        keys = np.sort(major * bound + minor)  # (np.unique hashes, several times slower here)
        keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]
        return np.divmod(keys, bound)
    order = np.lexsort((minor, major))
    major, minor = major[order], minor[order]
    keep = np.concatenate([[True], (major[1:] != major[:-1]) | (minor[1:] != minor[:-1])])
    return major[keep], minor[keep]
