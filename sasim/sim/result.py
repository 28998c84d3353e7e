"""Typed results of a simulation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sasim.model.result import Accesses, ModelResult

__all__ = ["EngineTrace", "RegionTrace", "RunRecord", "SimResult"]


@dataclass(frozen=True)
class EngineTrace:
    """When a transfer engine worked on each of its tiles: ``starts[i]`` to ``finishes[i]`` (inclusive)."""

    name: str
    starts: np.ndarray
    finishes: np.ndarray


@dataclass(frozen=True)
class RegionTrace:
    """Every tile a region held: opened (reserved) in ``opened[i]``, ``sizes[i]`` elements,
    shrunk in ``shrunk[i]`` (-1: never, i.e. still resident at the end)."""

    name: str
    capacity: int
    opened: np.ndarray
    sizes: np.ndarray
    shrunk: np.ndarray


def _no_steps() -> np.ndarray:
    return np.zeros(0, dtype=np.int64)


@dataclass
class RunRecord:
    """What either simulator measured, before it is turned into a :class:`SimResult`.

    The golden mode fills the fields up to ``peak_occupancy``; the fast mode all of them."""

    cycles: int
    output: np.ndarray
    counts: dict[str, dict[str, dict[str, int]]]
    array_busy: int
    array_stalls: dict[str, int]  # by cause, in name order
    step_cycles: np.ndarray
    dram_busy: int
    peak_occupancy: dict[str, int] = field(default_factory=dict)
    engines: list[EngineTrace] = field(default_factory=list)
    regions: list[RegionTrace] = field(default_factory=list)
    step_macs: np.ndarray = field(default_factory=_no_steps)
    step_wait: np.ndarray = field(default_factory=_no_steps)
    step_cause: list[str] = field(default_factory=list)
    data_stalls: int = -1  # -1: not recorded (golden mode)
    bank_conflicts: dict[str, int] = field(default_factory=dict)  # cycles a region's reads were cut short
    dram_latency_wait: int = 0  # see DramChannel.latency_cycles
    dram_queue_wait: int = 0  # see DramChannel.queue_cycles


@dataclass(frozen=True)
class SimResult:
    """What ``sasim run`` reports for one Design."""

    mode: str
    cycles: int
    macs: int
    utilization: float
    energy_pj: float
    energy_breakdown_pj: dict[str, float]
    accesses: dict[str, dict[str, Accesses]]
    stalls: dict[str, int]  # array stall cycles by cause
    array_busy: int  # cycles in which the array issued a step
    dram_busy: int  # cycles the DRAM channel moved data
    peak_occupancy: dict[str, int]
    outputs_match_reference: bool
    model: ModelResult
    wall_time_s: float
    step_cycles: np.ndarray = field(repr=False)
    output: np.ndarray = field(repr=False)
    engines: list[EngineTrace] = field(default_factory=list, repr=False)
    regions: list[RegionTrace] = field(default_factory=list, repr=False)
    #: per step: MACs (active PEs), stall cycles just before it and their largest cause (fast mode;
    #: empty for golden runs)
    step_macs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    step_wait: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)
    step_cause: list[str] = field(default_factory=list, repr=False)
    #: the array's span under docs/timing.md: from the first fold's preload to the last result
    array_span: int = 0
    #: cycles after the first step the array waited for data or output room (fast mode; -1 if unknown)
    data_stalls: int = -1
    #: per region laid out non-ideally: cycles its reads were cut short by a busy bank
    bank_conflicts: dict[str, int] = field(default_factory=dict)
    #: summed over DRAM requests: cycles waiting for the first-word latency, and queued behind
    #: other transfers (the channel's bandwidth)
    dram_latency_wait: int = 0
    dram_queue_wait: int = 0

    @property
    def model_error(self) -> float:
        """(model cycles - simulated cycles) / simulated cycles."""
        return (self.model.cycles - self.cycles) / self.cycles if self.cycles else 0.0

    def access_differences(self) -> list[str]:
        """Every count in which the simulator and the model disagree, as ``level.tensor.action:
        simulated N, model M`` (there should be none: docs/model.md)."""
        sim = {(lvl, t): a.to_dict() for lvl, ts in self.accesses.items() for t, a in ts.items()}
        model = {(lvl, t): a.to_dict() for lvl, ts in self.model.accesses.items() for t, a in ts.items()}
        zero = dict.fromkeys(("reads", "fills", "updates", "drains"), 0)
        out = []
        for key in sorted(set(sim) | set(model)):
            s, m = sim.get(key, zero), model.get(key, zero)
            out += [f"{key[0]}.{key[1]}.{action}: simulated {s[action]:,}, model {m[action]:,}"
                    for action in zero if s[action] != m[action]]
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``sasim run --json``."""
        return {
            "mode": self.mode,
            "cycles": self.cycles,
            "macs": self.macs,
            "utilization": self.utilization,
            "energy_pj": self.energy_pj,
            "energy_breakdown_pj": dict(self.energy_breakdown_pj),
            "accesses": {lvl: {t: a.to_dict() for t, a in ts.items()} for lvl, ts in self.accesses.items()},
            "stalls": dict(sorted(self.stalls.items())),
            "array_busy_cycles": self.array_busy,
            "array_span_cycles": self.array_span,
            "dram_busy_cycles": self.dram_busy,
            "dram_latency_wait_cycles": self.dram_latency_wait,
            "dram_queue_wait_cycles": self.dram_queue_wait,
            "peak_occupancy": dict(self.peak_occupancy),
            "bank_conflict_cycles": dict(self.bank_conflicts),
            "outputs_match_reference": self.outputs_match_reference,
            "model": {**self.model.to_dict(), "error": self.model_error},
            "wall_time_s": self.wall_time_s,
        }
