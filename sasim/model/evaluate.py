"""Evaluate one Design, or a batch of factor choices over one Design's structure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sasim.arch.architecture import BufferSemantics
from sasim.design.design import Design
from sasim.mapping.spec import Axis
from sasim.model.counts import count_accesses
from sasim.model.energy import estimate_energy
from sasim.model.latency import estimate_latency, traffic_bits
from sasim.model.nest import Nest
from sasim.model.result import Accesses, Latency, ModelResult

__all__ = ["evaluate", "evaluate_batch", "valid_batch", "BatchResult"]

Array = np.ndarray


@dataclass(frozen=True)
class BatchResult:
    """Metrics for B mappings that share one structure; every field is a (B,) array.

    ``valid`` is False where a row breaks a rule :func:`sasim.design.lower` enforces
    (coverage, factor range, a never-used factor, array size, capacity); its other
    metrics are still computed, but mean nothing.
    """

    cycles: Array
    energy_pj: Array
    utilization: Array
    dram_bits: Array
    valid: Array

    @property
    def edp(self) -> Array:
        return np.asarray(self.cycles * self.energy_pj)


def _valid(nest: Nest) -> Array:
    design = nest.template
    arch = design.architecture
    ok = np.ones(nest.batch, dtype=bool)
    for axis, limit in ((Axis.Y, arch.array.rows), (Axis.X, arch.array.cols)):
        js = [j for j, lp in enumerate(design.loops) if lp.axis is axis]
        if js:
            ok &= np.prod(nest.factors[:, js], axis=1) <= limit
    for d, size in design.workload.dims.items():
        js = nest.loops_of(d)
        if not js:
            ok &= size == 1
            continue
        f = nest.factors[:, js]
        ok &= np.prod(f, axis=1) >= size  # the factors cover the dimension
        ok &= np.all((f >= 1) & (f <= size), axis=1)
        # lowering's rule: a factor above 1 must have a non-empty second iteration
        ok &= np.all((f == 1) | (nest.strides(d) < size), axis=1)
    for buf, lvl in zip(arch.buffers, design.levels[1:-1]):
        copies = 2 if buf.semantics is BufferSemantics.DOUBLE_BUFFER else 1
        need = np.zeros(nest.batch, dtype=np.int64)
        for t in lvl.keeps:
            need += nest.tile_elements(t, lvl.boundary) * design.bits(t) * copies
        ok &= need <= buf.capacity * 8
    pe = design.pe_level
    for t in pe.keeps:
        ok &= nest.tile_elements(t, pe.boundary) <= arch.pe.registers(design.role(t))
    return np.asarray(ok)


def valid_batch(design: Design, factors: Array) -> Array:
    """:attr:`BatchResult.valid` of ``evaluate_batch(design, factors)`` alone, without the
    access counts: a small part of the cost. The mapper drops the rows that break a rule
    before it evaluates the rest (most random rows of a structure with small buffers)."""
    return _valid(Nest.of(design, factors))


def evaluate_batch(design: Design, factors: Array, *, checked: bool = False) -> BatchResult:
    """Evaluate ``factors`` (shape ``(B, len(design.loops))``) on ``design``'s structure.

    Loop dimensions, levels, axes, bypasses and access entries come from ``design``;
    each row gives the factors of its loops. This is the mapper's inner loop. With
    ``checked``, every row is known to pass :func:`valid_batch` and the check is not
    repeated (``valid`` is all True).
    """
    nest = Nest.of(design, factors)
    counts = count_accesses(nest)
    lat = estimate_latency(nest, counts)
    energy = estimate_energy(nest, counts)
    total = sum(energy.values())
    pes = design.architecture.array.rows * design.architecture.array.cols
    return BatchResult(
        cycles=lat.cycles,
        energy_pj=np.asarray(total, dtype=np.float64),
        utilization=counts.macs / (lat.cycles * pes),
        dram_bits=traffic_bits(nest, counts, "DRAM"),
        valid=np.ones(nest.batch, dtype=bool) if checked else _valid(nest),
    )


def evaluate(design: Design) -> ModelResult:
    """The analytical estimate for one Design (counts exact, latency estimated)."""
    nest = Nest.of(design)
    counts = count_accesses(nest)
    lat = estimate_latency(nest, counts)
    energy = estimate_energy(nest, counts)
    accesses = {
        lvl: {t: Accesses(**{k: int(v[0]) for k, v in acts.items()}) for t, acts in sorted(ts.items())}
        for lvl, ts in counts.counts.items()
    }
    dram_words = sum(a.reads + a.updates for a in accesses["DRAM"].values())
    bounds = {"compute": int(lat.startup[0] + lat.compute[0] + lat.drain[0]), "DRAM": int(lat.dram_bound[0])}
    bounds.update({k: int(v[0]) for k, v in lat.buffer_bounds.items()})
    bound_by = max(bounds, key=lambda k: bounds[k])
    cycles = int(lat.cycles[0])
    arr = design.architecture.array
    breakdown = {k: float(v[0]) for k, v in energy.items()}
    return ModelResult(
        cycles=cycles,
        macs=counts.macs,
        utilization=counts.macs / (cycles * arr.rows * arr.cols),
        energy_pj=sum(breakdown.values()),
        accesses=accesses,
        dram_words=dram_words,
        dram_bits=int(traffic_bits(nest, counts, "DRAM")[0]),
        latency=Latency(
            steps=int(lat.steps[0]), folds=int(lat.folds[0]), fold_overhead=int(lat.fold_overhead[0]),
            compute=int(lat.compute[0]), startup=int(lat.startup[0]), drain=int(lat.drain[0]),
            dram_bound=int(lat.dram_bound[0]),
            buffer_bounds={k: int(v[0]) for k, v in lat.buffer_bounds.items()}, bound_by=bound_by,
        ),
        energy_breakdown_pj=breakdown,
        pe_count=arr.rows * arr.cols,
    )
