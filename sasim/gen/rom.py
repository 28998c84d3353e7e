"""Sequencer ROMs stored as blocks: a table that repeats, or repeats up to an offset, is
kept as its distinct blocks and a shorter table of which block comes where.

The tables grow with the workload's steps, but a loop nest makes them regular: the
positions an array tile reads repeat from tile to tile, shifted by where the tile lies
in its buffer tile; the per-step flags repeat with the innermost loops. A table ``v``
of ``n`` words is split into blocks of ``L = 2**k`` words, and

    v[i] = patterns[classes[i >> k] * L + (i & (L - 1))] + offsets[i >> k]   (mod 2**bits)

where ``patterns`` holds each distinct block once, ``classes`` says which one block
``i >> k`` is, and ``offsets`` is what the block is shifted by (zero when the blocks
repeat as they are). ``classes`` and ``offsets`` are tables again and are stored the
same way, to a bounded depth. A table of one value is a constant, and one that does
not shrink is kept as it is.

The block size is a power of two, so the split of an index is two bit slices, and a
plain read is two small ROM reads and an adder per level. Most tables are read at a
pointer that only moves forward; :meth:`RomReader.window` keeps the classes and offsets
of the pointer's block and the next in registers, so such a read is one pattern-ROM read
and an adder. The encoding is exact by construction (:func:`expand` inverts it) and is
chosen per table, deterministically, from the words alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sasim.gen.expr import fit
from sasim.gen.verilog import Writer, clog2, hex_image

__all__ = ["Blocked", "Const", "Flat", "Layout", "MAX_LEVELS", "RomReader", "encode", "expand", "storage_bits",
           "word_at"]

#: Levels of blocks at most: each is a ROM read and an adder on the read path.
MAX_LEVELS = 2
#: Tables shorter than this stay flat: synthesis turns a short table into less logic than
#: the reads of its blocks (measured on ECP5, docs/rtl.md "Sequencer ROMs").
MIN_WORDS = 4096
#: Largest block (2**MAX_BLOCK_BITS words) tried.
MAX_BLOCK_BITS = 14
#: Offsets are added at most this wide (wider words are packed fields: blocks repeat as they are).
MAX_AFFINE_BITS = 32
#: A blocked layout is kept only when it needs at most this fraction of the flat table's bits.
KEEP_FRACTION = 0.5


@dataclass(frozen=True)
class Const:
    """Every word is ``value``."""

    value: int
    length: int
    bits: int


@dataclass(frozen=True)
class Flat:
    """The words as they are."""

    words: tuple[int, ...]
    bits: int


@dataclass(frozen=True)
class Blocked:
    """Blocks of ``2**k`` words: ``patterns`` (the distinct blocks, concatenated), which one
    each block is (``classes``; ``None`` when there is one), and the offset added to each
    (``offsets``; ``None`` when none is)."""

    k: int
    length: int
    bits: int
    patterns: tuple[int, ...]
    classes: Layout | None
    offsets: Layout | None

    @property
    def distinct(self) -> int:
        return len(self.patterns) >> self.k


Layout = Const | Flat | Blocked


def storage_bits(layout: Layout) -> int:
    """The ROM bits ``layout`` needs."""
    if isinstance(layout, Const):
        return 0
    if isinstance(layout, Flat):
        return len(layout.words) * layout.bits
    sub = sum(storage_bits(c) for c in (layout.classes, layout.offsets) if c is not None)
    return len(layout.patterns) * layout.bits + sub


def expand(layout: Layout) -> list[int]:
    """The table ``layout`` stores (the inverse of :func:`encode`)."""
    if isinstance(layout, Const):
        return [layout.value] * layout.length
    if isinstance(layout, Flat):
        return list(layout.words)
    size = 1 << layout.k
    blocks = -(-layout.length // size)
    classes = expand(layout.classes) if layout.classes is not None else [0] * blocks
    offsets = expand(layout.offsets) if layout.offsets is not None else [0] * blocks
    mask = (1 << layout.bits) - 1
    out: list[int] = []
    for c, off in zip(classes, offsets):
        out.extend((x + off) & mask for x in layout.patterns[c * size:(c + 1) * size])
    return out[: layout.length]


def word_at(layout: Layout, index: int) -> int:
    """Word ``index`` of the table ``layout`` stores (0 past its end), without expanding it."""
    if isinstance(layout, Const):
        return layout.value if index < layout.length else 0
    if isinstance(layout, Flat):
        return layout.words[index] if index < len(layout.words) else 0
    if index >= layout.length:
        return 0
    block = index >> layout.k
    c = word_at(layout.classes, block) if layout.classes is not None else 0
    offset = word_at(layout.offsets, block) if layout.offsets is not None else 0
    return (layout.patterns[(c << layout.k) | (index & ((1 << layout.k) - 1))] + offset) & ((1 << layout.bits) - 1)


def encode(words: list[int] | np.ndarray, bits: int, levels: int = MAX_LEVELS, min_words: int = MIN_WORDS,
           min_block: int = 2) -> Layout:
    """The smallest layout found for ``words`` (each below ``2**bits``), with at most
    ``levels`` levels of blocks of at least ``min_block`` words (the top level: a window
    of that many words is then read from registers, see :meth:`RomReader.window`); tables
    (and their tables of classes and offsets) of fewer than ``min_words`` words stay flat."""
    values = [int(x) for x in words]
    if not values:
        return Flat((), bits)
    table, ids = _ids(values)
    return _encode(_Words(ids, table, bits), levels, min_words, max(1, clog2(min_block)))


@dataclass(frozen=True)
class _Words:
    """A table as the search sees it: a dense id per word (``table[id]`` is the word)."""

    ids: np.ndarray
    table: list[int]
    bits: int

    @property
    def affine(self) -> bool:
        return self.bits <= MAX_AFFINE_BITS

    def values(self) -> np.ndarray:
        """The words themselves (only for :attr:`affine` tables, whose words fit int64)."""
        return np.asarray(np.asarray(self.table, dtype=np.int64)[self.ids])


def _encode(words: _Words, levels: int, min_words: int, min_k: int = 1) -> Layout:
    n, bits = len(words.ids), words.bits
    if len(words.table) == 1:
        return Const(words.table[0], n, bits)
    if levels <= 0 or n < min_words:
        return Flat(tuple(words.table[i] for i in words.ids.tolist()), bits)
    cost, k, affine = _search(words, levels, min_words, min_k)
    if k is None or cost > KEEP_FRACTION * n * bits:
        return Flat(tuple(words.table[i] for i in words.ids.tolist()), bits)
    patterns, classes, offsets = _split(words, k, affine)
    return Blocked(
        k=k, length=n, bits=bits, patterns=tuple(patterns),
        classes=_encode(classes, levels - 1, min_words) if len(classes.table) > 1 else None,
        offsets=_encode(offsets, levels - 1, min_words) if offsets is not None else None,
    )


def _search(words: _Words, levels: int, min_words: int, min_k: int = 1) -> tuple[int, int | None, bool]:
    """The estimated storage of ``words`` in the best layout of at most ``levels`` levels,
    and that layout's block size (``None``: flat) and whether it adds offsets. Blocks are
    told apart by hashing here; the layout is then built from exact comparisons."""
    n, bits = len(words.ids), words.bits
    if len(words.table) == 1:
        return 0, None, False
    best: tuple[int, int | None, bool] = (n * bits, None, False)
    if levels <= 0 or n < min_words:
        return best
    values = words.values() if words.affine else None
    for k in range(min_k, min(MAX_BLOCK_BITS, clog2(n) - 1) + 1):
        for affine in (False, True) if values is not None else (False,):
            source = _relative(values, k, bits) if values is not None and affine else _padded(words.ids, k)
            first, inverse = _first_ids(_block_hashes(source, k))
            cost = (len(first) << k) * bits
            if cost >= best[0]:
                continue
            if len(first) > 1:
                classes = _Words(inverse, list(range(len(first))), max(1, clog2(len(first))))
                cost += _search(classes, levels - 1, min_words)[0]
            if affine and cost < best[0] and values is not None:
                offsets = _padded(values, k)[:: 1 << k]
                table, ids = np.unique(offsets, return_inverse=True)
                cost += _search(_Words(ids.astype(np.int64), table.tolist(), bits), levels - 1, min_words)[0]
            if cost < best[0]:
                best = (cost, k, affine)
    return best


def _split(words: _Words, k: int, affine: bool) -> tuple[list[int], _Words, _Words | None]:
    """The distinct blocks of ``2**k`` words (relative to their first word when ``affine``),
    concatenated in order of first appearance; which one each block is; and each block's offset."""
    size = 1 << k
    if affine:
        values = _padded(words.values(), k).reshape(-1, size)
        offsets = values[:, 0].copy()
        blocks = (values - offsets[:, None]) & ((1 << words.bits) - 1)
    else:
        blocks = _padded(words.ids, k).reshape(-1, size)
    distinct, first, inverse = np.unique(blocks, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    chosen = distinct[order].reshape(-1).tolist()
    patterns = chosen if affine else [words.table[i] for i in chosen]
    # three more entries than blocks (copies of the last): a window reads three blocks ahead
    which = _extended(rank[np.asarray(inverse).reshape(-1)].astype(np.int64))
    classes = _Words(which, list(range(len(order))), max(1, clog2(len(order))))
    if not affine:
        return patterns, classes, None
    table, ids = np.unique(_extended(offsets), return_inverse=True)
    return patterns, classes, _Words(ids.astype(np.int64), table.tolist(), words.bits)


def _extended(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values, values[-1:], values[-1:], values[-1:]])


