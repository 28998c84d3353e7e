"""``sasim run``: the cycle-level simulator on the command line (registered by :mod:`sasim.cli`).

Simulates one design on random inputs (``--seed``) in the fast or golden mode, prints a
report (cycles beside the model's estimate, stalls by cause, accesses, peak occupancy,
whether the outputs equal the NumPy reference) or one JSON object, and optionally writes
a VCD or Perfetto trace (``--trace``) and a utilization/stall plot (``--plot``). With
``--network NAME|FILE`` and ``--arch`` it simulates every layer of a network instead
(:mod:`sasim.cli_run_network`) and reports each layer
and the totals.

Exit status: 0 when the outputs match the reference, 1 when they do not, 2 for a
:class:`~sasim.errors.SasimError` or a usage error (before anything is simulated or
written where possible).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, Protocol

from rich.console import Console
from rich.measure import Measurement
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from sasim.cli_common import add_spec_arguments, load_full_spec, seed_argument
from sasim.design import Design
from sasim.errors import SasimError
from sasim.fileio import atomic_open
from sasim.mapping.spec import format_loops
from sasim.networks import network_names
from sasim.sim import Mode, SimResult, simulate
from sasim.sim.trace import FINISHED, timeline, write_perfetto, write_vcd
from sasim.spec import Spec

__all__ = ["add_run_parser", "run_json"]

EXIT_MISMATCH = 1

TRACE_FORMATS = {".vcd": "VCD waveform", ".json": "Chrome/Perfetto trace"}
PLOT_FORMATS = (".png", ".svg", ".pdf")

_DESCRIPTION = """\
Simulate a design cycle by cycle (docs/timing.md) on random integer inputs and check
its outputs against the workload's NumPy reference. Reports the exact cycle count
beside the analytical model's estimate, the array's stall cycles by cause, the
accesses per level and tensor (equal to the model's counts), peak buffer occupancy
and DRAM busy cycles (docs/simulator.md).

SPEC, --arch, --workload and --mapping work as in 'sasim model'. The fast mode
(default) is exact and handles large designs; the golden mode steps every cycle and
is meant for small designs (up to 2,000,000 iteration points) and for checking the
fast one: both give the same cycles and counts.

With --network NAME|FILE and --arch, every layer of a network (bundled: {networks})
is simulated in the fast mode, across --jobs worker processes, and each layer and the
totals (cycles, energy and stalls times each layer's repeat) are reported. A layer is
simulated with its own 'mapping' from the network file (as 'sasim map --network --out'
writes it), else with the first --mapping that applies to it (a mapping section, or
presets tried in order: ws,os,is). Layers with the same shape and mapping are
simulated once: the simulator is deterministic, and its timing and counts do not
depend on the data.
"""

_EPILOG = """\
examples:
  sasim run gemm_ws
  sasim run gemm_inline --mode golden
  sasim run gemm_ws --workload gemm:M=256,N=256,K=256 --seed 7
  sasim run conv_multicast --trace run.vcd --plot run.png
  sasim run gemm_ws --trace run.json      open in ui.perfetto.dev (1 us = 1 cycle)
  sasim run my_spec.yaml --json > result.json
  sasim run --network resnet50 --arch multicast:rows=32,cols=32 --mapping ws,os,is
  sasim run --network bert_base --arch simba --mapping ws --jobs 2 --json > bert.json
  sasim map --network net.yaml --arch simba --out mapped.yaml
  sasim run --network mapped.yaml --arch simba      each layer with the mapping found

exit status: 0 if the outputs match the NumPy reference, 1 if they do not
(with --network: 0 only if every layer's do), 2 for a bad spec, a bad flag or a
design the simulator refuses (with --network: any layer it cannot simulate, each
named).
"""


def add_run_parser(commands: Any, common: Callable[..., None], formatter: type[argparse.HelpFormatter]) -> None:
    """Register ``sasim run`` on the subcommand set ``commands``."""
    p = commands.add_parser(
        "run", help="cycle-exact simulation with real values, stalls, traces",
        description=_DESCRIPTION.format(networks=", ".join(network_names())), epilog=_EPILOG,
        formatter_class=formatter,
    )
    add_spec_arguments(p, mapping_help="replace the mapping section; with --network: the mapping of the layers "
                       "without their own, or presets tried in order per layer (ws,os,is)")
    p.add_argument("--network", metavar="NAME|FILE", help=f"simulate every layer of a network "
                   f"({', '.join(network_names())} or a YAML file); needs --arch")
    p.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                   help="with --network: worker processes (default: the number of cores)")
    p.add_argument("--mode", type=_mode, default=Mode.FAST, metavar="{fast,golden}",
                   help="fast (default: tile-level events, exact) or golden (every cycle, small designs)")
    p.add_argument("--seed", type=seed_argument, default=0, metavar="N",
                   help="seed of the random input tensors (default 0): same seed, same run")
    p.add_argument("--json", action="store_true", help="print one JSON object (schema: docs/cli.md), nothing else")
    p.add_argument("--trace", metavar="FILE", help="write a trace: FILE.vcd (GTKWave) or FILE.json (Perfetto)")
    p.add_argument("--plot", metavar="FILE.png", help="plot utilization and stalls over time (.png, .svg, .pdf)")
    common(p, suppress=True)
    p.set_defaults(func=_cmd_run)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {text!r}")
    return value


def _mode(text: str) -> Mode:
    try:
        return Mode(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be fast or golden, not {text!r}") from None


# --- JSON ------------------------------------------------------------------------------------


def run_json(spec: Spec, design: Design, result: SimResult, *, seed: int) -> dict[str, Any]:
    """The object ``sasim run --json`` prints (schema: docs/cli.md)."""
    from sasim.cli import model_json

    clock = spec.architecture.clock_mhz
    out = result.to_dict()
    out["time_us"] = result.cycles / clock
    out["model"]["time_us"] = result.model.cycles / clock
    out["seed"] = seed
    out["data_stall_cycles"] = result.data_stalls if result.data_stalls >= 0 else None
    out["accesses_match_model"] = not result.access_differences()
    out["design"] = model_json(spec, design, result.model)["design"]
    return out


# --- outputs -----------------------------------------------------------------------------------


def _check_output(flag: str, path: str, allowed: tuple[str, ...], what: str,
                  usage: Callable[[str], Exception]) -> None:
    target = Path(path).expanduser()
    suffix = target.suffix.lower()
    if suffix not in allowed:
        shown = f"extension {suffix!r}" if suffix else "no extension"
        raise usage(f"{flag}: {path!r} has {shown}; {what}")
    directory = target.parent
    if not directory.is_dir():
        raise usage(f"{flag}: cannot write {path!r}: the directory {str(directory)!r} does not exist")


@contextmanager
def _atomic(flag: str, path: str, *, binary: bool = False) -> Iterator[IO[Any]]:
    """A file to write that replaces ``path`` only when the block succeeds."""
    try:
        with atomic_open(path, binary=binary) as fh:
            yield fh
    except OSError as exc:
        raise SasimError(f"{flag}: cannot write {path!r}: {exc.strerror or exc}") from None


def _title(spec: Spec) -> str:
    return spec.source or "spec from the command line"


_CAUSE_COLORS = {"preload": "tab:purple", "fold drain": "tab:orange", "output full": "tab:red"}
_INPUT_COLORS = ("tab:blue", "tab:cyan", "tab:olive", "tab:pink", "tab:brown")


def _plot(path: str, spec: Spec, design: Design, result: SimResult) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    arch = spec.architecture
    pes = arch.array.rows * arch.array.cols
    tl = timeline(result, pes=pes, bins=200)
    left, widths = tl.edges[:-1], tl.widths

    fig = Figure(figsize=(10, 6.5))
    FigureCanvasAgg(fig)
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.2]})
    top.stairs(100 * tl.utilization, tl.edges, color="tab:green", fill=True, alpha=0.35,
               label=f"per bin ({len(widths)} bins of ~{int(widths.mean()):,} cycles)")
    top.axhline(100 * result.utilization, color="tab:green", ls="--", lw=1,
                label=f"whole run: {result.utilization:.1%}")
    top.axhline(100 * result.model.utilization, color="0.3", ls=":", lw=1,
                label=f"model estimate: {result.model.utilization:.1%}")
    top.set_ylabel(f"utilization (%)\nMACs per cycle / {pes:,} PEs")
    top.set_ylim(0, 105)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="utilization", title_fontsize=8)
    top.grid(alpha=0.3)

    bottom_acc = tl.issuing.astype(float)
    share = 100.0 / widths
    bottom.bar(left, tl.issuing * share, width=widths, align="edge", color="tab:green", lw=0, label="issuing a step")
    inputs = iter(_INPUT_COLORS)
    for cause, cycles in tl.stalls.items():
        color = _CAUSE_COLORS.get(cause) or next(inputs, None)
        bottom.bar(left, cycles * share, width=widths, bottom=bottom_acc * share, align="edge", lw=0,
                   color=color, label=f"stall: {cause}")
        bottom_acc = bottom_acc + cycles
    bottom.bar(left, tl.finished * share, width=widths, bottom=bottom_acc * share, align="edge", lw=0,
               color="0.75", label=f"{FINISHED}: after the last step (outputs draining)")
    bottom.set_ylabel("share of the bin's cycles (%)")
    bottom.set_xlabel("cycle")
    bottom.set_ylim(0, 100)
    bottom.set_xlim(0, max(1, result.cycles))
    bottom.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="array state", title_fontsize=8)
    top.set_title("utilization over time")
    bottom.set_title("array stall timeline by cause (each wait charged to its largest cause)", fontsize=10)
    rows_used, cols_used = design.array_used
    fig.suptitle(f"sasim run: {_title(spec)} — {result.cycles:,} cycles, {rows_used}x{cols_used} of "
                 f"{arch.array.rows}x{arch.array.cols} PEs used ({result.mode} mode)")
    fig.tight_layout()
    fmt = Path(path).suffix.lower().lstrip(".")
    with _atomic("--plot", path, binary=True) as fh:
        fig.savefig(fh, format=fmt, dpi=110)


def _write_outputs(args: argparse.Namespace, spec: Spec, design: Design, result: SimResult) -> list[str]:
    written = []
    if args.trace is not None:
        suffix = Path(args.trace).suffix.lower()
        writer = write_vcd if suffix == ".vcd" else write_perfetto
        with _atomic("--trace", args.trace) as fh:
            writer(result, fh, title=_title(spec), clock_mhz=spec.architecture.clock_mhz)
        written.append(f"trace: {args.trace} ({TRACE_FORMATS[suffix]})")
    if args.plot is not None:
        _plot(args.plot, spec, design, result)
        written.append(f"plot: {args.plot}")
    return written


class ProgressBar(Protocol):
    """What :func:`progress_bar` yields: ``bar(done, total)``, or with ``detail`` the text
    shown after the count."""

    def __call__(self, done: int, total: int, detail: str | None = None) -> None: ...


@contextmanager
def progress_bar(enabled: bool, what: str = "simulating", initial: str = "steps") -> Iterator[ProgressBar | None]:
    """A progress callback drawing a bar on stderr, started at the first report (long runs
    only): ``what``, the bar, ``done/total`` and a detail, ``initial`` until a report gives its own."""
    if not enabled:
        yield None
        return
    bar = Progress(TextColumn(what), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[detail]}"),
                   TimeElapsedColumn(), TimeRemainingColumn(), console=Console(file=sys.stderr), transient=True)
    task: list[Any] = []

    def update(done: int, total: int, detail: str | None = None) -> None:
        if not task:
            task.append(bar.add_task(what, total=total, completed=done, detail=initial))
            bar.start()
        if detail is None:
            bar.update(task[0], completed=done, total=total)
        else:
            bar.update(task[0], completed=done, total=total, detail=detail)

    try:
        yield update
    finally:
        if task:
            bar.stop()


# --- the report -----------------------------------------------------------------------------------


def _print_whole(console: Console, table: Table) -> None:
    """Print ``table`` at its natural width even when the terminal is narrower: numbers are
    never cut short with an ellipsis (the terminal wraps the long lines instead)."""
    needed = Measurement.get(console, console.options.update_width(10_000), table).maximum
    width = console.width
    console.width = max(width, needed)
    try:
        console.print(table)
    finally:
        console.width = width


def _pct(part: float, whole: float) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _error_pct(model: float, simulated: float) -> str:
    if model == simulated:
        return "exact"
    if not simulated:
        return "-"
    error = (model - simulated) / simulated
    return f"{error:+.1%}" if abs(error) >= 0.0005 else "0.0%"


def _render(console: Console, spec: Spec, design: Design, result: SimResult, *, seed: int,
            written: list[str]) -> None:
    from sasim.cli import _fmt_bytes, _fmt_energy, _fmt_int, _fmt_time, _kv_table

    arch, wl = spec.architecture, spec.workload
    model = result.model
    console.print(Text(f"sasim run: {_title(spec)}", style="bold"))
    if spec.description:
        console.print(spec.description)
    console.print()

    header = _kv_table("Design")
    header.add_row("workload", f"{wl.name}: " + " ".join(f"{d}={s}" for d, s in wl.dims.items()))
    buffers = ", ".join(f"{b.name} {_fmt_bytes(b.capacity)}" for b in arch.buffers) or "no buffers"
    header.add_row("architecture", f"{arch.name}: {arch.array.rows}x{arch.array.cols} PEs, {buffers}")
    resolved = design.resolved_mapping()
    loops = [f"{level}[{format_loops(lps)}]" for level, lps in resolved.temporal.items()]
    loops += [f"{axis.value}[{format_loops(lps)}]" for axis, lps in resolved.spatial.items()]
    header.add_row("mapping", " ".join(loops))
    header.add_row("simulation", f"{result.mode} mode, random inputs from seed {seed}, "
                   f"{result.wall_time_s:.3g} s wall ({result.cycles / max(result.wall_time_s, 1e-9):,.0f} cycles/s)")
    console.print(header)
    console.print()

    summary = Table(title="Summary (model error = (model - simulated) / simulated)", title_justify="left",
                    title_style="bold", box=None, padding=(0, 2))
    summary.add_column(style="cyan", no_wrap=True)
    summary.add_column("simulated", justify="right")
    summary.add_column("model estimate", justify="right")
    summary.add_column("model error", justify="right")
    clock = arch.clock_mhz
    summary.add_row("cycles", _fmt_int(result.cycles), _fmt_int(model.cycles), _error_pct(model.cycles, result.cycles))
    summary.add_row(f"time at {clock:g} MHz", _fmt_time(result.cycles / clock), _fmt_time(model.cycles / clock), "")
    summary.add_row("MACs", _fmt_int(result.macs), _fmt_int(model.macs), "")
    summary.add_row("utilization", f"{result.utilization:.1%}", f"{model.utilization:.1%}", "")
    summary.add_row("energy", _fmt_energy(result.energy_pj), _fmt_energy(model.energy_pj),
                    _error_pct(model.energy_pj, result.energy_pj))
    lat = model.latency
    summary.add_row("array span (1st preload to last result)", _fmt_int(result.array_span), _fmt_int(lat.compute),
                    _error_pct(lat.compute, result.array_span))
    outside = result.cycles - result.array_span
    summary.add_row("before + after the span", _fmt_int(outside), _fmt_int(lat.startup + lat.drain),
                    _error_pct(lat.startup + lat.drain, outside))
    if result.data_stalls >= 0:
        summary.add_row("data stalls in the span", f"{_fmt_int(result.data_stalls)} cycles", "", "")
    summary.add_row("array busy", f"{_fmt_int(result.array_busy)} cycles ({_pct(result.array_busy, result.cycles)})",
                    "", "")
    summary.add_row("DRAM busy", f"{_fmt_int(result.dram_busy)} cycles ({_pct(result.dram_busy, result.cycles)})",
                    "", "")
    summary.add_row("DRAM waits (summed over requests)",
                    f"{_fmt_int(result.dram_latency_wait)} latency, {_fmt_int(result.dram_queue_wait)} queued",
                    "", "")
    for region, lost in sorted(result.bank_conflicts.items()):
        summary.add_row(f"bank conflicts, {region}", f"{_fmt_int(lost)} cycles", "", "")
    _print_whole(console, summary)
    console.print()

    stalls = Table(title="Where the array's cycles went", title_justify="left", title_style="bold")
    stalls.add_column("state")
    stalls.add_column("cycles", justify="right")
    stalls.add_column("share", justify="right")
    stalls.add_row("issuing a step", _fmt_int(result.array_busy), _pct(result.array_busy, result.cycles))
    total_stall = sum(result.stalls.values())
    for cause, n in sorted(result.stalls.items(), key=lambda kv: (-kv[1], kv[0])):
        stalls.add_row(f"stall: {cause}", _fmt_int(n), _pct(n, result.cycles))
    tail = result.cycles - result.array_busy - total_stall
    stalls.add_row("after the last step (outputs draining)", _fmt_int(tail), _pct(tail, result.cycles))
    stalls.add_row(Text("total", style="bold"), _fmt_int(result.cycles), "100.0%" if result.cycles else "-")
    _print_whole(console, stalls)
    console.print()

    diffs = result.access_differences()
    model_acc = model.accesses
    accesses = Table(title="Accesses (words)", title_justify="left", title_style="bold")
    accesses.add_column("level")
    accesses.add_column("tensor")
    for col in ("reads", "fills", "updates", "drains"):
        accesses.add_column(col, justify="right")
    accesses.add_column("vs model")
    for level, per_tensor in result.accesses.items():
        for i, (tensor, acc) in enumerate(per_tensor.items()):
            expected = model_acc.get(level, {}).get(tensor)
            same = expected is not None and expected.to_dict() == acc.to_dict()
            accesses.add_row(
                level if i == 0 else "", tensor,
                _fmt_int(acc.reads), _fmt_int(acc.fills), _fmt_int(acc.updates), _fmt_int(acc.drains),
                Text("equal", style="green") if same else Text("DIFFERENT", style="bold red"),
            )
    _print_whole(console, accesses)
    if diffs:
        counts = "1 access count differs" if len(diffs) == 1 else f"{len(diffs)} access counts differ"
        console.print(Text(f"WARNING: {counts} from the model's; they must be equal "
                           "(docs/model.md): this is a bug in the simulator or the model, please report it:",
                           style="bold red"))
        for line in diffs:
            console.print(Text(f"  {line}", style="red"), soft_wrap=True)
    else:
        console.print(Text("Every count equals the analytical model's, as it must.", style="green"))
    console.print()

    capacity = {r.name: r.capacity for r in result.regions}
    occupancy = Table(title="Peak occupancy per region (elements)", title_justify="left", title_style="bold")
    occupancy.add_column("region")
    occupancy.add_column("peak", justify="right")
    occupancy.add_column("capacity", justify="right")
    occupancy.add_column("used", justify="right")
    for name, peak in result.peak_occupancy.items():
        cap = capacity.get(name)
        occupancy.add_row(name, _fmt_int(peak), _fmt_int(cap) if cap is not None else "-",
                          _pct(peak, cap) if cap else "-")
    _print_whole(console, occupancy)
    if not capacity:
        console.print(Text("(capacities are recorded by the fast mode only)", style="dim"))
    console.print()

    for line in written:
        console.print(f"wrote {line}", soft_wrap=True)
    if written:
        console.print()

    out = design.workload.output
    shape = "x".join(str(n) for n in result.output.shape)
    if result.outputs_match_reference:
        console.print(Text(f"PASS  outputs match the NumPy reference ({out}, {shape}, every element)",
                           style="bold green"), soft_wrap=True)
    else:
        console.print(Text(f"FAIL  outputs differ from the NumPy reference ({out}, {shape}): a simulator bug, "
                           "please report it", style="bold red"), soft_wrap=True)


# --- the command ----------------------------------------------------------------------------------

def _usage(message: str) -> Exception:
    from sasim.cli import _UsageError

    return _UsageError(f"{message} (see 'sasim run --help')")


def _cmd_run(args: argparse.Namespace) -> int:
    from sasim.cli import _console, _write_json

    usage = _usage

    if args.network is not None:
        from sasim.cli_run_network import run_network

        return run_network(args, usage)
    if args.jobs is not None:
        raise usage("--jobs applies only to --network (one design is simulated in one process)")
    if args.spec is None and None in (args.arch, args.workload, args.mapping):
        load_full_spec(args, usage)  # raises the usage error naming the missing flags
    if args.trace is not None:
        _check_output("--trace", args.trace, tuple(TRACE_FORMATS),
                      "use .vcd (a waveform for GTKWave) or .json (a trace for ui.perfetto.dev)", usage)
    if args.plot is not None:
        _check_output("--plot", args.plot, PLOT_FORMATS, "use .png, .svg or .pdf", usage)
    if args.mode is Mode.GOLDEN and (args.trace or args.plot):
        flag = "--trace" if args.trace else "--plot"
        raise usage(f"{flag} needs --mode fast: the golden mode records no timelines "
                    "(its cycles and counts equal the fast mode's)")
    spec = load_full_spec(args, usage)
    design = spec.design()
    with progress_bar(not args.json and sys.stderr.isatty()) as progress:
        result = simulate(design, seed=args.seed, mode=args.mode, progress=progress)
    written = _write_outputs(args, spec, design, result)
    if args.json:
        _write_json(run_json(spec, design, result, seed=args.seed))
    else:
        _render(_console(), spec, design, result, seed=args.seed, written=written)
    return 0 if result.outputs_match_reference else EXIT_MISMATCH
