"""Lowering: (Workload, Architecture, Mapping) -> Design, checked once.

Every rule a mapping must obey is enforced here, with a message naming the
field path, the bad value and the rule. Nothing downstream re-checks or
re-derives what this module decides.
"""

from __future__ import annotations

import math
from collections import defaultdict

from sasim.arch.architecture import Architecture, BufferSemantics
from sasim.design.dataflow import choose_entry
from sasim.design.design import Design, Level, LevelKind, Loop, Tile, Transfer, refill_positions
from sasim.errors import CapacityError, MappingError
from sasim.mapping.spec import Axis, Layout, LoopSpec, Mapping
from sasim.workload.workload import Role, Workload

__all__ = ["lower"]


def _levels(workload: Workload, arch: Architecture, mapping: Mapping) -> list[tuple[str, LevelKind, frozenset[str]]]:
    tensors = list(workload.tensors)
    names = arch.level_names
    for lvl in mapping.temporal:
        if lvl not in names:
            raise MappingError(f"mapping.temporal.{lvl}: unknown level {lvl!r}; the levels are {list(names)}")
    for lvl, bypassed in mapping.bypass.items():
        if lvl in ("DRAM", "PE"):
            raise MappingError(
                f"mapping.bypass.{lvl}: {lvl} holds every tensor and cannot be bypassed; "
                f"only buffers can: {list(names[1:-1])}"
            )
        if lvl not in names:
            raise MappingError(f"mapping.bypass.{lvl}: unknown buffer {lvl!r}; the buffers are {list(names[1:-1])}")
        for t in bypassed:
            if t not in workload.tensors:
                raise MappingError(f"mapping.bypass.{lvl}: unknown tensor {t!r}; the tensors are {tensors}")
    out = [("DRAM", LevelKind.DRAM, frozenset(tensors))]
    for buf in arch.buffers:
        skipped = set(mapping.bypass.get(buf.name, ()))
        for t in sorted(skipped):
            if workload.tensors[t].role not in buf.holds:
                raise MappingError(
                    f"mapping.bypass.{buf.name}: {buf.name} does not hold {t!r} (it holds "
                    f"{[r.value for r in buf.holds]}), so there is nothing to bypass"
                )
        keeps = frozenset(t for t in tensors if workload.tensors[t].role in buf.holds and t not in skipped)
        out.append((buf.name, LevelKind.BUFFER, keeps))
    out.append(("PE", LevelKind.PE, frozenset(tensors)))
    return out


