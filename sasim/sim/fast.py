"""The fast simulator: docs/timing.md computed tile by tile, exactly as the golden one.

Components (transfer engines, the array, the output engines) never poll cycles.
Each advances as far as what it depends on is known, computes a whole tile's
element times at once (:func:`sasim.sim.maxplus.stream_moves`) and publishes the
cycles at which its effects happen (fills, shrinks, completions), which may lie in
the future: a consumer compares them with its own cycles, so it sees them exactly
when the golden simulator would. Only DRAM requests need a global order (the
channel serves them in issue order): they wait in a heap keyed by (cycle, engine)
and are issued earliest first once nothing else can advance; whatever an issue
causes is visible one cycle later at the earliest, so no earlier request can appear.
"""

from __future__ import annotations

import bisect
import heapq
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sasim.design.design import Design, LevelKind
from sasim.errors import SimulationError
from sasim.rows import grouped
from sasim.sim import machine
from sasim.sim.dram import DramChannel, DramGrant, DramOp
from sasim.sim.machine import EDGE
from sasim.sim.maxplus import banked_moves, stream_moves
from sasim.sim.region import peak_occupancy
from sasim.sim.result import EngineTrace, RegionTrace, RunRecord
from sasim.sim.schedule import EventSeq, Schedule
from sasim.sim.values import DrainValues, drain_values, summed_values
from sasim.sim.window import issue_window
from sasim.workload.workload import wrap

__all__ = ["RunRecord", "run_fast"]

log = logging.getLogger(__name__)

#: A tile's position table may span this many times its size, and at most this many entries.
_LOOKUP_SPREAD = 32
_LOOKUP_MAX = 1 << 23

#: A feeder prepares its tiles in batches of about this many elements.
_PREPARE_ELEMENTS = 1 << 18

#: Steps the array solves at once (sasim.sim.window), and issues one by one when that fails.
WINDOW = 8192
ONE_BY_ONE = 256


@dataclass
class _Tile:
    n: int
    opened: int
    elements: np.ndarray | None = None
    fill: np.ndarray | None = None  # per element; None until known
    values: np.ndarray | None = None
    ready_all: int = -1  # first cycle every element is readable
    known: bool = False  # fills (or at least ready_all, for edge tiles) are published
    complete: int | None = None  # outputs: cycle the tile became whole
    shrink: int | None = None
    pending: list[tuple[np.ndarray, np.ndarray]] | None = None  # outputs: partial sums not yet added
    lookup: tuple[int, np.ndarray | None] | None = None  # see positions()

    def positions(self, queries: np.ndarray) -> np.ndarray:
        """Where each of ``queries`` (elements of this tile) sits in ``elements``.

        A tile's elements are sorted flat indices, often a dense box: then a table over their
        span (built once, kept while the tile lives) answers in one gather, several times
        faster than a binary search, which serves the sparse tiles."""
        assert self.elements is not None
        if self.lookup is None:
            el = self.elements
            self.lookup = (0, None)
            if len(el):
                lo, span = int(el[0]), int(el[-1]) - int(el[0]) + 1
                if span <= min(_LOOKUP_SPREAD * len(el), _LOOKUP_MAX):
                    # only this tile's elements are ever looked up: the other entries stay unset
                    table = np.empty(span, dtype=np.int32 if len(el) < 1 << 31 else np.int64)
                    table[el - lo] = np.arange(len(el), dtype=table.dtype)
                    self.lookup = (lo, table)
        base, found = self.lookup
        if found is None:
            return np.searchsorted(self.elements, queries)
        return np.asarray(found[queries - base])


class _Region:
    """A region's tiles in order, with the credit rule of docs/timing.md."""

    def __init__(self, capacity: int, double: bool = False) -> None:
        self.capacity = capacity
        self.double = double
        self.tiles: list[_Tile] = []
        self.sizes: list[int] = [0]  # prefix sums of reserved sizes
        self.events: dict[int, int] = {}  # event -> index in tiles
        self.shrunk = 0  # tiles shrunk (in order)

    def room_time(self, n: int) -> int | None:
        """Earliest cycle the next tile of ``n`` elements can be reserved; None if not yet known."""
        need = self.sizes[-1] + n - self.capacity  # elements that must have been freed
        if need <= 0:
            return 0
        j = bisect.bisect_left(self.sizes, need, lo=1) - 1
        shrink = self.tiles[j].shrink if j < len(self.tiles) else None
        return None if shrink is None else shrink + 1

    def open(self, event: int, n: int, cycle: int) -> _Tile:
        tile = _Tile(n=n, opened=cycle)
        self.events[event] = len(self.tiles)
        self.tiles.append(tile)
        self.sizes.append(self.sizes[-1] + n)
        return tile

    @property
    def peak(self) -> int:
        shrunk = [(t.shrink, t.n) for t in self.tiles if t.shrink is not None]
        return peak_occupancy([t.opened for t in self.tiles], [t.n for t in self.tiles],
                              [c for c, _ in shrunk], [n for _, n in shrunk])

    def tile(self, event: int) -> _Tile | None:
        i = self.events.get(event)
        return None if i is None else self.tiles[i]

    def shrink(self, event: int, cycle: int) -> None:
        tile = self.tiles[self.events.pop(event)]
        tile.shrink = cycle
        tile.elements = tile.fill = tile.values = tile.lookup = None  # free memory
        self.shrunk += 1

    def publish_fills(self, tile: _Tile, fill: np.ndarray) -> None:
        tile.fill = fill
        tile.ready_all = int(fill.max()) + 1 if len(fill) else tile.opened
        tile.known = True


