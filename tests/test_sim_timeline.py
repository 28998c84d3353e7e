"""Whole timelines, derived by hand from docs/timing.md, asserted in one comparison."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sasim.arch import DRAM, PE, Architecture, PEArray
from sasim.design import lower
from sasim.mapping.spec import Mapping
from sasim.sim.dram import DramChannel, DramOp
from sasim.sim.golden import run_golden
from sasim.sim.region import Region, peak_occupancy
from sasim.workload import gemm


def test_dram_channel_timeline() -> None:
    ch = DramChannel(latency=3, bits_per_cycle=16)
    grants = [
        ch.request(DramOp.READ, 0, 4, 8),  # 2 elements per cycle: starts at 3, beats 3, 4
        ch.request(DramOp.READ, 0, 1, 8),  # queued behind: starts when the channel frees, 5
        ch.request(DramOp.WRITE, 1, 2, 32),  # 2 cycles per element: 6..9
        ch.request(DramOp.READ, 20, 3, 16),  # idle channel: 20 + 3
    ]
    assert [(g.op.value, g.issue, g.start, g.cycles().tolist(), g.end) for g in grants] == [
        ("read", 0, 3, [3, 3, 4, 4], 5),
        ("read", 0, 5, [5], 6),
        ("write", 1, 6, [7, 9], 10),
        ("read", 20, 23, [23, 24, 25], 26),
    ]
    assert ch.busy_cycles == 2 + 1 + 4 + 3
    assert ch.latency_cycles == 3 + 3 + 0 + 3  # reads wait the first-word latency, writes do not
    assert ch.queue_cycles == 0 + (5 - 3) + (6 - 1) + 0  # the second read and the write queue behind


def test_dram_requests_must_come_in_order_wrong() -> None:
    ch = DramChannel(latency=1, bits_per_cycle=8)
    ch.request(DramOp.READ, 5, 1, 8)
    with pytest.raises(ValueError) as info:
        ch.request(DramOp.READ, 4, 1, 8)
    assert str(info.value) == "DRAM requests must be issued in order: cycle 4 after 5"


def test_region_credits_and_readability() -> None:
    buffet = Region("GLB", "I", capacity=4)
    tile = buffet.open(0, np.array([3, 5, 7]), 9)
    tile.fill[:] = [10, 11, 12]
    assert buffet.readable(tile, 12).tolist() == [True, True, False]  # filled in 12: visible from 13
    assert not buffet.has_room(12, 2)  # 3 reserved + 2 > 4
    buffet.shrink(20)
    assert not buffet.has_room(20, 4)  # a shrink frees space from the next cycle
    assert buffet.has_room(21, 4)
    assert buffet.peak == 3
    double = Region("GLB", "I", capacity=8, double=True)
    tile = double.open(0, np.array([1, 2]), 9)
    tile.fill[:] = [10, 11]
    assert double.readable(tile, 11).tolist() == [False, False]  # whole tile or nothing
    assert double.readable(tile, 12).tolist() == [True, True]


def test_tiny_output_stationary_run_timeline() -> None:
    """GEMM M=2 N=1 K=2 on one PE, no buffers; DRAM latency 3, 8 bits/cycle.

    Stream loop K, so O is stationary: folds at steps 0 and 2, each with a 1-cycle
    preload. Each input element is its own DRAM request (I before W in a cycle); the
    edge buffers hold latency + 2 = 5 one-element tiles, so all four of each are
    requested at once, one per cycle: I0..I3 issued 0..3 arrive 3, 5, 7, 9 and W0..W3
    arrive 4, 6, 8, 10 (the channel moves one 8-bit element per cycle, in request
    order). Step 0 issues at 5 (W0 readable at 5), step 1 at 7 (W1 at 7). Fold 1:
    drained at 7+0+1 = 8, preload 8, so step 2 at 9; step 3 at 11 (W3 readable at 11).
    O0 (complete at 8) is written from cycle 9, but the channel is free only at 11;
    four cycles per 32-bit element: it moves at 14. O1 (complete at 12) is written
    from 15: moves at 18. The run ends at 19.
    """
    arch = Architecture(
        dram=DRAM(latency=3, words_per_cycle=1, word_bits=8),
        array=PEArray(rows=1, cols=1),
        pe=PE(mac_latency=1),
    )
    design = lower(gemm(2, 1, 2), arch, Mapping.model_validate({"temporal": {"DRAM": "M=2 K=2"}}))
    assert design.stationary == "O"
    tensors = design.workload.random_tensors(seed=3)
    run = run_golden(design, tensors)
    assert run.step_cycles.tolist() == [5, 7, 9, 11]
    assert run.cycles == 19
    # preload: cycles 0 and 8; waiting for I: 1-3; for W: 4, 6 and 10
    assert run.array_stalls == {"preload": 2, "input I": 3, "input W": 3}
    assert np.array_equal(run.output, design.workload.reference(tensors))


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 9), st.integers(0, 6)), min_size=1, max_size=30),
       st.randoms())
def test_peak_occupancy_counts_what_is_reserved_at_each_opening(tiles: list[tuple[int, int, int]],
                                                               rnd: random.Random) -> None:
    """Against a direct count: at each opening cycle, every element reserved up to then
    minus those shrunk before it; shrinks given in order, or shuffled."""
    opens, sizes = [], []
    cycle = 0
    for gap, n, _ in tiles:
        cycle += gap  # several tiles may open in one cycle
        opens.append(cycle)
        sizes.append(n)
    shrinks = [(o + life, n) for o, (_, n, life) in zip(opens, tiles)]
    want = max(sum(n for o, n in zip(opens, sizes) if o <= c) - sum(n for s, n in shrinks if s < c) for c in opens)
    for order in (sorted(shrinks), rnd.sample(shrinks, len(shrinks))):
        assert peak_occupancy(opens, sizes, [s for s, _ in order], [n for _, n in order]) == want
