"""Hand-computed cases that check the brute-force oracle itself against docs/model.md.

Each expected table is worked out by hand in the comment above it; the oracle's whole
result is compared in one assertion. Tables list keepers only; every other
(level, tensor) must be all zero.
"""

from __future__ import annotations

from conftest import buffer, make_arch, make_design
from oracle import Counts, OracleResult, iteration_points, oracle, r_star

from sasim.workload import conv2d, gemm


def table(result: OracleResult) -> dict[str, dict[str, tuple[int, int, int, int]]]:
    """level -> tensor -> (reads, fills, updates, drains), without all-zero entries."""
    out: dict[str, dict[str, tuple[int, int, int, int]]] = {}
    for lvl, per_tensor in result.accesses.items():
        for t, c in per_tensor.items():
            if c != Counts():
                out.setdefault(lvl, {})[t] = (c.reads, c.fills, c.updates, c.drains)
    return out


# --- the walk -----------------------------------------------------------------------------


def test_iteration_points_clip_and_order():
    # M=5 as M=3 (DRAM) x M=2 (PE): m = 2*m0 + m1; m0=2, m1=1 gives 5, which is skipped.
    d = make_design(gemm(5, 1, 1), make_arch(), temporal={"DRAM": "M=3", "PE": "M=2"})
    assert [(idx, p["M"]) for idx, p in iteration_points(d)] == [
        ((0, 0), 0), ((0, 1), 1), ((1, 0), 2), ((1, 1), 3), ((2, 0), 4),
    ]


def test_r_star_skips_factor_one_spatial_and_irrelevant_loops():
    # Nest: DRAM K=2, M=1 | GLB N=2 | Y: M=2 | PE (none). For I[M,K] at PE the loops
    # outside are K=2, M=1 (factor 1), N=2 (irrelevant), M=2 (spatial): r* is K, position 0.
    d = make_design(gemm(2, 2, 2), make_arch(rows=2, buffers=(buffer("GLB"),)),
                    temporal={"DRAM": "K=2 M=1", "GLB": "N=2"}, spatial={"Y": "M=2"})
    assert r_star(d, d.pe_level, "I") == 0
    assert r_star(d, d.pe_level, "W") == 2  # N at GLB is relevant to W[K,N]
    assert r_star(d, d.level("GLB"), "O") is None  # only K (irrelevant) and M=1 outside GLB
    assert r_star(d, d.level("DRAM"), "I") is None


# --- GEMM 4x4x4 on one PE: loop order decides the reuse ----------------------------------


def test_gemm_mnk_one_pe():
    # for m, n, k: MAC. At PE, r*(I)=r*(W)=K: 64 events of 1 element. r*(O)=N: 16 events.
    # DRAM is the array's parent: one PE, so its reads equal the PE fills; O arrives 16
    # times, once per element: no read-modify-write. K innermost: O is stationary, so the
    # folds are the 16 drain events of O.
    r = oracle(make_design(gemm(4, 4, 4), make_arch(), temporal={"DRAM": "M=4 N=4 K=4"}))
    assert table(r) == {
        "DRAM": {"I": (64, 0, 0, 0), "W": (64, 0, 0, 0), "O": (0, 0, 16, 0)},
        "PE": {"I": (64, 64, 0, 0), "W": (64, 64, 0, 0), "O": (0, 0, 64, 16)},
    }
    assert (r.macs, r.steps, r.folds) == (64, 64, 16)


def test_gemm_kmn_one_pe():
    # for k, m, n: r*(I)=M: 16 events; r*(W)=N: 64; r*(O)=N: 64 drains, each element of O
    # arrives 4 times at DRAM: 64 updates, 64 - 16 = 48 read-modify-write reads. N is the
    # stream loop: I is stationary, so the folds are its 16 refill events.
    r = oracle(make_design(gemm(4, 4, 4), make_arch(), temporal={"DRAM": "K=4 M=4 N=4"}))
    assert table(r) == {
        "DRAM": {"I": (16, 0, 0, 0), "W": (64, 0, 0, 0), "O": (48, 0, 64, 0)},
        "PE": {"I": (64, 16, 0, 0), "W": (64, 64, 0, 0), "O": (0, 0, 64, 64)},
    }
    assert (r.macs, r.steps, r.folds) == (64, 64, 16)


