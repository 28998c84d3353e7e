"""Each term of the model on a design small enough to compute by hand.

GEMM M=4 N=2 K=2 (int8 inputs, int32 outputs) on a 2x2 weight-stationary array:
DRAM -> GLB (loop M=4) -> spatial K=2 on Y, N=2 on X. Energies are set to round
numbers so every product below can be checked with pencil and paper.
"""

from __future__ import annotations

import pytest

from sasim.arch import DRAM, PE, Architecture, Buffer, PEArray
from sasim.design import lower
from sasim.mapping.spec import Mapping
from sasim.model import evaluate
from sasim.sim import simulate
from sasim.workload import gemm


def _design(words_per_cycle: int = 1, banks: int = 1, semantics: str = "buffet"):
    arch = Architecture(
        dram=DRAM(latency=10, words_per_cycle=words_per_cycle, word_bits=8, read_pj_per_bit=2.0, write_pj_per_bit=3.0),
        buffers=(Buffer(name="GLB", capacity=1024, banks=banks, word_bits=8, read_pj_per_bit=0.5,
                        write_pj_per_bit=0.25, semantics=semantics),),
        array=PEArray(rows=2, cols=2, hop_pj_per_bit=0.1),
        pe=PE(register_pj_per_bit=0.01, mac_pj=1.0, mac_latency=2),
    )
    mapping = Mapping.model_validate({"temporal": {"GLB": "M=4"}, "spatial": {"Y": "K=2", "X": "N=2"}})
    return lower(gemm(4, 2, 2), arch, mapping)


def test_dataflow_is_weight_stationary() -> None:
    d = _design()
    assert {t: e.name for t, e in d.access.items()} == {"I": "systolic-x", "W": "stationary", "O": "chain-y"}
    assert d.stationary == "W"


def test_access_counts_by_hand() -> None:
    r = evaluate(_design())
    got = {lvl: {t: a.to_dict() for t, a in ts.items()} for lvl, ts in r.accesses.items()}
    z = {"reads": 0, "fills": 0, "updates": 0, "drains": 0}
    assert got == {
        # I (8 words) and W (4) are read once; O (8) is written once, never read back.
        "DRAM": {"I": {**z, "reads": 8}, "W": {**z, "reads": 4}, "O": {**z, "updates": 8}},
        # I: 4 steps x 2 distinct words (one per row, passed along X); W: once, 4 words.
        # O: 4 steps x 2 reduced sums arrive; the whole 8-word tile drains once; never revisited.
        "GLB": {"I": {**z, "reads": 8, "fills": 8}, "W": {**z, "reads": 4, "fills": 4},
                "O": {**z, "updates": 8, "drains": 8}},
        # every PE: 4 input words, 1 weight, 4 partial sums out; one read / update per MAC.
        "PE": {"I": {**z, "reads": 16, "fills": 16}, "W": {**z, "reads": 16, "fills": 4},
               "O": {**z, "updates": 16, "drains": 16}},
    }
    assert r.macs == 16
    assert r.dram_words == 20
    assert r.dram_bits == 8 * 8 + 4 * 8 + 8 * 32


def test_energy_terms_by_hand() -> None:
    r = evaluate(_design())
    assert r.energy_breakdown_pj == pytest.approx({
        "DRAM": 8 * 8 * 2.0 + 4 * 8 * 2.0 + 8 * 32 * 3.0,  # 960
        "GLB": (8 * 8 * 0.5 + 8 * 8 * 0.25) + (4 * 8 * 0.5 + 4 * 8 * 0.25) + (8 * 32 * 0.25 + 8 * 32 * 0.5),  # 264
        "PE": (16 + 16) * 8 * 0.01 + (16 + 4) * 8 * 0.01 + (16 + 16) * 32 * 0.01,  # 14.4
        "network": 16 * 8 * 0.1 + 4 * 8 * 0.1 + 16 * 32 * 0.1,  # 67.2
        "MAC": 16 * 1.0,
    })
    assert r.energy_pj == pytest.approx(960 + 264 + 14.4 + 67.2 + 16)


def test_latency_terms_by_hand() -> None:
    lat = evaluate(_design()).latency
    assert (lat.steps, lat.folds) == (4, 1)
    # skew σ = max(cols-1 for I systolic-x, rows-1 for O chain-y) = 1; MAC depth d = 2; rows = 2
    assert lat.fold_overhead == 1 + 2 + 2 - 1  # at later fold boundaries (there are none)
    assert lat.compute == 4 + 0 * 4 + 2 + 1 + 2  # steps, first preload, last result through σ + d
    # prologue: latency 10 + 1, then I's GLB tile (8 x 8 bits at 8 bits/cycle) and W's (4 x 8),
    # each passing one buffer
    assert lat.startup == 10 + 1 + (8 + 1) + (4 + 1)
    # epilogue: 1 + one output buffer + O's GLB tile (8 x 32 bits) written at 8 bits/cycle
    assert lat.drain == 1 + 1 + 32
    assert lat.dram_bound == 10 + (8 * 8 + 4 * 8 + 8 * 32) // 8  # latency + 44
    # GLB: one 8-bit port per direction per region, one element per cycle: I reads 8 / fills 8,
    # W 4 / 4, O drains 8 / updates 8
    assert lat.buffer_bounds == {"GLB": 8}
    assert lat.bound_by == "compute"


