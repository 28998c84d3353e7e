"""The generated accelerator: one Verilog-2005 module per Design, plus its sequencer ROMs.

The module implements docs/timing.md cycle for cycle, section by section:

* per input tensor: the DRAM read engine (credits, one request per buffer tile), the
  buffer region (a buffet, or a double buffer: fill in order, read by position,
  shrink whole tiles), the engine that moves array tiles into the edge buffer
  (``bandwidth`` elements per cycle, stopping at the first element not yet readable,
  ``read_latency`` cycles to arrive), and the edge buffer;
* the array: one step per cycle at most, fold drain and preload, per-PE operand
  selection, the MACs (wrapping at the accumulator width) and the reduction of PEs
  that share an output element, the drain tile delivered ``skew + mac_latency``
  cycles after its last step;
* the output path: the engine that accumulates drain tiles into the buffer's output
  tile (read-modify-write), and the DRAM write engine that streams finished tiles out;
* the controller's ``start``/``done`` and a bank of performance counters.

Decisions are combinational on registered state; every update lands at the clock
edge, so "written in cycle c, visible from c + 1" holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sasim.design.design import Design
from sasim.errors import GenerationError
from sasim.gen.memory import Ring, absolute_addresses, conflict_free_banks, input_ram, output_ram, ring, update_groups
from sasim.gen.tables import InputTables, OutputTables, Tables, build_tables
from sasim.gen.verilog import Writer, clog2, hex_image, identifier, pack_rows, width

__all__ = ["Counter", "Memory", "Rtl", "build"]

COUNTER_BITS = 48
#: The DRAM ports' tile and count fields and the cycle counter (the control logic inside is narrower).
IDX = 32
#: Pipeline stages of the array's datapath (operands, products), as far as the drain delay allows.
MAX_DATAPATH_STAGES = 2


@dataclass(frozen=True, slots=True)
class Counter:
    """A performance counter: ``perf_sel`` value ``index`` reads it."""

    index: int
    name: str  # "cycles", "steps", "stall.<cause>", or "<level>.<tensor>.<action>"


@dataclass(frozen=True, slots=True)
class Memory:
    """A memory array of the generated module, as synthesis will see it.

    ``kind`` is ``"buffer"`` (a buffer region: banked RAM meant for block RAM),
    ``"edge"`` (an edge buffer, read by many PEs at once: registers) or ``"rom"``
    (a sequencer table). Every memory whose hierarchical name starts with ``name``
    belongs to this entry (a buffer region is one memory per bank).
    """

    name: str
    kind: str
    tensor: str | None
    words: int
    bits: int
    banks: int = 1


@dataclass(frozen=True)
class Rtl:
    """A generated accelerator: file name -> contents, and what a testbench needs to drive it."""

    top: str
    files: dict[str, str]
    counters: tuple[Counter, ...]
    ports: dict[str, dict[str, object]]
    parameters: dict[str, object] = field(default_factory=dict)
    memories: tuple[Memory, ...] = ()


def _rom(w: Writer, files: dict[str, str], top: str, name: str, words: list[int] | np.ndarray, bits: int) -> None:
    depth = max(1, len(words))
    values = [int(x) for x in words] or [0]
    fname = f"{top}_{name}.hex"
    files[fname] = hex_image(values, bits)
    w(f"reg [{bits - 1}:0] {name} [0:{depth - 1}];")
    w(f'initial $readmemh("{fname}", {name});')


def _inverted(addresses: np.ndarray, bits: int) -> np.ndarray:
    """Buffer addresses as the ROMs store them: inverted, and inverted back where they are
    read. The one-cycle-ahead address register is then not a plain copy of the ROM's
    output, so synthesis keeps it as the buffer's (synchronous) read address instead of
    absorbing it into the ROM as the ROM's output register, which would leave the buffer
    with an asynchronous read and no block RAM."""
    inverted: np.ndarray = np.bitwise_xor(addresses, (1 << bits) - 1)
    return inverted


def _sext(expr: str, have: int, want: int) -> str:
    """``expr`` (``have`` bits, two's complement) sign-extended or truncated to ``want`` bits."""
    if have == want:
        return expr
    if have > want:
        return f"{expr}[{want - 1}:0]"
    return f"{{{{{want - have}{{{expr}[{have - 1}]}}}}, {expr}}}"


def _zext(expr: str, have: int, want: int = IDX) -> str:
    """``expr`` (``have`` bits, unsigned) zero-extended to ``want`` bits."""
    return expr if have >= want else f"{{{want - have}'d0, {expr}}}"


def _fit(expr: str, have: int, want: int) -> str:
    """``expr`` (``have`` bits, unsigned) zero-extended, or truncated (a name only), to ``want`` bits."""
    if have > want:
        return f"{expr}[{want - 1}:0]"
    return _zext(expr, have, want)


def _at(rom: str, index: str, bits: int, depth: int) -> str:
    """``rom[index]`` for an ``index`` (``bits`` wide) that may reach ``depth`` (then word 0), at
    the index width the ROM's depth needs."""
    k = max(1, clog2(depth))
    return f"{rom}[({index} < {depth}) ? {_fit(index, bits, k)} : {k}'d0]"


def _addresses_ahead(w: Writer, p: str, rom: str, pointer: tuple[str, int], step: tuple[str, int], lanes: int,
                     bits: int, index_bits: int, at_reset: np.ndarray, field: str = "") -> list[str]:
    """The buffer addresses ``lanes`` read ports use in the next cycle: ROM words
    ``pointer + step + i`` (inverted, see :func:`_inverted`), ``step`` (at most ``lanes``)
    being how far the engine moves in this cycle. All ``2 * lanes`` words the ports can
    need are read from the registered pointer in parallel with the engine's decision,
    which then only selects: the ROM is not on the path after that decision."""
    ptr, ptr_bits = pointer
    n, n_bits = step
    cw = max(1, clog2(2 * lanes))
    w(f"wire [{bits - 1}:0] {p}_cand [0:{2 * lanes - 1}];  // ROM words the read ports can need next",
      f"wire [{cw - 1}:0] {p}_cstep = {_fit(n, n_bits, cw)};")
    for k in range(2 * lanes):
        w(f"assign {p}_cand[{k}] = ~{rom}[{_fit(ptr, ptr_bits, index_bits)} + {index_bits}'d{k}]{field};")
    return [f"rst ? {bits}'d{int(at_reset[i]) ^ ((1 << bits) - 1)} : {p}_cand[{p}_cstep + {cw}'d{i}]"
            for i in range(lanes)]


def _advance(slot: str, bits: int, size: int, slots: int) -> str:
    """Move ``slot`` (``bits`` wide) to the next of ``slots`` slots of ``size`` elements, in a ring."""
    if slots == 1:
        return f"{slot} <= {bits}'d0;"
    return f"{slot} <= ({slot} == {bits}'d{(slots - 1) * size}) ? {bits}'d0 : {slot} + {bits}'d{size};"


def _at_most(value: str, bits: int, limit: int, out_bits: int) -> str:
    """``min(value, limit)`` (``value`` is ``bits`` wide) at ``out_bits``, which hold ``limit``."""
    cw = max(bits, out_bits)
    return f"(({_fit(value, bits, cw)} < {cw}'d{limit}) ? {_fit(value, bits, out_bits)} : {out_bits}'d{limit})"


def _difference(w: Writer, name: str, total: str, freed: str, bound: int) -> tuple[str, int]:
    """Declare ``name = total - freed`` for two cumulative counts whose difference never
    exceeds ``bound``: computed modulo a power of two above ``bound``, so the carry chain is
    as short as the bound allows. Returns the wire and its width."""
    bits = width(bound)
    w(f"wire [{bits - 1}:0] {name} = {total}[{bits - 1}:0] - {freed}[{bits - 1}:0];")
    return name, bits


def _fits(occupied: tuple[str, int], size: str, size_bits: int, capacity: int) -> str:
    """Whether ``size`` more elements fit beside ``occupied`` (a wire and its width) in ``capacity``."""
    name, bits = occupied
    s = max(bits, size_bits) + 1
    return f"({_fit(name, bits, s)} + {_fit(size, size_bits, s)} <= {capacity})"


class _Builder:
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
        self.esw: dict[str, int] = {}  # per input tensor: the width of its array-tile sizes
        self.ecap: dict[str, int] = {}  # per input tensor: its edge buffer's capacity
        self.slot_w: dict[str, int] = {}  # per input tensor: the width of its edge-buffer slot offsets
        self.out_w: dict[str, int] = {}  # the output path's register widths
        self.rom_first: dict[str, int] = {}  # each ROM's first word
        self.out_ahead = False  # does the output engine read the edge buffer a cycle ahead

    # --- helpers ----------------------------------------------------------------------------

    def rom(self, name: str, words: list[int] | np.ndarray, bits: int) -> None:
        _rom(self.w, self.files, self.top, name, words, bits)
        self.rom_first[name] = int(words[0]) if len(words) else 0
        self.memory(name, "rom", None, max(1, len(words)), bits)

    def memory(self, name: str, kind: str, tensor: str | None, words: int, bits: int, banks: int = 1) -> None:
        self.memories.append(Memory(name, kind, tensor, words, bits, banks))

    def count(self, name: str, expr: str, bits: int) -> None:
        """A performance counter adding ``expr`` (``bits`` wide) each cycle of the run."""
        self.counters.append((name, _zext(f"({expr})", bits, COUNTER_BITS)))

    def dram_lanes(self, bits: int) -> int:
        return max(1, -(-self.dram_bpc // bits))

    # --- module -------------------------------------------------------------------------------

    def build(self) -> Rtl:
        w = self.w
        d = self.d
        ports: dict[str, dict[str, object]] = {}
        w("// Generated by sasim from one Design; see docs/rtl.md and docs/timing.md.",
          f"// Workload: {d.workload.name}; array {d.architecture.array.rows}x{d.architecture.array.cols}.",
          "`timescale 1ns/1ps", "`default_nettype none", "")
        head = ["input  wire clk", "input  wire rst", "input  wire start", "output wire done"]
        for t in self.tb.inputs:
            p = self.names[t.tensor]
            lanes = self.dram_lanes(t.bits)
            head += [
                f"output wire {p}_req_valid", f"output wire [{IDX - 1}:0] {p}_req_count",
                f"output wire [{IDX - 1}:0] {p}_req_tile", f"input  wire [7:0] {p}_rd_count",
                f"input  wire [{lanes * t.bits - 1}:0] {p}_rd_data",
            ]
            ports[t.tensor] = {"role": "input", "prefix": p, "lanes": lanes, "bits": t.bits}
        o = self.tb.output
        q = self.names[o.tensor]
        wl_lanes = self.dram_lanes(o.bits)
        head += [
            f"output wire {q}_req_valid", f"output wire [{IDX - 1}:0] {q}_req_count",
            f"output wire [{IDX - 1}:0] {q}_req_tile", f"output wire [7:0] {q}_wr_count",
            f"output wire [{wl_lanes * o.bits - 1}:0] {q}_wr_data", f"input  wire {q}_wr_done",
            "input  wire [7:0] perf_sel", f"output reg  [{COUNTER_BITS - 1}:0] perf_value",
        ]
        ports[o.tensor] = {"role": "output", "prefix": q, "lanes": wl_lanes, "bits": o.bits}
        w(f"module {self.top} (")
        for i, line in enumerate(head):
            w("    " + line + ("," if i + 1 < len(head) else ""))
        w(");", "")
        w.comment("run control: start is sampled at a clock edge; the run's cycle 0 is the cycle after it;")
        w.comment("now stops at the run's cycle count when done rises")
        w("reg run_q;", f"reg [{IDX - 1}:0] now;", "wire go = run_q;", "wire all_done;",
          "assign done = go & all_done;", "")
        w("always @(posedge clk) begin")
        w("    if (rst) begin run_q <= 1'b0; now <= 0; end")
        w("    else begin if (start) run_q <= 1'b1; if (run_q & ~all_done) now <= now + 1; end")
        w("end", "")
        done_terms = []
        for t in self.tb.inputs:
            done_terms += self.input_path(t)
        self.output_declarations(o)
        done_terms += self.array()
        done_terms += self.output_path(o)
        w(f"assign all_done = {' & '.join(done_terms)};", "")
        counters = self.perf()
        w("endmodule", "`default_nettype wire")
        self.files[f"{self.top}.v"] = w.text()
        arr = self.tb.array
        params: dict[str, object] = {
            "steps": arr.steps, "skew": arr.skew, "mac_latency": arr.mac_latency, "rows": arr.rows,
            "cols": arr.cols, "dram_latency": d.architecture.dram.latency, "dram_bits_per_cycle": self.dram_bpc,
        }
        return Rtl(self.top, dict(sorted(self.files.items())), counters, ports, params, tuple(self.memories))

    # --- input path -------------------------------------------------------------------------

    def input_path(self, t: InputTables) -> list[str]:
        w = self.w
        p = self.names[t.tensor]
        b = t.bits
        nb, ne, npos = len(t.dram_sizes), len(t.edge_sizes), len(t.edge_positions)
        tmax = int(t.edge_sizes.max())
        lanes = self.dram_lanes(b)
        bw = min(t.bandwidth, tmax)
        szw = width(int(t.dram_sizes.max()))
        esw = width(tmax)
        pw = width(int(t.edge_positions.max()) if npos else 0)
        cap, ecap, ns = t.buffer_capacity, t.edge_capacity, t.edge_slots
        w.comment(f"===== input {t.tensor}: DRAM -> {t.buffer} ({'double buffer' if t.double else 'buffet'}, "
                  f"{cap} elements) -> edge buffer ({ns} tiles) -> array =====")
        self.rom(f"{p}_dsz", t.dram_sizes, szw)
        self.rom(f"{p}_etile", pack_rows([t.edge_sizes, t.edge_last.astype(np.int64)], [esw, 1]), esw + 1)
        self.rom(f"{p}_epos", np.concatenate([t.edge_positions, np.zeros(bw, dtype=np.int64)]), pw)
        ring_ = ring(cap, lanes)
        ab = ring_.addr_bits
        absolute = absolute_addresses(t.edge_parent, t.edge_positions, t.edge_sizes, t.dram_sizes, ring_.words)
        eabs = _inverted(np.concatenate([absolute, np.zeros(2 * bw, dtype=np.int64)]), ab)
        self.rom(f"{p}_eabs", eabs, ab)
        self.memory(f"{p}_bmem", "buffer", t.tensor, ring_.words, b, ring_.banks)
        self.memory(f"{p}_emem", "edge", t.tensor, ns * tmax, b, 1)
        w(f"reg [{b - 1}:0] {p}_emem [0:{ns * tmax - 1}];", f"wire [{b - 1}:0] {p}_bdata [0:{bw - 1}];")
        w(f"wire [{IDX - 1}:0] {p}_rd_n = {_zext(f'{p}_rd_count', 8)};")
        w(f"wire [{b - 1}:0] {p}_rd_lanes [0:{lanes - 1}];", "genvar " + f"{p}_r;", "generate")
        w(f"for ({p}_r = 0; {p}_r < {lanes}; {p}_r = {p}_r + 1) begin : {p}_rl",
          f"    assign {p}_rd_lanes[{p}_r] = {p}_rd_data[{p}_r * {b} + {b - 1} : {p}_r * {b}];", "end", "endgenerate")
        # Cumulative element counts (reserved, filled, freed) only ever meet as differences, which
        # never exceed the region's capacity, so they are kept modulo a power of two above it.
        cb = max(ab, width(cap + int(t.dram_sizes.max()))) + 1
        eb = width(ecap + tmax) + 1
        xw, nw, sw, kw = width(npos), width(bw), width(ns * tmax - 1), width(tmax - 1)
        iw = width(npos + bw - 1)  # ROM indices: the pointer plus a lane
        self.esw[t.tensor], self.ecap[t.tensor], self.slot_w[t.tensor] = esw, ecap, sw
        regs = [("de", width(nb)), ("bres", cb), ("bfill", cb), ("bfreed", cb), ("bhead", width(nb)),
                ("xe", width(ne)), ("xk", kw), ("xptr", xw), ("xslot", sw), ("eres", eb), ("efill", eb),
                ("efreed", eb), ("hslot", sw)]
        for r, bits in regs:
            w(f"reg [{bits - 1}:0] {p}_{r};")
        w(f"reg {p}_xopen;", f"wire [{cb - 1}:0] {p}_rd_nb = {_fit(f'{p}_rd_count', 8, cb)};")
        # DRAM read engine
        w(f"wire [{szw - 1}:0] {p}_dsize = {_at(f'{p}_dsz', f'{p}_de', width(nb), nb)};")
        occ = _difference(w, f"{p}_bocc", f"{p}_bres", f"{p}_bfreed", cap)
        w(f"wire {p}_dreq = go & ({p}_de < {nb}) & {_fits(occ, f'{p}_dsize', szw, cap)};")
        w(f"assign {p}_req_valid = {p}_dreq;", f"assign {p}_req_count = {_zext(f'{p}_dsize', szw)};",
          f"assign {p}_req_tile = {_zext(f'{p}_de', width(nb))};")
        # edge engine
        w(f"wire [{esw}:0] {p}_etw = {_at(f'{p}_etile', f'{p}_xe', width(ne), ne)};")
        w(f"wire [{esw - 1}:0] {p}_xsize = {p}_etw[{esw - 1}:0];", f"wire {p}_xlast = {p}_etw[{esw}];")
        eocc = _difference(w, f"{p}_eocc", f"{p}_eres", f"{p}_efreed", ecap)
        w(f"wire {p}_xopen_now = go & ~{p}_xopen & ({p}_xe < {ne}) & {_fits(eocc, f'{p}_xsize', esw, ecap)};")
        w(f"wire {p}_xact = go & ({p}_xe < {ne}) & ({p}_xopen | {p}_xopen_now);")
        w(f"wire [{szw - 1}:0] {p}_hsize = {_at(f'{p}_dsz', f'{p}_bhead', width(nb), nb)};")
        rb = _difference(w, f"{p}_bavail", f"{p}_bfill", f"{p}_bfreed", cap)[1]
        if t.double:
            cw = max(rb, szw)
            w(f"wire [{rb - 1}:0] {p}_readable = ({_fit(f'{p}_bavail', rb, cw)} >= {_fit(f'{p}_hsize', szw, cw)}) "
              f"? {{{rb}{{1'b1}}}} : {rb}'d0;")
        else:
            w(f"wire [{rb - 1}:0] {p}_readable = {p}_bavail;")
        w(f"wire [{esw - 1}:0] {p}_xrem = {p}_xsize - {_fit(f'{p}_xk', kw, esw)};")
        # the lanes move in order and stop at the first element not yet readable
        cw = max(pw, rb)
        for i in range(bw):
            w(f"wire [{iw - 1}:0] {p}_xa{i} = {_fit(f'{p}_xptr', xw, iw)} + {iw}'d{i};",
              f"wire {p}_ok{i} = ({esw}'d{i} < {p}_xrem) & "
              f"({_fit(f'{p}_epos[{p}_xa{i}]', pw, cw)} < {_fit(f'{p}_readable', rb, cw)});")
        xn = f"{nw}'d{bw}"
        for i in reversed(range(bw)):
            xn = f"{p}_ok{i} ? ({xn}) : {nw}'d{i}" if i + 1 < bw else f"{p}_ok{i} ? {xn} : {nw}'d{i}"
        w(f"wire [{nw - 1}:0] {p}_xn = ~{p}_xact ? {nw}'d0 : {xn};")
        w.comment(f"the buffer region: {ring_.banks} banks x {ring_.depth} words; read addresses one cycle ahead")
        ahead = _addresses_ahead(w, p, f"{p}_eabs", (f"{p}_xptr", xw), (f"{p}_xn", nw), bw, ab,
                                 width(npos + 2 * bw - 1), eabs[:bw])
        input_ram(w, p, b, ring_, lanes, bw, f"{p}_bfill", f"{p}_rd_n", ahead, f"{p}_bdata")
        w(f"wire {p}_xfinish = {p}_xact & ({_fit(f'{p}_xk', kw, esw)} + {_fit(f'{p}_xn', nw, esw)} == {p}_xsize);")
        w(f"wire {p}_bshrink = {p}_xfinish & {p}_xlast;")
        w(f"wire {p}_ashrink;  // from the array: the last step of the head array tile issued",
          f"wire [{esw - 1}:0] {p}_asize;  // that tile's size")
        st = t.read_latency - 1  # pipeline stages between the buffer read and the edge-buffer write
        if st:
            w(f"reg [{nw - 1}:0] {p}_pn [1:{st}];", f"reg [{sw - 1}:0] {p}_pslot [1:{st}];",
              f"reg [{kw - 1}:0] {p}_pk [1:{st}];", f"reg [{b - 1}:0] {p}_pd [0:{st * bw - 1}];")
            n, slot, k = f"{p}_pn[{st}]", f"{p}_pslot[{st}]", f"{p}_pk[{st}]"
            data = [f"{p}_pd[{(st - 1) * bw + g}]" for g in range(bw)]
        else:
            n, slot, k, data = f"{p}_xn", f"{p}_xslot", f"{p}_xk", [f"{p}_bdata[{g}]" for g in range(bw)]
        w(f"wire [{nw - 1}:0] {p}_wn = {n};", f"wire [{sw - 1}:0] {p}_wslot = {slot};",
          f"wire [{kw - 1}:0] {p}_wk = {k};")
        for g in range(bw):
            w(f"wire [{sw - 1}:0] {p}_wa{g} = {p}_wslot + {_fit(f'{p}_wk', kw, sw)} + {sw}'d{g};")
        if st:
            with w.block("always @(posedge clk) begin"):
                w(f"{p}_pn[1] <= (rst | ~go) ? {nw}'d0 : {p}_xn;", f"{p}_pslot[1] <= {p}_xslot;",
                  f"{p}_pk[1] <= {p}_xk;")
                w(*(f"{p}_pd[{g}] <= {p}_bdata[{g}];" for g in range(bw)))
                for s in range(2, st + 1):
                    w(f"{p}_pn[{s}] <= rst ? {nw}'d0 : {p}_pn[{s - 1}];",
                      f"{p}_pslot[{s}] <= {p}_pslot[{s - 1}]; {p}_pk[{s}] <= {p}_pk[{s - 1}];")
                    w(*(f"{p}_pd[{(s - 1) * bw + g}] <= {p}_pd[{(s - 2) * bw + g}];" for g in range(bw)))
        # sequential
        with w.block("always @(posedge clk) begin"):
            with w.block("if (rst) begin", None):
                w(" ".join(f"{p}_{r} <= 0;" for r, _ in regs), f"{p}_xopen <= 1'b0;")
            with w.block("end else if (go) begin", "end"):
                w(f"if ({p}_dreq) begin {p}_de <= {p}_de + 1; {p}_bres <= {p}_bres + {_fit(f'{p}_dsize', szw, cb)}; "
                  "end")
                w(f"{p}_bfill <= {p}_bfill + {p}_rd_nb;")
                w(f"if ({p}_xopen_now) {p}_eres <= {p}_eres + {_fit(f'{p}_xsize', esw, eb)};")
                with w.block(f"if ({p}_xact) begin"):
                    w(f"{p}_xptr <= {p}_xptr + {_fit(f'{p}_xn', nw, xw)};")
                    w(f"if ({p}_xfinish) begin {p}_xe <= {p}_xe + 1; {p}_xopen <= 1'b0; {p}_xk <= 0; "
                      f"{_advance(f'{p}_xslot', sw, tmax, ns)} end")
                    w(f"else begin {p}_xopen <= 1'b1; {p}_xk <= {p}_xk + {_fit(f'{p}_xn', nw, kw)}; end")
                with w.block(f"if ({p}_bshrink) begin"):
                    w(f"{p}_bhead <= {p}_bhead + 1; {p}_bfreed <= {p}_bfreed + {_fit(f'{p}_hsize', szw, cb)};")
                for g in range(bw):
                    w(f"if ({nw}'d{g} < {p}_wn) {p}_emem[{p}_wa{g}] <= {data[g]};")
                w(f"{p}_efill <= {p}_efill + {_fit(f'{p}_wn', nw, eb)};")
                w(f"if ({p}_ashrink) begin {p}_efreed <= {p}_efreed + {_fit(f'{p}_asize', esw, eb)}; "
                  f"{_advance(f'{p}_hslot', sw, tmax, ns)} end")
        w("")
        self.count(f"DRAM.{t.tensor}.reads", f"{p}_dreq ? {p}_dsize : {szw}'d0", szw)
        self.count(f"{t.buffer}.{t.tensor}.fills", f"{p}_dreq ? {p}_dsize : {szw}'d0", szw)
        self.count(f"{t.buffer}.{t.tensor}.reads", f"{p}_xn", nw)
        return [f"({p}_de == {nb})", f"({p}_xe == {ne})"]

    # --- array --------------------------------------------------------------------------------

    def array(self) -> list[str]:
        w = self.w
        arr = self.tb.array
        d = self.d
        wl = d.workload
        s_count = arr.steps
        tensors = list(wl.tensors)
        o = wl.output
        q = self.names[o]
        w.comment(f"===== array: {arr.rows}x{arr.cols} PEs ({arr.rows_used}x{self.d.array_used[1]} used), "
                  f"skew {arr.skew}, MAC depth {arr.mac_latency}, {s_count} steps =====")
        rw: dict[str, int] = {}  # ROM widths
        flags = [arr.fold_start.astype(np.int64)]
        for t in tensors:
            flags += [arr.starts[t].astype(np.int64), arr.lasts[t].astype(np.int64)]
        self.rom("a_flags", pack_rows(flags, [1] * len(flags)), len(flags))
        for t in tensors:
            p = self.names[t]
            rw[f"a_{p}_size"] = width(int(arr.sizes[t].max()))
            rw[f"a_{p}_pev"] = width(int(arr.pe_events[t].max()))
            self.rom(f"a_{p}_size", arr.sizes[t], rw[f"a_{p}_size"])
            self.rom(f"a_{p}_pev", arr.pe_events[t], rw[f"a_{p}_pev"])
        rw["a_active"] = width(self.npe)
        self.rom("a_active", arr.active, rw["a_active"])
        # Per PE, only what varies from step to step goes into a ROM: whether the PE is
        # valid, and each tensor's position in its tile. PEs never valid are not built.
        used = [g for g in range(self.npe) if arr.valid[:, g].any()]
        vary_valid = [g for g in used if not arr.valid[:, g].all()]
        if vary_valid:
            self.rom("a_valid", pack_rows([arr.valid[:, vary_valid].astype(np.int64)], [1]), len(vary_valid))
        pos_w: dict[str, int] = {}
        self.pe_pos: dict[tuple[str, int], str] = {}  # (tensor, PE) -> position expression
        for t in tensors:
            p = self.names[t]
            pw = width(max(0, int(arr.positions[t].max())))
            pos_w[t] = pw
            vary: list[int] = []
            for g in used:
                values = np.unique(arr.positions[t][arr.valid[:, g], g])
                if len(values) == 1:
                    self.pe_pos[(t, g)] = f"{pw}'d{int(values[0])}"
                else:
                    self.pe_pos[(t, g)] = f"a_{p}_pw[{len(vary) * pw + pw - 1}:{len(vary) * pw}]"
                    vary.append(g)
            if vary:
                self.rom(f"a_{p}_pos", pack_rows([arr.positions[t][:, vary]], [pw]), pw * len(vary))
                self.pe_pos[(t, -1)] = f"{pw * len(vary)}"  # the ROM's width
        aw = width(max(0, s_count - 1))
        sw_ = width(s_count)
        sigma_d = arr.skew + arr.mac_latency
        if arr.rows_used < 1 or sigma_d < 1:
            raise GenerationError(f"the array's preload ({arr.rows_used} cycles) and drain delay ({sigma_d} cycles) "
                                  "must be at least one cycle each")
        dw, pw_ = width(sigma_d - 1), width(arr.rows_used - 1)
        # a_dcnt and a_pcnt count down the cycles left of the fold drain (after the last step)
        # and of the preload (after it started): plain down counters, no comparison with the time
        w(f"reg [{sw_ - 1}:0] a_s;", f"reg [{dw - 1}:0] a_dcnt;", f"reg [{pw_ - 1}:0] a_pcnt;",
          "reg a_any, a_prev;")
        # The current step's ROM words are registers, loaded with the next step's words when a
        # step issues: the ROMs are read from a_s alone, off the path of the issue decision.
        words = [("a_f", "a_flags", len(flags))]
        for t in tensors:
            p = self.names[t]
            words += [(f"a_{p}_sz", f"a_{p}_size", rw[f"a_{p}_size"]), (f"a_{p}_ev", f"a_{p}_pev", rw[f"a_{p}_pev"])]
        words.append(("a_act_pes", "a_active", rw["a_active"]))
        if vary_valid:
            words.append(("a_v", "a_valid", len(vary_valid)))
        for t in tensors:
            if (t, -1) in self.pe_pos:
                p = self.names[t]
                words.append((f"a_{p}_pw", f"a_{p}_pos", int(self.pe_pos[(t, -1)])))
        w(f"wire [{sw_ - 1}:0] a_s1 = a_s + 1;",
          f"wire [{aw - 1}:0] a_idx_n = (a_s1 < {s_count}) ? {_fit('a_s1', sw_, aw)} : {aw}'d0;")
        w(*(f"reg [{bits - 1}:0] {reg};" for reg, _, bits in words))
        with w.block("always @(posedge clk) begin"):
            w("if (rst) begin " + " ".join(f"{reg} <= {bits}'d{self.rom_first[rom]};" for reg, rom, bits in words)
              + " end")
            w("else if (go & a_issue) begin " + " ".join(f"{reg} <= {rom}[a_idx_n];" for reg, rom, _ in words)
              + " end")
        w("wire a_fold = a_f[0];")
        for i, t in enumerate(tensors):
            p = self.names[t]
            w(f"wire a_{p}_start = a_f[{1 + 2 * i}];", f"wire a_{p}_last = a_f[{2 + 2 * i}];")
        stat = arr.stationary
        w(f"wire a_run = go & (a_s < {s_count});")
        w(f"wire a_fb = a_run & a_fold & 1'b{1 if stat is not None else 0};")
        w(f"wire a_drained = ~a_any | (a_dcnt == {dw}'d0);")
        ready = {}
        for t in wl.operands:
            p = self.names[t]
            ready[t] = f"a_{p}_ready"
            avail = _difference(w, f"a_{p}_avail", f"{p}_efill", f"{p}_efreed", self.ecap[t])
            sz = rw[f"a_{p}_size"]
            cw = max(avail[1], sz)
            w(f"wire a_{p}_ready = ({_fit(avail[0], avail[1], cw)} >= {_fit(f'a_{p}_sz', sz, cw)});")
        stat_ready = ready[stat] if stat in wl.operands else "1'b1"
        w(f"wire a_pre_set = a_fb & ~a_prev & a_drained & {stat_ready};",
          "wire a_pre_v = a_prev | a_pre_set;", f"wire a_pre_done = a_prev & (a_pcnt == {pw_}'d0);")
        if stat in wl.operands:  # waiting for the stationary input's tile (counted as its input stall)
            w("wire a_stall_stat = a_fb & ~a_pre_v & a_drained;")
        w("wire a_stall_fold = a_fb & ~a_pre_v & ~a_drained;",
          "wire a_stall_pre = a_fb & a_pre_v & ~a_pre_done;",
          "wire a_past = a_run & (~a_fb | (a_pre_v & a_pre_done));")
        blocked = "1'b0"
        stall_in = {}
        for t in wl.operands:
            p = self.names[t]
            w(f"wire a_stall_{p} = a_past & ~{blocked} & a_{p}_start & ~{ready[t]};")
            stall_in[t] = f"a_stall_{p}"
            blocked = f"({blocked} | a_stall_{p})"
        cap_o = self.tb.output.edge_capacity
        occ = _difference(w, "a_oocc", f"{q}_eres", f"{q}_efreed", cap_o)
        w(f"wire a_room = {_fits(occ, f'a_{q}_sz', rw[f'a_{q}_size'], cap_o)};")
        w(f"wire a_stall_out = a_past & ~{blocked} & a_{q}_start & ~a_room;",
          f"wire a_issue = a_past & ~{blocked} & ~(a_{q}_start & ~a_room);")
        for t in wl.operands:
            p = self.names[t]
            w(f"assign {p}_ashrink = a_issue & a_{p}_last;",
              f"assign {p}_asize = {_fit(f'a_{p}_sz', rw[f'a_{p}_size'], self.esw[t])};")
        # operands and products, per physical PE
        a_t, b_t = wl.operands
        pa, pb = self.names[a_t], self.names[b_t]
        ba, bb = d.bits(a_t), d.bits(b_t)
        acc = self.acc
        w.comment(f"{len(used)} PEs: operands from the edge buffers, products, and the reduction of PEs that share "
                  "an output element")
        # The datapath is pipelined into the drain delay: operands are registered after the issue
        # cycle, then products; the drain tile is written ``depth`` cycles after its last step,
        # still before the contract makes it readable (skew + MAC depth cycles after it).
        # With three or more cycles of drain delay, one is left to the output engine, which then
        # reads the edge buffer a cycle ahead (see output_path).
        self.out_ahead = sigma_d >= 3
        depth = min(MAX_DATAPATH_STAGES, sigma_d - (2 if self.out_ahead else 1))
        for g in used:
            va = f"{pa}_emem[{pa}_hslot + {_fit(self.pe_pos[(a_t, g)], pos_w[a_t], self.slot_w[a_t])}]"
            vb = f"{pb}_emem[{pb}_hslot + {_fit(self.pe_pos[(b_t, g)], pos_w[b_t], self.slot_w[b_t])}]"
            w(f"wire signed [{ba - 1}:0] a_va{g} = {va};", f"wire signed [{bb - 1}:0] a_vb{g} = {vb};")
            if depth >= 1:
                w(f"reg signed [{ba - 1}:0] a_ra{g};", f"reg signed [{bb - 1}:0] a_rb{g};",
                  f"always @(posedge clk) begin a_ra{g} <= a_va{g}; a_rb{g} <= a_vb{g}; end")
            a, b = (f"a_ra{g}", f"a_rb{g}") if depth >= 1 else (f"a_va{g}", f"a_vb{g}")
            # a signed multiply at the operands' width (what a DSP block does), wrapped to the accumulator
            w(f"wire signed [{ba + bb - 1}:0] a_pp{g} = {a} * {b};")
            if depth >= 2:
                w(f"reg signed [{ba + bb - 1}:0] a_pr{g};", f"always @(posedge clk) a_pr{g} <= a_pp{g};")
            w(f"wire [{acc - 1}:0] a_prod{g} = {_sext(f'a_pr{g}' if depth >= 2 else f'a_pp{g}', ba + bb, acc)};")
        # what the reduction needs of the issue cycle, delayed along the datapath
        late = {"issue": "a_issue", "start": f"a_{q}_start", "last": f"a_{q}_last"}
        widths = {"issue": 1, "start": 1, "last": 1}
        if vary_valid:
            late["v"], widths["v"] = "a_v", len(vary_valid)
        if (o, -1) in self.pe_pos:
            late["pw"], widths["pw"] = f"a_{q}_pw", int(self.pe_pos[(o, -1)])
        for k in range(1, depth + 1):
            for key, src_name in list(late.items()):
                name = f"a_{key}_d{k}"
                w(f"reg [{widths[key] - 1}:0] {name};")
                value = f"~rst & go & {src_name}" if key == "issue" else src_name
                w(f"always @(posedge clk) {name} <= {value};")
                late[key] = name
        to = self.to
        w(f"reg [{acc - 1}:0] a_psum [0:{to - 1}];", f"reg [{acc - 1}:0] a_next [0:{to - 1}];", "integer a_j;")
        terms: dict[int, list[str]] = {j: [] for j in range(to)}
        for g in used:
            valid = f"{late['v']}[{vary_valid.index(g)}]" if g in vary_valid else ""
            expr = self.pe_pos[(o, g)]
            if "'d" in expr:  # one output element for every step
                j = int(expr.split("'d")[1])
                terms[j].append(f"({valid} ? a_prod{g} : {acc}'d0)" if valid else f"a_prod{g}")
            else:
                expr = expr.replace(f"a_{q}_pw[", f"{late['pw']}[")
                for j in np.unique(arr.positions[o][arr.valid[:, g], g]).tolist():
                    cond = f"({expr} == {pos_w[o]}'d{j})" + (f" & {valid}" if valid else "")
                    terms[j].append(f"({cond} ? a_prod{g} : {acc}'d0)")
        with w.block("always @* begin"):
            for j in range(to):
                w(f"a_next[{j}] = ({late['start']} ? {acc}'d0 : a_psum[{j}])"
                  + "".join(f" + {x}" for x in terms[j]) + ";")
        ns_o = self.tb.output.edge_slots
        w(f"reg [{sigma_d}:1] a_dl;  // drain tiles in flight: skew + MAC depth")
        with w.block("always @(posedge clk) begin"):
            with w.block("if (rst) begin", None):
                w("a_s <= 0; a_dcnt <= 0; a_pcnt <= 0; a_any <= 1'b0; a_prev <= 1'b0; a_dl <= 0;",
                  f"{q}_eres <= 0; {q}_wslot <= 0; {q}_ecomplete <= 0;")
            with w.block("end else if (go) begin", "end"):
                w(f"if (a_issue) begin a_s <= a_s + 1; a_dcnt <= {dw}'d{sigma_d - 1}; a_any <= 1'b1; "
                  "a_prev <= 1'b0; end",
                  f"else if (a_dcnt != {dw}'d0) a_dcnt <= a_dcnt - 1;",
                  f"if (a_pre_set) begin a_prev <= 1'b1; a_pcnt <= {pw_}'d{arr.rows_used - 1}; end",
                  f"else if (a_pcnt != {pw_}'d0) a_pcnt <= a_pcnt - 1;")
                w(f"if ({late['issue']}) for (a_j = 0; a_j < {to}; a_j = a_j + 1) a_psum[a_j] <= a_next[a_j];")
                w(f"if (a_issue & a_{q}_start) {q}_eres <= {q}_eres + "
                  f"{_fit(f'a_{q}_sz', rw[f'a_{q}_size'], self.out_w['eres'])};")
                with w.block(f"if ({late['issue']} & {late['last']}) begin"):
                    ow = self.out_w["wslot"]
                    w(*(f"{q}_emem[{q}_wslot + {ow}'d{j}] <= a_next[{j}];" for j in range(to)))
                    w(_advance(f"{q}_wslot", ow, to, ns_o))
                if sigma_d == 1:
                    w(f"a_dl <= a_issue & a_{q}_last;")
                else:
                    w(f"a_dl <= {{a_dl[{sigma_d - 1}:1], a_issue & a_{q}_last}};")
                w(f"if (a_dl[{sigma_d}]) {q}_ecomplete <= {q}_ecomplete + 1;")
        w("")
        self.count("steps", "a_issue", 1)
        self.count("stall.fold drain", "a_stall_fold", 1)
        self.count("stall.preload", "a_stall_pre", 1)
        for t in wl.operands:
            p = self.names[t]
            extra = " | a_stall_stat" if t == stat else ""
            self.count(f"stall.input {t}", f"a_stall_{p}{extra}", 1)
        self.count("stall.output full", "a_stall_out", 1)
        pe = d.pe_level.name
        for t in wl.operands:
            p = self.names[t]
            ev = rw[f"a_{p}_pev"]
            self.count(f"{pe}.{t}.fills", f"(a_issue & a_{p}_start) ? a_{p}_ev : {ev}'d0", ev)
            self.count(f"{pe}.{t}.reads", f"a_issue ? a_act_pes : {rw['a_active']}'d0", rw["a_active"])
        self.count(f"{pe}.{o}.updates", f"a_issue ? a_act_pes : {rw['a_active']}'d0", rw["a_active"])
        ev = rw[f"a_{q}_pev"]
        self.count(f"{pe}.{o}.drains", f"(a_issue & a_{q}_last) ? a_{q}_ev : {ev}'d0", ev)
        return [f"(a_s == {s_count})"]

    def output_declarations(self, o: OutputTables) -> None:
        """The output path's state, declared before the array that writes its edge buffer, and
        its buffer region's ring (banked if the lanes accumulated in one cycle always hit
        distinct banks)."""
        q = self.names[o.tensor]
        to = self.to = int(o.edge_sizes.max())
        bw = min(o.bandwidth, to)
        lanes = self.dram_lanes(o.bits)
        cap, ns = o.buffer_capacity, o.edge_slots
        ring_ = ring(cap, max(bw, lanes))
        absolute = absolute_addresses(o.edge_parent, o.edge_positions, o.edge_sizes, o.dram_sizes, ring_.words)
        banks = conflict_free_banks(update_groups(absolute, o.edge_sizes, bw), max(bw, lanes), ring_.words)
        if banks is not None and banks != ring_.banks:
            ring_ = ring(cap, banks)
            absolute = absolute_addresses(o.edge_parent, o.edge_positions, o.edge_sizes, o.dram_sizes, ring_.words)
        self.out_ring, self.out_banked, self.out_absolute = ring_, banks is not None, absolute
        ne, nb = len(o.edge_sizes), len(o.dram_sizes)
        # cumulative counts, kept modulo a power of two above what they can differ by (see input_path)
        eb = width(o.edge_capacity + to) + 1
        cb = max(ring_.addr_bits, width(cap + int(o.dram_sizes.max()))) + 1
        sw = width(ns * to - 1)
        self.out_w = {"eres": eb, "efreed": eb, "wslot": sw, "ecomplete": width(ne), "ue": width(ne),
                      "uk": width(to - 1), "uptr": width(len(o.edge_positions)), "uslot": sw, "ores": cb, "ofreed": cb,
                      "oopened": width(nb), "ocompleted": width(nb), "we": width(nb),
                      "wk": width(int(o.dram_sizes.max()))}
        self.memory(f"{q}_emem", "edge", o.tensor, ns * to, o.bits)
        self.w(f"reg [{o.bits - 1}:0] {q}_emem [0:{ns * to - 1}];")
        self.w(*(f"reg [{bits - 1}:0] {q}_{r};" for r, bits in self.out_w.items()), f"reg {q}_wpend;", "")

    # --- output path ---------------------------------------------------------------------------

    def output_path(self, o: OutputTables) -> list[str]:
        w = self.w
        q = self.names[o.tensor]
        acc = o.bits
        to = self.to
        ne, nb = len(o.edge_sizes), len(o.dram_sizes)
        cap, ns = o.buffer_capacity, o.edge_slots
        bw = min(o.bandwidth, to)
        lanes = self.dram_lanes(acc)
        szw = width(int(o.dram_sizes.max()))
        esw = width(int(o.edge_sizes.max()))
        pbw = width(max(0, nb - 1))
        ow = self.out_w
        uw, nw, lw = ow["uptr"], width(bw), width(lanes)
        iw = width(len(o.edge_positions) + 2 * bw - 1)  # ROM indices: the pointer plus up to 2 x bw
        w.comment(f"===== output {o.tensor}: array -> edge buffer ({ns} tiles) -> {o.buffer} ({cap} elements, "
                  f"read-modify-write) -> DRAM =====")
        self.rom(f"{q}_bsz", o.dram_sizes, szw)
        self.rom(f"{q}_utile", pack_rows([o.edge_sizes, o.edge_parent, o.edge_last.astype(np.int64)], [esw, pbw, 1]),
                 esw + pbw + 1)
        ring_, absolute = self.out_ring, self.out_absolute
        ab = ring_.addr_bits
        pw = ab
        self.out_upos = _inverted(np.concatenate([absolute, np.zeros(2 * bw, dtype=np.int64)]), ab)
        self.rom(f"{q}_upos", pack_rows([self.out_upos, np.concatenate([o.edge_rmw.astype(np.int64),
                                                                        np.zeros(2 * bw, dtype=np.int64)])]
                                        , [pw, 1]), pw + 1)
        # edge -> buffer (accumulate)
        w(f"wire [{esw + pbw}:0] {q}_utw = {_at(f'{q}_utile', f'{q}_ue', ow['ue'], ne)};")
        w(f"wire [{esw - 1}:0] {q}_usize = {q}_utw[{esw - 1}:0];",
          f"wire [{pbw - 1}:0] {q}_upe = {q}_utw[{esw + pbw - 1}:{esw}];",
          f"wire {q}_ulast = {q}_utw[{esw + pbw}];")
        w(f"wire [{szw - 1}:0] {q}_upsize = {q}_bsz[{q}_upe];")
        pe_w = max(pbw, ow["oopened"])
        occ = _difference(w, f"{q}_oocc", f"{q}_ores", f"{q}_ofreed", cap)
        w(f"wire {q}_uavail = go & ({q}_ue < {ne}) & ({q}_ecomplete > {q}_ue);",
          f"wire {q}_uneed = ({_fit(f'{q}_oopened', ow['oopened'], pe_w)} == {_fit(f'{q}_upe', pbw, pe_w)});",
          f"wire {q}_uroom = {_fits(occ, f'{q}_upsize', szw, cap)};",
          f"wire {q}_uact = {q}_uavail & (~{q}_uneed | {q}_uroom);",
          f"wire [{esw - 1}:0] {q}_urem = {q}_usize - {_fit(f'{q}_uk', ow['uk'], esw)};",
          f"wire [{nw - 1}:0] {q}_un = ~{q}_uact ? {nw}'d0 : {_at_most(f'{q}_urem', esw, bw, nw)};",
          f"wire {q}_ufinish = {q}_uact & ({_fit(f'{q}_uk', ow['uk'], esw)} + {_fit(f'{q}_un', nw, esw)} == "
          f"{q}_usize);")
        rw_ = width(bw)
        w(f"wire [{acc - 1}:0] {q}_uval [0:{bw - 1}];", f"wire [{bw - 1}:0] {q}_urmw;")
        reads = []
        # The engine moves bw elements per cycle from a tile's start, so within a tile its offset
        # stays a multiple of bw; when the slots are too, lane i only ever reads elements
        # congruent to i modulo bw, and its selection shrinks bw-fold.
        sw, kw, lb = ow["uslot"], ow["uk"], clog2(bw)
        aligned = bw > 1 and bw == 1 << lb and to % bw == 0 and sw > lb and ns > 1
        if aligned:
            hi = f"{q}_uslot[{sw - 1}:{lb}]" + (f" + {_fit(f'{q}_uk[{kw - 1}:{lb}]', kw - lb, sw - lb)}"
                                                 if kw > lb else "")
            w(f"wire [{sw - lb - 1}:0] {q}_uhi = {hi};  // the offset of lane 0, over bw")
        if self.out_ahead and aligned:
            w(f"wire [{sw - lb - 1}:0] {q}_unhi = ({q}_uslot == {sw}'d{(ns - 1) * to}) ? {sw - lb}'d0 : "
              f"{q}_uslot[{sw - 1}:{lb}] + {sw - lb}'d{to >> lb};  // the next slot, over bw")
        elif self.out_ahead and ns > 1:
            w(f"wire [{sw - 1}:0] {q}_unslot = ({q}_uslot == {sw}'d{(ns - 1) * to}) ? {sw}'d0 : "
              f"{q}_uslot + {sw}'d{to};  // the next slot")
        if self.out_ahead:
            # The drain tile's elements are registered a cycle ahead, from the edge buffer at the
            # position the engine will be at next: where it is, bw further on, or the next slot's
            # start. The array writes a drain tile at least two cycles before the engine may read
            # it (the datapath leaves a cycle of the drain delay for this), so the register holds
            # the tile's values by then.
            w(f"reg [{acc - 1}:0] {q}_uvr [0:{bw - 1}];")
        for i in range(bw):
            if aligned:
                stay, on, nxt = (f"{{{q}_uhi, {lb}'d{i}}}", f"{{{q}_uhi + {sw - lb}'d1, {lb}'d{i}}}",
                                 f"{{{q}_unhi, {lb}'d{i}}}")
            else:
                base = f"{q}_uslot + {_fit(f'{q}_uk', kw, sw)}"
                stay, on = f"{base} + {sw}'d{i}", f"{base} + {sw}'d{(bw + i) % (1 << sw)}"
                nxt = f"{q}_unslot + {sw}'d{i}" if ns > 1 else f"{sw}'d{i}"
            w(f"wire [{iw - 1}:0] {q}_ui{i} = {_fit(f'{q}_uptr', uw, iw)} + {iw}'d{i};",
              f"assign {q}_urmw[{i}] = {q}_upos[{q}_ui{i}][{pw}];")
            if self.out_ahead:
                w(f"always @(posedge clk) {q}_uvr[{i}] <= rst ? {acc}'d0 : {q}_ufinish ? {q}_emem[{nxt}] : "
                  f"{q}_uact ? {q}_emem[{on}] : {q}_emem[{stay}];",
                  f"assign {q}_uval[{i}] = {q}_uvr[{i}];")
            else:
                w(f"assign {q}_uval[{i}] = {q}_emem[{stay}];")
            reads.append(f"(({nw}'d{i} < {q}_un) & {q}_urmw[{i}] ? {rw_}'d1 : {rw_}'d0)")
        w(f"wire [{rw_ - 1}:0] {q}_ureads = {' + '.join(reads)};")
        # buffer -> DRAM (write)
        w(f"wire [{szw - 1}:0] {q}_wsize = {_at(f'{q}_bsz', f'{q}_we', ow['we'], nb)};",
          f"wire {q}_wready = go & ({q}_we < {nb}) & ({q}_ocompleted > {q}_we);",
          f"wire {q}_wreq = {q}_wready & ~{q}_wpend;", f"wire {q}_wact = {q}_wpend | {q}_wreq;",
          f"wire [{szw - 1}:0] {q}_wrem = {q}_wsize - {q}_wk;",
          f"wire [{lw - 1}:0] {q}_wn = ~{q}_wact ? {lw}'d0 : {_at_most(f'{q}_wrem', szw, lanes, lw)};",
          f"wire {q}_wfinish = {q}_wact & {q}_wr_done;")
        w(f"assign {q}_req_valid = {q}_wreq;", f"assign {q}_req_count = {_zext(f'{q}_wsize', szw)};",
          f"assign {q}_req_tile = {_zext(f'{q}_we', ow['we'])};", f"assign {q}_wr_count = {_fit(f'{q}_wn', lw, 8)};")
        self.output_region(o, ring_, self.out_banked, bw, lanes)
        w("genvar " + f"{q}_g;", "generate")
        with w.block(f"for ({q}_g = 0; {q}_g < {lanes}; {q}_g = {q}_g + 1) begin : {q}_wl"):
            w(f"assign {q}_wr_data[{q}_g * {acc} + {acc - 1} : {q}_g * {acc}] = "
              f"({q}_g < {_zext(f'{q}_wn', lw)}) ? {q}_sdata[{q}_g] : {acc}'d0;")
        w("endgenerate")
        with w.block("always @(posedge clk) begin"):
            with w.block("if (rst) begin", None):
                names = [r for r in ow if r not in ("eres", "wslot", "ecomplete")]
                w(" ".join(f"{q}_{r} <= 0;" for r in names), f"{q}_wpend <= 1'b0;")
            with w.block("end else if (go) begin", "end"):
                with w.block(f"if ({q}_uact & {q}_uneed) begin"):
                    w(f"{q}_ores <= {q}_ores + {_fit(f'{q}_upsize', szw, ow['ores'])}; {q}_oopened <= {q}_oopened + 1;")
                with w.block(f"if ({q}_uact) begin"):
                    w(f"{q}_uptr <= {q}_uptr + {_fit(f'{q}_un', nw, uw)};")
                    w(f"if ({q}_ufinish) begin {q}_uk <= 0; {q}_ue <= {q}_ue + 1; "
                      f"{q}_efreed <= {q}_efreed + {_fit(f'{q}_usize', esw, ow['efreed'])}; "
                      f"{_advance(f'{q}_uslot', ow['uslot'], to, ns)} end")
                    w(f"else {q}_uk <= {q}_uk + {_fit(f'{q}_un', nw, ow['uk'])};")
                    w(f"if ({q}_ufinish & {q}_ulast) {q}_ocompleted <= {q}_ocompleted + 1;")
                w(f"if ({q}_wreq) {q}_wpend <= 1'b1;")
                w(f"if ({q}_wfinish) begin {q}_wpend <= 1'b0; {q}_wk <= 0; {q}_we <= {q}_we + 1; "
                  f"{q}_ofreed <= {q}_ofreed + {_fit(f'{q}_wsize', szw, ow['ofreed'])}; end")
                w(f"else {q}_wk <= {q}_wk + {_fit(f'{q}_wn', lw, ow['wk'])};")
        w("")
        self.count(f"{o.buffer}.{o.tensor}.updates", f"{q}_un", nw)
        self.count(f"{o.buffer}.{o.tensor}.reads", f"{q}_ureads", rw_)
        self.count(f"DRAM.{o.tensor}.updates", f"{q}_wreq ? {q}_wsize : {szw}'d0", szw)
        self.count(f"{o.buffer}.{o.tensor}.drains", f"{q}_wreq ? {q}_wsize : {szw}'d0", szw)
        return [f"({q}_ue == {ne})", f"({q}_we == {nb})"]

    def output_region(self, o: OutputTables, ring_: Ring, banked: bool, bw: int, lanes: int) -> None:
        """The output's buffer region: banked RAM when the lanes accumulated in one cycle
        always hit distinct banks (checked by the generator), otherwise flip-flops. Either
        way it drives ``sdata``, the words streamed to DRAM."""
        w = self.w
        q = self.names[o.tensor]
        acc, ab = o.bits, ring_.addr_bits
        w(f"wire [{acc - 1}:0] {q}_sdata [0:{lanes - 1}];")
        self.memory(f"{q}_omem", "buffer", o.tensor, ring_.words, acc, ring_.banks if banked else 1)
        if banked:
            w.comment(f"the buffer region: {ring_.banks} banks x {ring_.depth} words; rows registered one cycle ahead")
            uw, nw, lw = self.out_w["uptr"], width(bw), width(lanes)
            szw = width(int(o.dram_sizes.max()))
            iw = width(len(o.edge_positions) + 2 * bw - 1)
            w(f"wire [{ab - 1}:0] {q}_ofreed_d = rst ? {ab}'d0 : (go & {q}_wfinish) ? {q}_ofreed[{ab - 1}:0] + "
              f"{_fit(f'{q}_wsize', szw, ab)} : {q}_ofreed[{ab - 1}:0];",
              f"wire [{ab - 1}:0] {q}_wk_d = rst ? {ab}'d0 : ~go ? {_fit(f'{q}_wk', self.out_w['wk'], ab)} : "
              f"{q}_wfinish ? {ab}'d0 : {_fit(f'{q}_wk', self.out_w['wk'], ab)} + {_fit(f'{q}_wn', lw, ab)};",
              f"wire [{ab - 1}:0] {q}_sbase_d = {q}_ofreed_d + {q}_wk_d;",
              f"wire [{IDX - 1}:0] {q}_un32 = {_zext(f'{q}_un', nw)};")
            ahead = _addresses_ahead(w, q, f"{q}_upos", (f"{q}_uptr", uw), (f"{q}_un", nw), bw, ab, iw,
                                     self.out_upos[:bw], f"[{ab - 1}:0]")
            output_ram(w, q, acc, ring_, lanes, ahead,
                       {"count": f"{q}_un32", "value": f"{q}_uval", "rmw": f"{q}_urmw",
                        "base_next": f"{q}_sbase_d", "stream": f"{q}_sdata"})
            return
        w.comment("the buffer region, in flip-flops: the lanes accumulated in one cycle can hit the same bank")
        w(f"reg [{acc - 1}:0] {q}_omem [0:{ring_.words - 1}];", f"wire [{acc - 1}:0] {q}_old [0:{bw - 1}];")
        for i in range(bw):
            w(f"wire [{ab - 1}:0] {q}_ua{i} = ~{q}_upos[{q}_ui{i}][{ab - 1}:0];",
              f"assign {q}_old[{i}] = {q}_omem[{q}_ua{i}];")
        wk = _fit(f"{q}_wk", self.out_w["wk"], ab)
        for g in range(lanes):
            w(f"wire [{ab - 1}:0] {q}_sa{g} = {q}_ofreed[{ab - 1}:0] + {wk} + {ab}'d{g};",
              f"assign {q}_sdata[{g}] = {q}_omem[{q}_sa{g}];")
        with w.block("always @(posedge clk) if (go & ~rst) begin"):
            for i in range(bw):
                w(f"if ({width(bw)}'d{i} < {q}_un) {q}_omem[{q}_ua{i}] <= "
                  f"{q}_urmw[{i}] ? {q}_old[{i}] + {q}_uval[{i}] : {q}_uval[{i}];")

    # --- counters ------------------------------------------------------------------------------

    def perf(self) -> tuple[Counter, ...]:
        w = self.w
        n = len(self.counters)
        if n > 255:
            raise GenerationError(f"{n} performance counters exceed the 8-bit counter select")
        w.comment("performance counters: perf_sel 0 reads the cycle count, k >= 1 counter k (see the manifest)")
        w(f"reg [{COUNTER_BITS - 1}:0] perf [0:{n}];  // perf[0] stays 0: select 0 reads now", "integer perf_i;")
        with w.block("always @(posedge clk) begin"):
            with w.block("if (rst) begin", None):
                w(f"for (perf_i = 0; perf_i <= {n}; perf_i = perf_i + 1) perf[perf_i] <= 0;")
            with w.block("end else if (go & ~all_done) begin", "end"):
                for i, (_, expr) in enumerate(self.counters, start=1):
                    w(f"perf[{i}] <= perf[{i}] + {expr};")
        with w.block("always @* begin"):
            w(f"perf_value = {COUNTER_BITS}'d0;")
            w(f"if (perf_sel == 8'd0) perf_value = {{{COUNTER_BITS - IDX}'d0, now}};")
            sel = "perf_sel" if width(n) >= 8 else f"perf_sel[{width(n) - 1}:0]"
            w(f"else if (perf_sel <= 8'd{n}) perf_value = perf[{sel}];")
        return (Counter(0, "cycles"),) + tuple(Counter(i, name) for i, (name, _) in enumerate(self.counters, start=1))


def build(design: Design, top: str = "sasim_accel", tables: Tables | None = None) -> Rtl:
    """Generate the accelerator for ``design`` (raises :class:`GenerationError` if it cannot)."""
    top = identifier(top)
    return _Builder(design, tables or build_tables(design), top).build()
