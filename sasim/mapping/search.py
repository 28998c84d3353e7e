"""The mapper: search a workload's map-space on an architecture (``sasim map``).

:func:`search` explores structures (:mod:`sasim.mapping.space`) in chunks, on
``jobs`` worker processes, and returns the best mappings for an objective and the
Pareto front of latency against energy. Every returned mapping is lowered and
evaluated again with :func:`sasim.model.evaluate` (the single-design path) and its
metrics come from that.

Determinism: the structures, their order, the chunks and each chunk's random
generator depend only on the seed, and each chunk prunes against the incumbent
known when its phase began (not against other chunks running at the same time), so
the result is the same for any number of jobs. Only a time budget that runs out
makes it depend on the machine (``SearchStats.stopped_by_budget`` says so).
"""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from sasim.arch.architecture import Architecture
from sasim.design.lower import lower
from sasim.errors import MappingError, SasimError
from sasim.mapping.constraints import Constraints
from sasim.mapping.explore import (
    Effort,
    Incumbent,
    Objective,
    StructureResult,
    explore,
    objective_values,
    pareto_indices,
)
from sasim.mapping.presets import MAPPING_PRESETS, build_mapping
from sasim.mapping.space import MapSpace, Structure, compact_mapping
from sasim.mapping.spec import Axis, Mapping
from sasim.model.evaluate import evaluate
from sasim.model.result import ModelResult
from sasim.workload.workload import Workload

__all__ = ["Effort", "MapPoint", "MapperResult", "Objective", "Progress", "SearchStats", "search"]

log = logging.getLogger(__name__)

Array = np.ndarray


@dataclass(frozen=True)
class MapPoint:
    """One mapping with its metrics from :func:`sasim.model.evaluate`."""

    mapping: Mapping
    compact: str
    result: ModelResult

    @property
    def cycles(self) -> int:
        return self.result.cycles

    @property
    def energy_pj(self) -> float:
        return self.result.energy_pj

    @property
    def edp(self) -> float:
        return self.result.cycles * self.result.energy_pj

    @property
    def utilization(self) -> float:
        return self.result.utilization

    def value(self, objective: Objective) -> float:
        return float(objective_values(objective, np.array([self.cycles]), np.array([self.energy_pj]))[0])


@dataclass(frozen=True)
class Progress:
    """Reported after each chunk of structures: ``done`` of ``total`` in this phase."""

    phase: str
    done: int
    total: int
    best: float | None


@dataclass(frozen=True)
class SearchStats:
    space_structures: int  # structures in the whole map-space
    structures: int  # structures explored
    rows_evaluated: int
    rows_valid: int
    rows_pruned: int
    complete: bool  # every structure and every factor row was considered (the result is exact)
    stopped_by_budget: bool
    elapsed_s: float


@dataclass(frozen=True)
class MapperResult:
    objective: Objective
    best: MapPoint
    top: tuple[MapPoint, ...]
    pareto: tuple[MapPoint, ...]  # by cycles ascending
    explored: Array  # (n, 2): cycles, energy of a sample of the evaluated points
    stats: SearchStats
    seed: int


ProgressCallback = Callable[[Progress], None]

# --- worker side ---------------------------------------------------------------------------

_SPACE: MapSpace | None = None


def _init_worker(space: MapSpace) -> None:
    global _SPACE
    _SPACE = space


@dataclass(frozen=True)
class _Task:
    chunk: int
    phase: int
    items: tuple[tuple[int, Structure, bool, Array | None], ...]  # index, structure, deep, extra rows
    incumbent: Incumbent
    objective: Objective
    top: int
    effort: Effort
    seed: int
    min_util: float
    deadline: float | None
    sample: bool = True
    descend: bool = True
    sparse: frozenset[int] = frozenset()  # structures whose random rows mostly did not fit


