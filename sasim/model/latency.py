"""The latency estimate: array steps, per-fold pipeline overhead, bandwidth bounds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sasim.arch.architecture import LinkKind
from sasim.design.design import LevelKind
from sasim.mapping.spec import Axis
from sasim.model.counts import BatchCounts
from sasim.model.nest import Nest

__all__ = ["BatchLatency", "estimate_latency", "traffic_bits"]

Array = np.ndarray


@dataclass(frozen=True)
class BatchLatency:
    cycles: Array
    steps: Array
    folds: Array
    fold_overhead: Array
    compute: Array
    startup: int
    dram_bound: Array
    buffer_bounds: dict[str, Array]


def _axis_used(nest: Nest, axis: Axis) -> Array:
    js = [j for j, lp in enumerate(nest.template.loops) if lp.axis is axis]
    if not js:
        return np.ones(nest.batch, dtype=np.int64)
    return np.asarray(np.prod(nest.factors[:, js], axis=1))


def traffic_bits(nest: Nest, counts: BatchCounts, level: str) -> Array:
    """Bits moved through ``level``'s ports by every action."""
    design = nest.template
    total = np.zeros(nest.batch, dtype=np.int64)
    for t, acts in counts.counts[level].items():
        total += (acts["reads"] + acts["fills"] + acts["updates"] + acts["drains"]) * design.bits(t)
    return total


def estimate_latency(nest: Nest, counts: BatchCounts) -> BatchLatency:
    design = nest.template
    arch = design.architecture
    rows, cols = _axis_used(nest, Axis.Y), _axis_used(nest, Axis.X)
    skew = np.zeros(nest.batch, dtype=np.int64)
    for entry in design.access.values():
        for link in entry.links:
            if link.kind in (LinkKind.SYSTOLIC, LinkKind.CHAIN):
                dx, dy = link.direction
                skew = np.maximum(skew, abs(dx) * (cols - 1) + abs(dy) * (rows - 1))
    overhead = skew + arch.pe.mac_latency
    stationary = design.stationary
    if stationary is None:
        folds = np.ones(nest.batch, dtype=np.int64)
    else:
        refill = nest.refill_loop(stationary, design.pe_level.boundary)
        folds = nest.events(nest.event_mask(refill, spatial=False))
        overhead = overhead + rows  # preload a stationary input, or drain a stationary output
    compute = counts.steps + folds * overhead
    dram_bits = traffic_bits(nest, counts, "DRAM")
    dram_bound = -(-dram_bits // arch.dram.bits_per_cycle)
    buffer_bounds = {}
    for buf, lvl in zip(arch.buffers, design.levels[1:-1]):
        assert lvl.kind is LevelKind.BUFFER
        buffer_bounds[buf.name] = -(-traffic_bits(nest, counts, buf.name) // buf.bits_per_cycle)
    bound = np.maximum(compute, dram_bound)
    for b in buffer_bounds.values():
        bound = np.maximum(bound, b)
    startup = arch.dram.latency
    return BatchLatency(
        cycles=startup + bound, steps=counts.steps, folds=folds, fold_overhead=overhead, compute=compute,
        startup=startup, dram_bound=dram_bound, buffer_bounds=buffer_bounds,
    )


