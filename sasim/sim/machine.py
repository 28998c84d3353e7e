"""The machine's static parameters, from the Design: what both simulators build alike.

Region sizes, bandwidths, read latencies, the array's skew, edge-buffer depths and
the order of the transfer engines all follow docs/timing.md; the golden and the
fast simulator take them from here so they cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sasim.arch.architecture import Buffer, BufferSemantics
from sasim.design.design import Design, LevelKind, region_elements
from sasim.mapping.access import link_skew
from sasim.mapping.spec import Layout

__all__ = [
    "ACTIONS",
    "Banks",
    "EDGE",
    "EngineSpec",
    "RegionSpec",
    "array_skew",
    "bandwidth",
    "banks",
    "dram_memory",
    "edge_tiles",
    "engines",
    "new_counts",
    "read_latency",
    "regions",
]

ACTIONS = ("reads", "fills", "updates", "drains")
#: The array's edge buffers are counted with the PE level.
EDGE = "PE"
#: The array edge takes a whole vector per cycle: it is never the bandwidth limit.
UNLIMITED = 1 << 30


@dataclass(frozen=True, slots=True)
class RegionSpec:
    """A buffer's region for one tensor: its capacity in elements and its semantics."""

    level: str
    tensor: str
    capacity: int
    double: bool


@dataclass(frozen=True, slots=True)
class EngineSpec:
    """A transfer engine: ``down`` moves an input from ``source`` into ``target``; ``up``
    moves partial sums from ``source`` (the child) into ``target`` (the parent)."""

    direction: str
    tensor: str
    source: str
    target: str


def _buffer(design: Design, level: str) -> Buffer:
    return next(b for b in design.architecture.buffers if b.name == level)


def array_skew(design: Design) -> int:
    """σ: the pipeline skew of the array's systolic links and chains (as the model computes it)."""
    rows, cols = design.array_used
    return int(link_skew(design.access.values(), rows, cols))


def edge_tiles(design: Design, tensor: str) -> int:
    """How many array tiles a tensor's edge buffer holds: enough to cover the loop from a
    credit's return to the data's arrival, so a steady stream never stalls."""
    if tensor == design.workload.output:
        return array_skew(design) + design.architecture.pe.mac_latency + 2
    parent = design.keepers(tensor)[-2]
    if parent.kind is LevelKind.BUFFER:
        return _buffer(design, parent.name).read_latency + 1
    # fed straight from DRAM: a tile's request may only issue once a credit is back, so a
    # stream of one tile per step needs the DRAM latency covered by tiles in flight
    return design.architecture.dram.latency + 2


def regions(design: Design) -> list[RegionSpec]:
    """Every buffer's regions: each tensor gets the buffer's capacity in proportion to its
    tile's bits (lowering checked the tiles fit, doubled for a double buffer)."""
    out = []
    for lvl in design.levels:
        if lvl.kind is not LevelKind.BUFFER:
            continue
        buf = _buffer(design, lvl.name)
        tile_bits = {t: design.tiles[(lvl.name, t)].elements * design.bits(t) for t in sorted(lvl.keeps)}
        for t in tile_bits:
            elements = int(region_elements(buf.capacity, tile_bits, t, design.bits(t)))
            out.append(RegionSpec(lvl.name, t, elements, buf.semantics is BufferSemantics.DOUBLE_BUFFER))
    return out


def bandwidth(design: Design, level: str, tensor: str) -> int:
    """Elements per cycle a level's region of ``tensor`` reads (and, separately, writes)."""
    if design.level(level).kind is LevelKind.BUFFER:
        return max(1, _buffer(design, level).bits_per_cycle // design.bits(tensor))
    return UNLIMITED


def read_latency(design: Design, level: str) -> int:
    if design.level(level).kind is LevelKind.BUFFER:
        return _buffer(design, level).read_latency
    return 1


def engines(design: Design) -> list[EngineSpec]:
    """The transfer engines in the order that breaks ties on the DRAM channel: the inputs
    (workload order) from DRAM inward, then the output from the array outward."""
    out = []
    wl = design.workload
    for t in wl.operands:
        keepers = design.keepers(t)
        for parent, child in zip(keepers[:-1], keepers[1:]):
            out.append(EngineSpec("down", t, parent.name, child.name))
    keepers = design.keepers(wl.output)
    for child, parent in zip(reversed(keepers[1:]), reversed(keepers[:-1])):
        out.append(EngineSpec("up", wl.output, child.name, parent.name))
    return out


def dram_memory(design: Design, tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """DRAM's contents at the start: the inputs (flat, int64) and a zeroed output."""
    wl = design.workload
    memory = {t: np.asarray(tensors[t], dtype=np.int64).ravel().copy() for t in wl.operands}
    memory[wl.output] = np.zeros(int(np.prod(wl.shape(wl.output))), dtype=np.int64)
    return memory


@dataclass(frozen=True, slots=True)
class Banks:
    """A region laid out over its buffer's banks (docs/timing.md, "Layout and banks")."""

    layout: Layout
    banks: int
    ports: int
    per_word: int  # elements in one bank word

    def place(self, positions: np.ndarray, tile_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(bank, word) of each element at ``positions`` in a tile of ``tile_size`` elements."""
        word = positions // self.per_word
        if self.layout is Layout.INTERLEAVED:
            return word % self.banks, word
        words = -(-tile_size // self.per_word)
        return word // -(-words // self.banks), word


def banks(design: Design, level: str, tensor: str) -> Banks | None:
    """How a region's reads meet the banks, or None for the ideal layout (no conflicts)."""
    layout = design.layouts.get((level, tensor))
    if layout is None:
        return None
    buf = _buffer(design, level)
    return Banks(layout, buf.banks, buf.ports, max(1, buf.word_bits // design.bits(tensor)))


def new_counts(design: Design) -> dict[str, dict[str, dict[str, int]]]:
    """Zeroed ``counts[level][tensor][action]`` for every keeper."""
    return {lvl.name: {t: dict.fromkeys(ACTIONS, 0) for t in sorted(lvl.keeps)} for lvl in design.levels}
