"""Architectures: DRAM, buffers, the PE array and PEs, energies and presets."""

from sasim.arch.architecture import DRAM, PE, Architecture, Buffer, BufferSemantics, LinkKind, PEArray, parse_bytes

__all__ = ["DRAM", "PE", "Architecture", "Buffer", "BufferSemantics", "LinkKind", "PEArray", "parse_bytes"]
