"""The analytical model's counts equal the brute-force oracle's, exactly.

For every level (DRAM, each buffer, PE) and every tensor: reads, fills, updates and
drains; plus DRAM words and bits, MACs, steps and folds. Random small designs (hypothesis) and a fixed set
of named designs covering every workload builder and mapping feature.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from conftest import buffer, designs, make_arch, make_design
from hypothesis import given, settings
from oracle import Counts, oracle

from sasim.design import Design
from sasim.model import Accesses, evaluate
from sasim.workload import batched_gemm, conv2d, depthwise_conv2d, einsum, gemm


def model_counts(design: Design) -> dict[str, dict[str, Counts]]:
    """The model's accesses for every level and tensor (absent entries are zero)."""
    result = evaluate(design)
    names = {lvl.name for lvl in design.levels}
    assert set(result.accesses) <= names, f"unknown levels in the model's result: {set(result.accesses) - names}"
    out: dict[str, dict[str, Counts]] = {}
    for lvl in design.levels:
        per_tensor = result.accesses.get(lvl.name, {})
        assert set(per_tensor) <= set(design.workload.tensors)
        out[lvl.name] = {}
        for t in design.workload.tensors:
            a = per_tensor.get(t, Accesses())
            out[lvl.name][t] = Counts(reads=a.reads, fills=a.fills, updates=a.updates, drains=a.drains)
    return out


def check(design: Design) -> None:
    """Assert the model and the oracle agree on everything the oracle counts."""
    expect = oracle(design)
    result = evaluate(design)
    got = model_counts(design)
    mismatches = [
        f"{lvl}.{t}: model {got[lvl][t]} != oracle {expect.accesses[lvl][t]}"
        for lvl in expect.accesses for t in expect.accesses[lvl] if got[lvl][t] != expect.accesses[lvl][t]
    ]
    # "DRAM traffic is reads(DRAM, ·) of every tensor plus updates(DRAM, o), in words; in
    # bits, each word counts its tensor's width (outputs: accumulator width)."
    dram = expect.accesses["DRAM"]
    words = {t: dram[t].reads + dram[t].updates for t in dram}
    for what, model_value, oracle_value in (
        ("dram_words", result.dram_words, sum(words.values())),
        ("dram_bits", result.dram_bits, sum(n * design.bits(t) for t, n in words.items())),
        ("macs", result.macs, expect.macs),
        ("steps", result.latency.steps, expect.steps),
        ("folds", result.latency.folds, expect.folds),
    ):
        if model_value != oracle_value:
            mismatches.append(f"{what}: model {model_value} != oracle {oracle_value}")
    where = [design.describe_nest(), f"mapping: {design.mapping.to_yaml_dict()}",
             f"access: { {t: e.name for t, e in design.access.items()} }"]
    assert not mismatches, "\n".join(mismatches + where)


@settings(max_examples=1000, deadline=None)
@given(designs())
def test_model_counts_equal_oracle(design: Design):
    check(design)


# --- named designs ------------------------------------------------------------------------

GLB = buffer("GLB")

