"""Workloads: shapes, reference values against literal Python loops, random tensors,
index projections, and every bad-input path with its exact message."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sasim.errors import SpecError, WorkloadError
from sasim.validation import parse_model
from sasim.workload import (
    IndexExpr,
    TensorSpec,
    Term,
    Workload,
    batched_gemm,
    build_workload,
    conv2d,
    depthwise_conv2d,
    distinct_values,
    einsum,
    gemm,
    parse_index,
    wrap,
)


def wrap_int(value: int, bits: int) -> int:
    """Two's-complement wrap of one Python integer."""
    half = 1 << (bits - 1)
    return (value + half) % (1 << bits) - half


def out_size(size: int, pad: int, kernel: int, stride: int, dilation: int) -> int:
    return (size + 2 * pad - dilation * (kernel - 1) - 1) // stride + 1


def padded_input(w: Workload, x: np.ndarray, pad: int) -> np.ndarray:
    """The stored input for unpadded ``x`` (N, C, H, W): ``pad`` zeros before, zeros after,
    cropped or extended to the workload's shape."""
    stored = np.zeros(w.shape("I"), dtype=np.int64)
    for n, c, h, col in itertools.product(*(range(s) for s in stored.shape)):
        hh, ww = h - pad, col - pad
        if 0 <= hh < x.shape[2] and 0 <= ww < x.shape[3]:
            stored[n, c, h, col] = x[n, c, hh, ww]
    return stored


def x_at(x: np.ndarray, n: int, c: int, h: int, col: int) -> int:
    """``x[n, c, h, col]`` with zeros outside (the padding)."""
    if 0 <= h < x.shape[2] and 0 <= col < x.shape[3]:
        return int(x[n, c, h, col])
    return 0


# --- reference values vs literal loops ----------------------------------------------------


def test_gemm_reference_matches_loops_and_wraps_at_8_bits():
    w = gemm(3, 4, 5, bits=8, acc_bits=8)
    t = w.random_tensors(seed=1)
    expect = np.zeros((3, 4), dtype=np.int64)
    raw = {}
    for m, n in itertools.product(range(3), range(4)):
        raw[m, n] = sum(int(t["I"][m, k]) * int(t["W"][k, n]) for k in range(5))
        expect[m, n] = wrap_int(raw[m, n], 8)
    assert any(not -128 <= v <= 127 for v in raw.values())  # the wrap really matters here
    assert np.array_equal(w.reference(t), expect)


def test_reference_is_exact_at_extreme_values():
    # 16-bit operands at their extremes: every partial sum stays below 2^53, so the
    # contraction runs in float64 (on BLAS) and must still be exact.
    w = gemm(2, 3, 600, bits=16, acc_bits=48)
    rng = np.random.default_rng(3)
    t = {"I": rng.choice([-32768, 32767, -32767], size=(2, 600)), "W": rng.choice([-32768, 32767], size=(600, 3))}
    t["I"][0, :] = -32768
    t["W"][:, 0] = -32768
    expect = np.zeros((2, 3), dtype=np.int64)
    for m, n in itertools.product(range(2), range(3)):
        expect[m, n] = wrap_int(sum(int(t["I"][m, x]) * int(t["W"][x, n]) for x in range(600)), 48)
    assert np.array_equal(w.reference(t), expect)


def test_reference_is_exact_where_float_could_round():
    # About 10^7 products near 2^30 sum past 2^53, where float64 no longer holds every
    # integer: the contraction must run in int64.
    k = (1 << 23) + (1 << 21)
    w = gemm(1, 1, k, bits=16, acc_bits=64)
    rng = np.random.default_rng(5)
    t = {"I": rng.integers(30_000, 32_767, size=(1, k)), "W": rng.integers(30_000, 32_767, size=(k, 1))}
    t["W"][0, 0] = 30_001
    if int((t["I"][0] * t["W"][:, 0]).sum()) % 2 == 0:
        t["I"][0, 0] += 1  # adds an odd product: the sum becomes odd
    exact = int((t["I"][0] * t["W"][:, 0]).sum())  # int64 holds it: below 2^63
    assert exact > 1 << 53 and exact % 2 == 1  # no float64 equals an odd integer above 2^53
    assert w.reference(t).tolist() == [[wrap_int(exact, 64)]]


