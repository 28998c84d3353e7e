"""Exploring one structure: its factor rows, evaluated in batches, pruned by lower bounds.

This is the mapper's inner loop, run in worker processes. A structure is lowered once
(:meth:`MapSpace.template`); its factor rows are either all enumerated (small
structures) or sampled and improved by a batched descent (every row one step from the
current best ones is evaluated in one call). Rows whose lower bounds cannot beat the
incumbent (the best objective values and the Pareto front found so far in this chunk)
are not evaluated.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from sasim.mapping.space import MapSpace, Slots, Structure
from sasim.model.evaluate import evaluate_batch, valid_batch

__all__ = ["Effort", "Incumbent", "Objective", "StructureResult", "explore", "objective_values", "pareto_indices"]

Array = np.ndarray

#: Rows per evaluate_batch call at most (memory stays small, overhead stays amortized).
_BATCH = 4096


class Objective(StrEnum):
    """What the mapper minimizes."""

    LATENCY = "latency"
    ENERGY = "energy"
    EDP = "edp"


@dataclass(frozen=True)
class Effort:
    """How hard the search tries (the defaults aim at seconds per layer on two cores).

    ``max_structures``: the whole space is enumerated if it has at most this many
    structures, else this many are sampled; with ``stratify``, when the space has at most
    that many families (dataflow, stream level, bypass), one structure of every family
    comes first. ``exhaustive_rows``: a structure's factor rows are all evaluated if there
    are at most this many, else ``samples`` random rows are evaluated; a structure where
    fewer than the fraction ``sparse`` of them fit (small buffers) gets ``sparse_samples``
    more rows split in log space, and ``line`` moves (one loop to any factor) in its
    descents. In the fraction ``descend_top`` of the screened structures whose random rows
    did best, the rows are improved by ``screen_steps`` descent steps from the ``starts``
    best. The ``refine_top`` best structures then get ``deep_steps`` steps (restarted up
    to ``kicks`` times from ``kick_rows`` perturbations of the best rows when they stop
    improving for ``patience`` steps) and up to ``polish_steps`` pair moves (two loops
    changed together), and their neighbour structures a screen, for up to ``rounds``
    rounds while a round improves the best by more than ``min_gain`` (a fraction; the
    first two rounds always run). ``chunk`` structures make one task for a worker.
    """

    max_structures: int = 400
    exhaustive_rows: int = 2048
    samples: int = 400
    screen_steps: int = 4
    descend_top: float = 0.2
    starts: int = 2
    deep_steps: int = 60
    deep_starts: int = 4
    kicks: int = 5
    kick_rows: int = 500
    patience: int = 2
    polish_steps: int = 8
    refine_top: int = 10
    rounds: int = 6
    min_gain: float = 0.005
    chunk: int = 2
    sparse: float = 0.1
    sparse_samples: int = 400
    line: bool = True
    stratify: bool = True


def objective_values(objective: Objective, cycles: Array, energy: Array) -> Array:
    if objective is Objective.LATENCY:
        return np.asarray(cycles, dtype=np.float64)
    if objective is Objective.ENERGY:
        return np.asarray(energy, dtype=np.float64)
    return np.asarray(cycles * energy, dtype=np.float64)


def pareto_indices(cycles: Array, energy: Array) -> Array:
    """Indices of the points no other point weakly dominates (one per distinct value pair),
    sorted by cycles."""
    if len(cycles) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((energy, cycles))
    keep = []
    best = np.inf
    for i in order:
        if energy[i] < best:
            keep.append(i)
            best = energy[i]
    return np.array(keep, dtype=np.int64)


@dataclass
class Incumbent:
    """The best found so far, for pruning: the ``top`` smallest objective values and the
    Pareto front (cycles ascending, energy descending)."""

    objective: Objective
    top: int
    values: list[float] = field(default_factory=list)
    front: Array = field(default_factory=lambda: np.zeros((0, 2)))

    def update(self, cycles: Array, energy: Array) -> None:
        if len(cycles) == 0:
            return
        vals = objective_values(self.objective, cycles, energy)
        self.values = sorted([*self.values, *np.sort(vals)[: self.top].tolist()])[: self.top]
        c = np.concatenate([self.front[:, 0], cycles.astype(np.float64)])
        e = np.concatenate([self.front[:, 1], energy.astype(np.float64)])
        keep = pareto_indices(c, e)
        self.front = np.stack([c[keep], e[keep]], axis=1)

    def beaten(self, cycles_lb: Array, energy_lb: float) -> Array:
        """True where a point with these lower bounds can enter neither the top list nor the front."""
        out = np.ones(len(cycles_lb), dtype=bool)
        if len(self.values) < self.top:
            return ~out
        lb_obj = objective_values(self.objective, cycles_lb, np.full(len(cycles_lb), energy_lb))
        out &= lb_obj > self.values[-1]
        if len(self.front):
            pos = np.searchsorted(self.front[:, 0], cycles_lb, side="right") - 1
            dominated = (pos >= 0) & (self.front[np.maximum(pos, 0), 1] <= energy_lb)
            out &= dominated
        else:
            out[:] = False
        return out

    def copy(self) -> Incumbent:
        return Incumbent(self.objective, self.top, list(self.values), self.front.copy())


@dataclass
class StructureResult:
    """What one structure yields: its Pareto rows, its best rows by the objective, a sample
    of evaluated points for plots, and counters."""

    index: int
    structure: Structure
    rows: Array  # (k, L): the Pareto rows, then the top rows
    cycles: Array
    energy: Array
    utilization: Array
    best: float  # best objective value (inf: no valid row)
    sample: Array  # (s, 2) cycles, energy
    evaluated: int = 0
    pruned: int = 0
    valid: int = 0
    complete: bool = False  # every factor row of the structure was considered
    skipped: bool = False  # not explored (time budget or infeasible)
    sparse: bool = False  # few of its random rows fit (``Effort.sparse``): it got extra rows and line moves

    def best_rows(self, objective: Objective, k: int) -> Array:
        """The ``k`` best rows by ``objective`` (ties broken as everywhere else)."""
        if not len(self.rows):
            return self.rows
        return np.asarray(self.rows[_order(objective, self.cycles, self.energy, self.rows, k)])


class _Found:
    def __init__(self, width: int) -> None:
        self.rows: list[Array] = [np.zeros((0, width), dtype=np.int64)]
        self.cycles: list[Array] = [np.zeros(0, dtype=np.int64)]
        self.energy: list[Array] = [np.zeros(0)]
        self.util: list[Array] = [np.zeros(0)]

    def add(self, rows: Array, cycles: Array, energy: Array, util: Array) -> None:
        self.rows.append(rows)
        self.cycles.append(cycles)
        self.energy.append(energy)
        self.util.append(util)

    def arrays(self) -> tuple[Array, Array, Array, Array]:
        if len(self.rows) > 1:  # joined once, then kept joined
            self.rows, self.cycles = [np.concatenate(self.rows)], [np.concatenate(self.cycles)]
            self.energy, self.util = [np.concatenate(self.energy)], [np.concatenate(self.util)]
        return self.rows[0], self.cycles[0], self.energy[0], self.util[0]


def _order(objective: Objective, cycles: Array, energy: Array, rows: Array, k: int | None = None) -> Array:
    """Indices sorted by objective, then cycles, energy and the row itself (deterministic);
    with ``k``, only the first ``k`` of that order."""
    vals = objective_values(objective, cycles, energy)
    pick = np.arange(len(vals))
    if k is not None and 0 < k < len(vals):
        # Only the rows with a value no larger than the k-th smallest can come first; the
        # sort is stable, so ordering just those gives the same first k.
        pick = np.flatnonzero(vals <= np.partition(vals, k - 1)[k - 1])
        rows, cycles, energy, vals = rows[pick], cycles[pick], energy[pick], vals[pick]
    keys = [rows[:, j] for j in range(rows.shape[1] - 1, -1, -1)] + [energy, cycles, vals]
    return pick[np.lexsort(keys)][:k]


class _Explorer:
    def __init__(self, space: MapSpace, index: int, st: Structure, slots: Slots, incumbent: Incumbent,
                 min_util: float) -> None:
        self.space, self.index, self.st, self.slots = space, index, st, slots
        self.incumbent = incumbent
        self.min_util = min_util
        self.found = _Found(slots.width)
        self.seen: set[bytes] = set()
        self.evaluated = self.pruned = self.valid = 0
        self.design = space.template(st, slots)

    def run(self, *batches: Array) -> None:
        """Evaluate the rows of ``batches`` not seen before, in as few model calls as can be:
        the model's cost is mostly per call, not per row."""
        self.evaluate(np.concatenate([self.admit(rows) for rows in batches]))

    def admit(self, rows: Array) -> Array:
        """The rows of ``rows`` to evaluate: not seen before, not beaten by the incumbent's
        bounds, and obeying every rule (:func:`valid_batch`, far cheaper than the model)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1, self.slots.width)
        fresh = [i for i, r in enumerate(rows) if r.tobytes() not in self.seen]
        rows = rows[fresh]
        self.seen.update(r.tobytes() for r in rows)
        if not len(rows) or self.design is None:
            return rows[:0]
        beaten = self.incumbent.beaten(self.space.cycles_lower_bound(self.slots, rows), self.space.energy_lb)
        self.pruned += int(beaten.sum())
        rows = rows[~beaten]
        self.evaluated += len(rows)
        return rows[valid_batch(self.design, rows)] if len(rows) else rows

    def evaluate(self, rows: Array) -> None:
        """Evaluate rows that :meth:`admit` let through and keep the valid ones."""
        if self.design is None:
            return
        for start in range(0, len(rows), _BATCH):
            part = rows[start:start + _BATCH]
            res = evaluate_batch(self.design, part, checked=True)
            ok = res.utilization >= self.min_util
            self.valid += int(ok.sum())
            self.found.add(part[ok], res.cycles[ok], res.energy_pj[ok], res.utilization[ok])
            self.incumbent.update(res.cycles[ok], res.energy_pj[ok])

    def starts(self, objective: Objective, k: int) -> Array:
        rows, cycles, energy, _ = self.found.arrays()
        if not len(rows):
            return rows
        picks = list(_order(objective, cycles, energy, rows, k))
        picks.append(int(_order(Objective.LATENCY, cycles, energy, rows, 1)[0]))
        picks.append(int(_order(Objective.ENERGY, cycles, energy, rows, 1)[0]))
        return np.unique(rows[picks], axis=0)

    def best_row(self, objective: Objective) -> Array:
        rows, cycles, energy, _ = self.found.arrays()
        return np.asarray(rows[_order(objective, cycles, energy, rows, 1)][0])

    def best_value(self, objective: Objective) -> float:
        _, cycles, energy, _ = self.found.arrays()
        return float(objective_values(objective, cycles, energy).min()) if len(cycles) else float("inf")

    def descend(self, objective: Objective, steps: int, k: int, kicks: int = 0, kick_rows: int = 0,
                patience: int = 0, rng: np.random.Generator | None = None, line: bool = False) -> None:
        """Move the ``k`` best rows (and the fastest and the most frugal) to their best
        neighbours for up to ``steps`` steps. With ``kicks``, when the descent has
        converged, or the best value has not improved for ``patience`` steps, it restarts
        from ``kick_rows`` random perturbations of the best rows (up to ``kicks`` times):
        a capacity limit often walls a better point off from every single-factor move."""
        current = self.starts(objective, k)
        best = self.best_value(objective)
        stalled = 0
        for _ in range(steps):
            if not len(current):
                return
            moves = [self.space.neighbour_rows(self.slots, current)]
            if line:
                moves.append(self.space.line_rows(self.slots, self.best_row(objective)))
            self.run(*moves)
            nxt = self.starts(objective, k)
            now = self.best_value(objective)
            stalled = 0 if now < best else stalled + 1
            best = min(best, now)
            converged = nxt.shape == current.shape and np.array_equal(nxt, current)
            if converged or (kicks and stalled >= patience):
                if kicks <= 0 or rng is None:
                    return
                kicks -= 1
                rows, cycles, energy, _ = self.found.arrays()
                top = rows[_order(objective, cycles, energy, rows, k)]
                self.run(self.space.kicked_rows(self.slots, top, rng, kick_rows))
                nxt = self.starts(objective, k)
                stalled = 0
            current = nxt

    def polish(self, objective: Objective, steps: int) -> None:
        """Move the best row to its best pair neighbour (:meth:`MapSpace.pair_rows`) while that
        improves, up to ``steps`` times: the descent's single-factor moves end where two
        loops must change together."""
        for _ in range(steps):
            before = self.best_value(objective)
            if before == float("inf"):
                return
            self.run(self.space.pair_rows(self.slots, self.best_row(objective)))
            if not self.best_value(objective) < before:
                return

    def result(self, objective: Objective, top: int, rng: np.random.Generator, complete: bool) -> StructureResult:
        rows, cycles, energy, util = self.found.arrays()
        front = pareto_indices(cycles, energy)
        best_rows = _order(objective, cycles, energy, rows, top)
        keep = np.concatenate([front, best_rows])
        n_sample = min(len(rows), 96)
        pick = rng.choice(len(rows), size=n_sample, replace=False) if n_sample else np.zeros(0, dtype=np.int64)
        best = float(objective_values(objective, cycles, energy).min()) if len(rows) else float("inf")
        return StructureResult(
            index=self.index, structure=self.st, rows=rows[keep], cycles=cycles[keep], energy=energy[keep],
            utilization=util[keep], best=best, sample=np.stack([cycles[pick], energy[pick]], axis=1).astype(float),
            evaluated=self.evaluated, pruned=self.pruned, valid=self.valid, complete=complete,
        )


def explore(space: MapSpace, index: int, st: Structure, *, deep: bool, objective: Objective, top: int,
            effort: Effort, incumbent: Incumbent, rng: np.random.Generator, min_util: float,
            extra_rows: Array | None = None, deadline: float | None = None, sample: bool = True,
            descend: bool = True, sparse: bool | None = None) -> StructureResult:
    """Explore one structure (``deep``: a longer descent from more starts). Without ``sample``
    no random rows are drawn (the descent starts from ``extra_rows``); without ``descend``
    the rows evaluated are the random ones and ``extra_rows``."""
    empty = StructureResult(index, st, np.zeros((0, 0), dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0),
                            np.zeros(0), float("inf"), np.zeros((0, 2)), skipped=True)
    if deadline is not None and time.time() > deadline:
        return empty
    slots = space.slots(st)
    ex = _Explorer(space, index, st, slots, incumbent, min_util)
    if ex.design is None:
        empty.skipped = False
        empty.complete = True
        return empty
    # A whole structure whose best case cannot enter the results is skipped.
    best_case = space.minimal_row(slots)
    for j, ax in enumerate(slots.axes):
        if ax is not None and slots.fixed[j] == 0:
            best_case[0, j] = slots.limits[j]
    if incumbent.beaten(space.cycles_lower_bound(slots, best_case), space.energy_lb)[0]:
        res = ex.result(objective, top, rng, complete=True)
        res.pruned = 1
        return res
    complete = space.row_count(slots) <= effort.exhaustive_rows
    if complete:
        ex.run(space.all_rows(slots))
    else:
        if sample:
            before = ex.evaluated
            rows = ex.admit(space.random_rows(slots, rng, effort.samples))
            if sparse is None:
                sparse = len(rows) < effort.sparse * (ex.evaluated - before)
            if sparse and effort.sparse_samples:
                rows = np.concatenate([rows, ex.admit(space.split_rows(slots, rng, effort.sparse_samples))])
            ex.evaluate(rows)
        if extra_rows is not None and len(extra_rows):
            rows, ok = space.normalize(slots, extra_rows)
            ex.run(rows[ok])
        if descend and deep:
            ex.descend(objective, effort.deep_steps, effort.deep_starts, kicks=effort.kicks,
                       kick_rows=effort.kick_rows, patience=effort.patience, rng=rng)
            ex.polish(objective, effort.polish_steps)
        elif descend:
            ex.descend(objective, effort.screen_steps, effort.starts, line=effort.line and bool(sparse))
    res = ex.result(objective, top, rng, complete)
    res.sparse = bool(sparse)
    return res
