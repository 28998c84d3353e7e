"""Typed results of the analytical model."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["Accesses", "Latency", "ModelResult"]


@dataclass(frozen=True, slots=True)
class Accesses:
    """Words moved at one level for one tensor (see docs/model.md for each term)."""

    reads: int = 0
    fills: int = 0
    updates: int = 0
    drains: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"reads": self.reads, "fills": self.fills, "updates": self.updates, "drains": self.drains}


@dataclass(frozen=True, slots=True)
class Latency:
    """The terms of the latency estimate, in cycles."""

    steps: int
    folds: int
    fold_overhead: int  # extra cycles at each fold boundary after the first
    compute: int  # the array's span: first preload to last result
    startup: int  # estimated cycles before the first preload (prologue)
    drain: int  # estimated cycles from the last result to the last DRAM write (epilogue)
    dram_bound: int
    buffer_bounds: dict[str, int]
    bound_by: str  # "compute", "DRAM" or a buffer name


@dataclass(frozen=True)
class ModelResult:
    """What ``sasim model`` reports for one Design."""

    cycles: int
    macs: int
    utilization: float
    energy_pj: float
    accesses: dict[str, dict[str, Accesses]]
    dram_words: int
    dram_bits: int
    latency: Latency
    energy_breakdown_pj: dict[str, float] = field(default_factory=dict)
    pe_count: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``sasim model --json``."""
        return {
            "cycles": self.cycles,
            "macs": self.macs,
            "utilization": self.utilization,
            "energy_pj": self.energy_pj,
            "accesses": {lvl: {t: a.to_dict() for t, a in ts.items()} for lvl, ts in self.accesses.items()},
            "dram_words": self.dram_words,
            "dram_bits": self.dram_bits,
            "latency": asdict(self.latency),
            "energy_breakdown_pj": dict(self.energy_breakdown_pj),
        }
