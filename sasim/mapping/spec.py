"""The mapping spec: temporal loops per level, spatial loops per array axis,
per-tensor bypass and access-entry overrides.

Loops are written outer to inner, either as a list of ``{dim, factor}`` or as a
string ``"M=4 N=2 K=*"``; ``*`` stands for whatever the other factors of that
dimension leave (``ceil(size / product)``). Factors need not divide the sizes:
the last tile of a loop is partial.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from sasim.workload.workload import Identifier

__all__ = ["Axis", "Layout", "LoopSpec", "Mapping", "parse_loops", "format_loops"]


class Layout(StrEnum):
    """How a tensor's tile is laid out over a buffer's banks (docs/timing.md, "Layout and banks").

    ``ideal`` (the default): laid out for its reader, whose reads never conflict.
    ``interleaved``: word ``k`` of the tile in bank ``k mod banks``. ``blocked``: the tile's
    words in ``banks`` contiguous blocks, one per bank. Both can make a reader's parallel
    reads hit one bank, which then serialize."""

    IDEAL = "ideal"
    INTERLEAVED = "interleaved"
    BLOCKED = "blocked"


class Axis(StrEnum):
    """An axis of the PE array: ``X`` runs along a row (across columns), ``Y`` down a column."""

    X = "X"
    Y = "Y"


_TOKEN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(\d+|\*)$")


def _check_factor(value: Any) -> Any:
    if value == "*" and isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a loop factor is a positive integer or '*' (the rest of the dimension), not {value!r}")
    return value


class LoopSpec(BaseModel):
    """One loop: a dimension and its factor (``"*"``: the rest of the dimension)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dim: Identifier
    factor: Annotated[int | Literal["*"], BeforeValidator(_check_factor)]


def parse_loops(value: Any) -> Any:
    """Accept ``"M=4 N=2, K=*"`` as well as a list of ``{dim, factor}`` mappings."""
    if value is None:
        return []
    if isinstance(value, str):
        loops = []
        for token in re.split(r"[\s,]+", value.strip()):
            if not token:
                continue
            m = _TOKEN.match(token)
            if m is None:
                raise ValueError(f"cannot read loop {token!r} in {value!r}: write DIM=FACTOR, e.g. 'M=4 K=*'")
            factor: int | str = m.group(2) if m.group(2) == "*" else int(m.group(2))
            loops.append({"dim": m.group(1), "factor": factor})
        return loops
    return value


def format_loops(loops: tuple[LoopSpec, ...] | list[LoopSpec]) -> str:
    return " ".join(f"{lp.dim}={lp.factor}" for lp in loops)


Loops = Annotated[tuple[LoopSpec, ...], BeforeValidator(parse_loops)]


class Mapping(BaseModel):
    """Where each loop of the workload runs (see docs/reference.md#mapping)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temporal: dict[Identifier, Loops] = Field(default_factory=dict, description="level name -> loops, outer to inner")
    spatial: dict[Axis, Loops] = Field(default_factory=dict, description="X / Y -> loops, outer to inner")
    bypass: dict[Identifier, tuple[Identifier, ...]] = Field(
        default_factory=dict, description="buffer name -> tensors that skip it"
    )
    access: dict[Identifier, str] = Field(default_factory=dict, description="tensor -> access entry, e.g. 'systolic-x'")
    layout: dict[Identifier, dict[Identifier, Layout]] = Field(
        default_factory=dict, description="buffer name -> tensor -> bank layout (default ideal)"
    )

    @model_validator(mode="after")
    def _check(self) -> Mapping:
        for level, tensors in self.bypass.items():
            repeated = sorted({t for t in tensors if tensors.count(t) > 1})
            if repeated:
                raise ValueError(f"bypass.{level} lists {repeated} more than once")
        return self

    def to_yaml_dict(self) -> dict[str, Any]:
        """A plain dict that reads back as this mapping (loops in string form)."""
        out: dict[str, Any] = {"temporal": {lvl: format_loops(lp) for lvl, lp in self.temporal.items()}}
        if self.spatial:
            out["spatial"] = {ax.value: format_loops(lp) for ax, lp in self.spatial.items()}
        if self.bypass:
            out["bypass"] = {lvl: list(ts) for lvl, ts in self.bypass.items()}
        if self.access:
            out["access"] = dict(self.access)
        if self.layout:
            out["layout"] = {lvl: {t: kind.value for t, kind in ts.items()} for lvl, ts in self.layout.items()}
        return out
