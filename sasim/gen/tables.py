"""The sequencer tables of a generated accelerator, compiled from the Design's program.

The generated controller does not re-derive tiles at run time: the generator walks
the loop nest once (the same :func:`sasim.sim.program.build_program` the golden
simulator uses) and stores, per transfer engine and per array step, what the
hardware needs to know -- tile sizes, the parent tile each child tile comes from,
each element's position in its parent tile, the array's per-step flags and each
PE's operand positions. Everything timing-dependent (credits, readiness, DRAM
arrival, stalls) is decided by the hardware itself, cycle by cycle, per
docs/timing.md.

This module also decides what the generator can build; :func:`check_supported`
raises :class:`~sasim.errors.GenerationError` with the reason otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from sasim.design.design import Design, LevelKind, Loop
from sasim.errors import GenerationError
from sasim.mapping.spec import Axis
from sasim.sim import machine
from sasim.sim.program import MAX_GOLDEN_POINTS, Program, TileSeq, build_program, iteration_points

__all__ = [
    "ArrayTables", "InputTables", "OutputTables", "Tables", "build_tables", "check_supported", "compile_program",
    "program_limit", "MAX_TABLE_ENTRIES",
]

#: Sequencer tables grow with the number of steps and are compiled in full (about 2 s and
#: 110 MB per million entries) before long ones are stored as blocks (:mod:`sasim.gen.rom`);
#: beyond this the generator refuses by default. Large workloads raise it (``--table-limit``).
MAX_TABLE_ENTRIES = 1 << 20


@dataclass(frozen=True)
class InputTables:
    """One input tensor's path: DRAM -> buffer region -> edge buffer -> array."""

    tensor: str
    bits: int
    buffer: str
    buffer_capacity: int  # elements (docs/timing.md, "Buffers")
    double: bool
    bandwidth: int  # buffer reads per cycle
    read_latency: int
    dram_sizes: np.ndarray  # per buffer tile: elements (one DRAM read request each)
    edge_sizes: np.ndarray  # per array tile: elements
    edge_parent: np.ndarray  # per array tile: the buffer tile it is read from
    edge_last: np.ndarray  # per array tile: is it the last one read from its buffer tile
    edge_positions: np.ndarray  # concatenated: each array-tile element's position in its buffer tile
    edge_capacity: int  # elements
    edge_slots: int  # array tiles the edge buffer can hold at once (physical slots)


@dataclass(frozen=True)
class OutputTables:
    """The output's path: array -> edge buffer -> buffer region -> DRAM."""

    tensor: str
    bits: int
    buffer: str
    buffer_capacity: int
    bandwidth: int  # buffer writes per cycle
    edge_sizes: np.ndarray  # per drain tile of the array: elements
    edge_parent: np.ndarray  # the buffer tile each drain tile is accumulated into
    edge_last: np.ndarray  # is it the last drain into its buffer tile
    edge_positions: np.ndarray  # concatenated: each element's position in its buffer tile
    edge_rmw: np.ndarray  # concatenated: does the buffer tile already hold a partial sum there
    edge_capacity: int
    edge_slots: int
    dram_sizes: np.ndarray  # per buffer tile: elements (one DRAM write request each)


@dataclass(frozen=True)
class ArrayTables:
    """Per array step (docs/timing.md, "The array")."""

    rows: int  # physical array
    cols: int
    rows_used: int
    skew: int
    mac_latency: int
    stationary: str | None
    fold_start: np.ndarray  # (S,) bool
    starts: dict[str, np.ndarray]  # per tensor (S,) bool: an array tile / drain tile starts here
    lasts: dict[str, np.ndarray]  # per tensor (S,) bool: ... ends here
    sizes: dict[str, np.ndarray]  # per tensor (S,): elements of the tile in use at this step
    #: per tensor (S,): PE-level fills (inputs, at a tile's first step) or drains (output, at its last)
    pe_events: dict[str, np.ndarray]
    active: np.ndarray  # (S,) active PEs
    valid: np.ndarray  # (S, R*C) bool, physical PE order (row-major)
    positions: dict[str, np.ndarray]  # per tensor (S, R*C): the PE's element position in its tile

    @property
    def steps(self) -> int:
        return len(self.fold_start)


@dataclass(frozen=True)
class Tables:
    inputs: tuple[InputTables, ...]
    output: OutputTables
    array: ArrayTables

    @property
    def entries(self) -> int:
        n = int(self.array.steps * (1 + self.array.valid.shape[1]))
        for t in self.inputs:
            n += len(t.dram_sizes) + len(t.edge_sizes) + len(t.edge_positions)
        o = self.output
        return n + len(o.edge_sizes) + len(o.edge_positions) + len(o.dram_sizes)


