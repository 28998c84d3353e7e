"""The golden simulator: docs/timing.md stepped one cycle at a time in SimPy, with real values.

Meant for small designs (every iteration point is materialized). Each component
decides from the state visible at the start of a cycle (every state change carries
the cycle it happened in and becomes visible the cycle after), so the order in which
components are stepped within a cycle does not matter.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from sasim.design.design import Design, LevelKind
from sasim.errors import SimulationError
from sasim.sim import machine
from sasim.sim.dram import DramChannel, DramGrant, DramOp
from sasim.sim.machine import EDGE
from sasim.sim.program import Program, TileSeq, build_program
from sasim.sim.region import NOT_FILLED, Region, TileSlot
from sasim.sim.result import RunRecord
from sasim.workload.workload import wrap

__all__ = ["RunRecord", "run_golden"]

log = logging.getLogger(__name__)



class _Machine:
    def __init__(self, design: Design, program: Program, tensors: dict[str, np.ndarray]) -> None:
        self.d = design
        self.p = program
        arch = design.architecture
        wl = design.workload
        self.dram = DramChannel(latency=arch.dram.latency, bits_per_cycle=arch.dram.bits_per_cycle)
        self.counts = machine.new_counts(design)
        self.conflicts: Counter[str] = Counter()  # bank-conflict cycles per region
        self.memory = machine.dram_memory(design, tensors)
        self.written_once = np.zeros(len(self.memory[wl.output]), dtype=bool)
        self.acc_bits = wl.tensors[wl.output].bits
        self.regions: dict[tuple[str, str], Region] = {
            (r.level, r.tensor): Region(r.level, r.tensor, r.capacity, double=r.double) for r in machine.regions(design)
        }
        for t in wl.tensors:
            first = len(program.seqs[(EDGE, t)].tiles[0])  # an event's first tile is its largest
            self.regions[("edge", t)] = Region("edge", t, machine.edge_tiles(design, t) * first)
        self.engines: list[_DownEngine | _UpEngine] = [
            _DownEngine(self, e.tensor, e.source, e.target) if e.direction == "down"
            else _UpEngine(self, e.tensor, e.source, e.target)
            for e in machine.engines(design)
        ]
        self.array = _Array(self)

    def region(self, level: str, tensor: str) -> Region:
        lvl = self.d.level(level)
        key = ("edge", tensor) if lvl.kind is LevelKind.PE else (level, tensor)
        return self.regions[key]

    def bandwidth(self, level: str, tensor: str) -> int:
        return machine.bandwidth(self.d, level, tensor)

    def read_latency(self, level: str) -> int:
        return machine.read_latency(self.d, level)

    def count(self, level: str, tensor: str, action: str, n: int) -> None:
        self.counts[level][tensor][action] += int(n)

    def run(self) -> RunRecord:
        """One SimPy process per component, each stepping once per cycle, and a watchdog.

        Components decide only from state stamped before the current cycle, so the order
        in which same-cycle processes run does not change what they do -- except for the
        order of DRAM requests issued in one cycle, which the contract fixes as the engine
        order: processes are created in that order and SimPy runs same-time events first
        in, first out, so each cycle they run in that order."""
        env = simpy.Environment()
        components: list[_Array | _DownEngine | _UpEngine] = [self.array, *self.engines]
        self.progressed = False

        def clocked(component: _Array | _DownEngine | _UpEngine) -> Generator[simpy.Event, Any, None]:
            while not component.done:
                if component.step(int(env.now)):
                    self.progressed = True
                yield env.timeout(1)

        def watchdog() -> Generator[simpy.Event, Any, int]:
            idle = 0
            limit = 64 + 8 * self.d.architecture.dram.latency
            while True:
                now = int(env.now)
                if all(c.done for c in components):
                    return now + 1
                idle = 0 if self.progressed else idle + 1
                self.progressed = False
                if idle > limit and self._nothing_in_flight(now):
                    raise SimulationError(self._deadlock_reason(now))
                yield env.timeout(1)

        for component in components:
            env.process(clocked(component))
        finished = env.run(until=env.process(watchdog()))
        assert isinstance(finished, int)
        now = finished
        end = max([now] + [e.finished for e in self.engines if isinstance(e, _UpEngine)])
        return RunRecord(
            cycles=end,
            output=self.memory[self.d.workload.output].reshape(self.d.workload.shape(self.d.workload.output)),
            counts=self.counts,
            array_busy=self.array.issued,
            array_stalls=dict(sorted(self.array.stalls.items())),
            step_cycles=np.array(self.array.cycles, dtype=np.int64),
            dram_busy=self.dram.busy_cycles, dram_latency_wait=self.dram.latency_cycles,
            dram_queue_wait=self.dram.queue_cycles,
            peak_occupancy={f"{k[0]}.{k[1]}": r.peak for k, r in self.regions.items()},
            bank_conflicts=dict(self.conflicts),
        )

    def _nothing_in_flight(self, now: int) -> bool:
        in_flight = any(
            np.any((slot.fill >= now) & (slot.fill != NOT_FILLED)) for r in self.regions.values() for slot in r.tiles
        )
        return not in_flight and self.dram.free <= now

    def _deadlock_reason(self, now: int) -> str:
        waiting = [e.describe() for e in self.engines if not e.done]
        return (
            f"the simulation made no progress for many cycles at cycle {now}: a buffer cannot hold what the "
            f"schedule needs resident ({'; '.join(waiting) or 'array waiting'})"
        )


class _DownEngine:
    """Moves an input tensor's child tiles from a parent level into a child region."""

    def __init__(self, m: _Machine, tensor: str, parent: str, child: str) -> None:
        self.m, self.t, self.parent, self.child = m, tensor, parent, child
        self.seq: TileSeq = m.p.seqs[(child, tensor)]
        self.dst = m.region(child, tensor)
        self.from_dram = m.d.level(parent).kind is LevelKind.DRAM
        self.src = None if self.from_dram else m.region(parent, tensor)
        self.bw = min(m.bandwidth(parent, tensor), m.bandwidth(child, tensor))
        self.latency = m.read_latency(parent)
        self.e = 0
        self.k = 0
        self.slot: TileSlot | None = None
        self.child_is_edge = m.d.level(child).kind is LevelKind.PE
        self.banks = None if self.from_dram else machine.banks(m.d, parent, tensor)

    @property
    def done(self) -> bool:
        return self.e >= self.seq.events

    def describe(self) -> str:
        return f"{self.t} {self.parent}->{self.child} at tile {self.e}/{self.seq.events}"

    def _bank_limit(self, pos: np.ndarray, tile_size: int) -> int:
        """How many of the elements at ``pos`` (in order) the banks can serve this cycle."""
        assert self.banks is not None
        bank, word = self.banks.place(pos, tile_size)
        used: dict[int, set[int]] = {}
        for i, (b, w) in enumerate(zip(bank.tolist(), word.tolist())):
            words = used.setdefault(b, set())
            if w not in words:
                if len(words) >= self.banks.ports:
                    return i
                words.add(w)
        return len(pos)

    def step(self, now: int) -> bool:
        if self.done:
            return False
        elements = self.seq.tiles[self.e]
        progressed = False
        if self.slot is None:
            if not self.dst.has_room(now, len(elements)):
                return False
            self.slot = self.dst.open(self.e, elements, now)
            self.k = 0
            progressed = True
            if self.from_dram:
                grant = self.m.dram.request(DramOp.READ, now, len(elements), self.m.d.bits(self.t))
                self.slot.fill[:] = grant.cycles()
                self.slot.values[:] = self.m.memory[self.t][elements]
                self.m.count(self.parent, self.t, "reads", len(elements))
                if not self.child_is_edge:
                    self.m.count(self.child, self.t, "fills", len(elements))
                self._finish_tile(now)
                return True
        assert self.src is not None and self.slot is not None
        parent_slot = self.src.tile(int(self.seq.parent_event[self.e]))
        if parent_slot is None:
            return progressed
        pos = parent_slot.position(elements[self.k : self.k + self.bw])
        ok = self.src.readable(parent_slot, now)[pos]
        n = len(ok) if ok.all() else int(np.argmin(ok))
        if self.banks is not None and n:
            served = self._bank_limit(pos[:n], len(parent_slot.elements))
            if served < n:  # a readable element within bandwidth found its bank's ports taken
                self.m.conflicts[f"{self.parent}.{self.t}"] += 1
                n = served
        if n:
            sel = slice(self.k, self.k + n)
            self.slot.fill[sel] = now + self.latency - 1
            self.slot.values[sel] = parent_slot.values[pos[:n]]
            self.m.count(self.parent, self.t, "reads", n)
            if not self.child_is_edge:
                self.m.count(self.child, self.t, "fills", n)
            self.k += n
            progressed = True
        if self.k == len(elements):
            self._finish_tile(now)
        return progressed

    def _finish_tile(self, now: int) -> None:
        seq = self.seq
        last_in_parent = self.e + 1 >= seq.events or seq.parent_event[self.e + 1] != seq.parent_event[self.e]
        if self.src is not None and last_in_parent:
            self.src.shrink(now)
        if self.slot is not None and self.dst.double:
            self.slot.complete = int(self.slot.fill.max())
        self.e += 1
        self.slot = None


