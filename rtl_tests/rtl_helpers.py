"""Helpers for the RTL cross-check tests: each test generates a design, runs it under
cocotb (Icarus Verilog unless it says otherwise) and compares it with the simulator."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from sasim.design import Design
from sasim.spec import load_spec
from sasim.verify import VerifyResult
from sasim.verify.run import _environment


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


def run_icarus(root: Path, sources: list[str]) -> str:
    """Compile ``sources`` (in ``root``) with Icarus Verilog, run them and return what they print."""
    if shutil.which("iverilog") is None:
        pytest.fail("Icarus Verilog (iverilog) is required for the RTL tests")
    subprocess.run(["iverilog", "-g2005", "-o", "sim", *sources], cwd=root, check=True)
    return subprocess.run(["vvp", "-n", "sim"], cwd=root, check=True, capture_output=True, text=True).stdout


def assert_lint_clean(root: Path, *sources: str) -> None:
    """``verilator --lint-only -Wall`` reports nothing on ``sources`` (in ``root``)."""
    _environment("verilator")
    proc = subprocess.run(["verilator", "--lint-only", "-Wall", *sources], cwd=root, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0 and "%Warning" not in proc.stderr, proc.stderr