# --- a 2x2 weight-stationary array -------------------------------------------------------


def test_gemm_weight_stationary_2x2():
    # DRAM: N=2 K=2 M=4 | Y: K=2 | X: N=2. Each PE holds W[k,n]: r*(W)=K (position 1),
    # 4 events per PE, 16 fills; per event the 4 PEs take 4 distinct weights: 16 DRAM reads.
    # I[m,k]: r*=M, 16 events x 4 PEs = 64 fills; per event the two columns share I[m,k]:
    # 2 distinct, 32 DRAM reads. O[m,n]: 64 drains; the two rows of a column reduce to one
    # sum: 32 DRAM updates, of which 32 - 16 = 16 are read-modify-write.
    d = make_design(gemm(4, 4, 4), make_arch(2, 2), temporal={"DRAM": "N=2 K=2 M=4"},
                    spatial={"Y": "K=2", "X": "N=2"})
    r = oracle(d)
    assert table(r) == {
        "DRAM": {"I": (32, 0, 0, 0), "W": (16, 0, 0, 0), "O": (16, 0, 32, 0)},
        "PE": {"I": (64, 64, 0, 0), "W": (64, 16, 0, 0), "O": (0, 0, 64, 64)},
    }
    # 16 temporal points; W is stationary (M streams), so its 4 refill events are the folds.
    assert d.access["W"].is_stationary and not d.access["O"].is_stationary
    assert (r.macs, r.steps, r.folds) == (64, 16, 4)


def test_spatial_reduction_counts_one_sum_per_output():
    # M=2 N=1 K=2, DRAM: M=2 | X: K=2. The two PEs share O[m,0]: each event they drain 2
    # partial sums (4 drains) but DRAM receives one reduced sum (2 updates, no RMW).
    # W[k,0] has no relevant temporal loop: each PE takes its element once (2 fills).
    r = oracle(make_design(gemm(2, 1, 2), make_arch(1, 2), temporal={"DRAM": "M=2"}, spatial={"X": "K=2"}))
    assert table(r) == {
        "DRAM": {"I": (4, 0, 0, 0), "W": (2, 0, 0, 0), "O": (0, 0, 2, 0)},
        "PE": {"I": (4, 4, 0, 0), "W": (4, 2, 0, 0), "O": (0, 0, 4, 4)},
    }
    assert (r.macs, r.steps, r.folds) == (4, 2, 1)  # W stationary: taken once, one fold


def test_diagonal_sharing_counts_distinct_inputs():
    # 1-D conv: input width 4, S=2, Q=3; X: Q=3, Y: S=2, no temporal loops. PE (s, q)
    # uses I[q+s]: 6 PEs, 4 distinct inputs. O[q] is shared down a column (3 sums).
    w = conv2d(K=1, C=1, H=1, W=4, R=1, S=2)
    r = oracle(make_design(w, make_arch(2, 3), spatial={"X": "Q=3", "Y": "S=2"}))
    assert table(r) == {
        "DRAM": {"I": (4, 0, 0, 0), "W": (2, 0, 0, 0), "O": (0, 0, 3, 0)},
        "PE": {"I": (6, 6, 0, 0), "W": (6, 6, 0, 0), "O": (0, 0, 6, 6)},
    }
    # No temporal loop: one (empty) temporal point, everything stationary, one fold.
    assert (r.macs, r.steps, r.folds) == (6, 1, 1)


# --- tiles that are not intervals ---------------------------------------------------------


def test_conv_stride_two_tile_is_not_an_interval():
    # Input width 7, S=2, stride 2: Q=3, input column 2q + s. DRAM: S=2 | GLB (inputs
    # only): Q=3. GLB's tile of I for one s is {s, s+2, s+4}: 3 elements (an interval
    # would count 5); 2 events, 6 fills. At PE r*(I)=Q: 6 events of one element.
    # W is not in GLB: DRAM feeds the PE directly, r*(W)=S: 2 fills.
    # O[q]: r*=Q, 6 drains; DRAM gets each of the 3 outputs twice: 3 RMW reads.
    w = conv2d(K=1, C=1, H=1, W=7, R=1, S=2, stride=2)
    r = oracle(make_design(w, make_arch(buffers=(buffer("GLB", ("input",)),)),
                           temporal={"DRAM": "S=2", "GLB": "Q=3"}))
    assert table(r) == {
        "DRAM": {"I": (6, 0, 0, 0), "W": (2, 0, 0, 0), "O": (3, 0, 6, 0)},
        "GLB": {"I": (6, 6, 0, 0)},
        "PE": {"I": (6, 6, 0, 0), "W": (6, 2, 0, 0), "O": (0, 0, 6, 6)},
    }


