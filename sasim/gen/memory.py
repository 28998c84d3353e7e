"""Buffer regions as banked, synchronous-read RAMs that synthesis maps to block RAM (or,
for banks of a few words, to LUT RAM).

A buffer region is a ring: the element filled ``n``-th lives at address ``n mod P``.
Any ``P`` at least the region's capacity keeps the live elements apart, so the
hardware uses a power of two and wraps by truncation. The ring is split into
``B`` banks (a power of two): address ``a`` is row ``a >> log2(B)`` of bank
``a mod B``. ``B`` consecutive addresses hit ``B`` different banks, so a DRAM
burst of up to ``B`` elements is one write per bank.

Block RAM reads are synchronous. The contract's reads are combinational on
registered state ("written in cycle c, visible from c + 1", docs/timing.md), so
every read address here is *registered one cycle ahead*: the address register
loads, at the clock edge, the address the engine will read in the next cycle,
computed from the next values of the engine's registers. ``mem[address_register]``
then reads, in cycle c, exactly what a combinational read would, including a word
written at the edge that starts cycle c (a transparent read port; yosys adds the
bypass where the block RAM lacks it). The output region, whose read-modify-write is
pipelined, writes its reads out as synchronous reads instead and forwards the writes
such a read cannot see (:func:`output_ram`).

The element addresses themselves are static: the buffer tile an array tile is read
from (or a drain tile is accumulated into) starts at the sum of the sizes of the
buffer tiles before it, so the generator stores each element's absolute ring
address in the sequencer ROM beside its position.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np

from sasim.gen.expr import rotate_lanes
from sasim.gen.verilog import Writer, clog2

__all__ = [
    "LUT_RAM_BITS", "NextAddresses", "Ring", "absolute_addresses", "bank_ram", "conflict_free_banks", "input_ram",
    "output_ram", "ring", "update_groups", "window_free_banks",
]

#: The largest bank (words x bits) kept in LUT RAM by default: 1 Kibit, a sixteenth of a
#: 16 Kibit block RAM (an ECP5 DP16KD, half a Xilinx RAMB36). A region banked for many
#: lanes can have banks of a few words; a block RAM each would exhaust the device.
LUT_RAM_BITS = 1024

#: The synthesis attribute on a bank, by the RAM it is meant for (yosys and Vivado honour
#: ``ram_style``; "distributed" is LUT RAM).
_RAM_STYLE = {"block": '(* ram_style = "block" *)', "lut": '(* ram_style = "distributed" *)'}

#: An output region needs a bank per element accumulated in one cycle; beyond this many
#: times that minimum, the generator keeps the region in flip-flops instead.
MAX_BANK_FACTOR = 4


@dataclass(frozen=True, slots=True)
class Ring:
    """The physical ring of one buffer region."""

    words: int  # a power of two, at least the region's capacity
    banks: int  # a power of two; words >= 2 * banks

    @property
    def addr_bits(self) -> int:
        return clog2(self.words)

    @property
    def bank_bits(self) -> int:
        return clog2(self.banks)

    @property
    def depth(self) -> int:
        return self.words // self.banks


def bank_ram(r: Ring, bits: int, lut_ram_bits: int = LUT_RAM_BITS) -> str:
    """The RAM each bank of ``r`` (``bits`` wide) is meant for: ``"lut"`` when it holds at
    most ``lut_ram_bits`` bits, else ``"block"`` (0 keeps every bank in block RAM)."""
    return "lut" if r.depth * bits <= lut_ram_bits else "block"


def _pow2(n: int) -> int:
    return 1 << clog2(max(1, n))


def ring(capacity: int, banks: int) -> Ring:
    """The ring for a region of ``capacity`` elements with at least ``banks`` banks."""
    b = _pow2(banks)
    return Ring(words=_pow2(max(capacity, 2 * b)), banks=b)


def absolute_addresses(parent: np.ndarray, positions: np.ndarray, child_sizes: np.ndarray,
                       parent_sizes: np.ndarray, words: int) -> np.ndarray:
    """Each child element's ring address: its parent tile's start (the sizes of the parent
    tiles before it) plus its position in the parent, modulo ``words``."""
    starts = np.concatenate([[0], np.cumsum(parent_sizes)[:-1]]).astype(np.int64)
    per_element = np.repeat(starts[parent], child_sizes) if len(child_sizes) else np.zeros(0, dtype=np.int64)
    result: np.ndarray = (per_element + positions) % words
    return result


def _fewest_banks(at_least: int, words: int, distinct: Callable[[int], bool]) -> int | None:
    """The fewest banks ``b`` (a power of two, at least ``at_least``, at most
    ``MAX_BANK_FACTOR`` times that, and at most half the ring) with ``distinct(b)``."""
    b = _pow2(at_least)
    limit = b * MAX_BANK_FACTOR
    while b <= limit and 2 * b <= max(words, 2 * b):
        if distinct(b):
            return b
        b *= 2
    return None


def conflict_free_banks(groups: Iterable[np.ndarray], at_least: int, words: int) -> int | None:
    """The fewest banks (a power of two, at least ``at_least``, at most ``MAX_BANK_FACTOR``
    times that) for which every group of addresses, accessed in one cycle, hits distinct
    banks; None if there is none."""
    groups = [g for g in groups if len(g) > 1]
    return _fewest_banks(at_least, words, lambda b: all(len(np.unique(g % b)) == len(g) for g in groups))


def window_free_banks(addresses: np.ndarray, sizes: np.ndarray, lanes: int, at_least: int, words: int) -> int | None:
    """Like :func:`conflict_free_banks`, for an engine that reads up to ``lanes`` consecutive
    elements of one tile (of ``sizes``) per cycle from wherever it stopped: every two
    elements of a tile fewer than ``lanes`` apart must hit distinct banks."""
    addresses = np.asarray(addresses, dtype=np.int64)
    tile = np.repeat(np.arange(len(sizes)), sizes)
    apart = [(addresses[:-d] ^ addresses[d:], tile[:-d] == tile[d:]) for d in range(1, min(lanes, len(addresses)))]
    return _fewest_banks(at_least, words, lambda b: not any(np.any(same & (x & (b - 1) == 0)) for x, same in apart))


def _row(expr: str, r: Ring) -> str:
    return f"{expr}[{r.addr_bits - 1}:{r.bank_bits}]"


def _bank(expr: str, r: Ring) -> str:
    return f"{expr}[{r.bank_bits - 1}:0]" if r.bank_bits else "1'b0"


def _lowest_lane_row(lanes: list[tuple[str, str]], j: int, bank_bits: int) -> str:
    """The row of the lowest of ``lanes`` (each its bank and its row) in bank ``j``, as a
    balanced tree of selections, log2(lanes) deep rather than a chain through every lane.
    When no lane is in bank ``j`` the row is one of theirs: a don't-care, since no lane
    then reads that bank."""
    if not bank_bits:
        return lanes[0][1]

    def first(lo: int, hi: int) -> tuple[str, str]:  # (some lane in lo..hi is on bank j, the lowest one's row)
        if hi - lo == 1:
            bank, row = lanes[lo]
            return f"({bank} == {bank_bits}'d{j})", row
        mid = (lo + hi) // 2
        (found_lo, row_lo), (found_hi, row_hi) = first(lo, mid), first(mid, hi)
        return f"({found_lo} | {found_hi})", f"({found_lo} ? {row_lo} : {row_hi})"

    return first(0, len(lanes))[1]


def input_ram(w: Writer, p: str, bits: int, r: Ring, lanes: int, reads: int, fill: str, count: str,
              next_addresses: list[str], data: str, *, ram: str = "block", one_port: bool = False,
              registered: int = 0) -> None:
    """An input region: ``lanes`` DRAM elements written per cycle at ``fill`` (the fill
    count) onward, ``count`` of them this cycle (from ``{p}_rd_lanes``); ``reads``
    read lanes whose addresses for the next cycle are ``next_addresses``; lane ``i``'s
    word this cycle drives ``{data}[i]`` (declared by the caller). Each bank has one
    write port and ``reads`` read ports (synthesis duplicates a bank per read port) or,
    ``one_port``, a single read port at the row of the lowest lane on it: the generator
    has checked that the lanes read in one cycle hit distinct banks
    (:func:`window_free_banks`; so there are at least two), and the active lanes come
    first. ``ram`` is the RAM the banks are meant for (:func:`bank_ram`).

    ``registered`` (0, 1 or 2): the registers the banks' read data passes before a lane
    selects its bank, so ``data`` holds the words read from the addresses of
    ``registered + 1`` cycles before. A block RAM's read data comes late in the cycle
    (5.8 ns on an ECP5 DP16KD without its output register, which yosys does not use), and
    one register leaves it alone on its path. With one, block RAM reads at the rows found
    this cycle (the RAM's own register holds them, and the data register stays a
    flip-flop); with two, the rows are registered first, so neither the row search nor
    the read data shares its cycle with the other. (LUT RAM reads asynchronously, so its
    banks always read at registered rows: a synchronous read at unregistered ones would
    put the row search in front of the read.)"""
    ab, bb, rb = r.addr_bits, r.bank_bits, r.addr_bits - r.bank_bits
    w(f"wire [{reads * ab - 1}:0] {p}_ra_d;  // the lanes' read addresses in the next cycle")
    ports = 1 if one_port else reads
    # With one port per bank, or registered data in block RAM, the banks' rows are
    # registered apart (by the bank, for block RAM) and only each lane's bank is kept
    # here; otherwise the whole addresses are.
    sync_rows = registered == 1 and ram == "block"  # rows go to the RAM unregistered
    read_reg = registered >= 2  # a data register after a read at registered rows
    banks_only = one_port or sync_rows
    if not banks_only:
        w(f"reg [{reads * ab - 1}:0] {p}_ra;  // read addresses, registered one cycle ahead")
    elif bb:
        w(f"reg [{reads * bb - 1}:0] {p}_rb;  // each lane's bank, registered one cycle ahead")
    w(*(f"wire [{bits - 1}:0] {p}_brd{q} [0:{r.banks - 1}];  // read port {q}, per bank" for q in range(ports)))
    read = f"{p}_brd"
    if registered:
        # the banks' data and each lane's bank, a cycle later
        read = f"{p}_brq"
        w(*(f"reg [{bits - 1}:0] {read}{q} [0:{r.banks - 1}];" for q in range(ports)))
        w("always @(posedge clk) begin",
          *(f"    {read}{q}[{j}] <= {p}_brd{q}[{j}];" for q in range(ports) for j in range(r.banks)), "end")
        if bb:
            w(*(f"reg [{reads * bb - 1}:0] {p}_rbq{k};" for k in range(1, registered + 1)))
    for q, expr in enumerate(next_addresses):
        lo = q * ab
        w(f"assign {p}_ra_d[{lo + ab - 1}:{lo}] = {expr};")
        bank = "0"
        if bb:
            bank = f"{p}_rb[{q * bb + bb - 1}:{q * bb}]" if banks_only else f"{p}_ra[{lo + bb - 1}:{lo}]"
        for k in range(1, registered + 1 if bb else 1):
            w(f"always @(posedge clk) {p}_rbq{k}[{q * bb + bb - 1}:{q * bb}] <= {bank};")
            bank = f"{p}_rbq{k}[{q * bb + bb - 1}:{q * bb}]"
        w(f"assign {data}[{q}] = {read}{0 if one_port else q}[{bank}];")
    if not banks_only:
        w(f"always @(posedge clk) {p}_ra <= {p}_ra_d;")
    elif bb:
        bank_bits = ", ".join(f"{p}_ra_d[{q * ab + bb - 1}:{q * ab}]" for q in reversed(range(reads)))
        w(f"always @(posedge clk) {p}_rb <= {{{bank_bits}}};")
    if bb:
        # A burst fills consecutive addresses from the fill count on: bank j takes DRAM lane
        # (j - fill) mod B, one output of a rotator by the fill count's low bits (B log2 B
        # selections per bit, where a lane select per bank would take B x lanes).
        low = f"{p}_flow"
        w(f"wire [{bb - 1}:0] {low} = {fill}[{bb - 1}:0];  // the bank the burst starts at")
        lanes_in = [f"{p}_rd_lanes[{g}]" for g in range(lanes)] + [f"{bits}'d0"] * (r.banks - lanes)
        wdin = rotate_lanes(w, f"{p}_dr", lanes_in, bits, (low, bb))
    for j in range(r.banks):
        m = f"{p}_bmem{j}"
        w(f"{_RAM_STYLE[ram]} reg [{bits - 1}:0] {m} [0:{r.depth - 1}];")
        if bb:
            # the DRAM lane that writes this bank, and the row: the next one if the bank
            # comes before the burst's first bank
            lane = f"{p}_lane{j}"
            carry = f" + (({bb}'d{j} < {low}) ? {rb}'d1 : {rb}'d0)" if j + 1 < r.banks else ""
            w(f"wire [{bb - 1}:0] {lane} = {bb}'d{j} - {low};",
              f"wire [{rb - 1}:0] {p}_wrow{j} = {fill}[{ab - 1}:{bb}]{carry};",
              f"wire [{bits - 1}:0] {p}_wdin{j} = {wdin[j]};")
            we = f"({{{32 - bb}'d0, {lane}}} < {count})"
        else:
            w(f"wire [{rb - 1}:0] {p}_wrow{j} = {fill}[{ab - 1}:0];",
              f"wire [{bits - 1}:0] {p}_wdin{j} = {p}_rd_lanes[0];")
            we = f"({count} != 32'd0)"
        w(f"always @(posedge clk) if (go & ~rst & {we}) {m}[{p}_wrow{j}] <= {p}_wdin{j};")
        if one_port:
            # the row of the lowest lane on this bank in the next cycle, registered
            lanes_next = [(f"{p}_ra_d[{lo + bb - 1}:{lo}]", f"{p}_ra_d[{lo + ab - 1}:{lo + bb}]")
                          for lo in range(0, reads * ab, ab)]
            chain = _lowest_lane_row(lanes_next, j, bb)
            if sync_rows:
                _sync_read(w, f"{p}_brd0[{j}]", f"{p}_brr0_{j}", bits, f"{m}[{chain}]")
                continue
            w(f"reg [{rb - 1}:0] {p}_rrow{j};", f"always @(posedge clk) {p}_rrow{j} <= {chain};")
            if read_reg:
                _sync_read(w, f"{p}_brd0[{j}]", f"{p}_brr0_{j}", bits, f"{m}[{p}_rrow{j}]")
            else:
                w(f"assign {p}_brd0[{j}] = {m}[{p}_rrow{j}];")
            continue
        for q in range(reads):
            lo = q * ab
            if sync_rows or read_reg:
                row = f"{p}_ra{'_d' if sync_rows else ''}[{lo + ab - 1}:{lo + bb}]"
                _sync_read(w, f"{p}_brd{q}[{j}]", f"{p}_brr{q}_{j}", bits, f"{m}[{row}]")
            else:
                w(f"assign {p}_brd{q}[{j}] = {m}[{p}_ra[{lo + ab - 1}:{lo + bb}]];")


def _sync_read(w: Writer, data: str, reg: str, bits: int, word: str) -> None:
    """``data`` driven by ``reg``, a synchronous read of ``word``: a block RAM takes its own
    (address) register for ``reg``, so a register after ``data`` stays a flip-flop instead
    of being taken for the RAM's; LUT RAM reads asynchronously into ``reg``."""
    w(f"reg [{bits - 1}:0] {reg};", f"always @(posedge clk) {reg} <= {word};", f"assign {data} = {reg};")


