"""The ``sasim`` command line (also ``python -m sasim``).

Each subcommand is one function taking the parsed arguments and returning an exit
status. Only this module configures logging and writes to the terminal; any
:class:`~sasim.errors.SasimError` becomes one line ``sasim: error: <message>`` on
stderr and exit status 2 (with ``-v`` or ``--debug`` the traceback is printed too).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any, NoReturn, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

import sasim
from sasim.cli_common import add_spec_arguments
from sasim.design import Design
from sasim.errors import SasimError, SpecError
from sasim.examples import example_names, example_path
from sasim.mapping.spec import format_loops
from sasim.model import ModelResult, evaluate
from sasim.spec import Spec, load_spec, read_yaml

__all__ = ["main", "build_parser", "model_json"]

PROG = "sasim"
EXIT_OK = 0
EXIT_ERROR = 2

#: Flag for each section, as named in messages.
SECTION_FLAGS = {"architecture": "--arch", "workload": "--workload", "mapping": "--mapping"}

_log_handler: logging.Handler | None = None


class _UsageError(Exception):
    """A command-line usage error (reported like a SasimError: one line, status 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30)


# --- the parser ------------------------------------------------------------------------

_MAIN_DESCRIPTION = """\
sasim: design spatial-architecture accelerators from one description.

A spec (a YAML file with architecture, workload and mapping sections, or the name
of a bundled example) is lowered to one checked Design that every command reads.
"""

_MAIN_EPILOG = """\
examples:
  sasim examples                      list the bundled example specs
  sasim model gemm_ws                 analytical estimate of a bundled example
  sasim model my_spec.yaml --json     the same as one JSON object
  sasim model gemm_ws --workload gemm:M=512,N=512,K=512 --arch multicast --mapping os
  sasim run gemm_ws                   cycle-exact simulation: stalls, traces, outputs vs NumPy
  sasim map --arch gemmini --workload gemm:M=128,N=768,K=512   search for the best mappings
  sasim gen gemm_ws --workload gemm:M=16,N=16,K=16 --out rtl/   synthesizable Verilog
  sasim verify gemm_ws --workload gemm:M=16,N=16,K=16   RTL == simulator, under cocotb
  sasim synth gemm_ws --workload gemm:M=16,N=16,K=16    FPGA resources and Fmax (yosys, nextpnr)

docs: docs/index.md (spec fields: docs/reference.md, commands: docs/cli.md)
"""

_MODEL_DESCRIPTION = """\
Evaluate a design with the analytical model: per level and tensor the reads,
fills, updates and drains, DRAM traffic, MACs, latency, energy and utilization.
The counts are exact; the cycle count is an estimate (see docs/model.md).

SPEC is a spec file or the name of a bundled example ('sasim examples' lists
them). --arch, --workload and --mapping replace that section of the spec; each
takes the same forms as the YAML value:
  NAME                      a preset, e.g. 'gemm', 'ws_systolic', 'os'
  NAME:KEY=VALUE,KEY=VALUE  a preset with parameters, e.g. 'gemm:M=64,N=64,K=64'
  PATH                      a YAML file holding the section (any other string)
SPEC may be omitted when all three flags are given.
"""

_MODEL_EPILOG = """\
examples:
  sasim model gemm_ws
  sasim model gemm_ws --workload gemm:M=512,N=512,K=512
  sasim model gemm_ws --arch multicast:rows=16,cols=16 --mapping os
  sasim model --arch ws_systolic:rows=8,cols=8 --workload gemm:M=64,N=64,K=64 --mapping ws
  sasim model specs/mine.yaml --arch specs/arch_big.yaml --json

exit status: 0 on success, 2 for a bad spec, a bad flag or an impossible mapping.
"""

_EXAMPLES_DESCRIPTION = """\
List the bundled example specs with a one-line description each. Every name is
accepted wherever a SPEC path is. With NAME, print that example's YAML, a
starting point for a spec of your own.
"""

_EXAMPLES_EPILOG = """\
examples:
  sasim examples
  sasim examples --json
  sasim examples gemm_ws > my_spec.yaml
"""