def test_conv_stride_two_dilation_two_overlapping_tiles():
    # Input width 9, S=3, stride 2, dilation 2: Q=3, column 2q + 2s takes the 5 even
    # values 0..8. GLB (inputs only) boundary after DRAM S=3: each s gives {2s, 2s+2,
    # 2s+4}: 3 fills x 3 events = 9, though only 5 distinct columns exist.
    w = conv2d(K=1, C=1, H=1, W=9, R=1, S=3, stride=2, dilation=2)
    r = oracle(make_design(w, make_arch(buffers=(buffer("GLB", ("input",)),)),
                           temporal={"DRAM": "S=3", "GLB": "Q=3"}))
    assert r.accesses["GLB"]["I"] == Counts(reads=9, fills=9)
    assert r.accesses["DRAM"]["I"] == Counts(reads=9)
    # Q outside S instead: the GLB tile {2q, 2q+2, 2q+4} per q, still 9.
    r2 = oracle(make_design(w, make_arch(buffers=(buffer("GLB", ("input",)),)),
                            temporal={"DRAM": "Q=3", "GLB": "S=3"}))
    assert r2.accesses["GLB"]["I"] == Counts(reads=9, fills=9)


# --- partial edge tiles and empty iterations ---------------------------------------------


def test_partial_edge_tile():
    # M=5 as DRAM M=3 x GLB M=2: GLB tiles of I[m,0] have 2, 2, 1 elements.
    r = oracle(make_design(gemm(5, 1, 1), make_arch(buffers=(buffer("GLB"),)), temporal={"DRAM": "M=3", "GLB": "M=2"}))
    assert r.accesses["GLB"]["I"] == Counts(reads=5, fills=5)
    assert r.accesses["GLB"]["O"] == Counts(reads=0, updates=5, drains=5)
    assert r.accesses["DRAM"]["O"] == Counts(updates=5)
    # W[0,0] has no relevant loop anywhere: GLB and the PE each take it once.
    assert r.accesses["GLB"]["W"] == Counts(reads=1, fills=1)
    assert (r.macs, r.steps) == (5, 5)


def test_wholly_empty_iteration_is_skipped():
    # M=5 as DRAM M=3 x Y M=4, K=2 at PE. The DRAM iterations hold m 0-3, 4 and nothing
    # (8-11): two events, not three. I[m,k] at PE: r*=M, tile of 2 elements in 4 + 1 busy
    # PEs: 10 fills. K streams: O is stationary; its PE drain events are the 2 folds.
    # Temporal points (m0, k): 2 x 2 = 4 steps.
    r = oracle(make_design(gemm(5, 1, 2), make_arch(rows=4), temporal={"DRAM": "M=3", "PE": "K=2"},
                           spatial={"Y": "M=4"}))
    assert r.accesses["PE"]["I"] == Counts(reads=10, fills=10)
    assert r.accesses["PE"]["O"] == Counts(updates=10, drains=5)
    assert (r.macs, r.steps, r.folds) == (10, 4, 2)


def test_idle_pe_in_partial_spatial_tile():
    # M=3 as DRAM M=2 x Y M=2: in the second DRAM iteration only row 0 has work.
    # PE fills of I: 2 + 1 = 3 (the idle PE takes nothing), DRAM reads 3. W[0,0] has no
    # relevant loop: each of the 2 PEs takes it once, one DRAM read (multicast).
    # Temporal points: 2 (steps).
    r = oracle(make_design(gemm(3, 1, 1), make_arch(rows=2), temporal={"DRAM": "M=2"}, spatial={"Y": "M=2"}))
    assert table(r) == {
        "DRAM": {"I": (3, 0, 0, 0), "W": (1, 0, 0, 0), "O": (0, 0, 3, 0)},
        "PE": {"I": (3, 3, 0, 0), "W": (3, 2, 0, 0), "O": (0, 0, 3, 3)},
    }
    assert (r.macs, r.steps) == (3, 2)