def test_batched_gemm_reference_matches_loops():
    w = batched_gemm(2, 3, 2, 4, bits=6, acc_bits=12)
    t = w.random_tensors(seed=2)
    expect = np.zeros((2, 3, 2), dtype=np.int64)
    for b, m, n in itertools.product(range(2), range(3), range(2)):
        expect[b, m, n] = wrap_int(sum(int(t["I"][b, m, k]) * int(t["W"][b, k, n]) for k in range(4)), 12)
    assert np.array_equal(w.reference(t), expect)


@pytest.mark.parametrize(
    "H, W, R, S, stride, dilation, padding",
    [(5, 6, 3, 2, 1, 1, 0), (7, 6, 3, 3, 2, 1, 1), (7, 7, 2, 3, 2, 2, 2), (6, 6, 3, 3, 2, 1, 0), (4, 5, 1, 2, 1, 2, 1)],
)
def test_conv2d_reference_matches_textbook_loops(H, W, R, S, stride, dilation, padding):
    N, K, C = 2, 2, 3
    w = conv2d(K=K, C=C, H=H, W=W, R=R, S=S, N=N, stride=stride, dilation=dilation, padding=padding,
               bits=8, acc_bits=8)
    P, Q = out_size(H, padding, R, stride, dilation), out_size(W, padding, S, stride, dilation)
    assert (w.dims["P"], w.dims["Q"]) == (P, Q)
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 128, size=(N, C, H, W))
    wt = rng.integers(-128, 128, size=(K, C, R, S))
    out = w.reference({"I": padded_input(w, x, padding), "W": wt})
    expect = np.zeros((N, K, P, Q), dtype=np.int64)
    for n, k, p, q in itertools.product(range(N), range(K), range(P), range(Q)):
        total = 0
        for c, r, s in itertools.product(range(C), range(R), range(S)):
            h, col = p * stride + r * dilation - padding, q * stride + s * dilation - padding
            total += x_at(x, n, c, h, col) * int(wt[k, c, r, s])
        expect[n, k, p, q] = wrap_int(total, 8)
    assert np.array_equal(out, expect)


def test_depthwise_reference_matches_textbook_loops():
    N, C, H, W, R, S, stride, dilation, padding = 1, 3, 6, 5, 3, 2, 2, 1, 1
    w = depthwise_conv2d(C=C, H=H, W=W, R=R, S=S, N=N, stride=stride, dilation=dilation, padding=padding,
                         bits=5, acc_bits=8)
    P, Q = out_size(H, padding, R, stride, dilation), out_size(W, padding, S, stride, dilation)
    rng = np.random.default_rng(4)
    x = rng.integers(-16, 16, size=(N, C, H, W))
    wt = rng.integers(-16, 16, size=(C, R, S))
    out = w.reference({"I": padded_input(w, x, padding), "W": wt})
    expect = np.zeros((N, C, P, Q), dtype=np.int64)
    for n, c, p, q in itertools.product(range(N), range(C), range(P), range(Q)):
        total = 0
        for r, s in itertools.product(range(R), range(S)):
            h, col = p * stride + r * dilation - padding, q * stride + s * dilation - padding
            total += x_at(x, n, c, h, col) * int(wt[c, r, s])
        expect[n, c, p, q] = wrap_int(total, 8)
    assert np.array_equal(out, expect)