def _common(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """``-v`` and ``--debug``, accepted before and after the subcommand."""
    # In a subcommand the defaults are suppressed so they do not reset the main parser's values.
    keep: dict[str, Any] = {"default": argparse.SUPPRESS} if suppress else {}
    parser.add_argument("-v", "--verbose", action="count", help="more detail; show the traceback of an error", **keep)
    parser.add_argument("--debug", action="store_true", help="debug logging and the traceback of an error", **keep)


def build_parser() -> argparse.ArgumentParser:
    """The ``sasim`` argument parser with its subcommands."""
    parser = _Parser(prog=PROG, description=_MAIN_DESCRIPTION, epilog=_MAIN_EPILOG, formatter_class=_Formatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {sasim.__version__}")
    _common(parser, suppress=False)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)

    model = commands.add_parser(
        "model", help="analytical estimate: accesses, latency, energy, utilization",
        description=_MODEL_DESCRIPTION, epilog=_MODEL_EPILOG, formatter_class=_Formatter,
    )
    add_spec_arguments(model)
    model.add_argument("--json", action="store_true", help="print one JSON object (schema: docs/cli.md), nothing else")
    _common(model, suppress=True)
    model.set_defaults(func=_cmd_model)

    from sasim.cli_run import add_run_parser

    add_run_parser(commands, _common, _Formatter)

    examples = commands.add_parser(
        "examples", help="list the bundled example specs",
        description=_EXAMPLES_DESCRIPTION, epilog=_EXAMPLES_EPILOG, formatter_class=_Formatter,
    )
    examples.add_argument("name", metavar="NAME", nargs="?", help="print this example's YAML")
    examples.add_argument("--json", action="store_true", help="print the list as one JSON object")
    _common(examples, suppress=True)
    examples.set_defaults(func=_cmd_examples)

    from sasim.cli_map import add_map_parser

    add_map_parser(commands, _common, _Formatter)

    from sasim.cli_rtl import add_rtl_parsers

    add_rtl_parsers(commands, _common, _Formatter)

    from sasim.cli_synth import add_synth_parser

    add_synth_parser(commands, _common, _Formatter)
    return parser


def _cmd_wrapper(func: Callable[[argparse.Namespace, Callable[[str], Exception]], int]) -> Callable[..., int]:
    """A command taking ``(args, usage)``: ``usage(message)`` builds the command's usage error."""

    def run(args: argparse.Namespace) -> int:
        def usage(message: str) -> Exception:
            return _UsageError(f"{message} (see '{PROG} {args.command} --help')")

        return func(args, usage)

    return run


# --- output helpers --------------------------------------------------------------------


def _console(file: TextIO | None = None) -> Console:
    # markup=False: names and loop bounds such as '[0:4)' are printed literally.
    return Console(file=file or sys.stdout, markup=False, highlight=False)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _write_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")


def _configure_logging(verbose: int, debug: bool) -> None:
    global _log_handler
    logger = logging.getLogger("sasim")
    if _log_handler is not None:
        logger.removeHandler(_log_handler)
    _log_handler = logging.StreamHandler(sys.stderr)
    _log_handler.setFormatter(logging.Formatter("sasim: %(levelname)s: %(name)s: %(message)s"))
    logger.addHandler(_log_handler)
    logger.setLevel(logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING)


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


# --- sasim model -----------------------------------------------------------------------


def model_json(spec: Spec, design: Design, result: ModelResult) -> dict[str, Any]:
    """The object ``sasim model --json`` prints (schema: docs/cli.md)."""
    out = result.to_dict()
    out.setdefault("time_us", result.cycles / spec.architecture.clock_mhz)
    rows_used, cols_used = design.array_used
    out["design"] = {
        "source": spec.source,
        "description": spec.description,
        "origins": dict(spec.origins),
        "workload": spec.workload.model_dump(mode="json"),
        "architecture": spec.architecture.model_dump(mode="json"),
        "mapping": design.resolved_mapping().to_yaml_dict(),
        "levels": [{"name": lv.name, "kind": lv.kind.value, "keeps": sorted(lv.keeps)} for lv in design.levels],
        "loops": [
            {"dim": lp.dim, "factor": lp.factor, "level": design.levels[lp.level].name,
             "axis": lp.axis.value if lp.axis is not None else None}
            for lp in design.loops
        ],
        "access": {t: entry.name for t, entry in design.access.items()},
        "array_used": {"rows": rows_used, "cols": cols_used},
    }
    return out


def _fmt_int(value: int) -> str:
    return f"{int(value):,}"


def _fmt_bytes(n: int) -> str:
    for scale, unit in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n:,} B"


