"""Deriving each tensor's access entry from the mapping, and checking overrides.

Along an array axis whose spatial loops are all irrelevant to a tensor, every PE
of a row (or column) needs the same values: the tensor must be *shared* along it
(systolic or multicast for inputs, a partial-sum chain or adder tree for
outputs). Along an axis with a relevant spatial loop each row (column) gets its
own values. A tensor irrelevant to the stream loop (the innermost temporal loop)
stays in the PE over consecutive steps: it is *stationary*.
"""

from __future__ import annotations

import itertools

from sasim.arch.architecture import LinkKind
from sasim.errors import MappingError
from sasim.mapping.access import AXIS_VECTOR, DIAGONAL_VECTOR, AccessEntry, Link, parse_access_entry
from sasim.mapping.spec import Axis
from sasim.workload.workload import Role, Workload

__all__ = ["legal_entries", "choose_entry"]

_INPUT_MOVES = (LinkKind.SYSTOLIC, LinkKind.MULTICAST)
_OUTPUT_MOVES = (LinkKind.CHAIN, LinkKind.TREE)


def _axis_relation(workload: Workload, tensor: str, dims: list[str]) -> str:
    """'none' (no spatial loop), 'shared', 'distinct' or 'mixed' along one axis."""
    if not dims:
        return "none"
    rel = [workload.is_relevant(tensor, d) for d in dims]
    if not any(rel):
        return "shared"
    if all(rel):
        return "distinct"
    return "mixed"


def _diagonal(workload: Workload, tensor: str, x_dims: list[str], y_dims: list[str]) -> bool:
    if len(x_dims) != 1 or len(y_dims) != 1 or x_dims[0] == y_dims[0]:
        return False
    for expr in workload.indices(tensor):
        coefs = {t.dim: t.coef for t in expr.terms}
        if x_dims[0] in coefs and y_dims[0] in coefs:
            return coefs[x_dims[0]] == coefs[y_dims[0]]
    return False


def _link_order(link: Link) -> tuple[bool, tuple[int, int]]:
    return (link.direction == (0, 0), link.direction)


def legal_entries(
    workload: Workload,
    tensor: str,
    spatial_dims: dict[Axis, list[str]],
    stream_dim: str | None,
    allowed: tuple[LinkKind, ...],
) -> list[AccessEntry]:
    """Every access entry the mapping can realise for ``tensor``, in the architecture's
    order of preference (first is the default). Empty if none can."""
    role = workload.tensors[tensor].role
    moves = _OUTPUT_MOVES if role is Role.OUTPUT else _INPUT_MOVES
    move_kinds = [k for k in allowed if k in moves]
    if stream_dim is None:
        # A single step: nothing needs to stay; keep the tensor in place if the PEs can.
        stationary = LinkKind.STATIONARY in allowed
    else:
        stationary = not workload.is_relevant(tensor, stream_dim)
        if stationary and LinkKind.STATIONARY not in allowed:
            return []
    x, y = spatial_dims.get(Axis.X, []), spatial_dims.get(Axis.Y, [])
    rel = {Axis.X: _axis_relation(workload, tensor, x), Axis.Y: _axis_relation(workload, tensor, y)}
    per_axis: list[list[Link | None]] = []
    for axis in (Axis.X, Axis.Y):
        if rel[axis] in ("none", "distinct"):
            per_axis.append([None])
        elif rel[axis] == "shared":
            per_axis.append([Link(k, AXIS_VECTOR[axis]) for k in move_kinds])
        else:  # mixed: groups of PEs share; only a bus (or tree) can do that
            kind = LinkKind.TREE if role is Role.OUTPUT else LinkKind.MULTICAST
            per_axis.append([Link(kind, AXIS_VECTOR[axis])] if kind in move_kinds else [])
    time = [Link(LinkKind.STATIONARY, (0, 0))] if stationary else [None]
    entries: list[AccessEntry] = []
    for combo in itertools.product(*per_axis, time):
        links = tuple(sorted((lk for lk in combo if lk is not None), key=_link_order))
        entries.append(AccessEntry(links))
    if not stationary and rel[Axis.X] == "distinct" and rel[Axis.Y] == "distinct":
        # Every PE needs its own value every step: only a diagonal reuse can feed that.
        if role is not Role.OUTPUT and _diagonal(workload, tensor, x, y):
            return [AccessEntry((Link(k, DIAGONAL_VECTOR),)) for k in move_kinds]
        return []
    return entries


def choose_entry(
    workload: Workload,
    tensor: str,
    spatial_dims: dict[Axis, list[str]],
    stream_dim: str | None,
    allowed: tuple[LinkKind, ...],
    override: str | None,
) -> AccessEntry:
    """The default entry, or the user's ``override`` after checking the mapping can produce it."""
    legal = legal_entries(workload, tensor, spatial_dims, stream_dim, allowed)
    where = f"mapping.access.{tensor}"
    if not legal:
        if stream_dim is not None and not workload.is_relevant(tensor, stream_dim):
            raise MappingError(
                f"{where}: tensor {tensor!r} does not use the stream loop {stream_dim}, so it must stay "
                f"in the PEs (stationary), but the architecture allows only {[k.value for k in allowed]} "
                f"for it; make a dimension {tensor} uses the innermost loop"
            )
        stream = f"the stream loop {stream_dim}" if stream_dim else "no stream loop"
        raise MappingError(
            f"{where}: no access entry can feed tensor {tensor!r}: with X={spatial_dims.get(Axis.X, [])}, "
            f"Y={spatial_dims.get(Axis.Y, [])} and {stream} it needs a distinct value in every PE every step "
            f"(links the architecture allows for it: {[k.value for k in allowed]}); map a dimension {tensor} "
            "does not use onto an array axis, or make it the innermost loop"
        )
    if override is None:
        return legal[0]
    try:
        wanted = parse_access_entry(override)
    except ValueError as exc:
        raise MappingError(f"{where}: {exc}") from None
    if wanted not in legal:
        raise MappingError(
            f"{where}: this mapping cannot produce access entry {override!r} for {tensor!r}; "
            f"it can produce {[e.name for e in legal]}"
        )
    return wanted
