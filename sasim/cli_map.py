"""``sasim map``: the mapper on the command line (registered by :mod:`sasim.cli`).

Maps one workload (from a spec, or ``--arch`` and ``--workload``) or every layer of a
network (``--network NAME|FILE`` with ``--arch``), prints the best mappings with their
metrics, and optionally writes the winner (``--out``), a JSON report (``--json``) and a
latency-energy plot (``--plot``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from sasim.cli_common import add_spec_arguments
from sasim.errors import SpecError
from sasim.examples import example_path
from sasim.fileio import write_text_atomic
from sasim.mapping.constraints import Constraints
from sasim.mapping.network import NetworkResult, load_network, map_network, network_yaml
from sasim.mapping.search import MapperResult, MapPoint, Objective, search
from sasim.mapping.search import Progress as SearchProgress
from sasim.mapping.spec import Mapping
from sasim.mapping.verify import Verification, verify_mappings
from sasim.networks import network_names
from sasim.spec import Spec, load_spec, read_yaml

__all__ = ["add_map_parser"]

_DESCRIPTION = """\
Search the map-space for the best mappings of a workload on an architecture: tiling
(perfect and imperfect factors), loop orders, spatial dimensions, bypasses and access
entries, with the analytical model in the loop. Prints the best mappings and the
Pareto front of latency against energy (docs/mapper.md).

SPEC is a spec file or bundled example; its mapping section is optional and, if
given, constrains the search (fixed loops, factors, spatial dimensions, bypasses,
access entries; '*' factors are searched). --arch/--workload/--mapping replace
sections as in 'sasim model'. With --network NAME|FILE (bundled: {networks}) every
layer of a network is mapped on --arch and per-layer and total results are shown; a
layer's own 'mapping' in the network file constrains its search (--ignore-mapping:
search freely), and --out writes the network file back with each layer's best mapping,
which 'sasim run --network FILE --arch ...' simulates.
"""

_EPILOG = """\
examples:
  sasim map gemm_ws --ignore-mapping
  sasim map --arch gemmini --workload gemm:M=128,N=768,K=512 --objective latency
  sasim map my_spec.yaml --top 10 --out best.yaml --plot front.png
  sasim map --arch simba --network bert_base --time-budget 10 --json > bert.json
  sasim map --arch simba --network resnet50 --time-budget 5 --out mapped.yaml
  sasim run --network mapped.yaml --arch simba

