"""Timelines of a simulation for people to look at.

From a fast-mode :class:`~sasim.sim.SimResult` (its per-step arrays, engine traces and
region traces) this module derives:

* the array's **issue spans** (consecutive issue cycles coalesced) and **stall spans**
  (the cycles before a step that waited, each charged to that step's largest cause);
* each transfer engine's **busy** intervals and each region's **occupancy**;
* a **VCD** waveform (:func:`write_vcd`, GTKWave) and a **Chrome/Perfetto trace-event
  JSON** (:func:`write_perfetto`, ui.perfetto.dev or chrome://tracing);
* the binned series ``sasim run --plot`` draws (:func:`timeline`).

Time is in cycles: cycle ``c`` is VCD time ``c`` and trace-event time ``c`` µs. A region's
tile occupies its space from the cycle it is opened; a shrink in cycle ``c`` frees it
from ``c + 1`` (docs/timing.md). The golden mode records none of these timelines.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
from vcd import VCDWriter

from sasim.errors import SimulationError
from sasim.sim.result import EngineTrace, RegionTrace, SimResult

__all__ = [
    "FINISHED",
    "NO_STALL",
    "Timeline",
    "changes",
    "check_timelines",
    "engine_busy",
    "issue_spans",
    "region_occupancy",
    "stall_codes",
    "stall_spans",
    "timeline",
    "write_perfetto",
    "write_vcd",
]

#: Stall-cause label for a cycle in which the array issues (or has not been asked to wait).
NO_STALL = "none"
#: Label for the cycles after the array issued its last step (outputs draining to DRAM).
FINISHED = "finished"


def check_timelines(result: SimResult) -> None:
    """Raise :class:`SimulationError` unless ``result`` carries per-step timelines (fast mode)."""
    if len(result.step_cycles) and len(result.step_macs) != len(result.step_cycles):
        raise SimulationError(
            f"this {result.mode}-mode result has no per-step timelines (only the fast mode records them); "
            "simulate in fast mode for a trace or a plot: its cycles equal the golden mode's"
        )


# --- spans and change lists --------------------------------------------------------------


def issue_spans(step_cycles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, ends)`` of the runs of consecutive issue cycles; ``ends`` exclusive."""
    c = np.asarray(step_cycles, dtype=np.int64)
    if len(c) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    breaks = np.flatnonzero(np.diff(c) != 1) + 1
    starts = c[np.concatenate([[0], breaks])]
    ends = c[np.concatenate([breaks - 1, [len(c) - 1]])] + 1
    return starts, ends


def stall_spans(result: SimResult) -> list[tuple[int, int, str]]:
    """``(start, end, cause)`` for every step that waited: the ``step_wait`` cycles just before
    it (end exclusive), charged to its largest cause (``step_cause``)."""
    check_timelines(result)
    waits = np.asarray(result.step_wait, dtype=np.int64)
    cycles = np.asarray(result.step_cycles, dtype=np.int64)
    return [
        (int(cycles[s] - waits[s]), int(cycles[s]), result.step_cause[s] or "unknown")
        for s in np.flatnonzero(waits > 0)
    ]


