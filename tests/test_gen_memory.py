"""The generator's buffer-region geometry: rings, static addresses and bank choice."""

from __future__ import annotations

import numpy as np
import pytest

from sasim.gen.memory import (
    LUT_RAM_BITS,
    MAX_BANK_FACTOR,
    Ring,
    absolute_addresses,
    bank_ram,
    conflict_free_banks,
    ring,
    update_groups,
    window_free_banks,
)


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


@pytest.mark.parametrize(("r", "bits", "limit", "expected"), [
    (Ring(words=2048, banks=128), 8, LUT_RAM_BITS, "lut"),  # 16 words x 8 bits
    (Ring(words=256, banks=2), 8, LUT_RAM_BITS, "lut"),  # 128 x 8: exactly the limit
    (Ring(words=256, banks=2), 9, LUT_RAM_BITS, "block"),  # one bit a word more
    (Ring(words=64, banks=2), 32, LUT_RAM_BITS, "lut"),
    (Ring(words=4096, banks=8), 8, LUT_RAM_BITS, "block"),  # 512 x 8
    (Ring(words=2, banks=1), 8, 0, "block"),  # 0: every bank in block RAM
    (Ring(words=4096, banks=8), 8, 4096, "lut"),
])
def test_small_banks_are_meant_for_lut_ram(r: Ring, bits: int, limit: int, expected: str) -> None:
    assert bank_ram(r, bits, limit) == expected


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


def _window_clash(addresses: list[int], sizes: list[int], lanes: int, banks: int) -> bool:
    """The definition: some window of up to ``lanes`` consecutive elements of one tile, from
    any start, has two elements on one bank."""
    at = 0
    for n in sizes:
        tile = addresses[at:at + n]
        for k in range(n):
            window = [a % banks for a in tile[k:k + lanes]]
            if len(set(window)) < len(window):
                return True
        at += n
    return False


@pytest.mark.parametrize(("addresses", "sizes", "lanes", "expected"), [
    ([0, 1, 2, 3, 4, 5], [6], 3, 4),  # consecutive: a window of 3 needs 3 banks, so 4
    ([0, 4, 8, 12], [4], 2, 8),  # stride 4: neighbours share a bank below 8 banks
    ([0, 4, 1, 5], [2, 2], 2, 8),  # 0 and 4 read together; 4 and 1 never (different tiles)
    ([0, 2, 1, 3], [4], 2, 4),  # 0 and 2 read together: one bank of 2
    ([0, 1, 2, 3], [4], 2, 2),  # every window of 2 is even-odd
    ([0, 64], [2], 2, None),  # the same bank up to 64 banks: beyond the limit
])
def test_window_free_banks(addresses: list[int], sizes: list[int], lanes: int, expected: int | None) -> None:
    got = window_free_banks(np.array(addresses), np.array(sizes), lanes, 2, 128)
    assert got == expected
    if got is not None:
        assert not _window_clash(addresses, sizes, lanes, got)
        assert got == 2 or _window_clash(addresses, sizes, lanes, got // 2)  # the fewest


def test_window_free_banks_is_the_definition_on_random_tiles() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        sizes = rng.integers(1, 6, size=rng.integers(1, 5))
        addresses = rng.integers(0, 64, size=int(sizes.sum()))
        lanes = int(rng.integers(2, 5))
        fewest = next((b for b in (2, 4, 8) if not _window_clash(addresses.tolist(), sizes.tolist(), lanes, b)), None)
        assert window_free_banks(addresses, sizes, lanes, 2, 64) == fewest  # at most 4 x 2 banks


def test_conflict_free_banks_gives_up_beyond_the_limit() -> None:
    clash = [np.array([0, 64])]  # the same bank for every bank count up to 64
    assert conflict_free_banks(clash, 2, 128) is None
    assert MAX_BANK_FACTOR * 2 < 64
