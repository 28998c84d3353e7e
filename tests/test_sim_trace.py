"""Timelines of a simulation (sasim.sim.trace): spans, occupancy, the binned plot series, and the
VCD and Perfetto files read back and checked against the SimResult they came from."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from vcd.reader import ScopeDecl, TokenKind, VarDecl, tokenize

from sasim.errors import SimulationError
from sasim.sim import EngineTrace, RegionTrace, SimResult, simulate
from sasim.sim.trace import (
    FINISHED,
    NO_STALL,
    changes,
    engine_busy,
    issue_spans,
    region_occupancy,
    stall_codes,
    stall_spans,
    timeline,
    write_perfetto,
    write_vcd,
)
from sasim.spec import load_spec


@pytest.fixture(scope="module")
def result() -> SimResult:
    return simulate(load_spec("gemm_inline").design(), seed=0)


def ints(a: np.ndarray) -> list[int]:
    return [int(x) for x in a]


# --- spans and change lists ---------------------------------------------------------------


def test_issue_spans_coalesce_consecutive_cycles() -> None:
    starts, ends = issue_spans(np.array([3, 4, 5, 9, 11, 12]))
    assert (ints(starts), ints(ends)) == ([3, 9, 11], [6, 10, 13])
    starts, ends = issue_spans(np.array([], dtype=np.int64))
    assert (ints(starts), ints(ends)) == ([], [])


def test_changes_keep_the_last_value_of_a_cycle_and_drop_repeats() -> None:
    # +2 at 0, +3 and -3 at 5 (no change), -2 at 7
    t, v = changes(np.array([5, 0, 5, 7]), np.array([3, 2, -3, -2]))
    assert (ints(t), ints(v)) == ([0, 7], [2, 0])


def test_region_occupancy_frees_space_the_cycle_after_a_shrink() -> None:
    region = RegionTrace("GLB.I", 10, opened=np.array([0, 2, 4]), sizes=np.array([4, 4, 2]),
                         shrunk=np.array([4, 6, -1]))
    t, v = region_occupancy(region)
    # 4 from 0; 8 from 2; tile 2 opens at 4 (10) and tile 0 frees at 5 (6); tile 1 frees at 7 (2)
    assert list(zip(ints(t), ints(v))) == [(0, 4), (2, 8), (4, 10), (5, 6), (7, 2)]


def test_engine_busy_is_the_union_of_overlapping_tiles() -> None:
    engine = EngineTrace("I DRAM->GLB", starts=np.array([0, 1, 10, 12]), finishes=np.array([5, 6, 11, 12]))
    t, v = engine_busy(engine)
    # busy 0..6, idle 7..9, busy 10..12 (tiles at 10-11 and 12-12 touch: no gap)
    assert list(zip(ints(t), ints(v))) == [(0, 1), (7, 0), (10, 1), (13, 0)]


def test_peak_of_the_occupancy_equals_the_simulators_peak(result: SimResult) -> None:
    assert result.regions
    for region in result.regions:
        _, v = region_occupancy(region)
        assert int(v.max()) == result.peak_occupancy[region.name], region.name
        assert int(v.max()) <= region.capacity


def test_stall_spans_cover_every_stall_cycle(result: SimResult) -> None:
    spans = stall_spans(result)
    assert sum(e - s for s, e, _ in spans) == sum(result.stalls.values())
    issue = set(ints(result.step_cycles))
    assert all(not issue & set(range(s, e)) for s, e, _ in spans)
    assert {c for _, _, c in spans} <= set(result.stalls)


def test_stall_codes_put_none_first_and_finished_last(result: SimResult) -> None:
    codes = stall_codes(result)
    assert codes[NO_STALL] == 0
    assert codes[FINISHED] == len(codes) - 1
    assert set(codes) == {NO_STALL, FINISHED, *result.stalls}


def test_golden_results_have_no_timelines_wrong() -> None:
    golden = simulate(load_spec("gemm_inline").design(), mode="golden")
    with pytest.raises(SimulationError) as info:
        write_vcd(golden, io.StringIO(), title="x", clock_mhz=100)
    assert str(info.value) == (
        "this golden-mode result has no per-step timelines (only the fast mode records them); simulate in fast "
        "mode for a trace or a plot: its cycles equal the golden mode's"
    )


# --- the binned series ---------------------------------------------------------------------


def test_timeline_bins_account_for_every_cycle(result: SimResult) -> None:
    pes = 16
    tl = timeline(result, pes=pes, bins=37)
    assert int(tl.edges[0]) == 0 and int(tl.edges[-1]) == result.cycles
    assert len(tl.edges) == 38
    total = tl.issuing + sum(tl.stalls.values()) + tl.finished
    assert ints(total) == ints(tl.widths)
    assert int(tl.issuing.sum()) == result.array_busy
    assert round(float((tl.utilization * tl.widths * pes).sum())) == result.macs
    assert int(tl.finished.sum()) == result.cycles - int(result.step_cycles[-1]) - 1
    # each wait is charged to its step's largest cause, so per cause the bins add up to that
    by_cause: dict[str, int] = defaultdict(int)
    for w, c in zip(ints(result.step_wait), result.step_cause):
        if w:
            by_cause[c] += w
    assert {c: int(a.sum()) for c, a in tl.stalls.items()} == dict(by_cause)


def test_timeline_with_more_bins_than_cycles_uses_one_cycle_bins(result: SimResult) -> None:
    tl = timeline(result, pes=16, bins=10**6)
    assert ints(tl.widths) == [1] * result.cycles
    issued = set(ints(result.step_cycles))
    assert ints(tl.issuing) == [1 if c in issued else 0 for c in range(result.cycles)]


# --- VCD ------------------------------------------------------------------------------------


def read_vcd(text: str) -> tuple[str, dict[str, list[tuple[int, int]]], int]:
    """(header comment, full signal name -> [(time, value)], last timestamp)."""
    scopes: list[str] = []
    names: dict[str, str] = {}
    values: dict[str, list[tuple[int, int]]] = defaultdict(list)
    comment, now = "", 0
    for token in tokenize(io.BytesIO(text.encode())):
        if token.kind is TokenKind.COMMENT:
            comment = str(token.data)
        elif token.kind is TokenKind.SCOPE:
            assert isinstance(token.data, ScopeDecl)
            scopes.append(token.data.ident)
        elif token.kind is TokenKind.UPSCOPE:
            scopes.pop()
        elif token.kind is TokenKind.VAR:
            assert isinstance(token.data, VarDecl)
            names[token.data.id_code] = ".".join([*scopes, token.data.reference])
        elif token.kind is TokenKind.CHANGE_TIME:
            now = int(token.data)  # type: ignore[arg-type]
        elif token.kind in (TokenKind.CHANGE_SCALAR, TokenKind.CHANGE_VECTOR):
            change: Any = token.data
            value = int(change.value) if not isinstance(change.value, str) else int(change.value == "1")
            values[names[change.id_code]].append((now, value))
    return comment, dict(values), now


def value_at(changes: list[tuple[int, int]], cycle: int) -> int:
    value = 0
    for t, v in changes:
        if t > cycle:
            break
        value = v
    return value


def test_vcd_reads_back_with_the_simulators_timelines(result: SimResult) -> None:
    buf = io.StringIO()
    write_vcd(result, buf, title="gemm_inline", clock_mhz=500)
    comment, signals, end = read_vcd(buf.getvalue())
    assert end == result.cycles
    codes = stall_codes(result)
    assert "1 time unit = 1 clock cycle" in comment
    assert "array.stall_cause codes: " + ", ".join(f"{c} = {label}" for label, c in codes.items()) in comment

    engines = {f"engines.{e.name.replace('->', '_to_').replace(' ', '_')}.busy" for e in result.engines}
    regions = {f"regions.{r.name}.occupancy" for r in result.regions}
    assert set(signals) == {"array.issue", "array.macs", "array.stall_cause"} | engines | regions

    issue = signals["array.issue"]
    issued = set(ints(result.step_cycles))
    assert all(value_at(issue, c) == (c in issued) for c in range(result.cycles))
    macs = dict(zip(ints(result.step_cycles), ints(result.step_macs)))
    assert all(value_at(signals["array.macs"], c) == macs.get(c, 0) for c in range(result.cycles))

    stall = signals["array.stall_cause"]
    for s, e, cause in stall_spans(result):
        assert {value_at(stall, c) for c in range(s, e)} == {codes[cause]}
    assert all(value_at(stall, c) == 0 for c in issued)
    last = int(result.step_cycles[-1])
    assert value_at(stall, last + 1) == codes[FINISHED]

    # value changes only: no signal repeats its value
    for name, chs in signals.items():
        vals = [v for _, v in chs]
        assert all(a != b for a, b in zip(vals, vals[1:])), name

    for region in result.regions:
        occ = signals[f"regions.{region.name}.occupancy"]
        assert max(v for _, v in occ) == result.peak_occupancy[region.name]
        first_open = int(region.opened[0])
        assert value_at(occ, first_open) >= int(region.sizes[0])
    engine = result.engines[0]
    busy = signals[f"engines.{engine.name.replace('->', '_to_').replace(' ', '_')}.busy"]
    assert value_at(busy, int(engine.starts[0])) == 1
    assert value_at(busy, int(engine.finishes.max()) + 1) == 0


# --- Perfetto / Chrome trace events ------------------------------------------------------------


def test_perfetto_trace_has_tiles_spans_and_counters(result: SimResult) -> None:
    buf = io.StringIO()
    write_perfetto(result, buf, title="gemm_inline", clock_mhz=500)
    data = json.loads(buf.getvalue())
    events = data["traceEvents"]
    assert data["otherData"]["time_unit"] == "1 us in this trace = 1 clock cycle"
    assert data["otherData"]["cycles"] == result.cycles
    threads = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert threads[1] == "array"

    complete = [e for e in events if e["ph"] == "X"]
    assert all(isinstance(e["ts"], int) and isinstance(e["dur"], int) and e["dur"] > 0 for e in complete)
    issue = [e for e in complete if e["name"] == "issue"]
    starts, _ = issue_spans(result.step_cycles)
    assert len(issue) == len(starts)
    assert sum(e["dur"] for e in issue) == result.array_busy
    stalls: dict[str, int] = defaultdict(int)
    for e in complete:
        if e["cat"] == "stall":
            stalls[e["args"]["cause"]] += e["dur"]
    assert sum(stalls.values()) == sum(result.stalls.values())
    tail = [e for e in complete if e["name"].startswith("finished")]
    assert [(e["ts"], e["ts"] + e["dur"]) for e in tail] == [(int(result.step_cycles[-1]) + 1, result.cycles)]

    for engine in result.engines:
        tiles = sorted((e["args"]["tile"], e["ts"], e["dur"]) for e in complete
                       if e["cat"] == "engine" and e["args"]["engine"] == engine.name)
        assert [(t, ts, ts + d - 1) for t, ts, d in tiles] == [
            (i, int(s), int(f)) for i, (s, f) in enumerate(zip(engine.starts, engine.finishes))
        ]
        assert any(name.startswith(f"engine {engine.name}") for name in threads.values())

    # complete events on one thread never overlap (viewers need them to nest)
    per_thread: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for e in complete:
        per_thread[e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
    for spans in per_thread.values():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))

    for region in result.regions:
        counter = [(e["ts"], e["args"]["elements"]) for e in events
                   if e["ph"] == "C" and e["name"] == f"{region.name} occupancy"]
        t, v = region_occupancy(region)
        assert counter == [(0, 0)] + list(zip(ints(t), ints(v)))
