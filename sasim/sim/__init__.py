"""The cycle-level simulator: docs/timing.md, executed exactly, with real values."""

from sasim.sim.dram import DramChannel, DramGrant, DramOp
from sasim.sim.result import EngineTrace, RegionTrace, SimResult
from sasim.sim.simulate import Mode, simulate

__all__ = ["DramChannel", "DramGrant", "DramOp", "EngineTrace", "Mode", "RegionTrace", "SimResult", "simulate"]
