"""The fast simulator equals the golden one: cycles, every step, every counter, values."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import designs
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sasim.design.design import Design
from sasim.model import evaluate
from sasim.sim import fast
from sasim.sim.fast import run_fast
from sasim.sim.golden import run_golden
from sasim.sim.maxplus import stream_moves
from sasim.spec import load_spec


def _same(design: Design, seed: int) -> None:
    tensors = design.workload.random_tensors(seed=seed)
    golden = run_golden(design, tensors)
    fast = run_fast(design, tensors)
    assert fast.cycles == golden.cycles
    assert fast.step_cycles.tolist() == golden.step_cycles.tolist()
    assert fast.array_stalls == golden.array_stalls
    assert fast.counts == golden.counts
    assert fast.dram_busy == golden.dram_busy
    assert (fast.dram_latency_wait, fast.dram_queue_wait) == (golden.dram_latency_wait, golden.dram_queue_wait)
    assert fast.peak_occupancy == golden.peak_occupancy
    assert np.array_equal(fast.output, golden.output)
    assert np.array_equal(fast.output, design.workload.reference(tensors))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_fast_equals_golden_on_random_designs(design: Design) -> None:
    _same(design, seed=11)


@pytest.mark.parametrize("name", ["gemm_inline", "gemm_ws", "gemm_os", "conv_multicast", "depthwise"])
def test_fast_equals_golden_on_examples(name: str) -> None:
    _same(load_spec(name, {}).design(), seed=5)


@pytest.mark.parametrize("name", ["eyeriss_conv", "gemmini_gemm"])
def test_fast_values_and_counts_on_larger_examples(name: str) -> None:
    design = load_spec(name, {}).design()
    tensors = design.workload.random_tensors(seed=2)
    run = run_fast(design, tensors)
    assert np.array_equal(run.output, design.workload.reference(tensors))
    model = evaluate(design)
    assert run.counts == {lvl: {t: a.to_dict() for t, a in ts.items()} for lvl, ts in model.accesses.items()}
    assert run.array_busy == model.latency.steps


def test_banked_moves_wait_for_a_busy_bank() -> None:
    # (bank, word) of four readable elements; one port per bank, up to four moves per cycle.
    # Cycle 0: element 0 takes bank 0; element 1 needs another word of bank 0: cut short.
    # Cycle 1: elements 1 and 2 (bank 1); element 3 is word 0 of bank 0, busy with word 1: cut.
    # Cycle 2: element 3.
    from sasim.sim.maxplus import banked_moves

    moves, conflicts = banked_moves(np.zeros(4, dtype=np.int64), 4, 0, np.array([0, 0, 1, 0]),
                                    np.array([0, 1, 2, 0]), 1)
    assert (moves.tolist(), conflicts) == ([0, 1, 1, 2], 2)
    # two ports: the same four elements in one cycle
    moves, conflicts = banked_moves(np.zeros(4, dtype=np.int64), 4, 0, np.array([0, 0, 1, 0]),
                                    np.array([0, 1, 2, 0]), 2)
    assert (moves.tolist(), conflicts) == ([0, 0, 0, 0], 0)


def test_stream_moves_one_per_cycle_after_start() -> None:
    # four elements ready at 0, 0, 5, 5; two per cycle; engine starts at 2
    assert stream_moves(np.array([0, 0, 5, 5]), 2, 2).tolist() == [2, 2, 5, 5]
    assert stream_moves(np.array([0, 0, 0, 0, 0]), 2, 0).tolist() == [0, 0, 1, 1, 2]
    assert stream_moves(np.array([3, 1, 1]), 1, 0).tolist() == [3, 4, 5]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_model_equals_simulator_when_nothing_stalls(design: Design) -> None:
    """Once the array has started, if it never waits for data or output room, the model's
    compute term is its span exactly (docs/model.md, docs/timing.md)."""
    from sasim.sim import simulate

    result = simulate(design, seed=4)
    if result.data_stalls == 0:
        assert result.model.latency.compute == result.array_span
    else:
        assert result.model.latency.compute < result.array_span


def test_feeders_advance_before_dram_requests_are_taken() -> None:
    """A ResNet-50 layer where the array waits for output room while the input feeders could
    run ahead: the shrinks the feeders publish must precede the next DRAM request (this once
    raised "DRAM requests must be issued in order")."""
    from sasim.arch.presets import multicast
    from sasim.design import lower
    from sasim.mapping.presets import build_mapping
    from sasim.workload import conv2d

    arch = multicast(rows=128, cols=128, dram_latency=100, dram_words_per_cycle=16, buffer_size="512KiB",
                     buffer_banks=32)
    wl = conv2d(K=128, C=256, H=56, W=56, R=1, S=1)
    design = lower(wl, arch, build_mapping("ws", wl, arch))
    tensors = wl.random_tensors(seed=0)
    run = run_fast(design, tensors)
    assert np.array_equal(run.output, wl.reference(tensors))
    model = evaluate(design)
    assert run.counts == {lvl: {t: a.to_dict() for t, a in ts.items()} for lvl, ts in model.accesses.items()}


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_fast_on_medium_designs_values_and_counts(data: st.DataObject) -> None:
    """Designs larger than the golden mode takes (buffers that stall, back-pressure, DRAM
    contention): the run completes, the outputs equal NumPy and the counts the model's."""
    from sasim.arch.presets import multicast, os_systolic, ws_systolic
    from sasim.design import lower
    from sasim.errors import SasimError
    from sasim.mapping.presets import build_mapping
    from sasim.workload import conv2d, gemm

    size = data.draw(st.sampled_from([4, 8]))
    preset = data.draw(st.sampled_from([ws_systolic, os_systolic, multicast]))
    arch = preset(rows=size, cols=size, buffer_size=data.draw(st.sampled_from(["2KiB", "8KiB", "64KiB"])),
                  buffer_banks=data.draw(st.sampled_from([1, 4])),
                  dram_latency=data.draw(st.sampled_from([0, 7, 60])),
                  dram_words_per_cycle=data.draw(st.sampled_from([1, 4])))
    if data.draw(st.booleans()):
        wl = gemm(data.draw(st.integers(8, 48)), data.draw(st.integers(8, 48)), data.draw(st.integers(8, 48)))
    else:
        wl = conv2d(K=data.draw(st.integers(4, 16)), C=data.draw(st.integers(2, 8)), H=12, W=12, R=3, S=3,
                    stride=data.draw(st.sampled_from([1, 2])), padding=1)
    try:
        design = lower(wl, arch, build_mapping(data.draw(st.sampled_from(["ws", "os", "is"])), wl, arch))
    except SasimError:
        assume(False)
    tensors = wl.random_tensors(seed=1)
    run = run_fast(design, tensors)
    assert np.array_equal(run.output, wl.reference(tensors))
    model = evaluate(design)
    assert run.counts == {lvl: {t: a.to_dict() for t, a in ts.items()} for lvl, ts in model.accesses.items()}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(design=designs(), data=st.data())
