"""The classic dataflows as mapping presets: ``ws``, ``os`` and ``is``.

``build_mapping(name, workload, architecture)`` maps any workload onto any
architecture so that one tensor stays in the PEs while the array steps through a
*stream* loop (the innermost temporal loop) it does not use:

* ``ws``: the weight is stationary. A reduction dimension goes on ``Y`` and a
  dimension of the weight and the output on ``X`` (GEMM: ``K@Y N@X``, stream ``M``).
* ``os``: the output is stationary. A dimension of the input and the output goes on
  ``Y``, one of the weight and the output on ``X``, and a reduction dimension is the
  stream (GEMM: ``M@Y N@X``, stream ``K``).
* ``is``: the input is stationary. A reduction dimension on ``Y``, a dimension of the
  input and the output on ``X`` (GEMM: ``K@Y M@X``, stream ``N``).

Dimensions are classed by the tensors they index (reduction: not in the output;
weight-output; input-output; all three). Candidates (one dimension per axis, or an
axis left unused) are scored by the fraction of the array they keep busy, halved
for every step away from the preset's preferred classes, so the classic shape wins
unless it leaves the array mostly idle; when a class is empty or its choice cannot be
fed with the links the architecture has (a depthwise convolution has no
weight-output dimension, a strided convolution has no diagonal input reuse), the
others are tried. Every candidate is checked with the access-entry rules
:func:`sasim.design.lower` applies. Spatial factors fill the array as far as the
dimension allows (``min(size, rows)``; partial tiles are fine).

Then a deterministic greedy tiler fills the levels from the PE registers outwards:
the stream loop goes innermost at the innermost level that can hold two of its steps,
and each further dimension takes the largest factor every level at or above it can
hold (balanced so the last tile is not needlessly small). Tensors whose smallest tile
does not fit a buffer bypass it. Several dimension priorities are tried and, within
each level, loop orders are chosen by a small traffic estimate (words moved between
levels, weighted by each level's access energy per bit); the best mapping wins. What
remains goes to DRAM. The result is lowered once to check it.

Parameters: ``spatial={"X": "N", "Y": "K=8"}`` fixes the dimension (and optionally
the factor) on an axis (``None`` or ``""`` leaves the axis unused; an axis not given
is chosen as usual); ``stream="M"`` fixes the stream dimension.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from sasim.arch.architecture import Architecture, BufferSemantics, LinkKind
from sasim.errors import MappingError, SasimError
from sasim.mapping.spec import Axis, LoopSpec, Mapping
from sasim.workload.projection import distinct_values
from sasim.workload.workload import Role, Workload

__all__ = ["MAPPING_PRESETS", "build_mapping"]

#: The preset names, in the order the docs list them.
MAPPING_PRESETS: tuple[str, ...] = ("ws", "os", "is")

_STATIONARY = {"ws": Role.WEIGHT, "os": Role.OUTPUT, "is": Role.INPUT}
_PARAMS = ("spatial", "stream")

_RED, _ALL, _WO, _IO = "reduction", "all", "weight-output", "input-output"
#: Dimension classes preferred on (Y, X), best first.
_CLASSES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "ws": ((_RED, _ALL, _IO, _WO), (_WO, _ALL, _IO, _RED)),
    "os": ((_IO, _ALL, _WO, _RED), (_WO, _ALL, _IO, _RED)),
    "is": ((_RED, _ALL, _WO, _IO), (_IO, _ALL, _WO, _RED)),
}
#: A candidate one class step further from the preset's shape must fill the array this much better.
_RANK_DISCOUNT = 0.5
#: Loop orders are searched exhaustively up to this many loops in one level.
_MAX_PERMUTED = 5

Spatial = tuple[tuple[Axis, str, int], ...]  # (axis, dim, factor), Y before X
Loops = list[tuple[str, int]]  # (dim, factor), outer to inner


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


# --- choosing the dataflow -------------------------------------------------------------


def _dim_class(wl: Workload, dim: str) -> str:
    in_i, in_w, in_o = (wl.is_relevant(t, dim) for t in (wl.input, wl.weight, wl.output))
    if not in_o:
        return _RED
    if in_i and in_w:
        return _ALL
    return _WO if in_w else _IO


def _stationary_tensor(wl: Workload, role: Role) -> str:
    return {Role.INPUT: wl.input, Role.WEIGHT: wl.weight, Role.OUTPUT: wl.output}[role]


def _feed_problem(wl: Workload, arch: Architecture, spatial: Spatial, stream: str | None) -> str | None:
    """Why no access entry can feed some tensor under this plan, or ``None`` if all can."""
    from sasim.design.dataflow import choose_entry

    dims = {ax: [d for a, d, f in spatial if a is ax and f > 1] for ax in (Axis.X, Axis.Y)}
    if stream is None:  # one step: every tensor stays in the PEs
        for t, spec in wl.tensors.items():
            links = arch.array.links(spec.role)
            if LinkKind.STATIONARY not in links:
                return (
                    f"the array holds the whole workload at once, so every tensor stays in the PEs, but architecture "
                    f"{arch.name!r} has no stationary {spec.role.value} link for {t!r} "
                    f"(architecture.array.{spec.role.value}_links is {[k.value for k in links]})"
                )
    for t, spec in wl.tensors.items():
        try:
            choose_entry(wl, t, dims, stream, arch.array.links(spec.role), None)
        except MappingError as exc:
            return str(exc)
    return None


def _axis_choices(wl: Workload, n: int, fixed: tuple[str, int] | None | str) -> list[tuple[str, int] | None]:
    """Candidate (dim, factor) for one axis of ``n`` PEs; ``fixed`` is the user's override."""
    if fixed != "auto":
        return [fixed if isinstance(fixed, tuple) and fixed[1] > 1 else None]
    if n < 2:
        return [None]
    return [None] + [(d, min(s, n)) for d, s in wl.dims.items() if s > 1]


