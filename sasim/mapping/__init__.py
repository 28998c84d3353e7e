"""Mappings: the spec (loops per level, spatial loops, bypass, access entries), presets,
and the mapper (map-space, search, networks).

The mapper's names (``search``, ``MapSpace``, ``load_network``, ...) are imported on
first use: they need :mod:`sasim.design`, which itself imports this package.
"""

from typing import Any

from sasim.mapping.access import AccessEntry, Link, parse_access_entry
from sasim.mapping.presets import MAPPING_PRESETS, build_mapping
from sasim.mapping.spec import Axis, LoopSpec, Mapping, parse_loops

_LAZY = {
    "Constraints": "sasim.mapping.constraints",
    "MapSpace": "sasim.mapping.space",
    "Structure": "sasim.mapping.space",
    "compact_mapping": "sasim.mapping.space",
    "Effort": "sasim.mapping.explore",
    "Objective": "sasim.mapping.explore",
    "MapPoint": "sasim.mapping.search",
    "MapperResult": "sasim.mapping.search",
    "Progress": "sasim.mapping.search",
    "SearchStats": "sasim.mapping.search",
    "search": "sasim.mapping.search",
    "Network": "sasim.mapping.network",
    "NetworkResult": "sasim.mapping.network",
    "load_network": "sasim.mapping.network",
    "map_network": "sasim.mapping.network",
}

__all__ = [
    "MAPPING_PRESETS",
    "AccessEntry",
    "Axis",
    "Constraints",
    "Effort",
    "Link",
    "LoopSpec",
    "MapPoint",
    "MapSpace",
    "MapperResult",
    "Mapping",
    "Network",
    "NetworkResult",
    "Objective",
    "Progress",
    "SearchStats",
    "Structure",
    "build_mapping",
    "compact_mapping",
    "load_network",
    "map_network",
    "parse_access_entry",
    "parse_loops",
    "search",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sasim.mapping' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
