"""The program a Design runs: steps, events and tiles, enumerated explicitly.

Used by the per-cycle (golden) simulator, which is meant for small designs: the
whole iteration space is materialized as arrays. Every quantity follows
docs/model.md and docs/timing.md.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from sasim.design.design import Design, LevelKind
from sasim.errors import SimulationError
from sasim.rows import distinct_pairs
from sasim.sim.schedule import run_ids

__all__ = ["Program", "TileSeq", "build_program", "iteration_points", "MAX_GOLDEN_POINTS"]

#: The golden simulator materializes every iteration point; beyond this it refuses.
MAX_GOLDEN_POINTS = 2_000_000


@dataclass(frozen=True)
class TileSeq:
    """The tiles of one tensor at one level (or at the array edge), in order.

    ``first[e]``/``last[e]``: the first and last step of event ``e``; ``tiles[e]``:
    sorted flat element indices (canonical order); ``parent_event[e]``: the event of
    the parent level that contains it (``-1`` for DRAM).
    """

    level: str
    tensor: str
    first: np.ndarray
    last: np.ndarray
    tiles: list[np.ndarray]
    parent_event: np.ndarray

    @property
    def events(self) -> int:
        return len(self.tiles)


@dataclass(frozen=True)
class Program:
    design: Design
    #: (S, P, D): each step's iteration point in every PE slot; ``valid`` (S, P) masks idle PEs
    points: np.ndarray
    valid: np.ndarray
    #: flat element index of each tensor at every (step, PE): (S, P), -1 where idle
    element: dict[str, np.ndarray]
    #: events of each keeper below DRAM; the PE level's entries are the array tiles
    seqs: dict[tuple[str, str], TileSeq]
    #: per input tensor: sum over PEs of the PE tile sizes for each PE event (fills of PE)
    pe_fills: dict[str, np.ndarray]
    #: for the output: sum over PEs of the PE tile sizes for each PE drain event
    pe_drains: np.ndarray
    fold_start: np.ndarray  # (S,) bool

    @property
    def steps(self) -> int:
        return int(self.points.shape[0])


def _strides(design: Design) -> list[int]:
    out = []
    for j, lp in enumerate(design.loops):
        out.append(math.prod(q.factor for q in design.loops[j + 1 :] if q.dim == lp.dim))
    return out


def iteration_points(design: Design) -> int:
    """The points :func:`build_program` materializes: the product of every loop's factor
    (imperfect factors included, so a few more than the workload's MACs)."""
    return math.prod(lp.factor for lp in design.loops)


def _tiles(el: np.ndarray, ids: np.ndarray, count: int, elements: int,
           at_pe: bool) -> tuple[list[np.ndarray], np.ndarray]:
    """Each event's tile (the sorted distinct elements its steps touch, from ``el``: steps x
    PEs, -1 where idle; ``ids``: each step's event) and, ``at_pe``, the sum over PEs of the
    distinct elements each PE touches in it. One sort of (event, element) keys for all
    events instead of one per event."""
    n_pe = el.shape[1]
    valid = el >= 0
    event = np.broadcast_to(ids[:, None], el.shape)[valid]
    flat = el[valid].astype(np.int64)
    ev, members = distinct_pairs(event, flat, elements)
    bounds = np.searchsorted(ev, np.arange(count + 1)).tolist()
    tiles = [members[a:b] for a, b in zip(bounds[:-1], bounds[1:])]  # (np.split is slower per piece)
    pe_sizes = np.zeros(count, dtype=np.int64)
    if at_pe:
        slot = np.broadcast_to(np.arange(n_pe, dtype=np.int64)[None, :], el.shape)[valid]
        pair_ev, _ = distinct_pairs(event, flat * n_pe + slot, elements * n_pe)
        pe_sizes = np.bincount(pair_ev, minlength=count).astype(np.int64)
    return tiles, pe_sizes


def build_program(design: Design, *, max_points: int = MAX_GOLDEN_POINTS) -> Program:
    """Walk ``design``'s loop nest and enumerate its program. Refuses designs of more than
    ``max_points`` iteration points (see :func:`iteration_points`): it holds every point."""
    wl = design.workload
    dims = list(wl.dims)
    loops = design.loops
    temporal = [j for j, lp in enumerate(loops) if not lp.is_spatial]
    spatial = [j for j, lp in enumerate(loops) if lp.is_spatial]
    t_count = math.prod(loops[j].factor for j in temporal)
    s_count = math.prod(loops[j].factor for j in spatial)
    if t_count * s_count > max_points:
        raise SimulationError(
            f"the golden simulator walks every iteration point and this design has {t_count * s_count:,} "
            f"(limit {max_points:,}); use the fast mode for designs this large"
        )
    strides = _strides(design)
    t_idx = np.array(list(itertools.product(*(range(loops[j].factor) for j in temporal))), dtype=np.int64)
    t_idx = t_idx.reshape(t_count, len(temporal))
    s_idx = np.array(list(itertools.product(*(range(loops[j].factor) for j in spatial))), dtype=np.int64)
    s_idx = s_idx.reshape(s_count, len(spatial))
    sizes = np.array([wl.dims[d] for d in dims], dtype=np.int64)
    base_t = np.zeros((t_count, len(dims)), dtype=np.int64)
    for col, j in enumerate(temporal):
        base_t[:, dims.index(loops[j].dim)] += t_idx[:, col] * strides[j]
    base_s = np.zeros((s_count, len(dims)), dtype=np.int64)
    for col, j in enumerate(spatial):
        base_s[:, dims.index(loops[j].dim)] += s_idx[:, col] * strides[j]
    keep = np.all(base_t < sizes, axis=1)  # non-empty steps: valid with every spatial index at 0
    t_idx, base_t = t_idx[keep], base_t[keep]
    points = base_t[:, None, :] + base_s[None, :, :]
    valid = np.all(points < sizes, axis=2)

    element: dict[str, np.ndarray] = {}
    for t in wl.tensors:
        shape = wl.shape(t)
        coords = []
        for expr in wl.indices(t):
            coords.append(sum(term.coef * points[:, :, dims.index(term.dim)] for term in expr.terms))
        flat = np.ravel_multi_index(tuple(np.where(valid, c, 0) for c in coords), shape)
        element[t] = np.where(valid, flat, -1)

    def event_ids(refill: int | None) -> np.ndarray:
        cols = [col for col, j in enumerate(temporal) if refill is not None and j <= refill]
        return run_ids(t_idx[:, cols])

    seqs: dict[tuple[str, str], TileSeq] = {}
    pe_fills: dict[str, np.ndarray] = {}
    pe_drains = np.zeros(0, dtype=np.int64)
    for tr in design.transfers:
        ids = event_ids(tr.refill)
        count = int(ids[-1]) + 1 if len(ids) else 0
        first = np.searchsorted(ids, np.arange(count), side="left")
        last = np.searchsorted(ids, np.arange(count), side="right") - 1
        el = element[tr.tensor]
        at_pe = design.level(tr.child).kind is LevelKind.PE
        tiles, pe_sizes = _tiles(el, ids, count, int(np.prod(wl.shape(tr.tensor))), at_pe)
        parent = design.level(tr.parent)
        if parent.kind is LevelKind.DRAM:
            parent_event = np.full(count, -1, dtype=np.int64)
        else:
            up = next(x for x in design.transfers if x.tensor == tr.tensor and x.child == tr.parent)
            parent_ids = event_ids(up.refill)
            parent_event = parent_ids[first]
        seqs[(tr.child, tr.tensor)] = TileSeq(tr.child, tr.tensor, first, last, tiles, parent_event)
        if design.level(tr.child).kind is LevelKind.PE:
            if tr.direction == "down":
                pe_fills[tr.tensor] = pe_sizes
            else:
                pe_drains = pe_sizes

    fold_start = np.zeros(len(t_idx), dtype=bool)
    if len(t_idx):
        fold_start[0] = True
        if design.stationary is not None:
            pe_name = design.pe_level.name
            pe_tr = next(x for x in design.transfers if x.tensor == design.stationary and x.child == pe_name)
            ids = event_ids(pe_tr.refill)
            fold_start[1:] = ids[1:] != ids[:-1]
    return Program(design, points, valid, element, seqs, pe_fills, pe_drains, fold_start)
