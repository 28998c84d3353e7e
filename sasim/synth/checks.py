"""The checks ``sasim synth`` holds a netlist to: no latches, and every buffer in the RAM
the generator meant it for (block RAM, or LUT RAM for a small bank)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sasim.synth.memories import MemoryMapping, MemoryReport
from sasim.synth.targets import Target

__all__ = ["Check", "CheckStatus", "buffers_in_ram", "no_latches"]


class CheckStatus(enum.Enum):
    PASSED = "pass"
    FAILED = "fail"
    NOT_APPLICABLE = "n/a"


@dataclass(frozen=True)
class Check:
    """One check: its name, outcome and a one-line explanation."""

    name: str
    status: CheckStatus
    detail: str

    @property
    def failed(self) -> bool:
        return self.status is CheckStatus.FAILED

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status.value, "passed": None if self.status is CheckStatus.NOT_APPLICABLE
                else self.status is CheckStatus.PASSED, "detail": self.detail}


def _names(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def no_latches(latches: Sequence[str]) -> Check:
    """Fails when the netlist has any latch; ``latches`` names them."""
    if not latches:
        return Check("no_latches", CheckStatus.PASSED, "no latch in the netlist")
    return Check("no_latches", CheckStatus.FAILED, f"{len(latches)} latch(es): {_names(list(latches))}")


def buffers_in_ram(target: Target, memories: Sequence[MemoryReport]) -> Check:
    """Passes when every memory of kind ``buffer`` became the RAM the generator meant it
    for: block RAM (DP16KD on ECP5, RAMB on Xilinx), or LUT RAM for the banks it marked
    small (``--lut-ram-bits``). Not applicable to the generic target, which has neither."""
    name = "buffers_in_ram"
    if not target.has_block_ram:
        return Check(name, CheckStatus.NOT_APPLICABLE, "the generic target has no block RAM")
    buffers = [m for m in memories if m.kind == "buffer"]
    if not buffers:
        return Check(name, CheckStatus.NOT_APPLICABLE, "the design has no buffer memory")
    elsewhere = [m for m in buffers if m.misplaced]
    if not elsewhere:
        lut = sum(m.mapped_to is MemoryMapping.LUT_RAM for m in buffers)
        if not lut:
            return Check(name, CheckStatus.PASSED, f"every buffer memory ({len(buffers)}) is in block RAM")
        where = ", ".join(f"{n} in {label}" for n, label in ((len(buffers) - lut, "block RAM"), (lut, "LUT RAM")) if n)
        return Check(name, CheckStatus.PASSED,
                     f"every buffer memory ({len(buffers)}) is in the RAM it was meant for: {where}")
    by_mapping: dict[str, list[str]] = {}
    for m in elsewhere:
        meant = m.meant_for.label if m.meant_for is not None else "?"
        by_mapping.setdefault(f"{m.mapped_to.label} instead of {meant}", []).append(m.name)
    parts = [f"{what}: {_names(names, 4)}" for what, names in by_mapping.items()]
    return Check(name, CheckStatus.FAILED,
                 f"{len(elsewhere)} of {len(buffers)} buffer memories are not in the RAM they were meant for "
                 f"({'; '.join(parts)})")
