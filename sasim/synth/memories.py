"""Which memory of the design became what: block RAM, LUT RAM, flip-flops or logic.

The generator's manifest lists its memories (``"memories"``: name, kind ``buffer`` /
``edge`` / ``rom``, tensor, words, bits, and for a buffer the RAM its banks are meant
for, ``block`` or ``lut``); every memory yosys infers whose name starts with an entry's
name belongs to that entry (a banked buffer ``I_bmem`` is the yosys memories
``I_bmem0``, ``I_bmem1``, ...). Without that key, a memory whose name ends in ``_bmem``
or ``_omem`` (and a bank number) is taken to be a buffer meant for block RAM.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping as MappingType
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sasim.errors import SynthesisError
from sasim.synth.yosys_output import LogMappings, YosysMemory

__all__ = ["BUFFER_NAME", "MemoryMapping", "MemoryReport", "MemorySpec", "classify_memories", "memory_specs"]

#: Buffers by name, for a manifest without a ``memories`` list.
BUFFER_NAME = re.compile(r".*_[bo]mem\d*")


class MemoryMapping(enum.Enum):
    """What yosys turned a memory into."""

    BLOCK_RAM = "bram"
    LUT_RAM = "lutram"
    FLIP_FLOPS = "ff"
    LOGIC = "logic"  # a ROM whose contents became LUT logic
    OTHER = "other"  # a RAM cell this module does not know
    REMOVED = "removed"  # no memory left in the netlist

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    MemoryMapping.BLOCK_RAM: "block RAM",
    MemoryMapping.LUT_RAM: "LUT RAM",
    MemoryMapping.FLIP_FLOPS: "flip-flops",
    MemoryMapping.LOGIC: "logic (ROM)",
    MemoryMapping.OTHER: "other RAM cell",
    MemoryMapping.REMOVED: "not in the netlist",
}

#: The mapping a buffer's ``ram`` asks for.
_MEANT_FOR = {"block": MemoryMapping.BLOCK_RAM, "lut": MemoryMapping.LUT_RAM}

_BLOCK_CELL = re.compile(r"DP16KD|PDPW16KD|BLOCKRAM|RAMB|URAM")
_LUTRAM_CELL = re.compile(r"DPR16X4|LUTRAM|RAM\d+M|RAM\d+X")


@dataclass(frozen=True)
class MemorySpec:
    """One entry of the manifest's ``memories`` list."""

    name: str
    kind: str  # buffer, edge or rom
    tensor: str | None
    words: int | None
    bits: int | None
    ram: str = "block"  # a buffer's banks are meant for block RAM, or "lut": LUT RAM


@dataclass(frozen=True)
class MemoryReport:
    """One memory of the synthesized design and what it was mapped to."""

    name: str  # the memory yosys inferred (or the manifest entry, when nothing is left of it)
    entry: str | None  # the manifest entry it belongs to
    kind: str | None  # buffer, edge, rom; None when not known
    tensor: str | None
    words: int | None
    bits: int | None
    read_ports: int | None
    write_ports: int | None
    mapped_to: MemoryMapping
    cell: str | None  # the RAM cell memory_libmap chose, e.g. '$__DP16KD_'
    meant_for: MemoryMapping | None = None  # a buffer's: block RAM, or LUT RAM for a small bank

    @property
    def misplaced(self) -> bool:
        """A buffer memory that did not become the RAM the generator meant it for."""
        return self.meant_for is not None and self.mapped_to is not self.meant_for

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "entry": self.entry, "kind": self.kind, "tensor": self.tensor,
                "words": self.words, "bits": self.bits, "read_ports": self.read_ports,
                "write_ports": self.write_ports, "mapped_to": self.mapped_to.value, "cell": self.cell,
                "meant_for": None if self.meant_for is None else self.meant_for.value}