def test_steps_skip_temporal_points_with_no_work():
    # M=5: DRAM M=4 x Y M=2 -> m0 = 3 covers m 6, 7: no work, so 3 steps, not 4.
    r = oracle(make_design(gemm(5, 1, 1), make_arch(rows=2), temporal={"DRAM": "M=4"}, spatial={"Y": "M=2"}))
    assert (r.macs, r.steps) == (5, 3)


# --- buffers: read-modify-write and bypass ------------------------------------------------


def test_buffer_read_modify_write_of_outputs():
    # M=2 N=1 K=4; DRAM: K=2 | GLB: M=2 K=2. O has no relevant loop outside GLB: GLB
    # takes its tile (2 elements) once and drains it once. At PE r*(O)=M (position 1):
    # 4 events of one element, so GLB gets 4 updates, 2 of them RMW reads.
    # I[m,k] at GLB: r*=K (position 0), 2 events of 4 elements; at PE: 8 events.
    # W[k,0] at GLB: 2 events of 2 elements; at PE r*=K (position 2): 8 events.
    r = oracle(make_design(gemm(2, 1, 4), make_arch(buffers=(buffer("GLB"),)),
                           temporal={"DRAM": "K=2", "GLB": "M=2 K=2"}))
    assert table(r) == {
        "DRAM": {"I": (8, 0, 0, 0), "W": (4, 0, 0, 0), "O": (0, 0, 2, 0)},
        "GLB": {"I": (8, 8, 0, 0), "W": (8, 4, 0, 0), "O": (2, 0, 4, 2)},
        "PE": {"I": (8, 8, 0, 0), "W": (8, 8, 0, 0), "O": (0, 0, 8, 4)},
    }
    assert (r.macs, r.steps, r.folds) == (8, 8, 4)  # K streams: O stationary, 4 drain events


def test_bypass_skips_the_buffer():
    # Same nest with W bypassing GLB: W goes DRAM -> PE; DRAM reads W = PE fills = 8.
    r = oracle(make_design(gemm(2, 1, 4), make_arch(buffers=(buffer("GLB"),)),
                           temporal={"DRAM": "K=2", "GLB": "M=2 K=2"}, bypass={"GLB": ["W"]}))
    assert r.accesses["GLB"]["W"] == Counts()
    assert r.accesses["DRAM"]["W"] == Counts(reads=8)
    assert r.accesses["PE"]["W"] == Counts(reads=8, fills=8)


def test_two_buffers_outputs_drain_upward():
    # M=2 N=1 K=4; DRAM: K=2 | L2: K=2 | L1: M=2. At PE r*(O)=M (L1's loop, position 2):
    # 8 events of one element. L1 has only K loops outside: it takes O once (2 elements),
    # so 8 updates, 2 drains, 6 RMW reads; L2 and DRAM each receive the 2 sums once.
    w = gemm(2, 1, 4)
    arch = make_arch(buffers=(buffer("L2"), buffer("L1")))
    r = oracle(make_design(w, arch, temporal={"DRAM": "K=2", "L2": "K=2", "L1": "M=2"}))
    assert r.accesses["PE"]["O"] == Counts(updates=8, drains=8)
    assert r.accesses["L1"]["O"] == Counts(reads=6, updates=8, drains=2)
    assert r.accesses["L2"]["O"] == Counts(reads=0, updates=2, drains=2)
    assert r.accesses["DRAM"]["O"] == Counts(reads=0, updates=2)
    # I[m,k] at L1: r*=K at L2 (position 1): 4 events of 2 elements; L2: r*=K at DRAM, 2 x 4.
    assert r.accesses["L1"]["I"] == Counts(reads=8, fills=8)
    assert r.accesses["L2"]["I"] == Counts(reads=8, fills=8)
    assert r.accesses["DRAM"]["I"] == Counts(reads=8)
    # M streams; W[k,0] is stationary and refilled at each of its 4 PE events (r*=K at L2).
    assert (r.macs, r.steps, r.folds) == (8, 8, 4)
