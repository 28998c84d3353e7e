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
from sasim.gen.verilog import Writer, hex_image, identifier, pack_rows, width

__all__ = ["Counter", "Memory", "Rtl", "build"]

COUNTER_BITS = 48
_OUTPUT_REGS = ("eres", "efreed", "wslot", "ecomplete", "ue", "uk", "uptr", "uslot", "ores", "ofreed", "oopened",
                "ocompleted", "we", "wk")
#: Every index, pointer and total in the control logic.
IDX = 32


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


def _wrap(expr: str, cap: int) -> str:
    """``expr`` (< 2*cap) reduced modulo ``cap``."""
    return f"(({expr}) >= {IDX}'d{cap} ? ({expr}) - {IDX}'d{cap} : ({expr}))"


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

    # --- helpers ----------------------------------------------------------------------------

    def rom(self, name: str, words: list[int] | np.ndarray, bits: int) -> None:
        _rom(self.w, self.files, self.top, name, words, bits)
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
        self.rom(f"{p}_eabs", _inverted(np.concatenate([absolute, np.zeros(bw, dtype=np.int64)]), ab), ab)
        self.memory(f"{p}_bmem", "buffer", t.tensor, ring_.words, b, ring_.banks)
        self.memory(f"{p}_emem", "edge", t.tensor, ns * tmax, b, 1)
        w(f"reg [{b - 1}:0] {p}_emem [0:{ns * tmax - 1}];", f"wire [{b - 1}:0] {p}_bdata [0:{bw - 1}];")
        w(f"wire [{IDX - 1}:0] {p}_rd_n = {_zext(f'{p}_rd_count', 8)};")
        w(f"wire [{b - 1}:0] {p}_rd_lanes [0:{lanes - 1}];", "genvar " + f"{p}_r;", "generate")
        w(f"for ({p}_r = 0; {p}_r < {lanes}; {p}_r = {p}_r + 1) begin : {p}_rl",
          f"    assign {p}_rd_lanes[{p}_r] = {p}_rd_data[{p}_r * {b} + {b - 1} : {p}_r * {b}];", "end", "endgenerate")
        regs = ["de", "bres", "bfill", "bfreed", "bhead", "xe", "xk", "xptr", "xslot", "eres", "efill", "efreed",
                "hslot"]
        names = ", ".join(f"{p}_{r}" for r in regs)
        w(f"reg [{IDX - 1}:0] {names};", f"reg {p}_xopen;")
        # DRAM read engine
        w(f"wire [{IDX - 1}:0] {p}_dsize = {_zext(f'{p}_dsz[{p}_de < {nb} ? {p}_de : 0]', szw)};")
        w(f"wire {p}_dreq = go & ({p}_de < {nb}) & ({p}_bres - {p}_bfreed + {p}_dsize <= {cap});")
        w(f"assign {p}_req_valid = {p}_dreq;", f"assign {p}_req_count = {p}_dsize;", f"assign {p}_req_tile = {p}_de;")
        # edge engine
        w(f"wire [{esw}:0] {p}_etw = {p}_etile[{p}_xe < {ne} ? {p}_xe : 0];")
        w(f"wire [{IDX - 1}:0] {p}_xsize = {_zext(f'{p}_etw[{esw - 1}:0]', esw)};", f"wire {p}_xlast = {p}_etw[{esw}];")
        w(f"wire {p}_xopen_now = go & ~{p}_xopen & ({p}_xe < {ne}) & ({p}_eres - {p}_efreed + {p}_xsize <= {ecap});")
        w(f"wire {p}_xact = go & ({p}_xe < {ne}) & ({p}_xopen | {p}_xopen_now);")
        w(f"wire [{IDX - 1}:0] {p}_hsize = {_zext(f'{p}_dsz[{p}_bhead < {nb} ? {p}_bhead : 0]', szw)};")
        w(f"wire [{IDX - 1}:0] {p}_bavail = {p}_bfill - {p}_bfreed;")
        if t.double:
            w(f"wire [{IDX - 1}:0] {p}_readable = ({p}_bavail >= {p}_hsize) ? {{{IDX}{{1'b1}}}} : {IDX}'d0;")
        else:
            w(f"wire [{IDX - 1}:0] {p}_readable = {p}_bavail;")
        w(f"wire [{IDX - 1}:0] {p}_xrem = {p}_xsize - {p}_xk;")
        w(f"reg [{IDX - 1}:0] {p}_xn;", f"reg {p}_xstop;", f"reg [{b - 1}:0] {p}_xdata [0:{bw - 1}];",
          "integer " + f"{p}_i;")
        with w.block("always @* begin"):
            w(f"{p}_xn = 0;", f"{p}_xstop = 1'b0;")
            with w.block(f"for ({p}_i = 0; {p}_i < {bw}; {p}_i = {p}_i + 1) begin"):
                pos = _zext(f"{p}_epos[{p}_xptr + {p}_i]", pw)
                w(f"{p}_xdata[{p}_i] = {p}_bdata[{p}_i];")
                w(f"if (!{p}_xstop && {p}_xact && ({p}_i < {p}_xrem) && ({pos} < {p}_readable))")
                w(f"    {p}_xn = {p}_i + 1;", "else", f"    {p}_xstop = 1'b1;")
        w.comment(f"the buffer region: {ring_.banks} banks x {ring_.depth} words; read addresses one cycle ahead")
        w(f"wire [{IDX - 1}:0] {p}_xptr_d = rst ? {IDX}'d0 : (go & {p}_xact) ? {p}_xptr + {p}_xn : {p}_xptr;")
        input_ram(w, p, b, ring_, lanes, bw, f"{p}_bfill", f"{p}_rd_n",
                  [f"~{p}_eabs[{p}_xptr_d + {i}]" for i in range(bw)], f"{p}_bdata")
        w(f"wire {p}_xfinish = {p}_xact & ({p}_xk + {p}_xn == {p}_xsize);")
        w(f"wire {p}_bshrink = {p}_xfinish & {p}_xlast;")
        w(f"wire {p}_ashrink;  // from the array: the last step of the head array tile issued",
          f"wire [{IDX - 1}:0] {p}_asize;  // that tile's size")
        st = t.read_latency - 1  # pipeline stages between the buffer read and the edge-buffer write
        if st:
            w(f"reg [{IDX - 1}:0] {p}_pn [1:{st}], {p}_pslot [1:{st}], {p}_pk [1:{st}];",
              f"reg [{b - 1}:0] {p}_pd [0:{st * bw - 1}];")
            n, slot, k, data = f"{p}_pn[{st}]", f"{p}_pslot[{st}]", f"{p}_pk[{st}]", f"{p}_pd[{(st - 1) * bw} + {p}_g]"
        else:
            n, slot, k, data = f"{p}_xn", f"{p}_xslot", f"{p}_xk", f"{p}_xdata[{p}_g]"
        w(f"wire [{IDX - 1}:0] {p}_wn = {n};", f"wire [{IDX - 1}:0] {p}_wslot = {slot};",
          f"wire [{IDX - 1}:0] {p}_wk = {k};")
        w(f"wire [{b - 1}:0] {p}_wdata [0:{bw - 1}];")
        w("genvar " + f"{p}_g;", "generate")
        w(f"for ({p}_g = 0; {p}_g < {bw}; {p}_g = {p}_g + 1) begin : {p}_wd",
          f"    assign {p}_wdata[{p}_g] = {data};", "end", "endgenerate")
        if st:
            w("integer " + f"{p}_s;")
            with w.block("always @(posedge clk) begin"):
                w(f"{p}_pn[1] <= (rst | ~go) ? 0 : {p}_xn;", f"{p}_pslot[1] <= {p}_xslot;", f"{p}_pk[1] <= {p}_xk;")
                w(f"for ({p}_i = 0; {p}_i < {bw}; {p}_i = {p}_i + 1) {p}_pd[{p}_i] <= {p}_xdata[{p}_i];")
                with w.block(f"for ({p}_s = 2; {p}_s <= {st}; {p}_s = {p}_s + 1) begin"):
                    w(f"{p}_pn[{p}_s] <= rst ? 0 : {p}_pn[{p}_s - 1];", f"{p}_pslot[{p}_s] <= {p}_pslot[{p}_s - 1];",
                      f"{p}_pk[{p}_s] <= {p}_pk[{p}_s - 1];")
                    w(f"for ({p}_i = 0; {p}_i < {bw}; {p}_i = {p}_i + 1) "
                      f"{p}_pd[({p}_s - 1) * {bw} + {p}_i] <= {p}_pd[({p}_s - 2) * {bw} + {p}_i];")
        # sequential
        with w.block("always @(posedge clk) begin"):
            with w.block("if (rst) begin", None):
                w(" ".join(f"{p}_{r} <= 0;" for r in regs), f"{p}_xopen <= 1'b0;")
            with w.block("end else if (go) begin", "end"):
                w(f"if ({p}_dreq) begin {p}_de <= {p}_de + 1; {p}_bres <= {p}_bres + {p}_dsize; end")
                w(f"{p}_bfill <= {p}_bfill + {p}_rd_n;")
                w(f"if ({p}_xopen_now) {p}_eres <= {p}_eres + {p}_xsize;")
                with w.block(f"if ({p}_xact) begin"):
                    w(f"{p}_xptr <= {p}_xptr + {p}_xn;")
                    w(f"if ({p}_xfinish) begin {p}_xe <= {p}_xe + 1; {p}_xopen <= 1'b0; {p}_xk <= 0; "
                      f"{p}_xslot <= ({p}_xslot + {tmax} == {ns * tmax}) ? 0 : {p}_xslot + {tmax}; end")
                    w(f"else begin {p}_xopen <= 1'b1; {p}_xk <= {p}_xk + {p}_xn; end")
                with w.block(f"if ({p}_bshrink) begin"):
                    w(f"{p}_bhead <= {p}_bhead + 1; {p}_bfreed <= {p}_bfreed + {p}_hsize;")
                w(f"for ({p}_i = 0; {p}_i < {bw}; {p}_i = {p}_i + 1)")
                w(f"    if ({p}_i < {p}_wn) {p}_emem[{p}_wslot + {p}_wk + {p}_i] <= {p}_wdata[{p}_i];")
                w(f"{p}_efill <= {p}_efill + {p}_wn;")
                w(f"if ({p}_ashrink) begin {p}_efreed <= {p}_efreed + {p}_asize; "
                  f"{p}_hslot <= ({p}_hslot + {tmax} == {ns * tmax}) ? 0 : {p}_hslot + {tmax}; end")
        w("")
        self.count(f"DRAM.{t.tensor}.reads", f"{p}_dreq ? {p}_dsize : {IDX}'d0", IDX)
        self.count(f"{t.buffer}.{t.tensor}.fills", f"{p}_dreq ? {p}_dsize : {IDX}'d0", IDX)
        self.count(f"{t.buffer}.{t.tensor}.reads", f"{p}_xn", IDX)
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
        w(f"reg [{IDX - 1}:0] a_s, a_last, a_pres;", "reg a_any, a_prev;")
        aw = width(max(0, s_count - 1))
        w(f"wire [{aw - 1}:0] a_idx = (a_s < {s_count}) ? a_s[{aw - 1}:0] : {aw}'d0;")
        w(f"wire [{len(flags) - 1}:0] a_f = a_flags[a_idx];", "wire a_fold = a_f[0];")
        for i, t in enumerate(tensors):
            p = self.names[t]
            w(f"wire a_{p}_start = a_f[{1 + 2 * i}];", f"wire a_{p}_last = a_f[{2 + 2 * i}];",
              f"wire [{IDX - 1}:0] a_{p}_sz = {_zext(f'a_{p}_size[a_idx]', rw[f'a_{p}_size'])};",
              f"wire [{IDX - 1}:0] a_{p}_ev = {_zext(f'a_{p}_pev[a_idx]', rw[f'a_{p}_pev'])};")
        w(f"wire [{IDX - 1}:0] a_act_pes = {_zext('a_active[a_idx]', rw['a_active'])};")
        if vary_valid:
            w(f"wire [{len(vary_valid) - 1}:0] a_v = a_valid[a_idx];")
        for t in tensors:
            p = self.names[t]
            if (t, -1) in self.pe_pos:
                w(f"wire [{int(self.pe_pos[(t, -1)]) - 1}:0] a_{p}_pw = a_{p}_pos[a_idx];")
        sigma_d = arr.skew + arr.mac_latency
        stat = arr.stationary
        w(f"wire a_run = go & (a_s < {s_count});")
        w(f"wire a_fb = a_run & a_fold & 1'b{1 if stat is not None else 0};")
        w(f"wire a_drained = ~a_any | (now >= a_last + {sigma_d});")
        ready = {}
        for t in wl.operands:
            p = self.names[t]
            ready[t] = f"a_{p}_ready"
            w(f"wire a_{p}_ready = ({p}_efill - {p}_efreed >= a_{p}_sz);")
        stat_ready = ready[stat] if stat in wl.operands else "1'b1"
        w(f"wire a_pre_set = a_fb & ~a_prev & a_drained & {stat_ready};",
          "wire a_pre_v = a_prev | a_pre_set;", f"wire [{IDX - 1}:0] a_pre_s = a_prev ? a_pres : now;")
        if stat in wl.operands:  # waiting for the stationary input's tile (counted as its input stall)
            w("wire a_stall_stat = a_fb & ~a_pre_v & a_drained;")
        w("wire a_stall_fold = a_fb & ~a_pre_v & ~a_drained;",
          f"wire a_stall_pre = a_fb & a_pre_v & (now < a_pre_s + {arr.rows_used});",
          f"wire a_past = a_run & (~a_fb | (a_pre_v & (now >= a_pre_s + {arr.rows_used})));")
        blocked = "1'b0"
        stall_in = {}
        for t in wl.operands:
            p = self.names[t]
            w(f"wire a_stall_{p} = a_past & ~{blocked} & a_{p}_start & ~{ready[t]};")
            stall_in[t] = f"a_stall_{p}"
            blocked = f"({blocked} | a_stall_{p})"
        cap_o = self.tb.output.edge_capacity
        w(f"wire a_room = ({q}_eres - {q}_efreed + a_{q}_sz <= {cap_o});")
        w(f"wire a_stall_out = a_past & ~{blocked} & a_{q}_start & ~a_room;",
          f"wire a_issue = a_past & ~{blocked} & ~(a_{q}_start & ~a_room);")
        for t in wl.operands:
            p = self.names[t]
            w(f"assign {p}_ashrink = a_issue & a_{p}_last;", f"assign {p}_asize = a_{p}_sz;")
        # operands and products, per physical PE
        a_t, b_t = wl.operands
        pa, pb = self.names[a_t], self.names[b_t]
        ba, bb = d.bits(a_t), d.bits(b_t)
        acc = self.acc
        w.comment(f"{len(used)} PEs: operands from the edge buffers, products, and the reduction of PEs that share "
                  "an output element")
        for g in used:
            va = f"{pa}_emem[{pa}_hslot + {_zext(self.pe_pos[(a_t, g)], pos_w[a_t])}]"
            vb = f"{pb}_emem[{pb}_hslot + {_zext(self.pe_pos[(b_t, g)], pos_w[b_t])}]"
            # a signed multiply at the operands' width (what a DSP block does), wrapped to the accumulator
            w(f"wire signed [{ba - 1}:0] a_va{g} = {va};", f"wire signed [{bb - 1}:0] a_vb{g} = {vb};",
              f"wire signed [{ba + bb - 1}:0] a_pp{g} = a_va{g} * a_vb{g};",
              f"wire [{acc - 1}:0] a_prod{g} = {_sext(f'a_pp{g}', ba + bb, acc)};")
        to = self.to
        w(f"reg [{acc - 1}:0] a_psum [0:{to - 1}];", f"reg [{acc - 1}:0] a_next [0:{to - 1}];", "integer a_j;")
        terms: dict[int, list[str]] = {j: [] for j in range(to)}
        for g in used:
            valid = f"a_v[{vary_valid.index(g)}]" if g in vary_valid else ""
            expr = self.pe_pos[(o, g)]
            if "'d" in expr:  # one output element for every step
                j = int(expr.split("'d")[1])
                terms[j].append(f"({valid} ? a_prod{g} : {acc}'d0)" if valid else f"a_prod{g}")
            else:
                for j in np.unique(arr.positions[o][arr.valid[:, g], g]).tolist():
                    cond = f"({expr} == {pos_w[o]}'d{j})" + (f" & {valid}" if valid else "")
                    terms[j].append(f"({cond} ? a_prod{g} : {acc}'d0)")
        with w.block("always @* begin"):
            for j in range(to):
                w(f"a_next[{j}] = (a_{q}_start ? {acc}'d0 : a_psum[{j}])" + "".join(f" + {x}" for x in terms[j]) + ";")
        ns_o = self.tb.output.edge_slots
        w(f"reg [{sigma_d}:1] a_dl;  // drain tiles in flight: skew + MAC depth")
        with w.block("always @(posedge clk) begin"):
            with w.block("if (rst) begin", None):
                w("a_s <= 0; a_last <= 0; a_pres <= 0; a_any <= 1'b0; a_prev <= 1'b0; a_dl <= 0;",
                  f"{q}_eres <= 0; {q}_wslot <= 0; {q}_ecomplete <= 0;")
            with w.block("end else if (go) begin", "end"):
                w("if (a_issue) begin a_s <= a_s + 1; a_last <= now; a_any <= 1'b1; a_prev <= 1'b0; end",
                  "else if (a_pre_set) begin a_prev <= 1'b1; a_pres <= now; end")
                w(f"if (a_issue) for (a_j = 0; a_j < {to}; a_j = a_j + 1) a_psum[a_j] <= a_next[a_j];")
                w(f"if (a_issue & a_{q}_start) {q}_eres <= {q}_eres + a_{q}_sz;")
                with w.block(f"if (a_issue & a_{q}_last) begin"):
                    w(f"for (a_j = 0; a_j < {to}; a_j = a_j + 1) {q}_emem[{q}_wslot + a_j] <= a_next[a_j];")
                    w(f"{q}_wslot <= ({q}_wslot + {to} == {ns_o * to}) ? 0 : {q}_wslot + {to};")
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
            self.count(f"{pe}.{t}.fills", f"(a_issue & a_{p}_start) ? a_{p}_ev : {IDX}'d0", IDX)
            self.count(f"{pe}.{t}.reads", f"a_issue ? a_act_pes : {IDX}'d0", IDX)
        self.count(f"{pe}.{o}.updates", f"a_issue ? a_act_pes : {IDX}'d0", IDX)
        self.count(f"{pe}.{o}.drains", f"(a_issue & a_{q}_last) ? a_{q}_ev : {IDX}'d0", IDX)
        return [f"(a_s == {s_count})"]

    def output_declarations(self, o: OutputTables) -> None:
        """The output path's state, declared before the array that writes its edge buffer."""
        q = self.names[o.tensor]
        self.to = int(o.edge_sizes.max())
        self.memory(f"{q}_emem", "edge", o.tensor, o.edge_slots * self.to, o.bits)
        self.w(f"reg [{o.bits - 1}:0] {q}_emem [0:{o.edge_slots * self.to - 1}];")
        names = ", ".join(f"{q}_{r}" for r in _OUTPUT_REGS)
        self.w(f"reg [{IDX - 1}:0] {names};", f"reg {q}_wpend;", "")

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
        w.comment(f"===== output {o.tensor}: array -> edge buffer ({ns} tiles) -> {o.buffer} ({cap} elements, "
                  f"read-modify-write) -> DRAM =====")
        self.rom(f"{q}_bsz", o.dram_sizes, szw)
        self.rom(f"{q}_utile", pack_rows([o.edge_sizes, o.edge_parent, o.edge_last.astype(np.int64)], [esw, pbw, 1]),
                 esw + pbw + 1)
        # the buffer region: banked RAM if the lanes accumulated in one cycle always hit distinct banks
        ring_ = ring(cap, max(bw, lanes))
        absolute = absolute_addresses(o.edge_parent, o.edge_positions, o.edge_sizes, o.dram_sizes, ring_.words)
        banks = conflict_free_banks(update_groups(absolute, o.edge_sizes, bw), max(bw, lanes), ring_.words)
        if banks is not None and banks != ring_.banks:
            ring_ = ring(cap, banks)
            absolute = absolute_addresses(o.edge_parent, o.edge_positions, o.edge_sizes, o.dram_sizes, ring_.words)
        ab = ring_.addr_bits
        pw = ab
        self.rom(f"{q}_upos", pack_rows([_inverted(np.concatenate([absolute, np.zeros(bw, dtype=np.int64)]), ab),
                                         np.concatenate([o.edge_rmw.astype(np.int64), np.zeros(bw, dtype=np.int64)])],
                                        [pw, 1]), pw + 1)
        regs = _OUTPUT_REGS
        # edge -> buffer (accumulate)
        w(f"wire [{esw + pbw}:0] {q}_utw = {q}_utile[{q}_ue < {ne} ? {q}_ue : 0];")
        w(f"wire [{IDX - 1}:0] {q}_usize = {_zext(f'{q}_utw[{esw - 1}:0]', esw)};",
          f"wire [{IDX - 1}:0] {q}_upe = {_zext(f'{q}_utw[{esw + pbw - 1}:{esw}]', pbw)};",
          f"wire {q}_ulast = {q}_utw[{esw + pbw}];")
        w(f"wire [{IDX - 1}:0] {q}_upsize = {_zext(f'{q}_bsz[{q}_upe]', szw)};")
        w(f"wire {q}_uavail = go & ({q}_ue < {ne}) & ({q}_ecomplete > {q}_ue);",
          f"wire {q}_uneed = ({q}_oopened == {q}_upe);",
          f"wire {q}_uroom = ({q}_ores - {q}_ofreed + {q}_upsize <= {cap});",
          f"wire {q}_uact = {q}_uavail & (~{q}_uneed | {q}_uroom);",
          f"wire [{IDX - 1}:0] {q}_urem = {q}_usize - {q}_uk;",
          f"wire [{IDX - 1}:0] {q}_un = ~{q}_uact ? 0 : ({q}_urem < {bw} ? {q}_urem : {bw});",
          f"wire {q}_ufinish = {q}_uact & ({q}_uk + {q}_un == {q}_usize);")
        w(f"reg [{acc - 1}:0] {q}_uval [0:{bw - 1}];", f"reg [{bw - 1}:0] {q}_urmw;",
          f"reg [{IDX - 1}:0] {q}_ureads;", "integer " + f"{q}_i;")
        with w.block("always @* begin"):
            w(f"{q}_ureads = 0;")
            with w.block(f"for ({q}_i = 0; {q}_i < {bw}; {q}_i = {q}_i + 1) begin"):
                w(f"{q}_urmw[{q}_i] = {q}_upos[{q}_uptr + {q}_i][{pw}];")
                w(f"{q}_uval[{q}_i] = {q}_emem[{q}_uslot + {q}_uk + {q}_i];")
                w(f"if ({q}_i < {q}_un && {q}_urmw[{q}_i]) {q}_ureads = {q}_ureads + 1;")
        # buffer -> DRAM (write)
        w(f"wire [{IDX - 1}:0] {q}_wsize = {_zext(f'{q}_bsz[{q}_we < {nb} ? {q}_we : 0]', szw)};",
          f"wire {q}_wready = go & ({q}_we < {nb}) & ({q}_ocompleted > {q}_we);",
          f"wire {q}_wreq = {q}_wready & ~{q}_wpend;", f"wire {q}_wact = {q}_wpend | {q}_wreq;",
          f"wire [{IDX - 1}:0] {q}_wrem = {q}_wsize - {q}_wk;",
          f"wire [{IDX - 1}:0] {q}_wn = ~{q}_wact ? 0 : ({q}_wrem < {lanes} ? {q}_wrem : {lanes});",
          f"wire {q}_wfinish = {q}_wact & {q}_wr_done;")
        w(f"assign {q}_req_valid = {q}_wreq;", f"assign {q}_req_count = {q}_wsize;", f"assign {q}_req_tile = {q}_we;",
          f"assign {q}_wr_count = {q}_wn[7:0];")
        self.output_region(o, ring_, banks is not None, bw, lanes)
        w("genvar " + f"{q}_g;", "generate")
        with w.block(f"for ({q}_g = 0; {q}_g < {lanes}; {q}_g = {q}_g + 1) begin : {q}_wl"):
            w(f"assign {q}_wr_data[{q}_g * {acc} + {acc - 1} : {q}_g * {acc}] = "
              f"({q}_g < {q}_wn) ? {q}_sdata[{q}_g] : {acc}'d0;")
        w("endgenerate")
        with w.block("always @(posedge clk) begin"):
            with w.block("if (rst) begin", None):
                names = [r for r in regs if r not in ("eres", "wslot", "ecomplete")]
                w(" ".join(f"{q}_{r} <= 0;" for r in names), f"{q}_wpend <= 1'b0;")
            with w.block("end else if (go) begin", "end"):
                with w.block(f"if ({q}_uact & {q}_uneed) begin"):
                    w(f"{q}_ores <= {q}_ores + {q}_upsize; {q}_oopened <= {q}_oopened + 1;")
                with w.block(f"if ({q}_uact) begin"):
                    w(f"{q}_uptr <= {q}_uptr + {q}_un;")
                    w(f"if ({q}_ufinish) begin {q}_uk <= 0; {q}_ue <= {q}_ue + 1; "
                      f"{q}_efreed <= {q}_efreed + {q}_usize; "
                      f"{q}_uslot <= ({q}_uslot + {to} == {ns * to}) ? 0 : {q}_uslot + {to}; end")
                    w(f"else {q}_uk <= {q}_uk + {q}_un;")
                    w(f"if ({q}_ufinish & {q}_ulast) {q}_ocompleted <= {q}_ocompleted + 1;")
                w(f"if ({q}_wreq) {q}_wpend <= 1'b1;")
                w(f"if ({q}_wfinish) begin {q}_wpend <= 1'b0; {q}_wk <= 0; {q}_we <= {q}_we + 1; "
                  f"{q}_ofreed <= {q}_ofreed + {q}_wsize; end")
                w(f"else {q}_wk <= {q}_wk + {q}_wn;")
        w("")
        self.count(f"{o.buffer}.{o.tensor}.updates", f"{q}_un", IDX)
        self.count(f"{o.buffer}.{o.tensor}.reads", f"{q}_ureads", IDX)
        self.count(f"DRAM.{o.tensor}.updates", f"{q}_wreq ? {q}_wsize : {IDX}'d0", IDX)
        self.count(f"{o.buffer}.{o.tensor}.drains", f"{q}_wreq ? {q}_wsize : {IDX}'d0", IDX)
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
            w(f"wire [{IDX - 1}:0] {q}_uptr_d = rst ? {IDX}'d0 : (go & {q}_uact) ? {q}_uptr + {q}_un : {q}_uptr;",
              f"wire [{ab - 1}:0] {q}_ofreed_d = rst ? {ab}'d0 : (go & {q}_wfinish) ? {q}_ofreed[{ab - 1}:0] + "
              f"{q}_wsize[{ab - 1}:0] : {q}_ofreed[{ab - 1}:0];",
              f"wire [{ab - 1}:0] {q}_wk_d = rst ? {ab}'d0 : ~go ? {q}_wk[{ab - 1}:0] : {q}_wfinish ? {ab}'d0 "
              f": {q}_wk[{ab - 1}:0] + {q}_wn[{ab - 1}:0];",
              f"wire [{ab - 1}:0] {q}_sbase_d = {q}_ofreed_d + {q}_wk_d;")
            output_ram(w, q, acc, ring_, lanes, [f"~{q}_upos[{q}_uptr_d + {i}][{ab - 1}:0]" for i in range(bw)],
                       {"count": f"{q}_un", "value": f"{q}_uval", "rmw": f"{q}_urmw",
                        "base_next": f"{q}_sbase_d", "stream": f"{q}_sdata"})
            return
        w.comment("the buffer region, in flip-flops: the lanes accumulated in one cycle can hit the same bank")
        w(f"reg [{acc - 1}:0] {q}_omem [0:{ring_.words - 1}];", f"wire [{acc - 1}:0] {q}_old [0:{bw - 1}];")
        for i in range(bw):
            w(f"wire [{ab - 1}:0] {q}_ua{i} = ~{q}_upos[{q}_uptr + {i}][{ab - 1}:0];",
              f"assign {q}_old[{i}] = {q}_omem[{q}_ua{i}];")
        for g in range(lanes):
            w(f"wire [{ab - 1}:0] {q}_sa{g} = {q}_ofreed[{ab - 1}:0] + {q}_wk[{ab - 1}:0] + {ab}'d{g};",
              f"assign {q}_sdata[{g}] = {q}_omem[{q}_sa{g}];")
        with w.block("always @(posedge clk) if (go & ~rst) begin"):
            for i in range(bw):
                w(f"if ({IDX}'d{i} < {q}_un) {q}_omem[{q}_ua{i}] <= "
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