def _fmt_energy(pj: float) -> str:
    for scale, unit in ((1e12, "J"), (1e9, "mJ"), (1e6, "µJ"), (1e3, "nJ")):
        if pj >= scale:
            return f"{pj / scale:.3g} {unit} ({pj:,.0f} pJ)"
    return f"{pj:.3g} pJ"


def _fmt_time(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3g} s"
    if us >= 1e3:
        return f"{us / 1e3:.3g} ms"
    return f"{us:.3g} µs"


def _kv_table(title: str) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="cyan", no_wrap=True)
    table.add_column()
    return table


def _render_report(console: Console, spec: Spec, design: Design, result: ModelResult, verbose: int) -> None:
    arch, wl = spec.architecture, spec.workload
    title = Text(f"sasim model: {spec.source or 'spec from the command line'}", style="bold")
    console.print(title)
    if spec.description:
        console.print(spec.description)
    console.print()

    sections = Table(title="Spec", title_justify="left", title_style="bold", box=None, padding=(0, 2))
    sections.add_column("section", style="cyan", no_wrap=True)
    sections.add_column("what")
    sections.add_column("given as", style="dim")
    dims = " ".join(f"{d}={s}" for d, s in wl.dims.items())
    sections.add_row("workload", f"{wl.name}: {dims}", spec.origins.get("workload", ""))
    buffers = ", ".join(f"{b.name} {_fmt_bytes(b.capacity)}" for b in arch.buffers) or "no buffers"
    sections.add_row(
        "architecture", f"{arch.name}: {arch.array.rows}x{arch.array.cols} PEs, {buffers}",
        spec.origins.get("architecture", ""),
    )
    resolved = design.resolved_mapping()
    loops = [f"{level}[{format_loops(lps)}]" for level, lps in resolved.temporal.items()]
    loops += [f"{axis.value}[{format_loops(lps)}]" for axis, lps in resolved.spatial.items()]
    sections.add_row("mapping", " ".join(loops), spec.origins.get("mapping", ""))
    console.print(sections)
    console.print()

    rows_used, cols_used = design.array_used
    lat = result.latency
    summary = _kv_table("Summary")
    summary.add_row("cycles", _fmt_int(result.cycles))
    summary.add_row("time", f"{_fmt_time(result.cycles / arch.clock_mhz)} at {arch.clock_mhz:g} MHz")
    summary.add_row("MACs", _fmt_int(result.macs))
    summary.add_row("PEs used", f"{rows_used}x{cols_used} of {arch.array.rows}x{arch.array.cols}")
    summary.add_row("utilization", f"{result.utilization:.1%}")
    summary.add_row("energy", _fmt_energy(result.energy_pj))
    summary.add_row("DRAM traffic", f"{_fmt_int(result.dram_words)} words, {_fmt_int(-(-result.dram_bits // 8))} B")
    summary.add_row("bound by", lat.bound_by)
    console.print(summary)
    console.print()

    latency = _kv_table("Latency terms (cycles)")
    latency.add_row("steps", _fmt_int(lat.steps))
    latency.add_row("folds", _fmt_int(lat.folds))
    latency.add_row("fold overhead", _fmt_int(lat.fold_overhead))
    latency.add_row("compute", f"{_fmt_int(lat.compute)}  (steps + folds x fold overhead)")
    latency.add_row("startup", f"{_fmt_int(lat.startup)}  (DRAM first-word latency)")
    latency.add_row("DRAM bound", _fmt_int(lat.dram_bound))
    for name, bound in lat.buffer_bounds.items():
        latency.add_row(f"{name} bound", _fmt_int(bound))
    console.print(latency)
    console.print()

    accesses = Table(title="Accesses (words)", title_justify="left", title_style="bold")
    accesses.add_column("level")
    accesses.add_column("tensor")
    for col in ("reads", "fills", "updates", "drains"):
        accesses.add_column(col, justify="right")
    for level, per_tensor in result.accesses.items():
        for i, (tensor, acc) in enumerate(per_tensor.items()):
            accesses.add_row(
                level if i == 0 else "", tensor,
                _fmt_int(acc.reads), _fmt_int(acc.fills), _fmt_int(acc.updates), _fmt_int(acc.drains),
            )
    console.print(accesses)
    console.print()

    if result.energy_breakdown_pj:
        energy = Table(title="Energy (pJ)", title_justify="left", title_style="bold")
        energy.add_column("part")
        energy.add_column("pJ", justify="right")
        energy.add_column("share", justify="right")
        total = result.energy_pj or 1.0
        for part, pj in result.energy_breakdown_pj.items():
            energy.add_row(part, f"{pj:,.1f}", f"{pj / total:.1%}")
        console.print(energy)
        console.print()

    if verbose:
        tiles = Table(title="Tiles (elements per level and tensor)", title_justify="left", title_style="bold")
        tiles.add_column("level")
        tiles.add_column("tensor")
        tiles.add_column("extents")
        tiles.add_column("elements", justify="right")
        for (level, tensor), tile in design.tiles.items():
            tiles.add_row(level, tensor, " ".join(f"{d}={e}" for d, e in tile.extents), _fmt_int(tile.elements))
        console.print(tiles)
        console.print()

    console.print(Text("Loop nest (outer to inner)", style="bold"))
    console.print(design.describe_nest())
    console.print()

    entries = Table(title="Access entries at the array", title_justify="left", title_style="bold")
    entries.add_column("tensor")
    entries.add_column("role")
    entries.add_column("entry")
    entries.add_column("links (dx,dy|dt)")
    for tensor, entry in design.access.items():
        vectors = " ".join(f"({dx},{dy}|{dt})" for dx, dy, dt in (lk.vector for lk in entry.links)) or "-"
        entries.add_row(tensor, design.role(tensor).value, entry.name, vectors)
    console.print(entries)