def _first_ids(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct ``keys`` and, per key, the rank of its value's first appearance."""
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return first[order], rank[np.asarray(inverse).reshape(-1)].astype(np.int64)


def _ids(values: list[int]) -> tuple[list[int], np.ndarray]:
    """The distinct values in order of first appearance, and each value's index among them
    (words can be wider than 64 bits)."""
    index: dict[int, int] = {}
    ids = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))
    return list(index), ids


def _padded(ids: np.ndarray, k: int) -> np.ndarray:
    pad = -len(ids) % (1 << k)
    return np.concatenate([ids, np.full(pad, ids[-1])]) if pad else ids


def _relative(arr: np.ndarray, k: int, bits: int) -> np.ndarray:
    """Each word minus its block's first word, modulo ``2**bits``."""
    blocks = _padded(arr, k).reshape(-1, 1 << k)
    return np.asarray(((blocks - blocks[:, :1]) & ((1 << bits) - 1)).reshape(-1))


_MULT = np.random.default_rng(20261122).integers(1, 1 << 62, size=1 << MAX_BLOCK_BITS, dtype=np.int64) | 1


def _block_hashes(source: np.ndarray, k: int) -> np.ndarray:
    """A 64-bit hash per block of ``2**k`` words, to count distinct blocks when choosing a
    block size (the layout itself is built from exact comparisons)."""
    blocks = source.reshape(-1, 1 << k).astype(np.uint64)
    mult = _MULT[: 1 << k].astype(np.uint64)
    with np.errstate(over="ignore"):
        h = (blocks * mult).sum(axis=1, dtype=np.uint64)
        return np.asarray(h ^ (blocks[:, -1] * np.uint64(0x9E3779B97F4A7C15)))


