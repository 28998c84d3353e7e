"""Simulate every layer of a network: per-layer results and totals over the whole network.

Each layer is simulated in the fast mode (:func:`~sasim.sim.simulate`) with the mapping
it gets from, in this order, its own ``mapping`` in the network file, or the first of
``mappings`` (tried in order) that applies to it: builds and lowers for its workload on
the architecture. Totals multiply each layer's figures by its ``repeat``.

Layers with the same workload shape and the same mapping are simulated once: the
simulator is deterministic, and its timing and counts do not depend on the data (the
random inputs of a layer are drawn from ``seed`` alone, so they are the same tensors
too). ``dedupe=False`` simulates every layer instance on its own, ``repeat`` times each,
as a tool without this sharing would; the results are the same.

The distinct runs go to ``jobs`` worker processes (a ``forkserver`` pool where the
platform has one, else ``spawn``), the ones with the most array steps first so the
workers finish together. The results do not depend on ``jobs`` (only the wall times do).

A layer whose mapping cannot be built or lowered, or that the simulator refuses, is
reported with the others that fail in one :class:`~sasim.errors.SasimError` naming each
layer: the mappings of all layers are resolved before anything is simulated, and the
simulation failures are reported once every run has finished.
"""

from __future__ import annotations

import logging
import math
import multiprocessing
import time
from collections.abc import Callable, Sequence
from collections.abc import Mapping as MappingABC
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sasim.arch.architecture import Architecture
from sasim.design import Design, lower
from sasim.errors import MappingError, SasimError, SimulationError
from sasim.mapping.spec import Mapping
from sasim.sim.simulate import simulate

if TYPE_CHECKING:
    from sasim.mapping.network import Layer, Network

__all__ = ["LayerSimResult", "NetworkProgress", "NetworkSimResult", "RunSummary", "simulate_network"]

log = logging.getLogger(__name__)

#: ``progress(runs_done, runs_total, layer)``: called once before the first simulation starts
#: (``0, total, ""``) and after each one finishes, with the name of the layer it simulated.
NetworkProgress = Callable[[int, int, str], None]

#: How ``LayerSimResult.mapping_source`` names a mapping taken from the network file.
FROM_NETWORK_FILE = "network file"

_N = TypeVar("_N", int, float)


def _relative_error(model: int, simulated: int) -> float:
    return (model - simulated) / simulated if simulated else 0.0


@dataclass(frozen=True)
class RunSummary:
    """What one fast simulation of a layer measured (small, so it crosses processes cheaply)."""

    cycles: int
    macs: int
    utilization: float
    energy_pj: float
    stalls: dict[str, int]  # array stall cycles by cause
    array_busy: int  # cycles in which the array issued a step
    dram_busy: int  # cycles in which the DRAM channel moved data
    outputs_match_reference: bool
    accesses_match_model: bool
    model_cycles: int
    model_energy_pj: float
    wall_time_s: float

    @property
    def model_error(self) -> float:
        """(model cycles - simulated cycles) / simulated cycles."""
        return _relative_error(self.model_cycles, self.cycles)

    @property
    def largest_stall(self) -> tuple[str, int] | None:
        """The cause with the most stall cycles (ties: alphabetical), or ``None`` without stalls."""
        causes = [(cause, n) for cause, n in self.stalls.items() if n]
        return min(causes, key=lambda kv: (-kv[1], kv[0])) if causes else None


@dataclass(frozen=True)
class LayerSimResult:
    """One layer: the mapping it was simulated with and what the simulation measured."""

    layer: Layer
    #: the mapping simulated (loops in full; reads back as a mapping section)
    mapping: Mapping
    #: where the mapping came from: ``network file``, or the entry of ``mappings`` that applied
    mapping_source: str
    run: RunSummary
    #: the earlier layer (same shape, same mapping) whose simulation this layer reuses, or ``None``
    shared_with: str | None


