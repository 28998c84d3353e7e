"""Quality of results of the generated RTL on a Lattice ECP5 (``sasim synth --target ecp5``).

For int8 GEMMs on 4x4 and 8x8 weight-stationary (``ws_systolic``, mapping ``ws``) and
output-stationary (``os_systolic``, mapping ``os``) arrays:

1. Synthesis: generates the accelerator, synthesizes it with yosys (synth_ecp5) and
   places and routes it with nextpnr-ecp5 (LFE5U-85F, CABGA381, speed 6, out of context
   when the design has more I/O than the package has pins), and prints LUT4, CCU2C
   (carry), TRELLIS_FF, MULT18X18D, DP16KD, Fmax, the wall time of each tool and the
   checks (no latches, buffers in the RAM they were meant for).
2. RTL run (``--rtl-workload``, skipped with ``--no-rtl``): the same architecture
   (or ``--rtl-arch-params``) and mapping on that workload, run by ``sasim verify`` on Verilator (or ``--simulator``):
   PE utilization measured in RTL (MACs / (RTL cycles x PEs)), whether the cross-check
   passed (cycles, values and counters equal to the simulator's), and the wall time of
   the RTL run (after its build) against the simulator's on the same design.

Then one JSON line per design (the object 'sasim synth --json' prints, the RTL run's
figures under "rtl", and the design's label).

The generator builds its sequencer tables by walking the loop nest, and by default refuses
tables of more than 2^20 entries; ``--table-limit`` raises that bound for synthesis and
the RTL run (a 256x256x256 GEMM on a 4x4 array needs about 28 million entries, stored as
64-87 kbit of ROM blocks).

Run: python benchmarks/rtl_qor.py [--workload gemm:M=16,N=16,K=16] [--rtl-workload gemm:M=64,N=64,K=64]
                                 [--buffer-size 16KiB] [--arch-params buffer_banks=1,...]
                                 [--arrays 4x4,8x8] [--dataflows ws,os] [--timeout SECONDS] [--keep DIR]
                                 [--rtl-arch-params KEY=VALUE,...] [--no-rtl] [--no-synth]
                                 [--simulator verilator|icarus] [--table-limit ENTRIES] [--arch X]
                                 [--seeds N,...] [--module accelerator|array]

``--module array`` synthesizes each design's PE array datapath module alone (what
``sasim synth --module array`` does: operand registers, multipliers, sums and
accumulators, no buffers and no control), the part to hold against the hand-written
array of ``benchmarks/rtl_reference.py``.

``--seeds 1,2,3`` places each design's netlist once per seed (``sasim synth --seeds``:
nextpnr's placement is seeded, and Fmax moves with it by 10% or more on these designs):
the row shows the median Fmax and the total nextpnr time, a line after it each seed's
Fmax; the JSON line is the median placement's.

``--arch X`` replaces the preset with one architecture (a file or a preset string, as
``sasim model --arch`` takes) for synthesis and the RTL run alike; each dataflow of
``--dataflows`` is then one design on it, named after its array.

For the 256x256x256 designs of BENCHMARKS.md, synthesized and run in RTL:
  python benchmarks/rtl_qor.py --workload gemm:M=256,N=256,K=256 --rtl-workload gemm:M=256,N=256,K=256 \
      --table-limit 60M
and the WS 8x8 one, with a buffer per tensor (benchmarks/ws8x8_split.yaml):
  python benchmarks/rtl_qor.py --workload gemm:M=256,N=256,K=256 --rtl-workload gemm:M=256,N=256,K=256 \
      --table-limit 60M --dataflows ws --arch benchmarks/ws8x8_split.yaml --timeout 14000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from sasim.cli_common import lut_ram_bits_argument, placement_seeds_argument, table_limit_argument
from sasim.errors import SasimError
from sasim.gen.memory import LUT_RAM_BITS
from sasim.gen.tables import MAX_TABLE_ENTRIES
from sasim.spec import load_spec
from sasim.synth import ECP5_DEVICES, MODULES, SynthResult, Target, find_tool, synthesize
from sasim.verify import verify

PRESETS = {"ws": "ws_systolic", "os": "os_systolic"}
COLUMNS = (("design", 12), ("LUT4", 7), ("CCU2C", 6), ("FF", 7), ("MULT18", 6), ("DP16KD", 6), ("Fmax MHz", 8),
           ("yosys s", 8), ("pnr s", 7), ("checks", 6), ("RTL util", 8), ("RTL cyc", 8), ("RTL s", 6),
           ("sasim s", 7), ("x-check", 7))


def seed_fields(label: str, result: SynthResult) -> dict[str, Any]:
    """Print each seed's Fmax of a design placed with ``--seeds``; the JSON field for the median."""
    print(f"{label}: Fmax by seed " + ", ".join(
        f"{seed}: {mhz:.1f}" for seed, mhz in result.fmax_by_seed.items() if mhz is not None) + " MHz", flush=True)
    return {"fmax_median_mhz": result.fmax_mhz}


