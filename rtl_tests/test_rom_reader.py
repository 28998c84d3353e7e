"""The hardware read of a ROM stored as blocks returns every word of the table (Icarus
Verilog runs a module built by the generator's own reader over every index), and the
reader's Verilog is lint-clean."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rtl_helpers import assert_lint_clean, run_icarus

from sasim.gen.rom import Blocked, Const, Flat, RomReader, encode
from sasim.gen.verilog import Writer, clog2

_I = np.arange(3000)
TABLES = {
    "flat": (np.random.default_rng(1).integers(0, 1 << 10, 100).tolist(), 10, Flat),
    "constant": ([5] * 300, 3, Const),
    "repeating": ([3, 1, 4, 1, 5, 9, 2, 6] * 50, 4, Blocked),
    "loop-nest-wrapping": (((_I % 4) * 64 + (_I // 4) % 64 + (_I // 256) * 1000) % (1 << 12), 12, Blocked),
    "wide-packed": ([(i % 4) << 60 | (i % 8) << 7 | (i // 64) % 2 for i in range(700)], 64, Blocked),
}


def _module(words: list[int], bits: int) -> tuple[str, dict[str, str], int]:
    layout = encode(words, bits, min_words=64)
    w, files = Writer(), {}
    reader = RomReader("t")
    index_bits = max(1, clog2(len(words)))
    # a constant table does not read its index
    w("/* verilator lint_off UNUSEDSIGNAL */",
      f"module rom_under_test (input wire [{index_bits - 1}:0] idx, output wire [{bits - 1}:0] word);",
      "/* verilator lint_on UNUSEDSIGNAL */")
    reader.declare(w, files, "r", layout)
    w(f"assign word = {reader.read(w, 'r', 'idx', index_bits)};", "endmodule")
    return w.text(), files, index_bits


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_word_reads_back(name: str, tmp_path: Path) -> None:
    table, bits, kind = TABLES[name]
    words = [int(x) for x in table]
    module, files, ib = _module(words, bits)
    assert isinstance(encode(words, bits, min_words=64), kind)
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
    (tmp_path / "rom.v").write_text(module)
    (tmp_path / "tb.v").write_text(
        f"module tb; reg [{ib - 1}:0] idx; wire [{bits - 1}:0] word; integer i;\n"
        "rom_under_test dut (.idx(idx), .word(word));\n"
        f"initial begin for (i = 0; i < {len(words)}; i = i + 1) begin idx = i; #1 $display(\"%h\", word); end "
        "$finish; end\nendmodule\n")
    out = run_icarus(tmp_path, ["rom.v", "tb.v"])
    got = [int(x, 16) for x in out.split() if not x.startswith(("VCD", "tb.v"))]
    assert got == words


@pytest.mark.parametrize("name", sorted(TABLES))
def test_reader_is_lint_clean(name: str, tmp_path: Path) -> None:
    table, bits, _ = TABLES[name]
    module, files, _ = _module([int(x) for x in table], bits)
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
    (tmp_path / "rom_under_test.v").write_text(module)
    assert_lint_clean(tmp_path, "rom_under_test.v")


@pytest.mark.parametrize("kind", ["blocked", "registered", "flat-registered"])
@pytest.mark.parametrize("lanes", [1, 3, 4])
def test_window_follows_a_moving_pointer(lanes: int, kind: str, tmp_path: Path) -> None:
    """A window (the words at a pointer register and after it, with the classes and
    offsets of two blocks held in registers) reads every word right while the pointer
    moves by random steps, crossing blocks, and stands still on cycles without advance;
    so does a registered window (the words themselves in registers, loaded as the pointer
    moves), over a table stored as blocks and over a flat one."""
    i = np.arange(6000)
    words = (((i % 4) * 64 + (i // 4) % 64 + (i // 256) * 1000) % (1 << 12)).tolist()
    span = 2 * lanes
    max_step = lanes if kind != "blocked" else 0
    layout = encode(words, 12, min_words=64 if kind != "flat-registered" else 1 << 20, min_block=span + max_step)
    if kind == "flat-registered":
        assert isinstance(layout, Flat)
    else:
        assert isinstance(layout, Blocked) and (1 << layout.k) >= span + max_step
    ib, sb = clog2(len(words)), max(1, lanes.bit_length())
    w, files = Writer(), {}
    reader = RomReader("t")
    w("module win_under_test (input wire clk, input wire rst, input wire adv,",
      f"    input wire [{sb - 1}:0] step, output wire [{ib - 1}:0] at, output wire [{span * 12 - 1}:0] out);",
      f"reg [{ib - 1}:0] ptr;", "assign at = ptr;",
      "always @(posedge clk) if (rst) ptr <= 0; else if (adv) ptr <= ptr + " + f"{{{ib - sb}'d0, step}};")
    reader.declare(w, files, "r", layout)
    got_words = reader.window(w, "r", ("ptr", ib), ib, range(span), ("step", sb), "adv", max_step)
    if kind != "flat-registered":
        assert any("_adv" in line for line in w.text().splitlines()), "the window path should be taken"
    if max_step:
        regs = {name.strip() for line in w.text().splitlines() if line.startswith("reg [11:0] ")
                for name in line.removeprefix("reg [11:0] ").split(";")[0].split(",")}
        assert set(got_words) <= regs, "the words should be registers"
    w(f"assign out = {{{', '.join(reversed(got_words))}}};", "endmodule")
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
    (tmp_path / "win_under_test.v").write_text(w.text())
    assert_lint_clean(tmp_path, "win_under_test.v")
    rng = np.random.default_rng(lanes)
    moves, ptr = [], 0
    while ptr < len(words) - 4 * span:
        adv, step = bool(rng.random() < 0.8), int(rng.integers(0, lanes + 1))
        moves.append((adv, step))
        ptr += step if adv else 0
    tb = [f"module tb; reg clk, rst, adv; reg [{sb - 1}:0] step; wire [{ib - 1}:0] at; "
          f"wire [{span * 12 - 1}:0] out;",
          "win_under_test dut (.clk(clk), .rst(rst), .adv(adv), .step(step), .at(at), .out(out));",
          "initial begin clk = 0; rst = 1; adv = 0; step = 0; #5 clk = 1; #5 clk = 0; rst = 0;"]
    tb += [f"adv = {int(a)}; step = {s}; #1 $display(\"%h %h\", at, out); #4 clk = 1; #5 clk = 0;" for a, s in moves]
    tb += ["$finish; end", "endmodule"]
    (tmp_path / "tb.v").write_text("\n".join(tb) + "\n")
    out = run_icarus(tmp_path, ["win_under_test.v", "tb.v"])
    lines = [line.split() for line in out.splitlines() if len(line.split()) == 2]
    assert len(lines) == len(moves)
    crossed, block_bits = set(), layout.k if isinstance(layout, Blocked) else 8
    for at_hex, out_hex in lines:
        at, value = int(at_hex, 16), int(out_hex, 16)
        crossed.add(at >> block_bits)
        assert [(value >> (12 * o)) & 0xFFF for o in range(span)] == words[at:at + span], at
    assert len(crossed) > 10  # the pointer crossed many blocks (or 256-word spans of a flat table)
