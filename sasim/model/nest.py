"""Closed-form counting over a loop nest, vectorized over a batch of factor choices.

Everything here works on a fixed *structure* (which loops exist, their dimension,
level and axis: taken from a template Design) and a factor matrix ``F`` of shape
``(B, L)``: one row per mapping. A single Design is a batch of one.

Two primitives carry all of docs/model.md:

* :meth:`Nest.count` -- how many tuples of a chosen subset of a dimension's loops
  are non-empty under clipping (a mixed-radix digit count with at most one partial
  branch per digit);
* :meth:`Nest.event_sum` -- the sum, over the events of a level, of the number of
  distinct elements of a tensor's tile, factored per dimension (irrelevant
  dimensions only count events; relevant ones contribute their extent
  distribution: ``size // T`` full tiles of extent ``T`` and one partial).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from sasim.design.design import Design, refill_positions
from sasim.workload.projection import IndexExpr

__all__ = ["Nest"]

Array = np.ndarray

_F = TypeVar("_F", bound=Callable[..., Any])


def _read_only(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    elif isinstance(value, (list, tuple)):
        for v in value:
            _read_only(v)
    return value


def _memoized(method: _F) -> _F:
    """Memoize a :class:`Nest` method on its (hashable) arguments; results are made
    read-only, so a caller cannot change what later calls get."""

    name = method.__name__

    @functools.wraps(method)
    def wrapper(self: Nest, *args: Any) -> Any:
        key = (name, *args)
        try:
            return self._memo[key]
        except KeyError:
            value = self._memo[key] = _read_only(method(self, *args))
            return value

    return wrapper  # type: ignore[return-value]


def _ceil_div(a: Array, b: Array) -> Array:
    return np.asarray(-(-a // b))


def _distinct(expr: IndexExpr, extents: list[Array]) -> Array:
    """Vectorized :func:`sasim.workload.projection.distinct_values`."""
    if len(expr.terms) == 1:
        return extents[0]
    t1, t2 = expr.terms
    g = math.gcd(t1.coef, t2.coef)
    a, b = t1.coef // g, t2.coef // g
    e1, e2 = extents
    return np.asarray(e1 * e2 - np.maximum(0, e1 - b) * np.maximum(0, e2 - a))


@dataclass(frozen=True)
class Nest:
    """A loop-nest structure from ``template`` with a batch of factor rows.

    What depends only on the structure and the factors (strides, tiles, refill loops,
    counts) is memoized per instance: one evaluation asks for the same ones many times,
    and at the mapper's batch sizes (a few hundred rows) NumPy's per-call cost, not the
    arithmetic, is most of an evaluation.
    """

    template: Design
    factors: Array  # (B, L) int64
    _memo: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, design: Design, factors: Array | None = None) -> Nest:
        f = design.factors[None, :] if factors is None else np.asarray(factors, dtype=np.int64)
        if f.ndim != 2 or f.shape[1] != len(design.loops):
            raise ValueError(f"factors must have shape (B, {len(design.loops)}), not {f.shape}")
        return cls(design, f)

    @property
    def batch(self) -> int:
        return int(self.factors.shape[0])

    # --- per-dimension structure ------------------------------------------------------

    @_memoized
    def loops_of(self, dim: str) -> list[int]:
        return [j for j, lp in enumerate(self.template.loops) if lp.dim == dim]

    @_memoized
    def strides(self, dim: str) -> Array:
        """(B, n) strides of ``dim``'s loops: the product of the factors inside each."""
        js = self.loops_of(dim)
        if not js:
            return np.ones((self.batch, 0), dtype=np.int64)
        f = self.factors[:, js]
        inner = np.cumprod(f[:, ::-1], axis=1)[:, ::-1]
        return np.concatenate([inner[:, 1:], np.ones((self.batch, 1), dtype=np.int64)], axis=1)

    @_memoized
    def tile(self, dim: str, boundary: int) -> Array:
        """Unclipped extent of ``dim`` over ``loops[boundary:]``."""
        js = [j for j in self.loops_of(dim) if j >= boundary]
        if not js:
            return np.ones(self.batch, dtype=np.int64)
        return np.asarray(np.prod(self.factors[:, js], axis=1))

    def count(self, dim: str, include: Array) -> Array:
        """Number of non-empty tuples of the included loops of ``dim``.

        ``include`` is a (B, L) boolean mask over the whole nest; excluded loops of
        ``dim`` sit at index 0 (their stride still counts). Loops inside the last
        included one form the tile and are not counted.
        """
        js = self.loops_of(dim)
        if not js:
            return np.ones(self.batch, dtype=np.int64)
        return self._count(dim, np.ascontiguousarray(include[:, js], dtype=bool).tobytes())

    @_memoized
    def _count(self, dim: str, included: bytes) -> Array:
        """:meth:`count` with the included loops of ``dim`` as the bytes of a (B, n) mask."""
        size = self.template.workload.dims[dim]
        js = self.loops_of(dim)
        mask = np.frombuffer(included, dtype=bool).reshape(self.batch, len(js))
        f = np.where(mask, self.factors[:, js], 1)
        s = self.strides(dim)
        # Per loop i (as rows of (n, B) arrays): span = largest index reachable by the
        # loops inside i, plus one; suffix = the product of the factors inside i.
        ones = np.ones((self.batch, 1), dtype=np.int64)
        span = np.concatenate([1 + np.cumsum(((f - 1) * s)[:, :0:-1], axis=1)[:, ::-1], ones], axis=1).T
        suffix = np.concatenate([np.cumprod(f[:, :0:-1], axis=1)[:, ::-1], ones], axis=1).T
        f, s = f.T, s.T
        remaining = np.full(self.batch, size, dtype=np.int64)
        alive = np.ones(self.batch, dtype=bool)
        total = np.zeros(self.batch, dtype=np.int64)
        for i in range(len(js)):
            valid = np.minimum(f[i], _ceil_div(remaining, s[i]))
            full = np.minimum(np.maximum((remaining - span[i]) // s[i] + 1, 0), valid)
            total += full * suffix[i] * alive
            alive &= valid > full
            if not alive.any():  # every row's tail is done: nothing more adds
                return total
            remaining = remaining - full * s[i]
        total += (alive & (remaining > 0)).astype(np.int64)
        return total

    @_memoized
    def extent_distribution(self, dim: str, boundary: int) -> list[tuple[Array, Array]]:
        """[(extent, count), ...] of ``dim``'s tiles at ``boundary`` over all its outer loops."""
        size = self.template.workload.dims[dim]
        t = self.tile(dim, boundary)
        covered = t >= size
        full_extent = np.minimum(t, size)
        full_count = np.where(covered, 1, size // t)
        part = np.where(covered, 0, size % t)
        return [(full_extent, full_count), (part, (part > 0).astype(np.int64))]

    # --- events -----------------------------------------------------------------------

    @_memoized
    def refill_loop(self, tensor: str, boundary: int) -> Array:
        """Position of r*: the innermost temporal loop before ``boundary`` relevant to
        ``tensor`` with a factor above 1, or -1 (per batch row)."""
        return refill_positions(self.template.loops, self.template.workload, tensor, boundary, self.factors)

    @_memoized
    def _positions(self) -> tuple[Array, Array]:
        """(1, L) loop positions, and which loops are temporal."""
        loops = self.template.loops
        return np.arange(len(loops))[None, :], np.array([lp.axis is None for lp in loops])[None, :]

    def event_mask(self, refill: Array, spatial: bool) -> Array:
        """(B, L) mask: temporal loops at or outside r* (and spatial loops if instanced)."""
        positions, temporal = self._positions()
        mask = temporal & (positions <= refill[:, None])
        if spatial:
            mask = mask | ~temporal
        return np.broadcast_to(mask, self.factors.shape)

    def event_sum(self, tensor: str, boundary: int, include: Array) -> Array:
        """Σ over the non-empty tuples of the included loops of |tile of tensor at boundary|."""
        wl = self.template.workload
        total = self.tile_sum(tensor, boundary)
        relevant = wl.tensor_dims(tensor)
        for d in wl.dims:
            if d not in relevant:
                total = total * self.count(d, include)
        return total

    @_memoized
    def tile_sum(self, tensor: str, boundary: int) -> Array:
        """Σ over every tile of ``tensor`` at ``boundary`` (one per tuple of its relevant
        dimensions' outer loops) of its distinct elements."""
        wl = self.template.workload
        # An index of one dimension: its tiles partition the dimension, so their extents sum
        # to its size whatever the tiling.
        single = math.prod(wl.dims[expr.terms[0].dim] for expr in wl.indices(tensor) if len(expr.terms) == 1)
        total = np.full(self.batch, single, dtype=np.int64)
        for expr in wl.indices(tensor):
            if len(expr.terms) == 1:
                continue
            d1, d2 = (self.extent_distribution(t.dim, boundary) for t in expr.terms)
            acc = np.zeros(self.batch, dtype=np.int64)
            for e1, c1 in d1:
                for e2, c2 in d2:
                    acc += c1 * c2 * _distinct(expr, [e1, e2])
            total = total * acc
        return total

    def events(self, include: Array) -> Array:
        """Number of non-empty tuples of the included loops over every dimension."""
        total = np.ones(self.batch, dtype=np.int64)
        for d in self.template.workload.dims:
            total = total * self.count(d, include)
        return total

    @_memoized
    def tile_elements(self, tensor: str, boundary: int) -> Array:
        """Elements of the largest tile of ``tensor`` at ``boundary`` (for capacity)."""
        wl = self.template.workload
        total = np.ones(self.batch, dtype=np.int64)
        for expr in wl.indices(tensor):
            ext = [np.minimum(self.tile(t.dim, boundary), wl.dims[t.dim]) for t in expr.terms]
            total = total * _distinct(expr, ext)
        return total