class _UpEngine:
    """Moves output tiles from a child (the array edge or a buffer) up into its parent."""

    def __init__(self, m: _Machine, tensor: str, child: str, parent: str) -> None:
        self.m, self.t, self.child, self.parent = m, tensor, child, parent
        self.seq: TileSeq = m.p.seqs[(child, tensor)]
        self.src = m.region(child, tensor)
        self.to_dram = m.d.level(parent).kind is LevelKind.DRAM
        self.dst = None if self.to_dram else m.region(parent, tensor)
        self.parent_seq = None if self.to_dram else m.p.seqs[(parent, tensor)]
        self.bw = m.bandwidth(parent, tensor) if not self.to_dram else 0
        if not self.to_dram and m.d.level(child).kind is LevelKind.BUFFER:
            self.bw = min(self.bw, m.bandwidth(child, tensor))
        self.e = 0
        self.k = 0
        self.pending: tuple[DramGrant | None, DramGrant | None] | None = None
        self.finished = 0
        self.child_is_edge = m.d.level(child).kind is LevelKind.PE

    @property
    def done(self) -> bool:
        return self.e >= self.seq.events

    def describe(self) -> str:
        return f"{self.t} {self.child}->{self.parent} at tile {self.e}/{self.seq.events}"

    def _source(self) -> TileSlot | None:
        slot = self.src.tile(self.e)
        if slot is None or slot.complete == NOT_FILLED or slot.complete >= self.now:
            return None
        return slot

    def step(self, now: int) -> bool:
        self.now = now
        if self.done:
            return False
        slot = self._source()
        if slot is None:
            return False
        if self.to_dram:
            return self._to_dram(slot, now)
        assert self.dst is not None and self.parent_seq is not None
        pe = int(self.seq.parent_event[self.e])
        target = self.dst.tile(pe)
        progressed = False
        if target is None:
            tile = self.parent_seq.tiles[pe]
            if not self.dst.has_room(now, len(tile)):
                return False
            target = self.dst.open(pe, tile, now)
            target.fill[:] = now  # a new output tile starts at zero
            progressed = True
        n = min(self.bw, len(slot.elements) - self.k)
        sel = slice(self.k, self.k + n)
        pos = target.position(slot.elements[sel])
        rmw = target.written[pos]
        target.values[pos] = wrap(target.values[pos] + slot.values[sel], self.m.acc_bits)
        target.written[pos] = True
        self.m.count(self.parent, self.t, "updates", n)
        self.m.count(self.parent, self.t, "reads", int(rmw.sum()))
        if not self.child_is_edge:
            self.m.count(self.child, self.t, "drains", n)
        self.k += n
        progressed = progressed or n > 0
        if self.k == len(slot.elements):
            self.src.shrink(now)
            last = self.e + 1 >= self.seq.events or self.seq.parent_event[self.e + 1] != pe
            if last:
                target.complete = now
            self.e += 1
            self.k = 0
        return progressed

    def _to_dram(self, slot: TileSlot, now: int) -> bool:
        bits = self.m.d.bits(self.t)
        elements = slot.elements
        if self.pending is None:
            revisit = self.m.written_once[elements]
            read = None
            if revisit.any():
                read = self.m.dram.request(DramOp.READ, now, int(revisit.sum()), bits)
                self.m.count(self.parent, self.t, "reads", int(revisit.sum()))
            self.pending = (read, None)
            if read is not None:
                return True
        read, write = self.pending
        if write is None:
            if read is not None and read.end > now:
                return False
            write = self.m.dram.request(DramOp.WRITE, now, len(elements), bits)
            mem = self.m.memory[self.t]
            old = np.where(self.m.written_once[elements], mem[elements], 0)
            mem[elements] = wrap(old + slot.values, self.m.acc_bits)
            self.m.written_once[elements] = True
            self.m.count(self.parent, self.t, "updates", len(elements))
            if not self.child_is_edge:
                self.m.count(self.child, self.t, "drains", len(elements))
            self.pending = (read, write)
        if write.end - 1 > now:
            return True
        self.src.shrink(now)
        self.finished = write.end
        self.pending = None
        self.e += 1
        return True


