"""The mapper's search: exact on spaces small enough to enumerate (checked against a
brute-force oracle), re-checked metrics, determinism, constraints, the time budget."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from conftest import buffer, make_arch
from mapper_oracle import evaluate_all, pareto

from sasim.arch import build_architecture
from sasim.arch.architecture import Architecture
from sasim.design import lower
from sasim.errors import MappingError
from sasim.mapping.constraints import Constraints
from sasim.mapping.explore import Incumbent, StructureResult, explore
from sasim.mapping.search import Effort, MapperResult, Objective, Progress, _as_structure, _gained, search
from sasim.mapping.space import MapSpace
from sasim.mapping.spec import Axis, Mapping
from sasim.model import evaluate, evaluate_batch
from sasim.workload import Workload, conv2d, gemm

EXHAUSTIVE = Effort(max_structures=100_000, exhaustive_rows=100_000)

SPACES = {
    # no buffer: orders at DRAM and PE, spatial on both axes
    "gemm_2x2": (gemm(3, 2, 2), make_arch(2, 2, input_registers=2, weight_registers=2, output_registers=2)),
    # a small buffer for weights and outputs: bypasses, capacity, imperfect factors of 3
    "gemm_buffer": (gemm(3, 2, 2), make_arch(2, 1, (buffer("GLB", ("weight", "output"), capacity=8),),
                                             input_registers=2, weight_registers=1, output_registers=2)),
    # a convolution: P + R input rows
    "conv": (conv2d(K=2, C=1, H=4, W=1, R=3, S=1),
             make_arch(2, 2, input_registers=3, weight_registers=3, output_registers=2)),
}

KEYS = {
    Objective.LATENCY: lambda c, e: c,
    Objective.ENERGY: lambda c, e: e,
    Objective.EDP: lambda c, e: c * e,
}


@pytest.fixture(scope="module")
def oracle() -> dict[str, list[tuple[Mapping, int, float, float]]]:
    return {name: evaluate_all(wl, arch) for name, (wl, arch) in SPACES.items()}


_EXHAUSTIVE_RESULTS: dict[tuple[str, Objective], MapperResult] = {}


def exhaustive(name: str, objective: Objective) -> MapperResult:
    if (name, objective) not in _EXHAUSTIVE_RESULTS:
        workload, arch = SPACES[name]
        _EXHAUSTIVE_RESULTS[(name, objective)] = search(workload, arch, objective=objective, effort=EXHAUSTIVE,
                                                        top=3, jobs=2)
    return _EXHAUSTIVE_RESULTS[(name, objective)]


def check_points(result: MapperResult, workload: Workload, arch: Architecture) -> None:
    """Every returned mapping lowers and its reported metrics are evaluate()'s."""
    for point in (*result.top, *result.pareto):
        again = evaluate(lower(workload, arch, point.mapping))
        assert again == point.result
        assert (point.cycles, point.energy_pj) == (again.cycles, again.energy_pj)
        assert point.edp == again.cycles * again.energy_pj


@pytest.mark.parametrize("objective", list(Objective))
@pytest.mark.parametrize("name", list(SPACES))
def test_exhaustive_optimum(oracle: dict[str, Any], name: str, objective: Objective) -> None:
    workload, arch = SPACES[name]
    result = exhaustive(name, objective)
    assert result.stats.complete
    key = KEYS[objective]
    best = min(key(c, e) for _, c, e, _ in oracle[name])
    assert result.best.value(objective) == pytest.approx(best, rel=1e-12)
    values = [p.value(objective) for p in result.top]
    assert values == sorted(values)
    check_points(result, workload, arch)