def update_groups(addresses: np.ndarray, sizes: np.ndarray, lanes: int) -> list[np.ndarray]:
    """The addresses an engine moving ``lanes`` elements per cycle touches together: each
    tile (of ``sizes``) in chunks of ``lanes`` from its start."""
    groups, at = [], 0
    for n in sizes.tolist():
        groups += [addresses[at + k: at + min(n, k + lanes)] for k in range(0, n, lanes)]
        at += n
    return groups


def _row_after(fill: str, j: int, r: Ring) -> str:
    """The row of bank ``j`` holding the first address at or after ``fill``."""
    ab, bb, rb = r.addr_bits, r.bank_bits, r.addr_bits - r.bank_bits
    if not bb:
        return f"{fill}[{ab - 1}:0]"
    carry = f" + (({bb}'d{j} < {fill}[{bb - 1}:0]) ? {rb}'d1 : {rb}'d0)" if j + 1 < r.banks else ""
    return f"{fill}[{ab - 1}:{bb}]{carry}"


@dataclass(frozen=True, slots=True)
class NextAddresses:
    """An engine's lane addresses in the next cycle, as two alternatives: ``moved`` if it
    moves this cycle (``moving``), ``stayed`` if not, and ``at_reset`` under reset. Both
    alternatives come from registers, so the logic that derives the banks' rows from them
    runs in parallel with the decision, which then selects between two results."""

    moving: str
    moved: list[str]
    stayed: list[str]
    at_reset: list[int]


