"""The DRAM channel's timing, as plain Python (no SimPy).

The simulator and the RTL testbench both ask this class when each element of a
request moves, so both see identical memory (docs/timing.md, "DRAM channel").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

__all__ = ["DramChannel", "DramGrant", "DramOp"]


class DramOp(StrEnum):
    READ = "read"
    WRITE = "write"


@dataclass(frozen=True, slots=True)
class DramGrant:
    """When a request's elements move: element ``k`` in cycle ``start + ((k+1)*bits - 1) // bpc``."""

    op: DramOp
    issue: int
    start: int
    elements: int
    bits: int
    bits_per_cycle: int

    def cycle_of(self, k: int) -> int:
        return self.start + ((k + 1) * self.bits - 1) // self.bits_per_cycle

    def cycles(self) -> np.ndarray:
        """The cycle in which each element moves."""
        k = np.arange(1, self.elements + 1, dtype=np.int64)
        return self.start + (k * self.bits - 1) // self.bits_per_cycle

    @property
    def end(self) -> int:
        """First cycle after the request's last beat."""
        return self.start + -(-self.elements * self.bits // self.bits_per_cycle)


class DramChannel:
    """One in-order channel with a first-word latency and ``bits_per_cycle`` of bandwidth."""

    def __init__(self, *, latency: int, bits_per_cycle: int) -> None:
        if latency < 0 or bits_per_cycle < 1:
            raise ValueError(f"need latency >= 0 and bits_per_cycle >= 1, not {latency!r}, {bits_per_cycle!r}")
        self.latency = latency
        self.bits_per_cycle = bits_per_cycle
        self.free = 0
        self.last_issue = -1
        self.busy_cycles = 0
        #: Σ over requests of the cycles from issue to the earliest start (the first-word latency)
        self.latency_cycles = 0
        #: Σ over requests of the cycles spent queued behind other transfers (bandwidth)
        self.queue_cycles = 0

    def request(self, op: DramOp, issue: int, elements: int, bits: int) -> DramGrant:
        """Queue a request issued in cycle ``issue``; requests must arrive in issue order."""
        if issue < self.last_issue:
            raise ValueError(f"DRAM requests must be issued in order: cycle {issue} after {self.last_issue}")
        if elements < 1 or bits < 1:
            raise ValueError(f"a DRAM request moves at least one element of at least one bit, not {elements}x{bits}")
        self.last_issue = issue
        earliest = issue + self.latency if op is DramOp.READ else issue
        grant = DramGrant(op, issue, max(earliest, self.free), elements, bits, self.bits_per_cycle)
        self.busy_cycles += grant.end - grant.start
        self.latency_cycles += earliest - issue
        self.queue_cycles += grant.start - earliest
        self.free = grant.end
        return grant
