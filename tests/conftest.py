"""Shared fixtures, helpers and hypothesis strategies for the sasim test suite.

The strategies build small random designs: a workload from every builder, an
architecture with 0-2 buffers and a 1-4 x 1-4 array, and a mapping that splits each
dimension into 1-3 loops (perfect or imperfect factors) at random levels, in random
orders, some spatial. ``designs()`` lowers them and rejects (``assume``) what lowering
refuses, recording the outcome as a hypothesis ``event`` (see
``pytest --hypothesis-show-statistics``).
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, event
from hypothesis import strategies as st
from oracle import MAX_NEST_ITERATIONS  # noqa: E402

from sasim.arch.architecture import PE, Architecture, Buffer, BufferSemantics, PEArray  # noqa: E402
from sasim.design import Design, lower  # noqa: E402
from sasim.errors import SasimError  # noqa: E402
from sasim.mapping.spec import Mapping  # noqa: E402
from sasim.workload import Role, Workload, batched_gemm, conv2d, depthwise_conv2d, einsum, gemm  # noqa: E402

# Workloads stay small: the oracle visits every point.
MAX_MACS = 2000
MAX_SIZE = 6
# Registers and capacities large enough that capacity never rejects a random design.
BIG_REGISTERS = 1 << 16
BIG_CAPACITY = 1 << 24

WORKLOAD_KINDS = ("gemm", "batched_gemm", "conv2d", "depthwise_conv2d", "einsum")
EINSUM_EQUATIONS = (
    "mk,kn->mn",
    "mk,nk->mn",
    "abc,cd->abd",
    "xy,y->x",
    "x,y->xy",
    "ab,b->ab",
    "bmk,bkn->bmn",
)


# --- plain helpers ------------------------------------------------------------------------


def make_arch(rows: int = 1, cols: int = 1, buffers: tuple[Buffer, ...] = (), **pe: int) -> Architecture:
    """An architecture with big PE registers unless given (``input_registers=...``)."""
    regs = {"input_registers": BIG_REGISTERS, "weight_registers": BIG_REGISTERS, "output_registers": BIG_REGISTERS}
    regs.update(pe)
    return Architecture(buffers=buffers, array=PEArray(rows=rows, cols=cols), pe=PE(**regs))


def buffer(name: str, holds: tuple[str, ...] = ("input", "weight", "output"), capacity: int = BIG_CAPACITY,
           semantics: str = "buffet") -> Buffer:
    return Buffer(
        name=name, capacity=capacity, holds=tuple(Role(h) for h in holds), semantics=BufferSemantics(semantics)
    )


def make_design(workload: Workload, arch: Architecture, **mapping: Any) -> Design:
    """Lower ``workload`` on ``arch`` with ``Mapping(**mapping)`` (loops may be strings)."""
    return lower(workload, arch, Mapping.model_validate(mapping))


@pytest.fixture
def arch_1x1() -> Architecture:
    return make_arch(1, 1)


@pytest.fixture
def arch_2x2() -> Architecture:
    return make_arch(2, 2)


@pytest.fixture
def gemm444() -> Workload:
    return gemm(4, 4, 4)


# --- workloads ----------------------------------------------------------------------------

sizes = st.integers(1, MAX_SIZE)
bits = st.integers(4, 16)
acc_bits = st.integers(8, 64)


def _min_input(kernel: int, dilation: int, padding: int) -> int:
    """Smallest unpadded input size that leaves at least one output."""
    return max(1, dilation * (kernel - 1) + 1 - 2 * padding)


@st.composite
def conv_params(draw: st.DrawFn) -> dict[str, int]:
    stride = draw(st.integers(1, 2))
    dilation = draw(st.integers(1, 2))
    padding = draw(st.integers(0, 2))
    R, S = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    hmin, wmin = _min_input(R, dilation, padding), _min_input(S, dilation, padding)
    H = draw(st.integers(hmin, hmin + 4))
    W = draw(st.integers(wmin, wmin + 4))
    N = draw(st.integers(1, 2))
    return dict(N=N, H=H, W=W, R=R, S=S, stride=stride, dilation=dilation, padding=padding)


@st.composite
def workloads(draw: st.DrawFn, kinds: tuple[str, ...] = WORKLOAD_KINDS) -> Workload:
    kind = draw(st.sampled_from(kinds))
    b, acc = draw(bits), draw(acc_bits)
    if kind == "gemm":
        w = gemm(draw(sizes), draw(sizes), draw(sizes), bits=b, acc_bits=acc)
    elif kind == "batched_gemm":
        w = batched_gemm(draw(st.integers(1, 3)), draw(sizes), draw(sizes), draw(sizes), bits=b, acc_bits=acc)
    elif kind == "conv2d":
        w = conv2d(K=draw(st.integers(1, 3)), C=draw(st.integers(1, 3)), **draw(conv_params()), bits=b, acc_bits=acc)
    elif kind == "depthwise_conv2d":
        w = depthwise_conv2d(C=draw(st.integers(1, 3)), **draw(conv_params()), bits=b, acc_bits=acc)
    else:
        eq = draw(st.sampled_from(EINSUM_EQUATIONS))
        letters = sorted(set(eq) - set(",->"))
        w = einsum(eq, {ch: draw(sizes) for ch in letters}, bits=b, acc_bits=acc)
    assume(w.macs <= MAX_MACS)
    event(f"workload: {kind}")
    return w


# --- architectures ------------------------------------------------------------------------


@st.composite
def architectures(draw: st.DrawFn) -> Architecture:
    buffers = []
    for name in ("GLB", "L1")[: draw(st.integers(0, 2))]:
        holds = draw(st.lists(st.sampled_from(["input", "weight", "output"]), min_size=1, max_size=3, unique=True))
        semantics = draw(st.sampled_from(["buffet", "double_buffer"]))
        buffers.append(buffer(name, tuple(holds), semantics=semantics))
    return make_arch(draw(st.integers(1, 4)), draw(st.integers(1, 4)), tuple(buffers))


# --- mappings -----------------------------------------------------------------------------


@st.composite
def mappings(draw: st.DrawFn, workload: Workload, arch: Architecture) -> dict[str, Any]:
    """A mapping dict for ``Mapping.model_validate``. Factors are drawn inner to outer per
    dimension so that (almost) every mapping lowers: a factor never exceeds the size, a
    factor above 1 only where the loops inside do not yet cover the dimension, the
    outermost loop covers what is left (sometimes more: wholly empty iterations) and
    spatial factors stay within the array (a spatial outermost loop that cannot cover the
    rest gets a DRAM loop ``DIM=*`` above it)."""
    levels = arch.level_names
    places = [*levels, "Y", "X"]
    placed: dict[str, list[str]] = {p: [] for p in places}
    for dim in workload.dims:
        for _ in range(draw(st.integers(1, 3))):
            placed[draw(st.sampled_from(places))].append(dim)
    for p in places:
        placed[p] = list(draw(st.permutations(placed[p])))
    # The nest, outer to inner: DRAM, buffers, spatial Y then X, then PE. [place, dim, factor]
    nest: list[list[Any]] = [[p, d, 1] for p in (*levels[:-1], "Y", "X", "PE") for d in placed[p]]
    axis_size = {"Y": arch.array.rows, "X": arch.array.cols}
    axis_used = {"Y": 1, "X": 1}
    for dim, size in workload.dims.items():
        loops = [lp for lp in nest if lp[1] == dim]
        inner = 1
        for n, lp in enumerate(reversed(loops)):
            place = lp[0]
            spatial = place in axis_size
            limit = min(size, axis_size[place] // axis_used[place]) if spatial else size
            if inner >= size:
                f: int | str = 1
            elif n == len(loops) - 1:  # the outermost loop of dim
                lo = -(-size // inner)
                if lo > limit:
                    f = draw(st.integers(1, limit))
                    dram = [i for i, x in enumerate(nest) if x[0] == "DRAM"]
                    at = draw(st.sampled_from([*dram, len(dram)]))
                    nest.insert(at, ["DRAM", dim, "*"])
                elif not spatial and draw(st.integers(0, 5)) == 0:
                    f = "*"
                else:
                    f = draw(st.one_of(st.just(lo), st.integers(lo, limit)))
            else:
                f = draw(st.integers(1, limit))
            if spatial:
                axis_used[place] *= int(f)
            inner *= -(-size // inner) if f == "*" else int(f)
            lp[2] = f
    temporal = {p: [{"dim": d, "factor": f} for q, d, f in nest if q == p] for p in levels}
    spatial_loops = {ax: [{"dim": d, "factor": f} for q, d, f in nest if q == ax] for ax in ("X", "Y")}
    bypass = {}
    for buf in arch.buffers:
        held = [t for t, spec in workload.tensors.items() if spec.role in buf.holds]
        skip = draw(st.lists(st.sampled_from(held), unique=True, max_size=len(held)))
        if skip:
            bypass[buf.name] = skip
    return {
        "temporal": {p: loops for p, loops in temporal.items() if loops},
        "spatial": {ax: loops for ax, loops in spatial_loops.items() if loops},
        "bypass": bypass,
    }


def _rule(message: str) -> str:
    """A message without its field path and values, to group rejections in statistics."""
    return re.sub(r"[0-9]+|'[^']*'|\[[^]]*\]", "_", message.split(": ", 1)[-1])[:60]


@st.composite
def designs(draw: st.DrawFn, kinds: tuple[str, ...] | None = None) -> Design:
    """A random small Design that lowering accepts."""
    workload = draw(workloads(kinds) if kinds else workloads())
    arch = draw(architectures())
    mapping = draw(mappings(workload, arch))
    try:
        design = lower(workload, arch, Mapping.model_validate(mapping))
    except SasimError as exc:
        event(f"rejected by lowering: {type(exc).__name__}: {_rule(str(exc))}")
        assume(False)
        raise  # unreachable
    iterations = math.prod(lp.factor for lp in design.loops)
    if iterations > MAX_NEST_ITERATIONS:
        event("rejected: nest too large for the oracle")
        assume(False)
    event("valid design")
    _describe_events(design)
    return design


def _describe_events(design: Design) -> None:
    """Label what a valid design exercises, for ``--hypothesis-show-statistics``."""
    sizes_ = design.workload.dims
    cover: dict[str, int] = {d: 1 for d in sizes_}
    for lp in design.loops:
        cover[lp.dim] *= lp.factor
    if any(cover[d] != sizes_[d] for d in sizes_):
        event("has imperfect factors")
    if design.spatial_loops():
        event("has spatial loops")
    if len(design.levels) > 2:
        event("has buffers")
    if any(t not in lvl.keeps for lvl in design.levels[1:-1] for t in design.workload.tensors
           if design.workload.tensors[t].role in design.architecture.buffers[lvl.index - 1].holds):
        event("has bypass")


def assert_same_record(a: Any, b: Any, path: str = "record") -> None:
    """Every field of two run records equal, down to each trace entry."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        for f in dataclasses.fields(a):
            assert_same_record(getattr(a, f.name), getattr(b, f.name), f"{path}.{f.name}")
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), path
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_record(x, y, f"{path}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            assert_same_record(a[k], b[k], f"{path}[{k!r}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