def check_supported(design: Design) -> None:
    """Raise :class:`GenerationError` for what this generator cannot build, saying why."""
    wl = design.workload
    for t in wl.tensors:
        keepers = [lvl.name for lvl in design.keepers(t)]
        buffers = [lvl for lvl in design.keepers(t) if lvl.kind is LevelKind.BUFFER]
        if len(buffers) != 1:
            raise GenerationError(
                f"tensor {t!r} is kept by {' -> '.join(keepers)}; the generator builds exactly one buffer level "
                f"between DRAM and the array for every tensor (no bypass, no second buffer level)"
            )
    if design.layouts:
        where = ", ".join(f"{b}.{t}" for b, t in sorted(design.layouts))
        raise GenerationError(
            f"the mapping lays out {where} explicitly; the generator builds ideal (conflict-free) layouts only"
        )


def _edge_slots(sizes: np.ndarray, capacity: int) -> int:
    """The most consecutive tiles whose sizes fit ``capacity`` at once: the slots the
    credits can ever have reserved together."""
    best, total, lo = 0, 0, 0
    values = sizes.tolist()
    for hi, n in enumerate(values):
        total += n
        while total > capacity:
            total -= values[lo]
            lo += 1
        best = max(best, hi - lo + 1)
    return max(1, best)