@pytest.mark.parametrize(
    "equation", ["mk,kn->mn", "mk,nk->mn", "abc,cd->abd", "xy,y->x", "x,y->xy", "ab,b->ab", "ab,bc->c"]
)
def test_einsum_reference_matches_loops(equation):
    letters = sorted(set(equation) - set(",->"))
    sizes = {ch: 2 + i % 3 for i, ch in enumerate(letters)}
    w = einsum(equation, sizes, bits=8, acc_bits=16)
    t = w.random_tensors(seed=5)
    a, rest = equation.split(",")
    b, o = rest.split("->")
    expect = np.zeros(tuple(sizes[ch] for ch in o), dtype=np.int64)
    for values in itertools.product(*(range(sizes[ch]) for ch in letters)):
        at = dict(zip(letters, values))
        i, wt = t["I"][tuple(at[ch] for ch in a)], t["W"][tuple(at[ch] for ch in b)]
        expect[tuple(at[ch] for ch in o)] += int(i) * int(wt)
    assert np.array_equal(w.reference(t), wrap(expect, 16))


def test_wrap_is_twos_complement():
    values = np.array([127, 128, -128, -129, 255, 256, -256, 1000], dtype=np.int64)
    assert wrap(values, 8).tolist() == [127, -128, -128, 127, -1, 0, 0, -24]
    assert wrap(np.array([1 << 62]), 64).tolist() == [1 << 62]


# --- shapes and random tensors ------------------------------------------------------------


def test_builder_shapes():
    assert [gemm(2, 3, 4).shape(t) for t in "IWO"] == [(2, 4), (4, 3), (2, 3)]
    assert [batched_gemm(5, 2, 3, 4).shape(t) for t in "IWO"] == [(5, 2, 4), (5, 4, 3), (5, 2, 3)]
    c = conv2d(K=4, C=3, H=7, W=7, R=3, S=2, N=2, stride=2, dilation=1, padding=1)
    assert c.dims == {"N": 2, "K": 4, "C": 3, "P": 4, "Q": 4, "R": 3, "S": 2}
    # Stored input: the touched rows, (P-1)*2 + (R-1) + 1 = 9 = 1 + 7 + 1 padding, and
    # columns (Q-1)*2 + (S-1) + 1 = 8 = 1 + 7 + 0 (the high padding column is never read).
    assert [c.shape(t) for t in "IWO"] == [(2, 3, 9, 8), (4, 3, 3, 2), (2, 4, 4, 4)]
    assert c.tensors["I"].padding == ((0, 0), (0, 0), (1, 1), (1, 0))
    d = depthwise_conv2d(C=3, H=5, W=5, R=3, S=3, dilation=2)
    assert [d.shape(t) for t in "IWO"] == [(1, 3, 5, 5), (3, 3, 3), (1, 3, 1, 1)]
    assert d.tensors["I"].padding is None
    e = einsum("abc,cd->abd", {"a": 2, "B": 3, "c": 4, "d": 5})
    assert e.dims == {"A": 2, "B": 3, "C": 4, "D": 5}
    assert [e.shape(t) for t in "IWO"] == [(2, 3, 4), (4, 5), (2, 3, 5)]


def test_conv_drops_input_rows_no_output_touches():
    # H=6, R=3, stride 2: outputs touch rows 0..4 only; row 5 is not stored.
    c = conv2d(K=1, C=1, H=6, W=6, R=3, S=3, stride=2)
    assert c.shape("I") == (1, 1, 5, 5)
    assert c.tensors["I"].padding is None


