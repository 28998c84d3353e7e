"""Architecture presets: published numbers, overrides, the registry and its error messages."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from sasim.arch import (
    ARCH_PRESETS,
    Architecture,
    LinkKind,
    build_architecture,
    eyeriss,
    gemmini,
    multicast,
    os_systolic,
    preset_parameters,
    simba,
    tpu_v1,
    ws_systolic,
)
from sasim.errors import ArchitectureError, SpecError
from sasim.workload import Role

KiB, MiB = 1024, 1 << 20
SYS, MC, ST, CHAIN, TREE = (LinkKind.SYSTOLIC, LinkKind.MULTICAST, LinkKind.STATIONARY, LinkKind.CHAIN,
                            LinkKind.TREE)
DOCS = Path(__file__).resolve().parent.parent / "docs" / "presets.md"


def buffers(arch: Architecture) -> dict[str, tuple[int, tuple[str, ...]]]:
    return {b.name: (b.capacity, tuple(r.value for r in b.holds)) for b in arch.buffers}


def links(arch: Architecture) -> tuple[tuple[LinkKind, ...], ...]:
    return arch.array.input_links, arch.array.weight_links, arch.array.output_links


# --- every preset -----------------------------------------------------------------------------


def test_registry_names() -> None:
    assert list(ARCH_PRESETS) == ["ws_systolic", "os_systolic", "multicast", "eyeriss", "simba", "gemmini", "tpu_v1"]


@pytest.mark.parametrize("name", list(ARCH_PRESETS))
def test_preset_builds_with_defaults(name: str) -> None:
    arch = ARCH_PRESETS[name]()
    assert isinstance(arch, Architecture)
    assert arch.name == name
    assert build_architecture(name, {}) == arch


@pytest.mark.parametrize("name", list(ARCH_PRESETS))
def test_preset_small_override(name: str) -> None:
    arch = build_architecture(name, {"rows": 4, "cols": 4})
    assert (arch.array.rows, arch.array.cols) == (4, 4)
    assert links(arch) == links(ARCH_PRESETS[name]())


@pytest.mark.parametrize("name", list(ARCH_PRESETS))
def test_preset_parameters_are_keyword_only(name: str) -> None:
    params = inspect.signature(ARCH_PRESETS[name]).parameters.values()
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params)
    assert {"rows", "cols", "dram_latency", "dram_words_per_cycle", "dram_word_bits", "clock_mhz", "name"} <= set(
        preset_parameters(name)
    )


@pytest.mark.parametrize("name", list(ARCH_PRESETS))
def test_preset_docstring_cites_a_source(name: str) -> None:
    doc = inspect.getdoc(ARCH_PRESETS[name]) or ""
    assert "Source" in doc
    assert any(year in doc for year in ("1982", "2015", "2016", "2017", "2019", "2021"))


@pytest.mark.parametrize("name", list(ARCH_PRESETS))
def test_docs_list_every_preset_and_parameter(name: str) -> None:
    text = DOCS.read_text()
    assert f"`{name}`" in text
    for param in preset_parameters(name):
        assert f"`{param}`" in text, (name, param)


# --- the generic arrays ----------------------------------------------------------------------


def test_ws_systolic_links_are_the_classic_ones() -> None:
    arch = ws_systolic()
    assert links(arch) == ((SYS,), (ST, SYS), (CHAIN,))
    assert (arch.array.rows, arch.array.cols) == (16, 16)
    assert buffers(arch) == {"global_buffer": (256 * KiB, ("input", "weight", "output"))}


def test_os_systolic_links_are_the_classic_ones() -> None:
    assert links(os_systolic()) == ((SYS,), (SYS,), (ST,))


def test_multicast_links_are_buses_and_trees() -> None:
    assert links(multicast()) == ((MC, ST), (MC, ST), (TREE, ST))


def test_generic_sizes_and_registers_override() -> None:
    arch = multicast(buffer_size="1MiB", buffer_banks=4, input_registers=3, weight_registers=5, output_registers=7,
                     dram_words_per_cycle=16, clock_mhz=500)
    assert arch.buffers[0].capacity == MiB and arch.buffers[0].banks == 4
    assert (arch.pe.input_registers, arch.pe.weight_registers, arch.pe.output_registers) == (3, 5, 7)
    assert arch.dram.words_per_cycle == 16 and arch.clock_mhz == 500


# --- published accelerators ------------------------------------------------------------------


def test_eyeriss_published_numbers() -> None:
    arch = eyeriss()
    assert (arch.array.rows, arch.array.cols) == (12, 14)
    assert buffers(arch) == {"global_buffer": (108 * KiB, ("input", "output"))}  # weights bypass the GLB
    assert arch.buffers[0].banks == 27
    assert (arch.pe.input_registers, arch.pe.weight_registers, arch.pe.output_registers) == (12, 224, 24)
    assert arch.clock_mhz == 200
    assert (arch.dram.words_per_cycle, arch.dram.word_bits) == (1, 16)  # 64 b x 60 MHz / 200 MHz, rounded down
    assert links(arch) == ((MC, ST), (MC, ST), (CHAIN, ST))


def test_simba_published_numbers() -> None:
    arch = simba()
    assert (arch.array.rows, arch.array.cols) == (16, 64)  # 16 PEs x (8 vector MACs x 8 lanes)
    assert buffers(arch) == {
        "global_buffer": (64 * KiB, ("input", "output")),
        "weight_buffer": (16 * 32 * KiB, ("weight",)),
        "input_buffer": (16 * 8 * KiB, ("input",)),
        "accumulation_buffer": (16 * 3 * KiB, ("output",)),
    }


def test_simba_pe_buffers_scale_with_the_pe_count() -> None:
    arch = simba(rows=4, cols=16, weight_buffer_size="16KiB")
    assert buffers(arch)["weight_buffer"] == (4 * 16 * KiB, ("weight",))
    assert buffers(arch)["accumulation_buffer"] == (4 * 3 * KiB, ("output",))
    assert all(b.banks == 4 for b in arch.buffers[1:])


def test_gemmini_published_numbers() -> None:
    arch = gemmini()
    assert (arch.array.rows, arch.array.cols) == (16, 16)
    assert buffers(arch) == {"scratchpad": (256 * KiB, ("input", "weight")), "accumulator": (64 * KiB, ("output",))}
    assert [(b.banks, b.word_bits) for b in arch.buffers] == [(4, 128), (2, 512)]
    assert (arch.dram.words_per_cycle, arch.dram.word_bits) == (1, 128)  # dma_buswidth = 128
    assert links(arch) == ((SYS,), (ST, SYS), (CHAIN, ST))  # WS or OS
    assert arch.pe.weight_registers == 2


def test_tpu_v1_published_numbers() -> None:
    arch = tpu_v1()
    assert (arch.array.rows, arch.array.cols) == (256, 256)
    assert buffers(arch) == {
        "unified_buffer": (24 * MiB, ("input", "output")),
        "weight_fifo": (4 * 64 * KiB, ("weight",)),
        "accumulators": (4 * MiB, ("output",)),
    }
    assert arch.clock_mhz == 700
    # 30 GB/s at 700 MHz = 42.86 B/cycle, rounded down.
    assert (arch.dram.words_per_cycle, arch.dram.word_bits) == (42, 8)
    assert arch.dram.bits_per_cycle * arch.clock_mhz * 1e6 / 8 <= 30e9
    assert links(arch) == ((SYS,), (ST, SYS), (CHAIN,))


def test_sizes_accept_bytes_and_units() -> None:
    assert tpu_v1(unified_buffer_size=1 << 20).buffers[0].capacity == MiB
    assert gemmini(scratchpad_size="128KiB", accumulator_size="128 KiB").buffers[1].capacity == 128 * KiB


def test_roles_held_are_roles() -> None:
    assert eyeriss().buffers[0].holds == (Role.INPUT, Role.OUTPUT)


# --- errors -------------------------------------------------------------------------------------


def test_unknown_preset_wrong() -> None:
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("eyerss", {})
    assert str(exc.value) == (
        "unknown architecture preset 'eyerss'; choose one of "
        "['eyeriss', 'gemmini', 'multicast', 'os_systolic', 'simba', 'tpu_v1', 'ws_systolic']"
    )


def test_unknown_parameter_wrong() -> None:
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("gemmini", {"rows": 8, "spad": 1})
    assert str(exc.value) == (
        "architecture preset 'gemmini' has no parameter(s) ['spad']; its parameters are ['rows', 'cols', "
        "'scratchpad_size', 'scratchpad_banks', 'accumulator_size', 'accumulator_banks', 'dram_latency', "
        "'dram_words_per_cycle', 'dram_word_bits', 'clock_mhz', 'name']"
    )


def test_bad_value_wrong() -> None:
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("eyeriss", {"rows": 0})
    assert str(exc.value) == (
        "architecture preset 'eyeriss': parameter rows is invalid: Input should be greater than or equal to 1, "
        "not 0 (it sets architecture.array.rows)"
    )


def test_bad_value_reports_the_array_before_derived_fields_wrong() -> None:
    # simba sizes its PE buffers from rows: the array's own field is what the user got wrong.
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("simba", {"rows": 2000})
    assert str(exc.value) == (
        "architecture preset 'simba': parameter rows is invalid: Input should be less than or equal to 1024, "
        "not 2000 (it sets architecture.array.rows)"
    )


def test_bad_type_wrong() -> None:
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("tpu_v1", {"cols": True})
    assert str(exc.value) == "architecture preset 'tpu_v1': parameter cols must be an integer, not True"
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("tpu_v1", {"clock_mhz": "fast"})
    assert str(exc.value) == "architecture preset 'tpu_v1': parameter clock_mhz must be a number, not 'fast'"


def test_bad_size_wrong() -> None:
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("gemmini", {"scratchpad_size": "12 furlongs"})
    assert str(exc.value) == (
        "architecture preset 'gemmini': parameter scratchpad_size is invalid: a capacity is a byte count such as "
        "65536, '64KiB' or '2MiB', not '12 furlongs'"
    )


def test_inconsistent_values_name_the_parameters_wrong() -> None:
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("ws_systolic", {"buffer_size": "64B"})
    assert str(exc.value) == (
        "architecture preset 'ws_systolic': architecture.buffers[0]: capacity 64 B is smaller than one word in "
        "each of 16 banks of 64 bits; parameters involved: buffer_banks, buffer_read_latency, buffer_size, "
        "buffer_word_bits"
    )


def test_bad_name_wrong() -> None:
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("multicast", {"name": "my chip"})
    assert str(exc.value) == (
        "architecture preset 'multicast': parameter name is invalid: name 'my chip' is not a valid identifier: "
        "use letters, digits and '_', starting with a letter or '_' (it sets architecture.name)"
    )


def test_parameters_not_a_mapping_wrong() -> None:
    with pytest.raises(ArchitectureError) as exc:
        build_architecture("eyeriss", [("rows", 4)])  # type: ignore[arg-type]
    assert str(exc.value) == (
        "architecture preset 'eyeriss': parameters must be a mapping of name to value, not [('rows', 4)]"
    )


def test_errors_are_spec_errors_wrong() -> None:
    with pytest.raises(SpecError):
        eyeriss(cols=-1)
