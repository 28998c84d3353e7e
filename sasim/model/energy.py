"""Energy: per-action energies per bit at each level, MACs, and the array network."""

from __future__ import annotations

import numpy as np

from sasim.design.design import LevelKind
from sasim.model.counts import BatchCounts
from sasim.model.nest import Nest

__all__ = ["estimate_energy"]

Array = np.ndarray


def estimate_energy(nest: Nest, counts: BatchCounts) -> dict[str, Array]:
    """Energy in pJ per component (each level's name, ``network``, ``MAC``)."""
    design = nest.template
    arch = design.architecture
    wl = design.workload
    out: dict[str, Array] = {}
    buffers = {b.name: b for b in arch.buffers}
    for lvl in design.levels:
        if lvl.kind is LevelKind.DRAM:
            rd, wr = arch.dram.read_pj_per_bit, arch.dram.write_pj_per_bit
        elif lvl.kind is LevelKind.BUFFER:
            rd, wr = buffers[lvl.name].read_energy, buffers[lvl.name].write_energy
        else:
            rd = wr = arch.pe.register_pj_per_bit
        total = np.zeros(nest.batch, dtype=np.float64)
        for t, acts in counts.counts[lvl.name].items():
            bits = design.bits(t)
            total += (acts["reads"] + acts["drains"]) * bits * rd + (acts["fills"] + acts["updates"]) * bits * wr
        out[lvl.name] = total
    network = np.zeros(nest.batch, dtype=np.float64)
    for t, acts in counts.counts[design.pe_level.name].items():
        network += (acts["fills"] + acts["drains"]) * design.bits(t) * arch.array.hop_pj_per_bit
    out["network"] = network
    mac = arch.pe.mac_energy(wl.tensors[wl.input].bits, wl.tensors[wl.weight].bits, wl.tensors[wl.output].bits)
    out["MAC"] = np.full(nest.batch, counts.macs * mac, dtype=np.float64)
    return out
