"""Mapping presets: ws / os / is map every workload onto every architecture that has the links."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sasim.arch import ARCH_PRESETS, eyeriss, gemmini, multicast, os_systolic, tpu_v1, ws_systolic
from sasim.arch.architecture import PE, Architecture, Buffer, BufferSemantics, LinkKind, PEArray
from sasim.design import Design, lower
from sasim.errors import MappingError
from sasim.mapping import MAPPING_PRESETS, Axis, Mapping, build_mapping
from sasim.workload import Role, Workload, batched_gemm, conv2d, depthwise_conv2d, einsum, gemm

STATIONARY = {"ws": Role.WEIGHT, "os": Role.OUTPUT, "is": Role.INPUT}

WORKLOADS: dict[str, Workload] = {
    "gemm_7x13x5": gemm(7, 13, 5),
    "gemm_64": gemm(64, 64, 64),
    "gemm_300x100x70": gemm(300, 100, 70),
    "batched_gemm": batched_gemm(3, 7, 13, 5),
    "conv2d": conv2d(K=8, C=6, H=9, W=11, R=3, S=3, N=2),
    "conv2d_s2_d2_p1": conv2d(K=5, C=3, H=13, W=12, R=3, S=3, stride=2, dilation=2, padding=1),
    "conv2d_resnet": conv2d(K=64, C=64, H=28, W=28, R=3, S=3, padding=1),
    "conv2d_first_layer": conv2d(K=32, C=3, H=64, W=64, R=7, S=7, stride=2, padding=3),
    "depthwise": depthwise_conv2d(C=8, H=10, W=10, R=3, S=3),
    "depthwise_s2_d2_p1": depthwise_conv2d(C=8, H=11, W=11, R=3, S=3, stride=2, dilation=2, padding=1),
    "einsum_abc_cd": einsum("abc,cd->abd", {"a": 3, "b": 5, "c": 7, "d": 4}),
    "einsum_mk_nk": einsum("mk,nk->mn", {"m": 9, "n": 10, "k": 11}),
    "einsum_bmk_bkn": einsum("bmk,bkn->bmn", {"b": 2, "m": 5, "k": 6, "n": 7}),
}
#: (preset, workload) pairs no mapping can do: the stationary tensor uses every dimension.
IMPOSSIBLE = {("is", "depthwise"), ("is", "depthwise_s2_d2_p1")}

ARCHS: dict[str, Architecture] = {name: fn() for name, fn in ARCH_PRESETS.items()}
ARCHS["eyeriss_4x4"] = eyeriss(rows=4, cols=4)
ARCHS["bare_1x1"] = Architecture(array=PEArray(rows=1, cols=1))
ARCHS["tiny_2x3"] = Architecture(
    array=PEArray(rows=2, cols=3), buffers=(Buffer(name="buf", capacity=16, word_bits=8),)
)
ARCHS["tiny_2x3_double"] = Architecture(
    array=PEArray(rows=2, cols=3),
    buffers=(
        Buffer(name="outer", capacity=64, word_bits=8, semantics=BufferSemantics.DOUBLE_BUFFER),
        Buffer(name="wbuf", capacity=8, word_bits=8, holds=(Role.WEIGHT,)),
    ),
    pe=PE(input_registers=2, weight_registers=3, output_registers=4),
)


def stationary_tensor(workload: Workload, preset: str) -> str:
    return {Role.INPUT: workload.input, Role.WEIGHT: workload.weight, Role.OUTPUT: workload.output}[
        STATIONARY[preset]
    ]


def supports(arch: Architecture, preset: str) -> bool:
    return LinkKind.STATIONARY in arch.array.links(STATIONARY[preset])


def check(design: Design, preset: str) -> None:
    """The design is the preset's dataflow: its tensor stationary, the stream loop one it does not use."""
    tensor = stationary_tensor(design.workload, preset)
    assert design.access[tensor].is_stationary
    stream = design.stream_loop()
    if stream is not None:
        assert not design.workload.is_relevant(tensor, stream.dim)
    rows, cols = design.array_used
    assert rows <= design.architecture.array.rows and cols <= design.architecture.array.cols


# --- the matrix ---------------------------------------------------------------------------------


