"""A brute-force oracle for the counting semantics of ``docs/model.md``.

It walks every iteration point of a Design's loop nest and counts, per level and
tensor, the reads, fills, updates and drains exactly as docs/model.md defines them,
with tiles held as Python sets of element index tuples. No closed forms, no
cleverness: it is O(points) and meant for small designs only. It must never import
``sasim.model`` (it is what the model is checked against).

Each function below quotes the sentence of docs/model.md it implements.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from sasim.design import Design, Level, LevelKind
from sasim.workload import Role

__all__ = ["Counts", "OracleResult", "oracle", "event_tiles", "iteration_points", "r_star", "MAX_NEST_ITERATIONS"]

# The walker visits every combination of loop indices: refuse designs where that is slow.
MAX_NEST_ITERATIONS = 200_000

Element = tuple[int, ...]
Prefix = tuple[int, ...]


@dataclass(frozen=True)
class Counts:
    """Words moved at one level for one tensor."""

    reads: int = 0
    fills: int = 0
    updates: int = 0
    drains: int = 0


@dataclass(frozen=True)
class OracleResult:
    """Counts for every level (DRAM, buffers, PE) and every tensor; non-keepers are all zero."""

    accesses: dict[str, dict[str, Counts]]
    macs: int
    steps: int
    folds: int


# --- the loop nest -----------------------------------------------------------------------


def strides(design: Design) -> list[int]:
    """"the stride of l_j is the product of the factors of l_{j+1} … l_k" (same dimension)."""
    out = []
    for j, lp in enumerate(design.loops):
        out.append(math.prod(later.factor for later in design.loops[j + 1 :] if later.dim == lp.dim))
    return out


def iteration_points(design: Design) -> Iterator[tuple[tuple[int, ...], dict[str, int]]]:
    """Every existing iteration point, outer loop slowest: (loop indices, dimension indices).

    "an iteration point has index d = Σ idx_j · stride_j, and the point exists only if
    d < size(d)".
    """
    loops = design.loops
    sizes = design.workload.dims
    total = math.prod(lp.factor for lp in loops)
    if total > MAX_NEST_ITERATIONS:
        raise ValueError(f"the oracle walks every loop index combination; {total} is too many")
    st = strides(design)
    for idx in itertools.product(*(range(lp.factor) for lp in loops)):
        point = {d: 0 for d in sizes}
        for lp, i, s in zip(loops, idx, st):
            point[lp.dim] += i * s
        if all(point[d] < sizes[d] for d in sizes):
            yield idx, point


def element(design: Design, tensor: str, point: dict[str, int]) -> Element:
    """The element of ``tensor`` a point touches: one value per index expression."""
    return tuple(sum(term.coef * point[term.dim] for term in expr.terms) for expr in design.workload.indices(tensor))


def r_star(design: Design, level: Level, tensor: str) -> int | None:
    """"the innermost temporal loop outside L's boundary that is relevant to t and has a
    factor above 1" (its position in the nest), or None."""
    for pos in reversed(range(level.boundary)):
        lp = design.loops[pos]
        if not lp.is_spatial and lp.factor > 1 and design.workload.is_relevant(tensor, lp.dim):
            return pos
    return None


def event_prefix(idx: tuple[int, ...], rstar: int | None) -> Prefix:
    """"L takes a new tile of t at the start of every (non-empty) iteration of the loops
    at or outside r*" -- an event is identified by the indices of those loops.
    "If there is no such r*, L takes its tile once": the empty prefix."""
    return () if rstar is None else idx[: rstar + 1]


# --- the walk ----------------------------------------------------------------------------


