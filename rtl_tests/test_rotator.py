"""The lane rotator the input edge-buffer write goes through: Icarus Verilog runs it for
every shift, and its Verilog is lint-clean."""

from __future__ import annotations

from pathlib import Path

import pytest
from rtl_helpers import assert_lint_clean, run_icarus

from sasim.gen.expr import rotate_lanes
from sasim.gen.verilog import Writer, clog2

BITS = 8


def _module(lanes: int, shift_bits: int) -> tuple[str, int]:
    """A module rotating ``lanes`` inputs by ``shift``; returns its text and its output count."""
    w = Writer()
    w(f"module rot_under_test (input wire [{lanes * BITS - 1}:0] lanes, input wire [{shift_bits - 1}:0] shift,")
    size = 1 << clog2(lanes)
    w(f"    output wire [{size * BITS - 1}:0] out);")
    ins = [f"lanes[{i * BITS + BITS - 1}:{i * BITS}]" for i in range(lanes)]
    outs = rotate_lanes(w, "r", ins, BITS, ("shift", shift_bits))
    assert len(outs) == size
    w(f"assign out = {{{', '.join(reversed(outs))}}};", "endmodule")
    return w.text(), size


@pytest.mark.parametrize(("lanes", "shift_bits"), [(1, 1), (2, 1), (3, 4), (4, 2), (5, 5), (8, 3), (32, 7)])
def test_output_j_holds_lane_j_minus_shift(lanes: int, shift_bits: int, tmp_path: Path) -> None:
    module, size = _module(lanes, shift_bits)
    values = [0x11 * (i + 1) % 256 or 0xA5 for i in range(lanes)]  # distinct and non-zero
    packed = sum(v << (i * BITS) for i, v in enumerate(values))
    (tmp_path / "rot.v").write_text(module)
    (tmp_path / "tb.v").write_text(
        f"module tb; reg [{lanes * BITS - 1}:0] lanes; reg [{shift_bits - 1}:0] shift; "
        f"wire [{size * BITS - 1}:0] out; integer s;\n"
        "rot_under_test dut (.lanes(lanes), .shift(shift), .out(out));\n"
        f"initial begin lanes = {lanes * BITS}'h{packed:x}; for (s = 0; s < {1 << shift_bits}; s = s + 1) begin "
        "shift = s; #1 $display(\"%h\", out); end $finish; end\nendmodule\n")
    got = [int(x, 16) for x in run_icarus(tmp_path, ["rot.v", "tb.v"]).split()]
    assert len(got) == 1 << shift_bits
    padded = values + [0] * (size - lanes)
    for shift, word in enumerate(got):
        outputs = [(word >> (j * BITS)) & 0xFF for j in range(size)]
        assert outputs == [padded[(j - shift) % size] for j in range(size)], shift


@pytest.mark.parametrize("lanes", [5, 8])
def test_rotator_is_lint_clean(lanes: int, tmp_path: Path) -> None:
    module, _ = _module(lanes, 3)  # a shift exactly as wide as 8 outputs need
    (tmp_path / "rot_under_test.v").write_text(module)
    assert_lint_clean(tmp_path, "rot_under_test.v")


def test_a_shift_too_narrow_is_refused() -> None:
    with pytest.raises(ValueError, match="a shift of 2 bits cannot rotate 8 lanes"):
        rotate_lanes(Writer(), "r", ["a"] * 5, BITS, ("s", 2))
