"""The workload: an Einsum-like loop nest with two input tensors and one output.

``O[out indices] += I[in indices] * W[w indices]`` over every point of the
iteration space spanned by the dimensions. Values are signed integers; the output
wraps (two's complement) at its declared accumulator width, exactly as hardware
with that accumulator does.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, Strict, model_validator
from threadpoolctl import threadpool_limits

from sasim.errors import WorkloadError
from sasim.validation import check_identifier
from sasim.workload.projection import IndexExpr, index_extent, parse_index

__all__ = ["Role", "TensorSpec", "Workload", "Identifier", "MAX_DIM_SIZE", "wrap"]

Identifier = Annotated[str, AfterValidator(check_identifier)]

MAX_DIM_SIZE = 1 << 24
MAX_TENSOR_ELEMENTS = 1 << 36


class Role(StrEnum):
    """What a tensor is to the loop nest."""

    INPUT = "input"
    WEIGHT = "weight"
    OUTPUT = "output"


class TensorSpec(BaseModel):
    """One tensor: its role, its index expressions and its integer width in bits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Role
    index: tuple[str, ...] = Field(min_length=1, max_length=8)
    bits: Annotated[int, Strict()] = Field(ge=2, le=64)
    padding: tuple[tuple[int, int], ...] | None = Field(
        default=None,
        description="per index, (low, high) zero padding materialized in the stored tensor",
    )

    @model_validator(mode="after")
    def _check(self) -> TensorSpec:
        for i, text in enumerate(self.index):
            try:
                parse_index(text)
            except ValueError as exc:
                raise ValueError(f"index[{i}]: {exc}") from None
        if self.role is Role.OUTPUT:
            if not 8 <= self.bits <= 64:
                raise ValueError(f"an output's bits is its accumulator width: 8 to 64, not {self.bits}")
            for text in self.index:
                expr = parse_index(text)
                if len(expr.terms) != 1 or expr.terms[0].coef != 1:
                    raise ValueError(
                        f"output index {text!r} must be a single dimension (outputs are "
                        "indexed by dimensions, not by sums or strides)"
                    )
        elif not 4 <= self.bits <= 16:
            raise ValueError(f"an input's bits must be 4 to 16, not {self.bits}")
        if self.padding is not None:
            if len(self.padding) != len(self.index):
                raise ValueError(
                    f"padding has {len(self.padding)} entries but the tensor has {len(self.index)} indices"
                )
            if any(lo < 0 or hi < 0 for lo, hi in self.padding):
                raise ValueError(f"padding must be non-negative, not {self.padding!r}")
        return self

    @property
    def indices(self) -> tuple[IndexExpr, ...]:
        return tuple(parse_index(t) for t in self.index)


def wrap(values: np.ndarray, bits: int) -> np.ndarray:
    """Two's-complement wrap of int64 ``values`` to ``bits`` bits."""
    if bits >= 64:
        return values.astype(np.int64)
    half = np.int64(1 << (bits - 1))
    mask = np.int64((1 << bits) - 1)  # fits in int64 for bits <= 63
    return ((values.astype(np.int64) + half) & mask) - half


