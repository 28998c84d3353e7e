"""The ``sasim`` command line: ``model`` and ``examples``, in-process through ``main`` and
once as real processes; every error is one line and exit status 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import command_json, run

from sasim.design import lower
from sasim.examples import example_names, example_path
from sasim.mapping.spec import Mapping
from sasim.model import evaluate
from sasim.spec import load_spec

ACTIONS = {"reads", "fills", "updates", "drains"}


def model_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    return command_json(capsys, "model", *argv)


# --- sasim model -----------------------------------------------------------------------


def test_model_json_has_the_documented_keys(capsys: pytest.CaptureFixture[str]) -> None:
    data = model_json(capsys, "gemm_ws")
    assert {"cycles", "macs", "utilization", "energy_pj", "accesses", "time_us", "design"} <= set(data)
    assert isinstance(data["cycles"], int) and data["cycles"] > 0
    assert 0 < data["utilization"] <= 1
    levels = data["accesses"]
    assert list(levels)[0] == "DRAM" and list(levels)[-1] == "PE"
    for per_tensor in levels.values():
        for counts in per_tensor.values():
            assert set(counts) == ACTIONS
            assert all(isinstance(v, int) and v >= 0 for v in counts.values())


def test_model_json_equals_the_model(capsys: pytest.CaptureFixture[str]) -> None:
    data = model_json(capsys, "gemm_ws")
    spec = load_spec("gemm_ws")
    expected = evaluate(spec.design()).to_dict()
    assert {k: data[k] for k in expected} == json.loads(json.dumps(expected))
    assert data["time_us"] == pytest.approx(data["cycles"] / spec.architecture.clock_mhz)
    assert data["design"]["source"] == "gemm_ws"
    assert data["design"]["workload"]["dims"] == spec.workload.dims


def test_model_json_resolved_mapping_reads_back(capsys: pytest.CaptureFixture[str]) -> None:
    data = model_json(capsys, "gemm_os")
    spec = load_spec("gemm_os")
    original = spec.design()
    again = lower(spec.workload, spec.architecture, Mapping.model_validate(data["design"]["mapping"]))
    assert again.loops == original.loops
    assert again.access == original.access
    assert "*" not in json.dumps(data["design"]["mapping"])
    assert [lp["factor"] for lp in data["design"]["loops"]] == [lp.factor for lp in original.loops]


@pytest.mark.parametrize("name", example_names())
def test_model_runs_every_example(capsys: pytest.CaptureFixture[str], name: str) -> None:
    data = model_json(capsys, name)
    assert data["macs"] == load_spec(name).workload.macs


def test_model_report_mentions_cycles_and_utilization(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "model", "gemm_ws")
    assert status == 0 and err == ""
    data = evaluate(load_spec("gemm_ws").design())
    for text in ("cycles", "utilization", "MACs", "energy", "Latency terms", "Accesses", "Loop nest",
                 "Access entries", f"{data.cycles:,}", "MAC", "reads", "fills", "updates", "drains"):
        assert text in out, text


def test_model_verbose_report_shows_tiles(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "model", "gemm_ws", "-v")
    assert status == 0
    assert "Tiles" in out


def test_model_flags_override_sections(capsys: pytest.CaptureFixture[str]) -> None:
    data = model_json(capsys, "gemm_ws", "--workload", "gemm:M=64,N=48,K=32", "--arch", "multicast:rows=8,cols=8",
                      "--mapping", "os")
    assert data["macs"] == 64 * 48 * 32
    assert data["design"]["origins"]["mapping"] == "preset os"


def test_model_without_spec_takes_all_three_flags(capsys: pytest.CaptureFixture[str]) -> None:
    arch = load_spec("gemm_ws").origins["architecture"].removeprefix("preset ").split("(")[0]
    data = model_json(capsys, "--arch", arch, "--workload", "gemm:M=16,N=16,K=16", "--mapping", "ws")
    assert data["macs"] == 16**3
    assert data["design"]["source"] is None


def test_model_flag_path_is_relative_to_the_working_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "wl.yaml").write_text("preset: gemm\nM: 8\nN: 8\nK: 8\n")
    monkeypatch.chdir(tmp_path)
    assert model_json(capsys, "gemm_ws", "--workload", "wl.yaml")["macs"] == 512


def test_model_json_stdout_is_only_json_even_when_verbose(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--debug", "model", "gemm_ws", "--json", "-v")
    assert status == 0
    json.loads(out)


# --- sasim examples --------------------------------------------------------------------


def test_examples_lists_every_name_with_a_description(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "examples")
    assert status == 0 and err == ""
    for name in example_names():
        assert name in out
    assert "GEMM" in out


def test_examples_json(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "examples", "--json")
    assert status == 0
    data = json.loads(out)
    assert [e["name"] for e in data["examples"]] == list(example_names())
    assert all(e["description"] for e in data["examples"])


def test_examples_name_prints_the_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "examples", "gemm_ws")
    assert status == 0
    path = example_path("gemm_ws")
    assert path is not None and out == path.read_text()
    assert yaml.safe_load(out)["workload"]


# --- errors ----------------------------------------------------------------------------

ERRORS = {
    "unknown spec": (["model", "no_such_example"],
                     "sasim: error: no_such_example: no such spec file or bundled example"),
    "unknown preset": (["model", "gemm_ws", "--workload", "gem"],
                       "sasim: error: --workload: unknown workload preset 'gem'"),
    "bad preset parameter": (["model", "gemm_ws", "--workload", "gemm:M=0,N=1,K=1"],
                             "sasim: error: --workload: M must be a positive integer, not 0"),
    "malformed flag": (["model", "gemm_ws", "--mapping", "os:x"],
                       "sasim: error: --mapping: cannot read preset parameter"),
    "missing file": (["model", "gemm_ws", "--arch", "nothere.yaml"],
                     "sasim: error: --arch: no such file 'nothere.yaml' (a section string that is not a preset name "
                     "is a path, relative to the working directory)"),
    "lowering": (["model", "gemm_ws", "--mapping", "bad_mapping.yaml"],
                 "sasim: error: mapping.temporal.NOPE: unknown level 'NOPE'"),
    "no spec": (["model", "--workload", "gemm:M=4,N=4,K=4"], "sasim: error: no SPEC given"),
    "no command": ([], "sasim: error: the following arguments are required: COMMAND"),
    "unknown command": (["simulate"], "sasim: error: argument COMMAND: invalid choice: 'simulate'"),
    "unknown option": (["model", "gemm_ws", "--bogus"], "sasim: error: unrecognized arguments: --bogus"),
    "unknown example": (["examples", "nope"], "sasim: error: no bundled example named 'nope'"),
}


@pytest.mark.parametrize("case", ERRORS, ids=list(ERRORS))
def test_every_error_is_one_line_and_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    argv, start = ERRORS[case]
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad_mapping.yaml").write_text("temporal: {NOPE: M=8}\n")
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert out == ""
    assert err.startswith(start), err
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_bad_spec_file_error_is_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("workload:\n  dims: {M: 4\n  x: [\n")
    status, out, err = run(capsys, "model", str(path))
    assert status == 2 and out == ""
    assert err == (
        f"sasim: error: {path}:3:4: invalid YAML: expected ',' or '}}', but got ':' (while parsing a flow mapping)\n"
    )


def test_verbose_error_prints_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "model", "gemm_ws", "--workload", "gem", "-v")
    assert status == 2
    assert "Traceback" in err
    assert err.splitlines()[-1].startswith("sasim: error: --workload: unknown workload preset 'gem'")


# --- help ------------------------------------------------------------------------------


@pytest.mark.parametrize("argv", [["--help"], ["model", "--help"], ["examples", "--help"], ["-h"]])
def test_help(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, out, _ = run(capsys, *argv)
    assert status == 0
    assert out.startswith("usage: sasim")
    assert "examples:" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.startswith("sasim 0.")


# --- real processes --------------------------------------------------------------------


def test_python_dash_m_sasim_json() -> None:
    proc = subprocess.run([sys.executable, "-m", "sasim", "model", "gemm_ws", "--json"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    data = json.loads(proc.stdout)
    assert {"cycles", "macs", "utilization", "energy_pj", "accesses"} <= set(data)


def test_python_dash_m_sasim_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "sasim", "model", "gemm_ws", "--mapping", "xs"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith("sasim: error: --mapping: ") and proc.stderr.count("\n") == 1


def test_console_script() -> None:
    script = shutil.which("sasim", path=str(Path(sys.executable).parent)) or shutil.which("sasim")
    if script is None:
        pytest.skip("the sasim console script is not installed (pip install -e .)")
    proc = subprocess.run([script, "examples"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "gemm_ws" in proc.stdout