def _row(values: list[str]) -> str:
    return " ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, (_, w)) in enumerate(zip(values, COLUMNS)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", default="gemm:M=16,N=16,K=16",
                        help="the workload synthesized (default %(default)s)")
    parser.add_argument("--rtl-workload", default="gemm:M=64,N=64,K=64",
                        help="the workload run in RTL for utilization and speed (default %(default)s)")
    parser.add_argument("--buffer-size", default="16KiB", help="the global buffer's capacity (default %(default)s)")
    parser.add_argument("--arch-params", default="buffer_banks=1,buffer_word_bits=32,dram_words_per_cycle=1",
                        metavar="KEY=VALUE,...",
                        help="more preset parameters (default %(default)s: a narrow buffer and DRAM port, so "
                             "few buffer banks and read ports)")
    parser.add_argument("--rtl-arch-params", metavar="KEY=VALUE,...",
                        help="preset parameters for the RTL run (default: --arch-params; '' for the preset's "
                             "defaults, buffer size included)")
    parser.add_argument("--arch", metavar="X",
                        help="one architecture instead of the presets, for synthesis and the RTL run (a YAML file "
                             "or a preset string, as 'sasim model --arch'); --arrays, --buffer-size and "
                             "--arch-params then do not apply")
    parser.add_argument("--arrays", default="4x4,8x8", help="array sizes ROWSxCOLS (default %(default)s)")
    parser.add_argument("--dataflows", default="ws,os", help="ws and/or os (default %(default)s)")
    parser.add_argument("--device", default="85k", choices=list(ECP5_DEVICES), help="ECP5 device (default %(default)s)")
    parser.add_argument("--freq", type=float, default=100.0, help="nextpnr's target MHz (default %(default)s)")
    parser.add_argument("--seeds", type=placement_seeds_argument, default=None, metavar="N,...",
                        help="nextpnr's placement seeds (default: nextpnr's own): each design is placed once per "
                             "seed, and the row shows the median Fmax (Fmax moves with the seed)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds per design, all its placements together (default %(default)s)")
    parser.add_argument("--keep", metavar="DIR", help="keep each design's files in DIR/<design>")
    parser.add_argument("--simulator", default="verilator", choices=("verilator", "icarus"),
                        help="RTL simulator for the RTL run (default %(default)s)")
    parser.add_argument("--table-limit", type=table_limit_argument, default=MAX_TABLE_ENTRIES, metavar="ENTRIES",
                        help="sequencer table bound for synthesis and the RTL run: 60000000 or 60M "
                             "(default %(default)s)")
    parser.add_argument("--lut-ram-bits", type=lut_ram_bits_argument, default=LUT_RAM_BITS, metavar="BITS",
                        help="buffer banks of at most this many bits go to LUT RAM (default %(default)s)")
    parser.add_argument("--module", choices=MODULES, default="accelerator",
                        help="synthesize the whole accelerator (default) or its PE array's datapath alone")
    parser.add_argument("--no-rtl", action="store_true", help="skip the RTL run")
    parser.add_argument("--no-synth", action="store_true", help="skip synthesis")
    args = parser.parse_args()
    if args.arch is not None and args.rtl_arch_params is not None:
        parser.error("--rtl-arch-params applies to the presets; with --arch both runs use that architecture")
    designs = _designs(parser, args)

    # the build matters: the native and WebAssembly yosys can map one design differently
    yosys = ""
    if not args.no_synth:
        try:
            yosys = f"; yosys: {find_tool('yosys').executable}"
        except SasimError as exc:  # each design then says it was not synthesized, and why
            yosys = f"; yosys: {exc}"
    seed = "" if args.seeds is None else f", seeds {','.join(map(str, args.seeds))} (Fmax: the median)"
    what = "" if args.module == "accelerator" else "the PE array's datapath module alone; "
    print(f"{what}ECP5 {ECP5_DEVICES[args.device].part}, CABGA381, speed 6, nextpnr target {args.freq:g} MHz"
          f"{seed}{yosys}; "
          f"synthesized workload {args.workload}; RTL run {args.rtl_workload} on {args.simulator}; int8 operands, "
          "int32 outputs; " + (f"architecture {args.arch}" if args.arch else f"buffer {args.buffer_size}"
                                + (f"; {args.arch_params}" if args.arch_params else "")))
    print(_row([name for name, _ in COLUMNS]))
    records: list[dict[str, Any]] = []
    for label, dataflow, arch, rtl_arch in designs:
        record: dict[str, Any] = {"design": label, "workload": args.workload, "architecture": arch,
                                  "mapping": dataflow}
        row = ["-"] * len(COLUMNS)
        row[0] = label
        if not args.no_synth:
            try:
                design = load_spec(None, {"workload": args.workload, "architecture": arch,
                                          "mapping": dataflow}).design()
                keep = None if args.keep is None else Path(args.keep) / label.lower().replace(" ", "_")
                # one synthesis, placed once per seed: yosys is deterministic, the placement is not
                r = synthesize(design, target=Target.ECP5, device=args.device, freq_mhz=args.freq,
                               timeout_s=args.timeout, keep=keep, table_limit=args.table_limit,
                               lut_ram_bits=args.lut_ram_bits, seeds=args.seeds or (), module=args.module)
            except SasimError as exc:
                print(f"{label}: not synthesized: {exc}", flush=True)
                record["error"] = str(exc)
            else:
                cells = r.resources.cells
                row[1:10] = [f"{cells.get('LUT4', 0):,}", f"{cells.get('CCU2C', 0):,}",
                             f"{cells.get('TRELLIS_FF', 0):,}", f"{cells.get('MULT18X18D', 0):,}",
                             f"{cells.get('DP16KD', 0):,}", "-" if r.fmax_mhz is None else f"{r.fmax_mhz:.1f}",
                             f"{r.wall_s.get('yosys', 0):.1f}", f"{r.wall_s.get('nextpnr', 0):.1f}",
                             "PASS" if r.passed else "FAIL"]
                record.update(r.to_json())
                if args.seeds is not None:
                    record.update(seed_fields(label, r))
        if not args.no_rtl:
            try:
                design = load_spec(None, {"workload": args.rtl_workload, "architecture": rtl_arch,
                                          "mapping": dataflow}).design()
                v = verify(design, simulator=args.simulator, table_limit=args.table_limit)
            except SasimError as exc:
                print(f"{label}: not run in RTL: {exc}", flush=True)
                record["rtl"] = {"workload": args.rtl_workload, "architecture": rtl_arch, "error": str(exc)}
            else:
                pes = design.architecture.array.rows * design.architecture.array.cols
                util = design.workload.macs / (v.rtl_cycles * pes) if v.rtl_cycles else 0.0
                row[10:] = [f"{util:.1%}", f"{v.rtl_cycles or 0:,}", f"{v.rtl_wall_s:.2f}", f"{v.sim_wall_s:.2f}",
                            "PASS" if v.passed else "FAIL"]
                record["rtl"] = {"workload": args.rtl_workload, "architecture": rtl_arch, "utilization": util,
                                 **v.to_json()}
        print(_row(row), flush=True)
        records.append(record)
    for record in records:
        print(json.dumps(record, sort_keys=True))


