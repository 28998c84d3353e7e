"""The hand-written output-stationary array that ``benchmarks/rtl_reference.py``
synthesizes as the baseline for the generated accelerator: Icarus Verilog runs it on
random int8 matrices fed with the skew it expects, and the sums it drains equal NumPy's
(wrapped to 32 bits); it is lint-clean. A baseline that computed something else would make
the comparison meaningless."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from rtl_helpers import assert_lint_clean, run_icarus

SOURCE = Path(__file__).resolve().parents[1] / "benchmarks" / "reference" / "os_array.v"


def _testbench(a: np.ndarray, b: np.ndarray, product_reg: int = 1, bits: int = 8, acc: int = 32) -> str:
    """Feed ``a`` (rows x K) from the left and ``b`` (K x cols) from the top, row i and
    column j delayed i and j cycles; after the sums settle, drain and print one row per
    cycle (the bottom row first)."""
    rows, k = a.shape
    cols = b.shape[1]
    lines = [f"module tb; reg clk = 0; reg [{rows - 1}:0] first = 0; reg [{rows * bits - 1}:0] a = 0;",
             f"reg [{cols * bits - 1}:0] b = 0; reg drain = 0; wire [{cols * acc - 1}:0] out;",
             f"os_array #(.ROWS({rows}), .COLS({cols}), .PRODUCT_REG({product_reg})) dut (.clk(clk), "
             ".first(first), .a(a), .b(b), .drain(drain), .out(out));",
             "always #5 clk = ~clk;", "initial begin"]

    def cycle(assignments: list[str]) -> None:
        lines.append("  " + " ".join(assignments) + " @(posedge clk); #1;")

    mask = (1 << bits) - 1
    for t in range(k + rows + cols + product_reg):  # operands, then zeros while the last PEs finish
        first = sum(1 << i for i in range(rows) if t - i == 0)
        av = sum((int(a[i, t - i]) & mask) << (i * bits) for i in range(rows) if 0 <= t - i < k)
        bv = sum((int(b[t - j, j]) & mask) << (j * bits) for j in range(cols) if 0 <= t - j < k)
        cycle([f"first = {rows}'h{first:x};", f"a = {rows * bits}'h{av:x};", f"b = {cols * bits}'h{bv:x};"])
    cycle(["drain = 1;"])
    lines.append("  drain = 0;")
    for _ in range(rows):
        lines.append('  $display("%h", out); @(posedge clk); #1;')
    lines += ["  $finish;", "end", "endmodule"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("product_reg", [0, 1])
@pytest.mark.parametrize(("rows", "cols", "k"), [(1, 1, 3), (3, 4, 5), (8, 8, 16)])
def test_reference_array_computes_the_product(rows: int, cols: int, k: int, product_reg: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(rows * 100 + cols * 10 + k)
    a = rng.integers(-128, 128, size=(rows, k), dtype=np.int64)
    b = rng.integers(-128, 128, size=(k, cols), dtype=np.int64)
    a[0, 0], b[0, 0] = -128, -128  # the largest product
    shutil.copy(SOURCE, tmp_path / SOURCE.name)
    (tmp_path / "tb.v").write_text(_testbench(a, b, product_reg))
    words = run_icarus(tmp_path, [SOURCE.name, "tb.v"]).split()
    assert len(words) == rows
    got = np.zeros((rows, cols), dtype=np.int64)
    for n, word in enumerate(words):  # the bottom row leaves first
        value = int(word, 16)
        for j in range(cols):
            got[rows - 1 - n, j] = np.int64(np.uint32((value >> (32 * j)) & 0xFFFFFFFF).astype(np.int32))
    expected = (a @ b).astype(np.int32).astype(np.int64)
    np.testing.assert_array_equal(got, expected)


def test_reference_array_is_lint_clean(tmp_path: Path) -> None:
    shutil.copy(SOURCE, tmp_path / SOURCE.name)
    assert_lint_clean(tmp_path, SOURCE.name)


@pytest.mark.parametrize("product_reg", [0, 1])
def test_reference_array_starts_a_new_sum_on_first(product_reg: int, tmp_path: Path) -> None:
    """Two products back to back: the second one's `first` clears the sum of the first."""
    rng = np.random.default_rng(7)
    a = rng.integers(-128, 128, size=(2, 4), dtype=np.int64)
    b = rng.integers(-128, 128, size=(4, 2), dtype=np.int64)
    shutil.copy(SOURCE, tmp_path / SOURCE.name)
    # the first product's operands, then the second's right after (K = 2 each)
    bench = _testbench(a[:, :2], b[:2, :], product_reg)
    second = _testbench(a[:, 2:], b[2:, :], product_reg)
    feed = [line for line in second.splitlines() if line.startswith("  first")]
    marker = bench.index("  first")
    bench = bench[:marker] + "\n".join(feed) + "\n" + bench[marker:]
    (tmp_path / "tb.v").write_text(bench)
    words = run_icarus(tmp_path, [SOURCE.name, "tb.v"]).split()
    got = np.array([[np.int64(np.uint32((int(w, 16) >> (32 * j)) & 0xFFFFFFFF).astype(np.int32)) for j in range(2)]
                    for w in reversed(words)])
    np.testing.assert_array_equal(got, a[:, :2] @ b[:2, :])