@dataclass(frozen=True)
class NetworkSimResult:
    """Every layer of a network, simulated; totals multiply each layer by its ``repeat``."""

    network: Network
    architecture: Architecture
    seed: int
    jobs: int
    layers: tuple[LayerSimResult, ...]
    #: simulations made (distinct layers; with ``dedupe=False``, every layer instance)
    runs: int
    #: seconds the whole call took (resolving mappings, the pool, the simulations in parallel)
    wall_time_s: float
    #: seconds the simulations took, summed over the runs
    simulation_time_s: float

    def _total(self, value: Callable[[RunSummary], _N]) -> _N:
        """``value`` of each layer's run, times the layer's ``repeat``, summed."""
        return sum(value(lr.run) * lr.layer.repeat for lr in self.layers)

    @property
    def cycles(self) -> int:
        return self._total(lambda r: r.cycles)

    @property
    def macs(self) -> int:
        return self._total(lambda r: r.macs)

    @property
    def energy_pj(self) -> float:
        return self._total(lambda r: r.energy_pj)

    @property
    def model_cycles(self) -> int:
        return self._total(lambda r: r.model_cycles)

    @property
    def model_energy_pj(self) -> float:
        return self._total(lambda r: r.model_energy_pj)

    @property
    def model_error(self) -> float:
        """(model cycles - simulated cycles) / simulated cycles, over the whole network."""
        return _relative_error(self.model_cycles, self.cycles)

    @property
    def utilization(self) -> float:
        """MACs / (cycles x all PEs), over the whole network (layers run one after another)."""
        pes = self.architecture.array.rows * self.architecture.array.cols
        return self.macs / (self.cycles * pes) if self.cycles else 0.0

    @property
    def array_busy(self) -> int:
        return self._total(lambda r: r.array_busy)

    @property
    def dram_busy(self) -> int:
        return self._total(lambda r: r.dram_busy)

    @property
    def stalls(self) -> dict[str, int]:
        """Array stall cycles by cause, summed over the layers times their ``repeat``."""
        out: dict[str, int] = {}
        for lr in self.layers:
            for cause, n in lr.run.stalls.items():
                out[cause] = out.get(cause, 0) + n * lr.layer.repeat
        return dict(sorted(out.items()))

    @property
    def outputs_match_reference(self) -> bool:
        return all(lr.run.outputs_match_reference for lr in self.layers)

    @property
    def accesses_match_model(self) -> bool:
        return all(lr.run.accesses_match_model for lr in self.layers)


# --- choosing each layer's mapping ------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    design: Design
    mapping: Mapping
    source: str


def _candidate_label(value: Any, index: int) -> str:
    return value if isinstance(value, str) else f"mappings[{index}]"


def _candidate(value: Any, label: str, layer: Layer, architecture: Architecture) -> _Plan:
    from sasim.spec import spec_from_dict

    spec = spec_from_dict({}, overrides={"workload": layer.workload, "architecture": architecture, "mapping": value},
                          override_labels={"mapping": label})
    return _Plan(spec.design(), spec.mapping, label)


def _plan(network: Network, index: int, architecture: Architecture, candidates: Sequence[Any]) -> _Plan:
    """Layer ``index``'s mapping and lowered design; a SasimError says why there is none."""
    from sasim.mapping.network import layer_mapping, layer_mapping_error

    layer = network.layers[index]
    if layer.mapping is not None:
        mapping = layer_mapping(network, index, architecture)
        assert mapping is not None  # the layer has a mapping, by the test above
        try:
            design = lower(layer.workload, architecture, mapping)
        except SasimError as exc:
            raise layer_mapping_error(network, index, exc) from None
        return _Plan(design, mapping, FROM_NETWORK_FILE)
    if not candidates:
        raise MappingError("no mapping: give the layer a 'mapping' in the network file, or mappings to try")
    reasons = []
    for i, value in enumerate(candidates):
        label = _candidate_label(value, i)
        try:
            return _candidate(value, label, layer, architecture)
        except SasimError as exc:
            if len(candidates) == 1:
                raise
            reasons.append(str(exc))
    tried = ", ".join(_candidate_label(v, i) for i, v in enumerate(candidates))
    raise MappingError(f"none of the mappings {tried} applies: " + "; ".join(reasons))


def _failures(kind: type[SasimError], what: str, failed: list[tuple[str, SasimError]]) -> SasimError:
    """One error for every failed layer; layers failing for the same reason are named together."""
    by_reason: dict[str, list[str]] = {}
    kinds = {type(exc) for _, exc in failed}
    for name, exc in failed:
        by_reason.setdefault(str(exc), []).append(name)
    parts = []
    for reason, names in by_reason.items():
        shown = ", ".join(repr(n) for n in names)
        parts.append(f"{'layer' if len(names) == 1 else 'layers'} {shown}: {reason}")
    count = f"{len(failed)} layer{'s' if len(failed) != 1 else ''}"
    error_type = kinds.pop() if len(kinds) == 1 else kind
    return error_type(f"{count} {what}: " + "; ".join(parts) if len(failed) > 1 else parts[0])


# --- running ----------------------------------------------------------------------------------


def _simulate_run(design: Design, seed: int) -> RunSummary | SasimError:
    """Simulate one design (in a worker process or in this one); a refusal comes back as the error."""
    try:
        result = simulate(design, seed=seed)
    except SasimError as exc:
        return exc
    return RunSummary(
        cycles=result.cycles,
        macs=result.macs,
        utilization=result.utilization,
        energy_pj=result.energy_pj,
        stalls=dict(sorted(result.stalls.items())),
        array_busy=result.array_busy,
        dram_busy=result.dram_busy,
        outputs_match_reference=result.outputs_match_reference,
        accesses_match_model=not result.access_differences(),
        model_cycles=result.model.cycles,
        model_energy_pj=result.model.energy_pj,
        wall_time_s=result.wall_time_s,
    )


