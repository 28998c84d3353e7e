"""What the generator produces: the module's files, its performance counters and its memories."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Counter", "Memory", "Rtl"]


@dataclass(frozen=True, slots=True)
class Counter:
    """A performance counter: ``perf_sel`` value ``index`` reads it."""

    index: int
    name: str  # "cycles", "steps", "stall.<cause>", or "<level>.<tensor>.<action>"


@dataclass(frozen=True, slots=True)
class Memory:
    """A memory array of the generated module, as synthesis will see it.

    ``kind`` is ``"buffer"`` (a buffer region: banked RAM meant for block RAM),
    ``"edge"`` (an edge buffer, read by many PEs at once: registers) or ``"rom"``
    (a sequencer table). Every memory whose hierarchical name starts with ``name``
    belongs to this entry (a buffer region is one memory per bank). ``ram`` is the RAM a
    buffer's banks are meant for: ``"block"``, ``"lut"`` (banks of a few words) or
    ``None`` (flip-flops: a region the generator could not bank; and every other kind).
    """

    name: str
    kind: str
    tensor: str | None
    words: int
    bits: int
    banks: int = 1
    ram: str | None = None


@dataclass(frozen=True)
class Rtl:
    """A generated accelerator: file name -> contents, and what a testbench needs to drive it."""

    top: str
    files: dict[str, str]
    counters: tuple[Counter, ...]
    ports: dict[str, dict[str, object]]
    parameters: dict[str, object] = field(default_factory=dict)
    memories: tuple[Memory, ...] = ()

    @property
    def sources(self) -> list[str]:
        """The Verilog files, the top module's first: one module per file, named after it."""
        top = f"{self.top}.v"
        return [top] + sorted(name for name in self.files if name.endswith(".v") and name != top)

    @property
    def verilog(self) -> str:
        """Every module's Verilog, the top module's first."""
        return "".join(self.files[name] for name in self.sources)