def _rank(wl: Workload, classes: tuple[str, ...], choice: tuple[str, int] | None) -> float:
    if choice is None:
        return float(len(classes))
    cls = _dim_class(wl, choice[0])
    partial = cls == _RED and not (wl.is_relevant(wl.input, choice[0]) and wl.is_relevant(wl.weight, choice[0]))
    return classes.index(cls) + (0.5 if partial else 0.0)


def _fill(wl: Workload, n: int, choice: tuple[str, int] | None) -> float:
    """The fraction of an axis of ``n`` PEs this choice keeps busy over its folds."""
    if choice is None:
        return 1.0 / n
    size = wl.dims[choice[0]]
    return size / (_ceil(size, choice[1]) * n)


def _stream_choices(wl: Workload, spatial: Spatial, stationary: str) -> list[str | None]:
    """Dimensions the stationary tensor does not use with temporal steps left, best first.

    ``[None]`` when nothing is left to iterate in time (the whole workload is spatial).
    """
    cover = {d: 1 for d in wl.dims}
    for _, d, f in spatial:
        cover[d] *= f
    left = {d: _ceil(s, cover[d]) for d, s in wl.dims.items()}
    if all(r == 1 for r in left.values()):
        return [None]
    others = [t for t in wl.tensors if t != stationary]
    order = list(wl.dims)
    cands = [d for d in order if left[d] > 1 and not wl.is_relevant(stationary, d)]

    def key(d: str) -> tuple[int, int, int]:
        both = all(wl.is_relevant(t, d) for t in others)
        return (0 if both else 1, -left[d], -order.index(d))

    return [*sorted(cands, key=key)]


