"""Windows of array steps solved at once give exactly what issuing them one by one gives."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import assert_same_record, designs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sasim.arch.presets import multicast, os_systolic, ws_systolic
from sasim.design import lower
from sasim.design.design import Design
from sasim.mapping.presets import build_mapping
from sasim.sim import fast
from sasim.sim.window import _chain
from sasim.workload import conv2d, gemm


class _Spy:
    """Counts the windows the fast simulator solved, and those cut short by feedback."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.windows = self.short = self.steps = 0
        real = fast.issue_window

        def spy(array: Any, size: int) -> tuple[int, bool]:
            issued, short = real(array, size)
            self.windows += issued > 0
            self.short += short
            self.steps += issued
            return issued, short

        monkeypatch.setattr(fast, "issue_window", spy)


def _compare(design: Design, seed: int = 3) -> int:
    """Run both ways, assert every field equal; return the number of steps."""
    tensors = design.workload.random_tensors(seed=seed)
    one_by_one = fast.run_fast(design, tensors, windows=False)
    windowed = fast.run_fast(design, tensors)
    assert_same_record(windowed, one_by_one)
    assert np.array_equal(windowed.output, design.workload.reference(tensors))
    return len(windowed.step_cycles)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(designs())
def test_windows_equal_one_by_one_on_random_designs(design: Design) -> None:
    _compare(design)


_CASES = {
    # name: (architecture, workload, mapping preset)
    "ws gemm, edge tiles": (ws_systolic(rows=8, cols=8, dram_latency=20, buffer_size="16KiB"), gemm(130, 70, 50), "ws"),
    "os gemm, slow dram": (os_systolic(rows=4, cols=4, dram_words_per_cycle=1, buffer_size="16KiB"), gemm(64, 64, 64),
                           "os"),
    "multicast conv stride 2 dilation 2": (
        multicast(rows=4, cols=8, buffer_size="16KiB", mac_latency=3),
        conv2d(K=12, C=8, H=20, W=20, R=3, S=3, stride=2, dilation=2), "ws"),
    "multicast is gemm": (multicast(rows=3, cols=5, buffer_size="16KiB"), gemm(40, 24, 36), "is"),
}


@pytest.mark.parametrize("case", list(_CASES))
def test_windows_equal_one_by_one_on_presets(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    arch, wl, preset = _CASES[case]
    spy = _Spy(monkeypatch)
    steps = _compare(lower(wl, arch, build_mapping(preset, wl, arch)))
    assert spy.steps > steps // 2  # the windows did most of the work


def test_feedback_bound_stream_settles_for_exact_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    # One bank of 64 bits: 2 partial sums per cycle drain from the 4x4 array, so the output
    # edge buffer's room (a drain that waits for an earlier step) binds at every step and the
    # windows' fixed point keeps moving: they keep exact prefixes and hand over to the
    # step-by-step loop, and the result is still exactly the same.
    arch = ws_systolic(rows=4, cols=4, buffer_banks=1, dram_latency=20, buffer_size="16KiB")
    wl = gemm(64, 64, 64)
    spy = _Spy(monkeypatch)
    _compare(lower(wl, arch, build_mapping("ws", wl, arch)))
    assert spy.short > 0
    assert spy.windows > spy.short


@given(st.integers(-5, 5), st.lists(st.tuples(st.integers(0, 4), st.integers(-10, 40)), min_size=1, max_size=30))
def test_chain_solves_its_recurrence(first: int, terms: list[tuple[int, int]]) -> None:
    step = np.array([s for s, _ in terms], dtype=np.int64)
    floor = np.array([f for _, f in terms], dtype=np.int64)
    x, expected = first, []
    for s, f in terms:
        x = max(x + s, f)
        expected.append(x)
    assert _chain(first, step, floor).tolist() == expected
