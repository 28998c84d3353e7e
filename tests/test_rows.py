"""Distinct rows of integer matrices: the fast helpers equal NumPy's field-by-field unique."""

from __future__ import annotations

import numpy as np
import pytest

from sasim.rows import distinct_pairs, group_rows, grouped, representatives, unique_rows


def test_unique_rows_keeps_first_occurrences_in_order() -> None:
    rows = np.array([[3, 1], [1, 2], [3, 1], [0, 5], [1, 2], [-1, 7]])
    assert unique_rows(rows).tolist() == [[3, 1], [1, 2], [0, 5], [-1, 7]]
    assert unique_rows(rows[:1]).tolist() == [[3, 1]]
    assert unique_rows(np.zeros((0, 3), dtype=np.int64)).shape == (0, 3)
    many = np.random.default_rng(0).integers(1, 6, size=(500, 4))
    assert sorted(map(tuple, unique_rows(many).tolist())) == sorted(map(tuple, np.unique(many, axis=0).tolist()))


# 3: a small key range (counted); 1 << 20: sorted keys; 1 << 40 overflows the mixed radix: field by field
@pytest.mark.parametrize("high", [3, 1 << 20, 1 << 40])
def test_group_rows_equals_numpy_unique(high: int) -> None:
    rows = np.random.default_rng(1).integers(0, high, size=(400, 3))
    rows = np.concatenate([rows, rows[::3]])
    keys, inverse = group_rows(rows)
    want_keys, want_inverse = np.unique(rows, axis=0, return_inverse=True)
    assert np.array_equal(keys, want_keys)
    assert np.array_equal(inverse, want_inverse.ravel())
    assert np.array_equal(keys[inverse], rows)


def test_group_rows_edge_cases() -> None:
    keys, inverse = group_rows(np.zeros((0, 2), dtype=np.int64))
    assert keys.shape == (0, 2) and inverse.shape == (0,)
    keys, inverse = group_rows(np.array([[-1, 2], [0, 0], [-1, 2]]))  # negative: field by field
    assert keys.tolist() == [[-1, 2], [0, 0]] and inverse.tolist() == [0, 1, 0]


@pytest.mark.parametrize("row", [[4, 32, 32], [-3, 0, 7]])
def test_group_rows_of_one_distinct_row(row: list[int]) -> None:
    rows = np.asfortranarray(np.tile(np.array([row]), (50, 1)))  # column-major, as schedules keep them
    keys, inverse = group_rows(rows)
    assert keys.tolist() == [row] and inverse.tolist() == [0] * 50


def test_grouped_lists_each_group_in_order() -> None:
    order, bounds = grouped(np.array([2, 0, 1, 0, 2, 2]), 3)
    assert bounds.tolist() == [0, 2, 3, 6]
    assert [order[a:b].tolist() for a, b in zip(bounds[:-1], bounds[1:])] == [[1, 3], [2], [0, 4, 5]]


def test_representatives_name_a_row_of_each_group() -> None:
    inverse = np.array([2, 0, 1, 0, 2, 2])
    some = representatives(inverse, 3)
    assert inverse[some].tolist() == [0, 1, 2]


@pytest.mark.parametrize("bound", [20, 1 << 60])  # 1 << 60: no combined key, a lexicographic sort
def test_distinct_pairs_equal_group_rows(bound: int) -> None:
    rng = np.random.default_rng(5)
    major = np.sort(rng.integers(0, 50, size=400))
    minor = rng.integers(0, 20, size=400)
    got = distinct_pairs(major, minor, bound)
    want, _ = group_rows(np.stack([major, minor], axis=1))
    assert np.stack(got, axis=1).tolist() == want.tolist()
    empty = np.zeros(0, dtype=np.int64)
    assert [len(a) for a in distinct_pairs(empty, empty, bound)] == [0, 0]