def _plans(
    name: str, wl: Workload, arch: Architecture, stationary: str,
    fixed: dict[Axis, tuple[str, int] | None | str], stream: str | None,
) -> tuple[list[tuple[Spatial, str | None]], str | None]:
    """Every feasible (spatial, stream) plan, best first, and why the best candidate failed."""
    y_classes, x_classes = _CLASSES[name]
    rows, cols = arch.array.rows, arch.array.cols
    cands = []
    for y in _axis_choices(wl, rows, fixed[Axis.Y]):
        for x in _axis_choices(wl, cols, fixed[Axis.X]):
            if y is not None and x is not None and y[0] == x[0]:
                continue
            rank = _rank(wl, y_classes, y) + _rank(wl, x_classes, x)
            score = _fill(wl, rows, y) * _fill(wl, cols, x) * _RANK_DISCOUNT**rank
            cands.append((-score, rank, y, x))
    cands.sort(key=lambda c: (c[0], c[1]))
    plans: list[tuple[Spatial, str | None]] = []
    first_problem: str | None = None
    for _, _, y, x in cands:
        spatial: Spatial = tuple((ax, c[0], c[1]) for ax, c in ((Axis.Y, y), (Axis.X, x)) if c is not None)
        streams = _stream_choices(wl, spatial, stationary)
        if stream is not None:
            streams = [s for s in streams if s == stream]
        for s in streams:
            problem = _feed_problem(wl, arch, spatial, s)
            if problem is None:
                plans.append((spatial, s))
                break
            first_problem = first_problem or problem
        else:
            if first_problem is None and not streams:
                first_problem = f"no dimension that {stationary!r} does not use is left to step through in time"
    return plans, first_problem


# --- tiling ------------------------------------------------------------------------------


