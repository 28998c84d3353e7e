"""The model's counting primitives against direct enumeration."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sasim.arch import Architecture, PEArray
from sasim.design import lower
from sasim.mapping.spec import Mapping
from sasim.model.nest import Nest
from sasim.workload import gemm, parse_index
from sasim.workload.projection import distinct_values


def _nest_for_m(size: int, factors: list[int]) -> Nest:
    """A GEMM whose dimension M is split over DRAM loops with ``factors`` (outer first)."""
    loops = " ".join(f"M={f}" for f in factors)
    design = lower(
        gemm(size, 1, 1),
        Architecture(array=PEArray(rows=1, cols=1)),
        Mapping.model_validate({"temporal": {"DRAM": loops}}),
    )
    return Nest.of(design)


def _brute_count(size: int, factors: list[int], include: list[bool]) -> int:
    strides = [math.prod(factors[i + 1 :]) for i in range(len(factors))]
    ranges = [range(f) if inc else range(1) for f, inc in zip(factors, include)]
    return sum(1 for idx in itertools.product(*ranges) if sum(i * s for i, s in zip(idx, strides)) < size)


@settings(max_examples=300, deadline=None)
@given(
    factors=st.lists(st.integers(1, 5), min_size=1, max_size=4),
    data=st.data(),
)
def test_count_equals_enumeration(factors: list[int], data: st.DataObject) -> None:
    total = math.prod(factors)
    # sizes for which every factor is needed (lowering rejects a never-used factor)
    outer = next((i for i, f in enumerate(factors) if f > 1), None)
    lo = math.prod(factors[outer + 1 :]) * (factors[outer] - 1) + 1 if outer is not None else 1
    size = data.draw(st.integers(max(lo, max(factors)), max(total, max(factors))))
    include = data.draw(st.lists(st.booleans(), min_size=len(factors), max_size=len(factors)))
    nest = _nest_for_m(size, factors)
    mask = np.zeros((1, len(nest.template.loops)), dtype=bool)
    js = nest.loops_of("M")
    mask[0, js] = include
    assert int(nest.count("M", mask)[0]) == _brute_count(size, factors, include)


def test_count_partial_edge_tile() -> None:
    # M = 10 as 4 x 3: tiles of 3, 3, 3 and 1; all 10 points exist
    nest = _nest_for_m(10, [4, 3])
    mask = np.ones((1, len(nest.template.loops)), dtype=bool)
    assert int(nest.count("M", mask)[0]) == 10
    mask[0, nest.loops_of("M")[1]] = False
    assert int(nest.count("M", mask)[0]) == 4


def test_extent_distribution_partial_tile() -> None:
    nest = _nest_for_m(10, [4, 3])
    boundary = nest.loops_of("M")[1]
    dist = [(int(e[0]), int(c[0])) for e, c in nest.extent_distribution("M", boundary)]
    assert dist == [(3, 3), (1, 1)]


@pytest.mark.parametrize("expr", ["P + R", "P*2 + R", "P*2 + R*2", "P*3 + R*2", "P + R*3"])
def test_distinct_values_equals_enumeration(expr: str) -> None:
    index = parse_index(expr)
    (a, b) = (t.coef for t in index.terms)
    for e1 in range(0, 7):
        for e2 in range(0, 7):
            expected = len({a * p + b * r for p in range(e1) for r in range(e2)})
            assert distinct_values(index, (e1, e2)) == expected, (expr, e1, e2)