def _cmd_model(args: argparse.Namespace) -> int:
    flags = {"architecture": args.arch, "workload": args.workload, "mapping": args.mapping}
    overrides = {section: value for section, value in flags.items() if value is not None}
    if args.spec is None and len(overrides) < len(flags):
        missing = [SECTION_FLAGS[s] for s in flags if s not in overrides]
        raise _UsageError(
            f"no SPEC given: name a spec file or a bundled example, or give all of --arch, --workload and "
            f"--mapping (missing: {', '.join(missing)}) (see 'sasim model --help')"
        )
    spec = load_spec(args.spec, overrides, override_labels=SECTION_FLAGS)
    design = spec.design()
    result = evaluate(design)
    if args.json:
        _write_json(model_json(spec, design, result))
    else:
        _render_report(_console(), spec, design, result, int(getattr(args, "verbose", None) or 0))
    return EXIT_OK


# --- sasim examples --------------------------------------------------------------------


def _example_description(name: str) -> str:
    path = example_path(name)
    assert path is not None  # name comes from example_names()
    data = read_yaml(path, name)
    description = data.get("description") if isinstance(data, dict) else None
    return str(description) if description else ""


def _cmd_examples(args: argparse.Namespace) -> int:
    if args.name is not None:
        path = example_path(args.name)
        if path is None:
            raise SpecError(
                f"no bundled example named {args.name!r}; the examples are {', '.join(example_names())}"
            )
        text = path.read_text(encoding="utf-8")
        if args.json:
            _write_json({"name": args.name, "description": _example_description(args.name), "yaml": text})
        else:
            sys.stdout.write(text)
        return EXIT_OK
    rows = [(name, _example_description(name)) for name in example_names()]
    if args.json:
        _write_json({"examples": [{"name": n, "description": d} for n, d in rows]})
        return EXIT_OK
    console = _console()
    table = Table(title="Bundled example specs", title_justify="left", title_style="bold")
    table.add_column("name", style="cyan", no_wrap=True)
    table.add_column("description")
    for name, description in rows:
        table.add_row(name, description)
    console.print(table)
    console.print("Run one with 'sasim model NAME'; print its YAML with 'sasim examples NAME'.")
    return EXIT_OK


# --- entry point -----------------------------------------------------------------------


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``sasim`` command line with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except _UsageError as exc:
        _error(str(exc))
        return EXIT_ERROR
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    debug = bool(getattr(args, "debug", False))
    verbose = int(getattr(args, "verbose", None) or 0)
    _configure_logging(verbose, debug)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except (SasimError, _UsageError) as exc:
        if debug or verbose:
            traceback.print_exc(file=sys.stderr)
        _error(str(exc))
        return EXIT_ERROR
    except BrokenPipeError:  # e.g. 'sasim model x --json | head'
        # Python's advice: point stdout at devnull so the exit-time flush fails quietly.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
