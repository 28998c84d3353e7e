"""Mapping evaluations per second of the analytical model.

A 1024x1024x1024 GEMM on a three-level architecture (DRAM -> 256 KiB global buffer
-> 16x16 PE array with registers). The structure (which loops exist at which level,
in which order) is fixed; the factors vary, as in a mapper's inner loop. Random
factor rows (perfect and imperfect) are evaluated in batches with
``sasim.model.evaluate_batch``; single-design ``evaluate`` is timed for comparison.

Run: python benchmarks/model_speed.py [--batch 8192] [--rounds 20]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sasim.arch import Architecture, Buffer, PEArray
from sasim.design import lower
from sasim.mapping.spec import Mapping
from sasim.model import evaluate, evaluate_batch
from sasim.workload import gemm


def random_factors(design, rng: np.random.Generator, batch: int) -> np.ndarray:
    """Random factor rows: every loop but a dimension's outermost gets a random factor,
    the outermost takes ceil(size / rest) so each dimension is covered."""
    loops = design.loops
    sizes = design.workload.dims
    arr = design.architecture.array
    f = np.ones((batch, len(loops)), dtype=np.int64)
    for dim, size in sizes.items():
        js = [j for j, lp in enumerate(loops) if lp.dim == dim]
        inner = np.ones(batch, dtype=np.int64)
        for j in reversed(js[1:]):
            limit = arr.rows if loops[j].axis is not None and loops[j].axis.value == "Y" else (
                arr.cols if loops[j].axis is not None else 64)
            f[:, j] = rng.integers(1, limit + 1, size=batch)
            inner *= f[:, j]
        f[:, js[0]] = np.maximum(1, -(-size // inner))
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    workload = gemm(1024, 1024, 1024)
    arch = Architecture(buffers=(Buffer(name="GLB", capacity="256KiB", banks=16),), array=PEArray(rows=16, cols=16))
    mapping = Mapping.model_validate({
        "temporal": {"DRAM": "M=* N=* K=*", "GLB": "N=4 K=4 M=64"},
        "spatial": {"Y": "K=16", "X": "N=16"},
    })
    design = lower(workload, arch, mapping)
    rng = np.random.default_rng(0)
    batches = [random_factors(design, rng, args.batch) for _ in range(args.rounds)]

    evaluate_batch(design, batches[0])  # warm-up
    start = time.perf_counter()
    valid = 0
    for f in batches:
        valid += int(evaluate_batch(design, f).valid.sum())
    elapsed = time.perf_counter() - start
    total = args.batch * args.rounds

    n_single = 200
    start = time.perf_counter()
    for _ in range(n_single):
        evaluate(design)
    single = (time.perf_counter() - start) / n_single

    sweep = []
    for size in (1, 16, 256, 4096):
        rows = random_factors(design, rng, size)
        reps = max(1, 20000 // size)
        start = time.perf_counter()
        for _ in range(reps):
            evaluate_batch(design, rows)
        sweep.append((size, size * reps / (time.perf_counter() - start)))

    print(f"workload: GEMM 1024^3; architecture: DRAM -> GLB 256 KiB -> 16x16 PEs; loops: {len(design.loops)}")
    print(f"batched:  {total} mappings in {elapsed:.3f} s = {total / elapsed:,.0f} mappings/s "
          f"(batch {args.batch}, {valid / total:.0%} valid)")
    print("by batch size: " + ", ".join(f"{b}: {r:,.0f}/s" for b, r in sweep))
    print(f"single:   evaluate(design) {single * 1e3:.3f} ms = {1 / single:,.0f} designs/s")


if __name__ == "__main__":
    main()
