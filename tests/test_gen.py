"""The Verilog generator without an RTL simulator: identifiers, tables, refusals with
reasons, byte-stable output, the manifest, pyverilog parsing and ``sasim gen``. (RTL
behaviour is checked against the simulator in ``rtl_tests/``.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from sasim.cli import main
from sasim.errors import GenerationError
from sasim.gen import build, build_tables, generate
from sasim.gen.expr import slot_word
from sasim.gen.tables import MAX_TABLE_ENTRIES, _edge_slots, program_limit
from sasim.gen.verilog import KEYWORDS, clog2, hex_image, identifier, pack_rows, width
from sasim.sim.program import MAX_GOLDEN_POINTS, build_program, iteration_points
from sasim.spec import load_spec

SMALL = {"workload": "gemm:M=8,N=7,K=5", "architecture": "ws_systolic:rows=2,cols=3,buffer_size=4KiB", "mapping": "ws"}


def small_design(**changes: str):  # type: ignore[no-untyped-def]
    return load_spec(None, {**SMALL, **changes}).design()


# --- identifiers and helpers -------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("I", "I"), ("weights", "weights"), ("input", "input_"), ("reg", "reg_"), ("logic", "logic_"),
    ("3d", "n_3d"), ("a-b.c", "a_b_c"), ("", "n_"), ("$x", "_x"), ("ünï", "_n_"),
])
def test_identifier_is_legal_and_not_reserved(name: str, expected: str) -> None:
    got = identifier(name)
    assert got == expected
    assert got not in KEYWORDS and not got[0].isdigit()


def test_widths_and_rom_images() -> None:
    assert [clog2(n) for n in (0, 1, 2, 3, 4, 5, 1024)] == [0, 0, 1, 2, 2, 3, 10]
    assert [width(v) for v in (0, 1, 2, 255, 256)] == [1, 1, 2, 8, 9]
    assert hex_image([0, 5, 255, -1], 8) == "00\n05\nff\nff\n"
    assert hex_image([1], 9) == "001\n"
    # the first field in the lowest bits; a 2-D field packs column 0 lowest
    assert pack_rows([np.array([1, 0]), np.array([[2, 3], [1, 0]])], [1, 2]) == [1 | 2 << 1 | 3 << 3, 1 << 1]


def test_edge_slots_is_the_most_tiles_that_fit_at_once() -> None:
    assert _edge_slots(np.array([4, 4, 4, 4]), 8) == 2
    assert _edge_slots(np.array([4, 1, 1, 4, 4]), 8) == 3  # 1+1+4 or 4+1+1
    assert _edge_slots(np.array([3]), 3) == 1


# --- tables --------------------------------------------------------------------------------------


def test_tables_follow_the_program() -> None:
    design = small_design()
    program = build_program(design)
    tables = build_tables(design, program)
    assert tables.array.steps == program.steps
    for t in tables.inputs:
        edge = program.seqs[(design.pe_level.name, t.tensor)]
        assert t.edge_sizes.tolist() == [len(x) for x in edge.tiles]
        assert len(t.edge_positions) == sum(len(x) for x in edge.tiles)
        assert t.edge_last[-1] and t.edge_last.sum() == len(t.dram_sizes)
    # every PE the program uses is valid somewhere, and only those
    assert tables.array.valid.sum() == program.valid.sum()
    o = tables.output
    # the first drain into each buffer tile writes each element, later ones read-modify-write
    assert int((~o.edge_rmw).sum()) == int(np.prod(design.workload.shape("O")))
    assert o.edge_rmw.sum() > 0


# --- refusals --------------------------------------------------------------------------------------


def test_refuses_a_second_buffer_level_with_the_reason() -> None:
    design = load_spec("tpu_gemm", {"workload": "gemm:M=8,N=8,K=8"}).design()
    with pytest.raises(GenerationError, match=r"tensor 'O' is kept by DRAM -> unified_buffer -> accumulators -> PE"):
        build(design)


def test_refuses_a_bypassed_buffer() -> None:
    design = load_spec("eyeriss_conv", {"workload": "conv2d:N=1,C=2,K=3,H=6,W=6,R=3,S=3"}).design()
    with pytest.raises(GenerationError, match=r"tensor 'W' is kept by DRAM -> PE; .*no bypass"):
        build(design)


def test_refuses_explicit_layouts() -> None:
    mapping = {"temporal": {"global_buffer": "N=4 M=4 K=5"}, "spatial": {"Y": "M=2", "X": "N=2"},
               "layout": {"global_buffer": {"I": "blocked"}}}
    design = load_spec(None, {**SMALL, "architecture": "os_systolic:rows=2,cols=3,buffer_size=4KiB",
                              "mapping": mapping}).design()
    with pytest.raises(GenerationError, match=r"lays out global_buffer\.I explicitly"):
        build(design)


def test_refuses_outputs_that_revisit_dram() -> None:
    mapping = {"temporal": {"DRAM": "K=* N=*", "global_buffer": "M=8"}, "spatial": {"Y": "K=2", "X": "N=3"}}
    design = load_spec(None, {**SMALL, "mapping": mapping}).design()
    with pytest.raises(GenerationError, match=r"output 'O' leaves the buffer 'global_buffer' more than once"):
        build(design)


def test_refuses_tables_beyond_the_limit() -> None:
    design = small_design()
    need = build_tables(design).entries
    with pytest.raises(GenerationError, match=rf"sequencer tables need {need:,} entries \(limit {need - 1:,}\).*"
                                              r"raise the table limit \(--table-limit\)"):
        build(design, table_limit=need - 1)
    assert build(design, table_limit=need).top == "sasim_accel"
    assert MAX_TABLE_ENTRIES >= 1 << 20


def test_a_raised_table_limit_lets_the_walk_go_further() -> None:
    # 256^3 points and a few more (N=256 on 3 columns): beyond the default walk, refused before walking
    design = small_design(workload="gemm:M=256,N=256,K=256")
    points = iteration_points(design)
    assert 256**3 < points < 256**3 * 1.01
    with pytest.raises(GenerationError, match=rf"walks every iteration point .* has {points:,} \(limit 2,097,152 "
                                              r"with a table limit of 1,048,576 entries\)"):
        build(design)
    assert program_limit(MAX_TABLE_ENTRIES) == 2 * MAX_TABLE_ENTRIES
    assert program_limit(10) == MAX_GOLDEN_POINTS  # never below what the golden simulator walks
    assert program_limit(50_000_000) == 100_000_000



def test_ranks_are_positions_in_sorted_tiles() -> None:
    from sasim.gen.tables import _ranks

    rng = np.random.default_rng(2)
    tiles = [np.unique(rng.integers(0, 40, size=int(n))) for n in rng.integers(1, 12, size=30)]
    which = rng.integers(0, len(tiles), size=200)
    elements = np.array([rng.choice(tiles[w]) for w in which])
    want = [int(np.searchsorted(tiles[w], x)) for w, x in zip(which, elements)]
    sizes = np.array([len(t) for t in tiles])
    assert _ranks(np.concatenate(tiles), sizes, which, elements).tolist() == want
    assert all(tiles[w][r] == x for w, r, x in zip(which, want, elements))


def test_table_keys_too_wide_are_refused() -> None:
    from sasim.gen.tables import _keyed

    with pytest.raises(GenerationError, match="beyond the table compiler"):
        _keyed(np.array([0, 1]), np.array([0, 1 << 40]), 1 << 30)

# --- output ---------------------------------------------------------------------------------------


def test_generation_is_byte_stable(tmp_path: Path) -> None:
    first = build(small_design())
    second = build(small_design())
    assert first.files == second.files
    generate(small_design(), tmp_path / "a")
    generate(small_design(), tmp_path / "b")
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not any(name.endswith(".tmp") for name in names)
    assert build(_blocked_design()).files == build(_blocked_design()).files  # tables stored as blocks too


def _slot_word_value(expr: str, slot: int) -> int:
    """Evaluate what :func:`slot_word` returns, for slot register ``s`` holding ``slot``."""
    if expr == "s":
        return slot
    if m := re.fullmatch(r"\{s\[(\d+):(\d+)\], (\d+)'d(\d+)\}", expr):
        hi, lb, bits, j = map(int, m.groups())
        assert bits == lb
        return ((slot & ((1 << (hi + 1)) - 1)) >> lb << lb) | j
    if m := re.fullmatch(r"(\d+)'d(\d+)", expr):
        return int(m.group(2))
    m = re.fullmatch(r"s \+ (\d+)'d(\d+)", expr)
    assert m, expr
    return slot + int(m.group(2))


@pytest.mark.parametrize(("size", "slots"), [(1, 5), (2, 3), (4, 1), (4, 4), (8, 10), (64, 10), (6, 3), (6, 1)])
def test_slot_word_is_the_slot_plus_the_element(size: int, slots: int) -> None:
    bits = width(slots * size - 1)
    for slot in range(0, slots * size, size):  # the values advance_slot gives the register
        for j in range(size):
            expr = slot_word("s", bits, size, slots, j)
            assert _slot_word_value(expr, slot) == slot + j, (expr, slot)
            # a power of two gives the write a constant low part (one port per word), else an adder
            assert ("+" in expr) == (size & (size - 1) != 0 and slots > 1)


@pytest.mark.parametrize(("size", "slots", "expected"), [
    (8, 4, "{s[4:3], {1'd0, p}}"),  # the position wire, widened to the slot's offset bits
    (8, 1, "{1'd0, p}"),
    (6, 3, "s + {3'd0, p}"),
])
def test_slot_word_at_a_position_wire(size: int, slots: int, expected: str) -> None:
    assert slot_word("s", width(slots * size - 1), size, slots, ("p", 2)) == expected


def test_drain_tiles_and_operands_are_addressed_at_constant_low_bits() -> None:
    design = small_design(architecture="os_systolic:rows=2,cols=2,buffer_size=4KiB", mapping="os")
    text = build(design).verilog
    writes = re.findall(r"O_emem\[(.*)\] <= a_next\[(\d+)\];", text)
    assert len(writes) == 4
    for address, j in writes:
        assert re.fullmatch(rf"\{{O_wslot\[\d+:2\], 2'd{j}\}}", address), address
    # and each PE reads its operands at {slot, position}: a choice among slots only
    reads = re.findall(r"wire signed \[7:0\] a_v[ab]\d+ = (\w)_emem\[(.*)\];", text)
    assert len(reads) == 8
    for tensor, address in reads:
        assert re.fullmatch(rf"\{{{tensor}_hslot\[\d+:\d+\], \d+'d\d+\}}", address), address


@pytest.mark.parametrize(("arch", "stages"), [
    ("ws_systolic:rows=1,cols=1,buffer_size=4KiB", 0),  # drain delay 1: the datapath stays in the issue cycle
    ("ws_systolic:rows=1,cols=1,buffer_size=4KiB,mac_latency=2", 1),  # delay 2
    ("ws_systolic:rows=2,cols=3,buffer_size=4KiB", 1),  # delay 3: a cycle for the output engine
    ("ws_systolic:rows=2,cols=3,buffer_size=4KiB,mac_latency=2", 2),
    ("ws_systolic:rows=2,cols=3,buffer_size=4KiB,mac_latency=3", 3),  # a column's products share an element
])
def test_the_datapath_is_pipelined_as_far_as_the_drain_delay_allows(arch: str, stages: int) -> None:
    design = small_design(architecture=arch)
    tables = build_tables(design)
    delay = tables.array.skew + tables.array.mac_latency
    assert stages == (min(3, delay - 2) if delay >= 3 else delay - 1)  # a cycle left to the output engine
    text = build(design, tables=tables).verilog
    assert ("reg signed [7:0] a_ra0;" in text) == (stages >= 1)  # operands registered
    assert ("reg signed [15:0] a_pr0;" in text) == (stages >= 2)  # products registered
    assert ("reg [16:0] a_red0;" in text) == (stages >= 3)  # two rows: products summed at 16 + 1 bits
    assert ("a_issue_d3" in text) == (stages >= 3) and ("a_issue_d2" in text) == (stages >= 2)
    assert ("a_issue_d1" in text) == (stages >= 1)
    assert ("O_uvr" in text) == (delay >= 3)  # the output engine reads the edge buffer a cycle ahead


def test_manifest_names_ports_and_counters(tmp_path: Path) -> None:
    design = small_design()
    rtl, written = generate(design, tmp_path, top="my accel")
    assert rtl.top == "my_accel"
    data = json.loads((tmp_path / "manifest.json").read_text())
    assert data["top"] == "my_accel" and data["verilog"] == "my_accel.v"
    assert data["sources"] == ["my_accel.v", "my_accel_array.v"]  # the top's file first
    assert "my_accel_array pe_array (" in (tmp_path / "my_accel.v").read_text()
    assert set(data["ports"]) == {"I", "W", "O"}
    assert data["ports"]["O"]["role"] == "output"
    names = [c["name"] for c in data["counters"]]
    assert names[0] == "cycles" and "steps" in names and "global_buffer.I.reads" in names
    assert [c["index"] for c in data["counters"]] == list(range(len(names)))
    text = (tmp_path / "my_accel.v").read_text()
    for rom in (f for f in data["files"] if f.endswith(".hex")):
        assert f'$readmemh("{rom}"' in text
    assert sorted(p.name for p in written) == sorted([*data["files"], "manifest.json"])


@pytest.mark.parametrize(("limit", "ram", "style"), [(None, "lut", "distributed"), (0, "block", "block")])
def test_buffer_banks_carry_the_ram_they_are_meant_for(limit: int | None, ram: str, style: str,
                                                       tmp_path: Path) -> None:
    design = small_design(architecture="ws_systolic:rows=2,cols=3,buffer_size=1KiB")  # banks of 1 Kibit or less
    rtl, _ = generate(design, tmp_path, **({} if limit is None else {"lut_ram_bits": limit}))
    buffers = {m.name: m for m in rtl.memories if m.kind == "buffer"}
    assert set(buffers) == {"I_bmem", "W_bmem", "O_omem"}
    for m in buffers.values():
        assert m.ram == ram and (m.words // m.banks) * m.bits <= 1024, m
    assert all(m.ram is None for m in rtl.memories if m.kind != "buffer")
    text = rtl.files["sasim_accel.v"]
    banks = re.findall(r'\(\* ram_style = "(\w+)" \*\) (?:\(\* no_rw_check \*\) )?reg \[\d+:0\] (\w+)_(?:b|o)mem\d+ ',
                       text)
    assert len(banks) == sum(m.banks for m in buffers.values())
    assert {s for s, _ in banks} == {style}
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {m["name"]: m["ram"] for m in manifest["memories"] if m["kind"] == "buffer"} == {
        name: ram for name in buffers}


def test_large_banks_stay_in_block_ram() -> None:
    design = small_design(architecture="ws_systolic:rows=2,cols=3,buffer_size=2KiB")  # output banks of 2 Kibit
    rams = {m.name: (m.words // m.banks * m.bits, m.ram) for m in build(design).memories if m.kind == "buffer"}
    assert all(ram == ("lut" if bits <= 1024 else "block") for bits, ram in rams.values()), rams
    assert rams["O_omem"] == (2048, "block") and rams["W_bmem"][1] == "lut"
    with pytest.raises(GenerationError, match="lut_ram_bits must be 0 or more, not -1"):
        build(design, lut_ram_bits=-1)


def _blocked_design():  # type: ignore[no-untyped-def]
    """Long enough that its sequencer tables are stored as blocks and read through windows."""
    return load_spec(None, {"workload": "gemm:M=32,N=32,K=32", "mapping": "ws",
                            "architecture": "ws_systolic:rows=2,cols=2,buffer_size=4KiB"}).design()


@pytest.mark.parametrize("blocked", [False, True], ids=["flat-roms", "blocked-roms"])
def test_pyverilog_parses_the_generated_module(blocked: bool, tmp_path: Path) -> None:
    from pyverilog.vparser.parser import parse

    rtl, _ = generate(_blocked_design() if blocked else small_design(mapping="ws"), tmp_path)
    assert ("_w0_adv" in rtl.files[f"{rtl.top}.v"]) is blocked
    assert rtl.sources == [f"{rtl.top}.v", f"{rtl.top}_array.v"]
    for source in rtl.sources:  # one module per file, named after it
        ast, _ = parse([str(tmp_path / source)], outputdir=str(tmp_path), debug=False)
        assert [d.name for d in ast.description.definitions] == [source[:-2]]


# --- the command line -------------------------------------------------------------------------------


def test_gen_writes_and_reports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rtl"
    status = main(["gen", "gemm_ws", "--workload", "gemm:M=8,N=8,K=8", "--out", str(out)])
    report = capsys.readouterr().out
    assert status == 0
    assert "sasim_accel" in report and "ROM images" in report and "sasim_accel_array" in report
    assert (out / "sasim_accel.v").is_file() and (out / "manifest.json").is_file()
    assert (out / "sasim_accel_array.v").is_file()


def test_gen_json_is_the_manifest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["gen", "gemm_ws", "--workload", "gemm:M=8,N=8,K=8", "--out", str(tmp_path), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0
    assert data == json.loads((tmp_path / "manifest.json").read_text())


def test_gen_refusal_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rtl"
    status = main(["gen", "tpu_gemm", "--workload", "gemm:M=8,N=8,K=8", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2
    assert len(err) == 1 and err[0].startswith("sasim: error: tensor 'O' is kept by")
    assert not out.exists()


def test_gen_table_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["gen", "gemm_ws", "--workload", "gemm:M=8,N=8,K=8"]
    out = tmp_path / "refused"
    assert main([*args, "--out", str(out), "--table-limit", "100"]) == 2
    err = capsys.readouterr().err
    assert "entries (limit 100)" in err and "--table-limit" in err
    assert not out.exists()
    assert main([*args, "--out", str(tmp_path / "ok"), "--table-limit", "2M", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["top"] == "sasim_accel"


@pytest.mark.parametrize("text", ["0", "-5", "abc", "M", "1.5M", ""])
def test_gen_table_limit_must_be_a_positive_count(text: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gen", "gemm_ws", "--out", str(tmp_path), "--table-limit", text]) == 2
    err = capsys.readouterr().err
    assert f"argument --table-limit: must be a positive number of entries (digits, optionally ending in k or M), " \
           f"not {text!r}" in err
    assert not list(tmp_path.iterdir())


def test_gen_lut_ram_bits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["gen", "gemm_ws", "--workload", "gemm:M=8,N=8,K=8", "--out", str(tmp_path), "--json"]
    assert main([*args, "--lut-ram-bits", "0"]) == 0
    rams = {m["ram"] for m in json.loads(capsys.readouterr().out)["memories"] if m["kind"] == "buffer"}
    assert rams == {"block"}
    assert main([*args, "--lut-ram-bits", "1_000_000"]) == 0
    rams = {m["ram"] for m in json.loads(capsys.readouterr().out)["memories"] if m["kind"] == "buffer"}
    assert rams == {"lut"}


@pytest.mark.parametrize("text", ["-1", "abc", "1.5", ""])
def test_gen_lut_ram_bits_must_be_a_count_of_bits(text: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gen", "gemm_ws", "--out", str(tmp_path), "--lut-ram-bits", text]) == 2
    assert f"argument --lut-ram-bits: must be a number of bits, 0 or more, not {text!r}" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(("text", "value"), [("2M", 2_000_000), ("500k", 500_000), ("4,000,000", 4_000_000),
                                             ("1_048_576", 1_048_576), ("7", 7)])
def test_table_limit_spellings(text: str, value: int) -> None:
    from sasim.cli_common import table_limit_argument

    assert table_limit_argument(text) == value


def test_gen_out_must_be_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    status = main(["gen", "gemm_ws", "--out", str(target)])
    assert status == 2
    assert "is not a directory" in capsys.readouterr().err


def test_gen_and_verify_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command, phrase in (("gen", "byte-identical"), ("verify", "bit for bit")):
        assert main([command, "--help"]) == 0
        assert phrase in capsys.readouterr().out


def test_verify_rejects_an_unknown_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["verify", "gemm_ws", "--simulator", "modelsim"])
    assert status == 2
    assert "invalid choice: 'modelsim'" in capsys.readouterr().err