def test_fast_equals_golden_with_bank_layouts(design: Design, data: st.DataObject) -> None:
    """Regions laid out interleaved or blocked: reads that meet a busy bank wait, in both modes alike."""
    from sasim.design import lower
    from sasim.mapping.spec import Layout, Mapping

    buffers = [lvl for lvl in design.levels if lvl.kind.value == "buffer" and lvl.keeps]
    assume(buffers)
    level = data.draw(st.sampled_from(buffers))
    tensor = data.draw(st.sampled_from(sorted(level.keeps)))
    layout = data.draw(st.sampled_from([Layout.INTERLEAVED, Layout.BLOCKED]))
    mapping = design.mapping.to_yaml_dict()
    mapping["layout"] = {level.name: {tensor: layout.value}}
    laid_out = lower(design.workload, design.architecture, Mapping.model_validate(mapping))
    tensors = laid_out.workload.random_tensors(seed=9)
    golden, fast = run_golden(laid_out, tensors), run_fast(laid_out, tensors)
    assert fast.cycles == golden.cycles
    assert fast.step_cycles.tolist() == golden.step_cycles.tolist()
    assert fast.bank_conflicts == golden.bank_conflicts
    assert fast.array_stalls == golden.array_stalls
    assert fast.counts == golden.counts
    assert np.array_equal(fast.output, laid_out.workload.reference(tensors))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_fast_equals_golden_with_bank_layouts_on_banked_buffers(data: st.DataObject) -> None:
    """Preset arrays whose buffers have several banks, where laid-out regions do conflict."""
    from sasim.arch.presets import multicast, os_systolic, ws_systolic
    from sasim.design import lower
    from sasim.errors import SasimError
    from sasim.mapping.presets import build_mapping
    from sasim.mapping.spec import Mapping
    from sasim.workload import gemm

    preset = data.draw(st.sampled_from([ws_systolic, os_systolic, multicast]))
    arch = preset(rows=4, cols=4, buffer_size="8KiB", buffer_banks=data.draw(st.sampled_from([2, 4, 8])),
                  dram_latency=data.draw(st.sampled_from([0, 20])))
    wl = gemm(*(data.draw(st.integers(4, 20)) for _ in range(3)))
    try:
        mapping = build_mapping(data.draw(st.sampled_from(["ws", "os", "is"])), wl, arch).to_yaml_dict()
        buffer = arch.buffers[0].name
        mapping["layout"] = {buffer: {t: data.draw(st.sampled_from(["interleaved", "blocked", "ideal"]))
                                      for t in ("I", "W")}}
        design = lower(wl, arch, Mapping.model_validate(mapping))
    except SasimError:
        assume(False)
    tensors = wl.random_tensors(seed=4)
    golden, fast = run_golden(design, tensors), run_fast(design, tensors)
    assert (fast.cycles, fast.bank_conflicts, fast.array_stalls) == (golden.cycles, golden.bank_conflicts,
                                                                      golden.array_stalls)
    assert fast.step_cycles.tolist() == golden.step_cycles.tolist()
    assert np.array_equal(fast.output, wl.reference(tensors))