class _Array:
    """Issues steps per docs/timing.md, "The array"; computes the MACs."""

    def __init__(self, m: _Machine) -> None:
        self.m = m
        d = m.d
        wl = d.workload
        self.sigma = machine.array_skew(d)
        self.depth = d.architecture.pe.mac_latency
        self.rows_used = d.array_used[0]
        self.s = 0
        self.issued = 0
        self.cycles: list[int] = []
        self.stalls: Counter[str] = Counter()
        self.last_issue: int | None = None
        self.preload_start: int | None = None
        self.inputs = list(wl.operands)
        self.out = wl.output
        self.seq = {t: m.p.seqs[(EDGE, t)] for t in wl.tensors}
        self.event_of = {}
        for t, seq in self.seq.items():
            ev = np.zeros(m.p.steps, dtype=np.int64)
            for e in range(seq.events):
                ev[seq.first[e] : seq.last[e] + 1] = e
            self.event_of[t] = ev
        self.psum = np.zeros(0, dtype=np.int64)
        self.stationary_input = d.stationary if d.stationary in wl.operands else None

    @property
    def done(self) -> bool:
        return self.s >= self.m.p.steps

    def _input_ready(self, t: str, now: int) -> bool:
        e = int(self.event_of[t][self.s])
        slot = self.m.regions[("edge", t)].tile(e)
        return slot is not None and slot.fill.size == len(self.seq[t].tiles[e]) and bool(np.all(slot.fill < now))

    def step(self, now: int) -> bool:
        if self.done:
            return False
        s = self.s
        p = self.m.p
        d = self.m.d
        fold_boundary = bool(p.fold_start[s]) and d.stationary is not None
        if fold_boundary:
            drained = self.last_issue is None or now >= self.last_issue + self.sigma + self.depth
            ready = self.stationary_input is None or self._input_ready(self.stationary_input, now)
            if self.preload_start is None and drained and ready:
                self.preload_start = now
            if self.preload_start is None:
                self.stalls["fold drain" if not drained else f"input {self.stationary_input}"] += 1
                return False
            if now < self.preload_start + self.rows_used:
                self.stalls["preload"] += 1
                return False
        elif self.last_issue is not None and now < self.last_issue + 1:
            return False
        for t in self.inputs:
            e = int(self.event_of[t][s])
            if self.seq[t].first[e] == s and not self._input_ready(t, now):
                self.stalls[f"input {t}"] += 1
                return False
        out_edge = self.m.regions[("edge", self.out)]
        oe = int(self.event_of[self.out][s])
        starts_out = self.seq[self.out].first[oe] == s
        if starts_out and not out_edge.has_room(now, len(self.seq[self.out].tiles[oe])):
            self.stalls["output full"] += 1
            return False
        self._issue(s, now, starts_out, oe)
        return True

    def _issue(self, s: int, now: int, starts_out: bool, oe: int) -> None:
        m, p = self.m, self.m.p
        valid = p.valid[s]
        active = int(valid.sum())
        for t in self.inputs:
            e = int(self.event_of[t][s])
            if self.seq[t].first[e] == s:
                m.count(EDGE, t, "fills", int(p.pe_fills[t][e]))
            m.count(EDGE, t, "reads", active)
        m.count(EDGE, self.out, "updates", active)
        out_seq = self.seq[self.out]
        if starts_out:
            m.regions[("edge", self.out)].open(oe, out_seq.tiles[oe], now)
            self.psum = np.zeros(len(out_seq.tiles[oe]), dtype=np.int64)
        values = []
        for t in self.inputs:
            e = int(self.event_of[t][s])
            operand = m.regions[("edge", t)].tile(e)
            assert operand is not None
            values.append(operand.values[operand.position(p.element[t][s][valid])])
        o_pos = np.searchsorted(out_seq.tiles[oe], p.element[self.out][s][valid])
        np.add.at(self.psum, o_pos, values[0] * values[1])
        self.cycles.append(now)
        self.issued += 1
        self.last_issue = now
        self.preload_start = None
        for t in self.inputs:
            e = int(self.event_of[t][s])
            if self.seq[t].last[e] == s:
                m.regions[("edge", t)].shrink(now)
        if out_seq.last[oe] == s:
            m.count(EDGE, self.out, "drains", int(p.pe_drains[oe]))
            result = m.regions[("edge", self.out)].tile(oe)
            assert result is not None
            result.values[:] = wrap(self.psum, m.acc_bits)
            result.fill[:] = now + self.sigma + self.depth
            result.complete = now + self.sigma + self.depth
        self.s += 1


def run_golden(design: Design, tensors: dict[str, np.ndarray]) -> RunRecord:
    """Simulate ``design`` cycle by cycle on ``tensors`` (see docs/timing.md)."""
    design.workload.check_tensors(tensors)
    program = build_program(design)
    return _Machine(design, program, tensors).run()
