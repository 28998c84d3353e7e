"""The generator's buffer-region geometry: rings, static addresses and bank choice."""

from __future__ import annotations

import numpy as np
import pytest

from sasim.gen.memory import MAX_BANK_FACTOR, Ring, absolute_addresses, conflict_free_banks, ring, update_groups


@pytest.mark.parametrize(("capacity", "banks", "expected"), [
    (1000, 8, Ring(words=1024, banks=8)),
    (1024, 8, Ring(words=1024, banks=8)),
    (1025, 3, Ring(words=2048, banks=4)),
    (5, 8, Ring(words=16, banks=8)),  # at least two rows per bank
    (1, 1, Ring(words=2, banks=1)),
])
def test_ring_is_a_power_of_two_covering_the_capacity(capacity: int, banks: int, expected: Ring) -> None:
    r = ring(capacity, banks)
    assert r == expected
    assert r.words >= capacity and r.depth * r.banks == r.words
    assert r.addr_bits == r.words.bit_length() - 1 and r.bank_bits == r.banks.bit_length() - 1


def test_absolute_addresses_start_each_child_at_its_parents_offset() -> None:
    # parent tiles of 5, 3 and 6 elements start at 0, 5 and 8; the ring has 8 words
    parent_sizes = np.array([5, 3, 6])
    child_sizes = np.array([2, 3, 3, 2])
    parent = np.array([0, 0, 1, 2])
    positions = np.array([0, 1, 2, 3, 4, 0, 1, 2, 5, 4])
    got = absolute_addresses(parent, positions, child_sizes, parent_sizes, 8)
    assert got.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, (8 + 5) % 8, (8 + 4) % 8]


def test_update_groups_chunk_each_tile_from_its_start() -> None:
    addresses = np.arange(10)
    groups = update_groups(addresses, np.array([5, 2, 3]), 2)
    assert [g.tolist() for g in groups] == [[0, 1], [2, 3], [4], [5, 6], [7, 8], [9]]


def test_conflict_free_banks_picks_the_fewest_banks() -> None:
    consecutive = [np.array([0, 1, 2]), np.array([3, 4, 5])]
    assert conflict_free_banks(consecutive, 3, 64) == 4
    strided = [np.array([0, 4]), np.array([8, 12])]  # same bank until 8 banks
    assert conflict_free_banks(strided, 2, 64) == 8


def test_conflict_free_banks_gives_up_beyond_the_limit() -> None:
    clash = [np.array([0, 64])]  # the same bank for every bank count up to 64
    assert conflict_free_banks(clash, 2, 128) is None
    assert MAX_BANK_FACTOR * 2 < 64