def _run_task(task: _Task, space: MapSpace | None = None) -> list[StructureResult]:
    space = space or _SPACE
    assert space is not None
    rng = np.random.default_rng([task.seed, task.phase, task.chunk])
    incumbent = task.incumbent.copy()
    return [
        explore(space, index, st, deep=deep, objective=task.objective, top=task.top, effort=task.effort,
                incumbent=incumbent, rng=rng, min_util=task.min_util, extra_rows=extra, deadline=task.deadline,
                sample=task.sample, descend=task.descend or deep,
                sparse=None if task.sample else index in task.sparse)
        for index, st, deep, extra in task.items
    ]


# --- the search ----------------------------------------------------------------------------


class _Search:
    def __init__(self, space: MapSpace, objective: Objective, top: int, seed: int, jobs: int, effort: Effort,
                 deadline: float | None, progress: ProgressCallback | None) -> None:
        self.space, self.objective, self.top, self.seed = space, objective, top, seed
        self.jobs, self.effort, self.deadline, self.progress = jobs, effort, deadline, progress
        self.index: dict[Structure, int] = {}
        self.results: dict[int, StructureResult] = {}
        self.deep_done: set[int] = set()
        self.incumbent = Incumbent(objective, top)
        self.phase = 0
        self.pool: ProcessPoolExecutor | None = None

    def _id(self, st: Structure) -> int:
        if st not in self.index:
            self.index[st] = len(self.index)
        return self.index[st]

    def out_of_time(self) -> bool:
        return self.deadline is not None and time.time() > self.deadline

    def run(self, name: str, items: list[tuple[int, Structure, bool, Array | None]]) -> None:
        """Explore ``items``. Screens go in two stages: every structure's random rows, then
        the descent, from each one's best rows, for the fraction ``descend_top`` that did
        best (ties by structure id: the choice does not depend on which worker finished first).
        The descent is most of a screen's cost, and a structure whose random rows are far
        behind seldom comes first after a few steps."""
        frac = self.effort.descend_top
        screens = [it for it in items if not it[2]]
        if frac >= 1 or len(screens) < 2:
            self._run(name, items)
            return
        self._run(name, items, descend_screens=False)
        done = [self.results[it[0]] for it in screens if it[0] in self.results]
        ranked = sorted((r for r in done if not r.complete and r.best < float("inf")), key=lambda r: (r.best, r.index))
        keep = ranked[: math.ceil(frac * len(screens))]
        sparse = frozenset(r.index for r in keep if r.sparse)
        self._run(f"{name} descents", [(r.index, r.structure, False, r.rows) for r in keep], sample=False,
                  sparse=sparse)

    def _run(self, name: str, items: list[tuple[int, Structure, bool, Array | None]], descend_screens: bool = True,
             sample: bool = True, sparse: frozenset[int] = frozenset()) -> None:
        if not items:
            return
        self.phase += 1
        size = self.effort.chunk
        tasks = [
            _Task(c, self.phase, tuple(items[i:i + size]), self.incumbent, self.objective, self.top, self.effort,
                  self.seed, self.space.constraints.min_utilization,
                  None if self.phase == 1 and c == 0 else self.deadline,  # the first chunk always runs
                  sample, descend_screens, sparse)
            for c, i in enumerate(range(0, len(items), size))
        ]
        done = 0
        outputs: dict[int, list[StructureResult]] = {}
        if self.jobs <= 1 or len(tasks) == 1:
            for task in tasks:
                outputs[task.chunk] = _run_task(task, self.space)
                done += len(task.items)
                self._report(name, done, len(items), outputs[task.chunk])
        else:
            if self.pool is None:
                ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods()
                                                  else "spawn")
                self.pool = ProcessPoolExecutor(self.jobs, mp_context=ctx, initializer=_init_worker,
                                                initargs=(self.space,))
            futures = {self.pool.submit(_run_task, task): task for task in tasks}
            for fut in as_completed(futures):
                task = futures[fut]
                outputs[task.chunk] = fut.result()
                done += len(task.items)
                self._report(name, done, len(items), outputs[task.chunk])
        for chunk in sorted(outputs):  # merge in a fixed order, whatever finished first
            for res in outputs[chunk]:
                if res.skipped:
                    continue
                old = self.results.get(res.index)
                self.results[res.index] = res if old is None else _merge(old, res, self.objective, self.top)
                self.incumbent.update(res.cycles, res.energy)

    def _report(self, name: str, done: int, total: int, chunk: list[StructureResult]) -> None:
        best = min((r.best for r in chunk if not r.skipped), default=float("inf"))
        known = min((r.best for r in self.results.values()), default=float("inf"))
        value = min(best, known)
        log.debug("%s: %d/%d structures, best %s %.6g", name, done, total, self.objective.value, value)
        if self.progress is not None:
            self.progress(Progress(name, done, total, None if value == float("inf") else value))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown()
            self.pool = None

    def ranked(self) -> list[StructureResult]:
        return sorted((r for r in self.results.values() if r.best < float("inf")), key=lambda r: (r.best, r.index))