def test_random_tensors_cover_the_signed_range_and_zero_padding():
    w = conv2d(K=2, C=4, H=9, W=8, R=3, S=3, N=2, padding=2, bits=4, dilation=2, stride=1)
    t = w.random_tensors(seed=7)
    i = t["I"]
    assert i.shape == w.shape("I") and t["W"].shape == w.shape("W")
    lo_h, hi_h = w.tensors["I"].padding[2]
    lo_w, hi_w = w.tensors["I"].padding[3]
    assert (lo_h, hi_h, lo_w, hi_w) == (2, 2, 2, 2)
    interior = i[:, :, lo_h : i.shape[2] - hi_h, lo_w : i.shape[3] - hi_w]
    assert interior.min() == -8 and interior.max() == 7
    assert not i[:, :, :lo_h].any() and not i[:, :, i.shape[2] - hi_h :].any()
    assert not i[:, :, :, :lo_w].any() and not i[:, :, :, i.shape[3] - hi_w :].any()
    assert t["W"].min() == -8 and t["W"].max() == 7
    assert set(t) == {"I", "W"}


def test_random_tensors_depend_on_the_seed_only():
    w = gemm(4, 4, 4)
    a, b, c = w.random_tensors(seed=1), w.random_tensors(seed=1), w.random_tensors(seed=2)
    assert np.array_equal(a["I"], b["I"]) and not np.array_equal(a["I"], c["I"])


# --- index projections --------------------------------------------------------------------


def test_parse_index_forms():
    assert parse_index("M") == IndexExpr((Term("M", 1),))
    assert parse_index("P*2 + R") == IndexExpr((Term("P", 2), Term("R", 1)))
    assert parse_index(" 2*P+3*R ") == IndexExpr((Term("P", 2), Term("R", 3)))
    assert str(parse_index("2*P + R*3")) == "P*2 + R*3"


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(0, 7), st.integers(1, 4), st.integers(0, 7))
def test_distinct_values_matches_enumeration(c1, e1, c2, e2):
    expr = IndexExpr((Term("P", c1), Term("R", c2)))
    values = {c1 * p + c2 * r for p in range(e1) for r in range(e2)}
    assert distinct_values(expr, (e1, e2)) == len(values)
    assert distinct_values(IndexExpr((Term("P", c1),)), (e1,)) == e1


# --- bad inputs: builders -----------------------------------------------------------------

