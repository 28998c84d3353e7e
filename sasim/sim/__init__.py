"""The cycle-level simulator: docs/timing.md, executed exactly, with real values."""

from sasim.sim.dram import DramChannel, DramGrant, DramOp
from sasim.sim.network import LayerSimResult, NetworkProgress, NetworkSimResult, RunSummary, simulate_network
from sasim.sim.result import EngineTrace, RegionTrace, SimResult
from sasim.sim.simulate import Mode, simulate

__all__ = [
    "DramChannel",
    "DramGrant",
    "DramOp",
    "EngineTrace",
    "LayerSimResult",
    "Mode",
    "NetworkProgress",
    "NetworkSimResult",
    "RegionTrace",
    "RunSummary",
    "SimResult",
    "simulate",
    "simulate_network",
]
