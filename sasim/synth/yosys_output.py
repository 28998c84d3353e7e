"""Reading what yosys wrote: ``stat -json``, the probe's memory dump and latch list, and
the log lines that say how each memory was mapped.

The log lines parsed (yosys 0.70):

- ``Warning: Replacing memory \\NAME with list of registers. See FILE:LINE`` (Verilog
  frontend: the array never becomes a memory);
- ``Warning: Latch inferred for signal `\\TOP.\\NAME' from process `...': CELL`` (proc_dlatch);
- ``mapping memory TOP.NAME via CELL`` and ``using FF mapping for memory TOP.NAME``
  (memory_libmap, ECP5 and Xilinx);
- ``Mapping memory \\NAME in module \\TOP:`` (memory_map: memories turned into logic and
  flip-flops, the generic target and whatever memory_libmap left).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sasim.errors import SynthesisError

__all__ = [
    "LogMappings",
    "Stat",
    "YosysMemory",
    "current_pass",
    "parse_latch_list",
    "parse_log",
    "parse_memory_dump",
    "parse_stat",
]


@dataclass(frozen=True)
class Stat:
    """The design totals of ``stat -json``."""

    cells: dict[str, int]  # cell type -> count
    port_bits: int  # bits of the top module's ports (I/O pins it would need)


@dataclass(frozen=True)
class YosysMemory:
    """One ``$mem_v2`` cell of the probe: a memory yosys inferred, before mapping."""

    name: str  # MEMID without the leading backslash; flattened names keep their dots
    words: int
    bits: int
    read_ports: int
    write_ports: int


@dataclass(frozen=True)
class LogMappings:
    """What the yosys log says about memories and latches."""

    libmap: dict[str, str]  # memory -> cell memory_libmap mapped it to, or "" for FF mapping
    memory_map: tuple[str, ...]  # memories memory_map turned into flip-flops and logic
    register_lists: tuple[str, ...]  # arrays the Verilog frontend replaced with registers
    latches: dict[str, str]  # latch cell -> the signal proc_dlatch inferred it for


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise SynthesisError(f"yosys did not write its {what} ({path}): {exc.strerror or exc}") from exc


def parse_stat(path: Path) -> Stat:
    """The cell counts and port bits of a ``stat -json`` file."""
    text = _read(path, "statistics")
    try:
        data: Any = json.loads(text)
        design = data["design"]
        cells = {str(k): int(v) for k, v in design["num_cells_by_type"].items()}
        port_bits = int(design.get("num_port_bits", 0))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SynthesisError(f"cannot read yosys statistics {path}: {exc!r}") from exc
    return Stat(cells=cells, port_bits=port_bits)


def _unescape(name: str) -> str:
    """An RTLIL identifier as a plain name: ``\\I_bmem`` -> ``I_bmem``."""
    return name[1:] if name.startswith("\\") else name


_CELL = re.compile(r"^\s*cell \$mem_v2 (\S+)\s*$")
_PARAM = re.compile(r"^\s*parameter \\(\w+) (.*?)\s*$")


def _int_param(value: str) -> int:
    """An RTLIL integer parameter: ``170`` or a sized constant such as ``32'00000000000000000000000010101010``."""
    if "'" in value:
        width, digits = value.split("'", 1)
        return int(digits, 2) if digits and set(digits) <= {"0", "1"} else 0
    return int(value)


def parse_memory_dump(path: Path) -> list[YosysMemory]:
    """The memories in the probe's ``dump t:$mem_v2`` (RTLIL text)."""
    memories = []
    params: dict[str, str] | None = None
    cell = ""
    for line in _read(path, "memory list").splitlines():
        match = _CELL.match(line)
        if match:
            cell, params = match.group(1), {}
            continue
        if params is None:
            continue
        match = _PARAM.match(line)
        if match:
            params[match.group(1)] = match.group(2)
        elif line.strip() == "end":
            memid = params.get("MEMID", json.dumps(cell))
            try:
                name = _unescape(json.loads(memid))
                memories.append(YosysMemory(
                    name=name, words=_int_param(params["SIZE"]), bits=_int_param(params["WIDTH"]),
                    read_ports=_int_param(params.get("RD_PORTS", "0")),
                    write_ports=_int_param(params.get("WR_PORTS", "0"))))
            except (ValueError, KeyError) as exc:
                raise SynthesisError(f"cannot read memory cell {cell} in {path}: {exc!r}") from exc
            params = None
    return memories


def parse_latch_list(path: Path) -> list[str]:
    """The latch cells the probe's ``select -list`` found (``module/cell`` per line)."""
    return [line.strip() for line in _read(path, "latch list").splitlines() if "/" in line]


_REGISTER_LIST = re.compile(r"Replacing memory \\(\S+) with list of registers")
_LATCH = re.compile(r"Latch inferred for signal `(\S+)' from process `.*?': (\S+)")
_LIBMAP = re.compile(r"^mapping memory (\S+) via (\S+)\s*$")
_LIBMAP_FF = re.compile(r"^using FF mapping for memory (\S+)\s*$")
_MEMORY_MAP = re.compile(r"^Mapping memory \\(\S+) in module \\(\S+):\s*$")


def _strip_module(name: str, top: str) -> str:
    """``TOP.NAME`` (memory_libmap's form) -> ``NAME``."""
    return name[len(top) + 1:] if name.startswith(top + ".") else name


def _signal(name: str, top: str) -> str:
    """proc_dlatch's ``\\TOP.\\NAME`` -> ``NAME``."""
    parts = [_unescape(part) for part in name.split(".\\")]
    if len(parts) > 1 and _unescape(parts[0]) == top:
        parts = parts[1:]
    return ".".join(parts)


def parse_log(text: str, top: str) -> LogMappings:
    """The memory mappings and latches a yosys log reports, in the order it reports them."""
    libmap: dict[str, str] = {}
    memory_map: list[str] = []
    registers: list[str] = []
    latches: dict[str, str] = {}
    for line in text.splitlines():
        if (match := _LIBMAP.match(line)) is not None:
            libmap[_strip_module(match.group(1), top)] = match.group(2)
        elif (match := _LIBMAP_FF.match(line)) is not None:
            libmap[_strip_module(match.group(1), top)] = ""
        elif (match := _MEMORY_MAP.match(line)) is not None:
            memory_map.append(match.group(1))
        elif (match := _REGISTER_LIST.search(line)) is not None:
            if match.group(1) not in registers:
                registers.append(match.group(1))
        elif (match := _LATCH.search(line)) is not None:
            latches[match.group(2)] = _signal(match.group(1), top)
    return LogMappings(libmap=libmap, memory_map=tuple(memory_map), register_lists=tuple(registers),
                       latches=latches)


_EXECUTING = re.compile(rb"^(\d+(?:\.\d+)*)\. Executing (\S+)", re.MULTILINE)


def current_pass(log_file: Path, tail_bytes: int = 65536) -> str | None:
    """The pass yosys is running now, from the end of its log (``'ABC9'``), for progress."""
    try:
        with open(log_file, "rb") as fh:
            fh.seek(0, 2)
            size = fh.tell()
            fh.seek(max(size - tail_bytes, 0))
            tail = fh.read()
    except OSError:
        return None
    matches: list[tuple[bytes, bytes]] = _EXECUTING.findall(tail)
    return matches[-1][1].decode("ascii", "replace").rstrip(".") if matches else None