@pytest.mark.parametrize("arch_name", list(ARCHS))
@pytest.mark.parametrize("workload_name", list(WORKLOADS))
@pytest.mark.parametrize("preset", MAPPING_PRESETS)
def test_preset_maps_every_workload(preset: str, workload_name: str, arch_name: str) -> None:
    workload, arch = WORKLOADS[workload_name], ARCHS[arch_name]
    if not supports(arch, preset):
        with pytest.raises(MappingError, match=f"^mapping preset '{preset}' keeps the "):
            build_mapping(preset, workload, arch)
        return
    if (preset, workload_name) in IMPOSSIBLE:
        with pytest.raises(MappingError, match=f"^mapping preset '{preset}' cannot keep the "):
            build_mapping(preset, workload, arch)
        return
    mapping = build_mapping(preset, workload, arch)
    check(lower(workload, arch, mapping), preset)


@pytest.mark.parametrize("preset", MAPPING_PRESETS)
def test_mapping_is_deterministic(preset: str) -> None:
    arch, workload = multicast(), WORKLOADS["conv2d_resnet"]
    assert build_mapping(preset, workload, arch) == build_mapping(preset, workload, arch)


def test_supported_dataflows_per_preset() -> None:
    supported = {name: [p for p in MAPPING_PRESETS if supports(arch, p)] for name, arch in ARCHS.items()}
    assert supported["ws_systolic"] == ["ws"]
    assert supported["os_systolic"] == ["os"]
    assert supported["tpu_v1"] == ["ws"]
    assert supported["gemmini"] == ["ws", "os"]
    for name in ("multicast", "eyeriss", "simba"):
        assert supported[name] == ["ws", "os", "is"]


# --- the classic dataflows ----------------------------------------------------------------------


def entries(design: Design) -> dict[str, str]:
    return {t: e.name for t, e in design.access.items()}


def spatial(mapping: Mapping) -> dict[str, str]:
    return {ax.value: " ".join(f"{lp.dim}={lp.factor}" for lp in loops) for ax, loops in mapping.spatial.items()}


@pytest.mark.parametrize(
    ("preset", "arch", "expect_spatial", "stream", "expect_entries"),
    [
        ("ws", ws_systolic(), {"Y": "K=16", "X": "N=16"}, "M", {"I": "systolic-x", "W": "stationary", "O": "chain-y"}),
        ("os", os_systolic(), {"Y": "M=16", "X": "N=16"}, "K",
         {"I": "systolic-x", "W": "systolic-y", "O": "stationary"}),
        ("is", multicast(), {"Y": "K=16", "X": "M=16"}, "N", {"I": "stationary", "W": "multicast-x", "O": "tree-y"}),
        ("ws", gemmini(), {"Y": "K=16", "X": "N=16"}, "M", {"I": "systolic-x", "W": "stationary", "O": "chain-y"}),
        ("os", gemmini(), {"Y": "M=16", "X": "N=16"}, "K", {"I": "systolic-x", "W": "systolic-y", "O": "stationary"}),
        ("ws", tpu_v1(rows=32, cols=32), {"Y": "K=32", "X": "N=32"}, "M",
         {"I": "systolic-x", "W": "stationary", "O": "chain-y"}),
    ],
)
def test_gemm_gets_the_classic_dataflow(
    preset: str, arch: Architecture, expect_spatial: dict[str, str], stream: str, expect_entries: dict[str, str]
) -> None:
    workload = gemm(64, 64, 64)
    mapping = build_mapping(preset, workload, arch)
    design = lower(workload, arch, mapping)
    assert spatial(mapping) == expect_spatial
    loop = design.stream_loop()
    assert loop is not None and loop.dim == stream
    assert entries(design) == expect_entries


def test_conv_ws_puts_a_reduction_on_y_and_output_channels_on_x() -> None:
    workload = WORKLOADS["conv2d_resnet"]
    mapping = build_mapping("ws", workload, ws_systolic())
    assert spatial(mapping) == {"Y": "C=16", "X": "K=16"}


def test_small_channel_conv_fills_rows_with_the_filter() -> None:
    # C = 3 would use 3 of 16 rows; R = 7 uses 7.
    mapping = build_mapping("ws", WORKLOADS["conv2d_first_layer"], ws_systolic())
    assert spatial(mapping) == {"Y": "R=7", "X": "K=16"}


def test_depthwise_ws_uses_the_diagonal_input_reuse() -> None:
    workload = WORKLOADS["depthwise"]
    design = lower(workload, multicast(), build_mapping("ws", workload, multicast()))
    assert entries(design) == {"I": "multicast-diagonal", "W": "multicast-x+stationary", "O": "tree-y"}


def test_strided_depthwise_ws_falls_back_to_one_axis() -> None:
    # P*2 + R*2 has no diagonal reuse, and C or P on both axes would need a new input in every PE every step.
    workload = depthwise_conv2d(C=32, H=20, W=20, R=3, S=3, stride=2, padding=1)
    mapping = build_mapping("ws", workload, multicast())
    assert spatial(mapping) == {"X": "C=16"}
    check(lower(workload, multicast(), mapping), "ws")