@dataclass
class _Walk:
    macs: int
    temporal_points: set[tuple[int, ...]]
    # (level, tensor) -> event key -> tile (set of elements). At PE the key is
    # (event prefix, spatial indices): "each PE is an instance".
    tiles: dict[tuple[str, str], dict[object, set[Element]]]
    # tensor -> PE event prefix -> union of the tiles of all PEs in that event
    # ("the events are simultaneous in all PEs").
    array_union: dict[str, dict[Prefix, set[Element]]]
    # (level, tensor) -> indices of *all* loops outside the boundary -> elements touched;
    # used only to check the doc's claim that the tile stays between r* and the boundary.
    sub_tiles: dict[tuple[str, str], dict[object, set[Element]]]


def _walk(design: Design) -> _Walk:
    spatial_pos = [p for p, lp in enumerate(design.loops) if lp.is_spatial]
    temporal_pos = [p for p, lp in enumerate(design.loops) if not lp.is_spatial]
    rstars = {(lvl.name, t): r_star(design, lvl, t) for lvl in design.levels for t in lvl.keeps}
    pe = design.pe_level
    walk = _Walk(0, set(), defaultdict(lambda: defaultdict(set)), defaultdict(lambda: defaultdict(set)),
                 defaultdict(lambda: defaultdict(set)))
    for idx, point in iteration_points(design):
        walk.macs += 1
        walk.temporal_points.add(tuple(idx[p] for p in temporal_pos))
        pe_instance = tuple(idx[p] for p in spatial_pos)
        for t in design.workload.tensors:
            e = element(design, t, point)
            for lvl in design.keepers(t):
                prefix = event_prefix(idx, rstars[(lvl.name, t)])
                key: object = (prefix, pe_instance) if lvl is pe else prefix
                walk.tiles[(lvl.name, t)][key].add(e)
                walk.sub_tiles[(lvl.name, t)][(key, idx[: lvl.boundary])].add(e)
                if lvl is pe:
                    walk.array_union[t][prefix].add(e)
    _check_tile_stays(walk)
    return walk


def _check_tile_stays(walk: _Walk) -> None:
    """"loops between r* and L's boundary are irrelevant to t, so the tile stays": every
    non-empty iteration of those loops must see the same tile as the whole event."""
    for (lvl, t), subs in walk.sub_tiles.items():
        for (key, _outer), tile in subs.items():
            if tile != walk.tiles[(lvl, t)][key]:
                raise AssertionError(f"the tile of {t} at {lvl} changes inside one event {key!r}")


# --- the counts --------------------------------------------------------------------------


def _size_sum(tiles: dict[object, set[Element]]) -> int:
    return sum(len(tile) for tile in tiles.values())


def _arrivals(design: Design, walk: _Walk, tensor: str, level: Level) -> list[tuple[Prefix, set[Element]]]:
    """What arrives at ``level`` from its child, one (child event prefix, elements) per
    delivery. From PE: per PE event, the distinct elements of all PEs together ("after a
    spatial reduction (chain or tree) the PEs sharing an output element deliver one sum").
    From a buffer: its drained tile, once per event of the child."""
    child = design.child(tensor, level)
    assert child is not None
    if child is design.pe_level:
        return list(walk.array_union[tensor].items())
    return [(key, tile) for key, tile in walk.tiles[(child.name, tensor)].items()]  # type: ignore[misc]


def _input_counts(design: Design, walk: _Walk, t: str) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    for lvl in design.keepers(t):
        # "fills(L, t): for each event of L (each PE's event, at PE level), the size of the
        # new tile. DRAM is never filled."
        fills = 0 if lvl.kind is LevelKind.DRAM else _size_sum(walk.tiles[(lvl.name, t)])
        child = design.child(t, lvl)
        if lvl is design.pe_level:
            reads = walk.macs  # "At PE, one read per MAC"
        elif child is design.pe_level:
            # "for each PE event ..., the number of distinct elements all PEs take together"
            reads = _size_sum(walk.array_union[t])  # type: ignore[arg-type]
        else:
            assert child is not None
            reads = _size_sum(walk.tiles[(child.name, t)])  # "reads = fills(child)"
        out[lvl.name] = Counts(reads=reads, fills=fills)
    return out