def test_a_run_leaves_no_reference_cycles() -> None:
    # The simulator's components refer to each other; a run breaks those cycles when it ends,
    # so that its per-step arrays are freed at once, not whenever the cycle collector runs.
    import gc

    design = load_spec("gemm_ws", {}).design()
    tensors = design.workload.random_tensors(seed=1)
    run_fast(design, tensors)  # first use: module-level caches
    gc.collect()
    gc.disable()
    try:
        record = run_fast(design, tensors)
        del record
        assert gc.collect() == 0
    finally:
        gc.enable()


@pytest.mark.parametrize(("tiles", "size", "count"), [(1, 4, 9), (2, 4, 9), (3, 7, 20), (5, 1, 3)])
def test_edge_log_room_of_equal_tiles_is_the_general_rule(tiles: int, size: int, count: int) -> None:
    """Equal tiles take a closed form; it must pick the tile the general rule (the first
    whose prefix of sizes reaches what must be freed) picks."""
    log = fast._EdgeLog(tiles, np.full(count, size, dtype=np.int64))
    prefix = np.cumsum(np.full(count, size))
    need = prefix - tiles * size
    assert log.room_index.tolist() == np.where(need <= 0, -1, np.searchsorted(prefix, need)).tolist()
    uneven = fast._EdgeLog(tiles, np.array([size] * (count - 1) + [size - 1 or 1], dtype=np.int64))
    assert uneven.room_index[: count - 1].tolist() == log.room_index[: count - 1].tolist()


def test_stall_causes_are_listed_in_name_order() -> None:
    """Run records list stalls by cause in one order, whichever path produced them."""
    from sasim.sim.golden import run_golden

    design = load_spec(None, {"workload": "gemm:M=9,N=7,K=6,bits=16", "architecture":
                              "ws_systolic:rows=2,cols=3,buffer_size=4KiB,dram_words_per_cycle=1,dram_word_bits=16",
                              "mapping": "ws"}).design()
    tensors = design.workload.random_tensors(seed=0)
    for run in (run_fast(design, tensors), run_golden(design, tensors)):
        assert len(run.array_stalls) > 1
        assert list(run.array_stalls) == sorted(run.array_stalls)