def _resolve_factors(workload: Workload, specs: list[tuple[str, LoopSpec]]) -> list[int]:
    """Replace ``*`` factors and check each dimension is covered exactly once over."""
    by_dim: dict[str, list[int]] = defaultdict(list)
    for i, (_, spec) in enumerate(specs):
        by_dim[spec.dim].append(i)
    factors: list[int] = [0] * len(specs)
    for i, (where, spec) in enumerate(specs):
        if spec.dim not in workload.dims:
            raise MappingError(f"{where}: unknown dimension {spec.dim!r}; the dimensions are {list(workload.dims)}")
        if spec.factor != "*":
            size = workload.dims[spec.dim]
            if spec.factor < 1 or spec.factor > size:
                raise MappingError(
                    f"{where}: factor of {spec.dim} must be from 1 to its size {size}, not {spec.factor!r}"
                )
            factors[i] = spec.factor
    for dim, size in workload.dims.items():
        idx = by_dim.get(dim, [])
        stars = [i for i in idx if specs[i][1].factor == "*"]
        if len(stars) > 1:
            raise MappingError(f"{specs[stars[1]][0]}: dimension {dim} has more than one '*' factor")
        known = math.prod(factors[i] for i in idx if i not in stars)
        if stars:
            factors[stars[0]] = max(1, -(-size // known))
        elif known < size:
            raise MappingError(
                f"mapping: the factors of {dim} multiply to {known}, which does not cover its size {size}; "
                f"add a factor (or write {dim}=* at one level)"
            )
        # The outermost loop of a dimension must have a non-empty second iteration.
        inner = 1
        for i in reversed(idx):
            if factors[i] > 1 and inner >= size:
                raise MappingError(
                    f"{specs[i][0]}: factor {factors[i]} of {dim} is never used: the loops inside it already "
                    f"cover {dim} (tile {inner} >= size {size}); set it to 1"
                )
            inner *= factors[i]
    return factors


def lower(workload: Workload, architecture: Architecture, mapping: Mapping) -> Design:
    """Check ``mapping`` against ``workload`` and ``architecture`` and build the Design."""
    level_defs = _levels(workload, architecture, mapping)
    pe_index = len(level_defs) - 1

    specs: list[tuple[str, LoopSpec]] = []
    owners: list[tuple[int, Axis | None]] = []
    starts: list[int] = []
    for li, (name, _, _) in enumerate(level_defs):
        if li == pe_index:
            # Spatial loops sit between the innermost buffer and the PE registers: Y, then X.
            for axis in (Axis.Y, Axis.X):
                for j, spec in enumerate(mapping.spatial.get(axis, ())):
                    specs.append((f"mapping.spatial.{axis.value}[{j}]", spec))
                    owners.append((li, axis))
        starts.append(len(specs))
        for j, spec in enumerate(mapping.temporal.get(name, ())):
            specs.append((f"mapping.temporal.{name}[{j}]", spec))
            owners.append((li, None))
    array_boundary = next((i for i, (_, ax) in enumerate(owners) if ax is not None), starts[pe_index])
    factors = _resolve_factors(workload, specs)
    loops = tuple(Loop(dim=s.dim, factor=f, level=o[0], axis=o[1]) for (_, s), f, o in zip(specs, factors, owners))

    arr = architecture.array
    for axis, limit, what in ((Axis.Y, arr.rows, "rows"), (Axis.X, arr.cols, "cols")):
        used = math.prod(lp.factor for lp in loops if lp.axis is axis)
        if used > limit:
            raise MappingError(
                f"mapping.spatial.{axis.value}: spatial factors multiply to {used}, more than the array's "
                f"{limit} {what}"
            )

    levels = tuple(
        Level(index=i, name=n, kind=k, keeps=keeps, boundary=starts[i]) for i, (n, k, keeps) in enumerate(level_defs)
    )

    # Access entries first: they decide nothing about tiles but a bad one must be reported early.
    stream = next((lp for lp in reversed(loops) if not lp.is_spatial and lp.factor > 1), None)
    spatial_dims: dict[Axis, list[str]] = {
        ax: [lp.dim for lp in loops if lp.axis is ax and lp.factor > 1] for ax in (Axis.X, Axis.Y)
    }
    for t in mapping.access:
        if t not in workload.tensors:
            raise MappingError(f"mapping.access.{t}: unknown tensor {t!r}; the tensors are {list(workload.tensors)}")
    access = {
        t: choose_entry(workload, t, spatial_dims, stream.dim if stream else None,
                        arr.links(spec.role), mapping.access.get(t))
        for t, spec in workload.tensors.items()
    }

    design = Design(
        workload=workload, architecture=architecture, mapping=mapping, levels=levels, loops=loops,
        array_boundary=array_boundary, access=access, tiles={},
    )
    tiles: dict[tuple[str, str], Tile] = {}
    for lvl in levels:
        for t in sorted(lvl.keeps):
            ext = design.tile_extents(lvl.boundary)
            rel = workload.tensor_dims(t)
            tiles[(lvl.name, t)] = Tile(tuple((d, ext[d]) for d in rel), design.tile_elements(t, lvl.boundary))
    object.__setattr__(design, "tiles", tiles)
    object.__setattr__(design, "transfers", _transfers(design))
    object.__setattr__(design, "stationary", _stationary(design))
    object.__setattr__(design, "layouts", _layouts(design))
    _check_capacity(design)
    return design


def _check_capacity(design: Design) -> None:
    arch = design.architecture
    for buf, lvl in zip(arch.buffers, design.levels[1:-1]):
        copies = 2 if buf.semantics is BufferSemantics.DOUBLE_BUFFER else 1
        need = {t: design.tiles[(lvl.name, t)].elements * design.bits(t) * copies for t in sorted(lvl.keeps)}
        total = sum(need.values())
        if total > buf.capacity * 8:
            parts = ", ".join(f"{t}: {-(-b // 8)} B" for t, b in need.items())
            extra = " (double buffering holds two copies)" if copies == 2 else ""
            raise CapacityError(
                f"mapping.temporal.{lvl.name}: the tiles at {lvl.name} need {-(-total // 8)} B ({parts}){extra} "
                f"but {lvl.name} holds {buf.capacity} B; move factors from {lvl.name} or below to an outer level"
            )
    pe = design.pe_level
    for t in sorted(pe.keeps):
        role = design.role(t)
        regs = arch.pe.registers(role)
        elems = design.tiles[(pe.name, t)].elements
        if elems > regs:
            raise CapacityError(
                f"mapping.temporal.PE: the PE tile of {t!r} has {elems} elements but a PE has {regs} "
                f"{role.value} register(s) (architecture.pe.{role.value}_registers); move PE loops outward"
            )


def _transfers(design: Design) -> tuple[Transfer, ...]:
    out = []
    factors = design.factors[None, :]
    for t, spec in design.workload.tensors.items():
        keepers = design.keepers(t)
        direction = "up" if spec.role is Role.OUTPUT else "down"
        for parent, child in zip(keepers[:-1], keepers[1:]):
            pos = int(refill_positions(design.loops, design.workload, t, child.boundary, factors)[0])
            out.append(Transfer(t, parent.name, child.name, direction, pos if pos >= 0 else None))
    return tuple(out)


def _stationary(design: Design) -> str | None:
    """The tensor that stays in the PEs for a fold: the output if it is stationary, else an input."""
    wl = design.workload
    for t in (wl.output, *wl.operands):
        if design.access[t].is_stationary:
            return t
    return None


def _layouts(design: Design) -> dict[tuple[str, str], Layout]:
    """The non-ideal bank layouts the mapping asks for, checked against the buffers."""
    buffers = [lvl for lvl in design.levels if lvl.kind is LevelKind.BUFFER]
    names = [lvl.name for lvl in buffers]
    out: dict[tuple[str, str], Layout] = {}
    for name, tensors in design.mapping.layout.items():
        if name not in names:
            raise MappingError(f"mapping.layout.{name}: unknown buffer {name!r}; the buffers are {names}")
        level = design.level(name)
        for tensor, kind in tensors.items():
            if tensor not in level.keeps:
                raise MappingError(
                    f"mapping.layout.{name}.{tensor}: {name} does not hold {tensor!r} (it holds {sorted(level.keeps)})"
                )
            if kind is not Layout.IDEAL:
                out[(name, tensor)] = kind
    return out