def _output_counts(design: Design, walk: _Walk, o: str) -> dict[str, Counts]:
    out: dict[str, Counts] = {}
    for lvl in design.keepers(o):
        if lvl is design.pe_level:
            # "updates = MACs"; "drains(PE, o) = for each PE event, the PE's tile"
            out[lvl.name] = Counts(updates=walk.macs, drains=_size_sum(walk.tiles[(lvl.name, o)]))
            continue
        # The level's events: "A level never fills outputs: each new output tile starts at zero."
        rstar = r_star(design, lvl, o)
        arrived: dict[Prefix, list[set[Element]]] = defaultdict(list)
        for child_prefix, elements in _arrivals(design, walk, o, lvl):
            # A child event lies inside one event of this level (the child's r* is at or
            # inside this level's r*): the leading indices name this level's event.
            own = () if rstar is None else child_prefix[: rstar + 1]
            assert len(own) == (0 if rstar is None else rstar + 1), "child event outside the parent's"
            arrived[own].append(elements)
        updates = sum(len(e) for deliveries in arrived.values() for e in deliveries)
        # Read-modify-write: "an arriving partial sum for an element the level already
        # holds in its current tile must be read and added". The first arrival of an
        # element in an event finds the tile at zero; every later one is a read.
        reads = 0
        for key, deliveries in arrived.items():
            held: set[Element] = set()
            for elements in deliveries:
                reads += len(elements & held)
                held |= elements
            if lvl.kind is LevelKind.BUFFER and held != walk.tiles[(lvl.name, o)][key]:
                raise AssertionError(f"what arrived at {lvl.name} in event {key!r} is not its tile of {o}")
        # "drains(L, o) for a buffer: for each event of L, the tile it leaves. DRAM does not drain."
        drains = _size_sum(walk.tiles[(lvl.name, o)]) if lvl.kind is LevelKind.BUFFER else 0
        # The doc's closed forms, checked against the literal count above.
        if lvl.kind is LevelKind.BUFFER:
            assert reads == updates - drains, (lvl.name, reads, updates, drains)
        else:
            assert reads == updates - math.prod(design.workload.shape(o)), (lvl.name, reads, updates)
        out[lvl.name] = Counts(reads=reads, updates=updates, drains=drains)
    return out


def _folds(design: Design, walk: _Walk) -> int:
    """"With a stationary output, the folds are the PE-level drain events of the output;
    else with a stationary input, its PE-level refill events; else one fold."
    PE-level events are counted once for the whole array (they are simultaneous in all PEs)."""
    o = design.workload.output
    if design.access[o].is_stationary:
        return len(walk.array_union[o])
    stationary = [t for t in design.workload.operands if design.access[t].is_stationary]
    if len(stationary) > 1:
        raise AssertionError("docs/model.md does not say which stationary input counts the folds")
    if stationary:
        return len(walk.array_union[stationary[0]])
    return 1


def event_tiles(design: Design) -> dict[tuple[str, str], list[set[Element]]]:
    """Every tile each keeper takes, one set per event (per PE and event at PE level)."""
    walk = _walk(design)
    return {key: list(tiles.values()) for key, tiles in walk.tiles.items()}


def oracle(design: Design) -> OracleResult:
    """Count everything docs/model.md defines by walking every iteration point."""
    walk = _walk(design)
    tensors = design.workload.tensors
    accesses: dict[str, dict[str, Counts]] = {lvl.name: {t: Counts() for t in tensors} for lvl in design.levels}
    for t, spec in design.workload.tensors.items():
        per_level = _output_counts(design, walk, t) if spec.role is Role.OUTPUT else _input_counts(design, walk, t)
        for name, counts in per_level.items():
            accesses[name][t] = counts
    # "MACs is the number of iteration points"; "Steps: the number of non-empty iteration
    # points of the temporal loops alone".
    return OracleResult(accesses=accesses, macs=walk.macs, steps=len(walk.temporal_points), folds=_folds(design, walk))
