"""The CI matrix: generated RTL equals the simulator (values, cycles, every counter).

Covers the WS, OS and IS dataflows and multicast access entries; arrays 1x1, 2x3,
4x4 and 8x8; GEMM and conv2d (stride 2, dilation 2); partial edge tiles; int8 and
int16; a DRAM bandwidth low enough to stall; buffer read latency above one, a deeper
MAC pipeline and double buffering; the output region in banked RAM and, where the
lanes it accumulates in one cycle clash in every bank count, in flip-flops; sequencer
tables stored as blocks (sasim.gen.rom), two levels deep, read through windows. Each case
also checks that it exercises what its name says, so a change to the presets cannot
silently empty the matrix.
"""

from __future__ import annotations

import pytest
from rtl_helpers import assert_equal_to_simulator, design_of

from sasim.gen import build
from sasim.sim import simulate
from sasim.verify import verify

SMALL = "buffer_size=4KiB"
CASES = {
    "ws-2x3-gemm-partial": ("gemm:M=8,N=7,K=5", f"ws_systolic:rows=2,cols=3,{SMALL}", "ws"),
    "os-2x3-gemm-partial": ("gemm:M=8,N=7,K=5", f"os_systolic:rows=2,cols=3,{SMALL}", "os"),
    "is-2x3-gemm-multicast": ("gemm:M=8,N=7,K=5", f"multicast:rows=2,cols=3,{SMALL}", "is"),
    "ws-1x1-gemm": ("gemm:M=5,N=4,K=3", "ws_systolic:rows=1,cols=1,buffer_size=1KiB", "ws"),
    "ws-4x4-gemm": ("gemm:M=10,N=9,K=7", f"ws_systolic:rows=4,cols=4,{SMALL}", "ws"),
    "os-4x4-gemm": ("gemm:M=10,N=9,K=7", f"os_systolic:rows=4,cols=4,{SMALL}", "os"),
    "ws-8x8-gemm": ("gemm:M=16,N=16,K=16", "ws_systolic:rows=8,cols=8,buffer_size=8KiB", "ws"),
    "os-8x8-gemm-int16": ("gemm:M=12,N=16,K=9,bits=16", "os_systolic:rows=8,cols=8,buffer_size=8KiB", "os"),
    "os-4x4-conv-s2d2-multicast": (
        "conv2d:N=1,C=2,K=3,H=9,W=9,R=3,S=3,stride=2,dilation=2", "multicast:rows=4,cols=4,buffer_size=8KiB", "os"),
    "ws-4x4-conv-s2d2": (
        "conv2d:N=1,C=2,K=3,H=9,W=9,R=3,S=3,stride=2,dilation=2", "ws_systolic:rows=4,cols=4,buffer_size=8KiB", "ws"),
    "ws-2x3-int16-low-bandwidth": (
        "gemm:M=9,N=7,K=6,bits=16", f"ws_systolic:rows=2,cols=3,{SMALL},dram_words_per_cycle=1,dram_word_bits=16",
        "ws"),
    "ws-4x4-latency-and-depth": (
        "gemm:M=10,N=9,K=7", f"ws_systolic:rows=4,cols=4,{SMALL},mac_latency=3,dram_latency=7", "ws"),
    # the products each element takes summed into a register, from the positions and validity
    # the issue cycle read (a third datapath stage, with partial tiles)
    "os-2x3-gemm-partial-mac-latency-3": ("gemm:M=8,N=7,K=5", f"os_systolic:rows=2,cols=3,{SMALL},mac_latency=3", "os"),
    # the banks read a cycle after the move, at addresses registered off the engine's decision
    "ws-4x4-gemm-read-latency-2": (
        "gemm:M=10,N=9,K=7", f"ws_systolic:rows=4,cols=4,{SMALL},buffer_read_latency=2", "ws"),
    "ws-2x3-int16-low-bandwidth-read-latency-2": (  # weights read through a port per lane
        "gemm:M=9,N=7,K=6,bits=16",
        f"ws_systolic:rows=2,cols=3,{SMALL},dram_words_per_cycle=1,dram_word_bits=16,buffer_read_latency=2", "ws"),
    "os-4x4-gemm-read-latency-3": (
        "gemm:M=10,N=9,K=7", f"os_systolic:rows=4,cols=4,{SMALL},buffer_read_latency=3", "os"),
    # the banks' data registered before the bank select: at read latency 3 once (block RAM
    # reads at the rows found in the cycle, with a port per lane; LUT RAM at registered
    # rows), at 5 twice (registered rows, read into a data register; in LUT RAM and in
    # block RAM with a port per bank), then one more stage
    "ws-2x3-gemm-read-latency-5": (
        "gemm:M=9,N=10,K=11", f"ws_systolic:rows=2,cols=3,{SMALL},buffer_banks=4,buffer_read_latency=5", "ws"),
    "ws-2x3-gemm-block-ram-read-latency-5": (
        "gemm:M=9,N=10,K=11", "ws_systolic:rows=2,cols=3,buffer_size=32KiB,buffer_banks=4,buffer_read_latency=5",
        "ws"),
    "os-4x4-narrow-block-ram-read-latency-3": (
        "gemm:M=8,N=8,K=16",
        "os_systolic:rows=4,cols=4,buffer_size=16KiB,buffer_banks=1,buffer_word_bits=32,dram_words_per_cycle=1,"
        "buffer_read_latency=3", "os"),
    # M = 2: the output region reads partial sums while their last update is still pending
    # and just after it lands, so its two forwards matter (each case fails with either one
    # disabled in the generator)
    "ws-1x1-gemm-same-output-every-2-steps": ("gemm:M=2,N=1,K=16", "ws_systolic:rows=1,cols=1,buffer_size=1KiB", "ws"),
    "ws-1x4-gemm-same-output-every-2-steps": ("gemm:M=2,N=4,K=16", "ws_systolic:rows=1,cols=4,buffer_size=1KiB", "ws"),
    # the output engine waits for room in the buffer on a complete drain tile, then takes
    # the elements it held (fails if it reads ahead past them instead)
    "os-4x4-low-bandwidth-output-full": (
        "gemm:M=16,N=16,K=2", "os_systolic:rows=4,cols=4,buffer_size=1KiB,dram_words_per_cycle=1,dram_word_bits=8",
        "os"),
    # drain tiles of 16 elements taken 1 and 4 at a time (the slots line up with 4 lanes): the
    # output engine's read-ahead offsets follow several moves per tile and wrap over its slots
    "os-4x4-gemm-output-moves-1": (
        "gemm:M=8,N=8,K=4", "os_systolic:rows=4,cols=4,buffer_size=2KiB,buffer_banks=1,buffer_word_bits=32", "os"),
    "os-4x4-gemm-output-moves-4": (
        "gemm:M=8,N=8,K=4", "os_systolic:rows=4,cols=4,buffer_size=2KiB,buffer_banks=4,buffer_word_bits=32", "os"),
    "os-2x2-gemm-output-in-registers": ("gemm:M=4,N=32,K=3", f"os_systolic:rows=2,cols=2,{SMALL}", "os"),
    # workloads long enough that the sequencer tables are stored as blocks, two levels deep
    "ws-2x2-gemm-blocked-roms": ("gemm:M=32,N=32,K=32", "ws_systolic:rows=2,cols=2,buffer_size=4KiB", "ws"),
    "os-2x2-gemm-blocked-roms": ("gemm:M=32,N=32,K=32", "os_systolic:rows=2,cols=2,buffer_size=4KiB", "os"),
    "ws-2x3-conv-blocked-roms-output-in-registers": (
        "conv2d:N=1,C=4,K=6,H=18,W=18,R=3,S=3", "ws_systolic:rows=2,cols=3,buffer_size=8KiB", "ws"),
    "depthwise-3x4-multicast": ("depthwise_conv2d:C=4,H=6,W=6,R=3,S=3", f"multicast:rows=3,cols=4,{SMALL}", "ws"),
}