@pytest.mark.parametrize("name", list(SPACES))
def test_exhaustive_pareto_front(oracle: dict[str, Any], name: str) -> None:
    result = exhaustive(name, Objective.EDP)
    front = pareto([(c, e) for _, c, e, _ in oracle[name]])
    found = sorted((p.cycles, p.energy_pj) for p in result.pareto)
    expected = sorted(front)
    assert [c for c, _ in found] == [c for c, _ in expected]  # cycles are integers: exact
    assert [e for _, e in found] == pytest.approx([e for _, e in expected], rel=1e-12)
    assert [p.cycles for p in result.pareto] == sorted(p.cycles for p in result.pareto)


SAMPLED = Effort(max_structures=40, samples=64, screen_steps=2, deep_steps=4, refine_top=2, rounds=2, chunk=4)


def sampled(jobs: int, seed: int = 3, **kw: Any) -> MapperResult:
    arch = make_arch(4, 4, (buffer("GLB", capacity=2048),), input_registers=4, weight_registers=4,
                     output_registers=4)
    return search(gemm(24, 20, 36), arch, effort=SAMPLED, seed=seed, jobs=jobs, top=4, **kw)


def summary(result: MapperResult) -> list[Any]:
    return [(p.compact, p.cycles, p.energy_pj) for p in (*result.top, *result.pareto)] + [
        result.stats.structures, result.stats.rows_evaluated, result.explored.tolist()]


def test_deterministic_for_a_seed_with_one_and_two_jobs() -> None:
    one = sampled(1)
    assert not one.stats.complete
    assert summary(one) == summary(sampled(2))
    assert summary(one) == summary(sampled(1))


def test_sampled_search_returns_checked_points() -> None:
    result = sampled(2)
    arch = make_arch(4, 4, (buffer("GLB", capacity=2048),), input_registers=4, weight_registers=4,
                     output_registers=4)
    check_points(result, gemm(24, 20, 36), arch)
    assert result.best.value(Objective.EDP) <= min(p.value(Objective.EDP) for p in result.pareto)


def test_progress_is_reported() -> None:
    seen: list[Progress] = []
    sampled(1, progress=seen.append)
    assert seen and seen[0].phase == "screen"
    screen = [p for p in seen if p.phase == "screen"]
    assert screen[-1].done == screen[-1].total
    assert all(a.done <= b.done for a, b in zip(screen, screen[1:]))


def test_time_budget_stops_the_search() -> None:
    result = sampled(1, time_budget=0.0)
    full = sampled(1)
    assert result.stats.stopped_by_budget
    assert not full.stats.stopped_by_budget
    assert result.stats.structures <= SAMPLED.chunk < full.stats.structures  # only the first chunk ran
    arch = make_arch(4, 4, (buffer("GLB", capacity=2048),), input_registers=4, weight_registers=4,
                     output_registers=4)
    check_points(result, gemm(24, 20, 36), arch)


def test_constraints_are_respected() -> None:
    wl = gemm(16, 12, 8)
    arch = make_arch(4, 4, (buffer("GLB", capacity=4096),), input_registers=2, weight_registers=2,
                     output_registers=2)
    cons = Constraints.from_mapping(Mapping.model_validate({
        "temporal": {"GLB": "K=* M=*"}, "spatial": {"Y": "M=4", "X": "N=*"}, "bypass": {"GLB": ["W"]},
        "access": {"O": "stationary"}}), wl, arch, min_utilization=0.25)
    result = search(wl, arch, constraints=cons, top=3)
    for p in (*result.top, *result.pareto):
        m = p.mapping
        assert [lp.dim for lp in m.temporal.get("GLB", ())] in (["K", "M"], ["K"], ["M"], [])
        assert [(lp.dim, lp.factor) for lp in m.spatial[Axis.Y]] == [("M", 4)]
        assert [lp.dim for lp in m.spatial[Axis.X]] == ["N"]
        assert m.bypass == {"GLB": ("W",)}
        assert m.access["O"] == "stationary"
        assert p.utilization >= 0.25
    check_points(result, wl, arch)


