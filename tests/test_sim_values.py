"""The array's drain values: the shared-tile path (one operand tile serving many events,
as a stationary operand does) computes exactly what the per-event path computes, and the
drains of a buffer tile summed over their union box equal those drains added up."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import assert_same_record, designs
from hypothesis import HealthCheck, given, settings

import sasim.sim.values as values
from sasim.arch.presets import multicast, os_systolic, ws_systolic
from sasim.design import Design, lower
from sasim.mapping import build_mapping
from sasim.sim import fast, machine
from sasim.sim.fast import run_fast
from sasim.sim.schedule import Schedule
from sasim.workload import conv2d, depthwise_conv2d, gemm, wrap


def _taken(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record what :func:`values._shared_operand` decides for each group of events."""
    decisions: list[Any] = []
    real = values._shared_operand

    def spy(*args: Any) -> Any:
        out = real(*args)
        decisions.append(out)
        return out

    monkeypatch.setattr(values, "_shared_operand", spy)
    return decisions


CASES = {
    # weight-stationary: every weight tile serves all M rows
    "gemm_ws": (gemm(M=96, N=12, K=10, acc_bits=20), ws_systolic, "ws"),
    # a convolution with stride 2 and dilation 2: input offsets P*2 + R*2
    "conv_ws": (conv2d(K=6, C=5, H=23, W=23, R=3, S=3, stride=2, dilation=2), ws_systolic, "ws"),
    # sums of 64 int8 products overflow an 8-bit accumulator: the shared path wraps too
    "gemm_ws_wrap": (gemm(M=96, N=8, K=64, acc_bits=8), ws_systolic, "ws"),
    # output-stationary: no operand tile is shared enough, the per-event path runs
    "gemm_os": (gemm(M=20, N=12, K=40), os_systolic, "os"),
}
MORE = {
    "depthwise": (depthwise_conv2d(C=6, H=12, W=12, R=3, S=3, stride=2), multicast, "ws"),
    # partial tiles at every edge: 4x4 does not divide 30, 13 or 10
    "gemm_partial": (gemm(M=30, N=13, K=10), os_systolic, "os"),
}


def _setup(name: str) -> tuple[Design, dict[str, np.ndarray]]:
    workload, preset, mapping = {**CASES, **MORE}[name]
    arch = preset(rows=4, cols=4)
    design = lower(workload, arch, build_mapping(mapping, workload, arch))
    return design, workload.random_tensors(seed=3)


@pytest.mark.parametrize("name", list(CASES))
def test_shared_tiles_give_the_reference_values(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    design, tensors = _setup(name)
    schedule = Schedule(design)
    memory = machine.dram_memory(design, tensors)
    decisions = _taken(monkeypatch)
    shared = values.drain_values(design, schedule, memory)
    assert decisions
    assert any(d is not None for d in decisions) == (name != "gemm_os")
    monkeypatch.setattr(values, "_MIN_SHARING", 1 << 40)  # every group through the per-event path
    per_event = values.drain_values(design, schedule, memory)
    assert np.array_equal(shared.starts, per_event.starts)
    assert np.array_equal(shared.flat, per_event.flat)
    # every event's partial sums, added where they land, give the reference
    wl = design.workload
    seq = schedule.seqs[(design.pe_level.name, wl.output)]
    total = np.zeros(len(memory[wl.output]), dtype=np.int64)
    np.add.at(total, seq.tiles(np.arange(seq.events)), shared.flat.astype(np.int64))
    assert np.array_equal(wrap(total, wl.tensors[wl.output].bits), wl.reference(tensors).ravel())


@pytest.mark.parametrize("name", list(CASES) + ["depthwise", "gemm_partial"])
def test_summed_values_are_the_drains_of_a_buffer_tile_added_up(name: str) -> None:
    design, tensors = _setup(name)
    schedule = Schedule(design)
    memory = machine.dram_memory(design, tensors)
    wl = design.workload
    bits = wl.tensors[wl.output].bits
    seq = schedule.seqs[(design.pe_level.name, wl.output)]
    assert seq.events > 1
    for parent in np.unique(seq.parent_event):
        events = np.flatnonzero(seq.parent_event == parent)
        got = values.summed_values(design, schedule, memory, seq, events)
        assert got is not None
        elements, summed = got
        assert len(np.unique(elements)) == len(elements)
        expected: dict[int, int] = {}
        each = values.drain_values(design, schedule, memory, events)
        for e, v in zip(seq.tiles(events).tolist(), each.flat.tolist()):
            expected[e] = expected.get(e, 0) + v
        assert sorted(elements.tolist()) == sorted(expected)
        want = wrap(np.array([expected[e] for e in elements.tolist()], dtype=np.int64), bits)
        assert np.array_equal(wrap(summed, bits), want)


def test_summed_values_refuse_events_that_do_not_tile_a_box() -> None:
    design, tensors = _setup("gemm_ws")
    schedule = Schedule(design)
    memory = machine.dram_memory(design, tensors)
    seq = schedule.seqs[(design.pe_level.name, design.workload.output)]
    assert values.summed_values(design, schedule, memory, seq, np.array([0, 1])) is not None
    assert values.summed_values(design, schedule, memory, seq, np.array([0, 2])) is None  # a gap between
    assert values.summed_values(design, schedule, memory, seq, np.array([0, 0])) is None  # one box twice


@pytest.mark.parametrize("name", ["gemm_ws", "conv_ws", "gemm_os"])
def test_a_run_without_summed_values_is_the_same_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    design, tensors = _setup(name)
    summed = run_fast(design, tensors)
    monkeypatch.setattr(fast, "summed_values", lambda *args: None)  # every drain takes the per-event path
    decisions = _taken(monkeypatch)
    per_event = run_fast(design, tensors)
    assert decisions  # the per-event path ran
    assert np.array_equal(summed.output, per_event.output)
    assert np.array_equal(summed.output, design.workload.reference(tensors))
    assert summed.cycles == per_event.cycles and summed.counts == per_event.counts


def test_shared_operand_needs_enough_sharing() -> None:
    bases = np.array([[m, 0, k] for m in range(40) for k in (0, 4)])  # (M, N, K) box origins
    columns = [[0, 2], [1, 2]]  # I uses M and K; W uses N and K
    which, groups = values._shared_operand(bases, columns) or (None, [])
    assert which == 1 and len(groups) == 2  # two W tiles (K = 0 and 4), 40 events each
    assert sorted(int(i) for g in groups for i in g) == list(range(len(bases)))
    assert all(len({tuple(bases[i, [1, 2]]) for i in g}) == 1 for g in groups)
    assert values._shared_operand(bases[:40], [[0, 2], [0, 1, 2]]) is None  # 20 events per tile: too few


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_summed_values_give_the_same_run_on_random_designs(design: Design) -> None:
    tensors = design.workload.random_tensors(seed=5)
    summed = run_fast(design, tensors)
    real = fast.summed_values
    fast.summed_values = lambda *args: None  # type: ignore[assignment]
    try:
        per_event = run_fast(design, tensors)
    finally:
        fast.summed_values = real
    assert_same_record(summed, per_event)
    assert np.array_equal(summed.output, design.workload.reference(tensors))
