"""The program a Design runs, computed implicitly (no iteration point is materialized).

Steps are the non-empty points of the temporal loops; for every transfer the
child's events are runs of steps sharing the loop indices at or outside r*, and an
event's tile is the box of dimension ranges below that prefix, projected onto the
tensor (docs/model.md, docs/timing.md). Tiles are built on demand and cached.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from itertools import product

import numpy as np

from sasim.design.design import Design, LevelKind, Transfer
from sasim.errors import SimulationError
from sasim.rows import group_rows, representatives
from sasim.workload.projection import distinct_values

__all__ = ["Schedule", "EventSeq", "MAX_STEPS", "run_ids"]

#: Steps are held as arrays; beyond this the simulator refuses rather than exhaust memory.
MAX_STEPS = 50_000_000


def run_ids(keys: np.ndarray) -> np.ndarray:
    """Number the runs of equal consecutive rows of ``keys`` (steps x loop indices) from 0."""
    if keys.shape[1] == 0 or keys.shape[0] == 0:
        return np.zeros(keys.shape[0], dtype=np.int64)
    change = np.any(keys[1:] != keys[:-1], axis=1)
    return np.concatenate([[0], np.cumsum(change)]).astype(np.int64)


@dataclass
class EventSeq:
    """The events of one transfer's child, in order (see :class:`Schedule`)."""

    transfer: Transfer
    first: np.ndarray  # first step of each event
    last: np.ndarray  # last step of each event
    parent_event: np.ndarray  # the parent's event containing each (-1 under DRAM)
    bases: np.ndarray  # (events, dims): the first point of each event's box
    extents: np.ndarray  # (events, dims): the box's extent
    offset: np.ndarray  # flat index of each tile's translation from the origin
    _schedule: Schedule = field(repr=False)
    _cache: dict[int, np.ndarray] = field(default_factory=dict, repr=False)
    group: np.ndarray = field(init=False, repr=False)  # each event's extent group
    keys: list[tuple[int, ...]] = field(init=False, repr=False)  # each group's extents
    sizes: np.ndarray = field(init=False, repr=False)  # each event's tile size

    @property
    def events(self) -> int:
        return len(self.first)

    def __post_init__(self) -> None:
        # events with equal box extents have tiles that are translates of one template
        if self.events:
            keys, group = group_rows(self.extents)
            self.group = group.astype(np.int64)
            self.keys = [tuple(int(x) for x in row) for row in keys]
        else:
            self.group, self.keys = np.zeros(0, dtype=np.int64), []
        lengths = np.array([len(self._schedule.template(self.transfer.tensor, k)) for k in self.keys], dtype=np.int64)
        self.sizes = lengths[self.group] if self.events else np.zeros(0, dtype=np.int64)

    @functools.cached_property
    def _group_list(self) -> list[int]:
        """``group`` as Python ints, for one-event lookups (built on the first)."""
        return list(self.group.tolist())

    def _key_of(self, e: int) -> tuple[int, ...]:
        return self.keys[0] if len(self.keys) == 1 else self.keys[self._group_list[e]]

    def tile(self, e: int) -> np.ndarray:
        """Flat element indices of event ``e``'s tile, in canonical order."""
        got = self._cache.get(e)
        if got is None:
            got = self._schedule.template(self.transfer.tensor, self._key_of(e)) + int(self.offset[e])
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[e] = got
        return got

    def tiles(self, events: np.ndarray) -> np.ndarray:
        """The tiles of ``events`` concatenated (in the order given), built per extent group."""
        if len(events) == 0:
            return np.zeros(0, dtype=np.int64)
        groups = self.group[events]
        if np.all(groups == groups[0]):
            template = self._schedule.template(self.transfer.tensor, self.keys[int(groups[0])])
            return np.asarray((self.offset[events][:, None] + template[None, :]).ravel())
        return np.concatenate([self.tile(int(e)) for e in events])

    def tile_ids(self, events: np.ndarray) -> np.ndarray:
        """A number per event in ``events``: equal for events with the same tile (the same
        extents at the same translation)."""
        return np.asarray(self.offset[events] * len(self.keys) + self.group[events])

    def distinct_tiles(self, events: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """The distinct tiles among ``events``: an event of each (any: their tiles are alike),
        each event's index among them (in the order of :meth:`tile_ids`), and their number."""
        _, inverse = group_rows(self.tile_ids(events)[:, None])
        count = int(inverse.max()) + 1 if len(inverse) else 0
        return events[representatives(inverse, count)], inverse, count

    @functools.cached_property
    def volume_prefix(self) -> np.ndarray:
        """Prefix sums of the events' box volumes (iteration points): ``[0, v0, v0 + v1, ...]``."""
        return np.concatenate([[0], np.cumsum(np.prod(self.extents, axis=1))]).astype(np.int64)

    def extent_key(self, e: int) -> tuple[int, ...]:
        return self._key_of(e)

    def pe_tile_sums(self) -> np.ndarray:
        """Per event: Σ over active PEs of each PE's tile size (PE-level fills or drains)."""
        sums = np.array([self._schedule.pe_sum(self.transfer.tensor, k) for k in self.keys], dtype=np.int64)
        if len(sums) == 1:
            return np.full(self.events, sums[0], dtype=np.int64)
        return sums[self.group] if self.events else np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class _BoxPlan:
    """How an event box follows from a step, for one r*: the step-index columns outside r*
    (each with the dimension it moves and its stride there), and the unclipped extent of
    every dimension inside r*."""

    columns: tuple[tuple[int, int, int], ...]  # (step-index column, dimension, stride)
    inner: np.ndarray


class Schedule:
    """Steps, folds, events and tiles of a Design."""

    def __init__(self, design: Design) -> None:
        self.design = design
        wl = design.workload
        self.dims = list(wl.dims)
        self.sizes = np.array([wl.dims[d] for d in self.dims], dtype=np.int64)
        loops = design.loops
        self.strides = [math.prod(q.factor for q in loops[j + 1 :] if q.dim == lp.dim) for j, lp in enumerate(loops)]
        self.temporal = [j for j, lp in enumerate(loops) if not lp.is_spatial]
        self.spatial = [j for j, lp in enumerate(loops) if lp.is_spatial]
        unclipped = math.prod(loops[j].factor for j in self.temporal)
        if unclipped > MAX_STEPS:
            raise SimulationError(
                f"this design runs {unclipped:,} array steps; the simulator holds per-step state and refuses "
                f"more than {MAX_STEPS:,} (use a larger array or split the workload)"
            )
        radices = [loops[j].factor for j in self.temporal]
        n = np.arange(unclipped, dtype=np.int64)
        # column-major: every use reads whole columns (a loop's index, a dimension's coordinate)
        idx = np.zeros((unclipped, len(radices)), dtype=np.int64, order="F")
        for col in range(len(radices) - 1, -1, -1):
            idx[:, col] = n % radices[col]
            n //= radices[col]
        base = np.zeros((unclipped, len(self.dims)), dtype=np.int64, order="F")
        for col, j in enumerate(self.temporal):
            base[:, self.dims.index(loops[j].dim)] += idx[:, col] * self.strides[j]
        keep = np.all(base < self.sizes, axis=1)
        clipped = not keep.all()
        self.index = np.asfortranarray(idx[keep]) if clipped else idx  # (S, temporal loops)
        self.base = np.asfortranarray(base[keep]) if clipped else base  # (S, dims): each step's point in PE slot 0
        self._templates: dict[tuple[str, tuple[int, ...]], np.ndarray] = {}
        self._plans: dict[int | None, _BoxPlan] = {}
        # flat-index step of one unit along each dimension, per tensor (row-major storage)
        self._unit: dict[str, np.ndarray] = {}
        for t in wl.tensors:
            shape = wl.shape(t)
            unit = np.zeros(len(self.dims), dtype=np.int64)
            for axis, expr in enumerate(wl.indices(t)):
                axis_stride = math.prod(shape[axis + 1 :])
                for term in expr.terms:
                    unit[self.dims.index(term.dim)] += term.coef * axis_stride
            self._unit[t] = unit
        self.shape = {t: wl.shape(t) for t in wl.tensors}
        self._pe_sums: dict[tuple[str, tuple[int, ...]], int] = {}
        # Spatial offsets per dimension, to count active PEs per step.
        self._offsets: dict[int, np.ndarray] = {}
        for di, d in enumerate(self.dims):
            js = [j for j in self.spatial if loops[j].dim == d]
            if js:
                grids = np.meshgrid(*(np.arange(loops[j].factor) * self.strides[j] for j in js), indexing="ij")
                self._offsets[di] = np.sort(sum(g.ravel() for g in grids))
        self.seqs: dict[tuple[str, str], EventSeq] = {}
        ids_cache: dict[int | None, np.ndarray] = {}

        def event_ids(refill: int | None) -> np.ndarray:
            if refill not in ids_cache:
                ids_cache[refill] = self._event_ids(refill)
            return ids_cache[refill]

        for tr in design.transfers:
            ids = event_ids(tr.refill)
            count = int(ids[-1]) + 1 if len(ids) else 0
            change = ids[1:] != ids[:-1]  # ids count runs from 0: each change starts the next event
            first = np.flatnonzero(np.concatenate([[count > 0], change]))
            last = np.flatnonzero(np.concatenate([change, [count > 0]]))
            if design.level(tr.parent).kind is LevelKind.DRAM:
                parent_event = np.full(count, -1, dtype=np.int64)
            else:
                up = next(x for x in design.transfers if x.tensor == tr.tensor and x.child == tr.parent)
                pids = event_ids(up.refill)
                parent_event = pids[first]
            bases, extents = self.boxes(tr.refill, first)
            offset = bases @ self._unit[tr.tensor]
            self.seqs[(tr.child, tr.tensor)] = EventSeq(tr, first, last, parent_event, bases, extents, offset, self)
        self.fold_start = np.zeros(self.steps, dtype=bool)
        if self.steps:
            self.fold_start[0] = True
            if design.stationary is not None:
                pe = design.pe_level.name
                tr = next(x for x in design.transfers if x.tensor == design.stationary and x.child == pe)
                ids = event_ids(tr.refill)
                self.fold_start[1:] = ids[1:] != ids[:-1]

    def unit(self, tensor: str) -> np.ndarray:
        """Flat-index step of one unit along each dimension, for ``tensor``."""
        return self._unit[tensor]

    @property
    def steps(self) -> int:
        return int(self.index.shape[0])

    def _event_ids(self, refill: int | None) -> np.ndarray:
        cols = [c for c, j in enumerate(self.temporal) if refill is not None and j <= refill]
        return run_ids(self.index[:, cols])

    # --- boxes and tiles ----------------------------------------------------------------

    def _box_plan(self, refill: int | None) -> _BoxPlan:
        """The :class:`_BoxPlan` for r* = ``refill``."""
        plan = self._plans.get(refill)
        if plan is None:
            loops = self.design.loops
            cols = [c for c, j in enumerate(self.temporal) if refill is not None and j <= refill]
            dims = [self.dims.index(loops[self.temporal[c]].dim) for c in cols]
            strides = [int(self.strides[self.temporal[c]]) for c in cols]
            inner = np.ones(len(self.dims), dtype=np.int64)
            for j, lp in enumerate(loops):
                if refill is None or j > refill:  # spatial loops always sit inside r*
                    inner[self.dims.index(lp.dim)] *= lp.factor
            plan = self._plans[refill] = _BoxPlan(tuple(zip(cols, dims, strides, strict=True)), inner)
        return plan

    def boxes(self, refill: int | None, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(bases, extents) per dimension, one row per step in ``steps`` (sorted, distinct): the
        box of the points sharing the step's indices at or outside r* = ``refill``."""
        plan = self._box_plan(refill)
        inner = plan.inner
        every = len(steps) == self.steps  # sorted and distinct: then they are all the steps
        bases = np.zeros((len(steps), len(self.dims)), dtype=np.int64, order="F")
        for c, di, stride in plan.columns:  # a column at a time: faster than an integer matmul
            bases[:, di] += (self.index[:, c] if every else self.index[steps, c]) * stride
        if not len(steps) or np.all(bases.max(axis=0) + inner <= self.sizes):
            # no box is clipped (the usual case): one extent for all, without storing it per step
            return bases, np.broadcast_to(inner[None, :], bases.shape)
        return bases, np.minimum(inner[None, :], self.sizes[None, :] - bases)

    def template(self, tensor: str, extent: tuple[int, ...]) -> np.ndarray:
        """The tile of ``tensor`` over a box of ``extent`` at the origin (flat, canonical order)."""
        key = (tensor, extent)
        got = self._templates.get(key)
        if got is None:
            got = self._templates[key] = _tile(self.design, tensor, (0,) * len(self.dims), extent)
        return got

    def pe_sum(self, tensor: str, extent: tuple[int, ...]) -> int:
        """Σ over the active PEs of an event box of ``extent`` of each PE's tile size."""
        key = (tensor, extent)
        got = self._pe_sums.get(key)
        if got is None:
            got = self._pe_sums[key] = _pe_tile_sum(self.design, tensor, extent)
        return got

    def active_pes(self) -> np.ndarray:
        """Active PEs at every step."""
        count = np.ones(self.steps, dtype=np.int64)
        for di, offsets in self._offsets.items():
            count *= np.searchsorted(offsets, self.sizes[di] - self.base[:, di], side="left")
        return count


def _index_values(design: Design, tensor: str, base: tuple[int, ...], extent: tuple[int, ...]) -> list[np.ndarray]:
    dims = list(design.workload.dims)
    out = []
    for expr in design.workload.indices(tensor):
        vals = np.zeros(1, dtype=np.int64)
        for term in expr.terms:
            di = dims.index(term.dim)
            rng = term.coef * np.arange(base[di], base[di] + extent[di], dtype=np.int64)
            vals = np.add.outer(vals, rng).ravel()
        out.append(np.unique(vals))
    return out


def _tile(design: Design, tensor: str, base: tuple[int, ...], extent: tuple[int, ...]) -> np.ndarray:
    coords = _index_values(design, tensor, base, extent)
    grids = np.meshgrid(*coords, indexing="ij")
    flat = np.ravel_multi_index(tuple(g.ravel() for g in grids), design.workload.shape(tensor))
    return np.asarray(flat, dtype=np.int64)


def _pe_tile_sum(design: Design, tensor: str, extent: tuple[int, ...]) -> int:
    """Sum of per-PE tile sizes over the spatial instances of one event's box."""
    wl = design.workload
    dims = list(wl.dims)
    loops = design.loops
    pe_boundary = design.pe_level.boundary
    inner = {d: 1 for d in dims}
    for lp in loops[pe_boundary:]:
        inner[lp.dim] *= lp.factor
    spatial = [lp for lp in loops if lp.is_spatial]
    strides = {id(lp): math.prod(q.factor for q in loops[j + 1 :] if q.dim == lp.dim) for j, lp in enumerate(loops)}
    # per dimension: the extent of each PE's slice, for each combination of that dim's spatial indices
    per_dim: dict[str, list[int]] = {}
    for di, d in enumerate(dims):
        js = [lp for lp in spatial if lp.dim == d]
        offs = [0]
        for lp in js:
            offs = [o + i * strides[id(lp)] for o in offs for i in range(lp.factor)]
        exts = []
        for o in offs:
            e = min(inner[d], extent[di] - o) if o < extent[di] else 0
            exts.append(max(0, e))
        per_dim[d] = exts
    rel = set(wl.tensor_dims(tensor))
    irrelevant_active = 1
    for d in dims:
        if d not in rel:
            irrelevant_active *= sum(1 for e in per_dim[d] if e > 0)
    # A PE's tile size is a product over the tensor's index expressions; when no dimension
    # appears in two of them, the sum over PEs of that product is the product of the sums.
    exprs = wl.indices(tensor)
    used = [t.dim for expr in exprs for t in expr.terms]
    groups = [exprs] if len(used) != len(set(used)) else [(expr,) for expr in exprs]
    total = 1
    for group in groups:
        group_dims = list(dict.fromkeys(t.dim for expr in group for t in expr.terms))
        part = 0
        for combo in product(*([e for e in per_dim[d] if e > 0] for d in group_dims)):
            ext = dict(zip(group_dims, combo))
            size = 1
            for expr in group:
                size *= distinct_values(expr, tuple(ext[t.dim] for t in expr.terms))
            part += size
        total *= part
    return total * irrelevant_active
