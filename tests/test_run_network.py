"""``sasim run --network`` and :func:`sasim.sim.simulate_network`: each layer equals a
single ``sasim run`` of it, totals multiply ``repeat``, identical layers are simulated
once, ``jobs`` does not change the results, the ``sasim map --network --out`` file
runs with exactly its mappings, and every error names its layer or flag in one line."""

from __future__ import annotations

import dataclasses
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cli_helpers import command_json, error_line, run

import sasim.sim.network as sim_network
from sasim.design import lower
from sasim.errors import MappingError, SasimError, SimulationError
from sasim.mapping.network import load_network
from sasim.mapping.presets import build_mapping
from sasim.mapping.spec import Mapping
from sasim.sim import NetworkSimResult, SimResult, simulate, simulate_network
from sasim.spec import load_spec

ARCH = "multicast:rows=4,cols=4,buffer_size=4KiB"
PES = 16
# a and b have one shape (b's workload only has another name): one simulation for both.
# d is a matrix-vector product: no weight reuse, so not ws; the first preset that applies is os.
NETWORK = """\
    name: tiny
    description: four small layers
    layers:
      - {name: a, workload: "gemm:M=16,N=12,K=8", repeat: 2}
      - {name: b, workload: "gemm:M=16,N=12,K=8,name=other", repeat: 3}
      - {name: c, workload: "conv2d:K=4,C=3,H=6,W=6,R=3,S=3,padding=1"}
      - {name: d, workload: "gemm:M=1,N=8,K=16"}
    """
PRESET_OF = {"a": "ws", "b": "ws", "c": "ws", "d": "os"}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture
def net(tmp_path: Path) -> Path:
    return write(tmp_path / "net.yaml", NETWORK)


def arch() -> Any:
    return load_spec(None, {"architecture": ARCH, "workload": "gemm:M=1,N=1,K=1", "mapping": Mapping()}).architecture


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    return command_json(capsys, "run", *argv)


def without_wall_times(result: NetworkSimResult) -> NetworkSimResult:
    layers = tuple(dataclasses.replace(lr, run=dataclasses.replace(lr.run, wall_time_s=0.0)) for lr in result.layers)
    return dataclasses.replace(result, layers=layers, jobs=0, wall_time_s=0.0, simulation_time_s=0.0)


# --- each layer, and the totals ------------------------------------------------------------------


def test_each_layer_equals_a_single_run(capsys: pytest.CaptureFixture[str], net: Path) -> None:
    data = run_json(capsys, "--network", str(net), "--arch", ARCH, "--mapping", "ws,os,is", "--jobs", "1",
                    "--seed", "5")
    network = load_network(net)
    assert [lay["name"] for lay in data["layers"]] == ["a", "b", "c", "d"]
    for lay, layer in zip(data["layers"], network.layers, strict=True):
        preset = PRESET_OF[lay["name"]]
        assert lay["mapping_source"] == preset
        mapping = build_mapping(preset, layer.workload, arch())
        assert Mapping.model_validate(lay["mapping"]) == mapping
        # sasim run of the one layer, through the spec path
        workload = layer.workload_source
        single = run_json(capsys, "--arch", ARCH, "--workload", workload, "--mapping", preset, "--seed", "5")
        for key in ("cycles", "macs", "utilization", "energy_pj", "stalls", "array_busy_cycles", "dram_busy_cycles",
                    "outputs_match_reference", "accesses_match_model", "time_us"):
            assert lay[key] == single[key], (lay["name"], key)
        assert lay["model"]["cycles"] == single["model"]["cycles"]
        assert lay["model"]["energy_pj"] == single["model"]["energy_pj"]
        assert lay["model"]["error"] == pytest.approx(single["model"]["error"])
        # and simulate() of the lowered design, on the same seed
        direct = simulate(lower(layer.workload, arch(), mapping), seed=5)
        assert (lay["cycles"], lay["stalls"], lay["outputs_match_reference"]) == (
            direct.cycles, dict(sorted(direct.stalls.items())), True)
        assert lay["dims"] == dict(layer.workload.dims) and lay["repeat"] == layer.repeat


