"""User constraints on the map-space, read from a spec's ``mapping`` section.

Given to ``sasim map``, a mapping section does not describe one mapping: it narrows
the search (docs/mapper.md has the rules and examples):

* ``temporal.LEVEL``: that level's loops are exactly these, in this order; an integer
  factor is fixed, ``*`` lets the mapper choose it. A level not listed is free.
* ``spatial.X`` / ``spatial.Y``: the axis's loops are exactly these (``*`` factors
  free); an empty list (``X: []`` or ``X: null``) leaves the axis unused.
* ``bypass.BUFFER``: exactly these tensors bypass that buffer (``[]``: none does).
* ``access.TENSOR``: the tensor's access entry (this fixes the dataflow).

The minimum utilization is a search option, not part of the mapping section.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sasim.arch.architecture import Architecture
from sasim.errors import MappingError
from sasim.mapping.access import parse_access_entry
from sasim.mapping.spec import Axis, LoopSpec, Mapping
from sasim.workload.workload import Workload

__all__ = ["Constraints", "FixedLoop"]

#: A constrained loop: its dimension and its factor (``None``: the mapper chooses).
FixedLoop = tuple[str, int | None]


@dataclass(frozen=True)
class Constraints:
    """What the user fixed; everything else is searched."""

    levels: dict[str, tuple[FixedLoop, ...]] = field(default_factory=dict)
    spatial: dict[Axis, tuple[FixedLoop, ...]] = field(default_factory=dict)
    bypass: dict[str, frozenset[str]] = field(default_factory=dict)
    access: dict[str, str] = field(default_factory=dict)
    min_utilization: float = 0.0

    @property
    def empty(self) -> bool:
        return not (self.levels or self.spatial or self.bypass or self.access)

    @classmethod
    def from_mapping(
        cls, mapping: Mapping | None, workload: Workload, architecture: Architecture, min_utilization: float = 0.0
    ) -> Constraints:
        """Read ``mapping`` as constraints; :class:`MappingError` names the field of any problem."""
        if isinstance(min_utilization, bool) or not 0.0 <= float(min_utilization) <= 1.0:
            raise MappingError(f"min_utilization must be a number from 0 to 1, not {min_utilization!r}")
        if mapping is None:
            return cls(min_utilization=float(min_utilization))
        names = architecture.level_names
        dims = workload.dims
        levels: dict[str, tuple[FixedLoop, ...]] = {}
        for level, loops in mapping.temporal.items():
            where = f"mapping.temporal.{level}"
            if level not in names:
                raise MappingError(f"{where}: unknown level {level!r}; the levels are {list(names)}")
            levels[level] = _loops(where, loops, dims, None)
        spatial: dict[Axis, tuple[FixedLoop, ...]] = {}
        arr = architecture.array
        for axis, loops in mapping.spatial.items():
            where = f"mapping.spatial.{axis.value}"
            limit = arr.rows if axis is Axis.Y else arr.cols
            spatial[axis] = _loops(where, loops, dims, limit)
            fixed = 1
            for _, f in spatial[axis]:
                fixed *= f or 1
            if fixed > limit:
                raise MappingError(
                    f"{where}: fixed spatial factors multiply to {fixed}, more than the array's {limit} "
                    f"{'rows' if axis is Axis.Y else 'cols'}"
                )
        for d in dims:
            on = [ax.value for ax, lps in spatial.items() if any(dim == d for dim, _ in lps)]
            if len(on) > 1:
                raise MappingError(f"mapping.spatial: dimension {d!r} is on both axes; give each axis its own")
        bypass: dict[str, frozenset[str]] = {}
        buffers = {b.name: b for b in architecture.buffers}
        for level, tensors in mapping.bypass.items():
            where = f"mapping.bypass.{level}"
            if level not in buffers:
                raise MappingError(f"{where}: unknown buffer {level!r}; the buffers are {list(buffers)}")
            for t in tensors:
                if t not in workload.tensors:
                    raise MappingError(f"{where}: unknown tensor {t!r}; the tensors are {list(workload.tensors)}")
                if workload.tensors[t].role not in buffers[level].holds:
                    raise MappingError(
                        f"{where}: {level} does not hold {t!r} (it holds "
                        f"{[r.value for r in buffers[level].holds]}), so there is nothing to bypass"
                    )
            bypass[level] = frozenset(tensors)
        access: dict[str, str] = {}
        for t, text in mapping.access.items():
            where = f"mapping.access.{t}"
            if t not in workload.tensors:
                raise MappingError(f"{where}: unknown tensor {t!r}; the tensors are {list(workload.tensors)}")
            try:
                access[t] = parse_access_entry(text).name
            except ValueError as exc:
                raise MappingError(f"{where}: {exc}") from None
        return cls(levels=levels, spatial=spatial, bypass=bypass, access=access,
                   min_utilization=float(min_utilization))


def _loops(where: str, loops: tuple[LoopSpec, ...], dims: dict[str, int], limit: int | None) -> tuple[FixedLoop, ...]:
    out: list[FixedLoop] = []
    seen: set[str] = set()
    for i, lp in enumerate(loops):
        dim: str = lp.dim
        factor: int | str = lp.factor
        if dim not in dims:
            raise MappingError(f"{where}[{i}]: unknown dimension {dim!r}; the dimensions are {list(dims)}")
        if dim in seen:
            raise MappingError(f"{where}[{i}]: dimension {dim!r} appears twice at this level; give it once")
        seen.add(dim)
        if factor == "*":
            out.append((dim, None))
            continue
        assert isinstance(factor, int)
        top = dims[dim] if limit is None else min(dims[dim], limit)
        if not 1 <= factor <= top:
            raise MappingError(f"{where}[{i}]: factor of {dim} must be from 1 to {top}, not {factor!r}")
        out.append((dim, factor))
    return tuple(out)