def _partial(design) -> bool:  # type: ignore[no-untyped-def]
    cover = {d: 1 for d in design.workload.dims}
    for lp in design.loops:
        cover[lp.dim] *= lp.factor
    return any(cover[d] != size for d, size in design.workload.dims.items())


@pytest.mark.parametrize("name", sorted(CASES))
def test_rtl_equals_simulator(name: str) -> None:
    design = design_of(*CASES[name])
    rows, cols = design.architecture.array.rows, design.architecture.array.cols
    assert f"-{rows}x{cols}-" in name
    if "partial" in name:
        assert _partial(design), "the case should have partial edge tiles"
    if "int16" in name:
        assert design.bits(design.workload.operands[0]) == 16
    if "low-bandwidth" in name:
        sim = simulate(design)
        assert sim.dram_queue_wait > 0 and sim.stalls, "the case should stall on DRAM bandwidth"
        if "output-full" in name:
            assert sim.stalls.get("output full", 0) > 0, "the case should stall on a full output path"
    banks = {m.name: m.banks for m in build(design).memories if m.kind == "buffer"}
    if "same-output-every-2-steps" in name:  # one weight at a time serves the two rows of I
        assert design.workload.dims["M"] == 2 and rows == 1
    if "output-in-registers" in name:  # the output's accumulation lanes clash in every bank count tried
        assert banks["O_omem"] == 1 and "in flip-flops" in build(design).verilog
    else:
        assert banks["O_omem"] > 1, banks
    if "blocked-roms" in name:  # tables of classes and offsets stored as blocks; positions read through windows
        assert any(m.name.endswith(("_c_p", "_o_p")) for m in build(design).memories if m.kind == "rom")
        # (an input engine's window crosses into its next block by its one-hot move)
        assert "I_epos_w0_cross" in build(design).verilog
    if "read-latency" in name:
        latency = int(name.rsplit("-", 1)[1])
        assert design.architecture.buffers[0].read_latency == latency
        text = build(design).verilog
        for p in "IW":  # each input engine moves several elements a cycle, through the pipeline
            assert f"{p}_pn [1:{latency - 1}]" in text and f"{p}_bdata [0:0]" not in text, p
        if "low-bandwidth" in name:
            assert "W_ra;" in text, "the weight region should have a read port per lane"
        if latency >= 3:  # the banks' data is registered before a lane selects its bank
            assert "I_brq0" in text and "W_brq0" in text
            # at 3, block RAM reads at the rows found in the cycle, LUT RAM at registered
            # ones; from 4, both read at registered rows into a data register
            registered_rows = "I_rrow0" in text or "I_ra;" in text
            assert ("I_brr0_0" in text) == ("block-ram" in name or latency >= 4), "block RAM banks expected"
            assert registered_rows == ("block-ram" not in name or latency >= 4)
            assert ("I_rbq2" in text) == (latency >= 4)
            if "narrow" in name:
                assert "I_brq1" in text, "the input region should have a read port per lane"
    if "output-moves" in name:  # the output engine takes a drain tile in several moves of bw elements
        bw = int(name.rsplit("-", 1)[1])
        text = build(design).verilog
        assert f"wire O_uend = (O_urem <= 5'd{bw});" in text
        # (lane i reads {offset, i}: at the engine's offset, or the read-ahead's address)
        aligned = "{O_uat, " in text or "{O_ura, " in text
        assert aligned == (bw > 1), "lanes line up with the slots when bw > 1"
    if "mac-latency-3" in name:
        text = build(design).verilog
        assert "a_red0 <= " in text and "a_pw_d2" in text and "a_v_d2" in text and "a_pw_d3" not in text
    if "multicast" in name:
        assert any(str(e).startswith("multicast") for e in design.access.values()), design.access
    assert_equal_to_simulator(verify(design, seed=3))