class RomReader:
    """Declares the ROMs of one layout and builds its reads.

    ``declare(w, files, name, layout)`` writes the ``reg`` arrays (``$readmemh`` images
    into ``files``) and returns the physical ROMs as ``(name, words, bits)``;
    ``read(w, name, index, index_bits)`` declares a wire holding word ``index`` and returns
    its name.
    """

    def __init__(self, top: str) -> None:
        self.top = top
        self.layouts: dict[str, Layout] = {}
        self._reads: dict[str, int] = {}

    def declare(self, w: Writer, files: dict[str, str], name: str, layout: Layout) -> list[tuple[str, int, int]]:
        self.layouts[name] = layout
        if isinstance(layout, Const):
            return []
        if isinstance(layout, Flat):
            return [self._array(w, files, name, list(layout.words), layout.bits)]
        roms = [self._array(w, files, f"{name}_p", list(layout.patterns), layout.bits)]
        for suffix, sub in (("c", layout.classes), ("o", layout.offsets)):
            if sub is not None:
                roms += self.declare(w, files, f"{name}_{suffix}", sub)
        return roms

    def _array(self, w: Writer, files: dict[str, str], name: str, words: list[int], bits: int) -> tuple[str, int, int]:
        fname = f"{self.top}_{name}.hex"
        files[fname] = hex_image(words, bits)
        w(f"reg [{bits - 1}:0] {name} [0:{len(words) - 1}];", f'initial $readmemh("{fname}", {name});')
        return name, len(words), bits

    def is_const(self, name: str) -> bool:
        return isinstance(self.layouts[name], Const)

    def is_blocked(self, name: str) -> bool:
        return isinstance(self.layouts[name], Blocked)

    def read(self, w: Writer, name: str, index: str, index_bits: int) -> str:
        """Word ``index`` (an expression ``index_bits`` wide) of ROM ``name``, as a wire.
        Indices past the table give an unspecified word, as a plain ROM read would.

        A reader may use one field of the word, and an index may be wider than a ROM's
        depth needs, so the wires of a read are exempt from Verilator's unused-bits warning."""
        w("/* verilator lint_off UNUSEDSIGNAL */")
        out = self._read(w, name, index, index_bits)
        w("/* verilator lint_on UNUSEDSIGNAL */")
        return out

    def window(self, w: Writer, name: str, pointer: tuple[str, int], index_bits: int, offsets: range,
               step: tuple[str, int], advance: str, max_step: int = 0, moves: list[str] | None = None) -> list[str]:
        """Words ``pointer + o`` of ROM ``name`` for each ``o`` in ``offsets``, as wires, for a
        pointer register that starts at 0 and moves by ``step`` (an expression and its width)
        in each cycle where ``advance`` holds, and nowhere else. ``moves``, if given, says
        the same one-hot (term ``k``: the pointer moves by ``k``, and ``advance`` holds if
        ``k`` > 0): whether the pointer crosses into the next block is then found for each
        ``k`` from the register, and the terms pick, instead of adding the step first.

        For a ROM stored as blocks whose block holds the whole window and the longest step,
        the words can lie in two blocks only: the pointer's and the next. Their classes and
        offsets are registers, shifted when the pointer crosses into the next block and
        refilled from a third register read a block ahead, so a read is one pattern-ROM read
        and an adder from registers. Otherwise each word is a plain :meth:`read`.

        With ``max_step`` (the most the pointer moves in one cycle), the words are registers:
        when the pointer moves by ``s``, word ``o`` loads word ``o + s``, from the window's own
        registers or from the ``max_step`` words after the window, which are the only words
        read from the ROM. They hold exactly what the wires would, but the ROM (the offset
        table of a long one is often a block RAM) and its adders end at them instead of lying
        on every path that starts at the words, and the ROM is read ``max_step`` words at a
        time instead of ``len(offsets)``."""
        if max_step:
            return self._registered_window(w, name, pointer, index_bits, offsets, step, advance, max_step)
        layout = self.layouts[name]
        ptr, ptr_bits = pointer
        size = 1 << layout.k if isinstance(layout, Blocked) else 0
        fits = offsets[-1] < size and (1 << step[1]) - 1 <= size
        if not isinstance(layout, Blocked) or not fits or index_bits <= layout.k:
            return [self.read(w, name, f"{fit(ptr, ptr_bits, index_bits)} + {index_bits}'d{o}", index_bits)
                    for o in offsets]
        out, k, b = self._fresh(name, "w"), layout.k, layout.bits
        hb = index_bits - k
        w("/* verilator lint_off UNUSEDSIGNAL */",
          f"wire [{index_bits - 1}:0] {out}_p = {fit(ptr, ptr_bits, index_bits)};")
        if moves is None:
            w(f"wire [{k}:0] {out}_adv = {{1'b0, {out}_p[{k - 1}:0]}} + {fit(step[0], step[1], k + 1)};")
            crossing = f"({advance}) & {out}_adv[{k}]"
        else:  # a move by j crosses when the pointer's offset in its block is 2**k - j or more
            terms = [moves[j] if j >= 1 << k else f"{moves[j]} & ({out}_p[{k - 1}:0] >= {k}'d{(1 << k) - j})"
                     for j in range(1, len(moves))]
            w(f"wire {out}_cross = {' | '.join(f'({t})' for t in terms)};")
            crossing = f"{out}_cross"
        held: dict[str, tuple[str, int]] = {}  # "c"/"o" -> (the registers' stem, their width)
        for tag, sub in (("c", layout.classes), ("o", layout.offsets)):
            if sub is None:
                continue
            bits = sub.bits
            # The block after those is read a crossing ahead, into a third register: when the
            # table is in block RAM, that one becomes the RAM's read register, and the two the
            # words use stay flip-flops, close to the logic they feed.
            ahead = self._read(w, f"{name}_{tag}", f"{out}_p[{index_bits - 1}:{k}] + {hb}'d3", hb)
            r0, r1, r2 = (f"{out}_{tag}{j}" for j in range(3))
            w(f"reg [{bits - 1}:0] {r0}, {r1}, {r2};  // block of the pointer, the next, and the one after",
              f"always @(posedge clk) if (rst) begin {r0} <= {bits}'d{word_at(sub, 0)}; "
              f"{r1} <= {bits}'d{word_at(sub, 1)}; {r2} <= {bits}'d{word_at(sub, 2)}; end",
              f"else if ({crossing}) begin {r0} <= {r1}; {r1} <= {r2}; {r2} <= {ahead}; end")
            held[tag] = (f"{out}_{tag}", bits)
        words = []
        for o in offsets:
            s = f"{out}_s{o}"
            w(f"wire [{k}:0] {s} = {{1'b0, {out}_p[{k - 1}:0]}} + {k + 1}'d{o};")
            address = f"{s}[{k - 1}:0]"
            if "c" in held:
                reg, bits = held["c"]
                w(f"wire [{bits - 1}:0] {s}c = {s}[{k}] ? {reg}1 : {reg}0;")
                address = f"{{{_slice(f'{s}c', bits, clog2(layout.distinct))}, {address}}}"
            word = f"{name}_p[{address}]"
            if "o" in held:
                reg, _ = held["o"]
                word += f" + ({s}[{k}] ? {reg}1 : {reg}0)"
            w(f"wire [{b - 1}:0] {out}_{o} = {word};")
            words.append(f"{out}_{o}")
        w("/* verilator lint_on UNUSEDSIGNAL */")
        return words

    def _registered_window(self, w: Writer, name: str, pointer: tuple[str, int], index_bits: int, offsets: range,
                           step: tuple[str, int], advance: str, max_step: int) -> list[str]:
        # Word o after a step s is word o + s now: a register of the window while o + s is in
        # it, else one of the max_step words after the window, the only ones read from the ROM.
        after = self.window(w, name, pointer, index_bits, range(offsets.stop, offsets.stop + max_step), step, advance)
        layout = self.layouts[name]
        out, b = self._fresh(name, "q"), layout.bits
        regs = [f"{out}_{o}" for o in offsets]
        sb = clog2(len(regs) + max_step)
        w("/* verilator lint_off UNUSEDSIGNAL */",  # a reader may use a field of the words only
          f"reg [{b - 1}:0] {', '.join(regs)};  // words pointer + {offsets.start} .. pointer + {offsets.stop - 1}",
          f"wire [{b - 1}:0] {out}_x [0:{len(regs) + max_step - 1}];  // and the {max_step} after them",
          *(f"assign {out}_x[{j}] = {word};" for j, word in enumerate(regs + after)),
          f"wire [{sb - 1}:0] {out}_s = {fit(*step, sb)};")
        for j, (o, reg) in enumerate(zip(offsets, regs)):
            w(f"always @(posedge clk) if (rst) {reg} <= {b}'d{word_at(layout, o)}; "
              f"else if ({advance}) {reg} <= {out}_x[{out}_s + {sb}'d{j}];")
        w("/* verilator lint_on UNUSEDSIGNAL */")
        return regs

    def _fresh(self, name: str, kind: str) -> str:
        """A new wire stem for a read (``kind`` "r") or a window ("w") of ROM ``name``."""
        n = self._reads.get(name, 0)
        self._reads[name] = n + 1
        return f"{name}_{kind}{n}"

    def _read(self, w: Writer, name: str, index: str, index_bits: int) -> str:
        layout = self.layouts[name]
        out = self._fresh(name, "r")
        b = layout.bits
        if isinstance(layout, Const):
            w(f"wire [{b - 1}:0] {out} = {b}'d{layout.value};")
            return out
        w(f"wire [{index_bits - 1}:0] {out}_i = {index};")
        if isinstance(layout, Flat):
            w(f"wire [{b - 1}:0] {out} = {name}[{_slice(f'{out}_i', index_bits, clog2(len(layout.words)))}];")
            return out
        k = layout.k
        hi_bits = max(1, index_bits - k)
        hi = f"{out}_i[{index_bits - 1}:{k}]" if index_bits > k else "1'b0"
        lo = _slice(f"{out}_i", index_bits, k)
        address = lo
        if layout.classes is not None:
            c = self._read(w, f"{name}_c", hi, hi_bits)
            address = f"{{{_slice(c, layout.classes.bits, clog2(layout.distinct))}, {lo}}}"
        word = f"{name}_p[{address}]"
        if layout.offsets is not None:
            word = f"{word} + {self._read(w, f'{name}_o', hi, hi_bits)}"
        w(f"wire [{b - 1}:0] {out} = {word};")
        return out


def _slice(name: str, have: int, want: int) -> str:
    """The low ``want`` bits of ``name`` (``have`` bits), zero-extended if it is narrower."""
    if want <= 0:
        return "1'b0"
    if have >= want:
        return name if have == want else f"{name}[{want - 1}:0]"
    return f"{{{want - have}'d0, {name}}}"
