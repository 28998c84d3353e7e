"""Bundled network layer lists for ``sasim map --network NAME`` (one YAML file each)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["NETWORKS_DIR", "network_names", "network_path"]

#: The directory holding the bundled ``*.yaml`` networks (shipped as package data).
NETWORKS_DIR = Path(__file__).resolve().parent


def network_names() -> tuple[str, ...]:
    """Names of the bundled networks, sorted."""
    return tuple(sorted(p.stem for p in NETWORKS_DIR.glob("*.yaml")))


def network_path(name: str) -> Path | None:
    """The file of bundled network ``name``, or ``None``."""
    return NETWORKS_DIR / f"{name}.yaml" if name in network_names() else None
