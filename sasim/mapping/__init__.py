"""Mappings: the spec (loops per level, spatial loops, bypass, access entries) and presets."""

from sasim.mapping.access import AccessEntry, Link, parse_access_entry
from sasim.mapping.presets import MAPPING_PRESETS, build_mapping
from sasim.mapping.spec import Axis, LoopSpec, Mapping, parse_loops

__all__ = [
    "MAPPING_PRESETS",
    "AccessEntry",
    "Axis",
    "Link",
    "LoopSpec",
    "Mapping",
    "build_mapping",
    "parse_access_entry",
    "parse_loops",
]
