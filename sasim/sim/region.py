"""A buffer region: the buffet (or double buffer) that holds one tensor at one level.

Tiles enter in order, each reserved whole (credits) before its first element is
filled; elements carry the cycle they were filled and their values; the consumer
shrinks the oldest tile. docs/timing.md, "Buffers: regions, bandwidth, buffets".
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Region", "TileSlot", "NOT_FILLED", "peak_occupancy"]

NOT_FILLED = np.iinfo(np.int64).max


def peak_occupancy(open_cycles: Sequence[int] | np.ndarray, open_sizes: Sequence[int] | np.ndarray,
                   shrink_cycles: Sequence[int] | np.ndarray, shrink_sizes: Sequence[int] | np.ndarray) -> int:
    """Largest number of elements reserved at once: at each tile's opening cycle ``c`` (tiles
    open in order), every element reserved up to ``c`` minus those shrunk before ``c`` (a
    shrink frees space next cycle)."""
    o_cycles = np.asarray(open_cycles, dtype=np.int64)
    if not len(o_cycles):
        return 0
    o_sizes = np.cumsum(np.asarray(open_sizes, dtype=np.int64))
    s_all = np.asarray(shrink_cycles, dtype=np.int64)
    s_sizes = np.asarray(shrink_sizes, dtype=np.int64)
    if np.any(s_all[1:] < s_all[:-1]):  # tiles mostly shrink in order: sort only when they do not
        order = np.argsort(s_all, kind="stable")
        s_all, s_sizes = s_all[order], s_sizes[order]
    s_sizes = np.concatenate([[0], np.cumsum(s_sizes)])
    # Opening cycles are sorted, and what is reserved and freed by a cycle is the same for
    # every tile opened in it: look at the last tile opened in each cycle only.
    last = np.flatnonzero(np.concatenate([o_cycles[1:] != o_cycles[:-1], [True]]))
    freed = s_sizes[np.searchsorted(s_all, o_cycles[last], side="left")]
    return int((o_sizes[last] - freed).max())


@dataclass
class TileSlot:
    """One tile resident in a region: its elements (canonical order), fill cycles and values."""

    event: int
    elements: np.ndarray
    fill: np.ndarray = field(init=False)
    values: np.ndarray = field(init=False)
    written: np.ndarray = field(init=False)  # outputs: has this element received a partial sum
    complete: int = NOT_FILLED  # outputs and double buffers: cycle the tile became whole

    def __post_init__(self) -> None:
        n = len(self.elements)
        self.fill = np.full(n, NOT_FILLED, dtype=np.int64)
        self.values = np.zeros(n, dtype=np.int64)
        self.written = np.zeros(n, dtype=bool)

    def position(self, elements: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.elements, elements)


class Region:
    """A buffet of ``capacity`` elements; ``double`` makes a tile readable only when whole."""

    def __init__(self, name: str, tensor: str, capacity: int, *, double: bool = False) -> None:
        self.name = name
        self.tensor = tensor
        self.capacity = capacity
        self.double = double
        self.tiles: deque[TileSlot] = deque()
        self.reserved = 0
        self.freed = 0
        self._pending: list[tuple[int, int]] = []  # (cycle, elements) shrinks not yet usable
        self.opens: list[tuple[int, int]] = []
        self.shrinks: list[tuple[int, int]] = []

    def _settle(self, now: int) -> None:
        keep = []
        for cycle, n in self._pending:
            if cycle < now:
                self.freed += n
            else:
                keep.append((cycle, n))
        self._pending = keep

    @property
    def peak(self) -> int:
        return peak_occupancy([c for c, _ in self.opens], [n for _, n in self.opens],
                              [c for c, _ in self.shrinks], [n for _, n in self.shrinks])

    def has_room(self, now: int, n: int) -> bool:
        self._settle(now)
        return self.reserved - self.freed + n <= self.capacity

    def open(self, event: int, elements: np.ndarray, cycle: int) -> TileSlot:
        """Reserve room for a tile in ``cycle`` (after :meth:`has_room` said yes)."""
        slot = TileSlot(event, elements)
        self.tiles.append(slot)
        self.reserved += len(elements)
        self.opens.append((cycle, len(elements)))
        return slot

    def tile(self, event: int) -> TileSlot | None:
        for slot in self.tiles:
            if slot.event == event:
                return slot
        return None

    def readable(self, slot: TileSlot, now: int) -> np.ndarray:
        """Mask of the tile's elements a consumer may read in cycle ``now``."""
        if self.double:
            return np.full(len(slot.elements), bool(np.all(slot.fill < now)))
        return slot.fill < now

    def shrink(self, now: int) -> TileSlot:
        """Free the oldest tile; its space is usable from the next cycle."""
        slot = self.tiles.popleft()
        self._pending.append((now, len(slot.elements)))
        self.shrinks.append((now, len(slot.elements)))
        return slot
