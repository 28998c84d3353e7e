"""Reading nextpnr's ``--report FILE.json``: the achieved frequency per clock, the
device utilization and the critical paths.

The file (nextpnr 0.11) holds ``fmax`` (clock name -> ``{"achieved": MHz,
"constraint": MHz}``), ``utilization`` (cell type -> ``{"used": n, "available": n}``)
and ``critical_paths`` (per clock pair, ``from``, ``to`` and a ``path`` of segments
with ``type`` clk-to-q / routing / logic / setup, ``delay`` in ns, and for routing
segments the ``net`` and its Verilog ``sources``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sasim.errors import SynthesisError

__all__ = ["ClockFmax", "CriticalPath", "PnrReport", "current_step", "parse_nextpnr_report"]


@dataclass(frozen=True)
class ClockFmax:
    """The frequency one clock reached and the one asked for (``--freq``), in MHz."""

    clock: str
    achieved_mhz: float
    target_mhz: float

    @property
    def met(self) -> bool:
        return self.achieved_mhz >= self.target_mhz


@dataclass(frozen=True)
class CriticalPath:
    """The slowest path of one clock domain."""

    clock: str  # 'posedge clk -> posedge clk'; '<async>' for a port
    delay_ns: float
    logic_levels: int
    start: str  # the cell the path starts at
    end: str  # the cell it ends at
    sources: tuple[str, ...]  # Verilog locations of its nets, in path order, without repeats

    @property
    def register_to_register(self) -> bool:
        """A path between two clocked cells (not from or to a port)."""
        return "<async>" not in self.clock


@dataclass(frozen=True)
class PnrReport:
    fmax: tuple[ClockFmax, ...]
    utilization: dict[str, tuple[int, int]]  # cell type -> (used, available)
    critical_paths: tuple[CriticalPath, ...]


def _clock_name(name: str) -> str:
    """The clock net as the Verilog names it: nextpnr calls ``clk`` ``$glbnet$clk`` on a
    global network and ``clk$TRELLIS_IO_IN`` behind its input buffer."""
    return name.replace("$glbnet$", "").replace("$TRELLIS_IO_IN", "")


def _path(entry: dict[str, Any]) -> CriticalPath:
    segments = entry.get("path", [])
    sources: list[str] = []
    for seg in segments:
        for src in seg.get("sources", []):
            if src not in sources:
                sources.append(str(src))
    first = segments[0]["from"]["cell"] if segments else ""
    last = segments[-1]["to"]["cell"] if segments else ""
    return CriticalPath(
        clock=_clock_name(f"{entry.get('from', '?')} -> {entry.get('to', '?')}"),
        delay_ns=sum(float(seg.get("delay", 0.0)) for seg in segments),
        logic_levels=sum(1 for seg in segments if seg.get("type") == "logic"),
        start=str(first), end=str(last), sources=tuple(sources))


def parse_nextpnr_report(path: Path) -> PnrReport:
    """The contents of a nextpnr ``--report`` file."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SynthesisError(f"nextpnr did not write its report ({path}): {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise SynthesisError(f"cannot read the nextpnr report {path}: {exc}") from exc
    try:
        fmax = tuple(ClockFmax(_clock_name(str(name)), float(v["achieved"]), float(v["constraint"]))
                     for name, v in sorted(data.get("fmax", {}).items()))
        utilization = {str(k): (int(v["used"]), int(v["available"])) for k, v in data.get("utilization", {}).items()}
        paths = tuple(_path(entry) for entry in data.get("critical_paths", []))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SynthesisError(f"cannot read the nextpnr report {path}: {exc!r}") from exc
    return PnrReport(fmax=fmax, utilization=utilization, critical_paths=paths)


_INFO = re.compile(rb"^Info: ([A-Z][^\r\n]*)", re.MULTILINE)


def current_step(log_file: Path, tail_bytes: int = 16384) -> str | None:
    """What nextpnr is doing now, from the end of its log (``'Routing..'``), for progress."""
    try:
        with open(log_file, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(fh.tell() - tail_bytes, 0))
            tail = fh.read()
    except OSError:
        return None
    matches: list[bytes] = _INFO.findall(tail)
    if not matches:
        return None
    text = matches[-1].decode("utf-8", "replace").strip().rstrip(".")
    return text if len(text) <= 60 else text[:57] + "..."