class _Machine:
    def __init__(self, design: Design, schedule: Schedule, tensors: dict[str, np.ndarray],
                 progress: Callable[[int, int], None] | None, windows: bool = True) -> None:
        self.d = design
        self.sc = schedule
        self.progress = progress
        arch = design.architecture
        wl = design.workload
        self.dram = DramChannel(latency=arch.dram.latency, bits_per_cycle=arch.dram.bits_per_cycle)
        self.counts = machine.new_counts(design)
        self.conflicts: Counter[str] = Counter()  # bank-conflict cycles per region
        self.memory = machine.dram_memory(design, tensors)
        self.written_once = np.zeros(len(self.memory[wl.output]), dtype=bool)
        self.acc_bits = wl.tensors[wl.output].bits
        self.regions: dict[tuple[str, str], _Region] = {
            (r.level, r.tensor): _Region(r.capacity, r.double) for r in machine.regions(design)
        }
        # Edge buffers fed from (or draining into) a buffer are solved inside the array's loop;
        # those fed from DRAM keep a region and an engine (their requests are ordered globally).
        fused = {
            t for t in wl.tensors
            if design.keepers(t)[-2].kind is LevelKind.BUFFER and (design.keepers(t)[-2].name, t) not in design.layouts
        }
        for t in wl.tensors:
            if t not in fused:
                first = len(schedule.seqs[(EDGE, t)].tile(0))  # an event's first tile is its largest
                self.regions[("edge", t)] = _Region(machine.edge_tiles(design, t) * first)
        # operand values as delivered to the array edge
        self.edge_values = {t: np.zeros_like(self.memory[t]) for t in wl.operands}
        self.delivered = {t: np.zeros(len(self.memory[t]), dtype=bool) for t in wl.operands}
        self.heap: list[tuple[int, int, int, _Engine, str]] = []
        self.heap_seq = 0
        self.engines: list[_Engine] = []
        self.feeders: dict[str, _Feeder] = {}
        self.drain: _Drain | None = None
        for order, e in enumerate(machine.engines(design)):
            if e.direction == "down" and e.target == EDGE and e.tensor in fused:
                self.feeders[e.tensor] = _Feeder(self, order, e.tensor, e.source)
                self.engines.append(self.feeders[e.tensor])
            elif e.direction == "up" and e.source == EDGE and e.tensor in fused:
                self.drain = _Drain(self, order, e.tensor, e.target)
                self.engines.append(self.drain)
            elif e.direction == "down":
                self.engines.append(_Down(self, order, e.tensor, e.source, e.target))
            else:
                self.engines.append(_Up(self, order, e.tensor, e.source, e.target))
        self.array = _Array(self, windows)

    def release(self) -> None:
        """Drop the components: they refer back to the machine, and the cycle would keep
        hundreds of MB of per-step arrays alive until Python's cycle collector next runs."""
        self.engines = []
        self.feeders = {}
        self.drain = None
        self.array = None  # type: ignore[assignment]
        self.sc.seqs = {}  # each refers back to the schedule

    def _region_order(self, name: str) -> tuple[int, str]:
        """Regions in the order golden reports them: buffers by level, then the edges."""
        level, _, tensor = name.partition(".")
        return (0 if level != "edge" else 1, name if level != "edge" else f"~{tensor}")

    def region(self, level: str, tensor: str) -> _Region:
        if self.d.level(level).kind is LevelKind.PE:
            return self.regions[("edge", tensor)]
        return self.regions[(level, tensor)]

    def bandwidth(self, level: str, tensor: str) -> int:
        return machine.bandwidth(self.d, level, tensor)

    def read_latency(self, level: str) -> int:
        return machine.read_latency(self.d, level)

    def count(self, level: str, tensor: str, action: str, n: int) -> None:
        self.counts[level][tensor][action] += int(n)

    def push(self, cycle: int, engine: _Engine, action: str) -> None:
        heapq.heappush(self.heap, (cycle, engine.order, self.heap_seq, engine, action))
        self.heap_seq += 1

    def run(self) -> RunRecord:
        components: list[_Array | _Engine] = [self.array, *self.engines]
        while True:
            moved = True
            while moved:
                moved = False
                for comp in components:
                    moved = comp.advance() or moved
            if not self.heap:
                break
            cycle, _, _, engine, action = heapq.heappop(self.heap)
            engine.dram_action(cycle, action)
        unfinished = [c.describe() for c in components if not c.done]
        if unfinished:
            raise SimulationError(
                "the simulation cannot finish: " + "; ".join(unfinished) + " (a buffer cannot hold what the "
                "schedule needs resident)"
            )
        for t in self.d.workload.operands:
            # every operand value the array used came through the simulated data path
            if not np.array_equal(self.edge_values[t][self.delivered[t]], self.memory[t][self.delivered[t]]):
                raise SimulationError(f"internal error: the data path delivered wrong values of {t!r} to the array")
        end = max([0] + [e.finished for e in self.engines])
        wl = self.d.workload
        logs = {f"edge.{t}": f.log for t, f in self.feeders.items()}
        if self.drain is not None:
            logs[f"edge.{wl.output}"] = self.drain.log
        peaks = {f"{k[0]}.{k[1]}": r.peak for k, r in self.regions.items()}
        peaks.update({name: log.peak for name, log in logs.items()})
        peaks = {k: peaks[k] for k in sorted(peaks, key=self._region_order)}
        engines = [
            EngineTrace(e.name, e.starts.array(), e.finishes.array())
            for e in self.engines
        ]
        regions = [
            RegionTrace(
                f"{k[0]}.{k[1]}", r.capacity,
                np.array([t.opened for t in r.tiles], dtype=np.int64), np.array([t.n for t in r.tiles], dtype=np.int64),
                np.array([-1 if t.shrink is None else t.shrink for t in r.tiles], dtype=np.int64),
            )
            for k, r in self.regions.items()
        ] + [log.trace(name) for name, log in logs.items()]
        regions.sort(key=lambda r: self._region_order(r.name))
        return RunRecord(
            cycles=end, output=self.memory[wl.output].reshape(wl.shape(wl.output)), counts=self.counts,
            array_busy=self.array.s, array_stalls=dict(sorted(self.array.stalls.items())),
            step_cycles=self.array.cycles[: self.array.s], dram_busy=self.dram.busy_cycles,
            dram_latency_wait=self.dram.latency_cycles, dram_queue_wait=self.dram.queue_cycles,
            peak_occupancy=peaks,
            engines=engines, regions=regions, step_macs=self.array.active,
            step_wait=self.array.wait, step_cause=self.array.cause, data_stalls=self.array.data_stalls,
            bank_conflicts=dict(self.conflicts),
        )


