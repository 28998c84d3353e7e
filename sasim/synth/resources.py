"""Resource totals from a netlist's cell counts: which cell types of each target are
LUTs, carry cells, flip-flops, DSPs, block RAMs, LUT RAMs and latches."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sasim.synth.targets import Target

__all__ = ["PRIMITIVES", "RESOURCE_KINDS", "Resources", "count_resources", "latch_cells"]

#: The resource kinds, in report order.
RESOURCE_KINDS = ("lut", "carry", "ff", "dsp", "bram", "lutram", "latch")

#: Per target and kind: the primitives counted, as the report names them.
PRIMITIVES: dict[Target, dict[str, str]] = {
    Target.ECP5: {"lut": "LUT4", "carry": "CCU2C", "ff": "TRELLIS_FF", "dsp": "MULT18X18D", "bram": "DP16KD",
                  "lutram": "TRELLIS_DPR16X4", "latch": "none: mapped to LUT logic"},
    Target.XILINX: {"lut": "LUT1-LUT6", "carry": "CARRY4", "ff": "FDRE, FDSE, FDCE, FDPE", "dsp": "DSP48E1",
                    "bram": "RAMB18E1, RAMB36E1", "lutram": "RAM32M, RAM64M, RAM*X1*", "latch": "LDCE, LDPE"},
    Target.GENERIC: {"lut": "$lut (4 inputs)", "ff": "$_DFF*, $_SDFF*", "latch": "$_DLATCH*"},
}

# Per target and kind: the cell types counted (regular expressions, whole name).
_PATTERNS: dict[Target, dict[str, str]] = {
    Target.ECP5: {
        "lut": r"LUT4",
        "carry": r"CCU2C",
        "ff": r"TRELLIS_FF",
        "dsp": r"MULT18X18D",
        "bram": r"DP16KD|PDPW16KD",
        "lutram": r"TRELLIS_DPR16X4",
        # synth_ecp5 maps latches to LUT logic: none survive as cells (the probe finds them).
        "latch": r"(?!)",
    },
    Target.XILINX: {
        "lut": r"LUT[1-6](_2)?",
        "carry": r"CARRY[48]",
        "ff": r"FD[RSCP]E(_1)?",
        "dsp": r"DSP48E[12]",
        "bram": r"RAMB(18|36)E[12]|URAM288(_BASE)?",
        "lutram": r"RAM(16|32|64|128|256)X\d[SD]|RAM(32|64)M(16)?",
        "latch": r"LD[CP]E(_1)?",
    },
    Target.GENERIC: {
        "lut": r"\$lut",
        "ff": r"\$_(S?DFF|S?DFFE|SDFFCE|ALDFF|ALDFFE|DFFSR|DFFSRE|FF)_\w*",
        "latch": r"\$_(DLATCH|DLATCHSR|SR)_\w*",
    },
}


@dataclass(frozen=True)
class Resources:
    """What a netlist uses. A kind the target has no primitive for is ``None``
    (a generic netlist has no carry cells, DSPs or RAMs)."""

    lut: int | None
    carry: int | None
    ff: int | None
    dsp: int | None
    bram: int | None
    lutram: int | None
    latch: int | None
    cells: dict[str, int] = field(default_factory=dict)  # every cell type and its count

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {kind: getattr(self, kind) for kind in RESOURCE_KINDS}
        out["cells"] = dict(sorted(self.cells.items()))
        return out


def count_resources(target: Target, cells: dict[str, int]) -> Resources:
    """Sum ``cells`` (cell type -> count, from ``stat``) into the resource kinds of ``target``."""
    patterns = _PATTERNS[target]
    totals: dict[str, int | None] = {}
    for kind in RESOURCE_KINDS:
        if kind not in patterns:
            totals[kind] = None
            continue
        rx = re.compile(patterns[kind])
        totals[kind] = sum(n for cell, n in cells.items() if rx.fullmatch(cell))
    return Resources(lut=totals["lut"], carry=totals["carry"], ff=totals["ff"], dsp=totals["dsp"],
                     bram=totals["bram"], lutram=totals["lutram"], latch=totals["latch"], cells=dict(cells))


def latch_cells(target: Target, cells: dict[str, int]) -> dict[str, int]:
    """The latch cell types among ``cells``, with their counts."""
    pattern = _PATTERNS[target].get("latch")
    if pattern is None:
        return {}
    rx = re.compile(pattern)
    return {cell: n for cell, n in cells.items() if rx.fullmatch(cell)}
