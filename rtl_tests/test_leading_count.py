"""The count of an engine's lanes that move this cycle (those before the first that
cannot): Icarus Verilog runs the logic the generator writes, a thermometer code and an
OR per bit of the count, on every vector of conditions (random ones past 10 lanes),
against the count of leading ones; and the logic is lint-clean."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rtl_helpers import assert_lint_clean, run_icarus

from sasim.gen.expr import leading_count
from sasim.gen.verilog import Writer


def _module(n: int) -> tuple[str, int]:
    w = Writer()
    bits = max(1, n.bit_length())
    w(f"module count_under_test (input wire [{n - 1}:0] ok, output wire [{bits - 1}:0] count);")
    name, have = leading_count(w, "lc", [f"ok[{i}]" for i in range(n)])
    assert have == bits
    w(f"assign count = {name};", "endmodule")
    return w.text(), bits


def _leading_ones(vector: int, n: int) -> int:
    count = 0
    while count < n and vector >> count & 1:
        count += 1
    return count


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 16, 17, 32])
def test_count_is_the_number_of_leading_lanes_that_hold(n: int, tmp_path: Path) -> None:
    module, bits = _module(n)
    (tmp_path / "count_under_test.v").write_text(module)
    rng = random.Random(n)
    # every vector for few lanes; else each count at least once, with random lanes after it
    vectors = list(range(1 << n)) if n <= 10 else sorted(
        {((1 << c) - 1) | (rng.getrandbits(n) << (c + 1)) & ((1 << n) - 1) for c in range(n + 1) for _ in range(8)})
    steps = [f"ok = {n}'h{v:x}; #1 $display(\"%h\", count);" for v in vectors]
    (tmp_path / "tb.v").write_text(
        f"module tb; reg [{n - 1}:0] ok; wire [{bits - 1}:0] count;\n"
        "count_under_test dut (.ok(ok), .count(count));\n"
        "initial begin\n" + "\n".join(steps) + "\n$finish; end\nendmodule\n")
    got = [int(x, 16) for x in run_icarus(tmp_path, ["count_under_test.v", "tb.v"]).split()]
    assert got == [_leading_ones(v, n) for v in vectors]
    assert {_leading_ones(v, n) for v in vectors} == set(range(n + 1))  # every count was checked
    assert_lint_clean(tmp_path, "count_under_test.v")