def _steps(design: Design) -> int:
    """The array steps of a design (before edge tiles are clipped): its simulation time, roughly."""
    return math.prod(lp.factor for lp in design.loops if not lp.is_spatial)


def _pool(jobs: int) -> ProcessPoolExecutor:
    # Not 'fork': the caller may have threads (a progress bar), which fork does not copy safely.
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    return ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method))


def _run_all(tasks: list[tuple[int, Design, str]], seed: int, jobs: int,
             progress: NetworkProgress | None) -> dict[int, RunSummary | SasimError]:
    """Simulate each ``(run id, design, layer name)``, longest first; results by run id."""
    order = sorted(tasks, key=lambda t: (-_steps(t[1]), t[0]))
    out: dict[int, RunSummary | SasimError] = {}
    if progress is not None:
        progress(0, len(tasks), "")

    def finished(run: int, name: str, value: RunSummary | SasimError) -> None:
        out[run] = value
        log.info("simulated layer %s (%d of %d)", name, len(out), len(tasks))
        if progress is not None:
            progress(len(out), len(tasks), name)

    if jobs <= 1 or len(order) <= 1:
        for run, design, name in order:
            finished(run, name, _simulate_run(design, seed))
        return out
    pool = _pool(min(jobs, len(order)))
    try:
        futures: dict[Future[RunSummary | SasimError], tuple[int, str]] = {
            pool.submit(_simulate_run, design, seed): (run, name) for run, design, name in order
        }
        for fut in as_completed(futures):
            run, name = futures[fut]
            finished(run, name, fut.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
    return out


def simulate_network(
    network: Network,
    architecture: Architecture,
    *,
    mappings: Sequence[str | MappingABC[str, Any] | Mapping] = (),
    seed: int = 0,
    jobs: int = 1,
    dedupe: bool = True,
    progress: NetworkProgress | None = None,
) -> NetworkSimResult:
    """Simulate every layer of ``network`` on ``architecture`` (fast mode; see the module doc).

    ``mappings`` are mapping sections in any spec form (a preset name such as ``"ws"``, a
    ``{preset: ...}`` or inline dict, a path relative to the working directory, or a
    :class:`Mapping`), tried in order for each layer that has no ``mapping`` of its own.
    ``seed`` draws each layer's random inputs, as ``simulate(design, seed=seed)`` does.
    Raises a :class:`~sasim.errors.SasimError` naming every layer that cannot be simulated.
    """
    start = time.perf_counter()
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise SimulationError(f"jobs must be a positive integer, not {jobs!r}")
    if isinstance(mappings, str | MappingABC | Mapping):
        mappings = [mappings]
    plans: list[_Plan] = []
    failed: list[tuple[str, SasimError]] = []
    for index, layer in enumerate(network.layers):
        try:
            plans.append(_plan(network, index, architecture, mappings))
        except SasimError as exc:
            failed.append((layer.name, exc))
    if failed:
        raise _failures(MappingError, "have no mapping that applies", failed)

    from sasim.mapping.network import shape_key

    run_of: list[int] = []  # per layer: the run whose results it reports
    shared: list[str | None] = []
    first: dict[str, tuple[int, str]] = {}
    tasks: list[tuple[int, Design, str]] = []
    for layer, plan in zip(network.layers, plans, strict=True):
        key = shape_key(layer.workload) + plan.mapping.model_dump_json()
        if dedupe and key in first:
            run, name = first[key]
            run_of.append(run)
            shared.append(name)
            continue
        run_of.append(len(tasks))
        shared.append(None)
        first.setdefault(key, (len(tasks), layer.name))
        copies = 1 if dedupe else layer.repeat
        tasks += [(len(tasks) + i, plan.design, layer.name) for i in range(copies)]
    log.info("network %s: %d layers, %d simulations, %d jobs", network.name, len(network.layers), len(tasks), jobs)
    results = _run_all(tasks, seed, jobs, progress)

    errors = [(layer.name, r) for layer, run in zip(network.layers, run_of, strict=True)
              if isinstance(r := results[run], SasimError)]
    if errors:
        raise _failures(SimulationError, "could not be simulated", errors)
    layers = []
    for layer, plan, run, shared_with in zip(network.layers, plans, run_of, shared, strict=True):
        summary = results[run]
        assert isinstance(summary, RunSummary)  # errors were raised above
        layers.append(LayerSimResult(layer, plan.mapping, plan.source, summary, shared_with))
    simulation_time = sum(r.wall_time_s for r in results.values() if isinstance(r, RunSummary))
    return NetworkSimResult(
        network=network, architecture=architecture, seed=seed, jobs=jobs, layers=tuple(layers), runs=len(tasks),
        wall_time_s=time.perf_counter() - start, simulation_time_s=simulation_time,
    )
