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

The block size is a power of two, so the split of an index is two bit slices and the
hardware is two small ROM reads and an adder per level. The encoding is exact by
construction (:func:`expand` inverts it) and is chosen per table, deterministically,
from the words alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sasim.gen.verilog import Writer, clog2, hex_image

__all__ = ["Blocked", "Const", "Flat", "Layout", "MAX_LEVELS", "RomReader", "encode", "expand", "storage_bits"]

#: Levels of blocks at most: each is a ROM read and an adder on the read path.
MAX_LEVELS = 2
#: Tables shorter than this stay flat (they already fit in a few LUTs).
MIN_WORDS = 64
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


def encode(words: list[int] | np.ndarray, bits: int, levels: int = MAX_LEVELS) -> Layout:
    """The smallest layout found for ``words`` (each below ``2**bits``), with at most
    ``levels`` levels of blocks."""
    values = [int(x) for x in words]
    if values and all(v == values[0] for v in values):
        return Const(values[0], len(values), bits)
    if levels <= 0 or len(values) < MIN_WORDS:
        return Flat(tuple(values), bits)
    ids = _ids(values)
    affine_ok = bits <= MAX_AFFINE_BITS
    arr = np.asarray(values, dtype=np.int64) if affine_ok else None
    best: tuple[int, int, bool] | None = None  # (estimated bits, k, affine)
    flat_cost = len(values) * bits
    for k in range(1, min(MAX_BLOCK_BITS, clog2(len(values)) - 1) + 1):
        for affine in (False, True) if affine_ok else (False,):
            source = _relative(arr, k, bits) if affine else _padded(ids, k)  # type: ignore[arg-type]
            distinct = len(np.unique(_block_hashes(source, k)))
            blocks = len(source) >> k
            cost = (distinct << k) * bits + blocks * clog2(distinct) + (blocks * bits if affine else 0)
            if best is None or cost < best[0]:
                best = (cost, k, affine)
    if best is None or best[0] > KEEP_FRACTION * flat_cost:
        return Flat(tuple(values), bits)
    _, k, affine = best
    layout = _blocked(values, bits, k, affine, levels)
    return layout if storage_bits(layout) <= KEEP_FRACTION * flat_cost else Flat(tuple(values), bits)


def _blocked(values: list[int], bits: int, k: int, affine: bool, levels: int) -> Blocked:
    size = 1 << k
    n = len(values)
    padded = values + [values[-1]] * (-n % size)
    mask = (1 << bits) - 1
    blocks = [tuple(padded[i:i + size]) for i in range(0, len(padded), size)]
    offsets = [b[0] for b in blocks] if affine else [0] * len(blocks)
    if affine:
        blocks = [tuple((x - b[0]) & mask for x in b) for b in blocks]
    index: dict[tuple[int, ...], int] = {}
    classes = [index.setdefault(b, len(index)) for b in blocks]
    patterns = tuple(x for b in index for x in b)
    return Blocked(
        k=k, length=n, bits=bits, patterns=patterns,
        classes=encode(classes, max(1, clog2(len(index))), levels - 1) if len(index) > 1 else None,
        offsets=encode(offsets, bits, levels - 1) if affine else None,
    )


def _ids(values: list[int]) -> np.ndarray:
    """A dense integer per distinct value (words can be wider than 64 bits)."""
    index: dict[int, int] = {}
    return np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))


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

    def read(self, w: Writer, name: str, index: str, index_bits: int) -> str:
        """Word ``index`` (an expression ``index_bits`` wide) of ROM ``name``, as a wire.
        Indices past the table give an unspecified word, as a plain ROM read would.

        A reader may use one field of the word, and an index may be wider than a ROM's
        depth needs, so the wires of a read are exempt from Verilator's unused-bits warning."""
        w("/* verilator lint_off UNUSEDSIGNAL */")
        out = self._read(w, name, index, index_bits)
        w("/* verilator lint_on UNUSEDSIGNAL */")
        return out

    def _read(self, w: Writer, name: str, index: str, index_bits: int) -> str:
        layout = self.layouts[name]
        n = self._reads.get(name, 0)
        self._reads[name] = n + 1
        out = f"{name}_r{n}"
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
