"""Simulator speed: wall time of `sasim run`'s fast mode against NumPy and across sizes.

1. A 512x768x768 int8 GEMM on a 32x32 weight-stationary systolic array (DRAM latency
   100 cycles, 16 words of 64 bits per cycle; 512 KiB global buffer in 32 banks;
   mapping preset ``ws``), next to the time NumPy alone takes to compute the product
   (``Workload.reference``: int64 einsum).
2. ResNet-50 (all 53 convolutions and the FC layer, batch 1) on 32x32 and 128x128
   ``multicast`` arrays (same DRAM, 512 KiB buffer), per layer the first of the
   mapping presets ``ws``, ``os``, ``is`` that applies (the batch-1 FC layer is a
   matrix-vector product: no weight reuse, so not ``ws``). Repeated layers are
   identical runs (same shapes, same mapping, deterministic): each distinct layer is
   simulated once and its cycles counted ``repeat`` times; the wall time reported is
   that of the distinct layers, and the time all 54 runs would take is given too.
3. Simulated cycles per wall second, and how wall time grows with steps and folds
   (square GEMMs on a 16x16 array).

Run: python benchmarks/sim_speed.py [--skip-resnet]
"""

from __future__ import annotations

import argparse
import time

from sasim.arch.presets import multicast, ws_systolic
from sasim.design import lower
from sasim.errors import SasimError
from sasim.mapping.network import load_network
from sasim.mapping.presets import build_mapping
from sasim.sim import simulate
from sasim.workload import gemm


def run(workload, arch, presets=("ws",)):  # type: ignore[no-untyped-def]
    for i, preset in enumerate(presets):
        try:
            mapping = build_mapping(preset, workload, arch)
            break
        except SasimError:
            if i == len(presets) - 1:
                raise
    design = lower(workload, arch, mapping)
    tensors = workload.random_tensors(seed=0)
    start = time.perf_counter()
    result = simulate(design, tensors)
    wall = time.perf_counter() - start
    assert result.outputs_match_reference
    return design, result, wall


def gemm_vs_numpy() -> None:
    arch = ws_systolic(rows=32, cols=32, dram_latency=100, dram_words_per_cycle=16, buffer_size="512KiB",
                       buffer_banks=32)
    wl = gemm(512, 768, 768)
    tensors = wl.random_tensors(seed=0)
    start = time.perf_counter()
    wl.reference(tensors)
    floor = time.perf_counter() - start
    design, result, wall = run(wl, arch)
    print("== GEMM 512x768x768 on 32x32, DRAM latency 100, 16 words/cycle ==")
    print(f"mapping {design.resolved_mapping().to_yaml_dict()}")
    print(f"simulated {result.cycles:,} cycles ({result.array_busy:,} steps, model error {result.model_error:+.1%}) "
          f"in {wall:.2f} s; NumPy alone {floor:.2f} s; ratio {wall / floor:.1f}x; "
          f"{result.cycles / wall:,.0f} simulated cycles/s")


def resnet(rows: int) -> None:
    arch = multicast(rows=rows, cols=rows, dram_latency=100, dram_words_per_cycle=16, buffer_size="512KiB",
                     buffer_banks=32)
    net = load_network("resnet50")
    total_cycles = total_wall = all_runs = 0.0
    stationary: dict[str, int] = {}
    for layer in net.layers:
        design, result, wall = run(layer.workload, arch, ("ws", "os", "is"))
        total_cycles += result.cycles * layer.repeat
        total_wall += wall
        all_runs += wall * layer.repeat
        key = f"{design.stationary} stationary"
        stationary[key] = stationary.get(key, 0) + layer.repeat
        print(f"  {layer.name:18s} x{layer.repeat}  {result.cycles:>10,} cycles  {wall:6.2f} s  "
              f"model {result.model_error:+.1%}", flush=True)
    print(f"== ResNet-50 on {rows}x{rows} ({len(net.layers)} distinct layers, "
          f"{sum(layer.repeat for layer in net.layers)} runs) ==")
    print(f"{total_cycles:,.0f} cycles; wall {total_wall:.1f} s for the distinct layers "
          f"({all_runs:.1f} s if every repeat were simulated); dataflows {stationary}")


def scaling() -> None:
    arch = ws_systolic(rows=16, cols=16, dram_latency=100, dram_words_per_cycle=16)
    print("== wall time against size (square GEMMs on 16x16) ==")
    print(f"{'size':>6} {'steps':>10} {'folds':>7} {'cycles':>11} {'wall s':>8} {'us/step':>8} {'cycles/s':>12}")
    for n in (64, 128, 256, 512):
        design, result, wall = run(gemm(n, n, n), arch)
        print(f"{n:>6} {result.array_busy:>10,} {result.model.latency.folds:>7,} {result.cycles:>11,} "
              f"{wall:>8.2f} {wall / result.array_busy * 1e6:>8.1f} {result.cycles / wall:>12,.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-resnet", action="store_true", help="only the GEMM and the size sweep")
    args = parser.parse_args()
    gemm_vs_numpy()
    scaling()
    if not args.skip_resnet:
        resnet(128)
        resnet(32)


if __name__ == "__main__":
    main()