class _Tiler:
    """Loops per level for one plan, with the capacity check of lowering and a traffic estimate."""

    def __init__(self, wl: Workload, arch: Architecture, spatial: Spatial, stream: str | None) -> None:
        self.wl, self.arch, self.stream = wl, arch, stream
        self.size = dict(wl.dims)
        self.tensors = list(wl.tensors)
        self.exprs = {t: wl.indices(t) for t in self.tensors}
        self.rel = {t: set(wl.tensor_dims(t)) for t in self.tensors}
        self.bits = {t: wl.tensors[t].bits for t in self.tensors}
        self.axes = spatial
        self.spatial: Loops = [(d, f) for _, d, f in spatial]
        self.names = arch.level_names
        self.pe = len(self.names) - 1
        self.keeps: list[set[str]] = [set(self.tensors)]
        self.bypass: dict[str, list[str]] = {}
        self.capacity: list[int] = [0]
        self.copies: list[int] = [1]
        self.energy: list[float] = [arch.dram.read_pj_per_bit]
        for buf in arch.buffers:
            self.keeps.append({t for t in self.tensors if wl.tensors[t].role in buf.holds})
            self.capacity.append(buf.capacity * 8)
            self.copies.append(2 if buf.semantics is BufferSemantics.DOUBLE_BUFFER else 1)
            self.energy.append(buf.read_energy)
        self.keeps.append(set(self.tensors))
        self.capacity.append(0)
        self.copies.append(1)
        self.energy.append(arch.pe.register_pj_per_bit)
        self.registers = {t: arch.pe.registers(wl.tensors[t].role) for t in self.tensors}
        self.loops: list[Loops] = [[] for _ in self.names]
        self._bypass_what_cannot_fit()

    # nest structure, as lowering builds it

    def _flat(self) -> tuple[list[tuple[str, int, bool]], list[int], int]:
        flat: list[tuple[str, int, bool]] = []
        starts: list[int] = []
        array = 0
        for li in range(len(self.names)):
            if li == self.pe:
                array = len(flat)
                flat.extend((d, f, True) for d, f in self.spatial)
            starts.append(len(flat))
            flat.extend((d, f, False) for d, f in self.loops[li])
        return flat, starts, array

    def _elements(self, t: str, flat: list[tuple[str, int, bool]], start: int) -> int:
        ext = {d: 1 for d in self.size}
        for d, f, _ in flat[start:]:
            ext[d] *= f
        return math.prod(
            distinct_values(e, tuple(min(ext[term.dim], self.size[term.dim]) for term in e.terms))
            for e in self.exprs[t]
        )

    def fits(self, level: int) -> bool:
        """``level`` and every level outside it hold their tiles (what lowering checks);
        loops at ``level`` do not change the tiles of the levels inside it."""
        flat, starts, _ = self._flat()
        for li in range(1, level + 1):
            if li == self.pe:
                if any(self._elements(t, flat, starts[li]) > self.registers[t] for t in self.tensors):
                    return False
            elif self.keeps[li]:
                need = sum(self._elements(t, flat, starts[li]) * self.bits[t] for t in self.keeps[li])
                if need * self.copies[li] > self.capacity[li]:
                    return False
        return True

    def _bypass_what_cannot_fit(self) -> None:
        flat, starts, _ = self._flat()
        for li in range(1, self.pe):
            need = {t: self._elements(t, flat, starts[li]) * self.bits[t] * self.copies[li] for t in self.keeps[li]}
            while self.keeps[li] and sum(need[t] for t in self.keeps[li]) > self.capacity[li]:
                worst = max(sorted(self.keeps[li]), key=lambda t: need[t])
                self.keeps[li].discard(worst)
                self.bypass.setdefault(self.names[li], []).append(worst)

    def cost(self) -> float:
        """Words moved into every keeper from its parent, in pJ (outputs both ways)."""
        flat, starts, array = self._flat()
        total = 0.0
        for t in self.tensors:
            keepers = [li for li in range(len(self.names)) if t in self.keeps[li]]
            for parent, li in zip(keepers, keepers[1:]):
                events = 1
                for i in range(starts[li] - 1, -1, -1):
                    d, f, spatial = flat[i]
                    if not spatial and f > 1 and d in self.rel[t]:
                        events = math.prod(g for _, g, sp in flat[: i + 1] if not sp)
                        break
                tile = self._elements(t, flat, array if li == self.pe else starts[li])
                words = events * tile * (2 if t == self.wl.output else 1)
                total += words * self.bits[t] * self.energy[parent]
        return total

    # growing the tiles

    def _max_factor(self, li: int, dim: str, limit: int) -> int:
        def ok(f: int) -> bool:
            self.loops[li].insert(0, (dim, f))
            try:
                return self.fits(li)
            finally:
                self.loops[li].pop(0)

        if ok(limit):
            return limit
        lo, hi = 1, limit  # ok(lo), not ok(hi)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if ok(mid) else (lo, mid)
        return lo

    def grow(self, order: list[str]) -> None:
        """Fill the levels inner to outer with ``order`` (inner to outer; the stream first)."""
        self.loops = [[] for _ in self.names]
        cover = {d: 1 for d in self.size}
        for d, f in self.spatial:
            cover[d] *= f
        placed = self.stream is None
        for li in range(self.pe, 0, -1):
            for d in order:
                left = _ceil(self.size[d], cover[d])
                if left < 2 or (not placed and d != self.stream):
                    continue
                f = self._max_factor(li, d, left)
                if f >= 2:
                    f = _ceil(left, _ceil(left, f))
                    self.loops[li].insert(0, (d, f))
                    cover[d] *= f
                if not placed:
                    if f < 2:
                        break  # this level cannot take two steps of the stream: no loops here
                    placed = True
        for d in order:
            left = _ceil(self.size[d], cover[d])
            if left > 1:
                self.loops[0].insert(0, (d, left))

    def order_loops(self) -> None:
        """Choose each level's loop order by the traffic estimate (the stream stays innermost)."""
        inner = max((li for li in range(len(self.names)) if self.loops[li]), default=0)
        for li in range(self.pe):
            loops = self.loops[li]
            pinned = li == inner and self.stream is not None
            free = loops[:-1] if pinned else loops
            if len(free) < 2 or len(free) > _MAX_PERMUTED:
                continue
            tail = loops[-1:] if pinned else []
            best: tuple[float, Loops] | None = None
            for perm in itertools.permutations(free):
                self.loops[li] = [*perm, *tail]
                c = self.cost()
                if best is None or c < best[0] * (1 - 1e-12):
                    best = (c, list(self.loops[li]))
            assert best is not None
            self.loops[li] = best[1]

    def mapping(self) -> Mapping:
        temporal = {self.names[li]: tuple(LoopSpec(dim=d, factor=f) for d, f in loops)
                    for li, loops in enumerate(self.loops) if loops}
        spatial = {ax: (LoopSpec(dim=d, factor=f),) for ax, d, f in self.axes}
        bypass = {b: tuple(sorted(ts)) for b, ts in self.bypass.items()}
        return Mapping(temporal=temporal, spatial=spatial, bypass=bypass)

    def plain(self, order: list[str]) -> None:
        """Every buffer bypassed, every temporal loop at DRAM (``order`` inner to outer):
        the mapping of last resort, which only the array's links can make fail."""
        for li in range(1, self.pe):
            held = sorted(self.keeps[li] | set(self.bypass.get(self.names[li], ())))
            if held:
                self.bypass[self.names[li]] = held
            self.keeps[li] = set()
        cover = {d: 1 for d in self.size}
        for d, f in self.spatial:
            cover[d] *= f
        self.loops = [[] for _ in self.names]
        self.loops[0] = [(d, _ceil(self.size[d], cover[d])) for d in reversed(order)
                         if _ceil(self.size[d], cover[d]) > 1]