def test_spatial_factors_fill_the_array_with_partial_tiles() -> None:
    workload = gemm(7, 13, 5)
    arch = multicast(rows=4, cols=4)
    mapping = build_mapping("ws", workload, arch)
    assert spatial(mapping) == {"Y": "K=4", "X": "N=4"}  # 5 = 4 + 1 and 13 = 4+4+4+1: imperfect, allowed
    check(lower(workload, arch, mapping), "ws")


def test_stream_loop_is_innermost_at_the_registers_when_they_hold_it() -> None:
    workload = gemm(64, 64, 64)
    design = lower(workload, eyeriss(), build_mapping("ws", workload, eyeriss()))
    loop = design.stream_loop()
    assert loop is not None and loop.dim == "M" and design.levels[loop.level].name == "PE"
    assert design.tiles[("PE", "I")].elements <= 12 and design.tiles[("PE", "O")].elements <= 24


def test_tiles_fill_the_buffers() -> None:
    workload = gemm(512, 512, 512)
    arch = gemmini()
    design = lower(workload, arch, build_mapping("ws", workload, arch))
    used = {b.name: sum(design.tiles[(b.name, t)].elements * design.bits(t) // 8
                        for t in design.level(b.name).keeps) for b in arch.buffers}
    assert used["accumulator"] > arch.buffers[1].capacity // 2
    assert used["scratchpad"] > arch.buffers[0].capacity // 2


def test_tensor_bypasses_a_buffer_too_small_for_its_smallest_tile() -> None:
    workload = gemm(7, 13, 5)
    arch = ARCHS["tiny_2x3"]  # 16 B: the 2x3 output tile alone needs 6 x 4 B
    mapping = build_mapping("ws", workload, arch)
    assert mapping.bypass == {"buf": ("O",)}
    check(lower(workload, arch, mapping), "ws")


def test_bare_array_streams_from_dram() -> None:
    workload = gemm(7, 13, 5)
    mapping = build_mapping("os", workload, ARCHS["bare_1x1"])
    assert mapping.spatial == {}
    design = lower(workload, ARCHS["bare_1x1"], mapping)
    assert entries(design) == {"I": "direct", "W": "direct", "O": "stationary"}
    assert math.prod(lp.factor for lp in design.loops) >= workload.macs


def test_whole_workload_in_the_array_is_one_step() -> None:
    workload = einsum("x,y->xy", {"x": 9, "y": 10})  # no reduction: the output is stationary only in one step
    design = lower(workload, multicast(), build_mapping("os", workload, multicast()))
    assert design.stream_loop() is None
    assert all(e.is_stationary for e in design.access.values())


# --- parameters -----------------------------------------------------------------------------------


def test_spatial_override() -> None:
    workload = gemm(64, 64, 64)
    mapping = build_mapping("ws", workload, multicast(), spatial={"X": "N=8", "Y": "K"})
    assert spatial(mapping) == {"Y": "K=16", "X": "N=8"}
    check(lower(workload, multicast(), mapping), "ws")


def test_spatial_override_of_one_axis_chooses_the_other() -> None:
    workload = gemm(64, 64, 64)
    mapping = build_mapping("ws", workload, multicast(), spatial={"y": "K=4"})
    assert spatial(mapping) == {"Y": "K=4", "X": "N=16"}


def test_spatial_override_can_leave_an_axis_unused() -> None:
    workload = gemm(64, 64, 64)
    mapping = build_mapping("ws", workload, multicast(), spatial={"Y": None})
    assert spatial(mapping) == {"X": "N=16"}


def test_stream_override() -> None:
    workload = WORKLOADS["conv2d_resnet"]
    design = lower(workload, multicast(), build_mapping("ws", workload, multicast(), stream="P"))
    loop = design.stream_loop()
    assert loop is not None and loop.dim == "P"


def test_mapping_reexports() -> None:
    import sasim.mapping as m

    assert set(m.__all__) == {"MAPPING_PRESETS", "AccessEntry", "Axis", "Link", "LoopSpec", "Mapping",
                              "build_mapping", "parse_access_entry", "parse_loops",
                              # the mapper, imported on first use
                              "Constraints", "Effort", "MapPoint", "MapSpace", "MapperResult", "Network",
                              "NetworkResult", "Objective", "Progress", "SearchStats", "Structure",
                              "compact_mapping", "load_network", "map_network", "search"}
    assert all(getattr(m, name) is not None for name in m.__all__)
    assert m.Axis is Axis


