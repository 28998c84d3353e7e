"""Bundled architecture presets: generic arrays and published accelerators.

Every preset is a function with keyword-only parameters whose defaults are the
published numbers (or, for the generic arrays, sensible ones), so one preset serves
many sizes: ``eyeriss(rows=6)``, ``tpu_v1(rows=32, cols=32)``. ``ARCH_PRESETS`` maps
names to the functions and :func:`build_architecture` builds one by name from a
parameter dictionary (this is what a spec's ``architecture: {preset: NAME, ...}``
does). ``docs/presets.md`` lists every preset with its parameters and sources.

Each preset sets the array's per-role link kinds to the links the hardware has, the
classic one first, so the access entries derived from a mapping are the classic ones
and a dataflow the hardware cannot do is rejected (an output-stationary mapping on a
weight-stationary systolic array, say).

Capacities are bytes (``65536``, ``"64KiB"``, ``"2MiB"``); PE registers are counted in
words (elements), whatever their width: the widths live in the workload.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from sasim.arch.architecture import Architecture, LinkKind, parse_bytes
from sasim.errors import ArchitectureError
from sasim.validation import field_path

__all__ = [
    "ARCH_PRESETS",
    "build_architecture",
    "eyeriss",
    "gemmini",
    "multicast",
    "os_systolic",
    "preset_parameters",
    "simba",
    "tpu_v1",
    "ws_systolic",
]

_SYS, _MC, _ST = LinkKind.SYSTOLIC, LinkKind.MULTICAST, LinkKind.STATIONARY
_CHAIN, _TREE = LinkKind.CHAIN, LinkKind.TREE

Size = int | str
_ALL_ROLES = ("input", "weight", "output")


class _Params:
    """The parameters of one preset call, and which architecture field each one sets.

    Fields are recorded by their path below ``architecture`` (``array.rows``,
    ``buffers[0].capacity``) so a pydantic error on a field is reported against the
    preset parameter the user wrote.
    """

    def __init__(self, preset: str, values: dict[str, Any]) -> None:
        self.preset = preset
        self.values = values
        self.origin: dict[str, str] = {}
        for key, value in values.items():
            default = _DEFAULTS[preset][key]
            if isinstance(default, bool):
                continue
            if isinstance(default, int) and (isinstance(value, bool) or not isinstance(value, int)):
                raise self.error(key, f"must be an integer, not {value!r}")
            if isinstance(default, float) and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise self.error(key, f"must be a number, not {value!r}")
            if key == "name" and not isinstance(value, str):
                raise self.error(key, f"must be a string, not {value!r}")

    def error(self, param: str, rule: str) -> ArchitectureError:
        return ArchitectureError(f"architecture preset {self.preset!r}: parameter {param} {rule}")

    def get(self, path: str, param: str) -> Any:
        """The value of ``param``, recorded as the source of ``path``."""
        self.origin[path] = param
        return self.values[param]

    def size(self, path: str, param: str, per: int = 1) -> int:
        """A byte size from ``param`` (``"64KiB"`` or an int), times ``per`` copies."""
        self.origin[path] = param
        value = self.values[param]
        try:
            parsed = parse_bytes(value)
        except ValueError as exc:
            raise self.error(param, f"is invalid: {exc}") from None
        if isinstance(parsed, bool) or not isinstance(parsed, int):
            raise self.error(param, f"must be a byte count such as 65536 or '64KiB', not {value!r}")
        return parsed * per

    def common(self) -> dict[str, Any]:
        """DRAM, clock and name, which every preset takes."""
        return {
            "name": self.get("name", "name"),
            "clock_mhz": self.get("clock_mhz", "clock_mhz"),
            "dram": {
                "latency": self.get("dram.latency", "dram_latency"),
                "words_per_cycle": self.get("dram.words_per_cycle", "dram_words_per_cycle"),
                "word_bits": self.get("dram.word_bits", "dram_word_bits"),
            },
        }

    def build(self, data: dict[str, Any]) -> Architecture:
        try:
            return Architecture.model_validate(data)
        except ValidationError as exc:
            raise self._reword(exc) from None

    def _reword(self, exc: ValidationError) -> ArchitectureError:
        errors = exc.errors()
        # Report the array's own fields first: a bad ``rows`` also breaks the buffers sized from it.
        first = next((e for e in errors if tuple(e.get("loc", ()))[:1] == ("array",)), errors[0])
        loc = tuple(first.get("loc", ()))
        path = field_path("", loc)
        msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        where = field_path("architecture", loc)
        param = self.origin.get(path)
        if param is not None:
            shown = "" if first.get("type") == "value_error" else f", not {self.values[param]!r}"
            return self.error(param, f"is invalid: {msg}{shown} (it sets {where})")
        involved = sorted({p for f, p in self.origin.items() if path and f.startswith(path)})
        hint = f"; parameters involved: {', '.join(involved)}" if involved else ""
        return ArchitectureError(f"architecture preset {self.preset!r}: {where}: {msg}{hint}")


def _links(
    inputs: tuple[LinkKind, ...], weights: tuple[LinkKind, ...], outputs: tuple[LinkKind, ...]
) -> dict[str, Any]:
    return {"input_links": inputs, "weight_links": weights, "output_links": outputs}


def _generic(preset: str, values: dict[str, Any], links: dict[str, Any]) -> Architecture:
    p = _Params(preset, values)
    data = p.common()
    data["array"] = {"rows": p.get("array.rows", "rows"), "cols": p.get("array.cols", "cols"), **links}
    data["buffers"] = [{
        "name": "global_buffer",
        "capacity": p.size("buffers[0].capacity", "buffer_size"),
        "banks": p.get("buffers[0].banks", "buffer_banks"),
        "word_bits": p.get("buffers[0].word_bits", "buffer_word_bits"),
        "read_latency": p.get("buffers[0].read_latency", "buffer_read_latency"),
        "holds": _ALL_ROLES,
    }]
    data["pe"] = {
        "input_registers": p.get("pe.input_registers", "input_registers"),
        "weight_registers": p.get("pe.weight_registers", "weight_registers"),
        "output_registers": p.get("pe.output_registers", "output_registers"),
        "mac_latency": p.get("pe.mac_latency", "mac_latency"),
    }
    return p.build(data)


# --- generic arrays -----------------------------------------------------------------------


def ws_systolic(
    *, rows: int = 16, cols: int = 16, buffer_size: Size = "256KiB", buffer_banks: int = 16,
    buffer_word_bits: int = 64, buffer_read_latency: int = 1, input_registers: int = 1, weight_registers: int = 1,
    output_registers: int = 1, mac_latency: int = 1, dram_latency: int = 100, dram_words_per_cycle: int = 4,
    dram_word_bits: int = 64, clock_mhz: float = 1000.0, name: str = "ws_systolic",
) -> Architecture:
    """A weight-stationary systolic array (TPU-like), with one global buffer for every tensor.

    Links: weights stationary (loaded by shifting, so ``systolic`` too), inputs
    systolic (``systolic-x`` under a ``ws`` mapping), partial sums down a systolic
    reduction chain (``chain-y``). No output-stationary or input-stationary dataflow:
    the PEs have no stationary input or output links.
    Source: H. T. Kung, "Why systolic architectures?", IEEE Computer 15(1), 1982; the
    weight-stationary organisation of N. P. Jouppi et al., ISCA 2017 (see :func:`tpu_v1`).
    Sizes are generic defaults, not a published chip.
    """
    return _generic("ws_systolic", dict(locals()), _links((_SYS,), (_ST, _SYS), (_CHAIN,)))


def os_systolic(
    *, rows: int = 16, cols: int = 16, buffer_size: Size = "256KiB", buffer_banks: int = 16,
    buffer_word_bits: int = 64, buffer_read_latency: int = 1, input_registers: int = 1, weight_registers: int = 1,
    output_registers: int = 1, mac_latency: int = 1, dram_latency: int = 100, dram_words_per_cycle: int = 4,
    dram_word_bits: int = 64, clock_mhz: float = 1000.0, name: str = "os_systolic",
) -> Architecture:
    """An output-stationary systolic array, with one global buffer for every tensor.

    Links: inputs and weights systolic (``systolic-x`` and ``systolic-y`` under an
    ``os`` mapping), outputs stationary (accumulated in place, then drained). No
    reduction links, so only the ``os`` dataflow maps onto it.
    Source: the output-stationary class of Y.-H. Chen, J. Emer, V. Sze, ISCA 2016
    (e.g. ShiDianNao, Du et al., ISCA 2015). Sizes are generic defaults.
    """
    return _generic("os_systolic", dict(locals()), _links((_SYS,), (_SYS,), (_ST,)))


def multicast(
    *, rows: int = 16, cols: int = 16, buffer_size: Size = "256KiB", buffer_banks: int = 16,
    buffer_word_bits: int = 64, buffer_read_latency: int = 1, input_registers: int = 1, weight_registers: int = 1,
    output_registers: int = 1, mac_latency: int = 1, dram_latency: int = 100, dram_words_per_cycle: int = 4,
    dram_word_bits: int = 64, clock_mhz: float = 1000.0, name: str = "multicast",
) -> Architecture:
    """A multicast array (Eyeriss/Simba-like): row and column buses, adder-tree reduction.

    Links: inputs and weights multicast or stationary, outputs reduced by an adder
    tree or stationary, so ``ws``, ``os`` and ``is`` all map onto it.
    Source: the multicast networks of Eyeriss (Chen et al., JSSC 2017) and Simba
    (Shao et al., MICRO 2019). Sizes are generic defaults.
    """
    return _generic("multicast", dict(locals()), _links((_MC, _ST), (_MC, _ST), (_TREE, _ST)))


# --- published accelerators -------------------------------------------------------------


def eyeriss(
    *, rows: int = 12, cols: int = 14, global_buffer_size: Size = "108KiB", global_buffer_banks: int = 27,
    global_buffer_word_bits: int = 64, ifmap_spad: int = 12, weight_spad: int = 224, psum_spad: int = 24,
    mac_latency: int = 2, dram_latency: int = 100, dram_words_per_cycle: int = 1, dram_word_bits: int = 16,
    clock_mhz: float = 200.0, name: str = "eyeriss",
) -> Architecture:
    """Eyeriss v1: 12x14 PEs, a 108 KB global buffer, per-PE scratchpads.

    Sources: Y.-H. Chen, T. Krishna, J. Emer, V. Sze, "Eyeriss: An Energy-Efficient
    Reconfigurable Accelerator for Deep Convolutional Neural Networks", IEEE JSSC
    52(1), 2017 (ISSCC 2016); Y.-H. Chen, J. Emer, V. Sze, ISCA 2016 (row stationary).

    * Array: 168 PEs as 12 rows x 14 columns; 16-bit fixed point (use a workload
      with ``bits=16, acc_bits=16`` to match; registers and the buffer are sized in
      words and bytes, the widths come from the workload).
    * Global buffer: 108 KB (here 108 KiB) holding ifmaps and psums; **weights bypass
      it** (they go from DRAM straight to the PE spads), so it holds inputs and
      outputs only. 27 banks of 4 KiB with 64-bit words (the bank width is our
      assumption).
    * PE scratchpads: ifmap 12 words, filter 224 words, psum 24 words.
    * Clock: 200 MHz core clock (the chip runs 100-250 MHz).
    * DRAM: a 64-bit off-chip bus on a 60 MHz link clock (JSSC 2017), 64 x 60 / 200 =
      19.2 bits per core cycle, rounded down to one 16-bit word per cycle
      (``dram_words_per_cycle=1, dram_word_bits=16``); the first-word latency is not
      published: 100 cycles is our assumption.
    * MAC: a two-stage pipelined multiply-accumulate (``mac_latency=2``).
    * Links: ifmaps and filters reach the PEs over multicast buses (the
      GIN/GON networks; the diagonal ifmap reuse of row stationary is
      ``multicast-diagonal``), psums accumulate between vertically adjacent PEs
      (``chain``), and the spads let any tensor stay in a PE (``stationary``).
    """
    p = _Params("eyeriss", dict(locals()))
    data = p.common()
    data["array"] = {"rows": p.get("array.rows", "rows"), "cols": p.get("array.cols", "cols"),
                     **_links((_MC, _ST), (_MC, _ST), (_CHAIN, _ST))}
    data["buffers"] = [{
        "name": "global_buffer",
        "capacity": p.size("buffers[0].capacity", "global_buffer_size"),
        "banks": p.get("buffers[0].banks", "global_buffer_banks"),
        "word_bits": p.get("buffers[0].word_bits", "global_buffer_word_bits"),
        "holds": ("input", "output"),
    }]
    data["pe"] = {
        "input_registers": p.get("pe.input_registers", "ifmap_spad"),
        "weight_registers": p.get("pe.weight_registers", "weight_spad"),
        "output_registers": p.get("pe.output_registers", "psum_spad"),
        "mac_latency": p.get("pe.mac_latency", "mac_latency"),
    }
    return p.build(data)


def simba(
    *, rows: int = 16, cols: int = 64, global_buffer_size: Size = "64KiB", global_buffer_banks: int = 8,
    weight_buffer_size: Size = "32KiB", input_buffer_size: Size = "8KiB", accumulation_buffer_size: Size = "3KiB",
    dram_latency: int = 100, dram_words_per_cycle: int = 4, dram_word_bits: int = 64,
    clock_mhz: float = 1000.0, name: str = "simba",
) -> Architecture:
    """Simba, one chiplet: 16 PEs of 8 vector MACs x 8 lanes, a 64 KB global buffer.

    Source: Y. S. Shao et al., "Simba: Scaling Deep-Learning Inference with
    Multi-Chip-Module-Based Architecture", MICRO 2019. Per chiplet: 16 PEs; per PE 8
    vector MAC units, each 8 lanes wide (64 int8 MACs), a 32 KB weight buffer, an 8 KB
    input buffer and a 3 KB accumulation buffer; a 64 KB global buffer per chiplet.

    How it is approximated (our model has one 2-D array with per-PE registers and
    buffer levels *above* the array, shared by all PEs):

    * The array is the chiplet's MAC grid: ``rows`` = PEs (16), ``cols`` = MACs per
      PE (8 vector MACs x 8 lanes = 64), so 16 x 64 = 1,024 MACs. A PE's two-level
      structure (lanes inside vector MACs) is flattened into one row of 64.
    * Each per-PE buffer becomes one buffer level of ``rows`` times its size, shared
      by the whole array: ``weight_buffer`` 16 x 32 KiB = 512 KiB (weights),
      ``input_buffer`` 16 x 8 KiB = 128 KiB (inputs), ``accumulation_buffer``
      16 x 3 KiB = 48 KiB (outputs). Giving each role its own level keeps the
      per-role capacities; the order (weights, inputs, accumulations, outer to
      inner) is our choice. Pooling is optimistic when PEs need the same data (a
      multicast input is stored once here, once per PE in silicon).
    * The 64 KiB global buffer holds inputs and outputs (activations), above the
      PE buffers; weights come from DRAM into the weight buffers. Its 8 banks of 64
      bits are our assumption; each folded PE buffer has one 64-bit bank per PE.
    * Links: inputs multicast (to the vector MACs of a PE and across PEs), weights
      stationary in the MACs, partial sums reduced by adder trees (the vector MAC's
      8-lane reduction and the cross-PE accumulation); every role may also stay
      stationary, so ``ws``, ``os`` and ``is`` all map.
    * Clock and DRAM: the chiplet's frequency depends on its supply voltage and a
      package has no DRAM of its own, so ``clock_mhz=1000`` and the default DRAM
      channel are assumptions. Partial sums are 24-bit in Simba: set the workload's
      ``acc_bits=24`` to match.
    """
    p = _Params("simba", dict(locals()))
    data = p.common()
    n = p.get("array.rows", "rows")
    data["array"] = {"rows": n, "cols": p.get("array.cols", "cols"), **_links((_MC, _ST), (_ST, _MC), (_TREE, _ST))}
    pes = n if isinstance(n, int) and n > 0 else 1
    data["buffers"] = [
        {"name": "global_buffer", "capacity": p.size("buffers[0].capacity", "global_buffer_size"),
         "banks": p.get("buffers[0].banks", "global_buffer_banks"), "word_bits": 64, "holds": ("input", "output")},
        {"name": "weight_buffer", "capacity": p.size("buffers[1].capacity", "weight_buffer_size", pes),
         "banks": pes, "word_bits": 64, "holds": ("weight",)},
        {"name": "input_buffer", "capacity": p.size("buffers[2].capacity", "input_buffer_size", pes),
         "banks": pes, "word_bits": 64, "holds": ("input",)},
        {"name": "accumulation_buffer", "capacity": p.size("buffers[3].capacity", "accumulation_buffer_size", pes),
         "banks": pes, "word_bits": 64, "holds": ("output",)},
    ]
    for i in (1, 2, 3):
        p.origin[f"buffers[{i}].banks"] = "rows"
    return p.build(data)


def gemmini(
    *, rows: int = 16, cols: int = 16, scratchpad_size: Size = "256KiB", scratchpad_banks: int = 4,
    accumulator_size: Size = "64KiB", accumulator_banks: int = 2, dram_latency: int = 100,
    dram_words_per_cycle: int = 1, dram_word_bits: int = 128, clock_mhz: float = 1000.0, name: str = "gemmini",
) -> Architecture:
    """Gemmini's default configuration: a 16x16 int8 systolic mesh, WS or OS.

    Source: H. Genc et al., "Gemmini: Enabling Systematic Deep-Learning Architecture
    Evaluation via Full-Stack Integration", DAC 2021 (the baseline configuration):

    * Array: 16 x 16 PEs (``meshRows`` x ``meshColumns``, one PE per tile), int8
      inputs, int32 accumulation.
    * Scratchpad: 256 KiB, 4 banks, holding inputs and weights; a scratchpad row is
      one element per column (``cols`` x 8 bits).
    * Accumulator: 64 KiB of int32, 2 banks, holding outputs; a row is ``cols`` x 32
      bits (both capped at the 4,096-bit word limit for very wide meshes).
    * DRAM: the 128-bit system bus Gemmini's DMA uses (``dma_buswidth = 128``), one
      beat per cycle; the latency (100 cycles) and the 1 GHz clock are our
      assumptions (the SoC sets both). The current ``ucb-bar/gemmini`` default
      configuration has 128 KiB + 128 KiB instead: pass ``scratchpad_size`` and
      ``accumulator_size`` to match it.
    * Links: the mesh runs weight-stationary (weights preloaded by shifting, inputs
      systolic, partial sums down a chain) or output-stationary (inputs and weights
      systolic, outputs accumulate in place), so ``ws`` and ``os`` map; inputs cannot
      stay in a PE, so ``is`` does not. Each PE double-buffers its weight.
    """
    p = _Params("gemmini", dict(locals()))
    data = p.common()
    c = p.get("array.cols", "cols")
    width = c if isinstance(c, int) and c > 0 else 1
    data["array"] = {"rows": p.get("array.rows", "rows"), "cols": c, **_links((_SYS,), (_ST, _SYS), (_CHAIN, _ST))}
    data["buffers"] = [
        {"name": "scratchpad", "capacity": p.size("buffers[0].capacity", "scratchpad_size"),
         "banks": p.get("buffers[0].banks", "scratchpad_banks"), "word_bits": min(8 * width, 4096),
         "holds": ("input", "weight")},
        {"name": "accumulator", "capacity": p.size("buffers[1].capacity", "accumulator_size"),
         "banks": p.get("buffers[1].banks", "accumulator_banks"), "word_bits": min(32 * width, 4096),
         "holds": ("output",)},
    ]
    p.origin["buffers[0].word_bits"] = p.origin["buffers[1].word_bits"] = "cols"
    data["pe"] = {"weight_registers": 2}
    return p.build(data)


def tpu_v1(
    *, rows: int = 256, cols: int = 256, unified_buffer_size: Size = "24MiB", weight_fifo_size: Size = "256KiB",
    accumulator_size: Size = "4MiB", dram_latency: int = 100, dram_words_per_cycle: int = 42, dram_word_bits: int = 8,
    clock_mhz: float = 700.0, name: str = "tpu_v1",
) -> Architecture:
    """TPU v1: a 256x256 int8 weight-stationary matrix unit at 700 MHz.

    Source: N. P. Jouppi et al., "In-Datacenter Performance Analysis of a Tensor
    Processing Unit", ISCA 2017.

    * Array: the 256 x 256 MXU of 8-bit MACs; weights are preloaded by shifting and
      double-buffered in each cell (``weight_registers=2``), inputs flow systolically
      across, partial sums flow down into the accumulators: the ``ws`` dataflow
      only.
    * Unified buffer: 24 MiB of activations (layer inputs and outputs).
    * Weight FIFO: four tiles of 256 x 256 bytes = 256 KiB, holding weights on their
      way from DRAM (weights bypass the unified buffer).
    * Accumulators: 4 MiB (4,096 rows of 256 x 32 bits), holding outputs.
    * Buffer ports: one 8-bit bank per column for the unified buffer and the weight
      FIFO (256 bytes per cycle), one 32-bit bank per column for the accumulators.
    * DRAM: 8 GiB of DDR3 at 30 GB/s, read by the weight fetcher. At 700 MHz that is
      30e9 / 700e6 = 42.86 bytes per cycle, rounded down to 42 one-byte words
      (``dram_words_per_cycle=42, dram_word_bits=8``, 29.4 GB/s) so the model never
      exceeds the published bandwidth. The first-word latency is not published:
      100 cycles is our assumption.
    """
    p = _Params("tpu_v1", dict(locals()))
    data = p.common()
    c = p.get("array.cols", "cols")
    width = c if isinstance(c, int) and c > 0 else 1
    data["array"] = {"rows": p.get("array.rows", "rows"), "cols": c, **_links((_SYS,), (_ST, _SYS), (_CHAIN,))}
    data["buffers"] = [
        {"name": "unified_buffer", "capacity": p.size("buffers[0].capacity", "unified_buffer_size"),
         "banks": width, "word_bits": 8, "holds": ("input", "output")},
        {"name": "weight_fifo", "capacity": p.size("buffers[1].capacity", "weight_fifo_size"),
         "banks": width, "word_bits": 8, "holds": ("weight",)},
        {"name": "accumulators", "capacity": p.size("buffers[2].capacity", "accumulator_size"),
         "banks": width, "word_bits": 32, "holds": ("output",)},
    ]
    for i in (0, 1, 2):
        p.origin[f"buffers[{i}].banks"] = "cols"
    data["pe"] = {"weight_registers": 2}
    return p.build(data)


ARCH_PRESETS: dict[str, Callable[..., Architecture]] = {
    "ws_systolic": ws_systolic,
    "os_systolic": os_systolic,
    "multicast": multicast,
    "eyeriss": eyeriss,
    "simba": simba,
    "gemmini": gemmini,
    "tpu_v1": tpu_v1,
}

_DEFAULTS: dict[str, dict[str, Any]] = {
    name: {p.name: p.default for p in inspect.signature(fn).parameters.values()} for name, fn in ARCH_PRESETS.items()
}


def preset_parameters(name: str) -> dict[str, Any]:
    """The parameters of preset ``name`` with their defaults, in signature order."""
    return dict(_DEFAULTS[name])


def build_architecture(name: str, params: dict[str, Any] | None = None) -> Architecture:
    """Build preset ``name`` with keyword ``params``; a clear :class:`ArchitectureError` otherwise."""
    builder = ARCH_PRESETS.get(name) if isinstance(name, str) else None
    if builder is None:
        raise ArchitectureError(f"unknown architecture preset {name!r}; choose one of {sorted(ARCH_PRESETS)}")
    params = {} if params is None else params
    if not isinstance(params, dict):
        raise ArchitectureError(
            f"architecture preset {name!r}: parameters must be a mapping of name to value, not {params!r}"
        )
    allowed = list(_DEFAULTS[name])
    unknown = sorted(str(k) for k in set(params) - set(allowed))
    if unknown:
        raise ArchitectureError(
            f"architecture preset {name!r} has no parameter(s) {unknown}; its parameters are {allowed}"
        )
    return builder(**params)
