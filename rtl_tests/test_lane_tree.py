"""The lowest-lane search a bank with several readers registers its row from: Icarus
Verilog runs the balanced tree the generator writes on random lanes, against the
lowest lane on each bank. (The generated designs that use it are linted with the
cross-check cases; alone, the last lane's bank is unused, as it should be: when no
other lane is on a bank, that bank's row is a don't-care.)"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rtl_helpers import run_icarus

from sasim.gen.memory import _lowest_lane_row
from sasim.gen.verilog import Writer

BANK_BITS, ROW_BITS, VECTORS = 2, 4, 64


def _module(lanes: int) -> str:
    """Each bank's row from ``lanes`` lanes (bank and row each), packed into one output."""
    banks = 1 << BANK_BITS
    w = Writer()
    w(f"module tree_under_test (input wire [{lanes * BANK_BITS - 1}:0] bank, "
      f"input wire [{lanes * ROW_BITS - 1}:0] row, output wire [{banks * ROW_BITS - 1}:0] out);")
    pairs = [(f"bank[{i * BANK_BITS + BANK_BITS - 1}:{i * BANK_BITS}]",
              f"row[{i * ROW_BITS + ROW_BITS - 1}:{i * ROW_BITS}]") for i in range(lanes)]
    rows = [_lowest_lane_row(pairs, j, BANK_BITS) for j in range(banks)]
    w(f"assign out = {{{', '.join(reversed(rows))}}};", "endmodule")
    return w.text()


@pytest.mark.parametrize("lanes", [1, 2, 3, 5, 8])
def test_each_bank_gets_the_row_of_its_lowest_lane(lanes: int, tmp_path: Path) -> None:
    rng = random.Random(lanes)
    vectors = [[(rng.randrange(1 << BANK_BITS), rng.randrange(1 << ROW_BITS)) for _ in range(lanes)]
               for _ in range(VECTORS)]
    (tmp_path / "tree.v").write_text(_module(lanes))
    steps = []
    for lane_list in vectors:
        bank = sum(b << (i * BANK_BITS) for i, (b, _) in enumerate(lane_list))
        row = sum(r << (i * ROW_BITS) for i, (_, r) in enumerate(lane_list))
        steps.append(f"bank = {lanes * BANK_BITS}'h{bank:x}; row = {lanes * ROW_BITS}'h{row:x}; "
                     "#1 $display(\"%h\", out);")
    (tmp_path / "tb.v").write_text(
        f"module tb; reg [{lanes * BANK_BITS - 1}:0] bank; reg [{lanes * ROW_BITS - 1}:0] row; "
        f"wire [{(1 << BANK_BITS) * ROW_BITS - 1}:0] out;\n"
        "tree_under_test dut (.bank(bank), .row(row), .out(out));\n"
        "initial begin\n" + "\n".join(steps) + "\n$finish; end\nendmodule\n")
    got = [int(x, 16) for x in run_icarus(tmp_path, ["tree.v", "tb.v"]).split()]
    assert len(got) == VECTORS
    checked = 0
    for lane_list, word in zip(vectors, got):
        for j in range(1 << BANK_BITS):
            on_bank = [r for b, r in lane_list if b == j]
            if on_bank:  # with no lane on the bank its row is a don't-care
                assert (word >> (j * ROW_BITS)) & ((1 << ROW_BITS) - 1) == on_bank[0], (lane_list, j)
                checked += 1
    assert checked >= VECTORS  # every vector has at least one bank with a lane on it


def test_one_bank_takes_the_first_lane() -> None:
    assert _lowest_lane_row([("b0", "r0"), ("b1", "r1")], 0, 0) == "r0"
