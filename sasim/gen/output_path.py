"""The output path of the generated module: the engine that accumulates the array's drain
tiles into the buffer's output tile (read-modify-write), the buffer region itself, and the
DRAM write engine that streams finished tiles out (docs/timing.md, "The output path")."""

from __future__ import annotations

import numpy as np

from sasim.gen.builder import BuilderBase
from sasim.gen.expr import (
    IDX,
    advance_slot,
    at_most,
    difference,
    difference_step,
    fit,
    fits,
    inverted,
    slot_after,
    words_moved_or_not,
    zext,
)
from sasim.gen.memory import (
    NextAddresses,
    Ring,
    absolute_addresses,
    bank_ram,
    conflict_free_banks,
    output_ram,
    ring,
    update_groups,
)
from sasim.gen.tables import OutputTables
from sasim.gen.verilog import clog2, pack_rows, width

__all__ = ["OutputPath"]


class OutputPath(BuilderBase):
    """Adds the output path to the module (the array, built between its declarations and
    the path itself, writes the edge buffer declared here)."""

    out_ring: Ring
    out_banked: bool
    out_absolute: np.ndarray
    out_upos: np.ndarray
    out_window: list[str]  # registers holding the upos ROM's words at the engine's pointer and after
    out_uword: list[str]  # per accumulated lane: the register holding its ROM word (position, read-modify-write)
    # the room left in the edge buffer, declared by the array, and what the array's issues take of it
    out_edge_room: tuple[str, int]
    out_edge_taken: tuple[str, str, int]
    out_drained: str  # the array's register that rises as a drain tile becomes complete in the edge buffer

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
        sw = width(ns * to - 1)
        # (odone: where in the region the tile after the one being written to DRAM starts)
        self.out_w = {"wslot": sw, "ecomplete": width(ne), "ue": width(ne), "uptr": width(len(o.edge_positions)),
                      "odone": ring_.addr_bits, "oopened": width(nb), "ocompleted": width(nb), "we": width(nb)}
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
        self.out_upos = inverted(np.concatenate([absolute, np.zeros(2 * bw, dtype=np.int64)]), ab)
        self.rom(f"{q}_upos", pack_rows([self.out_upos, np.concatenate([o.edge_rmw.astype(np.int64),
                                                                        np.zeros(2 * bw, dtype=np.int64)])]
                                        , [pw, 1]), pw + 1, window=3 * bw)  # a registered window of 2 x bw
        # edge -> buffer (accumulate)
        w(f"reg [{esw + pbw}:0] {q}_utw;  // {q}_utile[{q}_ue], read a cycle ahead")
        w(f"wire [{esw - 1}:0] {q}_usize = {q}_utw[{esw - 1}:0];",
          f"wire [{pbw - 1}:0] {q}_upe = {q}_utw[{esw + pbw - 1}:{esw}];",
          f"wire {q}_ulast = {q}_utw[{esw + pbw}];")
        w(f"reg [{szw - 1}:0] {q}_upsize;  // {q}_bsz[{q}_upe], read a cycle ahead")
        pe_w = max(pbw, ow["oopened"])
        room = difference(w, f"{q}_oroom", cap, "room left in the region")
        ends = "1'b1" if bw >= to else f"({q}_urem <= {esw}'d{bw})"  # every move ends a tile of at most bw
        # whether a complete drain tile awaits the engine (ue < ne and ecomplete > ue), a
        # register found a cycle ahead for both ways its tile count can go: the read-ahead's
        # address, which it selects, then starts at a flip-flop
        ew = ow["ue"] + 1
        w(f"wire [{ew - 1}:0] {q}_ecnext = {zext(f'{q}_ecomplete', ew - 1, ew)} + {zext(self.out_drained, 1, ew)};",
          f"wire [{ew - 1}:0] {q}_ue1 = {zext(f'{q}_ue', ew - 1, ew)} + {ew}'d1;",
          f"reg {q}_uav;",
          f"wire {q}_uavail = go & {q}_uav;")
        w(f"wire {q}_uneed = ({fit(f'{q}_oopened', ow['oopened'], pe_w)} == {fit(f'{q}_upe', pbw, pe_w)});",
          f"wire {q}_uroom = {fits(room, f'{q}_upsize', szw)};",
          f"wire {q}_uact = {q}_uavail & (~{q}_uneed | {q}_uroom);",
          f"reg [{esw - 1}:0] {q}_urem;  // what is left of the tile",
          f"wire [{nw - 1}:0] {q}_ustep = {at_most(f'{q}_urem', esw, bw, nw)};  // how far it moves, if it does",
          f"wire [{nw - 1}:0] {q}_un = ~{q}_uact ? {nw}'d0 : {q}_ustep;",
          f"wire {q}_uend = {ends};  // the tile ends if it moves",
          f"wire {q}_ufinish = {q}_uact & {q}_uend;")
        ue = zext(f"{q}_ue", ew - 1, ew)
        # (whether a complete tile awaits next cycle if the engine finishes its tile now, and if not)
        av_f = f"({q}_ue1 < {ne}) & ({q}_ecnext > {q}_ue1)"
        av_s = f"({ue} < {ne}) & ({q}_ecnext > {ue})"
        w(f"always @(posedge clk) if (rst) {q}_uav <= 1'b0; else if (go) {q}_uav <= {q}_ufinish ? {av_f} : {av_s};")
        rw_ = width(bw)
        w(f"wire [{acc - 1}:0] {q}_uval [0:{bw - 1}];", f"wire [{bw - 1}:0] {q}_urmw;")
        reads = []
        # The engine moves bw elements per cycle from a tile's start, so within a tile its offset
        # stays a multiple of bw; when the slots are too, lane i only ever reads elements
        # congruent to i modulo bw, and its selection shrinks bw-fold.
        sw, lb = ow["wslot"], clog2(bw)  # (offsets into the edge buffer's slots, as the array writes them)
        aligned = bw > 1 and bw == 1 << lb and to % bw == 0 and sw > lb and ns > 1
        # offsets into the edge buffer: over bw when aligned (lane i's element is {offset, i}),
        # else in elements (lane i's is offset + i)
        ofw, unit = (sw - lb, lb) if aligned else (sw, 0)
        move = (bw >> unit) % (1 << ofw)  # (with one slot of bw elements, bw may not fit: it is then never added)

        def lane(offset: str, i: int) -> str:
            return f"{{{offset}, {lb}'d{i}}}" if aligned else f"{offset} + {sw}'d{i}"

        # The engine's place in the edge buffer: three registers that follow its moves, where
        # lane 0 is, one move on (a move that does not end the tile is bw), and the next slot's
        # start, so that no adder lies before a read.
        w(f"reg [{ofw - 1}:0] {q}_uat, {q}_uon, {q}_unext;  // lane 0's offset, one move on, the next slot")
        first_next = to >> unit if ns > 1 else 0
        with w.block("always @(posedge clk) begin"):
            w(f"if (rst) begin {q}_uat <= {ofw}'d0; {q}_uon <= {ofw}'d{move}; {q}_unext <= {ofw}'d{first_next}; "
              "end",
              f"else if ({q}_ufinish) begin {q}_uat <= {q}_unext; {q}_uon <= {q}_unext + {ofw}'d{move}; "
              f"{advance_slot(f'{q}_unext', ofw, to >> unit, ns)} end",
              f"else if ({q}_uact) begin {q}_uat <= {q}_uon; {q}_uon <= {q}_uon + {ofw}'d{move}; end")
        if self.out_ahead:
            # The drain tile's elements are read a cycle ahead from the edge buffer (_uvr): at the
            # position the engine reaches if it moves (bw further on, or the next slot's start), or,
            # while its tile is not complete, where it is. The array writes a drain tile at least
            # two cycles before the engine may read it (the datapath leaves a cycle of the drain
            # delay for this), so the register holds the tile's values by then. Whether the engine
            # moves is known late in the cycle (its room check): rather than select the read's
            # address, it selects a cycle later between that read and the values it held (_uhold),
            # for an engine that waits on a complete tile sits on values that do not change.
            # The read's address is itself a register (_ura), found a cycle before for each thing
            # the engine can do then (finish its tile, move, or not), so that the edge buffer's
            # read starts at a flip-flop.
            w(f"reg [{acc - 1}:0] {q}_uvr [0:{bw - 1}];", f"reg [{acc - 1}:0] {q}_uhold [0:{bw - 1}];",
              f"reg {q}_uread;  // {q}_uvr holds the elements at the engine's position",
              f"reg [{ofw - 1}:0] {q}_ura;  // where {q}_uvr reads (lane 0's offset)",
              f"always @(posedge clk) {q}_uread <= rst | {q}_uact | ~{q}_uavail;")
        # the ROM words at the pointer and after, in registers (the banks' next rows are found from
        # all of them); lane i's word: its element's position in the buffer tile, and whether
        # it is read-modify-written
        self.out_window = self.window(f"{q}_upos", (f"{q}_uptr", uw), iw, range(2 * bw), (f"{q}_ustep", nw),
                                      f"go & {q}_uact", bw)
        self.out_uword = self.out_window[:bw]
        for i in range(bw):
            stay = lane(f"{q}_uat", i)
            w(f"assign {q}_urmw[{i}] = {self.out_uword[i]}[{pw}];")
            if self.out_ahead:
                w(f"always @(posedge clk) {q}_uvr[{i}] <= rst ? {acc}'d0 : {q}_emem[{lane(f'{q}_ura', i)}];",
                  f"always @(posedge clk) {q}_uhold[{i}] <= {q}_uval[{i}];",
                  f"assign {q}_uval[{i}] = {q}_uread ? {q}_uvr[{i}] : {q}_uhold[{i}];")
            else:
                w(f"assign {q}_uval[{i}] = {q}_emem[{stay}];")
            reads.append(f"(({nw}'d{i} < {q}_un) & {q}_urmw[{i}] ? {rw_}'d1 : {rw_}'d0)")
        w(f"wire [{rw_ - 1}:0] {q}_ureads = {' + '.join(reads)};")
        # buffer -> DRAM (write)
        w(f"reg [{szw - 1}:0] {q}_wsize;  // {q}_bsz[{q}_we], read a cycle ahead",
          f"wire {q}_wready = go & ({q}_we < {nb}) & ({q}_ocompleted > {q}_we);",
          f"wire {q}_wreq = {q}_wready & ~{q}_wpend;", f"wire {q}_wact = {q}_wpend | {q}_wreq;",
          f"reg [{szw - 1}:0] {q}_wrem;  // what is left of the tile to stream",
          f"reg [{lw - 1}:0] {q}_wstep;  // how far it moves, if it does: min(wrem, {lanes})",
          f"reg [{ab - 1}:0] {q}_wat;  // the stream's next address in the region",
          f"reg [{ab - 1}:0] {q}_wmv;  // and its next address after a move: wat + wstep",
          f"wire [{lw - 1}:0] {q}_wn = ~{q}_wact ? {lw}'d0 : {q}_wstep;",
          f"wire {q}_wfinish = {q}_wact & {q}_wr_done;")
        w(f"assign {q}_req_valid = {q}_wreq;", f"assign {q}_req_count = {zext(f'{q}_wsize', szw)};",
          f"assign {q}_req_tile = {zext(f'{q}_we', ow['we'])};", f"assign {q}_wr_count = {fit(f'{q}_wn', lw, 8)};")
        tile_next = self.load_ahead(f"{q}_utw", f"{q}_utile", f"{q}_ue", ow["ue"], ne, esw + pbw + 1, f"{q}_ufinish")
        if self.out_ahead:
            # the read-ahead's next address: where the engine is next cycle while no complete
            # tile awaits it, else where it gets if it moves then (the next slot's start if that
            # move ends its tile, else one move on); for finishing the tile now, moving, and not
            after = f"({slot_after(f'{q}_unext', ofw, to >> unit, ns)})"
            end_f = "1'b1" if bw >= to else f"({tile_next}[{esw - 1}:0] <= {esw}'d{bw})"
            end_m = "1'b1" if bw >= to or 2 * bw >= 1 << esw else f"({q}_urem <= {esw}'d{2 * bw})"
            w(f"wire [{ofw - 1}:0] {q}_ura_f = ~({av_f}) ? {q}_unext : {end_f} ? {after} : "
              f"{q}_unext + {ofw}'d{move};",
              f"wire [{ofw - 1}:0] {q}_ura_m = ~({av_s}) ? {q}_uon : {end_m} ? {q}_unext : {q}_uon + {ofw}'d{move};",
              f"wire [{ofw - 1}:0] {q}_ura_s = ~(go & {av_s}) ? {q}_uat : {q}_uend ? {q}_unext : {q}_uon;",
              f"always @(posedge clk) {q}_ura <= rst ? {ofw}'d0 : {q}_ufinish ? {q}_ura_f : {q}_uact ? {q}_ura_m : "
              f"{q}_ura_s;")
        first = int(o.dram_sizes[int(o.edge_parent[0])]) if ne else 0
        w(f"always @(posedge clk) if (rst) {q}_upsize <= {szw}'d{first}; "
          f"else if ({q}_ufinish) {q}_upsize <= {self.read(f'{q}_bsz', f'{tile_next}[{esw + pbw - 1}:{esw}]', pbw)};")
        wsize_next = self.load_ahead(f"{q}_wsize", f"{q}_bsz", f"{q}_we", ow["we"], nb, szw, f"go & {q}_wfinish")
        smallest, largest = int(o.dram_sizes.min()), int(o.dram_sizes.max())
        # (a constant when every tile starts with the same step)
        step0 = (f"{lw}'d{min(smallest, lanes)}" if smallest >= lanes or smallest == largest
                 else at_most(wsize_next, szw, lanes, lw))
        w(f"wire [{lw - 1}:0] {q}_wfirst = {step0};  // the next tile's first step",
          f"wire [{szw - 1}:0] {q}_wleft = {q}_wrem - {fit(f'{q}_wstep', lw, szw)};  // what a move leaves",
          f"wire [{lw - 1}:0] {q}_wthen = {at_most(f'{q}_wleft', szw, lanes, lw)};  // and the step after it")
        self.output_region(o, ring_, self.out_banked, bw, lanes)
        w("genvar " + f"{q}_g;", "generate")
        with w.block(f"for ({q}_g = 0; {q}_g < {lanes}; {q}_g = {q}_g + 1) begin : {q}_wl"):
            w(f"assign {q}_wr_data[{q}_g * {acc} + {acc - 1} : {q}_g * {acc}] = "
              f"({q}_g < {zext(f'{q}_wn', lw)}) ? {q}_sdata[{q}_g] : {acc}'d0;")
        w("endgenerate")
        with w.block("always @(posedge clk) begin"):
            with w.block("if (rst) begin", None):
                names = [r for r in ow if r not in ("wslot", "ecomplete", "odone")]
                first_size = self.rom_first[f"{q}_utile"] & ((1 << esw) - 1)
                first_write = self.rom_first[f"{q}_bsz"]
                w(" ".join(f"{q}_{r} <= 0;" for r in names), f"{q}_wpend <= 1'b0; {q}_urem <= {esw}'d{first_size};",
                  f"{q}_wrem <= {szw}'d{first_write}; {q}_wstep <= {lw}'d{min(first_write, lanes)}; "
                  f"{q}_wat <= {ab}'d0; {q}_wmv <= {ab}'d{min(first_write, lanes) % (1 << ab)}; "
                  f"{q}_odone <= {ab}'d{first_write % (1 << ab)};",
                  f"{room[0]} <= {room[1]}'d{cap}; "
                  f"{self.out_edge_room[0]} <= {self.out_edge_room[1]}'d{self.tb.output.edge_capacity};")
            with w.block("end else if (go) begin", "end"):
                w(difference_step(room, (f"{q}_wfinish", f"{q}_wsize", szw),
                                  (f"{q}_uact & {q}_uneed", f"{q}_upsize", szw)),
                  difference_step(self.out_edge_room, (f"{q}_ufinish", f"{q}_usize", esw), self.out_edge_taken))
                w(f"if ({q}_uact & {q}_uneed) {q}_oopened <= {q}_oopened + 1;")
                with w.block(f"if ({q}_uact) begin"):
                    # (in a move, its step is the move: the sums need not wait for the decision)
                    w(f"{q}_uptr <= {q}_uptr + {fit(f'{q}_ustep', nw, uw)};")
                    w(f"if ({q}_ufinish) begin {q}_urem <= {tile_next}[{esw - 1}:0]; {q}_ue <= {q}_ue + 1; end")
                    w(f"else {q}_urem <= {q}_urem - {fit(f'{q}_ustep', nw, esw)};")
                    w(f"if ({q}_ufinish & {q}_ulast) {q}_ocompleted <= {q}_ocompleted + 1;")
                w(f"if ({q}_wreq) {q}_wpend <= 1'b1;")
                # The stream's progress is registers (what is left, its step, where it is and
                # where a move takes it), each next value found from registers for finishing
                # the tile and for moving: the decision only selects, and no address the
                # stream reads waits on an addition.
                w(f"if ({q}_wfinish) begin {q}_wpend <= 1'b0; {q}_we <= {q}_we + 1; "
                  f"{q}_odone <= {q}_odone + {fit(wsize_next, szw, ab)}; {q}_wrem <= {wsize_next}; "
                  f"{q}_wstep <= {q}_wfirst; {q}_wat <= {q}_odone; "
                  f"{q}_wmv <= {q}_odone + {fit(f'{q}_wfirst', lw, ab)}; end")
                w(f"else if ({q}_wact) begin {q}_wrem <= {q}_wleft; {q}_wstep <= {q}_wthen; {q}_wat <= {q}_wmv; "
                  f"{q}_wmv <= {q}_wmv + {fit(f'{q}_wthen', lw, ab)}; end")
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
        ram = bank_ram(ring_, acc, self.lut_ram_bits)
        self.memory(f"{q}_omem", "buffer", o.tensor, ring_.words, acc, ring_.banks if banked else 1,
                    ram if banked else None)
        if banked:
            w.comment(f"the buffer region: {ring_.banks} banks x {ring_.depth} words; rows registered one cycle ahead")
            nw = width(bw)
            # the stream's first address in the next cycle, for each thing the write engine can
            # do (stay, move, finish the tile), registers: its decision only selects
            w(f"wire [{ab - 1}:0] {q}_sb_stay = {q}_wat;", f"wire [{ab - 1}:0] {q}_sb_move = {q}_wmv;",
              f"wire [{ab - 1}:0] {q}_sb_done = {q}_odone;",
              f"wire [{ab - 1}:0] {q}_sb_rst = {ab}'d0;",
              f"wire [{IDX - 1}:0] {q}_un32 = {zext(f'{q}_un', nw)};")
            stream_next = [("rst", f"{q}_sb_rst"), ("~go", f"{q}_sb_stay"), (f"{q}_wfinish", f"{q}_sb_done"),
                           (f"{q}_wact", f"{q}_sb_move"), ("", f"{q}_sb_stay")]
            # the engine moves by ustep or not at all: the banks' next rows are found for both,
            # from the registered window of output_path
            moved, stayed = words_moved_or_not(w, q, self.out_window, (f"{q}_ustep", nw), bw, ab, f"[{ab - 1}:0]")
            at_reset = [int(a) for a in inverted(self.out_upos[:bw], ab)]  # the ROM words, inverted back
            output_ram(w, q, acc, ring_, lanes, NextAddresses(f"{q}_uact", moved, stayed, at_reset),
                       {"count": f"{q}_un32", "value": f"{q}_uval", "rmw": f"{q}_urmw",
                        "stream": f"{q}_sdata"}, stream_next, ram=ram)
            return
        w.comment("the buffer region, in flip-flops: the lanes accumulated in one cycle can hit the same bank")
        w(f"reg [{acc - 1}:0] {q}_omem [0:{ring_.words - 1}];", f"wire [{acc - 1}:0] {q}_old [0:{bw - 1}];")
        for i in range(bw):
            w(f"wire [{ab - 1}:0] {q}_ua{i} = ~{self.out_uword[i]}[{ab - 1}:0];",
              f"assign {q}_old[{i}] = {q}_omem[{q}_ua{i}];")
        for g in range(lanes):
            w(f"wire [{ab - 1}:0] {q}_sa{g} = {q}_wat + {ab}'d{g};",
              f"assign {q}_sdata[{g}] = {q}_omem[{q}_sa{g}];")
        with w.block("always @(posedge clk) if (go & ~rst) begin"):
            for i in range(bw):
                w(f"if ({width(bw)}'d{i} < {q}_un) {q}_omem[{q}_ua{i}] <= "
                  f"{q}_urmw[{i}] ? {q}_old[{i}] + {q}_uval[{i}] : {q}_uval[{i}];")