def _merge(a: StructureResult, b: StructureResult, objective: Objective, top: int) -> StructureResult:
    rows = np.concatenate([a.rows, b.rows]) if a.rows.size else b.rows
    cycles = np.concatenate([a.cycles, b.cycles])
    energy = np.concatenate([a.energy, b.energy])
    util = np.concatenate([a.utilization, b.utilization])
    rows, first = np.unique(rows, axis=0, return_index=True) if len(rows) else (rows, np.zeros(0, dtype=np.int64))
    cycles, energy, util = cycles[first], energy[first], util[first]
    return StructureResult(
        index=a.index, structure=a.structure, rows=rows, cycles=cycles, energy=energy, utilization=util,
        best=min(a.best, b.best), sample=np.concatenate([a.sample, b.sample]), evaluated=a.evaluated + b.evaluated,
        pruned=a.pruned + b.pruned, valid=a.valid + b.valid, complete=a.complete or b.complete,
        sparse=a.sparse or b.sparse,
    )


def _preset_seeds(space: MapSpace) -> list[tuple[Structure, Array]]:
    """The ``ws``, ``os`` and ``is`` preset mappings as structures with their factor rows."""
    out = []
    for name in MAPPING_PRESETS:
        try:
            mapping = build_mapping(name, space.workload, space.architecture)
        except SasimError:
            continue
        seed = _as_structure(space, mapping)
        if seed is not None:
            out.append(seed)
    return out


def _as_structure(space: MapSpace, mapping: Mapping) -> tuple[Structure, Array] | None:
    names = space.level_names
    spatial = tuple((ax, lp.dim) for ax in (Axis.Y, Axis.X) for lp in mapping.spatial.get(ax, ())
                    if isinstance(lp.factor, int) and lp.factor > 1)
    loops = {names.index(n): [(lp.dim, lp.factor) for lp in lps if lp.factor != 1] for n, lps in
             mapping.temporal.items()}
    factors: dict[tuple[int, str], int] = {}
    for li, lps in loops.items():
        for d, f in lps:
            if not isinstance(f, int) or (li, d) in factors:
                return None
            factors[(li, d)] = f
    ls = max((li for li, lps in loops.items() if lps), default=-1)
    if ls < 0:
        return None
    stream = loops[ls][-1][0]
    orders: list[tuple[str, ...]] = []
    for li in range(space.pe + 1):
        if li > ls:
            orders.append(())
        elif li == ls == space.pe:
            orders.append(space.order_choices(li, li, stream)[0])
        else:
            own = [d for d, _ in loops.get(li, [])]
            orders.append(tuple([d for d in space.loop_dims if d not in own] + own))
    access = space.access_for(spatial, stream)
    if access is None:
        return None
    bypass = tuple((b.name, tuple(sorted(mapping.bypass[b.name]))) for b in space.architecture.buffers
                   if mapping.bypass.get(b.name))
    st = Structure(spatial, tuple(orders), stream, bypass, access)
    slots = space.slots(st)
    sp = {(lp.dim, ax): lp.factor for ax, lps in mapping.spatial.items() for lp in lps}
    row = np.array([[sp.get((d, ax), 1) if ax is not None else factors.get((li, d), 1)
                     for d, li, ax in zip(slots.dims, slots.levels, slots.axes)]], dtype=np.int64)
    return st, row


