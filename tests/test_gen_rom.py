"""Sequencer ROMs stored as blocks (sasim.gen.rom): exact, smaller where tables are regular."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sasim.gen.rom import MAX_LEVELS, MIN_WORDS, Blocked, Const, Flat, Layout, encode, expand, storage_bits, word_at

#: (bits, words): any table of 1 to 600 words of up to 24 bits
ANY_TABLE = st.integers(1, 24).flatmap(lambda bits: st.tuples(
    st.just(bits), st.lists(st.integers(0, (1 << bits) - 1), min_size=1, max_size=600)))


def _depth(layout: Layout | None) -> int:
    if not isinstance(layout, Blocked):
        return 0
    return 1 + max(_depth(layout.classes), _depth(layout.offsets))


@settings(max_examples=200, deadline=None)
@given(ANY_TABLE)
def test_any_table_comes_back_exactly(case: tuple[int, list[int]]) -> None:
    bits, words = case
    layout = encode(words, bits, min_words=64)
    assert expand(layout) == words
    assert _depth(layout) <= MAX_LEVELS


@settings(max_examples=100, deadline=None)
@given(ANY_TABLE)
def test_word_at_reads_the_table_without_expanding_it(case: tuple[int, list[int]]) -> None:
    """word_at (a registered window's reset words) gives every word of any layout, and 0 past the end."""
    bits, words = case
    layout = encode(words, bits, min_words=64)
    assert [word_at(layout, i) for i in range(len(words) + 3)] == words + [0, 0, 0]


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 6), st.integers(1, 9), st.integers(1, 40), st.integers(1, 12), st.integers(64, 3000))
def test_loop_nest_tables_come_back_exactly(inner: int, stride: int, outer: int, bits: int, n: int) -> None:
    """Tables of the shape a loop nest gives (positions within a tile plus the tile's
    place), of any length, wrapped at the word width."""
    i = np.arange(n)
    words = ((i % inner) * stride + (i // inner) * outer) % (1 << bits)
    assert expand(encode(words.tolist(), bits, min_words=64)) == words.tolist()


def test_a_loop_nest_table_shrinks() -> None:
    """Positions of 4-element tiles read row by row from 64x64 buffer tiles: blocks of the
    table repeat up to an offset, so the layout needs under 2% of the flat bits."""
    i = np.arange(1 << 16)
    words = ((i % 4) * 64 + (i // 4) % 64 + (i // 256) % 16 * 4 * 64) % 4096
    layout = encode(words.tolist(), 12, min_words=64)
    assert isinstance(layout, Blocked) and layout.offsets is not None
    assert expand(layout) == words.tolist()
    assert storage_bits(layout) < 0.02 * len(words) * 12


def test_repeating_table_needs_no_offsets() -> None:
    words = [3, 1, 4, 1, 5, 9, 2, 6] * 40
    layout = encode(words, 4, min_words=64)
    assert isinstance(layout, Blocked) and layout.offsets is None and layout.classes is None
    assert list(layout.patterns) == [3, 1, 4, 1, 5, 9, 2, 6]
    assert expand(layout) == words


def test_constant_table_is_a_constant() -> None:
    assert encode([7] * 1000, 3) == Const(7, 1000, 3)
    assert storage_bits(Const(7, 1000, 3)) == 0


def test_short_or_random_tables_stay_flat() -> None:
    short = list(range(MIN_WORDS - 1))
    assert encode(short, 6) == Flat(tuple(short), 6)
    noise = np.random.default_rng(0).integers(0, 1 << 16, 4096).tolist()
    assert encode(noise, 16, min_words=64) == Flat(tuple(noise), 16)


def test_words_wider_than_64_bits() -> None:
    """Packed per-PE words can be hundreds of bits wide: blocks repeat as they are (no
    offsets), and the words come back exactly."""
    words = [(i % 3) << 200 | (i % 5) << 7 | 1 for i in range(900)]
    layout = encode(words, 210, min_words=64)
    assert isinstance(layout, Blocked) and layout.offsets is None
    assert expand(layout) == words
    assert storage_bits(layout) < len(words) * 210 / 2


@pytest.mark.parametrize("levels", [0, 1, 2])
def test_levels_bound_the_depth(levels: int) -> None:
    i = np.arange(1 << 14)
    words = ((i % 4) * 9 + (i // 4) % 16 * 100 + (i // 64) * 3) % (1 << 14)
    layout = encode(words.tolist(), 14, levels, min_words=64)
    assert _depth(layout) <= levels and expand(layout) == words.tolist()
    if levels == 0:
        assert isinstance(layout, Flat)


@pytest.mark.parametrize("min_block", [2, 8, 64])
def test_blocks_hold_the_window(min_block: int) -> None:
    """A ROM read through a window of ``min_block`` words gets blocks at least that long
    (its classes and offsets may use any block size)."""
    i = np.arange(1 << 13)
    words = ((i % 2) * 5 + (i // 2) % 8 * 100 + (i // 16) * 7) % (1 << 12)
    layout = encode(words.tolist(), 12, min_words=64, min_block=min_block)
    assert isinstance(layout, Blocked) and (1 << layout.k) >= min_block
    assert expand(layout) == words.tolist()


def test_tables_of_classes_and_offsets_run_three_entries_past_the_blocks() -> None:
    """A window reads the classes and offsets three blocks ahead of its pointer: those tables
    hold three more entries than there are blocks, so that read never leaves them."""
    i = np.arange(1 << 12)
    layout = encode(((i % 4) * 3 + (i // 4) * 11 % 97).tolist(), 12, levels=1, min_words=64)
    assert isinstance(layout, Blocked)
    blocks = -(-layout.length // (1 << layout.k))
    for sub in (layout.classes, layout.offsets):
        if sub is not None:
            assert len(expand(sub)) == blocks + 3