def test_totals_multiply_repeat(capsys: pytest.CaptureFixture[str], net: Path) -> None:
    data = run_json(capsys, "--network", str(net), "--arch", ARCH, "--mapping", "ws,os,is", "--jobs", "1")
    layers, total = data["layers"], data["total"]
    a, b, c, d = layers
    assert (a["repeat"], b["repeat"], c["repeat"], d["repeat"]) == (2, 3, 1, 1)
    assert total["cycles"] == 2 * a["cycles"] + 3 * b["cycles"] + c["cycles"] + d["cycles"]
    assert total["macs"] == 5 * 16 * 12 * 8 + 4 * 3 * 6 * 6 * 9 + 8 * 16
    assert total["energy_pj"] == pytest.approx(sum(lay["energy_pj"] * lay["repeat"] for lay in layers))
    assert total["model"]["cycles"] == sum(lay["model"]["cycles"] * lay["repeat"] for lay in layers)
    assert total["model"]["error"] == pytest.approx((total["model"]["cycles"] - total["cycles"]) / total["cycles"])
    assert total["utilization"] == pytest.approx(total["macs"] / (total["cycles"] * PES))
    causes = {cause for lay in layers for cause in lay["stalls"]}
    assert total["stalls"] == {k: sum(lay["stalls"].get(k, 0) * lay["repeat"] for lay in layers)
                               for k in sorted(causes)}
    assert total["array_busy_cycles"] == sum(lay["array_busy_cycles"] * lay["repeat"] for lay in layers)
    assert total["time_us"] == pytest.approx(total["cycles"] / data["clock_mhz"])
    assert (total["layers"], total["instances"], total["runs"]) == (4, 7, 3)  # a and b: one simulation
    assert (a["shared_with"], b["shared_with"], c["shared_with"]) == (None, "a", None)
    assert {k: v for k, v in b.items() if k not in ("name", "repeat", "workload", "shared_with")} == \
        {k: v for k, v in a.items() if k not in ("name", "repeat", "workload", "shared_with")}
    assert total["outputs_match_reference"] is True and total["accesses_match_model"] is True
    assert {"network", "source", "description", "architecture", "array", "clock_mhz", "mode", "seed", "jobs",
            "layers", "total"} == set(data)
    assert (data["network"], data["description"], data["array"], data["mode"]) == (
        "tiny", "four small layers", {"rows": 4, "cols": 4}, "fast")


def test_jobs_do_not_change_the_results(net: Path) -> None:
    network = load_network(net)
    one = simulate_network(network, arch(), mappings=["ws", "os", "is"], jobs=1, seed=3)
    two = simulate_network(network, arch(), mappings=["ws", "os", "is"], jobs=2, seed=3)
    assert (one.jobs, two.jobs, one.runs, two.runs) == (1, 2, 3, 3)
    assert without_wall_times(one) == without_wall_times(two)
    assert one.energy_pj == two.energy_pj  # summed in layer order, whatever finished first


def test_dedupe_off_simulates_every_instance(net: Path) -> None:
    network = load_network(net)
    shared = simulate_network(network, arch(), mappings=["ws", "os", "is"])
    each = simulate_network(network, arch(), mappings=["ws", "os", "is"], dedupe=False, jobs=2)
    assert (shared.runs, each.runs) == (3, 7)
    assert [lr.shared_with for lr in each.layers] == [None, None, None, None]
    strip = [dataclasses.replace(lr, shared_with=None) for lr in without_wall_times(shared).layers]
    assert list(without_wall_times(each).layers) == strip
    assert (each.cycles, each.energy_pj) == (shared.cycles, shared.energy_pj)


