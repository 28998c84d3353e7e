"""``sasim run --network``: every layer of a network simulated on one architecture.

The layers run in ``--jobs`` worker processes (:func:`~sasim.sim.simulate_network`); the
report is a table of the layers and their totals, or one JSON object (docs/cli.md).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sasim.cli_run import EXIT_MISMATCH, _error_pct, _pct, _print_whole, progress_bar
from sasim.mapping.network import Network, load_network
from sasim.mapping.space import compact_mapping
from sasim.mapping.spec import Mapping
from sasim.sim import Mode, NetworkSimResult, simulate_network

__all__ = ["network_run_json", "run_network"]


def network_run_json(result: NetworkSimResult) -> dict[str, Any]:
    """The object ``sasim run --network --json`` prints (schema: docs/cli.md)."""
    arch = result.architecture
    clock = arch.clock_mhz
    net = result.network

    def model(cycles: int, energy_pj: float, error: float) -> dict[str, Any]:
        return {"cycles": cycles, "energy_pj": energy_pj, "time_us": cycles / clock, "error": error}

    layers = []
    for lr in result.layers:
        r = lr.run
        layers.append({
            "name": lr.layer.name, "repeat": lr.layer.repeat, "workload": lr.layer.workload.name,
            "dims": dict(lr.layer.workload.dims), "mapping_source": lr.mapping_source,
            "mapping": lr.mapping.to_yaml_dict(), "compact": compact_mapping(lr.mapping, arch.level_names),
            "shared_with": lr.shared_with, "cycles": r.cycles, "time_us": r.cycles / clock, "macs": r.macs,
            "utilization": r.utilization, "energy_pj": r.energy_pj, "stalls": dict(r.stalls),
            "array_busy_cycles": r.array_busy, "dram_busy_cycles": r.dram_busy,
            "outputs_match_reference": r.outputs_match_reference, "accesses_match_model": r.accesses_match_model,
            "model": model(r.model_cycles, r.model_energy_pj, r.model_error), "wall_time_s": r.wall_time_s,
        })
    return {
        "network": net.name, "source": net.source, "description": net.description,
        "architecture": arch.name, "array": {"rows": arch.array.rows, "cols": arch.array.cols},
        "clock_mhz": clock, "mode": Mode.FAST.value, "seed": result.seed, "jobs": result.jobs,
        "layers": layers,
        "total": {
            "layers": len(net.layers), "instances": sum(lay.repeat for lay in net.layers), "runs": result.runs,
            "cycles": result.cycles, "time_us": result.cycles / clock, "macs": result.macs,
            "utilization": result.utilization, "energy_pj": result.energy_pj, "stalls": result.stalls,
            "array_busy_cycles": result.array_busy, "dram_busy_cycles": result.dram_busy,
            "outputs_match_reference": result.outputs_match_reference,
            "accesses_match_model": result.accesses_match_model,
            "model": model(result.model_cycles, result.model_energy_pj, result.model_error),
            "simulation_time_s": result.simulation_time_s, "wall_time_s": result.wall_time_s,
        },
    }


def _seconds(value: float) -> str:
    return f"{value:.2f}" if value >= 0.01 else "<0.01"


def _render_network(console: Console, result: NetworkSimResult) -> None:
    from sasim.cli import _fmt_energy, _fmt_int, _fmt_time

    net, arch = result.network, result.architecture
    clock = arch.clock_mhz
    instances = sum(lay.repeat for lay in net.layers)
    console.print(Text(f"sasim run: network {net.name}", style="bold"))
    if net.description:
        console.print(net.description)
    console.print(f"{len(net.layers)} layers ({instances} with repeats, {_fmt_int(result.macs)} MACs) on "
                  f"{arch.name} ({arch.array.rows}x{arch.array.cols} PEs), fast mode, random inputs from seed "
                  f"{result.seed}")
    console.print()

    table = Table(title="Per layer (model error = (model - simulated) / simulated)", title_justify="left",
                  title_style="bold")
    for col, just in (("layer", "left"), ("x", "right"), ("mapping", "left"), ("cycles", "right"),
                      ("model error", "right"), ("util", "right"), ("energy pJ", "right"),
                      ("largest stall", "left"), ("wall s", "right"), ("outputs", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]

    def stall(cause: tuple[str, int] | None, cycles: int) -> str:
        return "-" if cause is None else f"{cause[0]} {_pct(cause[1], cycles)}"

    for lr in result.layers:
        r = lr.run
        wall = _seconds(r.wall_time_s) if lr.shared_with is None else f"= {lr.shared_with}"
        outputs = Text("match", style="green") if r.outputs_match_reference else Text("MISMATCH", style="bold red")
        table.add_row(lr.layer.name, str(lr.layer.repeat), lr.mapping_source, _fmt_int(r.cycles),
                      _error_pct(r.model_cycles, r.cycles), f"{r.utilization:.1%}", f"{r.energy_pj:,.0f}",
                      stall(r.largest_stall, r.cycles), wall, outputs)
    totals = result.stalls
    largest = min(((c, n) for c, n in totals.items() if n), key=lambda kv: (-kv[1], kv[0]), default=None)
    differ = sum(not lr.run.outputs_match_reference for lr in result.layers)
    table.add_section()
    table.add_row(Text("total (x repeat)", style="bold"), str(instances), "", _fmt_int(result.cycles),
                  _error_pct(result.model_cycles, result.cycles), f"{result.utilization:.1%}",
                  f"{result.energy_pj:,.0f}", stall(largest, result.cycles), _seconds(result.simulation_time_s),
                  Text("all match", style="green") if not differ else Text(f"{differ} differ", style="bold red"))
    _print_whole(console, table)
    console.print()

    console.print(f"total: {_fmt_int(result.cycles)} cycles ({_fmt_time(result.cycles / clock)} at {clock:g} MHz), "
                  f"utilization {result.utilization:.1%}, energy {_fmt_energy(result.energy_pj)}; model estimate "
                  f"{_fmt_int(result.model_cycles)} cycles ({_error_pct(result.model_cycles, result.cycles)})",
                  soft_wrap=True)
    runs = f"{result.runs} simulation{'s' if result.runs != 1 else ''}"
    console.print(f"{runs} for {len(net.layers)} layers: layers with the same shape and mapping are simulated "
                  "once (the simulator is deterministic; its timing and counts do not depend on the data); "
                  f"{result.simulation_time_s:.1f} s of simulation in {result.wall_time_s:.1f} s wall on "
                  f"{min(result.jobs, result.runs)} process{'es' if min(result.jobs, result.runs) != 1 else ''}",
                  soft_wrap=True)
    if not result.accesses_match_model:
        names = ", ".join(lr.layer.name for lr in result.layers if not lr.run.accesses_match_model)
        console.print(Text(f"WARNING: access counts differ from the model's in {names}; they must be equal "
                           "(docs/model.md): this is a bug in the simulator or the model, please report it "
                           "(run 'sasim run' on the layer for the counts)", style="bold red"), soft_wrap=True)
    console.print()
    if not differ:
        console.print(Text("PASS  every layer's outputs match the NumPy reference", style="bold green"))
    else:
        names = ", ".join(lr.layer.name for lr in result.layers if not lr.run.outputs_match_reference)
        console.print(Text(f"FAIL  outputs differ from the NumPy reference in {names}: a simulator bug, please "
                           "report it", style="bold red"), soft_wrap=True)



#: ``--mapping ws,os,is``: a list of preset names (other mapping forms are one section).
_PRESET_LIST = re.compile(r"^\s*[A-Za-z_]\w*(\s*,\s*[A-Za-z_]\w*)+\s*$")


def _network_mappings(text: str | None) -> list[str]:
    if text is None:
        return []
    if _PRESET_LIST.match(text):
        return [name.strip() for name in text.split(",")]
    return [text]


def run_network(args: argparse.Namespace, usage: Callable[[str], Exception]) -> int:
    """Run ``sasim run --network`` (the flags were parsed by ``sasim run``)."""
    from sasim.cli import _console, _write_json
    from sasim.spec import load_spec

    clash = [f for f, v in (("SPEC", args.spec), ("--workload", args.workload)) if v is not None]
    if clash:
        raise usage(f"--network simulates the network's own layers; drop {', '.join(clash)}")
    if args.arch is None:
        raise usage("--network needs --arch (the architecture to simulate the layers on)")
    for flag, value in (("--trace", args.trace), ("--plot", args.plot)):
        if value is not None:
            raise usage(f"{flag} records one design's timeline; it cannot be used with --network "
                        "(run 'sasim run' on a layer instead)")
    if args.mode is not Mode.FAST:
        raise usage("--network simulates in the fast mode; --mode golden is for one small design "
                    "(run 'sasim run' on a layer instead)")
    network: Network = load_network(args.network)
    arch = load_spec(None, {"architecture": args.arch, "workload": "gemm:M=1,N=1,K=1", "mapping": Mapping()},
                     override_labels={"architecture": "--arch"}).architecture
    mappings = _network_mappings(args.mapping)
    if not mappings:
        bare = [lay.name for lay in network.layers if lay.mapping is None]
        if bare:
            first = f"{bare[0]!r}" if len(bare) == 1 else f"{bare[0]!r}, ..."
            raise usage(f"--network: {len(bare)} of the {len(network.layers)} layers of {network.name} have no "
                        f"mapping of their own ({first}); give --mapping: a mapping section, or presets tried in "
                        "order per layer such as --mapping ws,os,is")
    jobs = args.jobs if args.jobs is not None else os.cpu_count() or 1
    with progress_bar(not args.json and sys.stderr.isatty(), "simulating layers", "") as bar:
        progress = None if bar is None else lambda done, total, layer: bar(done, total, layer and f"last: {layer}")
        result = simulate_network(network, arch, mappings=mappings, seed=args.seed, jobs=jobs, progress=progress)
    if args.json:
        _write_json(network_run_json(result))
    else:
        _render_network(_console(), result)
    return 0 if result.outputs_match_reference else EXIT_MISMATCH