def _orders(wl: Workload, spatial: Spatial, stream: str | None, stationary: str) -> list[list[str]]:
    """Dimension priorities (inner to outer) to grow the tiles with, the heuristic one first."""
    cover = {d: 1 for d in wl.dims}
    for _, d, f in spatial:
        cover[d] *= f
    left = {d: _ceil(s, cover[d]) for d, s in wl.dims.items()}
    dims = list(wl.dims)
    others = sorted((d for d in dims if left[d] > 1 and d != stream), key=lambda d: (-left[d], dims.index(d)))
    free = [d for d in others if not wl.is_relevant(stationary, d)]
    red = [d for d in others if d not in free and not wl.is_relevant(wl.output, d)]
    rest = [d for d in others if d not in free and d not in red]
    head = [stream] if stream is not None else []
    out: list[list[str]] = []
    for groups in ((free, red, rest), (red, free, rest), (rest, free, red), (free, rest, red)):
        order = head + [d for g in groups for d in g]
        if order not in out:
            out.append(order)
    return out


def _tile(wl: Workload, arch: Architecture, spatial: Spatial, stream: str | None, stationary: str) -> list[Mapping]:
    """Mappings for one plan, best first; the last one is the plain one (everything else at DRAM)."""
    orders = _orders(wl, spatial, stream, stationary)
    results: list[tuple[float, Mapping]] = []
    tiler = _Tiler(wl, arch, spatial, stream)
    for order in orders:
        tiler.grow(order)
        tiler.order_loops()
        results.append((tiler.cost(), tiler.mapping()))
    results.sort(key=lambda r: r[0])  # stable: ties keep the heuristic order first
    tiler.plain(orders[0])
    return [m for _, m in results] + [tiler.mapping()]


# --- parameters and the entry point ------------------------------------------------------


def _parse_spatial(name: str, value: Any, wl: Workload, arch: Architecture) -> dict[Axis, tuple[str, int] | None | str]:
    fixed: dict[Axis, tuple[str, int] | None | str] = {Axis.X: "auto", Axis.Y: "auto"}
    if value is None:
        return fixed
    where = f"mapping preset {name!r}: spatial"
    if not isinstance(value, dict):
        raise MappingError(f"{where} must map 'X' and/or 'Y' to a dimension such as 'N' or 'N=8', not {value!r}")
    for key, choice in value.items():
        axis = Axis(str(key).upper()) if str(key).upper() in ("X", "Y") else None
        if axis is None:
            raise MappingError(f"{where}: unknown array axis {key!r}; the axes are 'X' (along a row) and 'Y'")
        n, what = (arch.array.cols, "cols") if axis is Axis.X else (arch.array.rows, "rows")
        if choice is None or choice == "":
            fixed[axis] = None
            continue
        if not isinstance(choice, str):
            raise MappingError(f"{where}.{axis.value}: give a dimension such as 'N' or 'N=8', not {choice!r}")
        dim, _, factor_text = choice.partition("=")
        dim = dim.strip()
        if dim not in wl.dims:
            raise MappingError(f"{where}.{axis.value}: unknown dimension {dim!r}; the dimensions are {list(wl.dims)}")
        top = min(wl.dims[dim], n)
        factor = top
        if factor_text.strip():
            if not factor_text.strip().isdigit() or not 1 <= int(factor_text) <= top:
                raise MappingError(
                    f"{where}.{axis.value}: factor of {dim} must be from 1 to {top} (its size {wl.dims[dim]} and "
                    f"the array's {n} {what}), not {factor_text.strip()!r}"
                )
            factor = int(factor_text)
        fixed[axis] = (dim, factor)
    x, y = fixed[Axis.X], fixed[Axis.Y]
    if isinstance(x, tuple) and isinstance(y, tuple) and x[0] == y[0]:
        raise MappingError(f"{where}: X and Y both name dimension {x[0]!r}; give each axis its own dimension")
    return fixed