def test_min_utilization_too_high_wrong() -> None:
    wl, arch = SPACES["gemm_2x2"]
    cons = Constraints.from_mapping(None, wl, arch, min_utilization=0.99)
    with pytest.raises(MappingError) as info:
        search(wl, arch, constraints=cons, effort=EXHAUSTIVE)
    assert str(info.value) == (
        "no valid mapping of 'gemm' onto 'accelerator' was found with utilization at least 0.99: every explored "
        "point breaks a capacity, array-size or constraint rule")


def test_impossible_access_constraint_wrong() -> None:
    wl, arch = SPACES["gemm_2x2"]
    cons = Constraints.from_mapping(Mapping.model_validate({"access": {"I": "chain-x"}}), wl, arch)
    with pytest.raises(MappingError) as info:
        search(wl, arch, constraints=cons)
    assert str(info.value) == (
        "no dataflow can map 'gemm' onto 'accelerator' under the constraints: for every choice of spatial "
        "dimensions and stream loop some tensor has no access entry the array's links allow")


@pytest.mark.parametrize(("kw", "message"), [
    ({"top": 0}, "top must be a positive integer, not 0"),
    ({"jobs": 0}, "jobs must be a positive integer, not 0"),
    ({"time_budget": -1.0}, "time_budget must be a non-negative number of seconds, not -1.0"),
])
def test_search_arguments_wrong(kw: dict[str, Any], message: str) -> None:
    wl, arch = SPACES["gemm_2x2"]
    with pytest.raises(MappingError) as info:
        search(wl, arch, **kw)
    assert str(info.value) == message


def test_unknown_objective_wrong() -> None:
    wl, arch = SPACES["gemm_2x2"]
    with pytest.raises(ValueError, match="'speed' is not a valid Objective"):
        search(wl, arch, objective="speed")


def test_kicks_leave_a_local_minimum_the_descent_stops_in() -> None:
    """On eyeriss's large GEMM, in this structure, the plain descent from seed 0 stops at a
    point where every single-factor move breaks the global buffer's capacity or costs more;
    the kicks (random perturbations of two or three loops) get past it."""
    workload, arch = gemm(M=3072, N=1024, K=4096), build_architecture("eyeriss")
    space = MapSpace(workload, arch)
    mapping = Mapping.model_validate({
        "temporal": {"DRAM": "M=15 N=8", "global_buffer": "K=57 M=103", "PE": "N=10 K=6 M=2"},
        "spatial": {"Y": "K=12", "X": "N=13"}, "bypass": {"global_buffer": ["I"]},
    })
    seeded = _as_structure(space, mapping)
    assert seeded is not None
    best = {}
    for kicks in (0, 5):
        res = explore(space, 0, seeded[0], deep=True, objective=Objective.EDP, top=3,
                      effort=replace(Effort(), kicks=kicks, polish_steps=0, sparse_samples=0),
                      incumbent=Incumbent(Objective.EDP, 3),
                      rng=np.random.default_rng(0), min_util=0.0)
        best[kicks] = res.best
    assert best[5] < 0.9 * best[0]


