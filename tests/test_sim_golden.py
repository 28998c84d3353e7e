"""The golden (per-cycle) simulator: real values, counts equal to the model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import designs
from hypothesis import HealthCheck, given, settings

from sasim.design.design import Design
from sasim.errors import SimulationError
from sasim.model import evaluate
from sasim.sim.golden import run_golden
from sasim.spec import load_spec


def _model_counts(design: Design) -> dict[str, dict[str, dict[str, int]]]:
    return {lvl: {t: a.to_dict() for t, a in ts.items()} for lvl, ts in evaluate(design).accesses.items()}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_golden_values_and_counts_equal_reference_and_model(design: Design) -> None:
    tensors = design.workload.random_tensors(seed=1)
    run = run_golden(design, tensors)
    assert np.array_equal(run.output, design.workload.reference(tensors))
    assert run.counts == _model_counts(design)
    assert run.array_busy == evaluate(design).latency.steps


@pytest.mark.parametrize("name", ["gemm_inline", "gemm_ws", "gemm_os", "conv_multicast", "depthwise"])
def test_golden_bundled_examples(name: str) -> None:
    design = load_spec(name, {}).design()
    tensors = design.workload.random_tensors(seed=7)
    run = run_golden(design, tensors)
    assert np.array_equal(run.output, design.workload.reference(tensors))
    assert run.counts == _model_counts(design)


def test_golden_refuses_huge_designs_wrong() -> None:
    design = load_spec("tpu_gemm", {}).design()
    with pytest.raises(SimulationError) as info:
        run_golden(design, design.workload.random_tensors(seed=0))
    assert str(info.value) == (
        "the golden simulator walks every iteration point and this design has 4,294,967,296 "
        "(limit 2,000,000); use the fast mode for designs this large"
    )