def _select(alternatives: list[tuple[str, str]], value: Callable[[str], str]) -> str:
    """``value`` of the first alternative whose condition holds (the last one's is empty)."""
    expr = value(alternatives[-1][1])
    for cond, wire in reversed(alternatives[:-1]):
        expr = f"{cond} ? ({value(wire)}) : ({expr})"
    return expr


def output_ram(w: Writer, q: str, bits: int, r: Ring, stream_lanes: int, ahead: NextAddresses,
               io: dict[str, str], stream_next: list[tuple[str, str]], *, ram: str = "block") -> None:
    """The output region, for an engine that accumulates up to ``len(ahead.moved)``
    elements per cycle (read-modify-write) and a DRAM write engine that streams up to
    ``stream_lanes`` consecutive elements per cycle.

    ``ahead`` gives the update lanes' addresses in the next cycle; ``io`` names
    the engines' signals: ``count`` (update lanes active this cycle), ``value[i]`` / ``rmw[i]``
    (lane ``i``'s word and whether it adds to the stored one) and ``stream`` (an array this
    drives: the streamed words). ``stream_next`` gives the stream's first address in the next
    cycle as (condition, wire) pairs, the first whose condition holds (the last one's is
    empty); each bank's next row is derived from every wire, and the conditions select.
    The generator has checked that the update lanes active in one cycle hit distinct
    banks, so each bank has one write port and two read ports, all at registered rows.
    ``ram`` is the RAM the banks are meant for (:func:`bank_ram`).
    """
    ab, bb, rb, n, u = r.addr_bits, r.bank_bits, r.addr_bits - r.bank_bits, r.banks, len(ahead.moved)

    w(f"wire [{bits - 1}:0] {q}_ubrd [0:{n - 1}];", f"wire [{bits - 1}:0] {q}_sbrd [0:{n - 1}];")
    for i in range(u):
        w(f"wire [{ab - 1}:0] {q}_mv{i} = {ahead.moved[i]};  // update lane {i}'s address next cycle, if it moves",
          f"wire [{ab - 1}:0] {q}_st{i} = {ahead.stayed[i]};  // and if it does not")
    now = ["" for _ in range(u)]
    if bb:
        # the banks of this cycle's update lanes and of the stream's first address, registered one cycle ahead
        nxt = [f"rst ? {bb}'d{ahead.at_reset[i] % n} : {ahead.moving} ? {q}_mv{i}[{bb - 1}:0] : {q}_st{i}[{bb - 1}:0]"
               for i in range(u)]
        w(f"reg [{u * bb - 1}:0] {q}_ub;", f"reg [{bb - 1}:0] {q}_sbank;",
          f"always @(posedge clk) begin {q}_ub <= {{{', '.join(f'({x})' for x in reversed(nxt))}}}; "
          f"{q}_sbank <= {_select(stream_next, lambda x: f'{x}[{bb - 1}:0]')}; end")
        now = [f"{q}_ub[{i * bb + bb - 1}:{i * bb}]" for i in range(u)]
    for g in range(stream_lanes):
        if bb:
            w(f"wire [{bb - 1}:0] {q}_sb{g} = {q}_sbank + {bb}'d{g};",
              f"assign {io['stream']}[{g}] = {q}_sbrd[{q}_sb{g}];")
        else:
            w(f"assign {io['stream']}[{g}] = {q}_sbrd[0];")
    for j in range(n):
        m = f"{q}_omem{j}"
        w(f"{_RAM_STYLE[ram]} (* no_rw_check *) reg [{bits - 1}:0] {m} [0:{r.depth - 1}];")
        # update port: the row of the lowest lane on this bank (the active lanes hit distinct
        # banks), found for both alternatives; the decision to move only picks one
        reset_lane = next((a for a in ahead.at_reset if a % n == j), 0) if bb else ahead.at_reset[0]
        moved, stayed = (_lowest_lane_row([(_bank(a, r), _row(a, r)) for a in lanes], j, bb)
                         for lanes in ([f"{q}_mv{i}" for i in range(u)], [f"{q}_st{i}" for i in range(u)]))
        chain = f"rst ? {rb}'d{reset_lane >> bb} : {ahead.moving} ? ({moved}) : ({stayed})"
        # the active lanes hit distinct banks, so at most one is this bank's: an OR of the
        # lanes' words, each masked by whether it is that lane, not a chain through them
        mine = [f"{q}_on{j}_{i}" for i in range(u)]
        for i in range(u):
            on_now = f"({now[i]} == {bb}'d{j})" if bb else "1'b1"
            w(f"wire {mine[i]} = {on_now} & (32'd{i} < {io['count']});")
        hit = " | ".join(mine)
        value = " | ".join(f"({{{bits}{{{m_}}}}} & {io['value']}[{i}])" for i, m_ in enumerate(mine))
        rmw = " | ".join(f"({m_} & {io['rmw']}[{i}])" for i, m_ in enumerate(mine))
        srow = _select(stream_next, partial(_row_after, j=j, r=r))
        w(f"wire [{rb - 1}:0] {q}_urow{j}_d = {chain};", f"wire [{rb - 1}:0] {q}_srow{j}_d = {srow};",
          f"reg [{rb - 1}:0] {q}_urow{j}, {q}_srow{j};  // the rows read this cycle (update, stream)",
          f"always @(posedge clk) begin {q}_urow{j} <= {q}_urow{j}_d; {q}_srow{j} <= {q}_srow{j}_d; end")
        w(f"wire {q}_uwe{j} = {hit};", f"wire [{bits - 1}:0] {q}_uv{j} = {value};", f"wire {q}_ur{j} = {rmw};")
        # The read-modify-write is pipelined: the bank returns the old word in one cycle, and
        # the next adds and writes it, so the adder lies between flip-flops and the bank, not
        # between the bank's output and its input. The reads are synchronous reads written
        # out (the data register is the bank's own), and a read returns what the bank held
        # before the edge: the write still pending (p) and the one that landed at that edge
        # (l) are forwarded, so a collision's outcome does not matter (no_rw_check).
        pend = [f"{q}_p{x}{j}" for x in ("we", "row", "val", "rmw", "old")]
        land = [f"{q}_l{x}{j}" for x in ("we", "row", "sum")]
        w(f"reg {pend[0]}, {pend[3]}, {land[0]};", f"reg [{rb - 1}:0] {pend[1]}, {land[1]};",
          f"reg [{bits - 1}:0] {pend[2]}, {pend[4]}, {land[2]}, {q}_ubr{j}, {q}_sbr{j};",
          f"wire [{bits - 1}:0] {q}_psum{j} = {pend[3]} ? {pend[4]} + {pend[2]} : {pend[2]};")
        w(f"always @(posedge clk) begin {q}_ubr{j} <= {m}[{q}_urow{j}_d]; {q}_sbr{j} <= {m}[{q}_srow{j}_d]; end")
        for port, row, raw in (("ubrd", f"{q}_urow{j}", f"{q}_ubr{j}"), ("sbrd", f"{q}_srow{j}", f"{q}_sbr{j}")):
            w(f"assign {q}_{port}[{j}] = ({pend[0]} & ({pend[1]} == {row})) ? {q}_psum{j} : "
              f"({land[0]} & ({land[1]} == {row})) ? {land[2]} : {raw};")
        w(f"always @(posedge clk) begin {pend[0]} <= go & ~rst & {q}_uwe{j}; {pend[1]} <= {q}_urow{j}; "
          f"{pend[2]} <= {q}_uv{j}; {pend[3]} <= {q}_ur{j}; {pend[4]} <= {q}_ubrd[{j}];",
          f"    {land[0]} <= ~rst & {pend[0]}; {land[1]} <= {pend[1]}; {land[2]} <= {q}_psum{j}; end")
        w(f"always @(posedge clk) if ({pend[0]}) {m}[{pend[1]}] <= {q}_psum{j};")
