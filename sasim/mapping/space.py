"""The map-space: loop *structures* and the factor choices within each.

A :class:`Structure` fixes everything but the factors: the spatial dimensions on
each array axis, the loop order at every level, the stream dimension (the last loop
of the innermost level that has loops, which must have a factor above 1), the
per-buffer bypasses and the access entry of every tensor. Its factor choices are
rows of a matrix whose columns are the structure's loops in nest order
(:class:`Slots`), evaluated in batches with :func:`sasim.model.evaluate_batch`
against one template Design.

Why this is exact: a loop of factor 1 does nothing, so one structure with every
dimension at every level (in some order) covers every mapping whose loops with a
factor above 1 appear in that order; and a Design's access entries and stationary
tensor depend only on the stream dimension and on which dimensions have a spatial
factor above 1, both pinned by the structure (docs/mapper.md).

Factors of a dimension: every loop but one is chosen from :func:`factor_candidates`;
the *remainder* loop (the dimension's outermost free loop, normally at ``DRAM``) takes
``ceil(size / product of the others)``. Larger outer factors would only add empty
iterations. A loop whose inner loops already cover the dimension gets factor 1.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np

from sasim.arch.architecture import Architecture, LinkKind
from sasim.design.dataflow import legal_entries
from sasim.design.design import Design
from sasim.design.lower import lower
from sasim.errors import SasimError
from sasim.mapping.access import AccessEntry
from sasim.mapping.constraints import Constraints
from sasim.mapping.spec import Axis, LoopSpec, Mapping, format_loops
from sasim.rows import unique_rows
from sasim.workload.projection import distinct_values
from sasim.workload.workload import Workload

__all__ = ["MapSpace", "Slots", "Structure", "compact_mapping", "factor_candidates"]

Array = np.ndarray

_RELAXED_CAPACITY = 1 << 32
_RELAXED_REGISTERS = 1 << 20
#: Sizes up to this have every integer as a candidate factor.
_ALL_FACTORS_UP_TO = 32
#: Pair moves (:meth:`MapSpace.pair_rows`): each factor within this ratio of its value,
#: every integer when the range holds fewer than ``_PAIR_INTEGERS``, else the candidates.
_PAIR_SPAN = 3
_PAIR_INTEGERS = 40


def factor_candidates(size: int) -> tuple[int, ...]:
    """The factors a loop of a dimension of ``size`` may take (besides the remainder).

    Every integer for sizes up to 32; else the divisors, the ceil-based splits
    ``ceil(size / k)`` for k up to 32 (imperfect factors) and the powers of two.
    """
    if size <= _ALL_FACTORS_UP_TO:
        return tuple(range(1, size + 1))
    out = {d for i in range(1, math.isqrt(size) + 1) if size % i == 0 for d in (i, size // i)}
    out |= {-(-size // k) for k in range(1, 33)}
    out |= {1 << i for i in range(size.bit_length()) if 1 << i <= size}
    return tuple(sorted(out))


@dataclass(frozen=True, slots=True, order=True)
class Structure:
    """A loop structure: everything of a mapping but its factors."""

    spatial: tuple[tuple[Axis, str], ...]  # nest order: Y loops, then X loops
    orders: tuple[tuple[str, ...], ...]  # per level (DRAM, buffers, PE): dims outer to inner
    stream: str | None
    bypass: tuple[tuple[str, tuple[str, ...]], ...]
    access: tuple[tuple[str, str], ...]

    @property
    def stream_level(self) -> int:
        """Index of the innermost level with loops (-1 if none)."""
        return max((i for i, o in enumerate(self.orders) if o), default=-1)


@dataclass(frozen=True)
class Slots:
    """The loops of a structure in nest order, with what is fixed about each factor."""

    dims: tuple[str, ...]
    levels: tuple[int, ...]
    axes: tuple[Axis | None, ...]
    fixed: Array  # (L,) fixed factor, 0 where the mapper chooses
    pinned: Array  # (L,) bool: the factor must be above 1 (stream loop, free spatial loops)
    limits: Array  # (L,) largest factor
    by_dim: dict[str, tuple[int, ...]]  # loop positions of each dimension, outer to inner
    remainder: dict[str, int]  # the loop of each dimension that takes the rest (-1: none)

    @property
    def width(self) -> int:
        return len(self.dims)

    def free(self) -> list[int]:
        """Loops whose factor is chosen (not fixed, not a remainder), in nest order."""
        rem = set(self.remainder.values())
        return [j for j in range(self.width) if self.fixed[j] == 0 and j not in rem]


Dataflow = tuple[tuple[tuple[Axis, str], ...], str | None, tuple[tuple[str, str], ...]]


class MapSpace:
    """Every structure of one workload on one architecture under ``constraints``."""

    def __init__(self, workload: Workload, architecture: Architecture, constraints: Constraints | None = None) -> None:
        self.workload = workload
        self.architecture = architecture
        self.constraints = constraints or Constraints()
        self.level_names = architecture.level_names
        self.pe = len(self.level_names) - 1
        self.loop_dims = tuple(d for d, s in workload.dims.items() if s > 1)
        self.candidates = {d: factor_candidates(s) for d, s in workload.dims.items()}
        arch = architecture
        self.relaxed = arch.model_copy(update={
            "buffers": tuple(b.model_copy(update={"capacity": _RELAXED_CAPACITY}) for b in arch.buffers),
            "pe": arch.pe.model_copy(update={"input_registers": _RELAXED_REGISTERS,
                                             "weight_registers": _RELAXED_REGISTERS,
                                             "output_registers": _RELAXED_REGISTERS}),
        })
        self._dataflows = self._enumerate_dataflows()
        self._bypasses = self._enumerate_bypasses()
        self.energy_lb = self._energy_lower_bound()
        self.dram_cycles_lb = self._dram_cycles_lower_bound()

    # --- dataflows: spatial dimensions, stream, access entries ------------------------------

    def _spatial_choices(self) -> list[tuple[tuple[Axis, str], ...]]:
        arr = self.architecture.array
        per_axis: dict[Axis, list[tuple[str, ...]]] = {}
        for axis, n in ((Axis.Y, arr.rows), (Axis.X, arr.cols)):
            if axis in self.constraints.spatial:
                per_axis[axis] = [tuple(d for d, _ in self.constraints.spatial[axis])]
            else:
                per_axis[axis] = [()] + ([(d,) for d in self.loop_dims] if n >= 2 else [])
        out = []
        for y in per_axis[Axis.Y]:
            for x in per_axis[Axis.X]:
                if set(y) & set(x):
                    continue
                out.append(tuple((Axis.Y, d) for d in y) + tuple((Axis.X, d) for d in x))
        return out

    def _active_spatial(self, spatial: tuple[tuple[Axis, str], ...]) -> dict[Axis, list[str]]:
        """Spatial dimensions with a factor above 1 (every free spatial loop is pinned above 1)."""
        fixed = {(ax, d): f for ax, lps in self.constraints.spatial.items() for d, f in lps}
        return {ax: [d for a, d in spatial if a is ax and fixed.get((a, d)) != 1 and self.workload.dims[d] > 1]
                for ax in (Axis.X, Axis.Y)}

    def access_for(
        self, spatial: tuple[tuple[Axis, str], ...], stream: str | None
    ) -> tuple[tuple[str, str], ...] | None:
        """The access entry of every tensor, or ``None`` if some tensor cannot be fed.

        Where several entries are legal, the one with the fewest systolic and chain links is
        taken: the others move the same words (equal energy) with more array skew (latency at
        least as high), so they cannot be better. A constrained tensor gets its given entry."""
        active = self._active_spatial(spatial)
        out = []
        for t, spec in self.workload.tensors.items():
            legal = legal_entries(self.workload, t, active, stream, self.architecture.array.links(spec.role))
            wanted = self.constraints.access.get(t)
            if wanted is not None:
                legal = [e for e in legal if e.name == wanted]
            if not legal:
                return None
            out.append((t, min(legal, key=_skew_links).name))
        return tuple(out)

    def _enumerate_dataflows(self) -> list[Dataflow]:
        out: list[Dataflow] = []
        for spatial in self._spatial_choices():
            streams: list[str | None] = list(self.loop_dims)
            if {d for _, d in spatial} >= set(self.loop_dims):
                streams.append(None)  # the array may hold the whole workload at once
            for s in streams:
                access = self.access_for(spatial, s)
                if access is not None:
                    out.append((spatial, s, access))
        return out

    def _enumerate_bypasses(self) -> list[tuple[tuple[str, tuple[str, ...]], ...]]:
        per_buffer: list[list[tuple[str, tuple[str, ...]]]] = []
        for buf in self.architecture.buffers:
            if buf.name in self.constraints.bypass:
                choices = [tuple(sorted(self.constraints.bypass[buf.name]))]
            else:
                held = [t for t, s in self.workload.tensors.items() if s.role in buf.holds]
                choices = [c for k in range(len(held) + 1) for c in itertools.combinations(held, k)]
            per_buffer.append([(buf.name, c) for c in choices])
        return [tuple(b for b in combo if b[1]) for combo in itertools.product(*per_buffer)]

    @property
    def dataflows(self) -> list[Dataflow]:
        return list(self._dataflows)

    # --- orders and structures -----------------------------------------------------------

    def stream_levels(self, stream: str | None) -> list[int]:
        """Levels that may hold the stream loop (the innermost level with loops)."""
        fixed = {self.level_names.index(n): lps for n, lps in self.constraints.levels.items()}
        deepest = max((i for i, lps in fixed.items() if lps), default=-1)
        if stream is None:
            return [-1] if deepest < 0 else []
        out = []
        for ls in range(max(deepest, 0), self.pe + 1):
            if ls in fixed:
                lps = fixed[ls]
                if not lps or lps[-1][0] != stream or lps[-1][1] == 1:
                    continue
            out.append(ls)
        return out

    def order_choices(self, level: int, stream_level: int, stream: str | None) -> list[tuple[str, ...]]:
        name = self.level_names[level]
        if name in self.constraints.levels:
            return [tuple(d for d, _ in self.constraints.levels[name])]
        if level > stream_level or stream is None:
            return [()]
        if level == stream_level:
            others = [d for d in self.loop_dims if d != stream]
            if level == self.pe:  # PE loops are inside every boundary: only the last one matters
                return [(*others, stream)]
            return [(*p, stream) for p in itertools.permutations(others)]
        return list(itertools.permutations(self.loop_dims))

    def count(self) -> int:
        """The number of structures in the space."""
        total = 0
        for _, s, _ in self._dataflows:
            for ls in self.stream_levels(s):
                total += math.prod(len(self.order_choices(i, ls, s)) for i in range(self.pe + 1))
        return total * len(self._bypasses)

    def structures(self) -> list[Structure]:
        """Every structure, in a fixed order (use only when :meth:`count` is small)."""
        out = []
        for spatial, s, access in self._dataflows:
            for ls in self.stream_levels(s):
                choices = [self.order_choices(i, ls, s) for i in range(self.pe + 1)]
                for bypass in self._bypasses:
                    for orders in itertools.product(*choices):
                        out.append(Structure(spatial, tuple(orders), s, bypass, access))
        return out

    def families(self) -> list[tuple[int, int, int]]:
        """Every (dataflow, stream level, bypass) combination, as indices: the structures of
        one family differ only in their loop orders."""
        return [(d, ls, b) for d, (_, s, _) in enumerate(self._dataflows) for ls in self.stream_levels(s)
                for b in range(len(self._bypasses))]

    def random_structure(self, rng: np.random.Generator,
                         family: tuple[int, int, int] | None = None) -> Structure | None:
        """A random structure; with ``family``, one of that family with random loop orders."""
        if not self._dataflows:
            return None
        if family is not None:
            spatial, s, access = self._dataflows[family[0]]
            ls = family[1]
        else:
            spatial, s, access = self._dataflows[int(rng.integers(len(self._dataflows)))]
            levels = self.stream_levels(s)
            if not levels:
                return None
            ls = levels[int(rng.integers(len(levels)))]
        orders = []
        for i in range(self.pe + 1):
            choices = self.order_choices(i, ls, s)
            if len(choices) > 1 and i != ls:
                order = list(self.loop_dims)
                rng.shuffle(order)
                orders.append(tuple(order))
            else:
                orders.append(choices[int(rng.integers(len(choices)))])
        bypass = self._bypasses[family[2]] if family is not None else self._random_bypass(rng)
        return Structure(spatial, tuple(orders), s, bypass, access)

    def _random_bypass(self, rng: np.random.Generator) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The constraints' bypasses, and each other tensor a buffer holds skipped with probability 0.2."""
        bypass = []
        for buf in self.architecture.buffers:
            if buf.name in self.constraints.bypass:
                skip = tuple(sorted(self.constraints.bypass[buf.name]))
            else:
                held = [t for t, sp in self.workload.tensors.items() if sp.role in buf.holds]
                skip = tuple(t for t in held if rng.random() < 0.2)
            if skip:
                bypass.append((buf.name, skip))
        return tuple(bypass)

    def neighbours(self, st: Structure) -> list[Structure]:
        """Structures one small change away: two adjacent loops swapped at a level, the
        stream moved one level, one bypass toggled, another stream or spatial dimension."""
        out: list[Structure] = []
        ls = st.stream_level
        free_levels = [i for i in range(self.pe + 1) if self.level_names[i] not in self.constraints.levels]
        for i in free_levels:
            order = list(st.orders[i])
            last = len(order) - 1 if i == ls else len(order)
            if i == self.pe:
                continue
            for k in range(last - 1):
                swapped = order[:k] + [order[k + 1], order[k]] + order[k + 2:]
                out.append(dataclasses.replace(st, orders=_set(st.orders, i, tuple(swapped))))
        if st.stream is not None:
            for new_ls in (ls - 1, ls + 1):
                if new_ls in self.stream_levels(st.stream) and new_ls in free_levels and ls in free_levels:
                    orders = list(st.orders)
                    if new_ls > ls:
                        orders[new_ls] = self.order_choices(new_ls, new_ls, st.stream)[0]
                    else:
                        orders[ls] = ()
                        orders[new_ls] = (*(d for d in orders[new_ls] if d != st.stream), st.stream)
                        if new_ls == self.pe:
                            orders[new_ls] = self.order_choices(new_ls, new_ls, st.stream)[0]
                    out.append(dataclasses.replace(st, orders=tuple(orders)))
        for buf in self.architecture.buffers:
            if buf.name in self.constraints.bypass:
                continue
            current = dict(st.bypass)
            for t, sp in self.workload.tensors.items():
                if sp.role not in buf.holds:
                    continue
                skip = set(current.get(buf.name, ()))
                skip ^= {t}
                new = dict(current)
                new[buf.name] = tuple(sorted(skip))
                bypass = tuple((b.name, new[b.name]) for b in self.architecture.buffers if new.get(b.name))
                out.append(dataclasses.replace(st, bypass=bypass))
        for spatial, s, access in self._dataflows:
            if (spatial == st.spatial) == (s == st.stream):  # exactly one of the two changes
                continue
            if s is None or st.stream is None or len(set(spatial) ^ set(st.spatial)) > 2:
                continue
            levels = self.stream_levels(s)
            if ls not in levels or ls not in free_levels:
                continue
            orders = list(st.orders)
            orders[ls] = self.order_choices(ls, ls, s)[0] if ls == self.pe else (
                *(d for d in orders[ls] if d != s), s)
            out.append(Structure(spatial, tuple(orders), s, st.bypass, access))
        return out

    # --- slots and templates ---------------------------------------------------------------

    def slots(self, st: Structure) -> Slots:
        dims: list[str] = []
        levels: list[int] = []
        axes: list[Axis | None] = []
        fixed: list[int] = []
        arr = self.architecture.array
        cons_spatial = {(ax, d): f for ax, lps in self.constraints.spatial.items() for d, f in lps}
        for li in range(self.pe + 1):
            if li == self.pe:
                for ax, d in st.spatial:
                    dims.append(d)
                    levels.append(li)
                    axes.append(ax)
                    fixed.append(cons_spatial.get((ax, d)) or 0)
            cons = dict(self.constraints.levels.get(self.level_names[li], ()))
            for d in st.orders[li]:
                dims.append(d)
                levels.append(li)
                axes.append(None)
                fixed.append(cons.get(d) or 0)
        sizes = self.workload.dims
        limits = [min(sizes[d], arr.rows if ax is Axis.Y else arr.cols) if ax is not None else sizes[d]
                  for d, ax in zip(dims, axes)]
        fixed_arr = np.array(fixed, dtype=np.int64)
        for j, d in enumerate(dims):  # dimensions of size 1 have one choice
            if sizes[d] == 1:
                fixed_arr[j] = 1
        pinned = np.array([ax is not None and fixed_arr[j] == 0 for j, ax in enumerate(axes)], dtype=bool)
        temporal = [j for j, ax in enumerate(axes) if ax is None]
        if st.stream is not None and temporal:
            pinned[temporal[-1]] = True
        by_dim = {d: tuple(j for j, x in enumerate(dims) if x == d) for d in sizes}
        remainder = {d: next((j for j in js if fixed_arr[j] == 0), -1) for d, js in by_dim.items()}
        return Slots(tuple(dims), tuple(levels), tuple(axes), fixed_arr, pinned,
                     np.array(limits, dtype=np.int64), by_dim, remainder)

    def minimal_row(self, slots: Slots) -> Array:
        row = np.where(slots.fixed > 0, slots.fixed, np.where(slots.pinned, 2, 1))
        return np.asarray(row[None, :], dtype=np.int64)

    def template(self, st: Structure, slots: Slots) -> Design | None:
        """The structure lowered once (capacities relaxed: the factors here are placeholders;
        the batch evaluation checks capacity per row), or ``None`` if no row can be valid."""
        rows, ok = self.normalize(slots, self.minimal_row(slots))
        if not ok[0]:
            return None
        mapping = self.mapping(st, slots, rows[0], keep_unit=True)
        try:
            design = lower(self.workload, self.relaxed, mapping)
        except SasimError:
            return None
        return dataclasses.replace(design, architecture=self.architecture)

    # --- factor rows -------------------------------------------------------------------------

    def normalize(self, slots: Slots, rows: Array) -> tuple[Array, Array]:
        """Apply the remainder rule and unit factors where the inner loops cover the dimension;
        return the rows and which obey every rule (fixed and pinned factors, array size)."""
        # Loops as rows of an (L, B) array: each loop's factors are contiguous.
        fixed = slots.fixed
        f = np.maximum(np.where(fixed[:, None] > 0, fixed[:, None], np.asarray(rows, dtype=np.int64).T), 1)
        ok = np.ones(f.shape[1], dtype=bool)
        for d, js in slots.by_dim.items():
            size = self.workload.dims[d]
            rem = slots.remainder[d]
            cum = np.ones(f.shape[1], dtype=np.int64)
            for j in reversed(js):
                if j == rem:
                    continue
                unused = (cum >= size) & (f[j] > 1)
                if fixed[j] > 0 or slots.pinned[j]:
                    ok &= ~unused
                else:
                    f[j] = np.where(unused, 1, f[j])
                if fixed[j] == 0:  # beyond ceil(size / inner) a factor only adds empty iterations
                    f[j] = np.minimum(f[j], np.maximum(1, -(-size // cum)))
                cum = cum * f[j]
            if rem >= 0:
                f[rem] = np.maximum(1, -(-size // cum))
            cum = np.ones(f.shape[1], dtype=np.int64)
            for j in reversed(js):
                ok &= ~((cum >= size) & (f[j] > 1))
                cum = cum * f[j]
            ok &= cum >= size if js else size == 1
        f = np.ascontiguousarray(f.T)
        ok &= np.all(f <= slots.limits[None, :], axis=1)
        ok &= np.all(~slots.pinned[None, :] | (f >= 2), axis=1)
        arr = self.architecture.array
        for axis, limit in ((Axis.Y, arr.rows), (Axis.X, arr.cols)):
            on_axis = [j for j, ax in enumerate(slots.axes) if ax is axis]
            if on_axis:
                ok &= np.prod(f[:, on_axis], axis=1) <= limit
        return f, ok

    def _choices(self, slots: Slots, j: int) -> Array:
        """The factors loop ``j`` may take, ascending (int64)."""
        lim = int(slots.limits[j])
        cands: list[int] = [c for c in self.candidates[slots.dims[j]] if c <= lim]
        if slots.axes[j] is not None and lim not in cands:
            cands.append(lim)
        return np.array([c for c in cands if c >= 2 or not slots.pinned[j]], dtype=np.int64)

    def _legal(self, slots: Slots, rows: Array) -> Array:
        """``rows`` normalized, those that break a rule dropped, each kept once."""
        rows, ok = self.normalize(slots, rows)
        return unique_rows(rows[ok])

    def row_count(self, slots: Slots) -> int:
        """Rows :meth:`all_rows` would enumerate (before normalization and de-duplication)."""
        return math.prod(len(self._choices(slots, j)) for j in slots.free())

    def all_rows(self, slots: Slots) -> Array:
        """Every factor choice of the structure that obeys the rules, de-duplicated."""
        free = slots.free()
        base = self.minimal_row(slots)
        if not free:
            rows, ok = self.normalize(slots, base)
            return np.asarray(rows[ok])
        grids = np.meshgrid(*[self._choices(slots, j) for j in free], indexing="ij")
        rows = np.repeat(base, grids[0].size, axis=0)
        for j, g in zip(free, grids):
            rows[:, j] = g.ravel()
        return self._legal(slots, rows)

    def random_rows(self, slots: Slots, rng: np.random.Generator, n: int) -> Array:
        """``n`` random factor choices (then normalized; invalid ones dropped) plus two starts:
        the smallest tiles, and the array filled."""
        rows = np.repeat(self.minimal_row(slots), n, axis=0)
        for j in slots.free():
            cands = self._choices(slots, j)
            if cands.size == 0:
                continue
            pick = cands[rng.integers(0, cands.size, size=n)]
            if slots.pinned[j]:
                rows[:, j] = pick
            else:
                rows[:, j] = np.where(rng.random(n) < 0.4, 1, pick)
        full = self.minimal_row(slots)
        for j, ax in enumerate(slots.axes):
            if ax is not None and slots.fixed[j] == 0:
                full[0, j] = slots.limits[j]
        rows = np.concatenate([self.minimal_row(slots), full, rows])
        return self._legal(slots, rows)

    def split_rows(self, slots: Slots, rng: np.random.Generator, n: int) -> Array:
        """``n`` random rows that split each dimension's size over its loops in log space (the
        shares uniform on the simplex), each factor snapped to its nearest candidate.

        :meth:`random_rows` draws each factor uniformly among the candidates, which are
        dense at large values, so most of its rows overflow small buffers; these rows keep
        every dimension's product near its size instead."""
        rows = np.repeat(self.minimal_row(slots), n, axis=0)
        for d, js in slots.by_dim.items():
            free = [j for j in js if slots.fixed[j] == 0]
            size = self.workload.dims[d]
            if not free or size == 1:
                continue
            shares = rng.dirichlet(np.ones(len(free)), size=n) * math.log(size)
            for k, j in enumerate(free):
                if j == slots.remainder[d]:
                    continue
                cands = self._choices(slots, j)
                if not cands.size:
                    continue
                want = shares[:, k]
                pick = np.abs(np.log(cands)[None, :] - want[:, None]).argmin(axis=1)
                rows[:, j] = cands[pick]
        return self._legal(slots, rows)

    def neighbour_rows(self, slots: Slots, rows: Array) -> Array:
        """Rows one step from each of ``rows``: one factor scaled by 2, 3 or 5, divided,
        moved by one, or set to 1 or its limit; or a prime factor moved between two loops
        of one dimension."""
        free = np.array(slots.free(), dtype=np.int64)
        rows = np.asarray(rows, dtype=np.int64)
        if not len(free) or not len(rows):
            return np.zeros((0, slots.width), dtype=np.int64)
        # One factor changed: (rows, free loops, 10 candidate values), all at once.
        f = rows[:, free][:, :, None]
        lim = slots.limits[free][None, :, None]
        vals = np.concatenate([f * 2, f * 3, f * 5, f + 1, f - 1, np.ones_like(f), np.broadcast_to(lim, f.shape)]
                              + [np.where(f % p == 0, f // p, 0) for p in (2, 3, 5)], axis=2)
        r, k, c = np.nonzero((vals >= 1) & (vals <= lim) & (vals != f))
        changed = rows[r]
        changed[np.arange(len(r)), free[k]] = vals[r, k, c]
        # A prime factor moved between two loops of one dimension.
        free_set = set(free.tolist())
        pairs = np.array([(a, b) for d in self.workload.dims
                          for a, b in itertools.permutations([j for j in slots.by_dim[d] if j in free_set], 2)],
                         dtype=np.int64).reshape(-1, 2)
        out = [changed]
        for p in (2, 3):
            a, b = pairs[:, 0], pairs[:, 1]
            r, q = np.nonzero((rows[:, a] % p == 0) & (rows[:, b] * p <= slots.limits[b][None, :]))
            moved = rows[r]
            idx = np.arange(len(r))
            moved[idx, a[q]] //= p
            moved[idx, b[q]] *= p
            out.append(moved)
        return self._legal(slots, np.concatenate(out))

    def line_rows(self, slots: Slots, row: Array) -> Array:
        """Rows with one free factor of ``row`` set to any of its candidate values (a line
        search along every loop: one step reaches a factor the neighbour moves need several
        steps for); normalized, invalid rows dropped."""
        row = np.asarray(row, dtype=np.int64).reshape(-1)
        out = []
        for j in slots.free():
            cands = self._choices(slots, j)
            rows = np.repeat(row[None, :], len(cands), axis=0)
            rows[:, j] = cands
            out.append(rows)
        if not out:
            return np.zeros((0, slots.width), dtype=np.int64)
        return self._legal(slots, np.concatenate(out))

    def pair_rows(self, slots: Slots, row: Array, span: int = _PAIR_SPAN) -> Array:
        """Rows with two free factors of ``row`` changed together, each to any value within a
        factor ``span`` of its own (every integer there, or the candidate factors where the
        range holds more than :data:`_PAIR_INTEGERS` integers); normalized, invalid rows dropped.

        Single-factor moves stop where capacity couples two loops: a larger tile of one
        dimension fits only with a smaller tile of another, and each move alone is invalid
        or worse. Imperfect factors make it worse: the remainder loop moves in jumps."""
        free = slots.free()
        row = np.asarray(row, dtype=np.int64).reshape(-1)
        if len(free) < 2:
            return np.zeros((0, slots.width), dtype=np.int64)
        near = {j: self._near(slots, j, int(row[j]), span) for j in free}
        out = []
        for a, b in itertools.combinations(free, 2):
            ga, gb = np.meshgrid(near[a], near[b], indexing="ij")
            rows = np.repeat(row[None, :], ga.size, axis=0)
            rows[:, a], rows[:, b] = ga.ravel(), gb.ravel()
            out.append(rows)
        return self._legal(slots, np.concatenate(out))

    def _near(self, slots: Slots, j: int, value: int, span: int) -> Array:
        lo, hi = max(1, value // span), min(int(slots.limits[j]), value * span)
        if slots.pinned[j]:
            lo = max(lo, 2)
        if hi - lo < _PAIR_INTEGERS:
            return np.arange(lo, hi + 1, dtype=np.int64)
        cands = self._choices(slots, j)
        return np.unique(np.concatenate([cands[(cands >= lo) & (cands <= hi)], [value]]))

    def kicked_rows(self, slots: Slots, rows: Array, rng: np.random.Generator, n: int) -> Array:
        """``n`` perturbations of each of ``rows``: three times, a random free loop is set to a
        random candidate factor (so one to three loops change); normalized, invalid rows dropped."""
        free = slots.free()
        if not free or not len(rows):
            return np.zeros((0, slots.width), dtype=np.int64)
        out = np.repeat(np.asarray(rows, dtype=np.int64), n, axis=0)
        cands = [self._choices(slots, j) for j in free]
        for _ in range(3):
            which = rng.integers(0, len(free), size=len(out))
            for i, j in enumerate(free):
                sel = np.flatnonzero(which == i)
                if len(sel) and len(cands[i]):
                    out[sel, j] = cands[i][rng.integers(0, len(cands[i]), size=len(sel))]
        return self._legal(slots, out)

    # --- bounds ---------------------------------------------------------------------------------

    def _energy_lower_bound(self) -> float:
        """MACs, the PE register accesses every MAC makes, and compulsory DRAM traffic."""
        wl, arch = self.workload, self.architecture
        bits = {t: s.bits for t, s in wl.tensors.items()}
        macs = wl.macs
        reg = arch.pe.register_pj_per_bit
        energy = macs * arch.pe.mac_energy(bits[wl.input], bits[wl.weight], bits[wl.output])
        energy += macs * (bits[wl.input] + bits[wl.weight]) * reg + macs * bits[wl.output] * reg
        for t in wl.operands:
            energy += self._touched(t) * bits[t] * arch.dram.read_pj_per_bit
        energy += self._touched(wl.output) * bits[wl.output] * arch.dram.write_pj_per_bit
        return float(energy)

    def _touched(self, tensor: str) -> int:
        sizes = self.workload.dims
        return math.prod(distinct_values(e, tuple(sizes[t.dim] for t in e.terms))
                         for e in self.workload.indices(tensor))

    def _dram_cycles_lower_bound(self) -> int:
        wl = self.workload
        bits = sum(self._touched(t) * wl.tensors[t].bits for t in wl.tensors)
        return -(-bits // self.architecture.dram.bits_per_cycle)

    def cycles_lower_bound(self, slots: Slots, rows: Array) -> Array:
        """Per row: DRAM latency plus the larger of the temporal steps the spatial factors
        leave (``prod ceil(size / spatial)``) and the compulsory DRAM traffic's cycles."""
        steps = np.ones(rows.shape[0], dtype=np.int64)
        for d, size in self.workload.dims.items():
            js = [j for j in slots.by_dim[d] if slots.axes[j] is not None]
            ext = np.prod(rows[:, js], axis=1) if js else np.ones(rows.shape[0], dtype=np.int64)
            steps = steps * -(-size // ext)
        return np.asarray(self.architecture.dram.latency + np.maximum(steps, self.dram_cycles_lb))

    # --- mappings ------------------------------------------------------------------------------

    def mapping(self, st: Structure, slots: Slots, row: Array, keep_unit: bool = False) -> Mapping:
        """The mapping of one factor row (loops of factor 1 dropped unless ``keep_unit``)."""
        temporal: dict[str, list[LoopSpec]] = {}
        spatial: dict[Axis, list[LoopSpec]] = {}
        for j, (d, li, ax) in enumerate(zip(slots.dims, slots.levels, slots.axes)):
            f = int(row[j])
            if f == 1 and not keep_unit:
                continue
            loop = LoopSpec(dim=d, factor=f)
            if ax is None:
                temporal.setdefault(self.level_names[li], []).append(loop)
            else:
                spatial.setdefault(ax, []).append(loop)
        return Mapping(
            temporal={k: tuple(v) for k, v in temporal.items()},
            spatial={k: tuple(v) for k, v in spatial.items()},
            bypass={b: tuple(ts) for b, ts in st.bypass},
            access=dict(st.access),
        )


def compact_mapping(mapping: Mapping, level_names: tuple[str, ...]) -> str:
    """``DRAM[M=4 N=2] GLB[K=8] Y[K=4] X[N=4] PE[M=2]``: levels and axes in nest order, then
    the bypasses as ``bypass[GLB:W,O]``."""
    parts = []
    for name in level_names:
        if name == level_names[-1]:
            for axis in (Axis.Y, Axis.X):
                if mapping.spatial.get(axis):
                    parts.append(f"{axis.value}[{format_loops(mapping.spatial[axis])}]")
        if mapping.temporal.get(name):
            parts.append(f"{name}[{format_loops(mapping.temporal[name])}]")
    skips = [f"{b}:{','.join(ts)}" for b, ts in mapping.bypass.items() if ts]
    if skips:
        parts.append(f"bypass[{' '.join(skips)}]")
    return " ".join(parts) or "(no loops)"


def _skew_links(entry: AccessEntry) -> int:
    return sum(1 for lk in entry.links if lk.kind in (LinkKind.SYSTOLIC, LinkKind.CHAIN))


def _set(orders: tuple[tuple[str, ...], ...], i: int, value: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return orders[:i] + (value,) + orders[i + 1:]

