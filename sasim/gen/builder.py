"""The state every section of the generated module shares, and the helpers that add ROMs,
memories and performance counters to it."""

from __future__ import annotations

import numpy as np

from sasim.design.design import Design
from sasim.errors import GenerationError
from sasim.gen.expr import rom_at, rom_declaration, zext
from sasim.gen.rtl import Memory
from sasim.gen.tables import Tables
from sasim.gen.verilog import Writer, identifier

__all__ = ["COUNTER_BITS", "BuilderBase"]

#: Width of every performance counter.
COUNTER_BITS = 48


class BuilderBase:
    """One module under construction: the Writer, the ROM files, the counters and memories
    declared so far, and the widths the sections agree on."""

    def __init__(self, design: Design, tables: Tables, top: str) -> None:
        self.d = design
        self.tb = tables
        self.top = top
        self.w = Writer()
        self.files: dict[str, str] = {}
        self.counters: list[tuple[str, str]] = []  # (name, increment expression)
        self.memories: list[Memory] = []
        wl = design.workload
        self.names = {t: identifier(t) for t in wl.tensors}
        if len(set(self.names.values())) != len(self.names):
            raise GenerationError(
                f"tensor names {sorted(wl.tensors)} map to the same Verilog identifier; rename one of them"
            )
        self.acc = tables.output.bits
        arch = design.architecture
        self.dram_bpc = arch.dram.bits_per_cycle
        self.npe = arch.array.rows * arch.array.cols
        self.to = 0  # elements of the output's largest drain tile
        self.out_w: dict[str, int] = {}  # the output path's register widths
        self.rom_first: dict[str, int] = {}  # each ROM's first word
        self.out_ahead = False  # does the output engine read the edge buffer a cycle ahead

    # --- helpers ----------------------------------------------------------------------------

    def rom(self, name: str, words: list[int] | np.ndarray, bits: int) -> None:
        rom_declaration(self.w, self.files, self.top, name, words, bits)
        self.rom_first[name] = int(words[0]) if len(words) else 0
        self.memory(name, "rom", None, max(1, len(words)), bits)

    def load_ahead(self, reg: str, rom: str, index: str, index_bits: int, depth: int, bits: int, advance: str) -> str:
        """Keep ``reg`` (declared by the caller, ``bits`` wide) equal to ``rom[index]`` without
        the ROM on any path: it loads word ``index + 1`` whenever ``advance`` (the condition
        under which ``index`` increments) holds, and word 0 at reset. Returns the wire holding
        that next word."""
        nxt = f"{reg}_next"
        self.w(f"wire [{index_bits - 1}:0] {reg}_ni = {index} + 1;",
               f"wire [{bits - 1}:0] {nxt} = {rom_at(rom, f'{reg}_ni', index_bits, depth)};",
               f"always @(posedge clk) if (rst) {reg} <= {bits}'d{self.rom_first[rom]}; "
               f"else if ({advance}) {reg} <= {nxt};")
        return nxt

    def memory(self, name: str, kind: str, tensor: str | None, words: int, bits: int, banks: int = 1) -> None:
        self.memories.append(Memory(name, kind, tensor, words, bits, banks))

    def count(self, name: str, expr: str, bits: int) -> None:
        """A performance counter adding ``expr`` (``bits`` wide) each cycle of the run."""
        self.counters.append((name, zext(f"({expr})", bits, COUNTER_BITS)))

    def dram_lanes(self, bits: int) -> int:
        return max(1, -(-self.dram_bpc // bits))
