"""``sasim synth``: generate a design's Verilog, synthesize it with yosys and, for ECP5,
place and route it with nextpnr; collect resources, Fmax, memories, latches and checks.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sasim.design.design import Design
from sasim.errors import SynthesisError
from sasim.gen.accelerator import build
from sasim.gen.datapath import array_module
from sasim.gen.generate import MANIFEST, manifest, write_rtl
from sasim.gen.memory import LUT_RAM_BITS
from sasim.gen.tables import MAX_TABLE_ENTRIES
from sasim.synth.checks import buffers_in_ram, no_latches
from sasim.synth.memories import classify_memories, memory_specs
from sasim.synth.nextpnr_report import current_step, parse_nextpnr_report
from sasim.synth.resources import count_resources, latch_cells
from sasim.synth.result import SynthResult, achieved_mhz
from sasim.synth.targets import ECP5_DEVICES, ECP5_PACKAGE, ECP5_SEEDS, ECP5_SPEEDS, Target, WorkFiles, yosys_script
from sasim.synth.tools import Tool, find_tool, run_tool
from sasim.synth.yosys_output import current_pass, parse_latch_list, parse_log, parse_memory_dump, parse_stat

__all__ = ["DEFAULT_TIMEOUT_S", "MODULES", "Progress", "synthesize", "synthesize_verilog"]

#: What ``synthesize`` can synthesize of a generated design: the whole accelerator, or its
#: PE array's datapath alone (operand registers, multipliers, sums and accumulators: the
#: part a hand-written PE array has, with no buffers and no control).
MODULES = ("accelerator", "array")

log = logging.getLogger(__name__)

#: Called while a tool runs: what is running (``'yosys: ABC9'``) and for how many seconds.
Progress = Callable[[str, float], None]

DEFAULT_TIMEOUT_S = 3600.0


def _check_options(target: Target, device: str, speed: int, freq_mhz: float, timeout_s: float,
                   seed: int | None = None, seeds: Sequence[int] = ()) -> None:
    if not isinstance(target, Target):
        raise SynthesisError(f"target must be one of {[t.value for t in Target]}, not {target!r}")
    if device not in ECP5_DEVICES:
        raise SynthesisError(f"ECP5 device must be one of {list(ECP5_DEVICES)}, not {device!r}")
    if speed not in ECP5_SPEEDS:
        raise SynthesisError(f"ECP5 speed grade must be one of {list(ECP5_SPEEDS)}, not {speed!r}")
    if not freq_mhz > 0:
        raise SynthesisError(f"target frequency must be a positive number of MHz, not {freq_mhz!r}")
    if not timeout_s > 0:
        raise SynthesisError(f"timeout must be a positive number of seconds, not {timeout_s!r}")
    for s in [*([] if seed is None else [seed]), *seeds]:
        if isinstance(s, bool) or not isinstance(s, int) or s not in ECP5_SEEDS:
            raise SynthesisError(f"placement seed must be an integer from 0 to {ECP5_SEEDS[-1]}, not {s!r}")
    if seeds:
        if seed is not None:
            raise SynthesisError("give one placement seed or a list of them (seeds), not both")
        if len(set(seeds)) != len(seeds):
            raise SynthesisError(f"placement seeds must differ, not {list(seeds)}")


@contextmanager
def _work_dir(keep: str | os.PathLike[str] | None) -> Iterator[Path]:
    """``keep`` (created if needed), or a temporary directory removed afterwards."""
    if keep is None:
        temp = tempfile.mkdtemp(prefix="sasim-synth-")
        try:
            yield Path(temp)
        finally:
            shutil.rmtree(temp, ignore_errors=True)
        return
    path = Path(keep).expanduser()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".sasim-synth-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise SynthesisError(f"cannot keep the synthesis files in {str(keep)!r}: {exc.strerror or exc}; "
                             f"choose a writable directory") from exc
    yield path.resolve()


def synthesize(
    design: Design,
    *,
    target: Target = Target.ECP5,
    top: str = "sasim_accel",
    device: str = "85k",
    speed: int = 6,
    freq_mhz: float = 100.0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    keep: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
    table_limit: int = MAX_TABLE_ENTRIES,
    lut_ram_bits: int = LUT_RAM_BITS,
    seed: int | None = None,
    module: str = "accelerator",
    seeds: Sequence[int] = (),
) -> SynthResult:
    """Generate ``design``'s accelerator and synthesize it, or with ``module="array"`` its
    PE array's datapath module alone (see :data:`MODULES`), for ``target``.

    ``device``, ``speed``, ``freq_mhz`` (nextpnr's target frequency) and ``seed``
    (nextpnr's placement seed; None leaves nextpnr's default) apply to ECP5. ``seeds``
    places the netlist once per seed instead (yosys runs once): the result is the
    placement with the median Fmax, and ``fmax_by_seed`` gives each placement's.
    ``timeout_s`` bounds all tool runs together. ``keep`` is a directory that keeps the
    Verilog, the yosys script, the logs, the netlist and the nextpnr report; by default
    a temporary directory is used and removed. ``table_limit`` bounds the sequencer
    tables and ``lut_ram_bits`` is the largest buffer bank meant for LUT RAM
    (:func:`~sasim.gen.accelerator.build`). Raises :class:`GenerationError` for a
    design the generator refuses, :class:`ToolNotFoundError` for a missing tool and
    :class:`SynthesisError` when a tool fails or runs out of time."""
    _check_options(target, device, speed, freq_mhz, timeout_s, seed, seeds)
    if module not in MODULES:
        raise SynthesisError(f"module must be one of {', '.join(MODULES)}, not {module!r}")
    _tools(target)  # a missing tool is reported before anything is generated
    start = time.perf_counter()
    rtl = build(design, top, table_limit=table_limit, lut_ram_bits=lut_ram_bits)
    with _work_dir(keep) as root:
        try:
            write_rtl(rtl, design, root)
        except OSError as exc:
            raise SynthesisError(f"cannot write the Verilog to {root}: {exc.strerror or exc}") from exc
        generated = time.perf_counter() - start
        whole = module == "accelerator"
        array = array_module(rtl.top)
        result = synthesize_verilog(  # (the array module has no buffers: its manifest lists no memory)
            root, top=rtl.top if whole else array, sources=rtl.sources if whole else [f"{array}.v"],
            manifest=manifest(rtl, design) if whole else {"memories": []}, target=target,
            device=device, speed=speed, freq_mhz=freq_mhz, timeout_s=timeout_s, progress=progress,
            kept=keep is not None, seed=seed, seeds=seeds)
    return replace(result, wall_s={"generate": generated, **result.wall_s})


def _tools(target: Target) -> list[Tool]:
    tools = [find_tool("yosys")]
    if target is Target.ECP5:
        tools.append(find_tool("nextpnr-ecp5"))
    return tools


def _read_manifest(root: Path) -> dict[str, Any] | None:
    path = root / MANIFEST
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SynthesisError(f"cannot read {path}: {exc}") from exc
    return data if isinstance(data, dict) else None


def synthesize_verilog(
    root: str | os.PathLike[str],
    *,
    top: str,
    sources: Sequence[str] | None = None,
    manifest: Mapping[str, Any] | None = None,
    target: Target = Target.ECP5,
    device: str = "85k",
    speed: int = 6,
    freq_mhz: float = 100.0,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
    kept: bool = True,
    seed: int | None = None,
    seeds: Sequence[int] = (),
) -> SynthResult:
    """Synthesize the Verilog files ``sources`` (default: every ``*.v``) in directory
    ``root`` with top module ``top``; the tools run in ``root`` and leave their files
    there. ``manifest`` (default: ``root/manifest.json`` if present) says which
    memories are buffers. Raises like :func:`synthesize`."""
    _check_options(target, device, speed, freq_mhz, timeout_s, seed, seeds)
    if seeds and target is not Target.ECP5:
        raise SynthesisError(f"placement seeds apply only to ECP5, not {target.value!r}")
    tools = _tools(target)
    work = WorkFiles(Path(root))
    if sources is None:
        sources = sorted(p.name for p in work.root.glob("*.v"))
    if manifest is None:
        manifest = _read_manifest(work.root)
    specs = memory_specs(manifest)
    deadline = time.monotonic() + timeout_s
    hint = f"logs in {work.root}" if kept else "rerun with --keep DIR to keep the logs"

    def remaining() -> float:
        return max(deadline - time.monotonic(), 0.001)

    def ticker(label: str, phase: Callable[[], str | None]) -> Callable[[float], None] | None:
        if progress is None:
            return None
        report = progress
        return lambda elapsed: report(f"{label}: {phase() or 'starting'}", elapsed)

    yosys = tools[0]
    try:
        for stale in [*work.outputs(), *work.root.glob("nextpnr.seed*")]:
            stale.unlink(missing_ok=True)
        work.script.write_text(yosys_script(target, top, sources, work), encoding="utf-8")
    except OSError as exc:
        raise SynthesisError(f"cannot write the yosys script to {work.root}: {exc.strerror or exc}") from exc
    wall: dict[str, float] = {}
    try:
        run = run_tool(yosys, ["-q", "-l", work.yosys_log.name, "-s", work.script.name], cwd=work.root,
                       log_file=work.yosys_console, timeout_s=remaining(), limit_s=timeout_s, tool_log=work.yosys_log,
                       on_tick=ticker("yosys", lambda: current_pass(work.yosys_log)))
    except SynthesisError as exc:
        raise SynthesisError(f"{exc}{_ports_before_mapping(work)} ({hint})") from exc
    wall["yosys"] = run.wall_s
    peak = {} if run.peak_mib is None else {"yosys": run.peak_mib}
    stat = parse_stat(work.stat)
    resources = count_resources(target, stat.cells)
    mappings = parse_log(work.yosys_log.read_text(encoding="utf-8", errors="replace"), top)
    memories = classify_memories(parse_memory_dump(work.memories), mappings, specs)
    latches = [mappings.latches.get(cell.split("/", 1)[-1], cell.split("/", 1)[-1])
               for cell in parse_latch_list(work.latches)]
    if not latches and resources.latch:  # latches the probe did not see (none so far)
        latches = [f"{n} x {cell}" for cell, n in sorted(latch_cells(target, stat.cells).items())]
    fields: dict[str, Any] = {"device": "xc7" if target is Target.XILINX else None}
    if target is Target.ECP5:
        placements: list[dict[str, Any]] = []
        runs: list[int | None] = list(seeds) if seeds else [seed]
        for s in runs:
            label = "nextpnr-ecp5" if not seeds else f"nextpnr-ecp5, seed {s} ({len(placements) + 1}/{len(seeds)})"
            try:
                placements.append(_place_and_route(
                    tools[1], work, top=top, device=device, speed=speed, freq_mhz=freq_mhz,
                    port_bits=stat.port_bits, ignore_loops=bool(latches), seed=s, timeout_s=remaining(),
                    limit_s=timeout_s, on_tick=ticker(label, lambda: current_step(work.nextpnr_log))))
                if s is not None and seeds:  # each placement's report and log, kept apart
                    for path in (work.nextpnr_report, work.nextpnr_log):
                        shutil.copyfile(path, work.seeded(path, s))
            except OSError as exc:
                raise SynthesisError(f"cannot keep nextpnr's report in {work.root}: {exc.strerror or exc}") from exc
            except SynthesisError as exc:
                raise SynthesisError(f"{exc} ({hint})") from exc
        fields = _median_placement(placements)
        if seeds:  # the median placement's report and log under their usual names
            for path in (work.nextpnr_report, work.nextpnr_log):
                shutil.copyfile(work.seeded(path, fields["seed"]), path)
            fields["fmax_by_seed"] = {p["seed"]: achieved_mhz(p["fmax"]) for p in placements}
        wall["nextpnr"] = sum(p.pop("wall_s") for p in placements)
        pnr_peaks = [m for p in placements if (m := p.pop("peak_mib")) is not None]
        if pnr_peaks:
            peak["nextpnr"] = max(pnr_peaks)
    checks = (no_latches(latches), buffers_in_ram(target, memories))
    return SynthResult(
        target=target, top=top, resources=resources, io_bits=stat.port_bits, latches=tuple(latches),
        memories=tuple(memories), checks=checks, wall_s=wall, peak_mib=peak, tools={t.name: t.path for t in tools},
        work_dir=work.root if kept else None, **fields)


def _median_placement(placements: list[dict[str, Any]]) -> dict[str, Any]:
    """Of one netlist's placements, the one with the median Fmax (the lower of the two
    middle ones for an even count; the first when none has a clock)."""
    timed = [p for p in placements if achieved_mhz(p["fmax"]) is not None]
    if not timed:
        return placements[0]
    timed.sort(key=lambda p: achieved_mhz(p["fmax"]) or 0.0)
    return timed[(len(timed) - 1) // 2]


def _place_and_route(
    tool: Tool, work: WorkFiles, *, top: str, device: str, speed: int, freq_mhz: float, port_bits: int,
    ignore_loops: bool, seed: int | None, timeout_s: float, limit_s: float,
    on_tick: Callable[[float], None] | None,
) -> dict[str, Any]:
    """Run nextpnr-ecp5 on the netlist; the :class:`SynthResult` fields it gives, and its
    ``wall_s`` and ``peak_mib``."""
    dev = ECP5_DEVICES[device]
    # More port bits than pins: place as a block inside a larger design (no I/O buffers, local clock).
    out_of_context = port_bits > dev.user_io
    args = [dev.nextpnr_flag, "--package", ECP5_PACKAGE, "--speed", str(speed), "--json", work.netlist.name,
            "--top", top, "--freq", f"{freq_mhz:g}", "--report", work.nextpnr_report.name, "--timing-allow-fail",
            "-q", "-l", work.nextpnr_log.name, "--out-of-context" if out_of_context else "--lpf-allow-unconstrained"]
    if ignore_loops:  # synth_ecp5 built the latches from LUT loops; the latch check fails, the report still comes
        args.append("--ignore-loops")
    if seed is not None:  # placement is seeded: Fmax moves with it, by 10% or more on these designs
        args += ["--seed", str(seed)]
    if out_of_context:
        log.info("%d I/O bits > %d pins of %s %s: placing out of context", port_bits, dev.user_io, dev.part,
                 ECP5_PACKAGE)
    run = run_tool(tool, args, cwd=work.root, log_file=work.nextpnr_console, timeout_s=timeout_s, limit_s=limit_s,
                   tool_log=work.nextpnr_log, on_tick=on_tick)
    report = parse_nextpnr_report(work.nextpnr_report)
    return {"device": f"{dev.part} {ECP5_PACKAGE} speed {speed}", "target_mhz": freq_mhz,
            "out_of_context": out_of_context, "seed": seed, "fmax": report.fmax,
            "critical_paths": report.critical_paths, "utilization": report.utilization, "wall_s": run.wall_s,
            "peak_mib": run.peak_mib}


def _ports_before_mapping(work: WorkFiles) -> str:
    """For a yosys run that failed after the probe: the memories with the most ports, which
    are what memory mapping struggles with (``''`` when the probe did not run)."""
    if not work.memories.exists():
        return ""
    try:
        memories = parse_memory_dump(work.memories)
    except SynthesisError:
        return ""
    ranked = sorted(memories, key=lambda m: (-(m.read_ports + m.write_ports), -m.read_ports, m.name))[:3]
    if not ranked:
        return ""
    listed = ", ".join(f"{m.name} ({m.words}x{m.bits}, {m.read_ports}R/{m.write_ports}W)" for m in ranked)
    return f"; the memories with the most ports before mapping: {listed}"
