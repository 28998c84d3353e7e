"""The synthesis targets, the ECP5 devices, and the yosys script for each target.

Every script runs the target's synthesis command in two halves around a *probe*:
after coarse synthesis, when the memories are ``$mem_v2`` cells and the latches
``$dlatch`` cells but nothing is mapped yet, it writes the memories (with their
sizes and port counts) and the latches to files. The second half maps them, and the
yosys log says how each memory was mapped.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ECP5_DEVICES", "ECP5_PACKAGE", "ECP5_SEEDS", "ECP5_SPEEDS", "Ecp5Device", "Target", "WorkFiles",
           "parse_seeds", "yosys_script"]


class Target(enum.Enum):
    """What to synthesize for."""

    GENERIC = "generic"
    ECP5 = "ecp5"
    XILINX = "xilinx"

    @property
    def has_timing(self) -> bool:
        """Whether the flow places and routes, and so reports Fmax."""
        return self is Target.ECP5

    @property
    def has_block_ram(self) -> bool:
        return self is not Target.GENERIC


ECP5_PACKAGE = "CABGA381"
ECP5_SPEEDS = (6, 7, 8)
#: nextpnr's placement seeds (``--seed``: a 32-bit signed integer, from 0).
ECP5_SEEDS = range(1 << 31)


def parse_seeds(text: str) -> list[int]:
    """Distinct nextpnr placement seeds, comma-separated (``'1,2,3'``); ValueError says
    what is wrong."""
    try:
        seeds = [int(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"{text!r} is not a list of integers, such as 1,2,3") from None
    if not all(x in ECP5_SEEDS for x in seeds) or len(set(seeds)) != len(seeds):
        raise ValueError(f"{text!r}: each seed from 0 to {ECP5_SEEDS[-1]}, none twice")
    return seeds


@dataclass(frozen=True)
class Ecp5Device:
    """A Lattice ECP5 device nextpnr-ecp5 can place and route for (in the CABGA381 package)."""

    name: str  # as given on the command line: '85k'
    part: str  # LFE5U-85F
    user_io: int  # user I/O pins in CABGA381 (Lattice ECP5 family data sheet, DS1044)

    @property
    def nextpnr_flag(self) -> str:
        return f"--{self.name}"


ECP5_DEVICES: dict[str, Ecp5Device] = {
    d.name: d for d in (
        Ecp5Device("12k", "LFE5U-12F", 197),
        Ecp5Device("25k", "LFE5U-25F", 197),
        Ecp5Device("45k", "LFE5U-45F", 203),
        Ecp5Device("85k", "LFE5U-85F", 205),
    )
}


@dataclass(frozen=True)
class WorkFiles:
    """Where one synthesis run keeps its files: all in one directory, ``root``, beside
    the Verilog. The tools run there and name every file relative to it: the generated
    Verilog loads its ROM images by bare file name, and the WebAssembly builds of the
    tools cannot write outside their working directory."""

    root: Path

    def outputs(self) -> list[Path]:
        """Every file a run writes besides the script (removed before a run, so that
        nothing stale from an earlier run in the same directory is read)."""
        return [self.yosys_log, self.yosys_console, self.memories, self.latches, self.stat, self.netlist,
                self.nextpnr_log, self.nextpnr_console, self.nextpnr_report]

    def seeded(self, path: Path, seed: int) -> Path:
        """Where a placement with ``seed`` keeps ``path`` (nextpnr's report or log) when the
        netlist is placed with several seeds: ``nextpnr.seed<N>.json``."""
        stem, _, suffix = path.name.partition(".")
        return self.root / f"{stem}.seed{seed}.{suffix}"

    @property
    def script(self) -> Path:
        return self.root / "synth.ys"

    @property
    def yosys_log(self) -> Path:
        return self.root / "yosys.log"

    @property
    def yosys_console(self) -> Path:
        return self.root / "yosys.console.log"

    @property
    def memories(self) -> Path:
        return self.root / "memories.il"

    @property
    def latches(self) -> Path:
        return self.root / "latches.txt"

    @property
    def stat(self) -> Path:
        return self.root / "stat.json"

    @property
    def netlist(self) -> Path:
        return self.root / "netlist.json"

    @property
    def nextpnr_log(self) -> Path:
        return self.root / "nextpnr.log"

    @property
    def nextpnr_console(self) -> Path:
        return self.root / "nextpnr.console.log"

    @property
    def nextpnr_report(self) -> Path:
        return self.root / "nextpnr.json"


def _quote(text: str) -> str:
    if any(c in text for c in ' \t";'):
        return '"' + text.replace('"', '\\"') + '"'
    return text


def _synth_command(target: Target, top: str, netlist: str) -> tuple[str, str, str]:
    """The synthesis command, the label its memory mapping starts at, and the options of
    its second half."""
    if target is Target.ECP5:
        # -latches warn: a latch is mapped to logic and reported by the probe (the default aborts).
        return f"synth_ecp5 -top {top} -latches warn", "map_ram", f"-json {_quote(netlist)}"
    if target is Target.XILINX:
        # -noiopad -noclkbuf: the core alone, as ECP5 places it out of context.
        return f"synth_xilinx -top {top} -flatten -noiopad -noclkbuf", "map_memory", f"-json {_quote(netlist)}"
    # -lut 4: LUT counts comparable with ECP5's LUT4 (and a netlist that is not just gates).
    return f"synth -top {top} -flatten -lut 4", "fine", ""


_LATCH_CELLS = "t:$dlatch t:$adlatch t:$dlatchsr t:$_DLATCH_* t:$_DLATCHSR_*"


def yosys_script(target: Target, top: str, sources: Sequence[str], files: WorkFiles) -> str:
    """The yosys script synthesizing ``sources`` (Verilog files in ``files.root``) with
    top module ``top`` for ``target``; it runs in ``files.root``."""
    command, label, tail = _synth_command(target, top, files.netlist.name)
    lines = [f"# sasim synth --target {target.value}", *(f"read_verilog {_quote(s)}" for s in sources),
             f"{command} -run :{label}",
             "# probe: memories and latches before they are mapped",
             f"tee -q -o {_quote(files.latches.name)} select -list {_LATCH_CELLS}",
             "design -push-copy",
             "setparam -set INIT 0 t:$mem_v2",  # the copy only: ROM contents need not be dumped
             f"tee -q -o {_quote(files.memories.name)} dump t:$mem_v2",
             "design -pop",
             f"{command} -run {label}: {tail}".rstrip()]
    if target is Target.GENERIC:
        lines.append(f"write_json {_quote(files.netlist.name)}")
    lines.append(f"tee -q -o {_quote(files.stat.name)} stat -json")
    return "\n".join(lines) + "\n"
