"""Simulator speed: wall time of `sasim run`'s fast mode against NumPy and across sizes.

1. A 512x768x768 int8 GEMM on a 32x32 weight-stationary systolic array (DRAM latency
   100 cycles, 16 words of 64 bits per cycle; 512 KiB global buffer in 32 banks;
   mapping preset ``ws``), next to the time NumPy alone takes to compute the exact integer
   product: ``np.einsum("mk,kn->mn")`` on int64 (NumPy's plain loop; its optimizer's
   batched path takes about 3 times longer on integers), best of 3. For context, ``@`` on
   int64 and the product in float64 on BLAS (exact here, and what ``Workload.reference``
   uses when it is) are printed too. The simulation is timed 3 times
   in this process: the first run, and the best.
2. ResNet-50 (all 53 convolutions and the FC layer, batch 1) on 32x32 and 128x128
   ``multicast`` arrays (same DRAM, 512 KiB buffer) with ``simulate_network`` on 2 worker
   processes, per layer the first of the mapping presets ``ws``, ``os``, ``is`` that
   applies (the batch-1 FC layer is a matrix-vector product: no weight reuse, so not
   ``ws``). Layers of the same shape and mapping are identical runs (deterministic,
   data-independent timing and counts): each is simulated once and counted ``repeat``
   times. Reported: the wall time of those distinct runs in parallel, and of all 54 runs
   (``dedupe=False``: every layer instance simulated on its own, as without the sharing).
3. Simulated cycles per wall second, and how wall time grows with steps and folds
   (square GEMMs on a 16x16 array).

Run: python benchmarks/sim_speed.py [--skip-resnet] [--only-resnet]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sasim.arch.presets import multicast, ws_systolic
from sasim.design import lower
from sasim.errors import SasimError
from sasim.mapping.network import load_network
from sasim.mapping.presets import build_mapping
from sasim.sim import simulate, simulate_network
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


def _best(f, times: int = 3) -> float:  # type: ignore[no-untyped-def]
    walls = []
    for _ in range(times):
        start = time.perf_counter()
        f()
        walls.append(time.perf_counter() - start)
    return min(walls)


def gemm_vs_numpy() -> None:
    arch = ws_systolic(rows=32, cols=32, dram_latency=100, dram_words_per_cycle=16, buffer_size="512KiB",
                       buffer_banks=32)
    wl = gemm(512, 768, 768)
    tensors = wl.random_tensors(seed=0)
    a, b = (tensors[t].astype(np.int64) for t in ("I", "W"))
    floor = _best(lambda: np.einsum("mk,kn->mn", a, b))
    matmul = _best(lambda: a @ b)
    blas = _best(lambda: a.astype(np.float64) @ b.astype(np.float64))
    design, result, first = run(wl, arch)
    best = min([first] + [run(wl, arch)[2] for _ in range(2)])
    print("== GEMM 512x768x768 on 32x32, DRAM latency 100, 16 words/cycle ==")
    print(f"mapping {design.resolved_mapping().to_yaml_dict()}")
    print(f"simulated {result.cycles:,} cycles ({result.array_busy:,} steps, model error {result.model_error:+.1%}) "
          f"in {first:.2f} s (first run), {best:.2f} s (best of 3); NumPy int64 einsum {floor:.2f} s: ratio "
          f"{first / floor:.1f}x ({best / floor:.1f}x); int64 @ {matmul:.2f} s; float64 BLAS {blas:.3f} s; "
          f"{result.cycles / best:,.0f} simulated cycles/s")


def resnet(rows: int, jobs: int = 2) -> None:
    arch = multicast(rows=rows, cols=rows, dram_latency=100, dram_words_per_cycle=16, buffer_size="512KiB",
                     buffer_banks=32)
    net = load_network("resnet50")
    presets = ["ws", "os", "is"]
    result = simulate_network(net, arch, mappings=presets, jobs=jobs)
    assert result.outputs_match_reference
    every = simulate_network(net, arch, mappings=presets, jobs=jobs, dedupe=False)
    assert every.cycles == result.cycles
    dataflows: dict[str, int] = {}
    for lr in result.layers:
        dataflows[lr.mapping_source] = dataflows.get(lr.mapping_source, 0) + lr.layer.repeat
        wall = f"{lr.run.wall_time_s:6.2f} s" if lr.shared_with is None else f"= {lr.shared_with}"
        print(f"  {lr.layer.name:18s} x{lr.layer.repeat}  {lr.run.cycles:>10,} cycles  {wall:>8s}  "
              f"model {lr.run.model_error:+.1%}", flush=True)
    instances = sum(layer.repeat for layer in net.layers)
    print(f"== ResNet-50 on {rows}x{rows} ({len(net.layers)} layers, {instances} with repeats; {result.runs} distinct "
          f"runs) on {jobs} processes ==")
    print(f"{result.cycles:,} cycles, model error {result.model_error:+.1%}; presets {dataflows}")
    print(f"wall {result.wall_time_s:.1f} s for the {result.runs} distinct runs ({result.simulation_time_s:.1f} s of "
          f"simulation); {every.wall_time_s:.1f} s for all {every.runs} runs ({every.simulation_time_s:.1f} s of "
          "simulation)")


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
    parser.add_argument("--only-resnet", action="store_true", help="only ResNet-50")
    args = parser.parse_args()
    if not args.only_resnet:
        gemm_vs_numpy()
        scaling()
    if not args.skip_resnet:
        resnet(128)
        resnet(32)


if __name__ == "__main__":
    main()