def test_spec_file_forms() -> None:
    from sasim.spec import spec_from_dict

    spec = spec_from_dict({
        "workload": {"preset": "gemm", "M": 32, "N": 32, "K": 32},
        "architecture": {"preset": "eyeriss", "rows": 6},
        "mapping": {"preset": "ws", "spatial": {"X": "N", "Y": "K"}},
    })
    check(spec.design(), "ws")
    spec = spec_from_dict({"workload": "gemm:M=32,N=32,K=32", "architecture": "gemmini", "mapping": "os"})
    check(spec.design(), "os")


# --- errors ------------------------------------------------------------------------------------------


def test_unknown_preset_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("rs", gemm(4, 4, 4), multicast())
    assert str(exc.value) == "unknown mapping preset 'rs'; choose one of ['ws', 'os', 'is']"


def test_unknown_parameter_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("ws", gemm(4, 4, 4), multicast(), spatial_x="N")
    assert str(exc.value) == (
        "mapping preset 'ws' has no parameter(s) ['spatial_x']; its parameters are ['spatial', 'stream']"
    )


def test_dataflow_the_architecture_cannot_do_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("os", gemm(64, 64, 64), tpu_v1())
    assert str(exc.value) == (
        "mapping preset 'os' keeps the output 'O' stationary, but architecture 'tpu_v1' has no stationary output "
        "link (architecture.array.output_links is ['chain']); presets it supports: ['ws']"
    )


def test_input_stationary_on_gemmini_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("is", gemm(64, 64, 64), gemmini())
    assert str(exc.value) == (
        "mapping preset 'is' keeps the input 'I' stationary, but architecture 'gemmini' has no stationary input "
        "link (architecture.array.input_links is ['systolic']); presets it supports: ['ws', 'os']"
    )


def test_stationary_tensor_uses_every_dimension_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("is", WORKLOADS["depthwise"], multicast())
    assert str(exc.value) == (
        "mapping preset 'is' cannot keep the input 'I' stationary: it uses every dimension of 'depthwise' larger "
        "than 1 (['C', 'P', 'Q', 'R', 'S']), so no stream loop leaves it in place and the 16x16 array cannot hold "
        "the whole workload at once"
    )


def test_matrix_vector_has_no_weight_reuse_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("ws", gemm(1, 64, 64), gemmini())
    assert str(exc.value) == (
        "mapping preset 'ws' cannot keep the weight 'W' stationary: it uses every dimension of 'gemm' larger "
        "than 1 (['N', 'K']), so no stream loop leaves it in place and the 16x16 array cannot hold the whole "
        "workload at once"
    )


def test_one_step_needs_every_stationary_link_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("ws", gemm(1, 1, 1), ws_systolic())
    assert str(exc.value) == (
        "mapping preset 'ws': no mapping of 'gemm' onto the 16x16 array of 'ws_systolic' keeps 'W' stationary "
        "with the links the architecture has; the closest candidate fails with: the array holds the whole "
        "workload at once, so every tensor stays in the PEs, but architecture 'ws_systolic' has no stationary "
        "input link for 'I' (architecture.array.input_links is ['systolic'])"
    )


def test_spatial_override_that_cannot_be_fed_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("ws", gemm(64, 64, 64), multicast(), spatial={"X": "N", "Y": "M"})
    assert str(exc.value) == (
        "mapping preset 'ws': no mapping of 'gemm' onto the 16x16 array of 'multicast' keeps 'W' stationary with "
        "the links the architecture has; the closest candidate fails with: mapping.access.O: no access entry can "
        "feed tensor 'O': with X=['N'], Y=['M'] and the stream loop M it needs a distinct value in every PE every "
        "step (links the architecture allows for it: ['tree', 'stationary']); map a dimension O does not use onto "
        "an array axis, or make it the innermost loop"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("N", "mapping preset 'ws': spatial must map 'X' and/or 'Y' to a dimension such as 'N' or 'N=8', not 'N'"),
        ({"Z": "N"}, "mapping preset 'ws': spatial: unknown array axis 'Z'; the axes are 'X' (along a row) and 'Y'"),
        ({"X": "Q"}, "mapping preset 'ws': spatial.X: unknown dimension 'Q'; the dimensions are ['M', 'N', 'K']"),
        ({"X": 4}, "mapping preset 'ws': spatial.X: give a dimension such as 'N' or 'N=8', not 4"),
        ({"Y": "K=17"}, "mapping preset 'ws': spatial.Y: factor of K must be from 1 to 16 (its size 64 and the "
                        "array's 16 rows), not '17'"),
        ({"X": "N", "Y": "N"}, "mapping preset 'ws': spatial: X and Y both name dimension 'N'; give each axis its "
                               "own dimension"),
    ],
)
def test_spatial_parameter_wrong(value: object, message: str) -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("ws", gemm(64, 64, 64), multicast(), spatial=value)
    assert str(exc.value) == message


