"""Default per-action energies, and how they scale with buffer size and datatype.

Sources (45 nm figures; users targeting another node override them per level):

* M. Horowitz, "Computing's energy problem (and what we can do about it)",
  ISSCC 2014: 8-bit multiply 0.2 pJ, 8-bit add 0.03 pJ, 32-bit add 0.1 pJ;
  SRAM 64-bit read 10 pJ (8 KB), 20 pJ (32 KB), 100 pJ (1 MB); DRAM 1.3-2.6 nJ per
  64-bit access.
* Y.-H. Chen, J. Emer, V. Sze, "Eyeriss: A Spatial Architecture for Energy-Efficient
  Dataflow for Convolutional Neural Networks", ISCA 2016: normalized energy of an
  access to a PE register file 1x, to a neighbouring PE 2x, to the global buffer 6x,
  to DRAM 200x that of a MAC.

The SRAM points above grow as the square root of capacity, so a buffer of ``C``
bytes costs ``10 pJ * sqrt(C / 8 KiB)`` per 64-bit access, i.e. per bit that / 64.
"""

from __future__ import annotations

import math

__all__ = [
    "DRAM_PJ_PER_BIT",
    "REGISTER_PJ_PER_BIT",
    "HOP_PJ_PER_BIT",
    "sram_pj_per_bit",
    "mac_pj",
]

#: Horowitz 2014: 1.3 nJ per 64-bit DRAM access (the lower end of 1.3-2.6 nJ).
DRAM_PJ_PER_BIT = 1300.0 / 64
#: Eyeriss: a register-file access costs about one 8-bit MAC (0.2 + 0.03 pJ) per 8 bits.
REGISTER_PJ_PER_BIT = 0.23 / 8
#: Eyeriss: moving a word to a neighbouring PE costs about twice a register access.
HOP_PJ_PER_BIT = 2 * REGISTER_PJ_PER_BIT


def sram_pj_per_bit(capacity_bytes: int) -> float:
    """Horowitz 2014 SRAM read energy, per bit, scaled as sqrt(capacity)."""
    return 10.0 / 64 * math.sqrt(max(capacity_bytes, 1) / 8192)


def mac_pj(input_bits: int, weight_bits: int, acc_bits: int) -> float:
    """One multiply (scaled from 0.2 pJ at 8x8 bits by bit product) plus one add (0.1 pJ at 32 bits)."""
    return 0.2 * (input_bits * weight_bits) / 64 + 0.1 * acc_bits / 32
