"""The result of one synthesis run: resources, timing, memories, latches and checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sasim.synth.checks import Check
from sasim.synth.memories import MemoryReport
from sasim.synth.nextpnr_report import ClockFmax, CriticalPath
from sasim.synth.resources import Resources
from sasim.synth.targets import Target

__all__ = ["SynthResult", "achieved_mhz"]


def achieved_mhz(fmax: tuple[ClockFmax, ...]) -> float | None:
    """The achieved frequency of the clock ``clk`` (else of the slowest clock); None when
    there is none."""
    for clock in fmax:
        if clock.clock == "clk":
            return clock.achieved_mhz
    return min((c.achieved_mhz for c in fmax), default=None)


@dataclass(frozen=True)
class SynthResult:
    """What synthesizing (and for ECP5, placing and routing) one design found.

    ``passed`` holds when no check failed. Timing is empty for targets without
    place and route (``target.has_timing``)."""

    target: Target
    top: str
    device: str | None  # 'LFE5U-85F CABGA381 speed 6'; 'xc7'; None for generic
    resources: Resources
    io_bits: int  # bits of the top module's ports
    latches: tuple[str, ...]
    memories: tuple[MemoryReport, ...]
    checks: tuple[Check, ...]
    wall_s: dict[str, float]  # step ('generate', 'yosys', 'nextpnr') -> seconds
    tools: dict[str, str]  # tool -> the executable that ran it
    peak_mib: dict[str, float] = field(default_factory=dict)  # tool -> its peak resident memory, where known
    target_mhz: float | None = None  # nextpnr's --freq
    out_of_context: bool | None = None  # placed without I/O buffers (ECP5: more I/O than pins)
    seed: int | None = None  # nextpnr's placement seed, if one was given (with several: the median placement's)
    fmax_by_seed: dict[int, float | None] = field(default_factory=dict)  # with several seeds: each placement's
    fmax: tuple[ClockFmax, ...] = ()
    critical_paths: tuple[CriticalPath, ...] = ()
    utilization: dict[str, tuple[int, int]] = field(default_factory=dict)  # nextpnr: type -> (used, available)
    work_dir: Path | None = None  # where the files were kept (--keep)

    @property
    def fmax_mhz(self) -> float | None:
        """The achieved frequency of the clock ``clk`` (else of the slowest clock); None
        when the target has no timing or the design no clock."""
        return achieved_mhz(self.fmax)

    @property
    def critical_path(self) -> CriticalPath | None:
        """The slowest register-to-register path, if the target has timing."""
        paths = [p for p in self.critical_paths if p.register_to_register]
        return max(paths, key=lambda p: p.delay_ns, default=None)

    @property
    def passed(self) -> bool:
        return not any(check.failed for check in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.value,
            "device": self.device,
            "top": self.top,
            "resources": self.resources.to_json(),
            "io_bits": self.io_bits,
            "fmax_mhz": self.fmax_mhz,
            "target_mhz": self.target_mhz,
            "clocks": [{"clock": c.clock, "achieved_mhz": c.achieved_mhz, "target_mhz": c.target_mhz, "met": c.met}
                       for c in self.fmax],
            "critical_paths": [{"clock": p.clock, "delay_ns": p.delay_ns, "logic_levels": p.logic_levels,
                                "start": p.start, "end": p.end, "sources": list(p.sources)}
                               for p in self.critical_paths],
            "out_of_context": self.out_of_context,
            "seed": self.seed,
            "fmax_by_seed": {str(s): mhz for s, mhz in self.fmax_by_seed.items()},
            "utilization": {k: {"used": u, "available": a} for k, (u, a) in sorted(self.utilization.items())},
            "latches": list(self.latches),
            "memories": [m.to_json() for m in self.memories],
            "checks": {c.name: c.to_json() for c in self.checks},
            "passed": self.passed,
            "wall_s": dict(self.wall_s),
            "peak_mib": dict(self.peak_mib),
            "tools": dict(self.tools),
            "work_dir": None if self.work_dir is None else str(self.work_dir),
        }
