"""Simulate a Design: the fast simulator by default, the golden one on request."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from enum import StrEnum

import numpy as np

from sasim.design.design import Design
from sasim.errors import SimulationError
from sasim.model import evaluate
from sasim.model.energy import energy_breakdown
from sasim.model.result import Accesses
from sasim.sim.fast import run_fast
from sasim.sim.golden import run_golden
from sasim.sim.machine import array_skew
from sasim.sim.result import SimResult

__all__ = ["Mode", "simulate"]

log = logging.getLogger(__name__)


class Mode(StrEnum):
    """``fast``: tile-level events, exact. ``golden``: one step per cycle, for small designs."""

    FAST = "fast"
    GOLDEN = "golden"


def simulate(
    design: Design,
    tensors: dict[str, np.ndarray] | None = None,
    *,
    seed: int = 0,
    mode: Mode | str = Mode.FAST,
    progress: Callable[[int, int], None] | None = None,
) -> SimResult:
    """Run ``design`` on ``tensors`` (random ones from ``seed`` if not given).

    ``progress(steps_done, steps_total)`` is called during long fast runs. The result
    carries the model's estimate and the comparison of the outputs with the
    workload's NumPy reference.
    """
    try:
        mode = Mode(mode)
    except ValueError:
        raise SimulationError(f"simulation mode must be one of {[m.value for m in Mode]}, not {mode!r}") from None
    wl = design.workload
    if tensors is None:
        tensors = wl.random_tensors(seed=seed)
    start = time.perf_counter()
    run = run_golden(design, tensors) if mode is Mode.GOLDEN else run_fast(design, tensors, progress=progress)
    wall = time.perf_counter() - start
    log.info("simulated %s steps in %.3f s (%s mode)", f"{run.array_busy:,}", wall, mode.value)
    model = evaluate(design)
    span = 0
    if len(run.step_cycles):
        preload = design.array_used[0] if design.stationary is not None else 0
        last_result = int(run.step_cycles[-1]) + array_skew(design) + design.architecture.pe.mac_latency
        span = last_result - (int(run.step_cycles[0]) - preload) + 1
    parts = energy_breakdown(design, run.counts, wl.macs)
    arr = design.architecture.array
    return SimResult(
        mode=mode.value,
        cycles=run.cycles,
        macs=wl.macs,
        utilization=wl.macs / (run.cycles * arr.rows * arr.cols) if run.cycles else 0.0,
        energy_pj=float(sum(parts.values())),
        energy_breakdown_pj={k: float(v) for k, v in parts.items()},
        accesses={lvl: {t: Accesses(**acts) for t, acts in sorted(ts.items())} for lvl, ts in run.counts.items()},
        stalls=dict(run.array_stalls),
        array_busy=run.array_busy,
        dram_busy=run.dram_busy,
        peak_occupancy=dict(run.peak_occupancy),
        outputs_match_reference=bool(np.array_equal(run.output, wl.reference(tensors))),
        model=model,
        wall_time_s=wall,
        step_cycles=run.step_cycles,
        output=run.output,
        array_span=span,
        engines=run.engines,
        regions=run.regions,
        step_macs=run.step_macs,
        step_wait=run.step_wait,
        step_cause=run.step_cause,
        data_stalls=run.data_stalls,
        bank_conflicts=dict(run.bank_conflicts),
        dram_latency_wait=run.dram_latency_wait,
        dram_queue_wait=run.dram_queue_wait,
    )
