"""Verilog expression builders shared by the generator's sections: sized extensions and
truncations, reads of ROM words ahead, and the arithmetic of the control logic
(differences of cumulative counts, room checks, ring slots, read-ahead addresses).

Every helper returns text that is lint-clean under ``verilator -Wall``: operands of one
operation have one width, and memory indices have exactly the width their depth needs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sasim.gen.verilog import Writer, clog2, width

__all__ = ["IDX", "advance_slot", "at_most", "difference", "difference_step", "fit", "fits", "inverted",
           "leading_count", "move_terms", "moved_by_count", "one_hot_select", "rotate_lanes", "sext", "slot_after",
           "slot_word", "words_ahead", "words_moved_or_not", "zext"]

#: The DRAM ports' tile and count fields and the cycle counter (the control logic inside is narrower).
IDX = 32


def inverted(addresses: np.ndarray, bits: int) -> np.ndarray:
    """Buffer addresses as the ROMs store them: inverted, and inverted back where they are
    read. The one-cycle-ahead address register is then not a plain copy of the ROM's
    output, so synthesis keeps it as the buffer's (synchronous) read address instead of
    absorbing it into the ROM as the ROM's output register, which would leave the buffer
    with an asynchronous read and no block RAM."""
    inverted: np.ndarray = np.bitwise_xor(addresses, (1 << bits) - 1)
    return inverted


def sext(expr: str, have: int, want: int) -> str:
    """``expr`` (``have`` bits, two's complement) sign-extended or truncated to ``want`` bits."""
    if have == want:
        return expr
    if have > want:
        return f"{expr}[{want - 1}:0]"
    return f"{{{{{want - have}{{{expr}[{have - 1}]}}}}, {expr}}}"


def zext(expr: str, have: int, want: int = IDX) -> str:
    """``expr`` (``have`` bits, unsigned) zero-extended to ``want`` bits."""
    return expr if have >= want else f"{{{want - have}'d0, {expr}}}"


def fit(expr: str, have: int, want: int) -> str:
    """``expr`` (``have`` bits, unsigned) zero-extended, or truncated (a name only), to ``want`` bits."""
    if have > want:
        return f"{expr}[{want - 1}:0]"
    return zext(expr, have, want)


def words_ahead(w: Writer, p: str, window: Callable[[str, tuple[str, int], int, range], list[str]], rom: str,
                pointer: tuple[str, int], step: tuple[str, int], lanes: int, bits: int, index_bits: int,
                at_reset: np.ndarray, field: str = "", stored_inverted: bool = True,
                moves: list[str] | None = None) -> list[str]:
    """The ROM words ``lanes`` consecutive readers need in the next cycle: words ``pointer +
    step + i``, ``step`` (at most ``lanes``) being how far the engine moves in this cycle
    (``rst`` gives word ``i``, from ``at_reset``). All ``2 * lanes`` words the readers can
    need are read from the registered pointer in parallel with the engine's decision, which
    then only selects: the ROM is not on the path after that decision. ``window(rom,
    pointer, index_bits, offsets)`` gives wires holding words ``pointer + o``. Buffer
    addresses are stored inverted (see :func:`inverted`) and come out true. With
    ``moves`` (one-hot: term ``k`` holds when the engine moves by ``k``, see
    :func:`move_terms`), each word is picked by those terms rather than by the step's
    binary value, which they come before."""
    cand, pick = _candidates(w, p, lambda: window(rom, pointer, index_bits, range(2 * lanes)),
                             step if moves is None else None, lanes, bits, field, stored_inverted)
    mask = (1 << bits) - 1 if stored_inverted else 0

    def word(i: int) -> str:
        if moves is not None:
            return one_hot_select(moves, [f"{cand}[{k + i}]" for k in range(len(moves))], bits)
        return f"{cand}[{pick} + {clog2(2 * lanes) or 1}'d{i}]"

    return [f"rst ? {bits}'d{int(at_reset[i]) ^ mask} : {word(i)}" for i in range(lanes)]


def words_moved_or_not(w: Writer, p: str, words: list[str], step: tuple[str, int], lanes: int, bits: int,
                       field: str = "") -> tuple[list[str], list[str]]:
    """Like :func:`words_ahead`, for an engine that either moves by ``step`` this cycle or
    does not move, from ``words`` (registers holding the ``2 * lanes`` ROM words at its
    pointer, stored inverted): the words if it moves and if it does not, so that logic
    built on them runs in parallel with the decision whether to move."""
    cand, pick = _candidates(w, p, lambda: words, step, lanes, bits, field, True)
    cw = clog2(2 * lanes) or 1  # (pick is the step's name: a step is given)
    return [f"{cand}[{pick} + {cw}'d{i}]" for i in range(lanes)], [f"{cand}[{cw}'d{i}]" for i in range(lanes)]


def _candidates(w: Writer, p: str, words: Callable[[], list[str]], step: tuple[str, int] | None, lanes: int,
                bits: int, field: str, stored_inverted: bool) -> tuple[str, str | None]:
    """Declare the ``2 * lanes`` ROM words from the pointer on (``{p}_cand``, true values),
    which ``words()`` gives (a window read declares its wires after these declarations),
    and, if given, the step as an index into them (``{p}_cstep``); returns both names
    (``None`` for the step when none is given)."""
    cw = clog2(2 * lanes) or 1
    flip = "~" if stored_inverted else ""
    w(f"wire [{bits - 1}:0] {p}_cand [0:{2 * lanes - 1}];  // ROM words the readers can need next")
    if step is not None:
        w(f"wire [{cw - 1}:0] {p}_cstep = {fit(*step, cw)};")
    for k, word in enumerate(words()):
        w(f"assign {p}_cand[{k}] = {flip}{word}{field};")
    return f"{p}_cand", None if step is None else f"{p}_cstep"


def slot_after(slot: str, bits: int, size: int, slots: int) -> str:
    """The start of the slot after ``slot`` (``bits`` wide), of ``slots`` slots of ``size``
    elements in a ring (a conditional expression: parenthesize it to use it in another)."""
    if slots == 1:
        return f"{bits}'d0"
    return f"({slot} == {bits}'d{(slots - 1) * size}) ? {bits}'d0 : {slot} + {bits}'d{size}"


def advance_slot(slot: str, bits: int, size: int, slots: int) -> str:
    """Move ``slot`` (``bits`` wide) to the next of ``slots`` slots of ``size`` elements, in a ring."""
    return f"{slot} <= {slot_after(slot, bits, size, slots)};"


def slot_word(slot: str, bits: int, size: int, slots: int, offset: int | tuple[str, int]) -> str:
    """The address (``bits`` wide) of element ``offset`` of the slot that starts at ``slot``:
    a ring of ``slots`` slots of ``size`` elements, ``slot`` moved by :func:`advance_slot` (so
    a multiple of ``size``). ``offset`` is a constant or a wire and its width, below ``size``.

    When ``size`` is a power of two, the slot's low bits are zero and the address is
    ``{slot's high bits, offset}``. A write at a constant offset then reaches only the words
    of that offset, and a read at one selects among ``slots`` words, not all of them; with
    ``slot + offset`` synthesis cannot see either, and muxes every port into every word."""
    lb = clog2(size)
    if isinstance(offset, int):
        low, full = f"{lb}'d{offset}", f"{bits}'d{offset}"
    else:  # narrower than the slot's offset bits (below size), so only ever zero-extended
        low, full = fit(*offset, lb), fit(*offset, bits)
    if slots == 1:
        return full
    if size == 1 << lb and bits > lb:
        return f"{{{slot}[{bits - 1}:{lb}], {low}}}" if lb else slot
    return f"{slot} + {full}"


def rotate_lanes(w: Writer, name: str, lanes: list[str], bits: int, shift: tuple[str, int]) -> list[str]:
    """Declare a barrel rotator: ``R`` outputs (``R`` the power of two at or above
    ``len(lanes)``), output ``j`` holding lane ``(j - shift) mod R`` (lanes past the last
    are zero). A write of consecutive elements from any start then takes each word's
    element from one output, ``start mod R``, instead of choosing among every lane per word.
    ``shift`` is a wire and its width. Returns the outputs."""
    size = 1 << clog2(len(lanes))
    stage = [*lanes, *[f"{bits}'d0"] * (size - len(lanes))]
    expr, have = shift
    if have < clog2(size):
        raise ValueError(f"a shift of {have} bits cannot rotate {size} lanes")
    for s in range(clog2(size)):
        step = 1 << s
        nxt = [f"{name}{s}_{j}" for j in range(size)]
        for j in range(size):
            w(f"wire [{bits - 1}:0] {nxt[j]} = {expr}[{s}] ? {stage[(j - step) % size]} : {stage[j]};")
        stage = nxt
    return stage


def leading_count(w: Writer, name: str, conditions: list[str]) -> tuple[str, int, list[str]]:
    """Declare ``name``: how many of ``conditions`` hold before the first that does not (an
    engine's lanes moving in order up to the first that cannot), and return it, its width,
    and its thermometer code (wire ``j``: the first ``j + 1`` hold). Written as that code,
    the prefix ANDs of the conditions (each a balanced tree), and each bit of the count as
    an OR over the ranges of counts that set it: a few levels of logic, where a chain of
    selections through the lanes is as deep as there are lanes."""
    n = len(conditions)
    bits = width(n)
    w(f"wire [{n - 1}:0] {name}_c = {{{', '.join(reversed(conditions))}}};")
    w(*(f"wire {name}_t{j} = &{name}_c[{j}:0];  // the first {j + 1} hold" for j in range(n)))

    def at_least(m: int) -> str | None:  # None: always; "1'b0": never
        return None if m <= 0 else f"{name}_t{m - 1}" if m <= n else "1'b0"

    out = []
    for b in range(bits):
        terms = []
        for lo in range(1 << b, n + 1, 1 << (b + 1)):  # counts lo .. lo + 2**b - 1 set bit b
            ge, past = at_least(lo), at_least(lo + (1 << b))
            terms.append(" & ".join(x for x in (ge, None if past == "1'b0" else f"~{past}") if x) or "1'b1")
        out.append(" | ".join(f"({t})" for t in terms) if terms else "1'b0")
    w(f"wire [{bits - 1}:0] {name} = {{{', '.join(reversed(out))}}};")
    return name, bits, [f"{name}_t{j}" for j in range(n)]


def move_terms(act: str, thermometer: list[str]) -> list[str]:
    """One-hot terms for how far an engine moves: term ``k`` holds when ``act`` does and the
    count of :func:`leading_count` whose thermometer code is ``thermometer`` is ``k``; term 0
    also when ``act`` does not."""
    n = len(thermometer)
    terms = [f"~{act} | ~{thermometer[0]}"]
    for k in range(1, n + 1):
        terms.append(f"{act} & {thermometer[k - 1]}" + (f" & ~{thermometer[k]}" if k < n else ""))
    return terms


def one_hot_select(terms: list[str], values: list[str], bits: int) -> str:
    """The value (``bits`` wide) whose one-hot term holds: an AND-OR, as shallow as the
    terms allow, where a binary select would wait for the terms to be encoded."""
    return " | ".join(f"({{{bits}{{{cond}}}}} & {value})" for cond, value in zip(terms, values, strict=True))


def moved_by_count(reg: str, bits: int, moves: list[str]) -> str:
    """The next value of pointer ``reg`` (``bits`` wide), moved by ``k`` when term ``k`` of
    ``moves`` (:func:`move_terms`) holds: each candidate sum is found from the register,
    and the terms only pick one, so no decision runs on into a carry chain."""
    return one_hot_select(moves, [reg, *(f"({reg} + {bits}'d{k})" for k in range(1, len(moves)))], bits)


def at_most(value: str, bits: int, limit: int, out_bits: int) -> str:
    """``min(value, limit)`` (``value`` is ``bits`` wide) at ``out_bits``, which hold ``limit``."""
    cw = max(bits, out_bits)
    return f"(({fit(value, bits, cw)} < {cw}'d{limit}) ? {fit(value, bits, out_bits)} : {out_bits}'d{limit})"


def difference(w: Writer, name: str, bound: int, what: str) -> tuple[str, int]:
    """Declare ``name`` (``what`` it counts), a count between 0 and ``bound`` that moves by
    what comes in and goes out of a region: the elements in it, or the room left. It is a
    register stepped by :func:`difference_step` with both changes, not a subtraction of two
    cumulative counts, so the decisions that read it (room for a tile, elements readable)
    start at a flip-flop. Returns the register and its width; the caller resets it."""
    bits = width(bound)
    w(f"reg [{bits - 1}:0] {name};  // {what}")
    return name, bits


def difference_step(count: tuple[str, int], added: tuple[str, str, int], removed: tuple[str, str, int]) -> str:
    """The update of a :func:`difference` in a cycle the run goes: ``added`` and
    ``removed`` are each (condition, amount, amount width). The sums for each outcome of
    the conditions are written apart, so they are computed from registers while the
    conditions (engines' decisions) settle, and the conditions only select one."""
    name, bits = count
    (add_if, add, add_bits), (rem_if, rem, rem_bits) = added, removed
    plus, minus = f" + {fit(add, add_bits, bits)}", f" - {fit(rem, rem_bits, bits)}"

    def by(cond: str, taken: str, not_taken: str) -> str:
        return taken if cond == "1'b1" else f"{cond} ? ({taken}) : ({not_taken})"

    return (f"{name} <= {by(add_if, by(rem_if, name + plus + minus, name + plus), by(rem_if, name + minus, name))};")


def fits(room: tuple[str, int], size: str, size_bits: int) -> str:
    """Whether ``size`` more elements fit in ``room`` (a :func:`difference` and its width)."""
    name, bits = room
    s = max(bits, size_bits)
    return f"({fit(size, size_bits, s)} <= {fit(name, bits, s)})"
