"""Energy: per-action energies per bit at each level, MACs, and the array network.

One formula serves the model (counts are (B,) arrays) and the simulator (counts are
integers): ``energy_breakdown`` only adds and multiplies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from sasim.design.design import Design, LevelKind
from sasim.model.counts import BatchCounts
from sasim.model.nest import Nest

__all__ = ["estimate_energy", "energy_breakdown"]

Array = np.ndarray


Counts = Mapping[str, Mapping[str, Mapping[str, Any]]]


def energy_breakdown(design: Design, counts: Counts, macs: int) -> dict[str, Any]:
    """Energy in pJ per component (each level's name, ``network``, ``MAC``) from the
    counts ``counts[level][tensor][action]`` (integers or arrays)."""
    arch = design.architecture
    wl = design.workload
    out: dict[str, Any] = {}
    buffers = {b.name: b for b in arch.buffers}
    for lvl in design.levels:
        if lvl.kind is LevelKind.DRAM:
            rd, wr = arch.dram.read_pj_per_bit, arch.dram.write_pj_per_bit
        elif lvl.kind is LevelKind.BUFFER:
            rd, wr = buffers[lvl.name].read_energy, buffers[lvl.name].write_energy
        else:
            rd = wr = arch.pe.register_pj_per_bit
        total: Any = 0.0
        for t, acts in counts[lvl.name].items():
            bits = design.bits(t)
            total = total + (acts["reads"] + acts["drains"]) * bits * rd + (acts["fills"] + acts["updates"]) * bits * wr
        out[lvl.name] = total
    network: Any = 0.0
    for t, acts in counts[design.pe_level.name].items():
        network = network + (acts["fills"] + acts["drains"]) * design.bits(t) * arch.array.hop_pj_per_bit
    out["network"] = network
    mac = arch.pe.mac_energy(wl.tensors[wl.input].bits, wl.tensors[wl.weight].bits, wl.tensors[wl.output].bits)
    out["MAC"] = macs * mac
    return out


def estimate_energy(nest: Nest, counts: BatchCounts) -> dict[str, Array]:
    """The model's energy per component, as (B,) arrays."""
    parts = energy_breakdown(nest.template, counts.counts, counts.macs)
    return {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (nest.batch,)) for k, v in parts.items()}
