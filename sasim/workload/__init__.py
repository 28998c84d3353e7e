"""Workloads: dimensions, tensors with affine projections, and the NumPy reference."""

from sasim.workload.builders import (
    WORKLOAD_BUILDERS,
    batched_gemm,
    build_workload,
    conv2d,
    depthwise_conv2d,
    einsum,
    gemm,
)
from sasim.workload.projection import IndexExpr, Term, distinct_values, parse_index
from sasim.workload.workload import Role, TensorSpec, Workload, wrap

__all__ = [
    "WORKLOAD_BUILDERS",
    "IndexExpr",
    "Role",
    "TensorSpec",
    "Term",
    "Workload",
    "batched_gemm",
    "build_workload",
    "conv2d",
    "depthwise_conv2d",
    "distinct_values",
    "einsum",
    "gemm",
    "parse_index",
    "wrap",
]
