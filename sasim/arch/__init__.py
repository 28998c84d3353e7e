"""Architectures: DRAM, buffers, the PE array and PEs, energies and presets."""

from sasim.arch.architecture import DRAM, PE, Architecture, Buffer, BufferSemantics, LinkKind, PEArray, parse_bytes
from sasim.arch.presets import (
    ARCH_PRESETS,
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

__all__ = [
    "ARCH_PRESETS",
    "DRAM",
    "PE",
    "Architecture",
    "Buffer",
    "BufferSemantics",
    "LinkKind",
    "PEArray",
    "build_architecture",
    "eyeriss",
    "gemmini",
    "multicast",
    "os_systolic",
    "parse_bytes",
    "preset_parameters",
    "simba",
    "tpu_v1",
    "ws_systolic",
]
