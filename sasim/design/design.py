"""The Design: the one frozen IR that every executor reads.

It holds the loop nest (temporal and spatial loops, outer to inner, with their
factors), the storage levels with the tensors each keeps and where its tile
begins in the nest, the tile of every tensor at every level, and the array
dataflow (the access entry of each tensor). Lowering (:func:`sasim.design.lower`)
is the only place that builds one, and it checks every invariant there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from sasim.arch.architecture import Architecture
from sasim.mapping.access import AccessEntry
from sasim.mapping.spec import Axis, Layout, LoopSpec, Mapping
from sasim.workload.projection import distinct_values
from sasim.workload.workload import Role, Workload

__all__ = ["Design", "Level", "LevelKind", "Loop", "Tile", "Transfer", "refill_positions", "region_elements"]


class LevelKind(StrEnum):
    DRAM = "dram"
    BUFFER = "buffer"
    PE = "pe"


@dataclass(frozen=True, slots=True)
class Loop:
    """One loop of the nest. ``level`` is the storage level whose temporal loops it
    belongs to; spatial loops (``axis`` set) sit at the array, between the innermost
    buffer and the PE registers, and carry the PE level's index."""

    dim: str
    factor: int
    level: int
    axis: Axis | None = None

    @property
    def is_spatial(self) -> bool:
        return self.axis is not None

    def __str__(self) -> str:
        where = f"@{self.axis.value}" if self.axis else ""
        return f"{self.dim}={self.factor}{where}"


@dataclass(frozen=True, slots=True)
class Level:
    """A storage level. Its tile of a tensor spans ``loops[boundary:]`` of the nest."""

    index: int
    name: str
    kind: LevelKind
    keeps: frozenset[str]
    boundary: int


@dataclass(frozen=True, slots=True)
class Tile:
    """The largest tile a level holds of one tensor: extents per dimension, elements."""

    extents: tuple[tuple[str, int], ...]
    elements: int


@dataclass(frozen=True, slots=True)
class Transfer:
    """Movement of one tensor between adjacent keepers (docs/model.md).

    ``down`` transfers fill ``child`` from ``parent``; ``up`` transfers drain
    partial sums from ``child`` into ``parent``. ``refill`` is the position of the
    loop r* in the nest: the child takes (or leaves) a tile at the start of each
    iteration of ``loops[: refill + 1]``; ``None`` means once.
    """

    tensor: str
    parent: str
    child: str
    direction: str  # "down" or "up"
    refill: int | None