NAMED: dict[str, Callable[[], Design]] = {
    "gemm_output_stationary_2x2": lambda: make_design(
        gemm(6, 5, 4), make_arch(2, 2, (GLB,)), temporal={"DRAM": "M=3 N=3", "GLB": "K=4"},
        spatial={"Y": "M=2", "X": "N=2"}),
    "gemm_weight_stationary_2x2": lambda: make_design(
        gemm(4, 4, 4), make_arch(2, 2), temporal={"DRAM": "N=2 K=2 M=4"}, spatial={"Y": "K=2", "X": "N=2"}),
    "gemm_input_stationary_3x2": lambda: make_design(
        gemm(6, 7, 4), make_arch(3, 2, (GLB,)), temporal={"DRAM": "M=2 K=2", "GLB": "N=7"},
        spatial={"Y": "M=3", "X": "K=2"}),
    "gemm_imperfect_factors": lambda: make_design(
        gemm(7, 5, 5), make_arch(2, 3, (GLB,)), temporal={"DRAM": "M=2 K=2 N=2", "GLB": "M=2 K=3"},
        spatial={"Y": "M=2", "X": "N=3"}),
    "gemm_star_factors": lambda: make_design(
        gemm(9, 6, 5), make_arch(2, 2, (GLB,)), temporal={"DRAM": "N=* M=*", "GLB": "M=2 K=*"},
        spatial={"Y": "M=2", "X": "N=2"}),
    "gemm_wholly_empty_iterations": lambda: make_design(
        gemm(5, 3, 4), make_arch(4, 1, (GLB,)), temporal={"DRAM": "M=3 N=3", "GLB": "K=2", "PE": "K=2"},
        spatial={"Y": "M=4"}, ),
    "gemm_bypass_two_buffers": lambda: make_design(
        gemm(6, 4, 6), make_arch(2, 2, (buffer("L2"), buffer("L1", ("input", "weight")))),
        temporal={"DRAM": "N=2 K=2", "L2": "M=3 K=3", "L1": "M=1"}, spatial={"Y": "M=2", "X": "N=2"},
        bypass={"L2": ["W"], "L1": ["I"]}),
    "gemm_double_buffer": lambda: make_design(
        gemm(6, 6, 6), make_arch(2, 2, (buffer("GLB", semantics="double_buffer"),)),
        temporal={"DRAM": "K=3 M=3", "GLB": "N=3 K=2"}, spatial={"Y": "M=2", "X": "N=2"}),
    "gemm_two_spatial_dims_on_x": lambda: make_design(
        gemm(4, 4, 6), make_arch(1, 4, (GLB,)), temporal={"DRAM": "M=2 N=2", "GLB": "K=6"},
        spatial={"X": "M=2 N=2"}),
    "gemm_spatial_reduction_and_relevant_on_y": lambda: make_design(
        gemm(4, 4, 4), make_arch(4, 2), temporal={"DRAM": "M=2 N=4"}, spatial={"Y": "K=2 M=2", "X": "K=2"}),
    "gemm_pe_register_tiles": lambda: make_design(
        gemm(4, 6, 4), make_arch(1, 2, (GLB,)), temporal={"DRAM": "M=2", "GLB": "N=3 K=2", "PE": "M=2 K=2"},
        spatial={"X": "N=2"}),
    "batched_gemm_2x2": lambda: make_design(
        batched_gemm(3, 4, 3, 4), make_arch(2, 2, (GLB,)), temporal={"DRAM": "B=3 M=2", "GLB": "N=2 K=4"},
        spatial={"Y": "M=2", "X": "N=2"}),
    "conv2d_basic": lambda: make_design(
        conv2d(K=2, C=2, H=5, W=5, R=3, S=3), make_arch(2, 2, (GLB,)),
        temporal={"DRAM": "P=3 Q=*", "GLB": "C=2 R=3 S=3"}, spatial={"Y": "K=2", "X": "Q=2"}),
    "conv2d_stride2_dilation2_padding": lambda: make_design(
        conv2d(K=2, C=2, H=6, W=6, R=2, S=3, stride=2, dilation=2, padding=1), make_arch(2, 2, (GLB,)),
        temporal={"DRAM": "K=2 P=2", "GLB": "Q=* R=2 C=2", "PE": "S=3"}, spatial={"Y": "P=2"}),
    "conv2d_stride2_imperfect_tiles": lambda: make_design(
        conv2d(K=1, C=1, H=9, W=9, R=3, S=3, stride=2), make_arch(2, 1, (buffer("GLB", ("input",)),)),
        temporal={"DRAM": "P=2 S=3", "GLB": "Q=3 R=3 P=*"}, spatial={"Y": "Q=2"}),
    "conv2d_diagonal_input": lambda: make_design(
        conv2d(K=2, C=1, H=1, W=6, R=1, S=2), make_arch(2, 3), temporal={"DRAM": "K=2 Q=2"},
        spatial={"X": "Q=3", "Y": "S=2"}),
    "conv2d_two_spatial_dims_on_x": lambda: make_design(
        conv2d(K=2, C=3, H=4, W=4, R=2, S=2), make_arch(2, 6, (GLB,)),
        temporal={"DRAM": "P=3 C=3", "GLB": "R=2 S=2"}, spatial={"X": "Q=* K=2", "Y": "R=1"}),
    "depthwise_stride2": lambda: make_design(
        depthwise_conv2d(C=3, H=7, W=7, R=3, S=3, stride=2, padding=1), make_arch(2, 2, (GLB,)),
        temporal={"DRAM": "C=3 P=2", "GLB": "Q=4 R=3", "PE": "S=3"}, spatial={"Y": "P=2"}),
    "depthwise_channels_spatial": lambda: make_design(
        depthwise_conv2d(C=4, H=5, W=5, R=2, S=2, dilation=2),
        make_arch(2, 2, (buffer("GLB", semantics="double_buffer"),)),
        temporal={"DRAM": "P=3 C=*", "GLB": "Q=3 R=2 S=2"}, spatial={"Y": "C=2"}),
    "einsum_three_index": lambda: make_design(
        einsum("abc,cd->abd", {"a": 2, "b": 3, "c": 4, "d": 3}), make_arch(3, 2, (GLB,)),
        temporal={"DRAM": "A=2 D=2", "GLB": "C=4"}, spatial={"Y": "B=3", "X": "D=2"}),
    "einsum_outer_product": lambda: make_design(
        einsum("x,y->xy", {"x": 5, "y": 4}), make_arch(2, 2), temporal={"DRAM": "Y=4 X=3"},
        spatial={"Y": "X=2"}),
    "einsum_matrix_vector_tree": lambda: make_design(
        einsum("xy,y->x", {"x": 4, "y": 6}), make_arch(1, 3, (GLB,)), temporal={"DRAM": "X=4", "GLB": "Y=2"},
        spatial={"X": "Y=3"}, access={"O": "tree-x+stationary"}),
    "one_pe_everything_at_pe": lambda: make_design(
        gemm(3, 2, 2), make_arch(1, 1), temporal={"PE": "M=3 N=2 K=2"}),
}


@pytest.mark.parametrize("name", sorted(NAMED))
def test_model_counts_equal_oracle_named(name: str):
    check(NAMED[name]())