def test_rtl_catches_a_wrong_simulator_expectation(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison can fail: if the simulator said one cycle more, verify reports it."""
    import sasim.verify.run as run_mod

    real = run_mod.simulate

    def off_by_one(design, tensors):  # type: ignore[no-untyped-def]
        import dataclasses

        result = real(design, tensors)
        return dataclasses.replace(result, cycles=result.cycles + 1)

    monkeypatch.setattr(run_mod, "simulate", off_by_one)
    result = verify(design_of(*CASES["ws-1x1-gemm"]))
    assert result.rtl_cycles == result.sim_cycles - 1
    assert not result.passed



@pytest.mark.parametrize("name", ["ws-8x8-gemm", "os-2x3-gemm-partial-mac-latency-3"])
@pytest.mark.parametrize("b_value", [-128, 127], ids=["largest-products", "smallest-products"])
def test_summed_products_are_exact_at_the_extremes(name: str, b_value: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where PEs share an output element, the datapath sums their products at the width the
    sum needs (16 bits + log2 of the count for int8), which random operands never fill:
    every product here is the largest (-128 x -128) or the smallest (-128 x 127) there is."""
    import numpy as np

    from sasim.workload.workload import Workload

    design = design_of(*CASES[name])
    assert "a_red0 <= " in build(design).verilog, "the case should sum the products an element takes"
    a_t, b_t = design.workload.operands

    def extreme(self: Workload, seed: int = 0) -> dict[str, np.ndarray]:
        return {a_t: np.full(self.shape(a_t), -128, dtype=np.int64),
                b_t: np.full(self.shape(b_t), b_value, dtype=np.int64)}

    monkeypatch.setattr(Workload, "random_tensors", extreme)
    assert_equal_to_simulator(verify(design))


def test_verify_table_limit() -> None:
    from sasim.errors import GenerationError
    from sasim.gen.tables import build_tables

    design = design_of(*CASES["ws-1x1-gemm"])
    need = build_tables(design).entries
    with pytest.raises(GenerationError, match=rf"need {need:,} entries \(limit {need - 1:,}\)"):
        verify(design, table_limit=need - 1)
    assert verify(design, table_limit=need).passed


def test_the_testbench_answers_dram_with_the_tiles_verify_hands_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The testbench does not walk the loop nest itself: it moves the tiles verify computed,
    so reversing the input's tile order makes the RTL read the wrong values."""
    import sasim.verify.run as run_mod

    real = run_mod._dram_tiles

    def reversed_input(design, program):  # type: ignore[no-untyped-def]
        tiles = real(design, program)
        first = design.workload.operands[0]
        assert len(tiles[first]) > 1 and len({len(t) for t in tiles[first]}) == 1
        return {**tiles, first: tiles[first][::-1]}

    arch = "ws_systolic:rows=2,cols=3,buffer_size=128,buffer_banks=1,buffer_word_bits=32"  # 4 tiles of I
    design = design_of("gemm:M=8,N=6,K=4", arch, "ws")
    assert verify(design).passed
    monkeypatch.setattr(run_mod, "_dram_tiles", reversed_input)
    result = verify(design)
    assert result.cycles_match and not result.values_match and not result.passed


def test_a_run_past_the_cycle_limit_stops(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The testbench gives up HANG_MARGIN cycles after the simulator's count, also while it
    sleeps through cycles where the DRAM is idle: an RTL that is not done by then fails."""
    import dataclasses
    import json

    import sasim.verify.run as run_mod
    from sasim.verify.bench import HANG_MARGIN

    real = run_mod.simulate
    monkeypatch.setattr(run_mod, "simulate", lambda d, t: dataclasses.replace(real(d, t), cycles=10))
    design = design_of("gemm:M=32,N=32,K=32", "ws_systolic:rows=2,cols=2,buffer_size=4KiB", "ws")
    assert real(design, design.workload.random_tensors(seed=0)).cycles > 10 + HANG_MARGIN
    result = verify(design, work_dir=tmp_path)
    assert result.rtl_cycles is None and not result.passed
    seen = json.loads((tmp_path / "result.json").read_text())
    assert seen["simulated_cycles"] == 10 + HANG_MARGIN + 1
    assert seen["visited_cycles"] < seen["simulated_cycles"]  # it slept through idle cycles