BUILDER_ERRORS = [
    (lambda: gemm(0, 1, 1), "M must be a positive integer, not 0"),
    (lambda: gemm(2, -1, 1), "N must be a positive integer, not -1"),
    (lambda: gemm(2, 2, True), "K must be a positive integer, not True"),
    (lambda: gemm(2.0, 1, 1), "M must be a positive integer, not 2.0"),
    (lambda: gemm(1 << 25, 1, 1), "gemm: dims.M: size must be an integer from 1 to 16777216, not 33554432"),
    (lambda: gemm(2, 2, 2, bits=3), "bits must be an integer from 4 to 16, not 3"),
    (lambda: gemm(2, 2, 2, bits=17), "bits must be an integer from 4 to 16, not 17"),
    (lambda: gemm(2, 2, 2, acc_bits=7), "acc_bits must be an integer from 8 to 64, not 7"),
    (lambda: gemm(2, 2, 2, name="my gemm"),
     "my gemm: name 'my gemm' is not a valid identifier: use letters, digits and '_', starting with a letter or '_'"),
    (lambda: conv2d(1, 1, 3, 3, 1, 1, padding=-1), "padding must be a non-negative integer, not -1"),
    (lambda: conv2d(1, 1, 3, 3, 1, 1, stride=0), "stride must be a positive integer, not 0"),
    (lambda: conv2d(1, 1, 3, 3, 1, 1, dilation=0), "dilation must be a positive integer, not 0"),
    (lambda: conv2d(1, 1, 2, 2, 3, 3),
     "conv2d rows: the padded input (2 + 2*0) is smaller than the dilated filter (3); no output"),
    (lambda: conv2d(1, 1, 5, 2, 1, 2, dilation=2),
     "conv2d columns: the padded input (2 + 2*0) is smaller than the dilated filter (3); no output"),
    (lambda: depthwise_conv2d(1, 2, 2, 3, 3),
     "depthwise rows: the padded input (2 + 2*0) is smaller than the dilated filter (3); no output"),
    (lambda: depthwise_conv2d(1, 2, 2, 2, 2, padding=-2), "padding must be a non-negative integer, not -2"),
    (lambda: einsum("mk,kn", {"m": 1}),
     "einsum equation must look like 'mk,kn->mn' (two inputs, one output), not 'mk,kn'"),
    (lambda: einsum(3, {}), "einsum equation must look like 'mk,kn->mn' (two inputs, one output), not 3"),
    (lambda: einsum("a,b,c->a", {}),
     "einsum equation must look like 'mk,kn->mn' (two inputs, one output), not 'a,b,c->a'"),
    (lambda: einsum("mm,mn->mn", {"m": 1, "n": 1}),
     "einsum 'mm,mn->mn': a letter repeats within 'mm' (traces are not supported)"),
    (lambda: einsum("mk,kn->", {"m": 1, "n": 1, "k": 1}), "einsum 'mk,kn->': the output needs at least one index"),
    (lambda: einsum("mk,kn->mn", {"m": 1, "n": 1}), "einsum 'mk,kn->mn': no size given for ['K']"),
    (lambda: einsum("mk,kn->mn", {"m": 1, "n": 1, "k": 1, "z": 2}),
     "einsum 'mk,kn->mn': sizes given for letters not in the equation: ['Z']"),
    (lambda: einsum("mk,kn->mn", {"m": 0, "n": 1, "k": 1}), "sizes[M] must be a positive integer, not 0"),
    (lambda: einsum("mk,kn->mz", {"m": 1, "n": 1, "k": 1, "z": 1}),
     "einsum: output 'O' is indexed by ['Z'], which no input uses"),
    (lambda: build_workload("gemmm", {}),
     "unknown workload preset 'gemmm'; choose one of ['batched_gemm', 'conv2d', 'depthwise_conv2d', 'einsum', 'gemm']"),
    (lambda: build_workload("gemm", {"M": 1, "N": 1, "K": 1, "Z": 1}),
     "workload preset 'gemm' has no parameter(s) ['Z']; "
     "its parameters are ['M', 'N', 'K', 'bits', 'acc_bits', 'name']"),
    (lambda: build_workload("gemm", {"M": 1}), "workload preset 'gemm' needs parameter(s) ['N', 'K']"),
]


@pytest.mark.parametrize("build, message", BUILDER_ERRORS)
def test_builder_wrong(build, message):
    with pytest.raises(WorkloadError) as info:
        build()
    assert str(info.value) == message


def test_build_workload_by_name():
    assert build_workload("conv2d", {"K": 2, "C": 1, "H": 4, "W": 4, "R": 3, "S": 3}) == conv2d(2, 1, 4, 4, 3, 3)


# --- bad inputs: specs through parse_model ------------------------------------------------

_IDENT = "is not a valid identifier: use letters, digits and '_', starting with a letter or '_'"

