"""Confirming mappings in simulation: ``sasim map --verify-top K``.

Each mapping is lowered and run by the cycle-level simulator (fast mode) on random
inputs; the report says whether its outputs match the NumPy reference, whether the
simulator's access counts equal the model's, and how far the model's cycle estimate is
from the simulated count.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sasim.arch.architecture import Architecture
from sasim.design import lower
from sasim.errors import SimulationError
from sasim.mapping.spec import Mapping
from sasim.workload.workload import Workload

__all__ = ["Verification", "verify_mappings"]


@dataclass(frozen=True)
class Verification:
    """One mapping confirmed (or not) in simulation."""

    compact: str
    model_cycles: int
    sim_cycles: int | None  # None: not simulated (see ``refused``)
    outputs_match_reference: bool
    counts_match_model: bool
    wall_s: float
    refused: str | None = None  # why the simulator refused it

    @property
    def model_error(self) -> float | None:
        """(model - simulated) / simulated cycles."""
        if not self.sim_cycles:
            return None
        return (self.model_cycles - self.sim_cycles) / self.sim_cycles

    @property
    def ok(self) -> bool:
        return self.refused is None and self.outputs_match_reference and self.counts_match_model


def verify_mappings(
    workload: Workload,
    architecture: Architecture,
    mappings: Sequence[tuple[str, Mapping]],
    *,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> list[Verification]:
    """Simulate each ``(compact name, mapping)``; a mapping the simulator refuses (too many
    steps) is reported with the reason rather than stopping the others."""
    from sasim.sim import simulate  # the simulator imports the model; keep mapping importable alone

    tensors = workload.random_tensors(seed=seed)
    out = []
    for i, (compact, mapping) in enumerate(mappings):
        design = lower(workload, architecture, mapping)
        start = time.perf_counter()
        try:
            result = simulate(design, tensors)
        except SimulationError as exc:
            from sasim.model import evaluate

            out.append(Verification(compact, evaluate(design).cycles, None, False, False,
                                    time.perf_counter() - start, refused=str(exc)))
        else:
            out.append(Verification(
                compact, result.model.cycles, result.cycles, result.outputs_match_reference,
                result.accesses == result.model.accesses, time.perf_counter() - start,
            ))
        if progress is not None:
            progress(i + 1, len(mappings))
    return out