class _Series:
    """A sequence of ints built by appends (one by one) and extends (arrays, from windows),
    read once at the end as one array."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._tail: list[int] = []

    def append(self, x: int) -> None:
        self._tail.append(x)

    def extend(self, xs: np.ndarray) -> None:
        self._flush()
        self._chunks.append(np.array(xs, dtype=np.int64))

    def _flush(self) -> None:
        if self._tail:
            self._chunks.append(np.array(self._tail, dtype=np.int64))
            self._tail = []

    def array(self) -> np.ndarray:
        self._flush()
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int64)


class _Engine:
    """A transfer engine walking ``seq``'s tiles in order; ``e`` is the next one."""

    order: int
    finished: int = 0
    name: str = ""
    e: int = 0
    seq: EventSeq
    starts: _Series
    finishes: _Series

    def advance(self) -> bool:
        raise NotImplementedError

    def dram_action(self, cycle: int, action: str) -> None:
        raise NotImplementedError

    @property
    def done(self) -> bool:
        return self.e >= self.seq.events

    def describe(self) -> str:
        return f"{self.name} stuck at tile {self.e} of {self.seq.events}"


class _Down(_Engine):
    """Input transfer P -> C (docs/timing.md, "Transfer engines")."""

    def __init__(self, m: _Machine, order: int, tensor: str, parent: str, child: str) -> None:
        self.m, self.order, self.t, self.parent, self.child = m, order, tensor, parent, child
        self.seq = m.sc.seqs[(child, tensor)]
        self.dst = m.region(child, tensor)
        self.from_dram = m.d.level(parent).kind is LevelKind.DRAM
        self.src = None if self.from_dram else m.region(parent, tensor)
        self.bw = min(m.bandwidth(parent, tensor), m.bandwidth(child, tensor))
        self.latency = m.read_latency(parent)
        self.to_edge = m.d.level(child).kind is LevelKind.PE
        self.banks = None if self.from_dram else machine.banks(m.d, parent, tensor)
        self.e = 0
        self.next_free = 0
        self.current: _Tile | None = None
        self.waiting_dram = False
        self.name = f"{tensor} {parent}->{child}"
        self.starts, self.finishes = _Series(), _Series()

    def advance(self) -> bool:
        progressed = False
        while not self.done and not self.waiting_dram:
            elements = self.seq.tile(self.e)
            if self.current is None:
                room = self.dst.room_time(len(elements))
                if room is None:
                    return progressed
                start = max(self.next_free, room)
                if self.from_dram:
                    self.m.push(start, self, "read")
                    self.waiting_dram = True
                    return True
                self.current = self.dst.open(self.e, len(elements), start)
                progressed = True
            assert self.src is not None
            pe = int(self.seq.parent_event[self.e])
            ptile = self.src.tile(pe)
            if ptile is None or ptile.fill is None or ptile.elements is None or ptile.values is None:
                return progressed
            pos = ptile.positions(elements)
            start = self.current.opened
            ready = np.full(len(pos), ptile.ready_all) if self.src.double else ptile.fill[pos] + 1
            if self.banks is not None:
                # a laid-out region: serve the reads cycle by cycle, as the banks allow
                bank, word = self.banks.place(pos, len(ptile.elements))
                moves, conflicts = banked_moves(ready, self.bw, start, bank, word, self.banks.ports)
                if conflicts:
                    self.m.conflicts[f"{self.parent}.{self.t}"] += conflicts
            else:
                moves = stream_moves(ready, self.bw, start)
            self._deliver(self.current, elements, moves + self.latency - 1, ptile.values[pos])
            finish = int(moves[-1])
            self.starts.append(self.current.opened)
            self.finishes.append(finish)
            self.m.count(self.parent, self.t, "reads", len(elements))
            last = self.e + 1 >= self.seq.events or self.seq.parent_event[self.e + 1] != pe
            if last:
                self.src.shrink(pe, finish)
            self.next_free = finish + 1
            self.e += 1
            self.current = None
            progressed = True
        return progressed

    def _deliver(self, tile: _Tile, elements: np.ndarray, fill: np.ndarray, values: np.ndarray) -> None:
        tile.elements = elements
        tile.values = values
        self.dst.publish_fills(tile, fill)
        if self.to_edge:
            self.m.edge_values[self.t][elements] = values
            self.m.delivered[self.t][elements] = True
        else:
            self.m.count(self.child, self.t, "fills", len(elements))

    def dram_action(self, cycle: int, action: str) -> None:
        elements = self.seq.tile(self.e)
        grant = self.m.dram.request(DramOp.READ, cycle, len(elements), self.m.d.bits(self.t))
        tile = self.dst.open(self.e, len(elements), cycle)
        fill = grant.cycles()
        self._deliver(tile, elements, fill, self.m.memory[self.t][elements])
        self.starts.append(cycle)
        self.finishes.append(int(fill[-1]))
        self.m.count(self.parent, self.t, "reads", len(elements))
        self.next_free = cycle + 1
        self.e += 1
        self.waiting_dram = False