def test_cycles_and_utilization_by_hand() -> None:
    r = evaluate(_design())
    assert r.cycles == 25 + 9 + 34
    assert r.utilization == pytest.approx(16 / (68 * 4))


def test_cycles_with_ample_bandwidth() -> None:
    r = evaluate(_design(words_per_cycle=64, banks=64))
    # 512 bits per cycle: every first tile takes one cycle, the last output tile one
    assert (r.latency.startup, r.latency.drain) == (10 + 1 + 2 + 2, 1 + 1 + 1)
    assert r.cycles == 15 + 9 + 3


def test_dram_bound_when_bandwidth_is_scarce() -> None:
    r = evaluate(_design(words_per_cycle=1, banks=64))
    assert r.latency.dram_bound == 54
    assert r.cycles == max(25 + 9 + 34, 54)


def _two_output_tiles(capacity: int):
    """The same array with M=4 split 2 (DRAM) x 2 (GLB): two output tiles of 4 words."""
    arch = Architecture(
        dram=DRAM(latency=10, words_per_cycle=1, word_bits=8),
        buffers=(Buffer(name="GLB", capacity=capacity, banks=1, word_bits=8),),
        array=PEArray(rows=2, cols=2),
        pe=PE(mac_latency=2),
    )
    mapping = Mapping.model_validate({"temporal": {"DRAM": "M=2", "GLB": "M=2"}, "spatial": {"Y": "K=2", "X": "N=2"}})
    return lower(gemm(4, 2, 2), arch, mapping)


def test_drain_counts_every_write_back_when_the_output_region_holds_one_tile() -> None:
    # GLB tiles: I and W 4 words of 8 bits, O 4 words of 32 bits (192 bits in all). 36 bytes
    # give O 36 x 8 x 128 / 192 bits = 6 words: one tile, so the array cannot start the second
    # output tile before the first is written back, and the drain is both write-backs,
    # 1 + 1 + 8 x 32 / 8 = 34 cycles. With 1024 bytes it is the last one: 1 + 1 + 4 x 32 / 8.
    small, large = evaluate(_two_output_tiles(36)), evaluate(_two_output_tiles(1024))
    assert (small.latency.drain, large.latency.drain) == (34, 18)
    assert (small.latency.startup, small.latency.compute) == (21, 9)
    assert small.cycles == 21 + 9 + 34 and large.cycles == max(21 + 9 + 18, small.latency.dram_bound)
    # the simulator needs the term: it counts more than the estimate without it, and no fewer
    # than the estimate with it
    simulated = simulate(_two_output_tiles(36), seed=0).cycles
    assert max(21 + 9 + 18, small.latency.dram_bound) < simulated
    assert small.cycles <= simulated


def test_double_buffer_moves_the_same_words() -> None:
    assert evaluate(_design(semantics="double_buffer")).accesses == evaluate(_design()).accesses


def test_batch_validity_agrees_with_lowering() -> None:
    """Every factor row evaluate_batch calls valid lowers, and every invalid one is refused."""
    import itertools

    import numpy as np

    from sasim.errors import SasimError
    from sasim.model import evaluate_batch

    design = _design()
    js = [j for j, lp in enumerate(design.loops)]
    rows = []
    for m, k, n in itertools.product(range(1, 6), range(1, 4), range(1, 4)):
        row = design.factors.copy()
        row[js[0]], row[js[1]], row[js[2]] = m, k, n
        rows.append(row)
    valid = evaluate_batch(design, np.array(rows)).valid
    for row, ok in zip(rows, valid):
        spec = {"temporal": {"GLB": f"M={row[0]}"}, "spatial": {"Y": f"K={row[1]}", "X": f"N={row[2]}"}}
        try:
            lower(design.workload, design.architecture, Mapping.model_validate(spec))
            lowered = True
        except SasimError:
            lowered = False
        assert lowered == bool(ok), (row, ok)


@pytest.mark.parametrize("name", ["gemm_ws", "conv_multicast", "eyeriss_conv", "gemmini_gemm", "depthwise"])
def test_model_sizes_buffer_regions_as_the_simulator(name: str) -> None:
    from sasim.model.latency import _region_elements
    from sasim.model.nest import Nest
    from sasim.sim.machine import regions
    from sasim.spec import load_spec

    design = load_spec(name, {}).design()
    nest = Nest.of(design)
    specs = regions(design)
    assert specs
    for r in specs:
        assert int(_region_elements(nest, r.level, r.tensor)[0]) == r.capacity