TENSOR_ERRORS = [
    ({"role": "input", "index": ["M"], "bits": 8, "foo": 1},
     "t.foo: unknown key (check the spelling; see docs/reference.md for the allowed keys)"),
    ({"index": ["M"], "bits": 8}, "t.role: required key is missing"),
    ({"role": "inpt", "index": ["M"], "bits": 8}, "t.role: Input should be 'input', 'weight' or 'output', not 'inpt'"),
    ({"role": "input", "index": ["M"], "bits": "eight"},
     "t.bits: Input should be a valid integer, not 'eight'"),
    ({"role": "input", "index": ["M"], "bits": 3}, "t: an input's bits must be 4 to 16, not 3"),
    ({"role": "weight", "index": ["M"], "bits": 17}, "t: an input's bits must be 4 to 16, not 17"),
    ({"role": "input", "index": ["M"], "bits": 1}, "t.bits: Input should be greater than or equal to 2, not 1"),
    ({"role": "output", "index": ["M"], "bits": 7}, "t: an output's bits is its accumulator width: 8 to 64, not 7"),
    ({"role": "output", "index": ["M*2"], "bits": 32},
     "t: output index 'M*2' must be a single dimension (outputs are indexed by dimensions, not by sums or strides)"),
    ({"role": "output", "index": ["M + N"], "bits": 32},
     "t: output index 'M + N' must be a single dimension (outputs are indexed by dimensions, not by sums or strides)"),
    ({"role": "input", "index": ["M-1"], "bits": 8},
     "t: index[0]: cannot read index expression 'M-1': each '+'-separated term must be DIM, DIM*COEF or COEF*DIM "
     "with a positive integer COEF"),
    ({"role": "input", "index": ["M", "2*A*3"], "bits": 8},
     "t: index[1]: cannot read index expression '2*A*3': each '+'-separated term must be DIM, DIM*COEF or COEF*DIM "
     "with a positive integer COEF"),
    ({"role": "input", "index": [" "], "bits": 8},
     "t: index[0]: index expression must be a non-empty string such as 'M' or 'P*2 + R', not ' '"),
    ({"role": "input", "index": ["A+B+C"], "bits": 8},
     "t: index[0]: index expression 'A+B+C' has 3 terms; at most 2 are supported (split the index into separate tensor "
     "indices)"),
    ({"role": "input", "index": ["0*A"], "bits": 8},
     "t: index[0]: coefficient in index expression '0*A' must be at least 1, not 0"),
    ({"role": "input", "index": ["A+2*A"], "bits": 8}, "t: index[0]: index expression 'A+2*A' names a dimension twice"),
    ({"role": "input", "index": ["A"], "bits": 8, "padding": [[0, 0], [1, 1]]},
     "t: padding has 2 entries but the tensor has 1 indices"),
    ({"role": "input", "index": ["A"], "bits": 8, "padding": [[-1, 0]]},
     "t: padding must be non-negative, not ((-1, 0),)"),
    ({"role": "input", "index": "M", "bits": 8}, "t.index: Input should be a valid tuple, not 'M'"),
]


@pytest.mark.parametrize("data, message", TENSOR_ERRORS)
def test_tensor_spec_wrong(data, message):
    with pytest.raises(SpecError) as info:
        parse_model(TensorSpec, data, "t")
    assert str(info.value) == message


_T = {
    "I": {"role": "input", "index": ["M", "K"], "bits": 8},
    "W": {"role": "weight", "index": ["K", "N"], "bits": 8},
    "O": {"role": "output", "index": ["M", "N"], "bits": 32},
}
_D = {"M": 2, "N": 2, "K": 2}