exit status: 0 on success, 1 when --verify-top finds a mapping whose simulation
disagrees (outputs or counts), 2 for a bad spec or flag, or when no mapping is valid.
"""


def add_map_parser(commands: Any, common: Callable[..., None], formatter: type[argparse.HelpFormatter]) -> None:
    from sasim.cli import _cmd_wrapper

    p = commands.add_parser(
        "map", help="search for the best mappings (latency, energy, EDP, Pareto front)",
        description=_DESCRIPTION.format(networks=", ".join(network_names())), epilog=_EPILOG,
        formatter_class=formatter,
    )
    add_spec_arguments(p, mapping_help="replace the mapping section (constraints)")
    p.add_argument("--ignore-mapping", action="store_true", help="ignore the spec's mapping section (with --network: "
                   "the layers' own mappings): search freely")
    p.add_argument("--network", metavar="NAME|FILE", help=f"map every layer of a network ({', '.join(network_names())} "
                   "or a YAML file); needs --arch")
    p.add_argument("--objective", choices=[o.value for o in Objective], default="edp",
                   help="what to minimize (default: edp)")
    p.add_argument("--top", type=_positive_int, default=5, metavar="N", help="show the N best (default 5)")
    p.add_argument("--min-utilization", type=float, default=0.0, metavar="U",
                   help="only mappings with utilization at least U (0 to 1)")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop after this long (per layer for a network) with the best found so far")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0): same seed, same result")
    p.add_argument("--jobs", type=_positive_int, default=os.cpu_count() or 1, metavar="N",
                   help="worker processes (default: the number of cores)")
    p.add_argument("--out", metavar="FILE.yaml", help="write the best mapping as a mapping YAML file (with --network: "
                   "the network file with each layer's best mapping, for 'sasim run --network')")
    p.add_argument("--json", action="store_true", help="print one JSON object (schema: docs/cli.md), nothing else")
    p.add_argument("--plot", metavar="FILE.png", help="plot the explored points and the Pareto front")
    p.add_argument("--verify-top", type=_positive_int, default=None, metavar="K",
                   help="simulate the K best mappings (sasim run's fast mode, inputs from --seed): do the outputs "
                        "match NumPy, do the counts equal the model's, and how far off is the model's cycle count")
    common(p, suppress=True)
    p.set_defaults(func=_cmd_wrapper(_cmd_map))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


# --- loading ----------------------------------------------------------------------------


def _has_mapping(spec: str) -> bool:
    path = Path(spec).expanduser()
    path = path if path.exists() else (example_path(spec) or path)
    if not path.exists():
        return True  # let load_spec report the missing file
    data = read_yaml(path, spec)
    return not isinstance(data, dict) or "mapping" in data


def _load(args: argparse.Namespace, usage: Callable[[str], Exception]) -> Spec:
    from sasim.cli import SECTION_FLAGS

    if args.spec is None and (args.arch is None or args.workload is None):
        missing = [f for f, v in (("--arch", args.arch), ("--workload", args.workload)) if v is None]
        raise usage(f"no SPEC given: name a spec file or a bundled example, or give --arch and --workload "
                    f"(missing: {', '.join(missing)})")
    overrides: dict[str, Any] = {k: v for k, v in (("architecture", args.arch), ("workload", args.workload)) if v}
    if args.mapping is not None and args.ignore_mapping:
        raise usage("--mapping and --ignore-mapping contradict each other; give one")
    if args.mapping is not None:
        overrides["mapping"] = args.mapping
    elif args.ignore_mapping or args.spec is None or not _has_mapping(args.spec):
        overrides["mapping"] = Mapping()
    return load_spec(args.spec, overrides, override_labels=SECTION_FLAGS)


# --- output -------------------------------------------------------------------------------


def point_json(point: MapPoint, clock_mhz: float) -> dict[str, Any]:
    return {
        "cycles": point.cycles, "energy_pj": point.energy_pj, "edp": point.edp, "utilization": point.utilization,
        "time_us": point.cycles / clock_mhz, "compact": point.compact, "mapping": point.mapping.to_yaml_dict(),
    }


def result_json(result: MapperResult, spec: Spec) -> dict[str, Any]:
    clock = spec.architecture.clock_mhz
    st = result.stats
    return {
        "source": spec.source, "workload": spec.workload.model_dump(mode="json"),
        "architecture": spec.architecture.name, "objective": result.objective.value, "seed": result.seed,
        "best": point_json(result.best, clock), "top": [point_json(p, clock) for p in result.top],
        "pareto": [point_json(p, clock) for p in result.pareto],
        "stats": {"space_structures": st.space_structures, "structures": st.structures,
                  "rows_evaluated": st.rows_evaluated, "rows_valid": st.rows_valid, "rows_pruned": st.rows_pruned,
                  "complete": st.complete, "stopped_by_budget": st.stopped_by_budget, "elapsed_s": st.elapsed_s},
    }


def network_json(result: NetworkResult, clock_mhz: float, arch_name: str) -> dict[str, Any]:
    return {
        "network": result.network.name, "architecture": arch_name, "objective": result.objective.value,
        "layers": [{"name": lr.layer.name, "repeat": lr.layer.repeat, "dims": dict(lr.layer.workload.dims),
                    "macs": lr.layer.workload.macs, "shared_with": lr.shared_with,
                    "best": point_json(lr.result.best, clock_mhz)} for lr in result.layers],
        "total": {"cycles": result.cycles, "energy_pj": result.energy_pj, "edp": result.edp,
                  "macs": result.network.macs, "time_us": result.cycles / clock_mhz},
    }


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value < 1e7 else f"{value:.4g}"


def _points_table(title: str, points: tuple[MapPoint, ...], limit: int) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold")
    for col, just in (("#", "right"), ("cycles", "right"), ("energy pJ", "right"), ("EDP", "right"),
                      ("util", "right"), ("mapping", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, p in enumerate(points[:limit], 1):
        table.add_row(str(i), f"{p.cycles:,}", _fmt(p.energy_pj), f"{p.edp:.4g}", f"{p.utilization:.1%}", p.compact)
    return table


def _report(console: Console, spec: Spec, result: MapperResult, top: int) -> None:
    wl, arch = spec.workload, spec.architecture
    dims = " ".join(f"{d}={s}" for d, s in wl.dims.items())
    console.print(f"sasim map: {wl.name} ({dims}) on {arch.name} ({arch.array.rows}x{arch.array.cols} PEs), "
                  f"objective {result.objective.value}")
    console.print()
    console.print(_points_table(f"Best mappings by {result.objective.value}", result.top, top))
    console.print()
    shown = result.pareto if len(result.pareto) <= 12 else result.pareto[:: -(-len(result.pareto) // 12)]
    note = "" if shown is result.pareto else f", {len(shown)} shown"
    count = f"{len(result.pareto)} point{'s' if len(result.pareto) != 1 else ''}"
    console.print(_points_table(f"Pareto front, latency vs energy ({count}{note})", shown, 12))
    console.print()
    st = result.stats
    exact = "the whole space: exact" if st.complete else "a search, not exhaustive"
    budget = "; stopped by the time budget" if st.stopped_by_budget else ""
    console.print(f"explored {st.structures:,} of {st.space_structures:,} loop structures, "
                  f"{st.rows_evaluated:,} factor choices ({st.rows_valid:,} valid, {st.rows_pruned:,} pruned by "
                  f"bounds) in {st.elapsed_s:.2f} s ({exact}{budget}); seed {result.seed}")


def _network_report(console: Console, result: NetworkResult, arch_name: str, clock_mhz: float) -> None:
    console.print(f"sasim map: network {result.network.name} ({len(result.network.layers)} layers, "
                  f"{result.network.macs:,} MACs) on {arch_name}, objective {result.objective.value}")
    console.print()
    table = Table(title="Per layer (best mapping each)", title_justify="left", title_style="bold")
    for col, just in (("layer", "left"), ("x", "right"), ("cycles", "right"), ("energy pJ", "right"),
                      ("util", "right"), ("mapping", "left")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for lr in result.layers:
        b = lr.result.best
        mapping = b.compact if lr.shared_with is None else f"same as {lr.shared_with}"
        table.add_row(lr.layer.name, str(lr.layer.repeat), f"{b.cycles:,}", _fmt(b.energy_pj),
                      f"{b.utilization:.1%}", mapping)
    console.print(table)
    console.print()
    console.print(f"total: {result.cycles:,} cycles ({result.cycles / clock_mhz / 1e3:.4g} ms at {clock_mhz:g} MHz), "
                  f"{result.energy_pj:.4g} pJ, EDP {result.edp:.4g}")


def _write_atomic(path: str, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise SpecError(f"--out: cannot write {path!r}: {exc.strerror or exc}") from None


def _mapping_yaml(header: str, data: Any) -> str:
    return f"# {header}\n" + yaml.safe_dump(data, sort_keys=False)


def _plot(path: str, result: MapperResult, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    pts = result.explored
    if len(pts):
        ax.scatter(pts[:, 0], pts[:, 1], s=6, c="0.7", label=f"explored (sample of {len(pts):,})")
    front = result.pareto
    ax.plot([p.cycles for p in front], [p.energy_pj for p in front], "o-", c="tab:blue", ms=4,
            label=f"Pareto front ({len(front)})")
    best = result.best
    ax.scatter([best.cycles], [best.energy_pj], marker="*", s=220, c="tab:red", zorder=5,
               label=f"best {result.objective.value}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (cycles)")
    ax.set_ylabel("energy (pJ)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    except OSError as exc:
        raise SpecError(f"--plot: cannot write {path!r}: {exc.strerror or exc}") from None
    finally:
        plt.close(fig)


@contextmanager
def _progress_bar(enabled: bool) -> Iterator[Callable[[SearchProgress], None] | None]:
    if not enabled:
        yield None
        return
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[best]}"), TimeElapsedColumn(), console=Console(file=sys.stderr),
                   transient=True)
    tasks: dict[str, Any] = {}

    def update(p: SearchProgress) -> None:
        if p.phase not in tasks:
            tasks[p.phase] = bar.add_task(p.phase, total=p.total, best="")
        best = f"best {p.best:.4g}" if p.best is not None else ""
        bar.update(tasks[p.phase], completed=p.done, best=best)

    with bar:
        yield update


# --- the command ----------------------------------------------------------------------------


def _cmd_map(args: argparse.Namespace, usage: Callable[[str], Exception]) -> int:
    from sasim.cli import _console, _write_json

    if not 0.0 <= args.min_utilization <= 1.0:
        raise usage(f"--min-utilization must be from 0 to 1, not {args.min_utilization!r}")
    if args.time_budget is not None and args.time_budget < 0:
        raise usage(f"--time-budget must be a non-negative number of seconds, not {args.time_budget!r}")
    show_bar = sys.stderr.isatty()
    if args.network is not None:
        clash = [f for f, v in (("SPEC", args.spec), ("--workload", args.workload), ("--mapping", args.mapping))
                 if v is not None]
        if clash:
            raise usage(f"--network maps the network's own layers; drop {', '.join(clash)}")
        if args.arch is None:
            raise usage("--network needs --arch (the architecture to map the layers onto)")
        if args.plot is not None:
            raise usage("--plot draws one layer's search; it cannot be used with --network")
        if args.verify_top is not None:
            raise usage("--verify-top simulates one workload's mappings; it cannot be used with --network "
                        "(run 'sasim run' on a layer instead)")
        network = load_network(args.network)
        spec = load_spec(None, {"architecture": args.arch, "workload": "gemm:M=1,N=1,K=1", "mapping": Mapping()},
                         override_labels={"architecture": "--arch"})
        arch = spec.architecture
        with _progress_bar(show_bar) as bar:
            net = map_network(network, arch, objective=args.objective, time_budget=args.time_budget,
                              seed=args.seed, jobs=args.jobs, min_utilization=args.min_utilization,
                              ignore_mapping=args.ignore_mapping, progress=bar)
        if args.out is not None:
            _write_atomic(args.out, network_yaml(network, [lr.result.best.mapping for lr in net.layers], (
                f"sasim map: network {network.name} with the best {args.objective} mapping of each layer on "
                f"{arch.name}\nsimulate it: sasim run --network {args.out} --arch {args.arch}")))
        if args.json:
            _write_json(network_json(net, arch.clock_mhz, arch.name))
        else:
            console = _console()
            _network_report(console, net, arch.name, arch.clock_mhz)
            if args.out is not None:
                console.print(f"wrote the network with the mapping of every layer to {args.out} "
                              f"(simulate it: sasim run --network {args.out} --arch ...)")
        return 0
    spec = _load(args, usage)
    constraints = Constraints.from_mapping(spec.mapping, spec.workload, spec.architecture, args.min_utilization)
    with _progress_bar(show_bar) as bar:
        result = search(spec.workload, spec.architecture, objective=args.objective, constraints=constraints,
                        top=args.top, time_budget=args.time_budget, seed=args.seed, jobs=args.jobs, progress=bar)
    if args.out is not None:
        _write_atomic(args.out, _mapping_yaml(
            f"sasim map: best {args.objective} mapping of {spec.workload.name} on {spec.architecture.name}: "
            f"{result.best.cycles} cycles, {result.best.energy_pj:.6g} pJ", result.best.mapping.to_yaml_dict()))
    if args.plot is not None:
        _plot(args.plot, result, f"{spec.workload.name} on {spec.architecture.name}")
    checks: list[Verification] = []
    if args.verify_top is not None:
        chosen = [(p.compact, p.mapping) for p in result.top[: args.verify_top]]
        checks = verify_mappings(spec.workload, spec.architecture, chosen, seed=args.seed)
    if args.json:
        out = result_json(result, spec)
        if args.verify_top is not None:
            out["verified"] = [verification_json(v) for v in checks]
        _write_json(out)
    else:
        console = _console()
        _report(console, spec, result, args.top)
        if checks:
            console.print()
            console.print(_verification_table(checks))
        for flag, path in (("best mapping", args.out), ("plot", args.plot)):
            if path is not None:
                console.print(f"wrote the {flag} to {path}")
    return 0 if all(v.ok or v.refused is not None for v in checks) else 1


def verification_json(v: Verification) -> dict[str, Any]:
    return {"compact": v.compact, "model_cycles": v.model_cycles, "sim_cycles": v.sim_cycles,
            "model_error": v.model_error, "outputs_match_reference": v.outputs_match_reference,
            "counts_match_model": v.counts_match_model, "wall_s": v.wall_s, "refused": v.refused}


def _verification_table(checks: list[Verification]) -> Table:
    table = Table(title="Confirmed in simulation (model error = (model - simulated) / simulated)",
                  title_justify="left", title_style="bold")
    for col, just in (("#", "right"), ("simulated cycles", "right"), ("model cycles", "right"),
                      ("model error", "right"), ("outputs vs NumPy", "left"), ("counts", "left"),
                      ("wall s", "right")):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for i, v in enumerate(checks, 1):
        if v.refused is not None:
            table.add_row(str(i), "-", f"{v.model_cycles:,}", "-", f"not simulated: {v.refused}", "-",
                          f"{v.wall_s:.2f}")
            continue
        error = v.model_error if v.model_error is not None else 0.0
        table.add_row(str(i), f"{v.sim_cycles:,}", f"{v.model_cycles:,}", f"{error:+.1%}",
                      "match" if v.outputs_match_reference else "[red]MISMATCH[/red]",
                      "= model" if v.counts_match_model else "[red]DIFFER[/red]", f"{v.wall_s:.2f}")
    return table

