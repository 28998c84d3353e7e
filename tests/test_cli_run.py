"""``sasim run``: the JSON object, the report, the exit codes, the trace and plot files, and
that nothing is written when something fails. In-process through ``main`` on small examples,
once as a real process."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import command_json, error_line, run

import sasim.cli_run as cli_run
from sasim.cli import main
from sasim.errors import SimulationError
from sasim.model import evaluate
from sasim.sim import SimResult, simulate
from sasim.spec import load_spec

SMALL = "gemm_inline"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    return command_json(capsys, "run", *argv)


# --- JSON --------------------------------------------------------------------------------------


def test_run_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, SMALL)
    assert {"cycles", "macs", "utilization", "energy_pj", "accesses", "stalls", "outputs_match_reference",
            "model", "design", "mode", "seed", "time_us", "array_busy_cycles", "dram_busy_cycles",
            "peak_occupancy", "energy_breakdown_pj", "accesses_match_model", "wall_time_s", "array_span_cycles",
            "data_stall_cycles"} <= set(data)
    assert data["mode"] == "fast" and data["seed"] == 0
    assert data["outputs_match_reference"] is True and data["accesses_match_model"] is True
    assert {"cycles", "utilization", "energy_pj", "accesses", "error", "time_us"} <= set(data["model"])
    assert data["array_busy_cycles"] + sum(data["stalls"].values()) <= data["cycles"]
    assert data["array_busy_cycles"] <= data["array_span_cycles"] <= data["cycles"]
    assert isinstance(data["data_stall_cycles"], int) and data["data_stall_cycles"] >= 0


def test_run_json_equals_simulate_and_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, SMALL, "--seed", "3")
    spec = load_spec(SMALL)
    design = spec.design()
    expected = simulate(design, seed=3)
    assert data["cycles"] == expected.cycles
    assert data["stalls"] == expected.stalls
    assert data["peak_occupancy"] == expected.peak_occupancy
    assert data["time_us"] == pytest.approx(expected.cycles / spec.architecture.clock_mhz)
    model = evaluate(design)
    assert data["model"]["cycles"] == model.cycles
    assert data["model"]["error"] == pytest.approx((model.cycles - expected.cycles) / expected.cycles)
    status, out, err = run(capsys, "model", SMALL, "--json")
    model_json = json.loads(out)
    assert data["accesses"] == model_json["accesses"]  # same shape and the same counts
    assert data["design"] == model_json["design"]


def test_golden_mode_equals_fast_mode(capsys: pytest.CaptureFixture[str]) -> None:
    fast = run_json(capsys, SMALL)
    golden = run_json(capsys, SMALL, "--mode", "golden")
    assert golden["mode"] == "golden"
    for key in ("cycles", "accesses", "stalls", "array_busy_cycles", "array_span_cycles", "dram_busy_cycles",
                "peak_occupancy", "energy_pj", "outputs_match_reference"):
        assert golden[key] == fast[key], key
    assert golden["data_stall_cycles"] is None  # the golden mode does not record it


def test_flags_replace_sections_as_in_model(capsys: pytest.CaptureFixture[str]) -> None:
    data = run_json(capsys, "--arch", "ws_systolic:rows=4,cols=4", "--workload", "gemm:M=8,N=8,K=8",
                    "--mapping", "ws")
    assert data["macs"] == 512 and data["outputs_match_reference"] is True
    assert data["design"]["source"] is None


def test_same_seed_same_run(capsys: pytest.CaptureFixture[str]) -> None:
    a = run_json(capsys, SMALL, "--seed", "5")
    b = run_json(capsys, SMALL, "--seed", "5")
    assert {k: v for k, v in a.items() if k != "wall_time_s"} == {k: v for k, v in b.items() if k != "wall_time_s"}


# --- the report --------------------------------------------------------------------------------


def test_report_shows_summary_stalls_accesses_and_pass(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "run", SMALL)
    assert status == 0, err
    result = simulate(load_spec(SMALL).design())
    assert out.startswith(f"sasim run: {SMALL}\n")
    for text in ("Summary", "model error", f"{result.cycles:,}", "at 500 MHz", "Where the array's cycles went",
                 "Accesses (words)", "Every count equals the analytical model's", "Peak occupancy per region",
                 "DRAM busy", "after the last step"):
        assert text in out, text
    for cause in result.stalls:
        assert f"stall: {cause}" in out
    assert out.rstrip().splitlines()[-1] == "PASS  outputs match the NumPy reference (O, 16x16, every element)"
    assert "DIFFERENT" not in out and "WARNING" not in out


def test_outputs_that_differ_fail_with_status_1(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(*args: Any, **kwargs: Any) -> SimResult:
        return dataclasses.replace(simulate(*args, **kwargs), outputs_match_reference=False)

    monkeypatch.setattr(cli_run, "simulate", wrong)
    status, out, _ = run(capsys, "run", SMALL)
    assert status == 1
    assert out.rstrip().splitlines()[-1].startswith("FAIL  outputs differ from the NumPy reference (O, 16x16)")
    status, out, _ = run(capsys, "run", SMALL, "--json")
    assert status == 1 and json.loads(out)["outputs_match_reference"] is False


def test_counts_that_differ_from_the_model_are_flagged(capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    def off_by_one(*args: Any, **kwargs: Any) -> SimResult:
        r = simulate(*args, **kwargs)
        accesses = {lvl: dict(ts) for lvl, ts in r.accesses.items()}
        accesses["DRAM"]["W"] = dataclasses.replace(accesses["DRAM"]["W"], reads=accesses["DRAM"]["W"].reads + 1)
        return dataclasses.replace(r, accesses=accesses)

    monkeypatch.setattr(cli_run, "simulate", off_by_one)
    status, out, _ = run(capsys, "run", SMALL)
    assert status == 0  # values still match; the report says loudly that a count does not
    assert "WARNING: 1 access count differs from the model's" in out
    assert "DRAM.W.reads: simulated 257, model 256" in out
    assert "DIFFERENT" in out
    assert json.loads(run(capsys, "run", SMALL, "--json")[1])["accesses_match_model"] is False


# --- files ---------------------------------------------------------------------------------------


def test_trace_vcd_plot_png_and_json_together(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    vcd, png = tmp_path / "run.vcd", tmp_path / "run.png"
    status, out, err = run(capsys, "run", SMALL, "--trace", str(vcd), "--plot", str(png), "--json")
    assert status == 0, err
    assert json.loads(out)["cycles"] > 0  # stdout is still exactly one JSON object
    text = vcd.read_text()
    assert text.startswith("$comment") and "$enddefinitions $end" in text and "$var wire 1" in text
    assert png.read_bytes()[:8] == PNG_MAGIC
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.png", "run.vcd"]  # no temporary files left


def test_trace_json_is_a_perfetto_trace(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    status, out, err = run(capsys, "run", SMALL, "--trace", str(path))
    assert status == 0, err
    assert f"wrote trace: {path} (Chrome/Perfetto trace)" in out
    events = json.loads(path.read_text())["traceEvents"]
    assert {e["ph"] for e in events} == {"M", "X", "C"}


def test_plot_svg(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "run.svg"
    assert run(capsys, "run", SMALL, "--plot", str(path))[0] == 0
    assert "<svg" in path.read_text()[:1000]


def test_outputs_replace_files_only_after_success(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    vcd, png = tmp_path / "run.vcd", tmp_path / "run.png"
    vcd.write_text("old")
    png.write_text("old")

    def fails(*args: Any, **kwargs: Any) -> SimResult:
        raise SimulationError("the simulation cannot finish: a test says so")

    monkeypatch.setattr(cli_run, "simulate", fails)
    status, out, err = run(capsys, "run", SMALL, "--trace", str(vcd), "--plot", str(png))
    assert status == 2 and out == ""
    assert error_line(err) == "sasim: error: the simulation cannot finish: a test says so"
    assert vcd.read_text() == "old" and png.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.png", "run.vcd"]


# --- errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "message"), [
    (["nope"], "nope: no such spec file or bundled example; the examples are conv_multicast, depthwise, "
               "eyeriss_conv, gemm_inline, gemm_os, gemm_ws, gemmini_gemm, tpu_gemm (see 'sasim examples')"),
    ([SMALL, "--mode", "turbo"], "argument --mode: must be fast or golden, not 'turbo' (see 'sasim run --help')"),
    ([SMALL, "--seed", "-1"], "argument --seed: must be a non-negative integer, not '-1' (see 'sasim run --help')"),
    ([SMALL, "--trace", "run.txt"], "--trace: 'run.txt' has extension '.txt'; use .vcd (a waveform for GTKWave) "
                                    "or .json (a trace for ui.perfetto.dev) (see 'sasim run --help')"),
    ([SMALL, "--trace", "run"], "--trace: 'run' has no extension; use .vcd (a waveform for GTKWave) or .json "
                                "(a trace for ui.perfetto.dev) (see 'sasim run --help')"),
    ([SMALL, "--plot", "run.jpg"], "--plot: 'run.jpg' has extension '.jpg'; use .png, .svg or .pdf "
                                   "(see 'sasim run --help')"),
    ([SMALL, "--mode", "golden", "--trace", "run.vcd"],
     "--trace needs --mode fast: the golden mode records no timelines (its cycles and counts equal the fast "
     "mode's) (see 'sasim run --help')"),
    ([SMALL, "--plot", "no_such_dir/run.png"],
     "--plot: cannot write 'no_such_dir/run.png': the directory 'no_such_dir' does not exist "
     "(see 'sasim run --help')"),
    (["--arch", "ws_systolic"], "no SPEC given: name a spec file or a bundled example, or give all of --arch, "
                                "--workload and --mapping (missing: --workload, --mapping) (see 'sasim run --help')"),
])
def test_run_errors_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          argv: list[str], message: str) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = run(capsys, "run", *argv)
    assert status == 2
    assert out == ""
    assert error_line(err) == f"sasim: error: {message}"
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_spec_error_writes_nothing_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    vcd = tmp_path / "run.vcd"
    status, _, err = run(capsys, "run", SMALL, "--workload", "gem", "--trace", str(vcd))
    assert status == 2
    assert error_line(err).startswith("sasim: error: --workload: unknown workload preset 'gem'")
    assert list(tmp_path.iterdir()) == []


def test_golden_mode_refuses_large_designs_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "run", "gemm_ws", "--workload", "gemm:M=256,N=256,K=256", "--mode", "golden")
    assert status == 2
    line = error_line(err)
    assert line.startswith("sasim: error: ") and "use the fast mode for designs this large" in line


# --- progress and help ------------------------------------------------------------------------------


def test_no_progress_bar_with_json_or_without_a_terminal(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []

    def spy(*args: Any, **kwargs: Any) -> SimResult:
        seen.append(kwargs.get("progress"))
        return simulate(*args, **kwargs)

    monkeypatch.setattr(cli_run, "simulate", spy)
    run(capsys, "run", SMALL)  # stderr is captured: not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run(capsys, "run", SMALL, "--json")
    assert seen == [None, None]
    run(capsys, "run", SMALL)
    assert callable(seen[-1])


def test_progress_bar_draws_on_its_first_report(capsys: pytest.CaptureFixture[str]) -> None:
    with cli_run.progress_bar(True) as progress:
        assert progress is not None
        progress(65536, 200000)
        progress(131072, 200000, "last: conv1")  # a report's own detail replaces the initial one
    with cli_run.progress_bar(False) as progress:
        assert progress is None


def test_run_help(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "run", "--help")
    assert status == 0
    for text in ("usage: sasim run", "--mode {fast,golden}", "--seed N", "--json", "--trace FILE", "--plot FILE.png",
                 "exit status: 0 if the outputs match the NumPy reference, 1 if they do not"):
        assert text in out, text
    status, out, _ = run(capsys, "--help")
    assert "run " in out and "sasim run gemm_ws" in out


def test_run_as_a_process_prints_only_json() -> None:
    proc = subprocess.run([sys.executable, "-m", "sasim", "run", SMALL, "--json"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs_match_reference"] is True
    assert proc.stderr == ""


def test_run_reports_bank_conflicts_of_a_blocked_layout(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The docs/simulator.md example: I laid out blocked on the output-stationary GEMM.

    By hand: each step reads a column of 8 rows of I from the global buffer, which holds
    all of I (64x64 int8: 512 words of 8). Blocked over 16 banks (32 words each), rows
    m0..m0+3 sit in one bank and m0+4..m0+7 in the next; one port per bank serves one word
    a cycle, so a column takes 7 cycles, 6 of them cut short by a busy bank. The first
    column's rows arrive from DRAM slower than that (it waits on data, not banks): 4,095
    columns x 6 = 24,570 conflict cycles. The cycles themselves are checked against the
    golden simulator."""
    mapping = tmp_path / "blocked.yaml"
    mapping.write_text('temporal: {global_buffer: "N=8 M=8 K=64"}\nspatial: {Y: "M=8", X: "N=8"}\n'
                       "layout: {global_buffer: {I: blocked}}\n")
    status = main(["run", "gemm_os", "--mapping", str(mapping), "--json"])
    blocked = json.loads(capsys.readouterr().out)
    assert status == 0 and blocked["outputs_match_reference"]
    assert blocked["bank_conflict_cycles"] == {"global_buffer.I": 4095 * 6}
    design = load_spec("gemm_os", {"mapping": str(mapping)}).design()
    assert blocked["cycles"] == simulate(design, mode="golden").cycles
    status = main(["run", "gemm_os", "--json"])
    ideal = json.loads(capsys.readouterr().out)
    assert ideal["bank_conflict_cycles"] == {} and ideal["cycles"] < blocked["cycles"]
    assert ideal["accesses"] == blocked["accesses"]  # a layout changes timing only
    main(["run", "gemm_os", "--mapping", str(mapping)])
    assert "bank conflicts, global_buffer.I" in capsys.readouterr().out