def changes(times: np.ndarray, deltas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The value changes of a running sum that starts at 0 and adds ``deltas[i]`` at
    ``times[i]``: ``(cycles, values)``, one entry per cycle where the value differs from
    the previous cycle's (the first entry may be at cycle 0 with a non-zero value)."""
    times = np.asarray(times, dtype=np.int64)
    order = np.argsort(times, kind="stable")
    return _settle(times[order], np.cumsum(np.asarray(deltas, dtype=np.int64)[order]))


def _settle(times: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Value changes of a signal set to ``values[i]`` in cycle ``times[i]`` (initially 0): sorted
    by cycle, the last value set in a cycle wins, repeated values dropped."""
    order = np.argsort(times, kind="stable")
    t, v = times[order], values[order]
    if len(t) == 0:
        return t, v
    last = np.concatenate([t[1:] != t[:-1], [True]])
    t, v = t[last], v[last]
    keep = v != np.concatenate([[0], v[:-1]])
    return t[keep], v[keep]


def engine_busy(engine: EngineTrace) -> tuple[np.ndarray, np.ndarray]:
    """Changes of an engine's busy flag: 1 from a tile's start to its finish (inclusive)."""
    starts, finishes = np.asarray(engine.starts, dtype=np.int64), np.asarray(engine.finishes, dtype=np.int64)
    times = np.concatenate([starts, finishes + 1])
    deltas = np.concatenate([np.ones(len(starts), dtype=np.int64), -np.ones(len(finishes), dtype=np.int64)])
    # Count the tiles in flight (DRAM requests overlap), then reduce to 0/1.
    t, inflight = changes(times, deltas)
    return _settle(t, (inflight > 0).astype(np.int64))


def region_occupancy(region: RegionTrace) -> tuple[np.ndarray, np.ndarray]:
    """Changes of a region's occupancy in elements: a tile counts from the cycle it is opened
    until the cycle after its shrink (never shrunk: to the end)."""
    shrunk = np.asarray(region.shrunk, dtype=np.int64)
    sizes = np.asarray(region.sizes, dtype=np.int64)
    freed = shrunk >= 0
    times = np.concatenate([np.asarray(region.opened, dtype=np.int64), shrunk[freed] + 1])
    return changes(times, np.concatenate([sizes, -sizes[freed]]))


def stall_codes(result: SimResult) -> dict[str, int]:
    """The integer code of each label of the VCD's ``array.stall_cause``: ``none`` is 0, the
    causes (sorted) follow, ``finished`` is last."""
    causes = sorted({c for c in result.step_cause if c} | set(result.stalls))
    return {NO_STALL: 0, **{c: i + 1 for i, c in enumerate(causes)}, FINISHED: len(causes) + 1}


# --- VCD -----------------------------------------------------------------------------------


def _vcd_name(text: str) -> str:
    text = text.replace("->", " to ")
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in text).strip("_") or "x"


def write_vcd(result: SimResult, file: IO[str], *, title: str, clock_mhz: float) -> None:
    """Write ``result``'s timelines as a VCD (value changes only; one time unit per cycle).

    Signals: ``array.issue`` (1 in cycles where a step issues), ``array.macs`` (MACs in that
    cycle), ``array.stall_cause`` (an integer code; the legend is in the header comment),
    ``engines.<engine>.busy``, ``regions.<level>.<tensor>.occupancy`` (elements).
    """
    check_timelines(result)
    codes = stall_codes(result)
    legend = ", ".join(f"{code} = {label}" for label, code in codes.items())
    comment = (
        f"sasim run: {title}; {result.cycles} cycles ({result.mode} mode)\n"
        f"1 time unit = 1 clock cycle (the timescale says ns; at {clock_mhz:g} MHz a cycle is "
        f"{1000.0 / clock_mhz:g} ns)\n"
        f"array.stall_cause codes: {legend}\n"
        "array.stall_cause charges the stall cycles before a step to that step's largest cause"
    )
    signals: list[tuple[str, str, str, int, np.ndarray, np.ndarray]] = []  # scope, name, type, size, times, values

    cycles = np.asarray(result.step_cycles, dtype=np.int64)
    starts, ends = issue_spans(cycles)
    t = np.concatenate([starts, ends])
    v = np.concatenate([np.ones(len(starts), dtype=np.int64), np.zeros(len(ends), dtype=np.int64)])
    signals.append(("array", "issue", "wire", 1, *_settle(t, v)))

    macs = np.asarray(result.step_macs, dtype=np.int64)
    t = np.concatenate([cycles, ends])
    v = np.concatenate([macs, np.zeros(len(ends), dtype=np.int64)])
    signals.append(("array", "macs", "integer", max(1, int(macs.max(initial=0)).bit_length()), *_settle(t, v)))

    spans = stall_spans(result)
    t_list = [s for s, _, _ in spans] + [e for _, e, _ in spans]
    v_list = [codes[c] for _, _, c in spans] + [0] * len(spans)
    if len(cycles) and int(cycles[-1]) + 1 < result.cycles:
        t_list.append(int(cycles[-1]) + 1)
        v_list.append(codes[FINISHED])
    size = max(1, max(codes.values()).bit_length())
    signals.append(("array", "stall_cause", "wire", size,
                    *_settle(np.array(t_list, dtype=np.int64), np.array(v_list, dtype=np.int64))))

    for engine in result.engines:
        signals.append((f"engines.{_vcd_name(engine.name)}", "busy", "wire", 1, *engine_busy(engine)))
    for region in result.regions:
        scope = "regions." + ".".join(_vcd_name(part) for part in region.name.split("."))
        t, v = region_occupancy(region)
        width = max(1, int(max(region.capacity, int(v.max(initial=0)))).bit_length())
        signals.append((scope, "occupancy", "integer", width, t, v))

    with VCDWriter(file, timescale="1 ns", comment=comment, version=f"sasim {_version()}") as writer:
        variables = [writer.register_var(scope, name, kind, size=size, init=0)
                     for scope, name, kind, size, _, _ in signals]
        all_t = np.concatenate([s[4] for s in signals])
        all_v = np.concatenate([s[5] for s in signals])
        all_i = np.concatenate([np.full(len(s[4]), i, dtype=np.int64) for i, s in enumerate(signals)])
        order = np.lexsort((all_i, all_t))
        for time, index, value in zip(all_t[order].tolist(), all_i[order].tolist(), all_v[order].tolist()):
            writer.change(variables[index], time, value)
        writer.close(max(result.cycles, int(all_t.max(initial=0))))


def _version() -> str:
    import sasim

    return sasim.__version__


# --- Chrome / Perfetto trace events -----------------------------------------------------------


def _lanes(starts: np.ndarray, ends: np.ndarray) -> list[int]:
    """Lane of each interval (sorted by start, ``ends`` exclusive) so that intervals in one lane
    never overlap: trace viewers need complete events on one thread to nest."""
    free: list[tuple[int, int]] = []  # (end, lane)
    lanes: list[int] = []
    count = 0
    for s, e in zip(starts.tolist(), ends.tolist()):
        if free and free[0][0] <= s:
            _, lane = heapq.heappop(free)
        else:
            lane, count = count, count + 1
        lanes.append(lane)
        heapq.heappush(free, (e, lane))
    return lanes


def _trace_events(result: SimResult, title: str) -> Iterator[dict[str, object]]:
    pid = 1
    yield {"ph": "M", "name": "process_name", "pid": pid, "args": {"name": f"sasim run: {title}"}}
    tid = 1
    yield {"ph": "M", "name": "thread_name", "pid": pid, "tid": tid, "args": {"name": "array"}}
    yield {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid, "args": {"sort_index": 0}}
    cycles = np.asarray(result.step_cycles, dtype=np.int64)
    starts, ends = issue_spans(cycles)
    first = np.searchsorted(cycles, starts)
    for s, e, f in zip(starts.tolist(), ends.tolist(), first.tolist()):
        yield {"ph": "X", "name": "issue", "cat": "array", "pid": pid, "tid": tid, "ts": s, "dur": e - s,
               "args": {"first_step": f, "steps": e - s}}
    for s, e, cause in stall_spans(result):
        yield {"ph": "X", "name": f"stall: {cause}", "cat": "stall", "pid": pid, "tid": tid, "ts": s, "dur": e - s,
               "args": {"cause": cause, "cycles": e - s}}
    if len(cycles) and int(cycles[-1]) + 1 < result.cycles:
        s = int(cycles[-1]) + 1
        yield {"ph": "X", "name": "finished (outputs draining)", "cat": "array", "pid": pid, "tid": tid, "ts": s,
               "dur": result.cycles - s, "args": {}}

    for engine in result.engines:
        e_starts = np.asarray(engine.starts, dtype=np.int64)
        e_ends = np.asarray(engine.finishes, dtype=np.int64) + 1
        lanes = _lanes(e_starts, e_ends)
        base = tid + 1
        for lane in range(max(lanes, default=0) + 1):
            name = f"engine {engine.name}" + (f" (lane {lane + 1})" if lane else "")
            yield {"ph": "M", "name": "thread_name", "pid": pid, "tid": base + lane, "args": {"name": name}}
            yield {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": base + lane,
                   "args": {"sort_index": base + lane}}
        for i, (s, e, lane) in enumerate(zip(e_starts.tolist(), e_ends.tolist(), lanes)):
            yield {"ph": "X", "name": f"tile {i}", "cat": "engine", "pid": pid, "tid": base + lane, "ts": s,
                   "dur": e - s, "args": {"engine": engine.name, "tile": i}}
        tid = base + max(lanes, default=0)

    for region in result.regions:
        name = f"{region.name} occupancy"
        yield {"ph": "C", "name": name, "pid": pid, "ts": 0, "args": {"elements": 0}}
        for t, v in zip(*(a.tolist() for a in region_occupancy(region))):
            yield {"ph": "C", "name": name, "pid": pid, "ts": t, "args": {"elements": v}}


def write_perfetto(result: SimResult, file: IO[str], *, title: str, clock_mhz: float) -> None:
    """Write ``result``'s timelines as Chrome trace-event JSON (1 µs in the trace = 1 cycle).

    One thread ``array`` with ``issue`` spans (consecutive issue cycles coalesced), ``stall:
    <cause>`` spans and the ``finished`` tail; one thread per transfer engine with a complete
    event per tile (extra lanes where DRAM requests overlap); a counter per region occupancy.
    """
    check_timelines(result)
    file.write('{"traceEvents": [\n')
    for i, event in enumerate(_trace_events(result, title)):
        file.write(("" if i == 0 else ",\n") + json.dumps(event, separators=(",", ":")))
    other = {
        "title": f"sasim run: {title}",
        "time_unit": "1 us in this trace = 1 clock cycle",
        "clock_mhz": clock_mhz,
        "cycles": result.cycles,
        "mode": result.mode,
    }
    file.write('\n],\n"otherData": ' + json.dumps(other) + "}\n")


# --- binned series for the plot -----------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    """The run cut into bins of whole cycles: ``edges[i]`` to ``edges[i + 1]`` (exclusive).

    Per bin: ``utilization`` (MACs / (cycles × PEs)), and how its cycles were spent:
    ``issuing`` (the array issued a step), ``stalls[cause]`` (waiting, charged to the
    step's largest cause), ``finished`` (after the last step); they add up to the bin width.
    """

    edges: np.ndarray
    utilization: np.ndarray
    issuing: np.ndarray
    stalls: dict[str, np.ndarray]
    finished: np.ndarray

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)


def _point_sums(points: np.ndarray, weights: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per bin, the weights of the (sorted) points inside it."""
    cum = np.concatenate([[0], np.cumsum(weights, dtype=np.int64)])
    return np.diff(cum[np.searchsorted(points, edges, side="left")])


def _coverage(starts: np.ndarray, ends: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per bin, the cycles covered by sorted, disjoint intervals ``[starts, ends)``."""
    if len(starts) == 0:
        return np.zeros(len(edges) - 1, dtype=np.int64)
    cum = np.concatenate([[0], np.cumsum(ends - starts, dtype=np.int64)])
    k = np.searchsorted(starts, edges, side="left")  # intervals starting before each edge
    over = np.where(k > 0, np.maximum(0, ends[np.maximum(k - 1, 0)] - edges), 0)
    covered = cum[k] - over
    return np.diff(covered)


def timeline(result: SimResult, *, pes: int, bins: int = 200) -> Timeline:
    """Bin ``result`` (at most ``bins`` bins of whole cycles) for the run plot; ``pes`` is the
    number of PEs utilization is measured against (the whole array)."""
    check_timelines(result)
    total = max(1, result.cycles)
    edges = np.unique(np.round(np.linspace(0, total, min(bins, total) + 1)).astype(np.int64))
    cycles = np.asarray(result.step_cycles, dtype=np.int64)
    macs = _point_sums(cycles, np.asarray(result.step_macs, dtype=np.int64), edges)
    widths = np.diff(edges)
    issuing = _point_sums(cycles, np.ones(len(cycles), dtype=np.int64), edges)
    by_cause: dict[str, list[tuple[int, int]]] = {}
    for s, e, cause in stall_spans(result):
        by_cause.setdefault(cause, []).append((s, e))
    stalls = {
        cause: _coverage(np.array([s for s, _ in spans], dtype=np.int64),
                         np.array([e for _, e in spans], dtype=np.int64), edges)
        for cause, spans in sorted(by_cause.items())
    }
    tail_start = int(cycles[-1]) + 1 if len(cycles) else 0
    finished = _coverage(np.array([tail_start]), np.array([max(tail_start, result.cycles)]), edges)
    return Timeline(edges=edges, utilization=macs / (widths * max(1, pes)), issuing=issuing, stalls=stalls,
                    finished=finished)