class _Up(_Engine):
    """Output transfer child -> parent (docs/timing.md, "Output path")."""

    def __init__(self, m: _Machine, order: int, tensor: str, child: str, parent: str) -> None:
        self.m, self.order, self.t, self.child, self.parent = m, order, tensor, child, parent
        self.seq = m.sc.seqs[(child, tensor)]
        self.src = m.region(child, tensor)
        self.to_dram = m.d.level(parent).kind is LevelKind.DRAM
        self.dst = None if self.to_dram else m.region(parent, tensor)
        self.parent_seq = None if self.to_dram else m.sc.seqs[(parent, tensor)]
        self.bw = 0 if self.to_dram else m.bandwidth(parent, tensor)
        if not self.to_dram and m.d.level(child).kind is LevelKind.BUFFER:
            self.bw = min(self.bw, m.bandwidth(child, tensor))
        self.from_edge = m.d.level(child).kind is LevelKind.PE
        self.e = 0
        self.next_free = 0
        self.waiting_dram = False
        self.read: DramGrant | None = None
        self.finished = 0
        self.name = f"{tensor} {child}->{parent}"
        self.starts, self.finishes = _Series(), _Series()
        self.began = 0

    def advance(self) -> bool:
        progressed = False
        while not self.done and not self.waiting_dram:
            src = self.src.tile(self.e)
            if src is None or src.complete is None:
                return progressed
            t0 = max(self.next_free, src.complete + 1)
            if self.to_dram:
                assert src.elements is not None
                revisits = int(self.m.written_once[src.elements].sum())
                self.began = t0
                if revisits:
                    self.m.push(t0, self, "read")
                else:
                    self.m.push(t0, self, "write")
                self.waiting_dram = True
                return True
            assert self.dst is not None and self.parent_seq is not None
            pe = int(self.seq.parent_event[self.e])
            opened = _output_tile(self.dst, self.parent_seq, pe, t0)
            if opened is None:
                return progressed
            target, t0 = opened
            assert src.elements is not None and src.values is not None
            n = len(src.elements)
            finish = t0 + -(-n // self.bw) - 1
            if target.pending is None:
                target.pending = []
            target.pending.append((src.elements, src.values))
            self.m.count(self.parent, self.t, "updates", n)
            if not self.from_edge:
                self.m.count(self.child, self.t, "drains", n)
            self.src.shrink(self.e, finish)
            self.starts.append(t0)
            self.finishes.append(finish)
            last = self.e + 1 >= self.seq.events or self.seq.parent_event[self.e + 1] != pe
            if last:
                _accumulate(self.m, self.parent, self.t, target)
                target.complete = finish
            self.next_free = finish + 1
            self.e += 1
            progressed = True
        return progressed

    def dram_action(self, cycle: int, action: str) -> None:
        src = self.src.tile(self.e)
        assert src is not None and src.elements is not None and src.values is not None
        bits = self.m.d.bits(self.t)
        if action == "read":
            revisits = int(self.m.written_once[src.elements].sum())
            self.read = self.m.dram.request(DramOp.READ, cycle, revisits, bits)
            self.m.count(self.parent, self.t, "reads", revisits)
            self.m.push(max(cycle + 1, self.read.end), self, "write")
            return
        write = self.m.dram.request(DramOp.WRITE, cycle, len(src.elements), bits)
        mem = self.m.memory[self.t]
        old = np.where(self.m.written_once[src.elements], mem[src.elements], 0)
        mem[src.elements] = wrap(old + src.values, self.m.acc_bits)
        self.m.written_once[src.elements] = True
        self.m.count(self.parent, self.t, "updates", len(src.elements))
        if not self.from_edge:
            self.m.count(self.child, self.t, "drains", len(src.elements))
        done = max(cycle, write.end - 1)
        self.src.shrink(self.e, done)
        self.starts.append(self.began)
        self.finishes.append(done)
        self.finished = write.end
        self.next_free = done + 1
        self.e += 1
        self.read = None
        self.waiting_dram = False


def _last_in_parent(parent_event: np.ndarray) -> np.ndarray:
    """Whether each event is the last of its parent's (the next one has another parent)."""
    last = np.ones(len(parent_event), dtype=bool)
    last[:-1] = parent_event[1:] != parent_event[:-1]
    return last


def _output_tile(region: _Region, seq: EventSeq, event: int, t0: int) -> tuple[_Tile, int] | None:
    """The output tile ``event`` of ``region``, opened (at zero, with credits for all of it) in
    the first cycle from ``t0`` it has room, if partial sums arrive for it now; with the cycle
    they can start to land. None while its room is not known yet."""
    target = region.tile(event)
    if target is not None:
        return target, t0
    elements = seq.tile(event)
    room = region.room_time(len(elements))
    if room is None:
        return None
    t0 = max(t0, room)
    target = region.open(event, len(elements), t0)
    target.elements = elements
    target.values = np.zeros(len(elements), dtype=np.int64)
    return target, t0


def _accumulate(m: _Machine, level: str, tensor: str, target: _Tile, arrivals: int | None = None) -> None:
    """Add every partial sum an output tile received (wrapping once is the same as after every
    add: arithmetic modulo 2^bits). An element's first arrival in the tile is a plain write;
    each later one a read-modify-write. ``arrivals``: how many partial sums arrived, when the
    pending ones were added up beforehand (default: one per pending value)."""
    assert target.pending is not None and target.elements is not None and target.values is not None
    elements = np.concatenate([e for e, _ in target.pending])
    values = np.concatenate([v for _, v in target.pending])
    pos = target.positions(elements)
    np.add.at(target.values, pos, values)
    target.values[:] = wrap(target.values, m.acc_bits)
    arrived = len(pos) if arrivals is None else arrivals
    m.count(level, tensor, "reads", arrived - int(np.count_nonzero(np.bincount(pos, minlength=len(target.values)))))
    target.pending = None


class _EdgeLog:
    """An edge buffer whose producer or consumer is solved inside the array's loop: the
    credit rule of docs/timing.md over its tiles' sizes, and when each was opened and shrunk."""

    def __init__(self, tiles: int, sizes: np.ndarray) -> None:
        self.sizes = sizes
        self.capacity = tiles * (int(sizes[0]) if len(sizes) else 1)  # an event's first tile is its largest
        # per tile, the tile whose shrink frees enough for it (tiles are reserved in order):
        # the first whose prefix of sizes reaches what must be freed; -1: it fits from the start
        n = len(sizes)
        if n and np.all(sizes == sizes[0]) and sizes[0] > 0:  # equal tiles: the prefix is linear
            size = int(sizes[0])
            need = np.arange(1, n + 1, dtype=np.int64) * size - self.capacity
            self.room_index = np.where(need <= 0, -1, -(-need // size) - 1)
        else:
            prefix = np.cumsum(sizes, dtype=np.int64)
            need = prefix - self.capacity
            self.room_index = np.where(need <= 0, -1, np.searchsorted(prefix, need))
        self.opened = np.zeros(len(sizes), dtype=np.int64)
        self.shrunk = np.full(len(sizes), -1, dtype=np.int64)  # -1: not yet

    def room(self, e: int) -> int | None:
        """Earliest cycle tile ``e`` can be reserved; None if not known yet."""
        j = self.room_index[e]
        if j < 0:
            return 0
        shrunk = int(self.shrunk[j])
        return None if shrunk < 0 else shrunk + 1

    @property
    def peak(self) -> int:
        done = self.shrunk >= 0
        return peak_occupancy(self.opened, self.sizes, self.shrunk[done], self.sizes[done])

    def trace(self, name: str) -> RegionTrace:
        """The log as a trace (its arrays, not copies: the run that wrote them has ended)."""
        return RegionTrace(name, self.capacity, self.opened, self.sizes, self.shrunk)


class _Feeder(_Engine):
    """The transfer from a buffer into an input's edge buffer, solved inside the array's loop.

    Per docs/timing.md a tile starts when the previous one has moved and the edge buffer has
    room, and its last element moves at ``max(start + (n-1)//bw, R)`` where ``R`` depends only on
    when the parent's elements became readable: computed for a whole parent tile's children at
    once, so that only this integer recurrence runs per tile."""

    def __init__(self, m: _Machine, order: int, tensor: str, parent: str) -> None:
        self.m, self.order, self.t, self.parent = m, order, tensor, parent
        self.name = f"{tensor} {parent}->{EDGE}"
        self.seq = m.sc.seqs[(EDGE, tensor)]
        self.src = m.region(parent, tensor)
        self.bw = m.bandwidth(parent, tensor)
        self.latency = m.read_latency(parent)
        self.log = _EdgeLog(machine.edge_tiles(m.d, tensor), self.seq.sizes.astype(np.int64))
        count = self.seq.events
        self.pe = self.seq.parent_event.astype(np.int64)
        self.last_in_parent = _last_in_parent(self.pe)
        # per tile: D = (n-1)//bw, R (see the class doc), when it is wholly readable
        self.R = np.zeros(count, dtype=np.int64)
        self.D = np.zeros(count, dtype=np.int64)
        self.ready = np.zeros(count, dtype=np.int64)
        self.prepared = 0
        self.computed = 0
        self.next_free = 0
        self.starts, self.finishes = _Series(), _Series()

    @property
    def done(self) -> bool:
        return self.computed >= self.seq.events

    def describe(self) -> str:
        return f"{self.name} stuck at tile {self.computed} of {self.seq.events}"

    # A tile's credit comes from the array; the array asks for the tile when it needs it.

    def advance(self) -> bool:
        """Move as far ahead as the parent tiles and the credits allow, independently of the
        array: whatever the feeder frees (its parent's tiles) must be published before the
        next DRAM request is taken, or a request could come out of order."""
        start = self.computed
        while self.computed < self.seq.events and self.ready_at(self.computed) is not None:
            pass
        return self.computed > start

    def ready_at(self, e: int) -> int | None:
        """The first cycle tile ``e`` is wholly readable in the edge buffer; None if not known yet."""
        while self.computed <= e:
            k = self.computed
            if k >= self.prepared and not self.prepare():
                return None
            room = self.log.room(k)
            if room is None:
                return None
            start = max(self.next_free, room)
            finish = max(start + int(self.D[k]), int(self.R[k]))
            self.log.opened[k] = start
            self.ready[k] = finish + self.latency
            self.starts.append(start)
            self.finishes.append(finish)
            self.next_free = finish + 1
            if self.last_in_parent[k]:
                self.src.shrink(int(self.pe[k]), finish)
            self.computed += 1
        return int(self.ready[e])

    def prepare(self) -> bool:
        """Readiness, sizes and values of the children of one parent tile, at once (from the
        next unprepared one to the parent's last)."""
        k0 = self.prepared
        pe = int(self.pe[k0])
        ptile = self.src.tile(pe)
        if ptile is None or not ptile.known or ptile.elements is None or ptile.values is None:
            return False
        k1 = int(np.searchsorted(self.pe, pe, side="right"))
        seq = self.seq
        n = seq.sizes[k0:k1]
        self.m.count(self.parent, self.t, "reads", int(n.sum()))
        self.D[k0:k1] = (n - 1) // self.bw
        # children with the same tile (a stream revisits its tiles fold after fold) share
        # their elements, values and readiness: work on the distinct ones
        events, inverse, count = seq.distinct_tiles(np.arange(k0, k1))
        shared = count < k1 - k0
        if not shared:
            events = np.arange(k0, k1)
        r = np.zeros(len(events), dtype=np.int64)
        sizes = seq.sizes[events]
        bounds = np.searchsorted(np.cumsum(sizes), np.arange(1, 1 + int(sizes.sum()) // _PREPARE_ELEMENTS)
                                 * _PREPARE_ELEMENTS)
        for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), len(events)]):
            if b > a:
                r[a:b] = self._ready(ptile, events[a:b], sizes[a:b])
        self.R[k0:k1] = r[inverse] if shared else r
        self.prepared = k1
        return True

    def _ready(self, ptile: _Tile, events: np.ndarray, n: np.ndarray) -> np.ndarray:
        """Deliver the values of children ``events`` (of sizes ``n``) to the array edge, and
        return for each the latest of ``ready[j] + (elements after j) // bw`` over its elements."""
        assert ptile.values is not None
        elements = self.seq.tiles(events)
        pos = ptile.positions(elements)
        self.m.edge_values[self.t][elements] = ptile.values[pos]
        self.m.delivered[self.t][elements] = True
        if self.src.double:
            ready = np.full(len(elements), ptile.ready_all, dtype=np.int64)
        else:
            assert ptile.fill is not None
            ready = ptile.fill[pos] + 1
        if n[0] > 0 and np.all(n == n[0]):
            w = int(n[0])
            lag = (w - 1 - np.arange(w, dtype=np.int64)) // self.bw
            return np.asarray((ready.reshape(-1, w) + lag).max(axis=1))
        firsts = np.concatenate([[0], np.cumsum(n)[:-1]])
        within = np.arange(len(elements), dtype=np.int64) - np.repeat(firsts, n)
        return np.asarray(np.maximum.reduceat(ready + (np.repeat(n, n) - 1 - within) // self.bw, firsts))


class _Drain(_Engine):
    """The transfer of the array's drained partial sums into the output's parent buffer,
    solved alongside the array: tile ``e`` moves from ``max(previous finish + 1, complete + 1)``
    (and, for a new parent tile, its room) at ``bw`` elements per cycle."""

    def __init__(self, m: _Machine, order: int, tensor: str, parent: str) -> None:
        self.m, self.order, self.t, self.parent = m, order, tensor, parent
        self.name = f"{tensor} {EDGE}->{parent}"
        self.seq = m.sc.seqs[(EDGE, tensor)]
        self.dst = m.region(parent, tensor)
        self.parent_seq = m.sc.seqs[(parent, tensor)]
        self.bw = m.bandwidth(parent, tensor)
        self.log = _EdgeLog(machine.edge_tiles(m.d, tensor), self.seq.sizes.astype(np.int64))
        count = self.seq.events
        self.pe = self.seq.parent_event.astype(np.int64)
        self.last_in_parent = _last_in_parent(self.pe)
        self.complete = np.full(count, -1, dtype=np.int64)  # when each tile became whole (-1: not yet)
        self.pending = 0  # the first drain into the current parent tile (added when it completes)
        self.e = 0
        self.next_free = 0
        self.starts, self.finishes = _Series(), _Series()

    def room_at(self, e: int) -> int | None:
        room = self.log.room(e)
        if room is None:
            self.advance()
            room = self.log.room(e)
        return room

    def deliver(self, e: int, cycle: int) -> None:
        self.complete[e] = cycle

    def advance(self) -> bool:
        progressed = False
        while self.e < self.seq.events:
            e = self.e
            complete = int(self.complete[e])
            if complete < 0:
                return progressed
            t0 = max(self.next_free, complete + 1)
            pe = int(self.pe[e])
            opened = _output_tile(self.dst, self.parent_seq, pe, t0)
            if opened is None:
                return progressed
            target, t0 = opened
            n = int(self.log.sizes[e])
            finish = t0 + -(-n // self.bw) - 1
            self.m.count(self.parent, self.t, "updates", n)
            self.log.shrunk[e] = finish
            self.starts.append(t0)
            self.finishes.append(finish)
            if self.last_in_parent[e]:
                self._close(target, e, finish)
            self.next_free = finish + 1
            self.e += 1
            progressed = True
        return progressed

    def _close(self, target: _Tile, last: int, finish: int) -> None:
        """The last drain into a parent tile (``last``) moved: add the partial sums, the tile is
        complete."""
        events = np.arange(self.pending, last + 1, dtype=np.int64)  # a parent tile's drains are consecutive
        self.pending = last + 1
        seq = self.seq
        m = self.m
        arrivals = int(seq.sizes[events].sum())
        summed = summed_values(m.d, m.sc, m.memory, seq, events)
        if summed is not None:
            target.pending = [summed]
            _accumulate(m, self.parent, self.t, target, arrivals)
            target.complete = finish
            return
        values = m.array.drain_values(events)
        sizes = seq.sizes[events]
        if len(events) > 1 and sizes[0] > 0 and np.all(sizes == sizes[0]):
            # drains of the same array tile (one per fold of the reduction) add up before
            # they land: one row per distinct tile
            distinct, inverse, count = seq.distinct_tiles(events)
            if count < len(events):
                rows = values.reshape(len(events), -1)
                folds = len(events) // count
                if folds * count == len(events) and np.array_equal(inverse, np.tile(np.arange(count), folds)):
                    # the tiles come round in the same order, fold after fold
                    values = rows.reshape(folds, count, -1).sum(axis=0, dtype=np.int64).ravel()
                else:
                    order, bounds = grouped(inverse, count)
                    values = np.add.reduceat(rows[order], bounds[:-1], axis=0, dtype=np.int64).ravel()
                events = distinct
        target.pending = [(seq.tiles(events), values)]
        _accumulate(m, self.parent, self.t, target, arrivals)
        target.complete = finish

    def open_limit(self) -> int:
        """The first tile from the next one whose parent tile is not open yet."""
        if self.e >= self.seq.events:
            return self.e
        pe = int(self.pe[self.e])
        if self.dst.tile(pe) is None:
            return self.e
        return int(np.searchsorted(self.pe, pe, side="right"))

    def commit(self, e0: int, e1: int, finish: np.ndarray, dur: np.ndarray) -> None:
        """Tiles ``e0..e1-1`` (the next ones, all into open parent tiles) finish at ``finish``
        after ``dur`` cycles each: the window's solution of :meth:`advance`'s loop."""
        assert e0 == self.e
        self.m.count(self.parent, self.t, "updates", int(self.seq.sizes[e0:e1].sum()))
        self.log.shrunk[e0:e1] = finish
        self.starts.extend(finish - dur + 1)
        self.finishes.extend(finish)
        for e in (np.flatnonzero(self.last_in_parent[e0:e1]) + e0).tolist():
            target = self.dst.tile(int(self.pe[e]))
            assert target is not None
            self._close(target, e, int(finish[e - e0]))
        self.next_free = int(finish[-1]) + 1
        self.e = e1


class _Array:
    """Issues steps per docs/timing.md, "The array": a window of steps at once where it can
    (:mod:`sasim.sim.window`), else one by one. Per-step data lives in plain lists for the
    step-by-step loop."""

    def __init__(self, m: _Machine, windows: bool = True) -> None:
        self.m = m
        d, sc = m.d, m.sc
        wl = d.workload
        self.sigma = machine.array_skew(d)
        self.depth = d.architecture.pe.mac_latency
        self.rows_used = d.array_used[0]
        self.inputs = list(wl.operands)
        self.out = wl.output
        self.seq = {t: sc.seqs[(EDGE, t)] for t in wl.tensors}
        steps = sc.steps
        # per step, for the step-by-step loop (built when it first runs): each tensor's event,
        # whether one starts or ends there
        self.event_of: dict[str, list[int]] = {}
        self.starts: dict[str, list[bool]] = {}
        self.ends: dict[str, list[bool]] = {}
        self.pe_sums_np = {t: seq.pe_tile_sums() for t, seq in self.seq.items()}
        self.pe_sums: dict[str, list[int]] = {}  # per event, for the step-by-step loop
        self.out_sizes: list[int] = []
        self.active = sc.active_pes()
        self.stationary_input = d.stationary if d.stationary in wl.operands else None
        self.fold_np = sc.fold_start & (d.stationary is not None)
        self.fold_boundary: list[bool] = []
        self.latency = self.sigma + self.depth
        self.s = 0
        self.last_issue: int | None = None
        self.cycles = np.zeros(steps, dtype=np.int64)  # issue cycle of each step
        self.wait = np.zeros(steps, dtype=np.int64)  # stall cycles before each step
        self.cause: list[str] = []  # the largest cause of those stalls ("" if none)
        self.stalls: Counter[str] = Counter()
        # a drain into a buffer computes what it needs when it closes a tile; an edge that
        # drains straight to DRAM needs every drain event's values
        self.drains: DrainValues | None = drain_values(d, sc, m.memory) if m.drain is None else None
        self.reported = 0
        # running totals, added to the machine's counts at the end
        self.fills = dict.fromkeys(self.inputs, 0)
        self.drained = 0
        self.labels = {t: f"input {t}" for t in self.inputs}
        self.feeders = m.feeders
        self.drain = m.drain
        self.data_stalls = 0  # cycles after the first step spent waiting for data or output room
        # windows of steps are solved at once (sasim.sim.window) when every edge buffer's other
        # side is solved with the array; otherwise steps issue one by one
        self.windowed = windows and self.drain is not None and all(t in self.feeders for t in self.inputs)
        self.one_by_one_until = 0  # issue steps one by one up to here
        self.one_by_one = ONE_BY_ONE

    @property
    def done(self) -> bool:
        return self.s >= self.m.sc.steps

    def drain_values(self, events: np.ndarray) -> np.ndarray:
        """The values of drain ``events``, concatenated in the order given."""
        if self.drains is not None:
            return self.drains.gather(events)
        return drain_values(self.m.d, self.m.sc, self.m.memory, events).flat

    def describe(self) -> str:
        return f"the array stuck at step {self.s} of {self.m.sc.steps}"

    def advance(self) -> bool:
        """Issue steps while what they need is known."""
        steps = self.m.sc.steps
        if self.s >= steps:
            return False
        begin = self.s
        while self.s < steps:
            if self.windowed and self.s >= self.one_by_one_until:
                issued, short = issue_window(self, WINDOW)
                if short and issued < WINDOW // 8:
                    # the fixed point keeps moving (stalls feed back): one by one for a while,
                    # longer each time this repeats
                    self.one_by_one_until = self.s + self.one_by_one
                    self.one_by_one = min(2 * self.one_by_one, 64 * ONE_BY_ONE)
                elif not short:
                    self.one_by_one = ONE_BY_ONE
                if issued:
                    continue
                # the window's first step waits for something not known yet, as it would one by one
                break
            if not self._issue(self.one_by_one_until - self.s if self.windowed else steps):
                break
        if self.s >= steps:
            self._flush()
        return self.s > begin

    def _issue(self, limit: int) -> bool:
        """Issue up to ``limit`` steps one by one while what they need is known. This runs once
        per step, so it keeps its state in locals and plain lists; the rules are those of
        docs/timing.md, "The array"."""
        m = self.m
        steps = min(m.sc.steps, self.s + limit)
        if len(self.fold_boundary) != m.sc.steps:  # first time here
            self._step_lists()
        edge = {t: m.regions[("edge", t)] for t in m.d.workload.tensors if ("edge", t) in m.regions}
        drain = self.drain
        out_edge = edge.get(self.out)
        # per input: starts, ends, event index, feeder (or None), edge region (or None), fills per event, label
        inputs = [
            (t, self.starts[t], self.ends[t], self.event_of[t], self.feeders.get(t), edge.get(t), self.pe_sums[t],
             self.labels[t])
            for t in self.inputs
        ]
        out_starts, out_ends, out_event = self.starts[self.out], self.ends[self.out], self.event_of[self.out]
        out_sizes, out_sums = self.out_sizes, self.pe_sums[self.out]
        fold_boundary, cycles = self.fold_boundary, self.cycles
        latency = self.latency
        stat_input = self.stationary_input
        stat_label = f"input {stat_input}"
        s = self.s
        progressed = False
        while s < steps:
            last = self.last_issue
            poll = 0 if last is None else last + 1
            thresholds: list[tuple[str, int]] = []
            stat = 0
            blocked = False
            for t, starts, _, event_of, feeder, region, _, label in inputs:
                if starts[s]:
                    e = event_of[s]
                    if feeder is not None:
                        at = int(feeder.ready[e]) if e < feeder.computed else feeder.ready_at(e)
                    else:
                        assert region is not None
                        tile = region.tile(e)
                        at = tile.ready_all if tile is not None and tile.known else None
                    if at is None:
                        blocked = True
                        break
                    if t == stat_input:
                        stat = at
                    thresholds.append((label, at))
            if blocked:
                break
            if fold_boundary[s]:
                drained = 0 if last is None else last + latency
                preload = max(poll, drained, stat) + self.rows_used
                thresholds[:0] = [("fold drain", drained), (stat_label, stat), ("preload", preload)]
            oe = out_event[s]
            if out_starts[s]:
                if drain is not None:
                    room = drain.room_at(oe)
                else:
                    assert out_edge is not None
                    room = out_edge.room_time(out_sizes[oe])
                if room is None:
                    break
                thresholds.append(("output full", room))
            c = poll
            for _, at in thresholds:
                if at > c:
                    c = at
            if c > poll:
                self._charge(poll, thresholds)
            else:
                self.cause.append("")
            # issue step s in cycle c
            for t, starts, ends, event_of, feeder, region, sums, _ in inputs:
                e = event_of[s]
                if starts[s]:
                    self.fills[t] += sums[e]
                if ends[s]:
                    if feeder is not None:
                        feeder.log.shrunk[e] = c
                    else:
                        assert region is not None
                        region.shrink(e, c)
            if drain is not None:
                if out_starts[s]:
                    drain.log.opened[oe] = c
                if out_ends[s]:
                    self.drained += out_sums[oe]
                    drain.deliver(oe, c + latency)
            else:
                assert out_edge is not None
                if out_starts[s]:
                    out_edge.open(oe, out_sizes[oe], c)
                if out_ends[s]:
                    self.drained += out_sums[oe]
                    tile = out_edge.tile(oe)
                    assert tile is not None
                    tile.elements = self.seq[self.out].tile(oe)
                    assert self.drains is not None
                    tile.values = self.drains[oe]
                    tile.fill = np.full(tile.n, c + latency, dtype=np.int64)
                    tile.ready_all = c + latency + 1
                    tile.complete = c + latency
            cycles[s] = c
            self.last_issue = c
            s += 1
            self.s = s
            progressed = True
            if m.progress is not None and s - self.reported >= 4096:
                self.reported = s
                m.progress(s, m.sc.steps)
        return progressed

    def _step_lists(self) -> None:
        steps = self.m.sc.steps
        for t, seq in self.seq.items():
            flags = np.zeros(steps, dtype=np.int64)
            if seq.events:
                flags[seq.first[1:]] = 1
            self.event_of[t] = np.cumsum(flags).tolist()
            starts = np.zeros(steps, dtype=bool)
            starts[seq.first] = True
            ends = np.zeros(steps, dtype=bool)
            ends[seq.last] = True
            self.starts[t], self.ends[t] = starts.tolist(), ends.tolist()
        self.fold_boundary = self.fold_np.tolist()
        self.pe_sums = {t: sums.tolist() for t, sums in self.pe_sums_np.items()}
        self.out_sizes = self.seq[self.out].sizes.tolist()

    def _charge(self, poll: int, thresholds: list[tuple[str, int]]) -> None:
        level = poll
        worst, worst_cause = 0, ""
        for cause, t in thresholds:
            if t > level:
                self.stalls[cause] += t - level
                if t - level > worst:
                    worst, worst_cause = t - level, cause
                if self.s and cause not in ("fold drain", "preload"):
                    self.data_stalls += t - level
                level = t
        self.wait[self.s] = level - poll
        self.cause.append(worst_cause)

    def _flush(self) -> None:
        """Once every step has issued: add the totals to the machine's counts (one read of
        each input and one update of the output per MAC; a MAC per active PE and step)."""
        m = self.m
        macs = int(self.active.sum())
        for t in self.inputs:
            m.count(EDGE, t, "fills", self.fills[t])
            m.count(EDGE, t, "reads", macs)
            self.fills[t] = 0
        m.count(EDGE, self.out, "updates", macs)
        m.count(EDGE, self.out, "drains", self.drained)
        self.drained = 0


def run_fast(design: Design, tensors: dict[str, np.ndarray],
             progress: Callable[[int, int], None] | None = None, *, windows: bool = True) -> RunRecord:
    """Simulate ``design`` on ``tensors``; ``progress(steps_done, steps)`` is called now and then.
    ``windows=False`` issues the array's steps one by one instead of solving windows of them at
    once: the same result, slower (it exists to check that)."""
    design.workload.check_tensors(tensors)
    m = _Machine(design, Schedule(design), tensors, progress, windows)
    try:
        return m.run()
    finally:
        m.release()
