"""The array's drain values: the shared-tile path (one operand tile serving many events,
as a stationary operand does) computes exactly what the per-event path computes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sasim.sim.values as values
from sasim.arch.presets import os_systolic, ws_systolic
from sasim.design import lower
from sasim.mapping import build_mapping
from sasim.sim.fast import run_fast
from sasim.workload import conv2d, gemm


def _taken(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Record what :func:`values._shared_operand` decides for each group of events."""
    decisions: list[Any] = []
    real = values._shared_operand

    def spy(*args: Any) -> Any:
        out = real(*args)
        decisions.append(out)
        return out

    monkeypatch.setattr(values, "_shared_operand", spy)
    return decisions


CASES = {
    # weight-stationary: every weight tile serves all M rows
    "gemm_ws": (gemm(M=96, N=12, K=10, acc_bits=20), ws_systolic, "ws"),
    # a convolution with stride 2 and dilation 2: input offsets P*2 + R*2
    "conv_ws": (conv2d(K=6, C=5, H=23, W=23, R=3, S=3, stride=2, dilation=2), ws_systolic, "ws"),
    # sums of 64 int8 products overflow an 8-bit accumulator: the shared path wraps too
    "gemm_ws_wrap": (gemm(M=96, N=8, K=64, acc_bits=8), ws_systolic, "ws"),
    # output-stationary: no operand tile is shared enough, the per-event path runs
    "gemm_os": (gemm(M=20, N=12, K=40), os_systolic, "os"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_shared_tiles_give_the_reference_values(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    workload, preset, mapping = CASES[name]
    arch = preset(rows=4, cols=4)
    design = lower(workload, arch, build_mapping(mapping, workload, arch))
    tensors = workload.random_tensors(seed=3)
    decisions = _taken(monkeypatch)
    shared = run_fast(design, tensors).output
    assert decisions
    assert any(d is not None for d in decisions) == (name != "gemm_os")
    monkeypatch.setattr(values, "_MIN_SHARING", 1 << 40)  # every group through the per-event path
    per_event = run_fast(design, tensors).output
    assert np.array_equal(shared, per_event)
    assert np.array_equal(shared, workload.reference(tensors))


def test_shared_operand_needs_enough_sharing() -> None:
    bases = np.array([[m, 0, k] for m in range(40) for k in (0, 4)])  # (M, N, K) box origins
    columns = [[0, 2], [1, 2]]  # I uses M and K; W uses N and K
    which, groups = values._shared_operand(bases, columns) or (None, [])
    assert which == 1 and len(groups) == 2  # two W tiles (K = 0 and 4), 40 events each
    assert sorted(int(i) for g in groups for i in g) == list(range(len(bases)))
    assert all(len({tuple(bases[i, [1, 2]]) for i in g}) == 1 for g in groups)
    assert values._shared_operand(bases[:40], [[0, 2], [0, 1, 2]]) is None  # 20 events per tile: too few
