"""Affine projections from loop dimensions to tensor indices.

A tensor index is a sum of at most two terms ``coef * DIM`` with positive integer
coefficients, written as ``"M"``, ``"P*2 + R"`` or ``"2*P + 3*R"``. A convolution
input row is ``P*stride + R*dilation``. Constants are not allowed: zero padding is
materialized in the tensor (see :mod:`sasim.workload.workload`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Term", "IndexExpr", "parse_index", "index_extent", "distinct_values"]

_TERM = re.compile(r"^\s*(?:(\d+)\s*\*\s*)?([A-Za-z_][A-Za-z0-9_]*)(?:\s*\*\s*(\d+))?\s*$")

MAX_TERMS = 2


@dataclass(frozen=True, slots=True)
class Term:
    """One ``coef * dim`` term of an index expression."""

    dim: str
    coef: int


@dataclass(frozen=True, slots=True)
class IndexExpr:
    """An affine index: the sum of its terms."""

    terms: tuple[Term, ...]

    @property
    def dims(self) -> tuple[str, ...]:
        return tuple(t.dim for t in self.terms)

    def __str__(self) -> str:
        return " + ".join(t.dim if t.coef == 1 else f"{t.dim}*{t.coef}" for t in self.terms)


def parse_index(text: str) -> IndexExpr:
    """Parse ``"P*2 + R"``; raise ``ValueError`` with the rule when it is malformed."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"index expression must be a non-empty string such as 'M' or 'P*2 + R', not {text!r}")
    terms: list[Term] = []
    for raw in text.split("+"):
        m = _TERM.match(raw)
        if m is None or (m.group(1) and m.group(3)):
            raise ValueError(
                f"cannot read index expression {text!r}: each '+'-separated term must be "
                "DIM, DIM*COEF or COEF*DIM with a positive integer COEF"
            )
        coef = int(m.group(1) or m.group(3) or 1)
        if coef < 1:
            raise ValueError(f"coefficient in index expression {text!r} must be at least 1, not {coef}")
        terms.append(Term(m.group(2), coef))
    if len(terms) > MAX_TERMS:
        raise ValueError(
            f"index expression {text!r} has {len(terms)} terms; at most {MAX_TERMS} are supported "
            "(split the index into separate tensor indices)"
        )
    names = [t.dim for t in terms]
    if len(set(names)) != len(names):
        raise ValueError(f"index expression {text!r} names a dimension twice")
    return IndexExpr(tuple(terms))


def index_extent(expr: IndexExpr, extents: dict[str, int]) -> int:
    """Size of the dense array axis that holds ``expr`` over ``extents`` (max value + 1)."""
    return sum(t.coef * (extents[t.dim] - 1) for t in expr.terms) + 1


@lru_cache(maxsize=65536)
def _distinct_two(c1: int, e1: int, c2: int, e2: int) -> int:
    g = math.gcd(c1, c2)
    a, b = c1 // g, c2 // g
    # (p, r) is redundant iff (p + b, r - a) is also in range: then a*p + b*r repeats.
    return e1 * e2 - max(0, e1 - b) * max(0, e2 - a)


def distinct_values(expr: IndexExpr, extents: tuple[int, ...]) -> int:
    """Number of distinct values ``expr`` takes when its dims range over ``extents``.

    ``extents`` gives one extent per term, in term order. For one term this is the
    extent itself; for ``a*p + b*r`` a pair ``(p, r)`` repeats the value of
    ``(p + b', r - a')`` (``a' = a/g``, ``b' = b/g``, ``g = gcd(a, b)``), which gives a closed form.
    """
    if any(e <= 0 for e in extents):
        return 0
    if len(expr.terms) == 1:
        return extents[0]
    (t1, t2) = expr.terms
    return _distinct_two(t1.coef, extents[0], t2.coef, extents[1])