def region_elements(capacity_bytes: int, tile_bits: dict[str, int] | dict[str, np.ndarray], tensor: str,
                    bits: int) -> np.ndarray:
    """Elements of ``tensor``'s region in a buffer of ``capacity_bytes``: the capacity is
    shared among the tensors the buffer keeps in proportion to ``tile_bits``, each one's
    largest tile in bits (per factor row). The simulator's regions and the model's drain
    both follow this rule (docs/timing.md, "Buffers")."""
    total = sum(np.asarray(b) for b in tile_bits.values())
    return np.asarray(capacity_bytes * 8 * np.asarray(tile_bits[tensor]) // total // bits)


def refill_positions(loops: tuple[Loop, ...], workload: Workload, tensor: str, boundary: int,
                     factors: np.ndarray) -> np.ndarray:
    """Position of r* for each factor row: the innermost temporal loop before
    ``boundary`` relevant to ``tensor`` with a factor above 1, or -1."""
    relevant = workload.tensor_dims(tensor)
    js = [j for j, lp in enumerate(loops[:boundary]) if lp.axis is None and lp.dim in relevant]
    if not js:
        return np.full(factors.shape[0], -1, dtype=np.int64)
    # the positions increase, so the innermost such loop is the largest position
    return np.asarray(np.where(factors[:, js] > 1, np.array(js, dtype=np.int64), -1).max(axis=1))


@dataclass(frozen=True)
class Design:
    """A checked, lowered accelerator configuration (build it with :func:`sasim.design.lower`)."""

    workload: Workload
    architecture: Architecture
    mapping: Mapping
    levels: tuple[Level, ...]
    loops: tuple[Loop, ...]
    array_boundary: int
    access: dict[str, AccessEntry]
    tiles: dict[tuple[str, str], Tile] = field(repr=False)
    transfers: tuple[Transfer, ...] = ()
    stationary: str | None = None
    #: (buffer, tensor) -> its bank layout, for the regions not laid out ideally
    layouts: dict[tuple[str, str], Layout] = field(default_factory=dict)

    # --- nest structure -------------------------------------------------------------

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(self.workload.dims)

    @property
    def pe_level(self) -> Level:
        return self.levels[-1]

    def level(self, name: str) -> Level:
        for lvl in self.levels:
            if lvl.name == name:
                return lvl
        raise KeyError(name)

    def keepers(self, tensor: str) -> tuple[Level, ...]:
        """Levels holding ``tensor``, outer to inner (DRAM first, PE last)."""
        return tuple(lvl for lvl in self.levels if tensor in lvl.keeps)

    def parent(self, tensor: str, level: Level) -> Level | None:
        """The nearest level above ``level`` that holds ``tensor``."""
        above = [lvl for lvl in self.keepers(tensor) if lvl.index < level.index]
        return above[-1] if above else None

    def child(self, tensor: str, level: Level) -> Level | None:
        below = [lvl for lvl in self.keepers(tensor) if lvl.index > level.index]
        return below[0] if below else None

    @property
    def factors(self) -> np.ndarray:
        return np.array([lp.factor for lp in self.loops], dtype=np.int64)

    def spatial_loops(self, axis: Axis | None = None) -> tuple[Loop, ...]:
        return tuple(lp for lp in self.loops if lp.is_spatial and (axis is None or lp.axis is axis))

    @property
    def array_used(self) -> tuple[int, int]:
        """(rows, cols) of the array the mapping uses."""
        rows = math.prod(lp.factor for lp in self.spatial_loops(Axis.Y))
        cols = math.prod(lp.factor for lp in self.spatial_loops(Axis.X))
        return rows, cols

    def stream_loop(self) -> Loop | None:
        """The innermost temporal loop with a factor above 1: one array step per iteration."""
        for lp in reversed(self.loops):
            if not lp.is_spatial and lp.factor > 1:
                return lp
        return None

    def bits(self, tensor: str) -> int:
        return self.workload.tensors[tensor].bits

    def role(self, tensor: str) -> Role:
        return self.workload.tensors[tensor].role

    def tile_extents(self, boundary: int) -> dict[str, int]:
        """Unclipped extent of each dimension over ``loops[boundary:]``, clipped to its size."""
        ext = {d: 1 for d in self.workload.dims}
        for lp in self.loops[boundary:]:
            ext[lp.dim] *= lp.factor
        return {d: min(e, self.workload.dims[d]) for d, e in ext.items()}

    def tile_elements(self, tensor: str, boundary: int) -> int:
        ext = self.tile_extents(boundary)
        return math.prod(
            distinct_values(expr, tuple(ext[t.dim] for t in expr.terms)) for expr in self.workload.indices(tensor)
        )

    def resolved_mapping(self) -> Mapping:
        """The mapping as lowering resolved it: every ``*`` replaced by its factor and
        every access entry explicit. It lowers back to the same Design."""
        temporal: dict[str, tuple[LoopSpec, ...]] = {}
        for level in self.levels:
            loops = tuple(
                LoopSpec(dim=lp.dim, factor=lp.factor)
                for lp in self.loops
                if not lp.is_spatial and lp.level == level.index
            )
            if loops:
                temporal[level.name] = loops
        spatial: dict[Axis, tuple[LoopSpec, ...]] = {}
        for axis in (Axis.Y, Axis.X):
            loops = tuple(LoopSpec(dim=lp.dim, factor=lp.factor) for lp in self.spatial_loops(axis))
            if loops:
                spatial[axis] = loops
        return Mapping(
            temporal=temporal,
            spatial=spatial,
            bypass=dict(self.mapping.bypass),
            access={t: entry.name for t, entry in self.access.items()},
            layout={lvl: dict(ts) for lvl, ts in self.mapping.layout.items()},
        )

    def describe_nest(self) -> str:
        """The loop nest as indented pseudo-code, for reports."""
        lines = []
        depth = 0
        current = None
        for i, lp in enumerate(self.loops):
            tag = "spatial" if lp.is_spatial else self.levels[lp.level].name
            if tag != current:
                lines.append("  " * depth + f"# {tag}")
                current = tag
            if lp.axis is not None:
                kw = f"parallel_for {lp.dim.lower()}{i} in [0:{lp.factor}) @ {lp.axis.value}"
            else:
                kw = f"for {lp.dim.lower()}{i} in [0:{lp.factor})"
            lines.append("  " * depth + kw)
            depth += 1
        lines.append("  " * depth + "MAC")
        return "\n".join(lines)
