"""The architecture: DRAM, on-chip buffers (outer to inner), the PE array and its PEs.

A spec is architecture-only: tensors are named by role (``input``, ``weight``,
``output``), so one architecture serves every workload. The levels a Design sees
are ``DRAM``, then each buffer, then ``PE`` (the per-PE registers, below the spatial
fanout of the array).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

from sasim.arch.energy import DRAM_PJ_PER_BIT, HOP_PJ_PER_BIT, REGISTER_PJ_PER_BIT, mac_pj, sram_pj_per_bit
from sasim.workload.workload import Identifier, Role

__all__ = [
    "Architecture",
    "Buffer",
    "BufferSemantics",
    "DRAM",
    "LinkKind",
    "PE",
    "PEArray",
    "parse_bytes",
]

_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|KiB|MB|MiB|kB)?\s*$")
_UNITS = {None: 1, "B": 1, "KB": 1024, "kB": 1024, "KiB": 1024, "MB": 1 << 20, "MiB": 1 << 20}

MAX_CAPACITY = 1 << 32


def parse_bytes(value: Any) -> Any:
    """Accept ``65536``, ``"64KiB"``, ``"64 KB"``, ``"2MiB"`` (binary units)."""
    if isinstance(value, str):
        m = _SIZE.match(value)
        if m is None:
            raise ValueError(f"a capacity is a byte count such as 65536, '64KiB' or '2MiB', not {value!r}")
        return int(m.group(1)) * _UNITS[m.group(2)]
    return value


Bytes = Annotated[int, BeforeValidator(parse_bytes), Strict()]
#: An integer that is not a bool or a float (YAML `true` is not a row count).
Int = Annotated[int, Strict()]


class BufferSemantics(StrEnum):
    """How a buffer overlaps the fill of the next tile with the use of the current one."""

    BUFFET = "buffet"
    DOUBLE_BUFFER = "double_buffer"


class LinkKind(StrEnum):
    """How a tensor moves through the array along one direction (see docs/reference.md)."""

    SYSTOLIC = "systolic"
    MULTICAST = "multicast"
    STATIONARY = "stationary"
    CHAIN = "chain"  # systolic partial-sum reduction
    TREE = "tree"  # adder-tree reduction


_INPUT_LINKS = frozenset({LinkKind.SYSTOLIC, LinkKind.MULTICAST, LinkKind.STATIONARY})
_OUTPUT_LINKS = frozenset({LinkKind.CHAIN, LinkKind.TREE, LinkKind.STATIONARY})


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DRAM(_Spec):
    """Off-chip memory: one channel with a first-word latency and a streaming bandwidth."""

    latency: Int = Field(default=100, ge=0, le=100_000, description="cycles from request to first word")
    words_per_cycle: Int = Field(default=4, ge=1, le=4096)
    word_bits: Int = Field(default=64, ge=8, le=1024)
    read_pj_per_bit: float = Field(default=DRAM_PJ_PER_BIT, ge=0)
    write_pj_per_bit: float = Field(default=DRAM_PJ_PER_BIT, ge=0)

    @property
    def bits_per_cycle(self) -> int:
        return self.words_per_cycle * self.word_bits


class Buffer(_Spec):
    """An on-chip SRAM level: banks of ``word_bits``-wide words, shared by the tensors it holds."""

    name: Identifier
    capacity: Bytes = Field(ge=1, le=MAX_CAPACITY, description="bytes")
    banks: Int = Field(default=1, ge=1, le=1024)
    ports: Int = Field(default=1, ge=1, le=4, description="read/write ports per bank")
    word_bits: Int = Field(default=64, ge=8, le=4096)
    read_latency: Int = Field(default=1, ge=1, le=16)
    holds: tuple[Role, ...] = Field(default=(Role.INPUT, Role.WEIGHT, Role.OUTPUT), min_length=1)
    semantics: BufferSemantics = BufferSemantics.BUFFET
    read_pj_per_bit: float | None = Field(default=None, ge=0, description="default: from capacity")
    write_pj_per_bit: float | None = Field(default=None, ge=0, description="default: from capacity")

    @model_validator(mode="after")
    def _check(self) -> Buffer:
        if len(set(self.holds)) != len(self.holds):
            raise ValueError(f"holds lists a role twice: {[r.value for r in self.holds]}")
        if self.name in {"DRAM", "PE"}:
            raise ValueError(f"buffer name {self.name!r} is reserved for the outermost and innermost levels")
        if self.capacity * 8 < self.banks * self.word_bits:
            raise ValueError(
                f"capacity {self.capacity} B is smaller than one word in each of {self.banks} banks "
                f"of {self.word_bits} bits"
            )
        return self

    @property
    def read_energy(self) -> float:
        return self.read_pj_per_bit if self.read_pj_per_bit is not None else sram_pj_per_bit(self.capacity)

    @property
    def write_energy(self) -> float:
        return self.write_pj_per_bit if self.write_pj_per_bit is not None else sram_pj_per_bit(self.capacity)

    @property
    def bits_per_cycle(self) -> int:
        return self.banks * self.ports * self.word_bits


class PEArray(_Spec):
    """The spatial fanout: ``rows`` x ``cols`` PEs and the links each tensor role may use."""

    rows: Int = Field(ge=1, le=1024)
    cols: Int = Field(ge=1, le=1024)
    input_links: tuple[LinkKind, ...] = (LinkKind.SYSTOLIC, LinkKind.MULTICAST, LinkKind.STATIONARY)
    weight_links: tuple[LinkKind, ...] = (LinkKind.SYSTOLIC, LinkKind.MULTICAST, LinkKind.STATIONARY)
    output_links: tuple[LinkKind, ...] = (LinkKind.CHAIN, LinkKind.TREE, LinkKind.STATIONARY)
    hop_pj_per_bit: float = Field(default=HOP_PJ_PER_BIT, ge=0)

    @model_validator(mode="after")
    def _check(self) -> PEArray:
        checks = (("input_links", _INPUT_LINKS), ("weight_links", _INPUT_LINKS), ("output_links", _OUTPUT_LINKS))
        for name, allowed in checks:
            links = getattr(self, name)
            bad = [k.value for k in links if k not in allowed]
            if bad:
                raise ValueError(f"{name}: {bad} not allowed here; choose from {sorted(k.value for k in allowed)}")
            if not links:
                raise ValueError(f"{name} must list at least one link kind")
        return self

    def links(self, role: Role) -> tuple[LinkKind, ...]:
        """Link kinds a tensor of ``role`` may use, in order of preference."""
        return {Role.INPUT: self.input_links, Role.WEIGHT: self.weight_links, Role.OUTPUT: self.output_links}[role]


class PE(_Spec):
    """A processing element: per-role register files (in words) and a pipelined MAC."""

    input_registers: Int = Field(default=1, ge=1, le=1 << 20)
    weight_registers: Int = Field(default=1, ge=1, le=1 << 20)
    output_registers: Int = Field(default=1, ge=1, le=1 << 20)
    mac_latency: Int = Field(default=1, ge=1, le=16, description="MAC pipeline depth in cycles")
    register_pj_per_bit: float = Field(default=REGISTER_PJ_PER_BIT, ge=0)
    mac_pj: float | None = Field(default=None, ge=0, description="default: from the datatypes")

    def registers(self, role: Role) -> int:
        if role is Role.INPUT:
            return self.input_registers
        return self.weight_registers if role is Role.WEIGHT else self.output_registers

    def mac_energy(self, input_bits: int, weight_bits: int, acc_bits: int) -> float:
        return self.mac_pj if self.mac_pj is not None else mac_pj(input_bits, weight_bits, acc_bits)


class Architecture(_Spec):
    """A complete accelerator: DRAM, buffers (outer to inner), the array and its PEs."""

    name: Identifier = "accelerator"
    dram: DRAM = DRAM()
    buffers: tuple[Buffer, ...] = Field(default=(), max_length=8)
    array: PEArray
    pe: PE = PE()
    clock_mhz: float = Field(default=1000.0, gt=0, le=10_000, description="for reporting time in seconds")

    @model_validator(mode="after")
    def _check(self) -> Architecture:
        names = [b.name for b in self.buffers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"buffers: names must be unique; repeated: {dup}")
        return self

    @property
    def level_names(self) -> tuple[str, ...]:
        return ("DRAM", *(b.name for b in self.buffers), "PE")
