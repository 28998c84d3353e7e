"""``sasim map``: reports, JSON, --out (read back by ``sasim model``), --plot, networks,
constraints from the spec's mapping section, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_helpers import command_json, run

from sasim.design import lower
from sasim.mapping.spec import Mapping
from sasim.model import evaluate
from sasim.spec import load_spec

ARCH = "multicast:rows=4,cols=4,buffer_size=4KiB"
WORKLOAD = "gemm:M=16,N=12,K=8"
FLAGS = ["--arch", ARCH, "--workload", WORKLOAD, "--jobs", "1"]


def map_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    return command_json(capsys, "map", *argv)


def test_map_report(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "map", *FLAGS, "--top", "3")
    assert status == 0, err
    assert "Best mappings by edp" in out
    assert "Pareto front, latency vs energy" in out
    assert "Y[" in out and "structures" in out


def test_map_json_best_is_evaluate(capsys: pytest.CaptureFixture[str]) -> None:
    data = map_json(capsys, *FLAGS, "--objective", "latency", "--top", "2")
    assert data["objective"] == "latency"
    assert len(data["top"]) <= 2 and data["top"][0] == data["best"]
    spec = load_spec(None, {"architecture": ARCH, "workload": WORKLOAD, "mapping": Mapping()})
    result = evaluate(lower(spec.workload, spec.architecture, Mapping.model_validate(data["best"]["mapping"])))
    assert (data["best"]["cycles"], data["best"]["energy_pj"]) == (result.cycles, result.energy_pj)
    assert data["best"]["cycles"] <= min(p["cycles"] for p in data["pareto"])
    assert {"structures", "rows_evaluated", "complete", "stopped_by_budget"} <= set(data["stats"])


def test_map_same_seed_same_json(capsys: pytest.CaptureFixture[str]) -> None:
    a = map_json(capsys, *FLAGS, "--seed", "7")
    b = map_json(capsys, *FLAGS[:-1], "2", "--seed", "7")  # --jobs 2
    for data in (a, b):
        data["stats"].pop("elapsed_s")
    assert a == b


def test_map_out_is_read_by_model(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "best.yaml"
    data = map_json(capsys, *FLAGS, "--out", str(out))
    assert out.exists() and not list(tmp_path.glob(".*.tmp"))
    assert yaml.safe_load(out.read_text()) == data["best"]["mapping"]
    status, text, err = run(capsys, "model", "--arch", ARCH, "--workload", WORKLOAD, "--mapping", str(out), "--json")
    assert status == 0, err
    assert json.loads(text)["cycles"] == data["best"]["cycles"]


def test_map_plot(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    png = tmp_path / "front.png"
    status, out, err = run(capsys, "map", *FLAGS, "--plot", str(png))
    assert status == 0, err
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"wrote the plot to {png}" in out


def test_map_spec_mapping_is_a_constraint(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(textwrap.dedent(f"""\
        workload: "{WORKLOAD}"
        architecture: "{ARCH}"
        mapping:
          spatial: {{Y: "K=*", X: "N=4"}}
          access: {{W: stationary}}
        """))
    data = map_json(capsys, str(spec), "--jobs", "1", "--top", "3")
    for point in (*data["top"], *data["pareto"]):
        m = point["mapping"]
        assert m["spatial"]["Y"].startswith("K=") and m["spatial"]["X"] == "N=4"
        assert m["access"]["W"] == "stationary"
    free = map_json(capsys, str(spec), "--jobs", "1", "--ignore-mapping")
    assert free["best"]["edp"] <= data["best"]["edp"]


def test_map_spec_without_mapping_section(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f'workload: "{WORKLOAD}"\narchitecture: "{ARCH}"\n')
    data = map_json(capsys, str(spec), "--jobs", "1", "--min-utilization", "0.2")
    assert all(p["utilization"] >= 0.2 for p in data["top"])


def test_map_network(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    net = tmp_path / "net.yaml"
    net.write_text('name: two\nlayers:\n  - {name: a, workload: "gemm:M=8,N=8,K=8", repeat: 2}\n'
                   '  - {name: b, workload: "gemm:M=16,N=4,K=8"}\n')
    out = tmp_path / "layers.yaml"
    data = map_json(capsys, "--network", str(net), "--arch", ARCH, "--jobs", "1", "--out", str(out))
    a, b = data["layers"]
    assert (a["name"], a["repeat"], b["name"]) == ("a", 2, "b")
    assert data["total"]["cycles"] == 2 * a["best"]["cycles"] + b["best"]["cycles"]
    assert data["total"]["macs"] == 2 * 512 + 512
    written = yaml.safe_load(out.read_text())  # a network file, each layer with its best mapping
    assert [(lay["name"], lay["repeat"]) for lay in written["layers"]] == [("a", 2), ("b", 1)]
    assert [lay["mapping"] for lay in written["layers"]] == [a["best"]["mapping"], b["best"]["mapping"]]
    status, text, err = run(capsys, "map", "--network", str(net), "--arch", ARCH, "--jobs", "1")
    assert status == 0, err
    assert "Per layer" in text and "total:" in text


@pytest.mark.parametrize(("argv", "message"), [
    (["--arch", ARCH], "no SPEC given: name a spec file or a bundled example, or give --arch and --workload "
                       "(missing: --workload) (see 'sasim map --help')"),
    (["--network", "bert_base"], "--network needs --arch (the architecture to map the layers onto) "
                                 "(see 'sasim map --help')"),
    (["--network", "bert_base", "--arch", ARCH, "--workload", WORKLOAD],
     "--network maps the network's own layers; drop --workload (see 'sasim map --help')"),
    (["--network", "alexnet", "--arch", ARCH], "alexnet: no such network file or bundled network; the bundled "
                                               "networks are bert_base, resnet50"),
    ([*FLAGS, "--min-utilization", "2"], "--min-utilization must be from 0 to 1, not 2.0 (see 'sasim map --help')"),
    ([*FLAGS, "--top", "0"], "argument --top: must be a positive integer, not '0' (see 'sasim map --help')"),
    ([*FLAGS, "--objective", "speed"], "argument --objective: invalid choice: 'speed' (choose from 'latency', "
                                       "'energy', 'edp') (see 'sasim map --help')"),
    ([*FLAGS, "--mapping", "spatial_only"], "--mapping: unknown mapping preset 'spatial_only'; choose one of "
                                            "['ws', 'os', 'is']"),
    ([*FLAGS, "--out", "/nonexistent/dir/x.yaml"], "--out: cannot write '/nonexistent/dir/x.yaml': No such file or "
                                                   "directory"),
    ([*FLAGS, "--verify-top", "0"], "argument --verify-top: must be a positive integer, not '0' "
                                    "(see 'sasim map --help')"),
    (["--network", "bert_base", "--arch", ARCH, "--verify-top", "1"],
     "--verify-top simulates one workload's mappings; it cannot be used with --network (run 'sasim run' on a layer "
     "instead) (see 'sasim map --help')"),
])
def test_map_wrong(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    status, out, err = run(capsys, "map", *argv)
    assert status == 2
    assert err == f"sasim: error: {message}\n"
    assert out == ""


def test_map_verify_top_simulates_the_best(capsys: pytest.CaptureFixture[str]) -> None:
    from sasim.sim import simulate

    data = map_json(capsys, *FLAGS, "--top", "3", "--verify-top", "2", "--seed", "3")
    checks = data["verified"]
    assert len(checks) == 2
    spec = load_spec(None, {"architecture": ARCH, "workload": WORKLOAD, "mapping": "ws"})
    for check, point in zip(checks, data["top"]):
        assert check["compact"] == point["compact"]
        design = lower(spec.workload, spec.architecture, Mapping.model_validate(point["mapping"]))
        sim = simulate(design, seed=3)
        assert check["sim_cycles"] == sim.cycles
        assert check["model_cycles"] == evaluate(design).cycles == point["cycles"]
        assert check["model_error"] == pytest.approx((point["cycles"] - sim.cycles) / sim.cycles)
        assert check["outputs_match_reference"] is True
        assert check["counts_match_model"] is True
        assert check["refused"] is None


def test_map_verify_top_report(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(capsys, "map", *FLAGS, "--verify-top", "1")
    assert status == 0, err
    assert "Confirmed in simulation" in out
    assert "match" in out and "= model" in out and "MISMATCH" not in out and "DIFFER" not in out
