"""Random small designs (every workload kind, buffet or double buffer, read latency
1-3, MAC depth 1-3, DRAM latency 0-30 and 1-4 words per cycle, random mappings with
imperfect factors): the RTL equals the simulator on each."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rtl_helpers import assert_equal_to_simulator

from sasim.arch.architecture import DRAM, PE, Architecture, Buffer, BufferSemantics, PEArray
from sasim.design import Design, lower
from sasim.errors import SasimError
from sasim.gen.tables import build_tables
from sasim.mapping.spec import Mapping
from sasim.verify import verify
from sasim.workload import Role, batched_gemm, conv2d, depthwise_conv2d, einsum, gemm

sizes = st.integers(1, 6)


@st.composite
def workloads(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    bits = draw(st.sampled_from([4, 8, 16]))
    kind = draw(st.sampled_from(["gemm", "batched", "conv", "depthwise", "einsum"]))
    if kind == "gemm":
        return gemm(draw(sizes), draw(sizes), draw(sizes), bits=bits)
    if kind == "batched":
        return batched_gemm(draw(st.integers(1, 2)), draw(sizes), draw(sizes), draw(sizes), bits=bits)
    conv = dict(R=draw(st.integers(1, 3)), S=draw(st.integers(1, 3)), stride=draw(st.integers(1, 2)),
                dilation=draw(st.integers(1, 2)))
    conv["H"] = (conv["R"] - 1) * conv["dilation"] + 1 + draw(st.integers(0, 3))
    conv["W"] = (conv["S"] - 1) * conv["dilation"] + 1 + draw(st.integers(0, 3))
    if kind == "conv":
        return conv2d(K=draw(st.integers(1, 3)), C=draw(st.integers(1, 2)), **conv, bits=bits)
    if kind == "depthwise":
        return depthwise_conv2d(C=draw(st.integers(1, 3)), **conv, bits=bits)
    equation = draw(st.sampled_from(["mk,kn->mn", "abc,cd->abd", "xy,y->x", "x,y->xy"]))
    return einsum(equation, {ch: draw(sizes) for ch in sorted(set(equation) - set(",->"))}, bits=bits)


@st.composite
def rtl_designs(draw: st.DrawFn) -> Design:
    wl = draw(workloads())
    buf = Buffer(name="GLB", capacity=draw(st.sampled_from([512, 2048])), holds=(Role.INPUT, Role.WEIGHT, Role.OUTPUT),
                 semantics=BufferSemantics(draw(st.sampled_from(["buffet", "double_buffer"]))),
                 read_latency=draw(st.integers(1, 3)), word_bits=draw(st.sampled_from([8, 16, 64])),
                 banks=draw(st.integers(1, 4)))
    arch = Architecture(
        dram=DRAM(latency=draw(st.integers(0, 30)), words_per_cycle=draw(st.integers(1, 4)),
                  word_bits=draw(st.sampled_from([8, 16, 64]))),
        buffers=(buf,), array=PEArray(rows=draw(st.integers(1, 4)), cols=draw(st.integers(1, 4))),
        pe=PE(input_registers=1 << 16, weight_registers=1 << 16, output_registers=1 << 16,
              mac_latency=draw(st.integers(1, 3))),
    )
    loops: dict[str, list[dict[str, object]]] = {"DRAM": [], "GLB": [], "PE": []}
    spatial: dict[str, list[dict[str, object]]] = {"X": [], "Y": []}
    used = {"X": 1, "Y": 1}
    for dim, size in wl.dims.items():
        where = draw(st.sampled_from(["X", "Y", "GLB", "PE", "split"]))
        if where in spatial:
            room = (arch.array.cols if where == "X" else arch.array.rows) // used[where]
            f = min(size, draw(st.integers(1, 4)), room)
            f = max(1, f)
            used[where] *= f
            spatial[where].append({"dim": dim, "factor": f})
            loops[draw(st.sampled_from(["DRAM", "GLB"]))].append({"dim": dim, "factor": "*"})
        elif where == "split":
            loops["GLB"].append({"dim": dim, "factor": draw(st.integers(1, size))})
            loops["DRAM"].append({"dim": dim, "factor": "*"})
        else:
            loops[where].append({"dim": dim, "factor": "*" if where == "GLB" else size})
    for level in loops:
        loops[level] = list(draw(st.permutations(loops[level])))
    mapping = {"temporal": {k: v for k, v in loops.items() if v}, "spatial": {k: v for k, v in spatial.items() if v}}
    try:
        design = lower(wl, arch, Mapping.model_validate(mapping))
        build_tables(design)
    except SasimError:
        from hypothesis import assume

        assume(False)
        raise
    return design


@settings(max_examples=10, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(rtl_designs())
def test_random_designs_rtl_equals_simulator(design: Design) -> None:
    assert_equal_to_simulator(verify(design, seed=1))
