"""The map-space: structures, their slots and templates, factor rows, bounds, constraints."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import buffer, make_arch

from sasim.arch.architecture import Architecture, LinkKind, PEArray
from sasim.design import lower
from sasim.errors import MappingError
from sasim.mapping.constraints import Constraints
from sasim.mapping.space import MapSpace, Slots, Structure, compact_mapping, factor_candidates
from sasim.mapping.spec import Axis, Mapping
from sasim.model import evaluate, evaluate_batch
from sasim.model.evaluate import valid_batch
from sasim.rows import unique_rows
from sasim.workload import conv2d, gemm


def small_space() -> MapSpace:
    arch = make_arch(2, 2, (buffer("GLB", ("weight", "output"), capacity=64),), input_registers=2,
                     weight_registers=2, output_registers=2)
    return MapSpace(gemm(3, 4, 2), arch)


def test_factor_candidates_small_sizes_take_every_integer() -> None:
    assert factor_candidates(6) == (1, 2, 3, 4, 5, 6)


def test_factor_candidates_large_sizes_take_divisors_and_ceil_splits() -> None:
    cands = factor_candidates(100)
    assert {1, 2, 4, 5, 10, 20, 25, 50, 100} <= set(cands)  # divisors
    assert {34, 15, 9, 4} <= set(cands)  # ceil(100 / k) for k = 3, 7, 12, 25
    assert {64, 32} <= set(cands)  # powers of two
    assert list(cands) == sorted(set(cands))


def test_count_equals_the_enumerated_structures() -> None:
    space = small_space()
    structures = space.structures()
    assert len(structures) == space.count() == len(set(structures))


def test_structures_pin_their_stream_loop_and_access_entries() -> None:
    space = small_space()
    rng = np.random.default_rng(1)
    structures = space.structures()
    for k in rng.choice(len(structures), size=40, replace=False):
        st = structures[int(k)]
        slots = space.slots(st)
        template = space.template(st, slots)
        if template is None:
            continue
        assert [lp.dim for lp in template.loops] == list(slots.dims)
        rows = space.all_rows(slots)
        for row in rows[:: max(1, len(rows) // 5)]:
            design = lower(space.workload, space.relaxed, space.mapping(st, slots, row))
            stream = design.stream_loop()
            assert (stream.dim if stream else None) == st.stream
            assert {t: e.name for t, e in design.access.items()} == dict(st.access)


def test_batch_rows_equal_single_evaluation() -> None:
    space = small_space()
    checked = 0
    for st in space.structures()[::97]:
        slots = space.slots(st)
        template = space.template(st, slots)
        if template is None:
            continue
        rows = space.all_rows(slots)
        res = evaluate_batch(template, rows)
        for i in np.flatnonzero(res.valid)[:4]:
            single = evaluate(lower(space.workload, space.architecture, space.mapping(st, slots, rows[i])))
            assert single.cycles == res.cycles[i]
            assert single.energy_pj == pytest.approx(res.energy_pj[i], rel=1e-12)
            checked += 1
    assert checked > 20


def test_normalize_gives_the_remainder_to_dram_and_drops_unused_factors() -> None:
    space = MapSpace(gemm(7, 1, 1), make_arch(1, 1))
    st = next(s for s in space.structures() if s.orders[1] == ("M",))
    slots = space.slots(st)
    assert slots.dims == ("M", "M") and slots.levels == (0, 1)
    rows, ok = space.normalize(slots, np.array([[1, 3], [1, 7], [5, 4]]))
    assert rows.tolist() == [[3, 3], [1, 7], [2, 4]]  # DRAM takes ceil(7 / PE factor)
    assert ok.tolist() == [True, True, True]


def test_normalize_caps_factors_that_only_add_empty_iterations() -> None:
    space = MapSpace(gemm(6, 1, 1), make_arch(4, 1))
    st = next(s for s in space.structures() if s.spatial == ((Axis.Y, "M"),) and s.orders[1] == ("M",))
    slots = space.slots(st)  # DRAM M, Y M, PE M
    rows, ok = space.normalize(slots, np.array([[1, 4, 2], [1, 4, 3]]))
    assert rows.tolist() == [[1, 3, 2], [1, 2, 3]]  # Y=4 over a PE tile of 2 needs only 3
    assert ok.tolist() == [True, True]


def test_all_rows_obey_pins_and_the_array() -> None:
    space = small_space()
    for st in space.structures()[::53]:
        slots = space.slots(st)
        rows = space.all_rows(slots)
        if not len(rows):
            continue
        assert np.all(rows[:, slots.pinned] >= 2)
        for axis, limit in ((Axis.Y, 2), (Axis.X, 2)):
            js = [j for j, ax in enumerate(slots.axes) if ax is axis]
            if js:
                assert np.all(np.prod(rows[:, js], axis=1) <= limit)


def test_access_prefers_links_without_skew() -> None:
    arch = Architecture(array=PEArray(rows=4, cols=4, input_links=(LinkKind.SYSTOLIC, LinkKind.MULTICAST,
                                                                  LinkKind.STATIONARY)))
    space = MapSpace(gemm(8, 8, 8), arch)
    access = dict(space.access_for(((Axis.Y, "K"), (Axis.X, "N")), "M") or ())
    assert access["I"] == "multicast-x"  # systolic-x would only add skew
    assert access["W"] == "stationary"


def test_lower_bounds_hold() -> None:
    space = small_space()
    for st in space.structures()[::71]:
        slots = space.slots(st)
        template = space.template(st, slots)
        if template is None:
            continue
        rows = space.all_rows(slots)
        res = evaluate_batch(template, rows)
        assert np.all(res.cycles >= space.cycles_lower_bound(slots, rows))
        assert np.all(res.energy_pj >= space.energy_lb * (1 - 1e-12))


def test_compact_mapping() -> None:
    m = Mapping.model_validate({"temporal": {"DRAM": "M=4 N=2", "PE": "K=2"}, "spatial": {"Y": "K=4", "X": "N=4"}})
    assert compact_mapping(m, ("DRAM", "GLB", "PE")) == "DRAM[M=4 N=2] Y[K=4] X[N=4] PE[K=2]"
    m = m.model_copy(update={"bypass": {"GLB": ("W", "O")}})
    assert compact_mapping(m, ("DRAM", "GLB", "PE")) == "DRAM[M=4 N=2] Y[K=4] X[N=4] PE[K=2] bypass[GLB:W,O]"


# --- constraints ----------------------------------------------------------------------


def constraints(mapping: dict[str, object], **kw: float) -> Constraints:
    arch = make_arch(4, 4, (buffer("GLB", ("weight",)),))
    return Constraints.from_mapping(Mapping.model_validate(mapping), gemm(8, 8, 8), arch, **kw)


def test_constraints_fix_levels_spatial_bypass_and_access() -> None:
    arch = make_arch(4, 4, (buffer("GLB", ("weight", "output")),))
    wl = gemm(8, 8, 8)
    cons = Constraints.from_mapping(Mapping.model_validate({
        "temporal": {"GLB": "N=* M=2"}, "spatial": {"Y": "K=*", "X": []}, "bypass": {"GLB": ["O"]},
        "access": {"W": "stationary"}}), wl, arch)
    space = MapSpace(wl, arch, cons)
    structures = space.structures()
    assert structures
    for st in structures:
        assert st.orders[1] == ("N", "M")
        assert st.spatial == ((Axis.Y, "K"),)
        assert dict(st.bypass) == {"GLB": ("O",)}
        assert dict(st.access)["W"] == "stationary"
        slots = space.slots(st)
        assert [int(f) for f, lv in zip(slots.fixed, slots.levels) if lv == 1 and f] == [2]


@pytest.mark.parametrize(("mapping", "message"), [
    ({"temporal": {"L2": "M=2"}}, "mapping.temporal.L2: unknown level 'L2'; the levels are ['DRAM', 'GLB', 'PE']"),
    ({"temporal": {"GLB": "Z=2"}}, "mapping.temporal.GLB[0]: unknown dimension 'Z'; the dimensions are "
                                   "['M', 'N', 'K']"),
    ({"temporal": {"GLB": "M=2 M=4"}}, "mapping.temporal.GLB[1]: dimension 'M' appears twice at this level; "
                                       "give it once"),
    ({"spatial": {"Y": "K=8"}}, "mapping.spatial.Y[0]: factor of K must be from 1 to 4, not 8"),
    ({"spatial": {"Y": "K=*", "X": "K=*"}}, "mapping.spatial: dimension 'K' is on both axes; give each axis its own"),
    ({"bypass": {"GLB": ["I"]}}, "mapping.bypass.GLB: GLB does not hold 'I' (it holds ['weight']), so there is "
                                 "nothing to bypass"),
    ({"bypass": {"DRAM": ["I"]}}, "mapping.bypass.DRAM: unknown buffer 'DRAM'; the buffers are ['GLB']"),
    ({"access": {"X": "stationary"}}, "mapping.access.X: unknown tensor 'X'; the tensors are ['I', 'W', 'O']"),
])
def test_constraints_wrong(mapping: dict[str, object], message: str) -> None:
    with pytest.raises(MappingError) as info:
        constraints(mapping)
    assert str(info.value) == message


def test_constraints_min_utilization_wrong() -> None:
    with pytest.raises(MappingError) as info:
        constraints({}, min_utilization=1.5)
    assert str(info.value) == "min_utilization must be a number from 0 to 1, not 1.5"


def test_conv_space_has_diagonal_free_dataflows() -> None:
    space = MapSpace(conv2d(K=2, C=2, H=5, W=5, R=3, S=3), make_arch(3, 3))
    assert space.dataflows
    assert all(s is None or s in space.loop_dims for _, s, _ in space.dataflows)


def _conv_space() -> MapSpace:
    return MapSpace(conv2d(K=8, C=4, H=12, W=12, R=3, S=3), make_arch(4, 4, (buffer("GLB", capacity=4096),)))


def _conv_structure(space: MapSpace) -> tuple[Structure, Slots, np.ndarray]:
    rng = np.random.default_rng(3)
    while True:
        st = space.random_structure(rng)
        if st is None:
            continue
        slots = space.slots(st)
        rows = space.random_rows(slots, rng, 40)
        if len(rows) >= 3 and space.template(st, slots) is not None:
            return st, slots, rows[:3]


def _reference_neighbours(space: MapSpace, slots: Slots, rows: np.ndarray) -> set[tuple[int, ...]]:
    """Every single step, row by row: one factor times 2, 3 or 5, divided by one of them,
    plus or minus one, 1 or its limit; or a 2 or a 3 moved between two loops of a dimension."""
    free = slots.free()
    cand = []
    for row in rows:
        for j in free:
            f, lim = int(row[j]), int(slots.limits[j])
            for v in {f * 2, f * 3, f * 5, f + 1, f - 1, 1, lim} | {f // p for p in (2, 3, 5) if f % p == 0}:
                if 1 <= v <= lim and v != f:
                    r = row.copy()
                    r[j] = v
                    cand.append(r)
        for d in space.workload.dims:
            js = [j for j in slots.by_dim[d] if j in free]
            for a in js:
                for b in js:
                    for p in (2, 3):
                        if a != b and row[a] % p == 0 and row[b] * p <= slots.limits[b]:
                            r = row.copy()
                            r[a] //= p
                            r[b] *= p
                            cand.append(r)
    out, ok = space.normalize(slots, np.array(cand))
    return {tuple(r) for r in out[ok].tolist()}


def test_neighbour_rows_are_every_valid_single_step() -> None:
    space = _conv_space()
    _, slots, rows = _conv_structure(space)
    out = space.neighbour_rows(slots, rows)
    assert len(unique_rows(out)) == len(out)
    assert {tuple(r) for r in out.tolist()} == _reference_neighbours(space, slots, rows)
    again, ok = space.normalize(slots, out)
    assert ok.all() and np.array_equal(again, out)


def test_kicked_rows_perturb_at_most_three_free_loops_deterministically() -> None:
    space = _conv_space()
    _, slots, rows = _conv_structure(space)
    out = space.kicked_rows(slots, rows, np.random.default_rng(7), 50)
    again, ok = space.normalize(slots, out)
    assert ok.all() and np.array_equal(again, out)
    assert np.array_equal(out, space.kicked_rows(slots, rows, np.random.default_rng(7), 50))
    assert not np.array_equal(out, space.kicked_rows(slots, rows, np.random.default_rng(8), 50))
    assert len(out) > len(rows)  # perturbations, not copies of the starting rows
    assert space.kicked_rows(slots, rows[:0], np.random.default_rng(7), 50).shape == (0, slots.width)


def test_line_rows_are_every_candidate_of_one_loop() -> None:
    space = _conv_space()
    _, slots, rows = _conv_structure(space)
    row = rows[0]
    cand = []
    for j in slots.free():
        for v in space._choices(slots, j):
            r = row.copy()
            r[j] = v
            cand.append(r)
    ref, ok = space.normalize(slots, np.array(cand))
    out = space.line_rows(slots, row)
    assert {tuple(r) for r in out.tolist()} == {tuple(r) for r in ref[ok].tolist()}
    assert len(unique_rows(out)) == len(out)


def test_pair_rows_change_two_loops_within_the_span() -> None:
    space = _conv_space()
    _, slots, rows = _conv_structure(space)
    row = rows[1]
    free = slots.free()
    out = space.pair_rows(slots, row, span=2)
    assert len(out) and len(unique_rows(out)) == len(out)
    again, ok = space.normalize(slots, out)
    assert ok.all() and np.array_equal(again, out)
    # Every pair of free loops set to every pair of integers within a factor 2 (these
    # sizes are small, so every integer is a choice), normalized like any other row.
    cand = []
    for i, a in enumerate(free):
        for b in free[i + 1:]:
            for va in range(max(1, row[a] // 2), min(int(slots.limits[a]), row[a] * 2) + 1):
                for vb in range(max(1, row[b] // 2), min(int(slots.limits[b]), row[b] * 2) + 1):
                    r = row.copy()
                    r[a], r[b] = va, vb
                    cand.append(r)
    ref, ok = space.normalize(slots, np.array(cand))
    assert {tuple(r) for r in out.tolist()} == {tuple(r) for r in ref[ok].tolist()}


def _large_gemm_slots(seed: int) -> tuple[MapSpace, Slots, np.random.Generator]:
    """A 3072x1024x4096 GEMM, the slots of a random structure of it streaming at the PE, and
    the generator that drew it."""
    space = MapSpace(gemm(M=3072, N=1024, K=4096), make_arch(4, 4, (buffer("GLB", capacity=1 << 20),)))
    rng = np.random.default_rng(seed)
    st = next(s for s in iter(lambda: space.random_structure(rng), None) if s is not None and s.stream_level == 2)
    return space, space.slots(st), rng


def test_pair_rows_of_a_large_dimension_take_the_candidates_near_the_factor() -> None:
    space, slots, rng = _large_gemm_slots(0)
    row = space.random_rows(slots, rng, 50)[-1]
    free = slots.free()
    j = next(j for j in free if slots.limits[j] >= 1024 and row[j] >= 64)
    near = space._near(slots, j, int(row[j]), 3)
    assert row[j] in near and near.min() >= row[j] // 3 and near.max() <= row[j] * 3
    assert set(near.tolist()) - {int(row[j])} <= set(space._choices(slots, j))  # more than 40 integers: the candidates


def test_split_rows_keep_each_dimension_near_its_size() -> None:
    space, slots, _ = _large_gemm_slots(1)
    out = space.split_rows(slots, np.random.default_rng(5), 300)
    assert len(out) > 100
    again, ok = space.normalize(slots, out)
    assert ok.all() and np.array_equal(again, out)
    assert np.array_equal(out, space.split_rows(slots, np.random.default_rng(5), 300))
    for d, js in slots.by_dim.items():
        prod = np.prod(out[:, list(js)], axis=1)
        assert np.all(prod >= space.workload.dims[d])
        assert np.all(prod < 3 * space.workload.dims[d])  # the remainder only rounds up
    # Uniform draws among the candidates put most of a large dimension in its inner loops;
    # split rows spread it: their inner (non-remainder) factors are far smaller.
    uniform = space.random_rows(slots, np.random.default_rng(5), 300)
    inner = [j for j in slots.free() if slots.axes[j] is None]
    assert np.median(np.log(out[:, inner])) < np.median(np.log(uniform[:, inner]))


def test_families_partition_the_structures() -> None:
    space = small_space()
    families = space.families()
    assert len(families) == len(set(families))
    rng = np.random.default_rng(0)
    for fam in families:
        st = space.random_structure(rng, fam)
        assert st is not None
        spatial, stream, access = space.dataflows[fam[0]]
        assert (st.spatial, st.stream, st.access) == (spatial, stream, access)
        assert st.stream_level == fam[1] or (stream is None and fam[1] == -1)
        assert st in set(space.structures())
    kinds = {(st.spatial, st.stream, st.stream_level, st.bypass) for st in space.structures()}
    assert len(kinds) == len(families)


def test_valid_batch_is_the_batch_evaluations_valid_flag() -> None:
    space = MapSpace(conv2d(K=8, C=4, H=12, W=12, R=3, S=3), make_arch(4, 4, (buffer("GLB", capacity=512),)))
    rng = np.random.default_rng(2)
    seen = 0
    for _ in range(30):
        st = space.random_structure(rng)
        if st is None:
            continue
        slots = space.slots(st)
        design = space.template(st, slots)
        if design is None:
            continue
        rows = np.concatenate([space.random_rows(slots, rng, 60), rng.integers(1, 7, size=(20, slots.width))])
        full = evaluate_batch(design, rows)
        assert np.array_equal(valid_batch(design, rows), full.valid)
        ok = full.valid
        seen += int(ok.sum()) * int((~ok).sum() > 0)
        checked = evaluate_batch(design, rows[ok], checked=True)
        assert checked.valid.all()
        assert np.array_equal(checked.cycles, full.cycles[ok]) and np.allclose(checked.energy_pj, full.energy_pj[ok])
    assert seen  # some batches held both valid and invalid rows