def test_progress_reports_each_run(net: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    simulate_network(load_network(net), arch(), mappings=["ws", "os", "is"], progress=lambda *a: calls.append(a))
    assert calls[0] == (0, 3, "")
    assert [c[:2] for c in calls[1:]] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(c[2] for c in calls[1:]) == ["a", "c", "d"]
    # the longest first (array steps: c, the convolution, has the most)
    assert calls[1][2] == "c"


def test_report(capsys: pytest.CaptureFixture[str], net: Path) -> None:
    status, out, err = run(capsys, "run", "--network", str(net), "--arch", ARCH, "--mapping", "ws,os,is",
                           "--jobs", "1")
    assert status == 0, err
    data = run_json(capsys, "--network", str(net), "--arch", ARCH, "--mapping", "ws,os,is", "--jobs", "1")
    assert "sasim run: network tiny" in out
    assert "4 layers (7 with repeats, 11,696 MACs) on multicast (4x4 PEs)" in out
    assert "Per layer" in out and "total (x repeat)" in out and "= a" in out
    assert f"total: {data['total']['cycles']:,} cycles" in out
    assert "3 simulations for 4 layers: layers with the same shape and mapping are simulated once" in out
    assert out.rstrip().splitlines()[-1] == "PASS  every layer's outputs match the NumPy reference"


def test_outputs_that_differ_fail_with_status_1(capsys: pytest.CaptureFixture[str], net: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def wrong(*args: Any, **kwargs: Any) -> SimResult:
        result = simulate(*args, **kwargs)
        return dataclasses.replace(result, outputs_match_reference=result.macs != 128)  # layer d

    monkeypatch.setattr(sim_network, "simulate", wrong)  # --jobs 1 simulates in this process
    argv = ["run", "--network", str(net), "--arch", ARCH, "--mapping", "ws,os,is", "--jobs", "1"]
    status, out, _ = run(capsys, *argv)
    assert status == 1
    assert out.rstrip().splitlines()[-1].startswith("FAIL  outputs differ from the NumPy reference in d:")
    status, out, _ = run(capsys, *argv, "--json")
    data = json.loads(out)
    assert status == 1 and data["total"]["outputs_match_reference"] is False
    assert [lay["outputs_match_reference"] for lay in data["layers"]] == [True, True, True, False]


# --- mappings from the network file ------------------------------------------------------------------


def test_a_layer_s_own_mapping_wins(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "maps").mkdir()
    write(tmp_path / "maps" / "c.yaml", """\
        temporal: {global_buffer: "P=2 Q=6 R=3 C=3 S=3"}
        spatial: {Y: "P=3", X: "K=4"}
        """)
    net = write(tmp_path / "net.yaml", """\
        name: own
        layers:
          - {name: a, workload: "gemm:M=16,N=12,K=8", mapping: os}
          - {name: b, workload: "gemm:M=16,N=12,K=8"}
          - {name: c, workload: "conv2d:K=4,C=3,H=6,W=6,R=3,S=3,padding=1", mapping: maps/c.yaml}
          - name: d
            workload: "gemm:M=1,N=8,K=16"
            mapping: {temporal: {global_buffer: "N=2 K=16"}, spatial: {X: "N=4"}}
        """)
    data = run_json(capsys, "--network", str(net), "--arch", ARCH, "--mapping", "ws", "--jobs", "1")
    a, b, c, d = data["layers"]
    assert [lay["mapping_source"] for lay in data["layers"]] == ["network file", "ws", "network file",
                                                                 "network file"]
    assert a["shared_with"] is None and b["shared_with"] is None  # same shape, other mapping: two runs
    assert data["total"]["runs"] == 4
    network = load_network(net)
    assert a["mapping"] == build_mapping("os", network.layers[0].workload, arch()).to_yaml_dict()
    assert b["mapping"] == build_mapping("ws", network.layers[1].workload, arch()).to_yaml_dict()
    assert c["mapping"]["temporal"] == {"global_buffer": "P=2 Q=6 R=3 C=3 S=3"}
    assert d["compact"] == "global_buffer[N=2 K=16] X[N=4]"
    for lay, layer in zip(data["layers"], network.layers, strict=True):
        expected = simulate(lower(layer.workload, arch(), Mapping.model_validate(lay["mapping"])))
        assert lay["cycles"] == expected.cycles
    # every layer has its own mapping: no --mapping needed
    net.write_text(net.read_text().replace('workload: "gemm:M=16,N=12,K=8"}', 'workload: "gemm:M=16,N=12,K=8", '
                                           'mapping: ws}'))
    data = run_json(capsys, "--network", str(net), "--arch", ARCH, "--jobs", "1")
    assert [lay["mapping_source"] for lay in data["layers"]][:2] == ["network file", "network file"]


def test_map_then_run_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    net = write(tmp_path / "net.yaml", """\
        name: trip
        description: map, then simulate what was found
        layers:
          - {name: a, workload: "gemm:M=8,N=8,K=4", repeat: 2}
          - {name: d, workload: {preset: gemm, M: 1, N: 8, K: 16}}
        """)
    out = tmp_path / "mapped.yaml"
    status, text, err = run(capsys, "map", "--network", str(net), "--arch", ARCH, "--jobs", "1", "--out", str(out),
                            "--json")
    assert status == 0, err
    mapped = json.loads(text)
    written = out.read_text()
    assert written.startswith("# sasim map: network trip with the best edp mapping of each layer on multicast\n"
                              f"# simulate it: sasim run --network {out} --arch {ARCH}\n")
    network = load_network(out)  # a network file: same name, description, layers, repeats
    original = load_network(net)
    assert (network.name, network.description) == ("trip", "map, then simulate what was found")
    assert [(lay.name, lay.workload, lay.repeat) for lay in network.layers] == \
        [(lay.name, lay.workload, lay.repeat) for lay in original.layers]
    data = run_json(capsys, "--network", str(out), "--arch", ARCH, "--jobs", "2")
    for lay, best, layer in zip(data["layers"], mapped["layers"], original.layers, strict=True):
        assert lay["mapping_source"] == "network file"
        assert lay["mapping"] == best["best"]["mapping"]
        mapping = Mapping.model_validate(best["best"]["mapping"])
        expected = simulate(lower(layer.workload, arch(), mapping))
        assert (lay["cycles"], lay["outputs_match_reference"]) == (expected.cycles, True)
        assert lay["energy_pj"] == pytest.approx(best["best"]["energy_pj"])  # counts equal the model's
        assert lay["model"]["cycles"] == best["best"]["cycles"]
    # mapping the written file again: its mappings constrain the search, so it finds them again
    status, text, err = run(capsys, "map", "--network", str(out), "--arch", ARCH, "--jobs", "1", "--json")
    assert status == 0, err
    again = json.loads(text)["layers"]
    assert [(lay["best"]["cycles"], lay["best"]["energy_pj"]) for lay in again] == \
        [(lay["best"]["cycles"], lay["best"]["energy_pj"]) for lay in mapped["layers"]]
    assert [lay["best"]["mapping"]["temporal"] for lay in again] == \
        [lay["best"]["mapping"]["temporal"] for lay in mapped["layers"]]


def test_map_reads_a_layer_s_own_mapping_as_constraints(capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path) -> None:
    free = write(tmp_path / "free.yaml", 'name: n\nlayers:\n  - {name: a, workload: "gemm:M=8,N=8,K=4"}\n')
    fixed = write(tmp_path / "fixed.yaml", 'name: n\nlayers:\n  - {name: a, workload: "gemm:M=8,N=8,K=4", '
                                           'mapping: os}\n')
    argv = ["map", "--arch", ARCH, "--jobs", "1", "--json", "--network"]

    def best(*extra: str) -> dict[str, Any]:
        status, out, err = run(capsys, *argv, *extra)
        assert status == 0, err
        layer = json.loads(out)["layers"][0]["best"]
        assert isinstance(layer, dict)
        return layer

    workload = load_network(fixed).layers[0].workload
    os_mapping = build_mapping("os", workload, arch())
    constrained = best(str(fixed))
    assert Mapping.model_validate(constrained["mapping"]).temporal == os_mapping.temporal
    assert constrained["mapping"]["spatial"] == os_mapping.to_yaml_dict()["spatial"]
    assert best(str(fixed), "--ignore-mapping") == best(str(free)) != constrained


# --- errors --------------------------------------------------------------------------------------


def test_a_mapping_that_does_not_apply_names_the_layer(capsys: pytest.CaptureFixture[str], net: Path) -> None:
    status, out, err = run(capsys, "run", "--network", str(net), "--arch", ARCH, "--mapping", "ws")
    assert status == 2 and out == ""
    assert error_line(err) == (
        "sasim: error: layer 'd': ws: mapping preset 'ws' cannot keep the weight 'W' stationary: it uses every "
        "dimension of 'gemm' larger than 1 (['N', 'K']), so no stream loop leaves it in place and the 4x4 array "
        "cannot hold the whole workload at once")


def test_no_mapping_of_a_list_applies(capsys: pytest.CaptureFixture[str], net: Path) -> None:
    status, out, err = run(capsys, "run", "--network", str(net), "--arch", "ws_systolic:rows=4,cols=4",
                           "--mapping", "os, is")
    assert status == 2 and out == ""
    assert error_line(err) == (
        "sasim: error: 4 layers have no mapping that applies: layers 'a', 'b', 'c', 'd': none of the mappings os, "
        "is applies: os: mapping preset 'os' keeps the output 'O' stationary, but architecture 'ws_systolic' has "
        "no stationary output link (architecture.array.output_links is ['chain']); presets it supports: ['ws']; "
        "is: mapping preset 'is' keeps the input 'I' stationary, but architecture 'ws_systolic' has no stationary "
        "input link (architecture.array.input_links is ['systolic']); presets it supports: ['ws']")


def test_a_layer_s_own_mapping_that_does_not_fit(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    net = write(tmp_path / "net.yaml", """\
        name: bad
        layers:
          - name: a
            workload: "gemm:M=16,N=12,K=8"
            mapping: {temporal: {DRAM: "M=16 N=3"}, spatial: {Y: "K=8", X: "N=4"}}
          - {name: b, workload: "gemm:M=16,N=12,K=8", mapping: no_such_file.yaml}
        """)
    status, out, err = run(capsys, "run", "--network", str(net), "--arch", ARCH)
    assert status == 2 and out == ""
    assert error_line(err) == (
        f"sasim: error: 2 layers have no mapping that applies: layer 'a': {net}: layers[0].mapping.spatial.Y: "
        "spatial factors multiply to 8, more than the array's 4 rows; layer 'b': "
        f"{net}: layers[1].mapping: no such file '{tmp_path}/no_such_file.yaml' (a section string that is not a "
        "preset name is a path, relative to the directory of the file that names it)")


def test_a_layer_the_simulator_refuses(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    net = write(tmp_path / "net.yaml", """\
        name: big
        layers:
          - {name: small, workload: "gemm:M=4,N=4,K=4"}
          - {name: huge, workload: "gemm:M=512,N=512,K=256"}
        """)
    status, out, err = run(capsys, "run", "--network", str(net), "--arch", "multicast:rows=1,cols=1",
                           "--mapping", "ws", "--jobs", "1")
    assert status == 2 and out == ""
    assert error_line(err) == (
        "sasim: error: layer 'huge': this design runs 68,157,440 array steps; the simulator holds per-step state "
        "and refuses more than 50,000,000 (use a larger array or split the workload)")
    with pytest.raises(SimulationError):
        simulate_network(load_network(net), load_spec(None, {
            "architecture": "multicast:rows=1,cols=1", "workload": "gemm:M=1,N=1,K=1", "mapping": Mapping(),
        }).architecture, mappings="ws", jobs=2)


@pytest.mark.parametrize(("text", "message"), [
    ("name: n\nlayers:\n  - {name: a, workload: 'gemm:M=4,N=4,K=4', mapings: ws}\n",
     "{p}: network.layers[0].mapings: unknown key (check the spelling; see docs/reference.md for the allowed keys)"),
    ("name: n\nlayers:\n  - {name: a, workload: 'gemm:M=4,N=4,K=4', mapping: }\n",
     "{p}: layers[0].mapping: the mapping is empty; give a preset such as 'ws', inline fields or a path, or leave "
     "the key out"),
    ("name: n\nlayers:\n  - {name: a, workload: 'gemm:M=4,N=4,K=4', mapping: {temporal: {DRAM: 'X=4'}}}\n",
     "layer 'a': {p}: layers[0].mapping.temporal.DRAM[0]: unknown dimension 'X'; the dimensions are ['M', 'N', "
     "'K']"),
    ("layers: [", "{p}:1:10: invalid YAML: expected the node content, but found '<stream end>' (while parsing a "
                  "flow node)"),
])
def test_bad_network_file_wrong(capsys: pytest.CaptureFixture[str], tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(text)
    status, out, err = run(capsys, "run", "--network", str(path), "--arch", ARCH)
    assert status == 2 and out == ""
    assert error_line(err) == "sasim: error: " + message.format(p=path)


@pytest.mark.parametrize(("argv", "message"), [
    (["gemm_ws", "--network", "tiny"], "--network simulates the network's own layers; drop SPEC"),
    (["--network", "tiny", "--arch", ARCH, "--workload", "gemm:M=4,N=4,K=4"],
     "--network simulates the network's own layers; drop --workload"),
    (["--network", "tiny"], "--network needs --arch (the architecture to simulate the layers on)"),
    (["--network", "tiny", "--arch", ARCH, "--trace", "run.vcd"],
     "--trace records one design's timeline; it cannot be used with --network (run 'sasim run' on a layer instead)"),
    (["--network", "tiny", "--arch", ARCH, "--plot", "run.png"],
     "--plot records one design's timeline; it cannot be used with --network (run 'sasim run' on a layer instead)"),
    (["--network", "tiny", "--arch", ARCH, "--mode", "golden"],
     "--network simulates in the fast mode; --mode golden is for one small design (run 'sasim run' on a layer "
     "instead)"),
    (["--network", "tiny", "--arch", ARCH],
     "--network: 4 of the 4 layers of tiny have no mapping of their own ('a', ...); give --mapping: a mapping "
     "section, or presets tried in order per layer such as --mapping ws,os,is"),
    (["--network", "tiny", "--arch", ARCH, "--jobs", "0"], "argument --jobs: must be a positive integer, not '0'"),
    (["--network", "tiny", "--arch", ARCH, "--jobs", "two"],
     "argument --jobs: must be a positive integer, not 'two'"),
    (["gemm_inline", "--jobs", "2"], "--jobs applies only to --network (one design is simulated in one process)"),
])
def test_usage_wrong(capsys: pytest.CaptureFixture[str], net: Path, monkeypatch: pytest.MonkeyPatch,
                     argv: list[str], message: str) -> None:
    monkeypatch.chdir(net.parent)
    argv = [str(net) if a == "tiny" else a for a in argv]
    status, out, err = run(capsys, "run", *argv)
    assert status == 2 and out == ""
    assert error_line(err) == f"sasim: error: {message} (see 'sasim run --help')"


def test_unknown_network_wrong(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = run(capsys, "run", "--network", "alexnet", "--arch", ARCH, "--mapping", "ws")
    assert status == 2
    assert error_line(err) == ("sasim: error: alexnet: no such network file or bundled network; the bundled "
                               "networks are bert_base, resnet50")


def test_library_wrong(net: Path) -> None:
    network = load_network(net)
    with pytest.raises(SimulationError) as info:
        simulate_network(network, arch(), mappings="ws", jobs=0)
    assert str(info.value) == "jobs must be a positive integer, not 0"
    with pytest.raises(MappingError) as info:
        simulate_network(network, arch())
    assert str(info.value) == ("4 layers have no mapping that applies: layers 'a', 'b', 'c', 'd': no mapping: give "
                               "the layer a 'mapping' in the network file, or mappings to try")
    with pytest.raises(SasimError):
        simulate_network(network, arch(), mappings=[{"temporal": {"DRAM": "Z=2"}}])


def test_progress_bar_only_on_a_terminal(capsys: pytest.CaptureFixture[str], net: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import sasim.cli_run_network as cli_run

    seen: list[object] = []
    real = cli_run.simulate_network

    def spy(*args: Any, **kwargs: Any) -> NetworkSimResult:
        seen.append(kwargs.get("progress"))
        return real(*args, **kwargs)

    monkeypatch.setattr(cli_run, "simulate_network", spy)
    argv = ["run", "--network", str(net), "--arch", ARCH, "--mapping", "ws,os,is", "--jobs", "1"]
    run(capsys, *argv)  # stderr is captured: not a terminal
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    run(capsys, *argv, "--json")
    assert seen == [None, None]
    run(capsys, *argv)
    assert callable(seen[-1])
