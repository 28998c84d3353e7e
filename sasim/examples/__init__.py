"""The bundled example specs: one YAML file per example, named after the file.

Each name is accepted wherever a spec path is (``sasim model gemm_ws``,
``load_spec("gemm_ws")``). The one-line description shown by ``sasim examples``
is the spec's own ``description`` key.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["EXAMPLES_DIR", "example_names", "example_path"]

#: The directory holding the bundled ``*.yaml`` specs (shipped as package data).
EXAMPLES_DIR = Path(__file__).resolve().parent


def example_names() -> tuple[str, ...]:
    """Names of the bundled examples, sorted."""
    return tuple(sorted(p.stem for p in EXAMPLES_DIR.glob("*.yaml")))


def example_path(name: str) -> Path | None:
    """The file of example ``name``, or ``None`` if there is no such example."""
    if name not in example_names():
        return None
    return EXAMPLES_DIR / f"{name}.yaml"
