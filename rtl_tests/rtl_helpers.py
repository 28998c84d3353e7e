"""Helpers for the RTL cross-check tests: each test generates a design, runs it under
cocotb (Icarus Verilog unless it says otherwise) and compares it with the simulator."""

from __future__ import annotations

from sasim.design import Design
from sasim.spec import load_spec
from sasim.verify import VerifyResult


def design_of(workload: str, arch: str, mapping: str) -> Design:
    return load_spec(None, {"workload": workload, "architecture": arch, "mapping": mapping}).design()


def assert_equal_to_simulator(result: VerifyResult) -> None:
    """Every part of the cross-check, each with its own message."""
    assert not result.protocol_errors, result.protocol_errors
    assert result.rtl_cycles == result.sim_cycles, f"RTL {result.rtl_cycles} cycles, simulator {result.sim_cycles}"
    assert result.values_match, "RTL outputs differ from the simulator's"
    assert result.reference_match, "RTL outputs differ from the NumPy reference"
    assert result.counter_mismatches == {}, result.counter_mismatches
    assert result.dram_match
    assert result.passed