WORKLOAD_ERRORS = [
    ({"dims": {**_D, "M": 0}, "tensors": _T}, "workload: dims.M: size must be an integer from 1 to 16777216, not 0"),
    ({"dims": {**_D, "M": 1 << 25}, "tensors": _T},
     "workload: dims.M: size must be an integer from 1 to 16777216, not 33554432"),
    ({"dims": {**_D, "M": 2.5}, "tensors": _T},
     "workload.dims.M: Input should be a valid integer, not 2.5"),
    ({"dims": {}, "tensors": _T}, "workload.dims: Dictionary should have at least 1 item after validation, not 0"),
    ({"dims": _D}, "workload.tensors: required key is missing"),
    ({"dims": _D, "tensors": _T, "foo": 1},
     "workload.foo: unknown key (check the spelling; see docs/reference.md for the allowed keys)"),
    ({"dims": _D, "tensors": _T, "name": "2nd"}, f"workload.name: name '2nd' {_IDENT}"),
    ({"dims": {"M x": 2, "N": 2, "K": 2}, "tensors": _T}, f"workload.dims.M x (the key): name 'M x' {_IDENT}"),
    ({"dims": _D, "tensors": {**_T, "W": {**_T["W"], "role": "input"}}},
     "workload: tensors: need exactly one tensor with role 'input', found 2 "
     "(roles given: ['input', 'input', 'output'])"),
    ({"dims": _D, "tensors": {"I": _T["I"], "O": _T["O"]}},
     "workload: tensors: need exactly one tensor with role 'weight', found 0 (roles given: ['input', 'output'])"),
    ({"dims": {**_D, "I": 2}, "tensors": {**_T, "I": {**_T["I"], "index": ["M", "K", "I"]}}},
     "workload: tensors and dims must have distinct names; shared: ['I']"),
    ({"dims": _D, "tensors": {**_T, "I": {**_T["I"], "index": ["M", "Z"]}}},
     "workload: tensors.I.index[1]: unknown dimension 'Z'; dims are ['K', 'M', 'N']"),
    ({"dims": _D, "tensors": {**_T, "I": {**_T["I"], "index": ["M", "K + M"]}}},
     "workload: tensors.I.index[1]: dimension 'M' appears in two indices of I"),
    ({"dims": {**_D, "Z": 3}, "tensors": _T}, "workload: dims ['Z'] appear in no tensor"),
    ({"dims": {**_D, "Z": 2}, "tensors": {**_T, "O": {**_T["O"], "index": ["M", "N", "Z"]}}},
     "workload: output 'O' is indexed by ['Z'], which no input uses"),
    ({"dims": {"M": 1 << 24, "N": 1 << 24, "K": 2}, "tensors": _T},
     "workload: tensor 'O' would have 281474976710656 elements; the limit is 68719476736"),
]


@pytest.mark.parametrize("data, message", WORKLOAD_ERRORS)
def test_workload_spec_wrong(data, message):
    with pytest.raises(SpecError) as info:
        parse_model(Workload, data, "workload")
    assert str(info.value) == message


def test_workload_spec_reads_back():
    w = parse_model(Workload, {"name": "g", "dims": _D, "tensors": _T}, "workload")
    assert w == gemm(2, 2, 2, name="g")


# --- bad inputs: tensor values ------------------------------------------------------------

_G = gemm(2, 2, 2)
VALUE_ERRORS = [
    ({"I": np.zeros((2, 2), dtype=np.int64)}, "tensor 'W' is missing; the workload's inputs are ['I', 'W']"),
    ({"I": np.zeros((3, 2), dtype=np.int64), "W": np.zeros((2, 2), dtype=np.int64)}, "tensor 'I' has shape (3, 2), "
         "expected (2, 2)"),
    ({"I": np.zeros((2, 2)), "W": np.zeros((2, 2), dtype=np.int64)}, "tensor 'I' must hold integers, not float64"),
    ({"I": np.full((2, 2), 128), "W": np.zeros((2, 2), dtype=np.int64)},
     "tensor 'I' has values outside the signed 8-bit range [-128, 127]"),
    ({"I": np.zeros((2, 2), dtype=np.int64), "W": np.full((2, 2), -129)},
     "tensor 'W' has values outside the signed 8-bit range [-128, 127]"),
]


@pytest.mark.parametrize("tensors, message", VALUE_ERRORS)
def test_reference_values_wrong(tensors, message):
    with pytest.raises(WorkloadError) as info:
        _G.reference(tensors)
    assert str(info.value) == message


# --- inputs once mishandled ------------------------------------------------------------


def test_conv2d_padding_string_wrong():
    with pytest.raises(WorkloadError):
        conv2d(1, 1, 3, 3, 1, 1, padding="1")


def test_einsum_letter_i_is_accepted():
    assert einsum("ij,jk->ik", {"i": 2, "j": 2, "k": 2}).dims == {"I": 2, "J": 2, "K": 2}


def test_einsum_size_given_twice_wrong():
    with pytest.raises(WorkloadError):
        einsum("mk,kn->mn", {"m": 1, "M": 2, "n": 1, "k": 1})
