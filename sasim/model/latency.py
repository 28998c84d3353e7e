"""The latency estimate: array steps, per-fold pipeline overhead, bandwidth bounds."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sasim.design.design import LevelKind, region_elements
from sasim.mapping.access import link_skew
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
    startup: Array
    drain: Array
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


def _region_elements(nest: Nest, level: str, tensor: str) -> Array:
    """Elements of ``tensor``'s region in buffer ``level``, per row, as the simulator sizes it."""
    design = nest.template
    lvl = design.level(level)
    buf = next(b for b in design.architecture.buffers if b.name == level)
    tile_bits = {t: nest.tile_elements(t, lvl.boundary) * design.bits(t) for t in sorted(lvl.keeps)}
    return region_elements(buf.capacity, tile_bits, tensor, design.bits(tensor))


def _bits_per_cycle(design_bits: int, port_bits: int) -> int:
    """Elements a port of ``port_bits`` moves per cycle (at least one, as docs/timing.md)."""
    return max(1, port_bits // design_bits)


def estimate_latency(nest: Nest, counts: BatchCounts) -> BatchLatency:
    """docs/model.md, "Latency": the array's span under docs/timing.md with nothing stalling,
    plus estimates of the prologue and epilogue, bounded below by every port's traffic."""
    design = nest.template
    arch = design.architecture
    wl = design.workload
    rows, cols = _axis_used(nest, Axis.Y), _axis_used(nest, Axis.X)
    skew = np.broadcast_to(np.asarray(link_skew(design.access.values(), rows, cols), dtype=np.int64), (nest.batch,))
    depth = arch.pe.mac_latency
    stationary = design.stationary
    if stationary is None:
        folds = np.ones(nest.batch, dtype=np.int64)
        overhead = np.zeros(nest.batch, dtype=np.int64)
        compute = counts.steps + skew + depth
    else:
        refill = nest.refill_loop(stationary, design.pe_level.boundary)
        folds = nest.events(nest.event_mask(refill, spatial=False))
        # at each later fold boundary: wait for the pipeline to drain, then preload
        overhead = skew + depth + rows - 1
        compute = counts.steps + (folds - 1) * overhead + rows + skew + depth
    bpc = arch.dram.bits_per_cycle
    # Prologue: the first tiles of every input come from DRAM one after the other, then pass
    # each buffer on the way (one cycle each) and become readable a cycle later.
    startup = np.full(nest.batch, arch.dram.latency + 1, dtype=np.int64)
    for t in wl.operands:
        keepers = design.keepers(t)
        first = nest.tile_elements(t, keepers[1].boundary if keepers[1].kind is LevelKind.BUFFER
                                   else design.array_boundary)
        startup = startup + -(-first * design.bits(t) // bpc) + (len(keepers) - 2)
    # Epilogue: the last drain passes each output buffer and its tile is written to DRAM.
    out = wl.output
    keepers = design.keepers(out)
    below_dram = keepers[1]
    last = nest.tile_elements(out, below_dram.boundary if below_dram.kind is LevelKind.BUFFER
                              else design.array_boundary)
    drain = 1 + (len(keepers) - 2) + -(-last * design.bits(out) // bpc)
    if below_dram.kind is LevelKind.BUFFER:
        # When the output's region in that buffer holds fewer than two of its tiles, the array
        # cannot start a tile before the previous one is written back (docs/timing.md: a
        # region's credits): every write-back, not only the last, adds to the span.
        single = _region_elements(nest, below_dram.name, out) < 2 * last
        acts = counts.counts["DRAM"][out]
        writes = 1 + (len(keepers) - 2) + -(-(acts["updates"] + acts["reads"]) * design.bits(out) // bpc)
        drain = np.where(single, np.maximum(drain, writes), drain)
    dram_bits = traffic_bits(nest, counts, "DRAM")
    dram_bound = arch.dram.latency + -(-dram_bits // bpc)
    buffer_bounds = {}
    for buf, lvl in zip(arch.buffers, design.levels[1:-1]):
        assert lvl.kind is LevelKind.BUFFER
        bound = np.zeros(nest.batch, dtype=np.int64)
        for t, acts in counts.counts[buf.name].items():
            per_cycle = _bits_per_cycle(design.bits(t), buf.bits_per_cycle)  # each direction, per region
            bound = np.maximum(bound, -(-(acts["reads"] + acts["drains"]) // per_cycle))
            bound = np.maximum(bound, -(-(acts["fills"] + acts["updates"]) // per_cycle))
        buffer_bounds[buf.name] = bound
    cycles = np.maximum(startup + compute + drain, dram_bound)
    for b in buffer_bounds.values():
        cycles = np.maximum(cycles, b)
    return BatchLatency(
        cycles=cycles, steps=counts.steps, folds=folds, fold_overhead=overhead, compute=compute,
        startup=startup, drain=np.asarray(drain), dram_bound=dram_bound, buffer_bounds=buffer_bounds,
    )