def test_the_polish_leaves_a_point_where_two_loops_must_change_together() -> None:
    """Eyeriss's large GEMM in its best structure: the deep descent (kicks included) stops
    about 18% above the best point known; from there the pair moves reach it, because a
    larger PE tile of N fits only with a smaller global-buffer tile of M."""
    workload, arch = gemm(M=3072, N=1024, K=4096), build_architecture("eyeriss")
    space = MapSpace(workload, arch)
    known = Mapping.model_validate({
        "temporal": {"DRAM": "M=15 N=8", "global_buffer": "K=49 M=103", "PE": "N=11 K=6 M=2"},
        "spatial": {"Y": "N=12", "X": "K=14"}, "bypass": {"global_buffer": ["I"]},
    })
    stuck = Mapping.model_validate({
        "temporal": {"DRAM": "M=11 N=11", "global_buffer": "K=49 M=140", "PE": "N=8 K=6 M=2"},
        "spatial": {"Y": "N=12", "X": "K=14"}, "bypass": {"global_buffer": ["I"]},
    })
    seeded, stuck_seeded = _as_structure(space, known), _as_structure(space, stuck)
    assert seeded is not None and stuck_seeded is not None
    (st, known_row), (st2, stuck_row) = seeded, stuck_seeded
    assert st == st2
    slots = space.slots(st)
    design = space.template(st, slots)
    target = evaluate_batch(design, known_row).edp[0]
    # No single-factor move from the stuck point gets below it ...
    single = space.neighbour_rows(slots, stuck_row)
    start = evaluate_batch(design, stuck_row).edp[0]
    res = evaluate_batch(design, single)
    assert start > 1.1 * target
    assert res.edp[res.valid].min() >= start
    # ... and one pair move reaches the best point.
    pairs = space.pair_rows(slots, stuck_row[0])
    assert any(np.array_equal(r, known_row[0]) for r in pairs)
    for polish in (0, 8):
        ex = explore(space, 0, st, deep=True, objective=Objective.EDP, top=3,
                     effort=replace(Effort(), deep_steps=0, kicks=0, polish_steps=polish, samples=0,
                                    sparse_samples=0),
                     incumbent=Incumbent(Objective.EDP, 3), rng=np.random.default_rng(0), min_util=0.0,
                     extra_rows=stuck_row)
        assert ex.best == pytest.approx(target if polish else start, rel=1e-12)


def test_structure_result_best_rows_are_ordered_by_the_objective() -> None:
    rows = np.array([[1, 4], [2, 2], [4, 1], [8, 1]])
    cycles = np.array([10, 40, 20, 5])
    energy = np.array([9.0, 1.0, 2.0, 30.0])  # EDP 90, 40, 40, 150
    res = StructureResult(0, None, rows, cycles, energy, np.ones(4), 40.0, np.zeros((0, 2)))  # type: ignore[arg-type]
    # equal EDP: fewer cycles first
    assert res.best_rows(Objective.EDP, 3).tolist() == [[4, 1], [2, 2], [1, 4]]
    assert res.best_rows(Objective.LATENCY, 1).tolist() == [[8, 1]]
    assert res.best_rows(Objective.ENERGY, 2).tolist() == [[2, 2], [4, 1]]


def test_refinement_goes_on_only_while_a_round_gains_enough() -> None:
    assert _gained([], [5.0], 0.001)  # the first value found
    assert not _gained([], [], 0.001)
    assert not _gained([100.0], [100.0], 0.0)
    assert _gained([100.0], [99.95], 0.0)
    assert not _gained([100.0], [99.95], 0.001)  # 0.05% is below the 0.1% asked for
    assert _gained([100.0], [99.8], 0.001)


def _spy_explore(monkeypatch: pytest.MonkeyPatch) -> list[tuple[dict[str, Any], StructureResult]]:
    """Record every explore() call of a one-job search: its options and its result."""
    import sasim.mapping.search as search_module

    calls: list[tuple[dict[str, Any], StructureResult]] = []
    real = search_module.explore

    def spy(space: MapSpace, index: int, st: Any, **kw: Any) -> StructureResult:
        res = real(space, index, st, **kw)
        calls.append(({"index": index, "deep": kw["deep"], "sample": kw["sample"], "descend": kw["descend"]}, res))
        return res

    monkeypatch.setattr(search_module, "explore", spy)
    return calls


