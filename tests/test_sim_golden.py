"""The golden (per-cycle) simulator: real values, counts equal to the model."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import designs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# --- the program's tiles, computed for all events at once -----------------------------------------


def _tiles_one_by_one(el: np.ndarray, ids: np.ndarray, count: int) -> tuple[list[np.ndarray], np.ndarray]:
    """The definition: per event, the distinct elements, and the distinct (element, PE) pairs."""
    tiles, pe_sizes = [], np.zeros(count, dtype=np.int64)
    for e in range(count):
        block = el[ids == e]
        tiles.append(np.unique(block[block >= 0]))
        slot = np.broadcast_to(np.arange(el.shape[1]), block.shape)
        pe_sizes[e] = len({(int(x), int(s)) for x, s in zip(block[block >= 0], slot[block >= 0])})
    return tiles, pe_sizes


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 12), st.integers(1, 5), st.integers(1, 30), st.integers(0, 2**32 - 1))
def test_tiles_equal_their_definition(steps: int, pes: int, elements: int, seed: int) -> None:
    from sasim.sim.program import _tiles

    rng = np.random.default_rng(seed)
    el = rng.integers(-1, elements, size=(steps, pes))
    el[:, 0] = np.maximum(el[:, 0], 0)  # a program's steps are never empty
    ids = np.sort(rng.integers(0, 4, size=steps))
    ids = np.unique(ids, return_inverse=True)[1].astype(np.int64)  # events numbered 0.. in order
    count = int(ids[-1]) + 1
    tiles, pe_sizes = _tiles(el, ids, count, elements, at_pe=True)
    want_tiles, want_sizes = _tiles_one_by_one(el, ids, count)
    assert len(tiles) == count
    assert all(np.array_equal(a, b) for a, b in zip(tiles, want_tiles))
    assert np.array_equal(pe_sizes, want_sizes)

