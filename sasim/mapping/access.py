"""Access entries (after Rubick): how a tensor enters and moves through the PE array.

An entry is a set of *links*, each a direction vector ``(dx, dy | dt)``: the value a
PE uses at step ``t`` is the one its neighbour ``dx, dy`` away used ``dt`` steps
earlier. ``systolic-x`` is ``(1,0|1)``, ``multicast-x`` ``(1,0|0)``, ``stationary``
``(0,0|1)``; for outputs ``chain-y`` is a systolic partial-sum chain down the
columns and ``tree-y`` an adder tree. ``diagonal`` links share along ``(1,-1)``, as
a convolution's input row ``p + r`` does when ``P`` is on X and ``R`` on Y. An entry
with no links (``direct``) means each row or column is fed its own values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sasim.arch.architecture import LinkKind
from sasim.mapping.spec import Axis

__all__ = ["Link", "AccessEntry", "parse_access_entry", "link_skew", "AXIS_VECTOR", "DIAGONAL_VECTOR"]

AXIS_VECTOR = {Axis.X: (1, 0), Axis.Y: (0, 1)}
DIAGONAL_VECTOR = (1, -1)


@dataclass(frozen=True, slots=True, order=True)
class Link:
    """One way a tensor moves: a link kind along a spatial direction (or in time only)."""

    kind: LinkKind
    direction: tuple[int, int]  # (dx, dy); (0, 0) for stationary

    @property
    def vector(self) -> tuple[int, int, int]:
        """``(dx, dy, dt)``: multicast and tree links take no time step."""
        dt = 0 if self.kind in (LinkKind.MULTICAST, LinkKind.TREE) else 1
        return (*self.direction, dt)

    @property
    def name(self) -> str:
        if self.kind is LinkKind.STATIONARY:
            return "stationary"
        where = {(1, 0): "x", (0, 1): "y", DIAGONAL_VECTOR: "diagonal"}[self.direction]
        return f"{self.kind.value}-{where}"


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """A tensor's access entry: its links in canonical order."""

    links: tuple[Link, ...]

    @property
    def name(self) -> str:
        return "+".join(link.name for link in self.links) if self.links else "direct"

    @property
    def is_stationary(self) -> bool:
        return any(link.kind is LinkKind.STATIONARY for link in self.links)

    def kind_along(self, direction: tuple[int, int]) -> LinkKind | None:
        for link in self.links:
            if link.direction == direction:
                return link.kind
        return None

    def __str__(self) -> str:
        return self.name


_WHERE = {"x": AXIS_VECTOR[Axis.X], "y": AXIS_VECTOR[Axis.Y], "diagonal": DIAGONAL_VECTOR}


def parse_access_entry(text: str) -> AccessEntry:
    """Parse ``"systolic-x+stationary"``; raise ``ValueError`` with the allowed forms."""
    text = text.strip().lower()
    if text == "direct":
        return AccessEntry(())
    links: list[Link] = []
    for part in text.split("+"):
        part = part.strip().lower()
        if part == "stationary":
            links.append(Link(LinkKind.STATIONARY, (0, 0)))
            continue
        kind, _, where = part.partition("-")
        try:
            links.append(Link(LinkKind(kind), _WHERE[where]))
        except (ValueError, KeyError):
            raise ValueError(
                f"cannot read access entry {text!r}: use links such as systolic-x, multicast-y, "
                "stationary, chain-y, tree-x, systolic-diagonal, joined by '+', or 'direct'"
            ) from None
    if len({link.direction for link in links}) != len(links):
        raise ValueError(f"access entry {text!r} names two links along the same direction")
    return AccessEntry(tuple(sorted(links, key=lambda lk: (lk.direction == (0, 0), lk.direction))))


def link_skew(entries: Iterable[AccessEntry], rows: Any, cols: Any) -> Any:
    """σ: the array's pipeline skew, the largest over the systolic links and chains of
    ``cols - 1`` along X and ``rows - 1`` along Y (both for a diagonal). ``rows`` and
    ``cols`` are the array extent used: integers, or arrays for a batch of mappings."""
    skew: Any = 0
    for entry in entries:
        for link in entry.links:
            if link.kind in (LinkKind.SYSTOLIC, LinkKind.CHAIN):
                dx, dy = link.direction
                skew = np.maximum(skew, abs(dx) * (cols - 1) + abs(dy) * (rows - 1))
    return skew