class Workload(BaseModel):
    """Dimensions with sizes and three tensors (``input``, ``weight``, ``output`` roles)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Identifier = "workload"
    dims: dict[Identifier, Annotated[int, Strict()]] = Field(min_length=1)
    tensors: dict[Identifier, TensorSpec]

    _indices: dict[str, tuple[IndexExpr, ...]] = PrivateAttr(default_factory=dict)
    #: per tensor, its relevant dimensions (asked millions of times by the batched model)
    _tensor_dims: dict[str, tuple[str, ...]] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> Workload:
        for dim, size in self.dims.items():
            if isinstance(size, bool) or not 1 <= size <= MAX_DIM_SIZE:
                raise ValueError(f"dims.{dim}: size must be an integer from 1 to {MAX_DIM_SIZE}, not {size!r}")
        roles = [t.role for t in self.tensors.values()]
        for role in Role:
            if roles.count(role) != 1:
                raise ValueError(
                    f"tensors: need exactly one tensor with role {role.value!r}, found {roles.count(role)} "
                    f"(roles given: {[r.value for r in roles]})"
                )
        if set(self.tensors) & set(self.dims):
            shared = sorted(set(self.tensors) & set(self.dims))
            raise ValueError(f"tensors and dims must have distinct names; shared: {shared}")
        used: set[str] = set()
        for name, tensor in self.tensors.items():
            seen: set[str] = set()
            for i, expr in enumerate(tensor.indices):
                for term in expr.terms:
                    if term.dim not in self.dims:
                        raise ValueError(
                            f"tensors.{name}.index[{i}]: unknown dimension {term.dim!r}; "
                            f"dims are {sorted(self.dims)}"
                        )
                    if term.dim in seen:
                        raise ValueError(
                            f"tensors.{name}.index[{i}]: dimension {term.dim!r} appears in two indices of {name}"
                        )
                    seen.add(term.dim)
            used |= seen
            self._indices[name] = tensor.indices
            self._tensor_dims[name] = tuple(d for expr in tensor.indices for d in expr.dims)
        unused = sorted(set(self.dims) - used)
        if unused:
            raise ValueError(f"dims {unused} appear in no tensor")
        out = self.output
        in_dims = set(self.tensor_dims(self.input)) | set(self.tensor_dims(self.weight))
        missing = sorted(set(self.tensor_dims(out)) - in_dims)
        if missing:
            raise ValueError(f"output {out!r} is indexed by {missing}, which no input uses")
        for name in self.tensors:
            elements = math.prod(self.shape(name))
            if elements > MAX_TENSOR_ELEMENTS:
                raise ValueError(f"tensor {name!r} would have {elements} elements; the limit is {MAX_TENSOR_ELEMENTS}")
        return self

    # --- structure ------------------------------------------------------------------

    def _role(self, role: Role) -> str:
        return next(n for n, t in self.tensors.items() if t.role is role)

    @property
    def input(self) -> str:
        return self._role(Role.INPUT)

    @property
    def weight(self) -> str:
        return self._role(Role.WEIGHT)

    @property
    def output(self) -> str:
        return self._role(Role.OUTPUT)

    @property
    def operands(self) -> tuple[str, str]:
        """The two input tensors, input first."""
        return (self.input, self.weight)

    def indices(self, tensor: str) -> tuple[IndexExpr, ...]:
        return self._indices[tensor]

    def tensor_dims(self, tensor: str) -> tuple[str, ...]:
        """Dimensions a tensor depends on (its *relevant* dimensions), in index order."""
        return self._tensor_dims[tensor]

    def is_relevant(self, tensor: str, dim: str) -> bool:
        return dim in self._tensor_dims[tensor]

    def shape(self, tensor: str) -> tuple[int, ...]:
        """Shape of the dense stored array (padding included)."""
        return tuple(index_extent(e, self.dims) for e in self._indices[tensor])

    @property
    def macs(self) -> int:
        return math.prod(self.dims.values())

    @property
    def reduction_dims(self) -> tuple[str, ...]:
        out = set(self.tensor_dims(self.output))
        return tuple(d for d in self.dims if d not in out)

    # --- values ---------------------------------------------------------------------

    def random_tensors(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Random signed input tensors over their full range, zero in declared padding."""
        rng = np.random.default_rng(seed)
        out: dict[str, np.ndarray] = {}
        for name in self.operands:
            spec = self.tensors[name]
            lo, hi = -(1 << (spec.bits - 1)), (1 << (spec.bits - 1))
            arr = rng.integers(lo, hi, size=self.shape(name), dtype=np.int64)
            if spec.padding is not None:
                for axis, (plo, phi) in enumerate(spec.padding):
                    idx: list[Any] = [slice(None)] * arr.ndim
                    if plo:
                        idx[axis] = slice(0, plo)
                        arr[tuple(idx)] = 0
                    if phi:
                        idx[axis] = slice(arr.shape[axis] - phi, None)
                        arr[tuple(idx)] = 0
            out[name] = arr
        return out

    def _operand_view(self, name: str, array: np.ndarray, order: list[str]) -> np.ndarray:
        """A strided view of ``array`` with one axis per relevant dimension, in ``order``."""
        strides: dict[str, int] = {}
        for axis, expr in enumerate(self._indices[name]):
            for term in expr.terms:
                strides[term.dim] = term.coef * array.strides[axis]
        dims = [d for d in order if d in strides]
        return np.lib.stride_tricks.as_strided(
            array, shape=tuple(self.dims[d] for d in dims), strides=tuple(strides[d] for d in dims), writeable=False
        )

    def check_tensors(self, tensors: dict[str, np.ndarray]) -> None:
        """Raise :class:`WorkloadError` unless ``tensors`` holds valid values for both inputs."""
        for name in self.operands:
            if name not in tensors:
                raise WorkloadError(f"tensor {name!r} is missing; the workload's inputs are {list(self.operands)}")
            arr = np.asarray(tensors[name])
            if arr.shape != self.shape(name):
                raise WorkloadError(f"tensor {name!r} has shape {arr.shape}, expected {self.shape(name)}")
            if not np.issubdtype(arr.dtype, np.integer):
                raise WorkloadError(f"tensor {name!r} must hold integers, not {arr.dtype}")
            bits = self.tensors[name].bits
            lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
            if arr.size and (arr.min() < lo or arr.max() > hi):
                raise WorkloadError(f"tensor {name!r} has values outside the signed {bits}-bit range [{lo}, {hi}]")

    def reference(self, tensors: dict[str, np.ndarray]) -> np.ndarray:
        """The exact output: the products summed, wrapped at the accumulator width.

        When every partial sum provably stays below 2^53 in magnitude (the operands' widths
        times the number of products per output), float64 represents each one exactly, in any
        order of summation: the contraction then runs on BLAS, tens of times faster. Otherwise
        it runs in int64, which wraps modulo 2^64, consistently with the final wrap."""
        self.check_tensors(tensors)
        order = list(self.dims)
        letters = {d: chr(ord("a") + i) for i, d in enumerate(order)}
        out_dims = self.tensor_dims(self.output)
        terms = math.prod(size for d, size in self.dims.items() if d not in out_dims)
        magnitude = (1 << (self.tensors[self.input].bits - 1)) * (1 << (self.tensors[self.weight].bits - 1))
        exact_in_float = magnitude * terms < 1 << 53
        dtype = np.float64 if exact_in_float else np.int64
        views = {}
        subs = {}
        for name in self.operands:
            arr = np.ascontiguousarray(np.asarray(tensors[name], dtype=dtype))
            views[name] = self._operand_view(name, arr, order)
            subs[name] = "".join(letters[d] for d in order if self.is_relevant(name, d))
        spec = f"{subs[self.input]},{subs[self.weight]}->{''.join(letters[d] for d in out_dims)}"
        if exact_in_float:
            # on one BLAS thread: idle BLAS workers spin for a while after a call, taking a
            # core from whatever runs next (a simulation, another worker process)
            with threadpool_limits(limits=1, user_api="blas"):
                result = np.einsum(spec, views[self.input], views[self.weight], optimize=True)
        else:
            # NumPy's own loop: its optimizer's batched path is several times slower for ints
            result = np.einsum(spec, views[self.input], views[self.weight])
        return wrap(np.asarray(np.rint(result) if exact_in_float else result, dtype=np.int64),
                    self.tensors[self.output].bits)