def search(
    workload: Workload,
    architecture: Architecture,
    *,
    objective: Objective | str = Objective.EDP,
    constraints: Constraints | None = None,
    top: int = 5,
    time_budget: float | None = None,
    seed: int = 0,
    jobs: int = 1,
    progress: ProgressCallback | None = None,
    effort: Effort | None = None,
) -> MapperResult:
    """Search the map-space of ``workload`` on ``architecture`` (see the module doc).

    ``time_budget`` (seconds) stops the search early with the best found so far; without
    it, the search ends after the work ``effort`` describes. Raises :class:`MappingError`
    when no mapping satisfies the constraints.
    """
    start = time.time()
    objective = Objective(objective)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise MappingError(f"top must be a positive integer, not {top!r}")
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise MappingError(f"jobs must be a positive integer, not {jobs!r}")
    if time_budget is not None and not time_budget >= 0:
        raise MappingError(f"time_budget must be a non-negative number of seconds, not {time_budget!r}")
    effort = effort or Effort()
    if not 0 < effort.descend_top <= 1:
        raise MappingError(f"effort.descend_top must be a fraction in (0, 1], not {effort.descend_top!r}")
    space = MapSpace(workload, architecture, constraints)
    if not space.dataflows:
        raise MappingError(
            f"no dataflow can map {workload.name!r} onto {architecture.name!r} under the constraints: for every "
            "choice of spatial dimensions and stream loop some tensor has no access entry the array's links allow"
        )
    deadline = None if time_budget is None else start + time_budget
    runner = _Search(space, objective, top, seed, jobs, effort, deadline, progress)
    total = space.count()
    exhaustive = total <= effort.max_structures
    try:
        items: list[tuple[int, Structure, bool, Array | None]] = []
        if exhaustive:
            items = [(runner._id(st), st, False, None) for st in space.structures()]
        else:
            if space.constraints.empty:
                for st, row in _preset_seeds(space):
                    if st not in runner.index:
                        items.append((runner._id(st), st, False, row))
            rng = np.random.default_rng(seed)
            families = space.families()
            if effort.stratify and len(families) <= effort.max_structures:
                # One structure of every family (dataflow, stream level, bypass) first, so none goes unseen.
                for k in rng.permutation(len(families)):
                    drawn = space.random_structure(rng, families[int(k)])
                    if drawn is not None and drawn not in runner.index:
                        items.append((runner._id(drawn), drawn, False, None))
            attempts = 0
            while len(items) < effort.max_structures and attempts < 20 * effort.max_structures:
                attempts += 1
                drawn = space.random_structure(rng)
                if drawn is not None and drawn not in runner.index:
                    items.append((runner._id(drawn), drawn, False, None))
        log.info("map-space: %d structures; exploring %d%s", total, len(items), " (all)" if exhaustive else "")
        runner.run("screen", items)
        for r in range(effort.rounds if not exhaustive else 0):
            if runner.out_of_time():
                break
            before = runner.incumbent.values[:1]
            ranked = runner.ranked()[: effort.refine_top]
            nxt: list[tuple[int, Structure, bool, Array | None]] = []
            for res in ranked:
                if res.index not in runner.deep_done and not res.complete:
                    runner.deep_done.add(res.index)
                    nxt.append((res.index, res.structure, True, res.best_rows(objective, 1)))
                for nb in space.neighbours(res.structure):
                    if nb not in runner.index:
                        nxt.append((runner._id(nb), nb, False, None))
            if not nxt:
                break
            runner.run(f"refine {r + 1}", nxt)
            if r > 0 and not _gained(before, runner.incumbent.values[:1], effort.min_gain):
                break
    finally:
        runner.close()
    return _finish(runner, workload, architecture, objective, top, seed, total, exhaustive, start)


def _gained(before: list[float], after: list[float], min_gain: float) -> bool:
    """Did a refinement round lower the best value by more than the fraction ``min_gain``?"""
    if not after:
        return False
    return not before or after[0] < before[0] * (1 - min_gain)