def _designs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[tuple[str, str, str, str]]:
    """Each design as (label, dataflow, architecture for synthesis, architecture for the RTL run)."""
    dataflows = args.dataflows.split(",")
    bad = [d for d in dataflows if d not in PRESETS]
    if bad:
        parser.error(f"--dataflows: {bad} not known; choose from {sorted(PRESETS)}")
    if args.arch is not None:
        try:
            array = load_spec(None, {"workload": args.workload, "architecture": args.arch,
                                     "mapping": dataflows[0]}).architecture.array
        except SasimError as exc:
            parser.error(f"--arch: {exc}")
        return [(f"{d.upper()} {array.rows}x{array.cols}", d, args.arch, args.arch) for d in dataflows]
    designs = []
    for size in args.arrays.split(","):
        try:
            rows, cols = (int(n) for n in size.lower().split("x"))
        except ValueError:
            parser.error(f"--arrays: {size!r} is not ROWSxCOLS, such as 8x8")
        for dataflow in dataflows:
            arch = f"{PRESETS[dataflow]}:rows={rows},cols={cols},buffer_size={args.buffer_size}"
            if args.arch_params:
                arch += f",{args.arch_params}"
            rtl_params = args.arch_params if args.rtl_arch_params is None else args.rtl_arch_params
            rtl_arch = f"{PRESETS[dataflow]}:rows={rows},cols={cols}"
            if args.rtl_arch_params is None:
                rtl_arch += f",buffer_size={args.buffer_size}"
            if rtl_params:
                rtl_arch += f",{rtl_params}"
            designs.append((f"{dataflow.upper()} {rows}x{cols}", dataflow, arch, rtl_arch))
    return designs


if __name__ == "__main__":
    main()
