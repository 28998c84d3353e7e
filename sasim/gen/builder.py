"""The state every section of the generated module shares, and the helpers that add ROMs,
memories and performance counters to it."""

from __future__ import annotations

import numpy as np

from sasim.design.design import Design
from sasim.errors import GenerationError
from sasim.gen.rom import RomReader, encode
from sasim.gen.rtl import Memory
from sasim.gen.tables import Tables
from sasim.gen.verilog import Writer, clog2, identifier

__all__ = ["COUNTER_BITS", "BuilderBase"]

#: Width of every performance counter.
COUNTER_BITS = 48


class BuilderBase:
    """One module under construction: the Writer, the ROM files, the counters and memories
    declared so far, and the widths the sections agree on."""

    def __init__(self, design: Design, tables: Tables, top: str, lut_ram_bits: int) -> None:
        self.d = design
        self.lut_ram_bits = lut_ram_bits  # the largest buffer bank kept in LUT RAM
        self.tb = tables
        self.top = top
        self.w = Writer()
        self.files: dict[str, str] = {}
        self.modules: dict[str, str] = {}  # the modules the top instantiates: name -> Verilog
        self.counters: list[tuple[str, str, int]] = []  # (name, increment expression, its width)
        self.memories: list[Memory] = []
        self.edge_avail: dict[str, tuple[str, int]] = {}  # per input: the elements in its edge buffer
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
        self.roms = RomReader(top)
        self.out_ahead = False  # does the output engine read the edge buffer a cycle ahead

    # --- helpers ----------------------------------------------------------------------------

    def rom(self, name: str, words: list[int] | np.ndarray, bits: int, window: int = 2) -> None:
        """Declare sequencer ROM ``name`` of ``bits``-wide ``words`` (stored as blocks where that
        is smaller, see :mod:`sasim.gen.rom`, of at least ``window`` words: the words read
        together by :meth:`window`); read it with :meth:`read` or :meth:`window`."""
        values = [int(x) for x in words] or [0]
        self.rom_first[name] = values[0]
        layout = encode(values, bits, min_block=window)
        for rom, depth, width in self.roms.declare(self.w, self.files, name, layout):
            self.memory(rom, "rom", None, depth, width)

    def read(self, rom: str, index: str, index_bits: int) -> str:
        """A wire holding word ``index`` (an expression, ``index_bits`` wide) of ``rom``."""
        return self.roms.read(self.w, rom, index, index_bits)

    def window(self, rom: str, pointer: tuple[str, int], index_bits: int, offsets: range, step: tuple[str, int],
               advance: str, max_step: int = 0, moves: list[str] | None = None) -> list[str]:
        """Wires holding words ``pointer + o`` of ``rom``, ``o`` in ``offsets``, for a pointer
        register that moves by ``step`` (at most ``max_step``, if given: the words are then
        registers) whenever ``advance`` holds, or by ``k`` when term ``k`` of ``moves`` does
        (:meth:`RomReader.window`)."""
        return self.roms.window(self.w, rom, pointer, index_bits, offsets, step, advance, max_step, moves)

    def word_after(self, rom: str, index: tuple[str, int], depth: int, advance: str, name: str) -> str:
        """A wire holding word ``index + 1`` of ``rom`` (``depth`` words), for an index register
        that starts at 0 and increments whenever ``advance`` holds: read through a window when
        the ROM is stored as blocks, else a plain read that gives word 0 past the last word
        (never X). ``name`` names the wires of a plain read."""
        reg, bits = index
        if self.roms.is_blocked(rom):
            return self.window(rom, index, max(1, clog2(depth + 1)), range(1, 2), ("1'b1", 1), advance)[0]
        if self.roms.is_const(rom):
            return self.read(rom, "", bits)
        self.w(f"wire [{bits - 1}:0] {name}_ni = {reg} + 1;")
        return self.read(rom, f"({name}_ni < {depth}) ? {name}_ni : {bits}'d0", bits)

    def load_ahead(self, reg: str, rom: str, index: str, index_bits: int, depth: int, bits: int, advance: str) -> str:
        """Keep ``reg`` (declared by the caller, ``bits`` wide) equal to ``rom[index]`` without
        the ROM on any path: it loads word ``index + 1`` whenever ``advance`` (the condition
        under which ``index`` increments) holds, and word 0 at reset. Returns the wire holding
        that next word."""
        nxt = f"{reg}_next"
        word = self.word_after(rom, (index, index_bits), depth, advance, reg)
        self.w(f"wire [{bits - 1}:0] {nxt} = {word};",
               f"always @(posedge clk) if (rst) {reg} <= {bits}'d{self.rom_first[rom]}; "
               f"else if ({advance}) {reg} <= {nxt};")
        return nxt

    def memory(self, name: str, kind: str, tensor: str | None, words: int, bits: int, banks: int = 1,
               ram: str | None = None) -> None:
        self.memories.append(Memory(name, kind, tensor, words, bits, banks, ram))

    def count(self, name: str, expr: str, bits: int) -> None:
        """A performance counter adding ``expr`` (``bits`` wide) each cycle of the run."""
        self.counters.append((name, expr, bits))

    def dram_lanes(self, bits: int) -> int:
        return max(1, -(-self.dram_bpc // bits))