def test_stream_used_by_the_stationary_tensor_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("ws", gemm(64, 64, 64), multicast(), stream="K")
    assert str(exc.value) == (
        "mapping preset 'ws': stream: 'W' uses dimension 'K', so it could not stay stationary while the array "
        "steps through it; choose a dimension 'W' does not use"
    )


def test_stream_unknown_dimension_wrong() -> None:
    with pytest.raises(MappingError) as exc:
        build_mapping("os", gemm(64, 64, 64), multicast(), stream="Z")
    assert str(exc.value) == (
        "mapping preset 'os': stream: unknown dimension 'Z'; the dimensions are ['M', 'N', 'K']"
    )


# --- never fails on valid input -------------------------------------------------------------------

KNOWN_REFUSALS = ("has no stationary", "cannot keep the", "no mapping of")
_IO_LINKS = [LinkKind.SYSTOLIC, LinkKind.MULTICAST, LinkKind.STATIONARY]
_OUT_LINKS = [LinkKind.CHAIN, LinkKind.TREE, LinkKind.STATIONARY]


@st.composite
def random_workloads(draw: st.DrawFn) -> Workload:
    size = st.integers(1, 12)
    kind = draw(st.sampled_from(["gemm", "batched_gemm", "conv2d", "depthwise_conv2d", "einsum"]))
    if kind == "gemm":
        return gemm(draw(st.integers(1, 40)), draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    if kind == "batched_gemm":
        return batched_gemm(draw(st.integers(1, 3)), draw(size), draw(size), draw(size))
    if kind == "einsum":
        eq = draw(st.sampled_from(["mk,kn->mn", "mk,nk->mn", "abc,cd->abd", "xy,y->x", "x,y->xy", "ab,b->ab"]))
        return einsum(eq, {c: draw(size) for c in sorted(set(eq) - set(",->"))})
    r, s, stride, dil, pad = draw(size.filter(lambda v: v <= 4)), draw(st.integers(1, 4)), draw(
        st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h, w = (r - 1) * dil + draw(size), (s - 1) * dil + draw(size)
    common = dict(H=h, W=w, R=r, S=s, N=draw(st.integers(1, 2)), stride=stride, dilation=dil, padding=pad)
    if kind == "conv2d":
        return conv2d(K=draw(size), C=draw(size), **common)
    return depthwise_conv2d(C=draw(size), **common)


@st.composite
def random_architectures(draw: st.DrawFn) -> Architecture:
    buffers = []
    for i in range(draw(st.integers(0, 3))):
        holds = draw(st.lists(st.sampled_from(list(Role)), min_size=1, max_size=3, unique=True))
        buffers.append(Buffer(
            name=f"b{i}", capacity=draw(st.sampled_from([8, 16, 100, 1024, 1 << 14, 1 << 18])), word_bits=8,
            holds=tuple(holds), semantics=draw(st.sampled_from(list(BufferSemantics))),
        ))
    io_links = st.lists(st.sampled_from(_IO_LINKS), min_size=1, max_size=3, unique=True).map(tuple)
    array = PEArray(
        rows=draw(st.integers(1, 17)), cols=draw(st.integers(1, 17)), input_links=draw(io_links),
        weight_links=draw(io_links),
        output_links=draw(st.lists(st.sampled_from(_OUT_LINKS), min_size=1, max_size=3, unique=True).map(tuple)),
    )
    pe = PE(input_registers=draw(st.sampled_from([1, 2, 12])), weight_registers=draw(st.sampled_from([1, 3, 224])),
            output_registers=draw(st.sampled_from([1, 4, 24])))
    return Architecture(buffers=tuple(buffers), array=array, pe=pe)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_workloads(), random_architectures(), st.sampled_from(MAPPING_PRESETS))
def test_any_workload_on_any_architecture(workload: Workload, arch: Architecture, preset: str) -> None:
    try:
        mapping = build_mapping(preset, workload, arch)
    except MappingError as exc:
        assert any(text in str(exc) for text in KNOWN_REFUSALS), str(exc)
        assert "please report" not in str(exc)
        return
    check(lower(workload, arch, mapping), preset)