def memory_specs(manifest: MappingType[str, Any] | None) -> list[MemorySpec] | None:
    """The manifest's ``memories`` list, or ``None`` when it has none."""
    if manifest is None or "memories" not in manifest:
        return None
    specs = []
    try:
        for item in manifest["memories"]:
            words, bits, tensor = item.get("words"), item.get("bits"), item.get("tensor")
            ram = item.get("ram") or "block"
            if ram not in _MEANT_FOR:
                raise ValueError(f"ram {ram!r} is not one of {sorted(_MEANT_FOR)}")
            specs.append(MemorySpec(name=str(item["name"]), kind=str(item["kind"]),
                                    tensor=None if tensor is None else str(tensor),
                                    words=None if words is None else int(words),
                                    bits=None if bits is None else int(bits), ram=ram))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SynthesisError(f"manifest.json: memories[{len(specs)}] is malformed ({exc!r}); each entry needs "
                             f"'name' and 'kind'") from exc
    return specs


def _entry(name: str, specs: Sequence[MemorySpec] | None) -> MemorySpec | None:
    """The manifest entry ``name`` belongs to: the longest entry name it starts with."""
    if specs is None:
        if BUFFER_NAME.fullmatch(name):
            return MemorySpec(name=name, kind="buffer", tensor=None, words=None, bits=None)
        return None
    matches = [s for s in specs if name.startswith(s.name)]
    return max(matches, key=lambda s: len(s.name)) if matches else None


def _meant_for(spec: MemorySpec | None) -> MemoryMapping | None:
    return _MEANT_FOR[spec.ram] if spec is not None and spec.kind == "buffer" else None


def _from_cell(cell: str) -> MemoryMapping:
    if _BLOCK_CELL.search(cell):
        return MemoryMapping.BLOCK_RAM
    if _LUTRAM_CELL.search(cell):
        return MemoryMapping.LUT_RAM
    return MemoryMapping.OTHER


def _mapping(memory: YosysMemory, log: LogMappings) -> tuple[MemoryMapping, str | None]:
    soft = MemoryMapping.FLIP_FLOPS if memory.write_ports else MemoryMapping.LOGIC
    cell = log.libmap.get(memory.name)
    if cell:
        return _from_cell(cell), cell
    if cell == "" or memory.name in log.memory_map:
        return soft, None
    return MemoryMapping.REMOVED, None


def classify_memories(
    probe: Sequence[YosysMemory], log: LogMappings, specs: Sequence[MemorySpec] | None
) -> list[MemoryReport]:
    """Every memory of the design with what it was mapped to: the memories yosys inferred
    (``probe``), the arrays its Verilog frontend turned into registers, and the manifest
    entries nothing was found for. ``specs`` is the manifest's list (``None``: buffers by name)."""
    reports = []
    found: set[str] = set()
    for memory in probe:
        spec = _entry(memory.name, specs)
        mapped_to, cell = _mapping(memory, log)
        reports.append(MemoryReport(
            name=memory.name, entry=spec.name if spec else None, kind=spec.kind if spec else None,
            tensor=spec.tensor if spec else None, words=memory.words, bits=memory.bits,
            read_ports=memory.read_ports, write_ports=memory.write_ports, mapped_to=mapped_to, cell=cell,
            meant_for=_meant_for(spec)))
        if spec is not None:
            found.add(spec.name)
    for name in log.register_lists:
        spec = _entry(name, specs)
        exact = spec is not None and spec.name == name
        reports.append(MemoryReport(
            name=name, entry=spec.name if spec else None, kind=spec.kind if spec else None,
            tensor=spec.tensor if spec else None, words=spec.words if exact and spec else None,
            bits=spec.bits if exact and spec else None, read_ports=None, write_ports=None,
            mapped_to=MemoryMapping.FLIP_FLOPS, cell=None, meant_for=_meant_for(spec)))
        if spec is not None:
            found.add(spec.name)
    for spec in specs or ():
        if spec.name not in found:
            reports.append(MemoryReport(
                name=spec.name, entry=spec.name, kind=spec.kind, tensor=spec.tensor, words=spec.words,
                bits=spec.bits, read_ports=None, write_ports=None, mapped_to=MemoryMapping.REMOVED, cell=None,
                meant_for=_meant_for(spec)))
    return reports