def test_only_the_screened_structures_whose_random_rows_did_best_descend(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy_explore(monkeypatch)
    sampled(1)
    assert SAMPLED.descend_top == 0.2
    # the first phase: every structure's random rows, without a descent ...
    first = next(i for i, (kw, _) in enumerate(calls) if not kw["sample"])
    stage1 = calls[:first]
    assert stage1 and all(kw["sample"] and not kw["descend"] and not kw["deep"] for kw, _ in stage1)
    # ... then a descent, without new random rows, for the best fifth of them
    stage2 = []
    for kw, _ in calls[first:]:
        if kw["sample"]:
            break
        stage2.append(kw)
    assert all(kw["descend"] and not kw["deep"] for kw in stage2)
    candidates = sorted(((res.best, kw["index"]) for kw, res in stage1 if not res.complete and res.best < np.inf))
    assert len(candidates) > len(stage2) == -(-len(stage1) // 5)
    assert [kw["index"] for kw in stage2] == [index for _, index in candidates[:len(stage2)]]


def test_every_screened_structure_descends_with_descend_top_one(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy_explore(monkeypatch)
    arch = make_arch(4, 4, (buffer("GLB", capacity=2048),), input_registers=4, weight_registers=4,
                     output_registers=4)
    search(gemm(24, 20, 36), arch, effort=replace(SAMPLED, descend_top=1.0), seed=3, top=4)
    assert calls and all(kw["sample"] and kw["descend"] for kw, _ in calls)


@pytest.mark.parametrize("fraction", [0.0, 1.5, -0.2])
def test_descend_top_out_of_range_wrong(fraction: float) -> None:
    wl, arch = SPACES["gemm_2x2"]
    with pytest.raises(MappingError) as info:
        search(wl, arch, effort=replace(Effort(), descend_top=fraction))
    assert str(info.value) == f"effort.descend_top must be a fraction in (0, 1], not {fraction!r}"


def test_every_family_is_screened_when_there_are_few_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _spy_explore(monkeypatch)
    arch, wl = make_arch(4, 4), gemm(24, 20, 36)
    space = MapSpace(wl, arch)
    families = len(space.families())
    assert families < 100 < space.count()  # 54 families of 4 structures; 100 are drawn

    def screened_families(stratify: bool) -> set[tuple[Any, ...]]:
        calls.clear()
        search(wl, arch, effort=replace(SAMPLED, max_structures=100, stratify=stratify, rounds=0), seed=3, top=4)
        return {(res.structure.spatial, res.structure.stream, res.structure.stream_level, res.structure.bypass)
                for kw, res in calls if kw["sample"]}

    assert len(screened_families(True)) == families
    assert len(screened_families(False)) < families  # 40 plain random draws miss some


def test_sparse_structures_get_log_space_rows_and_line_moves() -> None:
    """A structure whose random rows mostly overflow the PE registers is marked sparse and
    gets the extra rows; with roomy registers the same structure is not."""
    wl = gemm(M=3072, N=1024, K=4096)
    rows_seen = {}
    for regs in (4, 1 << 16):
        arch = make_arch(4, 4, (buffer("GLB", capacity=1 << 20),), input_registers=regs, weight_registers=regs,
                         output_registers=regs)
        space = MapSpace(wl, arch)
        mapping = Mapping.model_validate({
            "temporal": {"DRAM": "M=48 N=8 K=16", "GLB": "M=32 N=32 K=64", "PE": "K=2 M=2"},
            "spatial": {"Y": "N=4", "X": "K=2"},
        })
        seeded = _as_structure(space, mapping)
        assert seeded is not None
        for extra in (0, 400):
            res = explore(space, 0, seeded[0], deep=False, objective=Objective.EDP, top=3,
                          effort=replace(Effort(), sparse_samples=extra), incumbent=Incumbent(Objective.EDP, 3),
                          rng=np.random.default_rng(0), min_util=0.0, descend=False)
            rows_seen[(regs, extra)] = (res.sparse, res.evaluated, res.valid)
    assert rows_seen[(4, 400)][0] and rows_seen[(4, 0)][0]
    assert not rows_seen[(1 << 16, 400)][0]
    # the sparse structure got 400 more rows, and more of them fit than of the random ones
    (_, ev0, va0), (_, ev1, va1) = rows_seen[(4, 0)], rows_seen[(4, 400)]
    assert ev1 > ev0 and va1 - va0 > va0
    assert rows_seen[(1 << 16, 400)][1] == rows_seen[(1 << 16, 0)][1]
