"""FPGA synthesis of the generated accelerator (``sasim synth``): yosys for a generic
LUT4 netlist, Lattice ECP5 (with nextpnr place and route and Fmax) or Xilinx 7-series."""

from sasim.synth.checks import Check, CheckStatus
from sasim.synth.flow import DEFAULT_TIMEOUT_S, MODULES, Progress, synthesize, synthesize_verilog
from sasim.synth.memories import MemoryMapping, MemoryReport, MemorySpec
from sasim.synth.nextpnr_report import ClockFmax, CriticalPath
from sasim.synth.resources import RESOURCE_KINDS, Resources
from sasim.synth.result import SynthResult
from sasim.synth.targets import ECP5_DEVICES, ECP5_SEEDS, ECP5_SPEEDS, Target
from sasim.synth.tools import find_tool

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "MODULES",
    "ECP5_DEVICES",
    "ECP5_SEEDS",
    "ECP5_SPEEDS",
    "RESOURCE_KINDS",
    "Check",
    "CheckStatus",
    "ClockFmax",
    "CriticalPath",
    "MemoryMapping",
    "MemoryReport",
    "MemorySpec",
    "Progress",
    "Resources",
    "SynthResult",
    "Target",
    "find_tool",
    "synthesize",
    "synthesize_verilog",
]