def build_mapping(name: str, workload: Workload, architecture: Architecture, **params: Any) -> Mapping:
    """The ``ws``, ``os`` or ``is`` mapping of ``workload`` onto ``architecture`` (see the module doc).

    The returned mapping lowers, and the access entry derived for the preset's tensor
    is stationary. Raises :class:`MappingError` when the preset, a parameter, or the
    dataflow itself is impossible here, saying why.
    """
    from sasim.design.lower import lower

    if name not in MAPPING_PRESETS:
        raise MappingError(f"unknown mapping preset {name!r}; choose one of {list(MAPPING_PRESETS)}")
    unknown = sorted(set(params) - set(_PARAMS))
    if unknown:
        raise MappingError(f"mapping preset {name!r} has no parameter(s) {unknown}; its parameters are {list(_PARAMS)}")
    role = _STATIONARY[name]
    stationary = _stationary_tensor(workload, role)
    links = architecture.array.links(role)
    if LinkKind.STATIONARY not in links:
        can = [p for p in MAPPING_PRESETS if LinkKind.STATIONARY in architecture.array.links(_STATIONARY[p])]
        raise MappingError(
            f"mapping preset {name!r} keeps the {role.value} {stationary!r} stationary, but architecture "
            f"{architecture.name!r} has no stationary {role.value} link (architecture.array.{role.value}_links is "
            f"{[k.value for k in links]}); presets it supports: {can}"
        )
    fixed = _parse_spatial(name, params.get("spatial"), workload, architecture)
    stream: str | None = None
    if params.get("stream") is not None:
        stream = params["stream"]
        if not isinstance(stream, str) or stream not in workload.dims:
            raise MappingError(
                f"mapping preset {name!r}: stream: unknown dimension {stream!r}; "
                f"the dimensions are {list(workload.dims)}"
            )
        if workload.is_relevant(stationary, stream):
            raise MappingError(
                f"mapping preset {name!r}: stream: {stationary!r} uses dimension {stream!r}, so it could not stay "
                f"stationary while the array steps through it; choose a dimension {stationary!r} does not use"
            )
    plans, problem = _plans(name, workload, architecture, stationary, fixed, stream)
    if not plans:
        free = [d for d, s in workload.dims.items() if s > 1 and not workload.is_relevant(stationary, d)]
        whole = problem is not None and problem.startswith("the array holds the whole workload")
        if not free and stream is None and not whole:
            used = [d for d, s in workload.dims.items() if s > 1]
            raise MappingError(
                f"mapping preset {name!r} cannot keep the {role.value} {stationary!r} stationary: it uses every "
                f"dimension of {workload.name!r} larger than 1 ({used}), so no stream loop leaves it in place and "
                f"the {architecture.array.rows}x{architecture.array.cols} array cannot hold the whole workload at once"
            )
        raise MappingError(
            f"mapping preset {name!r}: no mapping of {workload.name!r} onto the {architecture.array.rows}x"
            f"{architecture.array.cols} array of {architecture.name!r} keeps {stationary!r} stationary with the "
            f"links the architecture has; the closest candidate fails with: {problem}"
        )
    failures: list[str] = []
    for spatial, s in plans:
        for mapping in _tile(workload, architecture, spatial, s, stationary):
            try:
                design = lower(workload, architecture, mapping)
            except SasimError as exc:  # a tiler bug: fall back, but remember why
                failures.append(str(exc))
                continue
            if design.access[stationary].is_stationary:
                return mapping
            failures.append(f"{stationary!r} is {design.access[stationary].name}, not stationary")
    raise MappingError(
        f"mapping preset {name!r}: could not build a mapping of {workload.name!r} onto {architecture.name!r} that "
        f"lowers (please report this): {failures[0] if failures else 'no candidate'}"
    )
