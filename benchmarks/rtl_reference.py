"""The baseline for the generated accelerator's quality of results: a bare, hand-written
output-stationary int8 array (``benchmarks/reference/os_array.v``: PEs, operand
registers, 32-bit accumulators and a drain chain; no buffers, no sequencer, no DRAM ports)
through the same ECP5 flow as ``sasim synth --target ecp5`` and ``benchmarks/rtl_qor.py``:
yosys synth_ecp5, then nextpnr-ecp5 on the LFE5U-85F (CABGA381, speed 6), out of context
when the array has more I/O than the package has pins.

Each array is built twice: with a one-cycle MAC (``--mac 1``: the multiplier and the
accumulator's 32-bit adder on one path) and with the product registered before the
addition (``--mac 2``, as the generated accelerator's datapath does once its drain delay
allows). It prints, per array and MAC, LUT4, CCU2C (carry), TRELLIS_FF, MULT18X18D, DP16KD, Fmax, the
critical path's two ends and the tools' wall time, then one JSON line per array (the
object ``sasim synth --json`` prints, with the array's label). The array computes what it
should: ``rtl_tests/test_reference_array.py`` runs it against NumPy.

Run: python benchmarks/rtl_reference.py [--arrays 4x4,8x8] [--mac 1,2] [--seeds 1,2,3] [--freq 100] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from rtl_qor import seed_fields

from sasim.cli_common import placement_seeds_argument
from sasim.errors import SasimError
from sasim.synth import ECP5_DEVICES, Target, synthesize_verilog

SOURCE = Path(__file__).resolve().parent / "reference" / "os_array.v"
TOP = "os_array_top"
COLUMNS = (("array", 10), ("LUT4", 7), ("CCU2C", 6), ("FF", 7), ("MULT18", 6), ("DP16KD", 6), ("Fmax MHz", 8),
           ("yosys s", 8), ("pnr s", 7), ("critical path", 60))


def _top(rows: int, cols: int, mac: int) -> str:
    """A top module that fixes the array's size (the flow synthesizes a module, not parameters)."""
    return (f"module {TOP} (input clk, input [{rows - 1}:0] first, input [{rows * 8 - 1}:0] a, "
            f"input [{cols * 8 - 1}:0] b, input drain, output [{cols * 32 - 1}:0] out);\n"
            f"    os_array #(.ROWS({rows}), .COLS({cols}), .PRODUCT_REG({mac - 1})) array (.clk(clk), "
            ".first(first), .a(a), .b(b), .drain(drain), .out(out));\nendmodule\n")


def _size(text: str) -> tuple[int, int]:
    try:
        rows, cols = (int(n) for n in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not ROWSxCOLS, such as 8x8") from None
    if rows < 1 or cols < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: rows and columns must be at least 1")
    return rows, cols


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arrays", default="4x4,8x8", help="array sizes ROWSxCOLS (default %(default)s)")
    parser.add_argument("--mac", default="1,2",
                        help="the MAC's cycles: 1 (multiply and add in one cycle) and/or 2 (the product "
                             "registered) (default %(default)s)")
    parser.add_argument("--device", default="85k", choices=list(ECP5_DEVICES), help="ECP5 device (default %(default)s)")
    parser.add_argument("--freq", type=float, default=100.0, help="nextpnr's target MHz (default %(default)s)")
    parser.add_argument("--seeds", type=placement_seeds_argument, default=None, metavar="N,...",
                        help="nextpnr's placement seeds (default: nextpnr's own): each array is placed once per "
                             "seed, and the row shows the median Fmax")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds per array, all seeds together (default %(default)s)")
    parser.add_argument("--keep", metavar="DIR", help="keep each build's files in DIR/<array>_MAC<n>")
    args = parser.parse_args()
    try:
        sizes = [_size(x) for x in args.arrays.split(",")]
    except argparse.ArgumentTypeError as exc:
        parser.error(f"--arrays: {exc}")
    macs = args.mac.split(",")
    if not macs or any(m not in ("1", "2") for m in macs):
        parser.error(f"--mac: {args.mac!r}: 1 and/or 2, comma-separated")
    builds = [(rows, cols, int(m)) for rows, cols in sizes for m in macs]

    print(f"ECP5 {ECP5_DEVICES[args.device].part}, CABGA381, speed 6, nextpnr target {args.freq:g} MHz"
          + ("" if args.seeds is None else f", seeds {','.join(map(str, args.seeds))} (Fmax: the median)")
          + f"; hand-written output-stationary array ({SOURCE.name}): int8 operands, int32 accumulators")
    print(" ".join(name.ljust(w) if i in (0, len(COLUMNS) - 1) else name.rjust(w)
                   for i, (name, w) in enumerate(COLUMNS)))
    records: list[dict[str, Any]] = []
    for rows, cols, mac in builds:
        label = f"{rows}x{cols} MAC{mac}"
        try:
            with tempfile.TemporaryDirectory(prefix="sasim-reference-") as scratch:
                root = Path(scratch) if args.keep is None else Path(args.keep) / label.replace(" ", "_")
                root.mkdir(parents=True, exist_ok=True)
                shutil.copy(SOURCE, root / SOURCE.name)
                (root / f"{TOP}.v").write_text(_top(rows, cols, mac), encoding="utf-8")
                r = synthesize_verilog(root, top=TOP, sources=[SOURCE.name, f"{TOP}.v"], manifest={},
                                       target=Target.ECP5, device=args.device, freq_mhz=args.freq,
                                       timeout_s=args.timeout, kept=args.keep is not None, seeds=args.seeds or ())
        except SasimError as exc:
            print(f"{label}: not synthesized: {exc}", flush=True)
            records.append({"array": label, "error": str(exc)})
            continue
        cells = r.resources.cells
        path = r.critical_path
        ends = "-" if path is None else f"{path.start} -> {path.end} ({path.delay_ns:.1f} ns)"
        values = [label, f"{cells.get('LUT4', 0):,}", f"{cells.get('CCU2C', 0):,}", f"{cells.get('TRELLIS_FF', 0):,}",
                  f"{cells.get('MULT18X18D', 0):,}", f"{cells.get('DP16KD', 0):,}",
                  "-" if r.fmax_mhz is None else f"{r.fmax_mhz:.1f}", f"{r.wall_s.get('yosys', 0):.1f}",
                  f"{r.wall_s.get('nextpnr', 0):.1f}", ends]
        print(" ".join(v.ljust(w) if i in (0, len(COLUMNS) - 1) else v.rjust(w)
                       for i, (v, (_, w)) in enumerate(zip(values, COLUMNS))), flush=True)
        record = {"array": label, **r.to_json()}
        if args.seeds is not None:
            record.update(seed_fields(label, r))
        records.append(record)
    for record in records:
        print(json.dumps(record, sort_keys=True))


if __name__ == "__main__":
    main()
