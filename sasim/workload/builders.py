"""Builders for the common workloads, by name (also used by YAML ``preset:`` entries).

Dimension names follow the usual convention: GEMM ``M, N, K``; convolutions
``N`` (batch), ``K`` (output channels), ``C`` (input channels), ``P, Q`` (output
rows and columns), ``R, S`` (filter rows and columns). Tensors are ``I`` (input),
``W`` (weight) and ``O`` (output).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sasim.errors import WorkloadError
from sasim.workload.workload import Role, TensorSpec, Workload

__all__ = ["gemm", "batched_gemm", "conv2d", "depthwise_conv2d", "einsum", "WORKLOAD_BUILDERS"]


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkloadError(f"{name} must be a positive integer, not {value!r}")


def _check_padding(padding: int) -> None:
    if isinstance(padding, bool) or not isinstance(padding, int) or padding < 0:
        raise WorkloadError(f"padding must be a non-negative integer, not {padding!r}")


def _check_bits(bits: int, acc_bits: int) -> None:
    for name, value, lo, hi in (("bits", bits, 4, 16), ("acc_bits", acc_bits, 8, 64)):
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise WorkloadError(f"{name} must be an integer from {lo} to {hi}, not {value!r}")


def _tensors(i: list[str], w: list[str], o: list[str], bits: int, acc_bits: int,
             weight_bits: int | None = None, i_padding: list[tuple[int, int]] | None = None) -> dict[str, TensorSpec]:
    _check_bits(bits, acc_bits)
    pad = tuple(i_padding) if i_padding and any(p != (0, 0) for p in i_padding) else None
    try:
        return {
            "I": TensorSpec(role=Role.INPUT, index=tuple(i), bits=bits, padding=pad),
            "W": TensorSpec(role=Role.WEIGHT, index=tuple(w), bits=weight_bits or bits),
            "O": TensorSpec(role=Role.OUTPUT, index=tuple(o), bits=acc_bits),
        }
    except ValueError as exc:  # pydantic ValidationError is a ValueError
        raise WorkloadError(_first_message(exc)) from None


def _first_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        msg = str(first.get("msg", exc))
        return msg.removeprefix("Value error, ")
    return str(exc)


def _make(name: str, dims: dict[str, int], tensors: dict[str, TensorSpec]) -> Workload:
    try:
        return Workload(name=name, dims=dims, tensors=tensors)
    except ValueError as exc:
        raise WorkloadError(f"{name}: {_first_message(exc)}") from None


def gemm(M: int, N: int, K: int, bits: int = 8, acc_bits: int = 32, name: str = "gemm") -> Workload:
    """``O[M,N] = sum_K I[M,K] * W[K,N]``."""
    _check_positive(M=M, N=N, K=K)
    return _make(name, {"M": M, "N": N, "K": K}, _tensors(["M", "K"], ["K", "N"], ["M", "N"], bits, acc_bits))


def batched_gemm(B: int, M: int, N: int, K: int, bits: int = 8, acc_bits: int = 32, name: str = "bmm") -> Workload:
    """``O[B,M,N] = sum_K I[B,M,K] * W[B,K,N]`` (attention-style: every batch has its own W)."""
    _check_positive(B=B, M=M, N=N, K=K)
    return _make(
        name,
        {"B": B, "M": M, "N": N, "K": K},
        _tensors(["B", "M", "K"], ["B", "K", "N"], ["B", "M", "N"], bits, acc_bits),
    )


def _out_size(size: int, pad: int, kernel: int, stride: int, dilation: int, what: str) -> int:
    span = dilation * (kernel - 1) + 1
    if size + 2 * pad < span:
        raise WorkloadError(
            f"{what}: the padded input ({size} + 2*{pad}) is smaller than the dilated filter ({span}); no output"
        )
    return (size + 2 * pad - span) // stride + 1


def _conv_index(out_dim: str, k_dim: str, stride: int, dilation: int) -> str:
    a = out_dim if stride == 1 else f"{out_dim}*{stride}"
    b = k_dim if dilation == 1 else f"{k_dim}*{dilation}"
    return f"{a} + {b}"


def conv2d(
    K: int, C: int, H: int, W: int, R: int, S: int, N: int = 1,
    stride: int = 1, dilation: int = 1, padding: int = 0,
    bits: int = 8, acc_bits: int = 32, name: str = "conv2d",
) -> Workload:
    """2-D convolution ``O[N,K,P,Q] = sum_{C,R,S} I[N,C,P*s+R*d,Q*s+S*d] * W[K,C,R,S]``.

    ``H`` and ``W`` are the unpadded input sizes; the stored input is padded by
    ``padding`` zeros on each side. ``P`` and ``Q`` follow from them.
    """
    _check_positive(K=K, C=C, H=H, W=W, R=R, S=S, N=N, stride=stride, dilation=dilation)
    _check_padding(padding)
    P = _out_size(H, padding, R, stride, dilation, "conv2d rows")
    Q = _out_size(W, padding, S, stride, dilation, "conv2d columns")
    # Rows of the padded input beyond what the outputs touch are never read: drop them.
    dims = {"N": N, "K": K, "C": C, "P": P, "Q": Q, "R": R, "S": S}
    hp = (P - 1) * stride + (R - 1) * dilation + 1
    wp = (Q - 1) * stride + (S - 1) * dilation + 1
    pad = [(0, 0), (0, 0), (padding, max(0, hp - padding - H)), (padding, max(0, wp - padding - W))]
    return _make(
        name, dims,
        _tensors(["N", "C", _conv_index("P", "R", stride, dilation), _conv_index("Q", "S", stride, dilation)],
                 ["K", "C", "R", "S"], ["N", "K", "P", "Q"], bits, acc_bits, i_padding=pad),
    )


def depthwise_conv2d(
    C: int, H: int, W: int, R: int, S: int, N: int = 1,
    stride: int = 1, dilation: int = 1, padding: int = 0,
    bits: int = 8, acc_bits: int = 32, name: str = "depthwise",
) -> Workload:
    """Depthwise convolution ``O[N,C,P,Q] = sum_{R,S} I[N,C,P*s+R*d,Q*s+S*d] * W[C,R,S]``."""
    _check_positive(C=C, H=H, W=W, R=R, S=S, N=N, stride=stride, dilation=dilation)
    _check_padding(padding)
    P = _out_size(H, padding, R, stride, dilation, "depthwise rows")
    Q = _out_size(W, padding, S, stride, dilation, "depthwise columns")
    hp = (P - 1) * stride + (R - 1) * dilation + 1
    wp = (Q - 1) * stride + (S - 1) * dilation + 1
    pad = [(0, 0), (0, 0), (padding, max(0, hp - padding - H)), (padding, max(0, wp - padding - W))]
    return _make(
        name, {"N": N, "C": C, "P": P, "Q": Q, "R": R, "S": S},
        _tensors(["N", "C", _conv_index("P", "R", stride, dilation), _conv_index("Q", "S", stride, dilation)],
                 ["C", "R", "S"], ["N", "C", "P", "Q"], bits, acc_bits, i_padding=pad),
    )


_EINSUM = re.compile(r"^\s*([A-Za-z]+)\s*,\s*([A-Za-z]+)\s*->\s*([A-Za-z]*)\s*$")


def einsum(equation: str, sizes: dict[str, int], bits: int = 8, acc_bits: int = 32, name: str = "einsum") -> Workload:
    """A general two-input Einsum such as ``"mk,kn->mn"``; each letter is one dimension.

    Dimension names are the letters upper-cased; ``sizes`` is keyed by letter (either case).
    The tensors are ``I``, ``W``, ``O``, or ``In``, ``Wt``, ``Out`` when a letter is i, w or o.
    """
    m = _EINSUM.match(equation) if isinstance(equation, str) else None
    if m is None:
        raise WorkloadError(f"einsum equation must look like 'mk,kn->mn' (two inputs, one output), not {equation!r}")
    a, b, out = m.groups()
    for part in (a, b, out):
        if len(set(part.lower())) != len(part):
            raise WorkloadError(f"einsum {equation!r}: a letter repeats within {part!r} (traces are not supported)")
    if not out:
        raise WorkloadError(f"einsum {equation!r}: the output needs at least one index")
    norm: dict[str, int] = {}
    for key, value in sizes.items():
        letter = str(key).upper()
        if letter in norm:
            raise WorkloadError(f"einsum {equation!r}: size of {letter} given twice ({key!r} and its other case)")
        norm[letter] = value
    letters = sorted(set((a + b + out).upper()), key=(a + b + out).upper().index)
    missing = [ch for ch in letters if ch not in norm]
    if missing:
        raise WorkloadError(f"einsum {equation!r}: no size given for {missing}")
    extra = sorted(set(norm) - set(letters))
    if extra:
        raise WorkloadError(f"einsum {equation!r}: sizes given for letters not in the equation: {extra}")
    _check_positive(**{f"sizes[{k}]": v for k, v in norm.items()})
    dims = {ch: norm[ch] for ch in letters}
    tensors = _tensors(list(a.upper()), list(b.upper()), list(out.upper()), bits, acc_bits)
    if set(tensors) & set(dims):
        # Dimension letters I, W or O would shadow the usual tensor names: use longer ones.
        tensors = dict(zip(("In", "Wt", "Out"), tensors.values()))
    return _make(name, dims, tensors)


WORKLOAD_BUILDERS: dict[str, Callable[..., Workload]] = {
    "gemm": gemm,
    "batched_gemm": batched_gemm,
    "conv2d": conv2d,
    "depthwise_conv2d": depthwise_conv2d,
    "einsum": einsum,
}


def build_workload(preset: str, params: dict[str, Any]) -> Workload:
    """Build a named workload preset with keyword parameters; clear error for bad names."""
    builder = WORKLOAD_BUILDERS.get(preset)
    if builder is None:
        raise WorkloadError(f"unknown workload preset {preset!r}; choose one of {sorted(WORKLOAD_BUILDERS)}")
    import inspect

    sig = inspect.signature(builder)
    unknown = sorted(set(params) - set(sig.parameters))
    if unknown:
        raise WorkloadError(
            f"workload preset {preset!r} has no parameter(s) {unknown}; its parameters are {list(sig.parameters)}"
        )
    missing = [p.name for p in sig.parameters.values() if p.default is inspect.Parameter.empty and p.name not in params]
    if missing:
        raise WorkloadError(f"workload preset {preset!r} needs parameter(s) {missing}")
    return builder(**params)
