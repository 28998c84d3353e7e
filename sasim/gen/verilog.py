"""A small structured Verilog-2005 emitter: identifiers, widths, ROM images, text blocks.

It emits the plain subset every checker reads alike (pyverilog, Verilator, Icarus,
yosys): ANSI ports, ``localparam``, constant ``[msb:lsb]`` selects, literal
replication counts, no tasks and no ``+:`` part-selects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import numpy as np

__all__ = ["KEYWORDS", "Writer", "clog2", "hex_image", "identifier", "width"]

#: Verilog-2005 and SystemVerilog reserved words: a user name equal to one gets a suffix.
KEYWORDS = frozenset("""
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config deassign default defparam
design disable edge else end endcase endconfig endfunction endgenerate endmodule endprimitive endspecify endtable
endtask event for force forever fork function generate genvar highz0 highz1 if ifnone incdir include initial inout
input instance integer join large liblist library localparam macromodule medium module nand negedge nmos nor
noshowcancelled not notif0 notif1 or output parameter pmos posedge primitive pull0 pull1 pulldown pullup
pulsestyle_onevent pulsestyle_ondetect rcmos real realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1
scalared showcancelled signed small specify specparam strong0 strong1 supply0 supply1 table task time tran tranif0
tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand weak0 weak1 while wire wor xnor xor
alias always_comb always_ff always_latch assert assume before bind bins binsof bit break byte chandle class
clocking const constraint context continue cover covergroup coverpoint cross deassign dist do endclass endclocking
endgroup endinterface endpackage endprogram endproperty endsequence enum expect export extends extern final
first_match foreach forkjoin iff ignore_bins illegal_bins import inside int interface intersect join_any join_none
local logic longint matches modport new null package packed priority program property protected pure rand randc
randcase randsequence ref return sequence shortint shortreal solve static string struct super tagged this
throughout timeprecision timeunit type typedef union unique var virtual void wait_order wildcard with within
""".split())

_BAD = re.compile(r"[^A-Za-z0-9_]")


def identifier(name: str) -> str:
    """A legal, non-reserved Verilog identifier for a user-given ``name`` (deterministic).

    Characters outside ``[A-Za-z0-9_]`` become ``_``; a leading digit or an empty name
    gets an ``n_`` prefix; a reserved word (or a name starting with ``$``) gets a ``_``
    suffix. Two different names can map to one identifier; callers that mix user names
    check for that (:func:`sasim.gen.accelerator.build`)."""
    out = _BAD.sub("_", name)
    if not out or out[0].isdigit():
        out = "n_" + out
    if out in KEYWORDS:
        out += "_"
    return out


def clog2(n: int) -> int:
    """⌈log2 n⌉ (0 for n <= 1)."""
    return (int(n) - 1).bit_length() if n > 1 else 0


def width(max_value: int) -> int:
    """Bits to hold every value in ``0..max_value`` (at least 1)."""
    return max(1, int(max_value).bit_length())


def hex_image(words: Iterable[int], bits: int) -> str:
    """A ``$readmemh`` image: one word per line, zero-padded to ``bits``."""
    digits = max(1, -(-bits // 4))
    mask = (1 << bits) - 1
    return "".join(f"{int(w) & mask:0{digits}x}\n" for w in words)


def pack_rows(fields: list[np.ndarray], widths: list[int]) -> list[int]:
    """Pack per-row fields (each a 1-D array, or 2-D: one sub-field per column, column 0
    in the lowest bits) into integers, the first field in the lowest bits."""
    rows = len(fields[0])
    out = [0] * rows
    shift = 0
    for values, w in zip(fields, widths):
        cols = values.reshape(rows, -1)
        for c in range(cols.shape[1]):
            col = cols[:, c].tolist()
            for r in range(rows):
                out[r] |= (int(col[r]) & ((1 << w) - 1)) << shift
            shift += w
    return out


class Writer:
    """Indented text with a few Verilog helpers."""

    def __init__(self) -> None:
        self._lines: list[str] = []
        self._depth = 0

    def __call__(self, *lines: str) -> None:
        for line in lines:
            self._lines.append(("    " * self._depth + line) if line else "")

    @contextmanager
    def block(self, head: str, tail: str | None = "end") -> Iterator[None]:
        """``head``, the body indented, then ``tail`` (``None``: the next block closes it,
        as in ``if (...) begin ... end else begin ... end``)."""
        self(head)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if tail is not None:
                self(tail)

    def comment(self, text: str) -> None:
        self(f"// {text}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"