def _finish(runner: _Search, workload: Workload, architecture: Architecture, objective: Objective, top: int,
            seed: int, total: int, exhaustive: bool, start: float) -> MapperResult:
    space = runner.space
    results = [runner.results[i] for i in sorted(runner.results)]
    cand = [(res, k) for res in results for k in range(len(res.rows))]
    if not cand:
        stopped = runner.out_of_time()
        raise MappingError(
            f"no valid mapping of {workload.name!r} onto {architecture.name!r} was found"
            + (" before the time budget ran out" if stopped else "")
            + (f" with utilization at least {space.constraints.min_utilization:g}"
               if space.constraints.min_utilization > 0 else "")
            + ": every explored point breaks a capacity, array-size or constraint rule"
        )
    cycles = np.array([res.cycles[k] for res, k in cand], dtype=np.int64)
    energy = np.array([res.energy[k] for res, k in cand], dtype=np.float64)
    vals = objective_values(objective, cycles, energy)
    # Ties: the mapping with the fewest loops first (equal metrics often come from loops
    # that only move a factor between levels that hold nothing different).
    loops = [int((cand[i][0].rows[cand[i][1]] > 1).sum()) for i in range(len(cand))]
    order = sorted(range(len(cand)), key=lambda i: (vals[i], cycles[i], energy[i], loops[i], cand[i][0].index,
                                                    tuple(cand[i][0].rows[cand[i][1]].tolist())))
    seen: set[str] = set()
    metrics: set[tuple[int, float]] = set()
    top_points: list[MapPoint] = []
    for i in order:
        if (int(cycles[i]), float(energy[i])) in metrics:
            continue  # the top list shows distinct results
        point = _point(space, *cand[i], seen, cycles[i], energy[i])
        if point is not None:
            metrics.add((int(cycles[i]), float(energy[i])))
            top_points.append(point)
            if len(top_points) == top:
                break
    simplest: dict[tuple[int, float], int] = {}
    for i in order:
        simplest.setdefault((int(cycles[i]), float(energy[i])), i)
    front_points: list[MapPoint] = []
    for f in pareto_indices(cycles, energy):
        i = simplest[(int(cycles[f]), float(energy[f]))]
        point = _point(space, *cand[i], set(), cycles[i], energy[i])
        if point is not None:
            front_points.append(point)
    if not top_points:
        raise MappingError(f"no mapping of {workload.name!r} found by the search lowers (please report this)")
    explored = np.concatenate([r.sample for r in results]) if results else np.zeros((0, 2))
    stats = SearchStats(
        space_structures=total, structures=len(results),
        rows_evaluated=sum(r.evaluated for r in results), rows_valid=sum(r.valid for r in results),
        rows_pruned=sum(r.pruned for r in results),
        complete=exhaustive and all(r.complete for r in results) and len(results) == total
        and not runner.out_of_time(),
        stopped_by_budget=runner.out_of_time(), elapsed_s=time.time() - start,
    )
    log.info("mapper: %d structures, %d rows evaluated (%d pruned) in %.2f s", stats.structures,
             stats.rows_evaluated, stats.rows_pruned, stats.elapsed_s)
    return MapperResult(objective, top_points[0], tuple(top_points), tuple(front_points), explored, stats, seed)


def _point(space: MapSpace, res: StructureResult, k: int, seen: set[str], cycles: int,
           energy: float) -> MapPoint | None:
    """Re-check one found row with lower() + evaluate(); ``None`` for a duplicate mapping."""
    slots = space.slots(res.structure)
    mapping = space.mapping(res.structure, slots, res.rows[k])
    key = json.dumps(mapping.to_yaml_dict(), sort_keys=True)
    if key in seen:
        return None
    seen.add(key)
    try:
        design = lower(space.workload, space.architecture, mapping)
    except SasimError as exc:
        log.warning("a mapping found by the search does not lower (a mapper bug): %s", exc)
        return None
    result = evaluate(design)
    if result.cycles != cycles or not np.isclose(result.energy_pj, energy, rtol=1e-9):
        log.warning("batched and single evaluation differ for %s: %s vs %s cycles", key, cycles, result.cycles)
    return MapPoint(mapping, compact_mapping(mapping, space.level_names), result)
