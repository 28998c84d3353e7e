"""The count of an engine's lanes that move this cycle (those before the first that
cannot): Icarus Verilog runs the logic the generator writes, a thermometer code and an
OR per bit of the count, on every vector of conditions (random ones past 10 lanes),
against the count of leading ones; and the logic is lint-clean. The pointer moved by that
count (each sum found apart, the code picking one) is checked on the same vectors, with
the move taken and not, and at pointers that wrap."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from rtl_helpers import assert_lint_clean, run_icarus

from sasim.gen.expr import leading_count, move_terms, moved_by_count
from sasim.gen.verilog import Writer

PTR = 6  # the moved pointer's width


def _module(n: int) -> tuple[str, int]:
    w = Writer()
    bits = max(1, n.bit_length())
    w(f"module count_under_test (input wire [{n - 1}:0] ok, input wire act, input wire [{PTR - 1}:0] ptr,",
      f"    output wire [{bits - 1}:0] count, output wire [{PTR - 1}:0] moved);")
    name, have, thermometer = leading_count(w, "lc", [f"ok[{i}]" for i in range(n)])
    assert have == bits and len(thermometer) == n
    moved = moved_by_count("ptr", PTR, move_terms("act", thermometer))
    w(f"assign count = {name};", f"assign moved = {moved};", "endmodule")
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
    # (random pointers, and pointers close enough to the top to wrap when they move)
    cases = [(v, a, rng.getrandbits(PTR) if rng.random() < 0.5 else (1 << PTR) - 1 - rng.randrange(n))
             for v in vectors for a in (0, 1)]
    steps = [f"ok = {n}'h{v:x}; act = 1'b{a}; ptr = {PTR}'d{ptr}; #1 $display(\"%h %h\", count, moved);"
             for v, a, ptr in cases]
    (tmp_path / "tb.v").write_text(
        f"module tb; reg [{n - 1}:0] ok; reg act; reg [{PTR - 1}:0] ptr; wire [{bits - 1}:0] count;\n"
        f"wire [{PTR - 1}:0] moved;\n"
        "count_under_test dut (.ok(ok), .act(act), .ptr(ptr), .count(count), .moved(moved));\n"
        "initial begin\n" + "\n".join(steps) + "\n$finish; end\nendmodule\n")
    out = run_icarus(tmp_path, ["count_under_test.v", "tb.v"]).split()
    got = [int(x, 16) for x in out[0::2]]
    assert got == [_leading_ones(v, n) for v, _, _ in cases]
    moved = [int(x, 16) for x in out[1::2]]
    assert moved == [(ptr + a * _leading_ones(v, n)) % (1 << PTR) for v, a, ptr in cases]
    assert {_leading_ones(v, n) for v in vectors} == set(range(n + 1))  # every count was checked
    assert_lint_clean(tmp_path, "count_under_test.v")
