"""Per level and tensor: reads, fills, updates and drains (docs/model.md, exactly)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sasim.design.design import LevelKind
from sasim.model.nest import Nest
from sasim.workload.workload import Role

__all__ = ["BatchCounts", "count_accesses"]

Array = np.ndarray


@dataclass(frozen=True)
class BatchCounts:
    """Counts for a batch: ``counts[level][tensor][action]`` is a (B,) int64 array."""

    counts: dict[str, dict[str, dict[str, Array]]]
    macs: int
    steps: Array


def _zeros(batch: int) -> dict[str, Array]:
    return {k: np.zeros(batch, dtype=np.int64) for k in ("reads", "fills", "updates", "drains")}


def count_accesses(nest: Nest) -> BatchCounts:
    design = nest.template
    wl = design.workload
    B = nest.batch
    macs = wl.macs
    pe = design.pe_level
    arr = design.array_boundary
    counts: dict[str, dict[str, dict[str, Array]]] = {lvl.name: {} for lvl in design.levels}
    for t in wl.tensors:
        keepers = design.keepers(t)
        per = {lvl.name: _zeros(B) for lvl in keepers}
        r_pe = nest.refill_loop(t, pe.boundary)
        # What crosses the array edge per PE event: distinct elements over all PEs.
        at_array = nest.event_sum(t, arr, nest.event_mask(r_pe, spatial=False))
        pe_events = nest.event_sum(t, pe.boundary, nest.event_mask(r_pe, spatial=True))
        own = {}
        for lvl in keepers:
            if lvl.kind is LevelKind.BUFFER:
                refill = nest.refill_loop(t, lvl.boundary)
                own[lvl.name] = nest.event_sum(t, lvl.boundary, nest.event_mask(refill, spatial=False))
        if wl.tensors[t].role is Role.OUTPUT:
            per[pe.name]["updates"] += macs
            per[pe.name]["drains"] += pe_events
            for name, drained in own.items():
                per[name]["drains"] += drained
            for lvl, child in zip(keepers[:-1], keepers[1:]):
                arriving = at_array if child.kind is LevelKind.PE else per[child.name]["drains"]
                per[lvl.name]["updates"] += arriving
                # A partial sum for an element already in the current tile is read and added.
                first_visits = own[lvl.name] if lvl.kind is LevelKind.BUFFER else int(np.prod(wl.shape(t)))
                per[lvl.name]["reads"] += arriving - first_visits
        else:
            per[pe.name]["reads"] += macs
            per[pe.name]["fills"] += pe_events
            for lvl in keepers:
                if lvl.kind is LevelKind.BUFFER:
                    per[lvl.name]["fills"] += own[lvl.name]
            for lvl, child in zip(keepers[:-1], keepers[1:]):
                per[lvl.name]["reads"] += at_array if child.kind is LevelKind.PE else per[child.name]["fills"]
        for name, acts in per.items():
            counts[name][t] = acts
    temporal = np.broadcast_to(np.array([not lp.is_spatial for lp in design.loops])[None, :], nest.factors.shape)
    return BatchCounts(counts=counts, macs=macs, steps=nest.events(temporal))
