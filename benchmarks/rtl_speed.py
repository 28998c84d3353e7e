"""RTL simulation speed against the simulator, on the same designs (``sasim verify``).

For int8 GEMMs on 4x4 and 8x8 weight- and output-stationary arrays (8 KiB buffer,
DRAM latency 100 cycles, 4 words of 64 bits per cycle), runs the generated RTL under
cocotb on Icarus Verilog and on Verilator and reports, beside the cross-check's
verdict: the RTL's cycles, the wall time of the RTL run (after the build) and of the
build, the simulator's wall time for the same design (fast mode), and both speeds in
simulated cycles per wall second. Every row must say PASS (RTL == simulator).

Run: python benchmarks/rtl_speed.py [--simulators icarus,verilator]
"""

from __future__ import annotations

import argparse

from sasim.spec import load_spec
from sasim.verify import verify

DESIGNS = [
    ("gemm:M=32,N=32,K=32", "ws_systolic:rows=4,cols=4,buffer_size=8KiB", "ws"),
    ("gemm:M=32,N=32,K=32", "os_systolic:rows=4,cols=4,buffer_size=8KiB", "os"),
    ("gemm:M=32,N=32,K=32", "ws_systolic:rows=8,cols=8,buffer_size=8KiB", "ws"),
    ("gemm:M=32,N=32,K=32", "os_systolic:rows=8,cols=8,buffer_size=8KiB", "os"),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--simulators", default="icarus,verilator")
    args = parser.parse_args()
    print(f"{'design':<44} {'sim':<9} {'verdict':<7} {'cycles':>7} {'RTL s':>7} {'build s':>7} "
          f"{'sasim s':>8} {'RTL cyc/s':>10} {'sasim cyc/s':>12}")
    for workload, arch, mapping in DESIGNS:
        design = load_spec(None, {"workload": workload, "architecture": arch, "mapping": mapping}).design()
        for simulator in args.simulators.split(","):
            r = verify(design, simulator=simulator)
            label = f"{workload} {arch.split(':')[0]} {mapping} {design.architecture.array.rows}x" \
                    f"{design.architecture.array.cols}"
            print(f"{label:<44} {simulator:<9} {'PASS' if r.passed else 'FAIL':<7} {r.rtl_cycles:>7,} "
                  f"{r.rtl_wall_s:>7.2f} {r.build_wall_s:>7.2f} {r.sim_wall_s:>8.4f} "
                  f"{r.rtl_cycles / r.rtl_wall_s:>10,.0f} {r.sim_cycles / r.sim_wall_s:>12,.0f}", flush=True)


if __name__ == "__main__":
    main()