def _concat(tiles: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(tiles).astype(np.int64) if tiles else np.zeros(0, dtype=np.int64)


def _keyed(which: np.ndarray, elements: np.ndarray, tiles: int) -> np.ndarray:
    """One int64 key per (tile, element) pair that sorts as the pair does: tile, then element."""
    bound = int(elements.max()) + 1 if len(elements) else 1
    if tiles * bound >= 1 << 62:
        raise GenerationError(f"{tiles:,} tiles of up to {bound:,} elements are beyond the table compiler")
    return np.asarray(which.astype(np.int64) * bound + elements)


def _ranks(flat: np.ndarray, sizes: np.ndarray, which: np.ndarray, elements: np.ndarray) -> np.ndarray:
    """The position of each of ``elements`` in its sorted tile ``which[i]``, for all of them
    at once; the tiles are given concatenated (``flat``) with their ``sizes``, and each
    element is in its tile."""
    tile_of = np.repeat(np.arange(len(sizes), dtype=np.int64), sizes)
    keys = _keyed(np.concatenate([tile_of, which]), np.concatenate([flat, elements]), len(sizes))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    return np.asarray(np.searchsorted(keys[: len(flat)], keys[len(flat):]) - starts[which])


def _flat(seq: TileSeq) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sequence's tile sizes, its tiles concatenated, and each element's parent event."""
    sizes = _sizes(seq)
    return sizes, _concat(seq.tiles), np.repeat(seq.parent_event.astype(np.int64), sizes)


def _last_in_parent(seq: TileSeq) -> np.ndarray:
    par = seq.parent_event
    return np.append(par[1:] != par[:-1], True) if len(par) else np.zeros(0, dtype=bool)


def _sizes(seq: TileSeq) -> np.ndarray:
    return np.array([len(t) for t in seq.tiles], dtype=np.int64)


def build_tables(design: Design, program: Program | None = None, *, max_entries: int = MAX_TABLE_ENTRIES) -> Tables:
    """Compile ``design`` into sequencer tables (after :func:`check_supported`); refuses
    designs whose tables need more than ``max_entries`` entries."""
    check_supported(design)
    p = program or compile_program(design, max_entries)
    wl = design.workload
    pe = design.pe_level.name
    caps = {(r.level, r.tensor): r for r in machine.regions(design)}
    inputs = []
    for t in wl.operands:
        buf = next(lvl.name for lvl in design.keepers(t) if lvl.kind is LevelKind.BUFFER)
        parent, child = p.seqs[(buf, t)], p.seqs[(pe, t)]
        sizes, elements, which = _flat(child)
        parent_sizes, parent_flat, _ = _flat(parent)
        capacity = machine.edge_tiles(design, t) * int(sizes[0])
        inputs.append(InputTables(
            tensor=t, bits=design.bits(t), buffer=buf, buffer_capacity=caps[(buf, t)].capacity,
            double=caps[(buf, t)].double, bandwidth=machine.bandwidth(design, buf, t),
            read_latency=machine.read_latency(design, buf), dram_sizes=parent_sizes, edge_sizes=sizes,
            edge_parent=child.parent_event.astype(np.int64), edge_last=_last_in_parent(child),
            edge_positions=_ranks(parent_flat, parent_sizes, which, elements), edge_capacity=capacity,
            edge_slots=_edge_slots(sizes, capacity),
        ))
    o = wl.output
    buf = next(lvl.name for lvl in design.keepers(o) if lvl.kind is LevelKind.BUFFER)
    parent, child = p.seqs[(buf, o)], p.seqs[(pe, o)]
    sizes, arriving, which = _flat(child)
    parent_sizes, leaving, _ = _flat(parent)
    if len(np.unique(leaving)) != len(leaving):
        raise GenerationError(
            f"output {o!r} leaves the buffer {buf!r} more than once for the same elements (partial sums "
            f"revisit DRAM); the generator needs the buffer's output tile to cover the whole reduction -- "
            f"move the reduction loops inside {buf!r}"
        )
    # A drain tile's element is read-modify-written when an earlier drain into the same
    # buffer tile already wrote it: every (buffer tile, element) pair but its first drain.
    pairs = _keyed(which, arriving, parent.events)
    rmw = np.ones(len(pairs), dtype=bool)
    rmw[np.unique(pairs, return_index=True)[1]] = False
    capacity = machine.edge_tiles(design, o) * int(sizes[0])
    output = OutputTables(
        tensor=o, bits=design.bits(o), buffer=buf, buffer_capacity=caps[(buf, o)].capacity,
        bandwidth=machine.bandwidth(design, buf, o), edge_sizes=sizes,
        edge_parent=child.parent_event.astype(np.int64), edge_last=_last_in_parent(child),
        edge_positions=_ranks(leaving, parent_sizes, which, arriving),
        edge_rmw=rmw,
        edge_capacity=capacity, edge_slots=_edge_slots(sizes, capacity), dram_sizes=parent_sizes,
    )
    tables = Tables(tuple(inputs), output, _array_tables(design, p))
    if tables.entries > max_entries:
        raise GenerationError(
            f"this design's sequencer tables need {tables.entries:,} entries (limit {max_entries:,}): "
            f"{tables.array.steps:,} array steps on {design.architecture.array.rows}x"
            f"{design.architecture.array.cols} PEs; use a smaller workload, or raise the table limit (--table-limit)"
        )
    return tables


def program_limit(max_entries: int) -> int:
    """The iteration points the table compiler walks at most, for a table limit of
    ``max_entries``: the tables hold at least one entry per array step and PE, so a design
    of more points than entries rarely fits (a few more are allowed for clipped steps)."""
    return max(MAX_GOLDEN_POINTS, 2 * max_entries)


def compile_program(design: Design, max_entries: int = MAX_TABLE_ENTRIES) -> Program:
    """The program the tables are compiled from, refused up front (before walking the loop
    nest) when it has more points than a table limit of ``max_entries`` allows."""
    points = iteration_points(design)
    walk_limit = program_limit(max_entries)
    if points > walk_limit:
        raise GenerationError(
            f"the generator walks every iteration point to compile its sequencer tables and this design has "
            f"{points:,} (limit {walk_limit:,} with a table limit of {max_entries:,} entries); "
            f"use a smaller workload, or raise the table limit (--table-limit)"
        )
    return build_program(design, max_points=walk_limit)


def _array_tables(design: Design, p: Program) -> ArrayTables:
    wl = design.workload
    arr = design.architecture.array
    pe = design.pe_level.name
    steps = p.steps
    rows_used, cols_used = design.array_used
    # Program PE slots enumerate the spatial loops row-major over (Y loops..., X loops...) in nest
    # order; map each to its physical (row, col).
    spatial = [lp for lp in design.loops if lp.is_spatial]
    slot_row, slot_col = _physical_slots(spatial)
    n_pe = arr.rows * arr.cols
    phys = slot_row * arr.cols + slot_col
    valid = np.zeros((steps, n_pe), dtype=bool)
    valid[:, phys] = p.valid
    starts, lasts, sizes, events, positions = {}, {}, {}, {}, {}
    for t in wl.tensors:
        seq = p.seqs[(pe, t)]
        event_of = np.searchsorted(seq.first, np.arange(steps), side="right") - 1  # events run over every step
        st = np.zeros(steps, dtype=bool)
        st[seq.first] = True
        ls = np.zeros(steps, dtype=bool)
        ls[seq.last] = True
        starts[t], lasts[t] = st, ls
        tile_sizes = _sizes(seq)
        sizes[t] = tile_sizes[event_of]
        per_event = p.pe_fills[t] if t != wl.output else p.pe_drains
        events[t] = np.where(st if t != wl.output else ls, per_event[event_of], 0)
        step, slot = np.nonzero(p.valid)
        pos = np.zeros((steps, n_pe), dtype=np.int64)
        pos[step, phys[slot]] = _ranks(_concat(seq.tiles), tile_sizes, event_of[step], p.element[t][step, slot])
        positions[t] = pos
    return ArrayTables(
        rows=arr.rows, cols=arr.cols, rows_used=rows_used, skew=machine.array_skew(design),
        mac_latency=design.architecture.pe.mac_latency, stationary=design.stationary,
        fold_start=p.fold_start.copy(), starts=starts, lasts=lasts, sizes=sizes, pe_events=events,
        active=p.valid.sum(axis=1).astype(np.int64), valid=valid, positions=positions,
    )


def _physical_slots(spatial: list[Loop]) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of each of the program's PE slots: the Y loops number the rows and the X loops
    the columns, each mixed-radix in nest order."""
    rows, cols = [], []
    for idx in product(*(range(lp.factor) for lp in spatial)):
        r = c = 0
        for lp, i in zip(spatial, idx):
            if lp.axis is Axis.Y:
                r = r * lp.factor + i
            else:
                c = c * lp.factor + i
        rows.append(r)
        cols.append(c)
    return np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)
