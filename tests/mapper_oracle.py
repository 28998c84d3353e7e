"""A brute-force oracle for the mapper: every mapping of a tiny map-space, lowered and
evaluated one by one with ``lower()`` + ``evaluate()``.

The space is the one docs/mapper.md defines, enumerated independently of
``sasim.mapping.space``: each dimension's loop factors at every level and array axis
(any integer from 1 to its size; ``DRAM`` takes the rest, ``ceil(size / others)``;
a factor above 1 whose inner loops already cover the dimension is not a mapping), at
most one dimension per array axis, every loop order of each level, every bypass
subset and every legal access entry.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator

from sasim.arch.architecture import Architecture
from sasim.design import lower
from sasim.design.dataflow import legal_entries
from sasim.errors import SasimError
from sasim.mapping.spec import Axis, LoopSpec, Mapping
from sasim.model import evaluate
from sasim.workload import Workload


def _dim_factors(size: int, positions: list[str], limits: dict[str, int]) -> Iterator[dict[str, int]]:
    free = positions[1:]  # DRAM (first) takes the rest
    for combo in itertools.product(*[range(1, min(size, limits.get(p, size)) + 1) for p in free]):
        f = dict(zip(free, combo))
        f[positions[0]] = max(1, -(-size // math.prod(combo)))
        cum = 1
        ok = True
        for p in reversed(positions):
            if f[p] > 1 and cum >= size:
                ok = False
            cum *= f[p]
        if ok:
            yield f


def mappings(workload: Workload, arch: Architecture) -> Iterator[Mapping]:
    levels = list(arch.level_names)
    positions = levels[:-1] + ["Y", "X", "PE"]  # nest order
    limits = {"Y": arch.array.rows, "X": arch.array.cols}
    dims = [d for d, s in workload.dims.items() if s > 1]
    per_dim = [list(_dim_factors(workload.dims[d], positions, limits)) for d in dims]
    bypasses = []
    for buf in arch.buffers:
        held = [t for t, s in workload.tensors.items() if s.role in buf.holds]
        bypasses.append([(buf.name, c) for k in range(len(held) + 1) for c in itertools.combinations(held, k)])
    for combo in itertools.product(*per_dim):
        fac = dict(zip(dims, combo))
        spatial = {ax: [d for d in dims if fac[d][ax] > 1] for ax in ("Y", "X")}
        if any(len(v) > 1 for v in spatial.values()):
            continue
        at = {lvl: [d for d in dims if fac[d][lvl] > 1] for lvl in levels}
        for orders in itertools.product(*[list(itertools.permutations(at[lvl])) for lvl in levels]):
            temporal = {lvl: tuple(LoopSpec(dim=d, factor=fac[d][lvl]) for d in order)
                        for lvl, order in zip(levels, orders) if order}
            loops = [lp for lvl in levels for lp in temporal.get(lvl, ())]
            stream = loops[-1].dim if loops else None
            active = {Axis.Y: spatial["Y"], Axis.X: spatial["X"]}
            entries = [legal_entries(workload, t, active, stream, arch.array.links(s.role))
                       for t, s in workload.tensors.items()]
            sp = {Axis(ax): (LoopSpec(dim=v[0], factor=fac[v[0]][ax]),) for ax, v in spatial.items() if v}
            for bypass in itertools.product(*bypasses):
                for access in itertools.product(*entries):
                    yield Mapping(temporal=temporal, spatial=sp, bypass={b: c for b, c in bypass if c},
                                  access={t: e.name for t, e in zip(workload.tensors, access)})


def evaluate_all(workload: Workload, arch: Architecture) -> list[tuple[Mapping, int, float, float]]:
    """(mapping, cycles, energy, utilization) of every valid mapping."""
    out = []
    for m in mappings(workload, arch):
        try:
            design = lower(workload, arch, m)
        except SasimError:
            continue
        r = evaluate(design)
        out.append((m, r.cycles, r.energy_pj, r.utilization))
    return out


def pareto(points: list[tuple[int, float]]) -> set[tuple[int, float]]:
    return {p for p in points if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)}
