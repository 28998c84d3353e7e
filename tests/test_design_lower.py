"""Lowering (Workload, Architecture, Mapping) -> Design: the nest, levels, tiles and
access entries it builds, and every bad-input path of lowering and of the architecture
and mapping specs, with the exact message."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import buffer, designs, make_arch, make_design
from hypothesis import given, settings
from oracle import event_tiles

from sasim.arch.architecture import Architecture, PEArray
from sasim.design import Design, LevelKind, Loop
from sasim.errors import CapacityError, MappingError, SpecError
from sasim.mapping.spec import Axis, Mapping
from sasim.validation import parse_model
from sasim.workload import conv2d, gemm

# --- what lowering builds -----------------------------------------------------------------


def test_nest_order_levels_and_boundaries():
    # Written out of nest order on purpose: the nest is DRAM, GLB, spatial Y then X, PE.
    d = make_design(gemm(8, 4, 3), make_arch(2, 2, (buffer("GLB"),)),
                    temporal={"PE": "K=3", "GLB": "M=2", "DRAM": "N=2 M=*"},
                    spatial={"X": "N=2", "Y": "M=2 K=1"}, bypass={"GLB": ["W"]})
    assert d.loops == (
        Loop("N", 2, 0), Loop("M", 2, 0), Loop("M", 2, 1),
        Loop("M", 2, 2, Axis.Y), Loop("K", 1, 2, Axis.Y), Loop("N", 2, 2, Axis.X),
        Loop("K", 3, 2),
    )
    assert [(lv.name, lv.kind, lv.boundary, sorted(lv.keeps)) for lv in d.levels] == [
        ("DRAM", LevelKind.DRAM, 0, ["I", "O", "W"]),
        ("GLB", LevelKind.BUFFER, 2, ["I", "O"]),
        ("PE", LevelKind.PE, 6, ["I", "O", "W"]),
    ]
    assert d.array_boundary == 3
    assert d.array_used == (2, 2)
    assert d.stream_loop() == Loop("K", 3, 2)
    assert [lv.name for lv in d.keepers("W")] == ["DRAM", "PE"]
    assert d.parent("W", d.pe_level).name == "DRAM" and d.child("I", d.level("DRAM")).name == "GLB"


def test_star_factor_takes_the_rest_rounded_up():
    d = make_design(gemm(7, 1, 1), make_arch(), temporal={"DRAM": "M=*", "PE": "M=3"})
    assert [lp.factor for lp in d.loops] == [3, 3]  # ceil(7 / 3)
    d = make_design(gemm(7, 1, 1), make_arch(), temporal={"DRAM": "M=4", "PE": "M=*"})
    assert [lp.factor for lp in d.loops] == [4, 2]  # ceil(7 / 4): 8 >= 7, outer 4 still used


def test_tiles_of_a_strided_convolution():
    # Input column 2q + s; GLB tile spans Q=3, S=2 (inner): {0..5} = 6 columns, vs the
    # 3 x 2 = 6 pairs; with S=3, Q=2 the columns 0..4 take 5 distinct values.
    w = conv2d(K=1, C=1, H=1, W=9, R=1, S=3, stride=2)
    d = make_design(w, make_arch(buffers=(buffer("GLB"),)), temporal={"GLB": "Q=* S=3"})
    assert d.tiles[("GLB", "I")].extents == (("N", 1), ("C", 1), ("P", 1), ("R", 1), ("Q", 4), ("S", 3))
    assert d.tiles[("GLB", "I")].elements == 9  # 2q + s over q < 4, s < 3: 0..8
    assert d.tiles[("PE", "I")].elements == 1


@pytest.mark.parametrize(
    "spatial, temporal, expect",
    [
        # Weight stationary: K down the columns, N across; M streams.
        ({"Y": "K=2", "X": "N=2"}, "N=2 K=2 M=4", {"I": "systolic-x", "W": "stationary", "O": "chain-y"}),
        # Output stationary: M down, N across; K streams.
        ({"Y": "M=2", "X": "N=2"}, "M=2 N=2 K=4", {"I": "systolic-x", "W": "systolic-y", "O": "stationary"}),
        # Input stationary: M down, K across; N streams.
        ({"Y": "M=2", "X": "K=2"}, "M=2 K=2 N=4", {"I": "stationary", "W": "systolic-y", "O": "chain-x"}),
    ],
)
def test_access_entries_for_the_classic_dataflows(spatial, temporal, expect):
    d = make_design(gemm(4, 4, 4), make_arch(2, 2), temporal={"DRAM": temporal}, spatial=spatial)
    assert {t: e.name for t, e in d.access.items()} == expect


def test_access_override_among_the_legal_entries():
    d = make_design(gemm(4, 4, 4), make_arch(2, 2), temporal={"DRAM": "N=2 K=2 M=4"},
                    spatial={"Y": "K=2", "X": "N=2"}, access={"I": "multicast-x", "O": "tree-y"})
    assert {t: e.name for t, e in d.access.items()} == {"I": "multicast-x", "W": "stationary", "O": "tree-y"}


def test_diagonal_entry_for_a_convolution_input():
    # Q on X, S on Y, Q innermost in time... every PE needs its own I[q+s]: shared along (1,-1).
    w = conv2d(K=1, C=1, H=1, W=6, R=1, S=2)
    d = make_design(w, make_arch(2, 3), temporal={"DRAM": "Q=*"}, spatial={"X": "Q=3", "Y": "S=2"})
    assert d.access["I"].name == "systolic-diagonal"


@settings(max_examples=100, deadline=None)
@given(designs())
def test_design_tiles_are_the_largest_tiles_taken(design: Design):
    """``Design.tiles`` (what capacity is checked against) equals the largest tile the
    brute-force walk finds at each keeper."""
    for (level, tensor), tiles in event_tiles(design).items():
        assert design.tiles[(level, tensor)].elements == max(len(t) for t in tiles), (level, tensor)


# --- bad inputs: lowering -----------------------------------------------------------------

G = gemm(4, 4, 4)
A = make_arch(2, 2, (buffer("GLB"), buffer("L1", ("input",))))
OK = "M=4 N=4 K=4"

LOWER_ERRORS: list[tuple[str, dict[str, Any], type[Exception], str]] = [
    ("unknown level", {"temporal": {"DRAM": OK, "GLBX": "M=1"}}, MappingError,
     "mapping.temporal.GLBX: unknown level 'GLBX'; the levels are ['DRAM', 'GLB', 'L1', 'PE']"),
    ("level in lower case", {"temporal": {"dram": OK}}, MappingError,
     "mapping.temporal.dram: unknown level 'dram'; the levels are ['DRAM', 'GLB', 'L1', 'PE']"),
    ("unknown dimension", {"temporal": {"DRAM": OK + " Z=1"}}, MappingError,
     "mapping.temporal.DRAM[3]: unknown dimension 'Z'; the dimensions are ['M', 'N', 'K']"),
    ("factor zero", {"temporal": {"DRAM": OK, "GLB": "M=0"}}, MappingError,
     "mapping.temporal.GLB[0]: factor of M must be from 1 to its size 4, not 0"),
    ("factor negative",
     {"temporal": {"DRAM": [{"dim": "M", "factor": -1}, {"dim": "M", "factor": 4}], "GLB": "N=4 K=4"}},
     MappingError, "mapping.temporal.DRAM[0]: factor of M must be from 1 to its size 4, not -1"),
    ("factor above size", {"temporal": {"DRAM": "M=5 N=4 K=4"}}, MappingError,
     "mapping.temporal.DRAM[0]: factor of M must be from 1 to its size 4, not 5"),
    ("factor absurd", {"temporal": {"DRAM": [{"dim": "M", "factor": 10**30}], "GLB": "N=4 K=4"}}, MappingError,
     "mapping.temporal.DRAM[0]: factor of M must be from 1 to its size 4, not 1000000000000000000000000000000"),
    ("factors do not cover", {"temporal": {"DRAM": "M=2 N=4 K=4"}}, MappingError,
     "mapping: the factors of M multiply to 2, which does not cover its size 4; "
     "add a factor (or write M=* at one level)"),
    ("dimension missing", {"temporal": {"DRAM": "N=4 K=4"}}, MappingError,
     "mapping: the factors of M multiply to 1, which does not cover its size 4; "
     "add a factor (or write M=* at one level)"),
    ("empty mapping", {}, MappingError,
     "mapping: the factors of M multiply to 1, which does not cover its size 4; "
     "add a factor (or write M=* at one level)"),
    ("two stars", {"temporal": {"DRAM": "M=* N=4 K=4", "GLB": "M=*"}}, MappingError,
     "mapping.temporal.GLB[0]: dimension M has more than one '*' factor"),
    ("star spatial and temporal", {"temporal": {"DRAM": "M=* N=4 K=4"}, "spatial": {"Y": "M=*"}}, MappingError,
     "mapping.spatial.Y[0]: dimension M has more than one '*' factor"),
    ("never-used factor", {"temporal": {"DRAM": "M=2 N=4 K=4", "GLB": "M=4"}}, MappingError,
     "mapping.temporal.DRAM[0]: factor 2 of M is never used: the loops inside it already cover M "
     "(tile 4 >= size 4); set it to 1"),
    ("never-used factor over two loops", {"temporal": {"DRAM": "M=3 N=4 K=4", "GLB": "M=2 M=2"}}, MappingError,
     "mapping.temporal.DRAM[0]: factor 3 of M is never used: the loops inside it already cover M "
     "(tile 4 >= size 4); set it to 1"),
    ("spatial larger than rows", {"temporal": {"DRAM": "M=2 N=4 K=4"}, "spatial": {"Y": "M=3"}}, MappingError,
     "mapping.spatial.Y: spatial factors multiply to 3, more than the array's 2 rows"),
    ("spatial larger than cols", {"temporal": {"DRAM": "M=4 K=4"}, "spatial": {"X": "N=2 N=2"}}, MappingError,
     "mapping.spatial.X: spatial factors multiply to 4, more than the array's 2 cols"),
    ("spatial star larger than rows", {"temporal": {"DRAM": "N=4 K=4"}, "spatial": {"Y": "M=*"}}, MappingError,
     "mapping.spatial.Y: spatial factors multiply to 4, more than the array's 2 rows"),
    ("bypass DRAM", {"temporal": {"DRAM": OK}, "bypass": {"DRAM": ["W"]}}, MappingError,
     "mapping.bypass.DRAM: DRAM holds every tensor and cannot be bypassed; only buffers can: ['GLB', 'L1']"),
    ("bypass PE", {"temporal": {"DRAM": OK}, "bypass": {"PE": ["W"]}}, MappingError,
     "mapping.bypass.PE: PE holds every tensor and cannot be bypassed; only buffers can: ['GLB', 'L1']"),
    ("bypass unknown buffer", {"temporal": {"DRAM": OK}, "bypass": {"L9": ["W"]}}, MappingError,
     "mapping.bypass.L9: unknown buffer 'L9'; the buffers are ['GLB', 'L1']"),
    ("bypass unknown tensor", {"temporal": {"DRAM": OK}, "bypass": {"GLB": ["X"]}}, MappingError,
     "mapping.bypass.GLB: unknown tensor 'X'; the tensors are ['I', 'W', 'O']"),
    ("bypass a tensor not held", {"temporal": {"DRAM": OK}, "bypass": {"L1": ["W"]}}, MappingError,
     "mapping.bypass.L1: L1 does not hold 'W' (it holds ['input']), so there is nothing to bypass"),
    ("access for unknown tensor", {"temporal": {"DRAM": OK}, "access": {"X": "stationary"}}, MappingError,
     "mapping.access.X: unknown tensor 'X'; the tensors are ['I', 'W', 'O']"),
    ("access unparseable", {"temporal": {"DRAM": OK}, "access": {"W": "wormhole-x"}}, MappingError,
     "mapping.access.W: cannot read access entry 'wormhole-x': use links such as systolic-x, multicast-y, "
     "stationary, chain-y, tree-x, systolic-diagonal, joined by '+', or 'direct'"),
    ("access unknown direction", {"temporal": {"DRAM": OK}, "access": {"W": "systolic-z"}}, MappingError,
     "mapping.access.W: cannot read access entry 'systolic-z': use links such as systolic-x, multicast-y, "
     "stationary, chain-y, tree-x, systolic-diagonal, joined by '+', or 'direct'"),
    ("access empty", {"temporal": {"DRAM": OK}, "access": {"W": ""}}, MappingError,
     "mapping.access.W: cannot read access entry '': use links such as systolic-x, multicast-y, "
     "stationary, chain-y, tree-x, systolic-diagonal, joined by '+', or 'direct'"),
    ("access two links one direction",
     {"temporal": {"DRAM": OK}, "access": {"W": "systolic-x+multicast-x"}}, MappingError,
     "mapping.access.W: access entry 'systolic-x+multicast-x' names two links along the same direction"),
    ("access the mapping cannot produce",
     {"temporal": {"DRAM": "N=2 K=2 M=4"}, "spatial": {"Y": "K=2", "X": "N=2"}, "access": {"W": "systolic-x"}},
     MappingError, "mapping.access.W: this mapping cannot produce access entry 'systolic-x' for 'W'; "
     "it can produce ['stationary']"),
    ("access with an output link for an input",
     {"temporal": {"DRAM": "N=2 K=2 M=4"}, "spatial": {"Y": "K=2", "X": "N=2"}, "access": {"I": "chain-x"}},
     MappingError, "mapping.access.I: this mapping cannot produce access entry 'chain-x' for 'I'; "
     "it can produce ['systolic-x', 'multicast-x']"),
    ("no entry can feed the output", {"temporal": {"DRAM": "K=4 N=2 M=2"}, "spatial": {"Y": "M=2", "X": "N=2"}},
     MappingError, "mapping.access.O: no access entry can feed tensor 'O': with X=['N'], Y=['M'] and the stream "
     "loop M it needs a distinct value in every PE every step (links the architecture allows for it: "
     "['chain', 'tree', 'stationary']); map a dimension O does not use onto an array axis, or make it the "
     "innermost loop"),
]


@pytest.mark.parametrize("what, mapping, error, message", LOWER_ERRORS, ids=[e[0] for e in LOWER_ERRORS])
def test_lower_wrong(what, mapping, error, message):
    with pytest.raises(error) as info:
        lower_dict(G, A, mapping)
    assert type(info.value) is error
    assert str(info.value) == message


def lower_dict(workload, arch, mapping: dict[str, Any]) -> Design:
    return make_design(workload, arch, **mapping)


def test_no_entry_when_links_are_restricted_wrong():
    arch = Architecture(array=PEArray(rows=2, cols=2, weight_links=("systolic",)), pe=make_arch().pe)
    with pytest.raises(MappingError) as info:
        make_design(G, arch, temporal={"DRAM": "N=2 K=2 M=4"}, spatial={"Y": "K=2", "X": "N=2"})
    assert str(info.value) == (
        "mapping.access.W: tensor 'W' does not use the stream loop M, so it must stay in the PEs (stationary), "
        "but the architecture allows only ['systolic'] for it; make a dimension W uses the innermost loop"
    )


# Tiles at GLB for M=2 N=2 K=2: I 4 x 8 bits, W 4 x 8 bits, O 4 x 32 bits = 24 B.
CAPACITY_MAPPING = {"temporal": {"DRAM": "M=2 N=2 K=2", "GLB": "M=2 N=2 K=2"}}


def test_capacity_buffet_fits():
    d = lower_dict(G, make_arch(buffers=(buffer("GLB", capacity=24),)), CAPACITY_MAPPING)
    assert sum(d.tiles[("GLB", t)].elements * d.bits(t) for t in "IWO") == 24 * 8


def test_capacity_buffet_wrong():
    with pytest.raises(CapacityError) as info:
        lower_dict(G, make_arch(buffers=(buffer("GLB", capacity=23),)), CAPACITY_MAPPING)
    assert str(info.value) == (
        "mapping.temporal.GLB: the tiles at GLB need 24 B (I: 4 B, O: 16 B, W: 4 B) but GLB holds 23 B; "
        "move factors from GLB or below to an outer level"
    )


def test_capacity_double_buffer_wrong():
    # The same 24 B of tiles fit a 40 B buffet but not a 40 B double buffer (48 B).
    lower_dict(G, make_arch(buffers=(buffer("GLB", capacity=40),)), CAPACITY_MAPPING)
    with pytest.raises(CapacityError) as info:
        lower_dict(G, make_arch(buffers=(buffer("GLB", capacity=40, semantics="double_buffer"),)), CAPACITY_MAPPING)
    assert str(info.value) == (
        "mapping.temporal.GLB: the tiles at GLB need 48 B (I: 8 B, O: 32 B, W: 8 B) (double buffering holds two "
        "copies) but GLB holds 40 B; move factors from GLB or below to an outer level"
    )


def test_capacity_counts_only_kept_tensors():
    # Bypassing O leaves 8 B at GLB.
    lower_dict(G, make_arch(buffers=(buffer("GLB", capacity=8),)), {**CAPACITY_MAPPING, "bypass": {"GLB": ["O"]}})


def test_pe_registers_wrong():
    with pytest.raises(CapacityError) as info:
        make_design(G, make_arch(input_registers=2), temporal={"DRAM": "M=4 N=4", "PE": "K=4"})
    assert str(info.value) == (
        "mapping.temporal.PE: the PE tile of 'I' has 4 elements but a PE has 2 input register(s) "
        "(architecture.pe.input_registers); move PE loops outward"
    )
    make_design(G, make_arch(input_registers=4, weight_registers=4), temporal={"DRAM": "M=4 N=4", "PE": "K=4"})


def test_pe_registers_default_is_one_wrong():
    with pytest.raises(CapacityError) as info:
        make_design(G, Architecture(array=PEArray(rows=1, cols=1)), temporal={"DRAM": "M=4 K=4", "PE": "N=4"})
    assert str(info.value) == (
        "mapping.temporal.PE: the PE tile of 'O' has 4 elements but a PE has 1 output register(s) "
        "(architecture.pe.output_registers); move PE loops outward"
    )


# --- bad inputs: the architecture spec ------------------------------------------------------

_ARRAY = {"rows": 2, "cols": 2}
_UNKNOWN = "unknown key (check the spelling; see docs/reference.md for the allowed keys)"
_IDENT = "is not a valid identifier: use letters, digits and '_', starting with a letter or '_'"

ARCH_ERRORS = [
    ({"array": _ARRAY, "foo": 1}, f"architecture.foo: {_UNKNOWN}"),
    ({"array": {**_ARRAY, "depth": 3}}, f"architecture.array.depth: {_UNKNOWN}"),
    ({}, "architecture.array: required key is missing"),
    ({"array": {"rows": 2}}, "architecture.array.cols: required key is missing"),
    ({"array": {**_ARRAY, "rows": 0}}, "architecture.array.rows: Input should be greater than or equal to 1, not 0"),
    ({"array": {**_ARRAY, "rows": -1}}, "architecture.array.rows: Input should be greater than or equal to 1, not -1"),
    ({"array": {**_ARRAY, "cols": 5000}},
     "architecture.array.cols: Input should be less than or equal to 1024, not 5000"),
    ({"array": {**_ARRAY, "rows": "two"}},
     "architecture.array.rows: Input should be a valid integer, not 'two'"),
    ({"array": {**_ARRAY, "rows": 2.5}},
     "architecture.array.rows: Input should be a valid integer, not 2.5"),
    ({"array": {**_ARRAY, "input_links": ["chain"]}},
     "architecture.array: input_links: ['chain'] not allowed here; "
     "choose from ['multicast', 'stationary', 'systolic']"),
    ({"array": {**_ARRAY, "output_links": ["systolic"]}},
     "architecture.array: output_links: ['systolic'] not allowed here; choose from ['chain', 'stationary', 'tree']"),
    ({"array": {**_ARRAY, "output_links": []}}, "architecture.array: output_links must list at least one link kind"),
    ({"array": {**_ARRAY, "input_links": ["wormhole"]}},
     "architecture.array.input_links[0]: Input should be 'systolic', 'multicast', 'stationary', 'chain' or 'tree', "
     "not 'wormhole'"),
    ({"array": _ARRAY, "buffers": [{"name": "GLB", "capacity": 0}]},
     "architecture.buffers[0].capacity: Input should be greater than or equal to 1, not 0"),
    ({"array": _ARRAY, "buffers": [{"name": "GLB", "capacity": "64 GB"}]},
     "architecture.buffers[0].capacity: a capacity is a byte count such as 65536, '64KiB' or '2MiB', not '64 GB'"),
    ({"array": _ARRAY, "buffers": [{"name": "GLB", "capacity": 1 << 40}]},
     "architecture.buffers[0].capacity: Input should be less than or equal to 4294967296, not 1099511627776"),
    ({"array": _ARRAY, "buffers": [{"name": "GLB"}]}, "architecture.buffers[0].capacity: required key is missing"),
    ({"array": _ARRAY, "buffers": [{"capacity": 1024}]}, "architecture.buffers[0].name: required key is missing"),
    ({"array": _ARRAY, "buffers": [{"name": "GLB", "capacity": 1024, "size": 3}]},
     f"architecture.buffers[0].size: {_UNKNOWN}"),
    ({"array": _ARRAY, "buffers": [{"name": "DRAM", "capacity": 1024}]},
     "architecture.buffers[0]: buffer name 'DRAM' is reserved for the outermost and innermost levels"),
    ({"array": _ARRAY, "buffers": [{"name": "PE", "capacity": 1024}]},
     "architecture.buffers[0]: buffer name 'PE' is reserved for the outermost and innermost levels"),
    ({"array": _ARRAY, "buffers": [{"name": "my buf", "capacity": 1024}]},
     f"architecture.buffers[0].name: name 'my buf' {_IDENT}"),
    ({"array": _ARRAY, "buffers": [{"name": "B", "capacity": 1024}, {"name": "B", "capacity": 1024}]},
     "architecture: buffers: names must be unique; repeated: ['B']"),
    ({"array": _ARRAY, "buffers": [{"name": "B", "capacity": 1024, "holds": ["input", "input"]}]},
     "architecture.buffers[0]: holds lists a role twice: ['input', 'input']"),
    ({"array": _ARRAY, "buffers": [{"name": "B", "capacity": 1024, "holds": ["psum"]}]},
     "architecture.buffers[0].holds[0]: Input should be 'input', 'weight' or 'output', not 'psum' (and 1 more "
     "problem(s))"),
    ({"array": _ARRAY, "buffers": [{"name": "B", "capacity": 8, "banks": 2}]},
     "architecture.buffers[0]: capacity 8 B is smaller than one word in each of 2 banks of 64 bits"),
    ({"array": _ARRAY, "buffers": [{"name": "B", "capacity": 1024, "semantics": "fifo"}]},
     "architecture.buffers[0].semantics: Input should be 'buffet' or 'double_buffer', not 'fifo'"),
    ({"array": _ARRAY, "buffers": {"name": "B", "capacity": 1}}, "architecture.buffers: Input should be a valid tuple"),
    ({"array": _ARRAY, "pe": {"input_registers": 0}},
     "architecture.pe.input_registers: Input should be greater than or equal to 1, not 0"),
    ({"array": _ARRAY, "pe": {"mac_latency": 17}},
     "architecture.pe.mac_latency: Input should be less than or equal to 16, not 17"),
    ({"array": _ARRAY, "dram": {"latency": -1}},
     "architecture.dram.latency: Input should be greater than or equal to 0, not -1"),
    ({"array": _ARRAY, "dram": {"words_per_cycle": 0}},
     "architecture.dram.words_per_cycle: Input should be greater than or equal to 1, not 0"),
    ({"array": _ARRAY, "clock_mhz": 0}, "architecture.clock_mhz: Input should be greater than 0, not 0"),
    ({"array": _ARRAY, "name": "a-b"}, f"architecture.name: name 'a-b' {_IDENT}"),
]


@pytest.mark.parametrize("data, message", ARCH_ERRORS)
def test_architecture_spec_wrong(data, message):
    with pytest.raises(SpecError) as info:
        parse_model(Architecture, data, "architecture")
    assert str(info.value) == message


def test_architecture_capacity_units():
    arch = parse_model(Architecture, {"array": _ARRAY, "buffers": [{"name": "GLB", "capacity": "64 KiB"},
                                                                   {"name": "L1", "capacity": "2MiB"}]}, "a")
    assert [b.capacity for b in arch.buffers] == [65536, 2 << 20]


# --- bad inputs: the mapping spec ---------------------------------------------------------

MAPPING_ERRORS = [
    ({"temporal": {}, "foo": 1}, f"mapping.foo: {_UNKNOWN}"),
    ({"temporal": {"DRAM": "M:4"}},
     "mapping.temporal.DRAM: cannot read loop 'M:4' in 'M:4': write DIM=FACTOR, e.g. 'M=4 K=*'"),
    ({"temporal": {"DRAM": "M=4 K=-2"}},
     "mapping.temporal.DRAM: cannot read loop 'K=-2' in 'M=4 K=-2': write DIM=FACTOR, e.g. 'M=4 K=*'"),
    ({"temporal": {"DRAM": "M=4 K=2.5"}},
     "mapping.temporal.DRAM: cannot read loop 'K=2.5' in 'M=4 K=2.5': write DIM=FACTOR, e.g. 'M=4 K=*'"),
    ({"temporal": {"DRAM": [{"dim": "M", "factor": 2, "axis": "X"}]}}, f"mapping.temporal.DRAM[0].axis: {_UNKNOWN}"),
    ({"temporal": {"DRAM": [{"dim": "M"}]}}, "mapping.temporal.DRAM[0].factor: required key is missing"),
    ({"temporal": {"DRAM": [{"dim": "M N", "factor": 2}]}}, f"mapping.temporal.DRAM[0].dim: name 'M N' {_IDENT}"),
    ({"temporal": ["M=2"]}, "mapping.temporal: Input should be a valid dictionary, not ['M=2']"),
    ({"temporal": {"my level": "M=2"}}, f"mapping.temporal.my level (the key): name 'my level' {_IDENT}"),
    ({"spatial": {"Z": "M=2"}}, "mapping.spatial.Z (the key): Input should be 'X' or 'Y', not 'Z'"),
    ({"bypass": {"GLB": "W"}}, "mapping.bypass.GLB: Input should be a valid tuple, not 'W'"),
    ({"bypass": {"GLB": ["a b"]}}, f"mapping.bypass.GLB[0]: name 'a b' {_IDENT}"),
    ({"access": {"W": 3}}, "mapping.access.W: Input should be a valid string, not 3"),
]


@pytest.mark.parametrize("data, message", MAPPING_ERRORS)
def test_mapping_spec_wrong(data, message):
    with pytest.raises(SpecError) as info:
        parse_model(Mapping, data, "mapping")
    assert str(info.value) == message


def test_mapping_loop_forms_agree():
    a = parse_model(Mapping, {"temporal": {"DRAM": "M=4, K=*"}, "spatial": {"X": "N=2"}}, "m")
    b = parse_model(Mapping, {"temporal": {"DRAM": [{"dim": "M", "factor": 4}, {"dim": "K", "factor": "*"}]},
                              "spatial": {"X": [{"dim": "N", "factor": 2}]}}, "m")
    assert a == b
    assert parse_model(Mapping, a.to_yaml_dict(), "m") == a


# --- inputs once mishandled ------------------------------------------------------------


def test_mapping_factor_not_a_number_wrong():
    with pytest.raises(SpecError) as info:
        parse_model(Mapping, {"temporal": {"DRAM": [{"dim": "M", "factor": "x"}]}}, "mapping")
    assert str(info.value).startswith("mapping.temporal.DRAM[0].factor: ")
    assert "'*'" in str(info.value)


def test_mapping_factor_bool_wrong():
    with pytest.raises(SpecError):
        parse_model(Mapping, {"temporal": {"DRAM": [{"dim": "M", "factor": True}]}}, "mapping")


def test_bypass_listed_twice_wrong():
    with pytest.raises(SpecError) as info:
        parse_model(Mapping, {"temporal": {"DRAM": OK}, "bypass": {"GLB": ["W", "W"]}}, "mapping")
    assert str(info.value) == "mapping: bypass.GLB lists ['W'] more than once"


def test_same_dimension_on_both_axes_is_not_diagonal_wrong():
    # PE (x, y) needs I[2y + x, k]: four distinct values every step, and the (1, -1)
    # neighbour needs I[m - 1], not the same value: no access entry can feed I.
    with pytest.raises(MappingError) as info:
        make_design(gemm(4, 2, 4), make_arch(2, 2), temporal={"DRAM": "N=2 K=4"}, spatial={"Y": "M=2", "X": "M=2"})
    assert str(info.value).startswith("mapping.access.I: no access entry can feed tensor 'I'")


# --- bank layouts ------------------------------------------------------------------------


def test_layout_is_recorded_for_non_ideal_regions() -> None:
    layout = {"GLB": {"I": "blocked", "W": "ideal"}, "L1": {"I": "interleaved"}}
    design = make_design(G, A, temporal={"DRAM": OK}, layout=layout)
    assert {k: v.value for k, v in design.layouts.items()} == {("GLB", "I"): "blocked", ("L1", "I"): "interleaved"}
    assert design.resolved_mapping().to_yaml_dict()["layout"] == {"GLB": {"I": "blocked", "W": "ideal"},
                                                                  "L1": {"I": "interleaved"}}


@pytest.mark.parametrize(("layout", "message"), [
    ({"L2": {"I": "blocked"}}, "mapping.layout.L2: unknown buffer 'L2'; the buffers are ['GLB', 'L1']"),
    ({"L1": {"W": "blocked"}}, "mapping.layout.L1.W: L1 does not hold 'W' (it holds ['I'])"),
    ({"DRAM": {"I": "blocked"}}, "mapping.layout.DRAM: unknown buffer 'DRAM'; the buffers are ['GLB', 'L1']"),
])
def test_layout_wrong(layout: dict[str, Any], message: str) -> None:
    with pytest.raises(MappingError) as info:
        make_design(G, A, temporal={"DRAM": OK}, layout=layout)
    assert str(info.value) == message


def test_layout_kind_wrong() -> None:
    with pytest.raises(SpecError) as info:
        parse_model(Mapping, {"layout": {"GLB": {"I": "striped"}}}, "mapping")
    assert str(info.value) == "mapping.layout.GLB.I: Input should be 'ideal', 'interleaved' or 'blocked', not 'striped'"
