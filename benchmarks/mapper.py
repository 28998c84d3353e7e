"""The mapper on published architectures: quality, speed, and the gap to a longer search.

For each architecture preset (eyeriss, simba, gemmini, tpu_v1) and each layer (two
BERT-base-sized GEMMs and three ResNet-50 convolutions), ``sasim.mapping.search`` is run
with its default effort (objective EDP, seed 0, 2 jobs) and timed. The reference is a
*long* search of the same map-space: 5x the structures, 2x the random rows, every
screened structure descended, longer descents and more refinement rounds, with other
seeds (default 1 and 2); the best EDP known for the space is the lowest EDP any run found.
The ``ws``/``os``/``is`` preset mappings are evaluated too (a dash where the architecture
cannot run that dataflow).

Run: python benchmarks/mapper.py [--jobs 2] [--no-long] [--arch NAME ...]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

from sasim.arch import build_architecture
from sasim.design import lower
from sasim.errors import SasimError
from sasim.mapping import build_mapping
from sasim.mapping.explore import Effort
from sasim.mapping.search import search
from sasim.model import evaluate
from sasim.workload import Workload, conv2d, gemm

LAYERS: dict[str, Workload] = {
    "gemm 3072x1024x4096": gemm(M=3072, N=1024, K=4096),
    "gemm 128x768x512": gemm(M=128, N=768, K=512),
    "resnet conv1 7x7/2": conv2d(K=64, C=3, H=224, W=224, R=7, S=7, stride=2, padding=3),
    "resnet s2 3x3 128@28": conv2d(K=128, C=128, H=28, W=28, R=3, S=3, padding=1),
    "resnet s4 1x1 2048>512@7": conv2d(K=512, C=2048, H=7, W=7, R=1, S=1),
}
ARCHS = ("eyeriss", "simba", "gemmini", "tpu_v1")


def long_effort() -> Effort:
    """The reference: every screened structure descended, rounds while they gain 0.1%."""
    base = Effort()
    return replace(base, max_structures=5 * base.max_structures, samples=2 * base.samples,
                   screen_steps=6, descend_top=1.0, deep_steps=120, refine_top=16, rounds=8, min_gain=0.001)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-long", action="store_true", help="skip the long reference searches")
    parser.add_argument("--arch", nargs="*", default=list(ARCHS))
    parser.add_argument("--long-seeds", type=int, nargs="*", default=[1, 2], help="seeds of the long searches")
    args = parser.parse_args()
    print("| arch | layer | EDP (pJ·cycles) | cycles | energy pJ | wall s | long-search EDP | gap | "
          "long wall s | ws EDP | os EDP | is EDP |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name in args.arch:
        arch = build_architecture(name)
        for label, wl in LAYERS.items():
            t = time.perf_counter()
            res = search(wl, arch, objective="edp", seed=0, jobs=args.jobs)
            wall = time.perf_counter() - t
            best = res.best
            known = best.edp
            long_txt = gap_txt = long_wall = "-"
            if not args.no_long:
                t = time.perf_counter()
                for seed in args.long_seeds:
                    ref = search(wl, arch, objective="edp", seed=seed, jobs=args.jobs, effort=long_effort())
                    known = min(known, ref.best.edp)
                long_wall = f"{time.perf_counter() - t:.1f}"
                long_txt = f"{known:.4g}"
                gap_txt = f"{(best.edp / known - 1) * 100:.2f}%"
            presets = []
            for preset in ("ws", "os", "is"):
                try:
                    r = evaluate(lower(wl, arch, build_mapping(preset, wl, arch)))
                    presets.append(f"{r.cycles * r.energy_pj:.4g}")
                except SasimError:
                    presets.append("-")
            print(f"| {name} | {label} | {best.edp:.4g} | {best.cycles:,} | {best.energy_pj:.4g} | {wall:.1f} | "
                  f"{long_txt} | {gap_txt} | {long_wall} | {' | '.join(presets)} |", flush=True)


if __name__ == "__main__":
    main()
