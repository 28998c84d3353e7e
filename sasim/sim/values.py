"""What the array computes: the reduced partial sums of every output drain event.

A drain event covers a box of iteration points (the points sharing the loop
indices at or outside the output's r* at the PE level); its array tile holds, per
output element, the sum over the box of input x weight, wrapped at the accumulator
width. Events with the same box extents are computed together, in chunks: one
gather per operand, one product, one reduction. Where many events read the same tile of
one operand (a stationary operand), that tile is read once and the other operand's
tiles are reduced against it, so the work is that of the MACs, not of the gathers.

The drain into a buffer only needs the *sum* of the partial sums a buffer tile receives
(:func:`summed_values`): when the boxes of those drain events tile one box of iteration
points, that sum is one contraction over the box, with each operand read in place
through a strided view (the flat index of an operand is linear in the iteration point),
without building any event's values.
"""

from __future__ import annotations

import numpy as np

from sasim.design.design import Design
from sasim.rows import group_rows, grouped
from sasim.sim.schedule import EventSeq, Schedule
from sasim.workload.workload import wrap

__all__ = ["DrainValues", "drain_values", "summed_values"]

_CHUNK_POINTS = 4_000_000


def _consecutive(events: np.ndarray) -> bool:
    """Are ``events`` a run ``e, e + 1, ...`` (then slices serve them, without copies)?"""
    return bool(len(events)) and int(events[-1]) - int(events[0]) + 1 == len(events) and bool(
        np.all(np.diff(events) == 1))


def _template(design: Design, schedule: Schedule, tensor: str, extent: tuple[int, ...]) -> np.ndarray:
    """Flat indices of ``tensor`` over a box at the origin, one axis per dimension."""
    dims = schedule.dims
    shape = schedule.shape[tensor]
    flat = np.zeros([1] * len(dims), dtype=np.int64)
    for axis, expr in enumerate(design.workload.indices(tensor)):
        axis_stride = int(np.prod(shape[axis + 1 :]))
        for term in expr.terms:
            di = dims.index(term.dim)
            view = [1] * len(dims)
            view[di] = extent[di]
            flat = flat + term.coef * axis_stride * np.arange(extent[di], dtype=np.int64).reshape(view)
    return flat


class DrainValues:
    """Drain events' tile values, stored flat: the ``e``-th event is ``flat[starts[e]:starts[e + 1]]``
    (int32 when the accumulator is at most 32 bits wide: sum them in int64)."""

    def __init__(self, flat: np.ndarray, starts: np.ndarray) -> None:
        self.flat = flat
        self.starts = starts

    def __getitem__(self, e: int) -> np.ndarray:
        return self.flat[int(self.starts[e]) : int(self.starts[e + 1])]

    def gather(self, events: np.ndarray) -> np.ndarray:
        """The values of ``events`` concatenated, in the order given (read-only: it may be a view)."""
        if _consecutive(events):
            return self.flat[int(self.starts[events[0]]) : int(self.starts[events[-1] + 1])]  # a view
        lengths = self.starts[events + 1] - self.starts[events]
        if len(events) and np.all(lengths == lengths[0]):
            return np.asarray(self.flat[(self.starts[events][:, None] + np.arange(lengths[0])[None, :]).ravel()])
        return np.concatenate([self[int(e)] for e in events]) if len(events) else np.zeros(0, dtype=np.int64)


class _Group:
    """The drain events of one box extent: each operand's tile per event, gathered."""

    def __init__(self, design: Design, schedule: Schedule, operands: dict[str, np.ndarray],
                 relevant: dict[str, list[str]], bases: np.ndarray, extent: tuple[int, ...]) -> None:
        self.schedule, self.operands, self.bases = schedule, operands, bases
        dims = schedule.dims
        self.templates = {t: _template(design, schedule, t, extent) for t in operands}
        self.shapes = {t: tuple(extent[dims.index(d)] for d in relevant[t]) for t in operands}

    def tiles(self, t: str, events: np.ndarray) -> np.ndarray:
        """Operand ``t``'s tile for each of ``events``: one axis per dimension it uses."""
        offsets = self.bases[events] @ self.schedule.unit(t)
        template = self.templates[t]
        box = self.operands[t][template[None, ...] + offsets.reshape((-1,) + (1,) * template.ndim)]
        return np.asarray(box.reshape((len(events), *self.shapes[t])))


def drain_values(design: Design, schedule: Schedule, operands: dict[str, np.ndarray],
                 events: np.ndarray | None = None) -> DrainValues:
    """Per output drain event (in order; or of ``events`` only, in the order given), its array
    tile's values in canonical order.

    ``operands`` maps each input tensor to its flat values.
    """
    wl = design.workload
    out = wl.output
    seq = schedule.seqs[(design.pe_level.name, out)]
    chosen = np.arange(seq.events, dtype=np.int64) if events is None else np.asarray(events, dtype=np.int64)
    dims = schedule.dims
    letters = {d: chr(ord("b") + i) for i, d in enumerate(dims)}  # "a" is the event axis
    relevant = {t: [d for d in dims if wl.is_relevant(t, d)] for t in wl.operands}
    sides = ["".join(letters[d] for d in relevant[t]) for t in wl.operands]
    result = "a" + "".join(letters[d] for d in wl.tensor_dims(out))  # canonical output order
    equation = ",".join("a" + side for side in sides) + "->" + result
    starts = np.concatenate([[0], np.cumsum(seq.sizes[chosen])]).astype(np.int64)
    bits = wl.tensors[out].bits
    # wrapped values fit the accumulator's width: int32 halves the memory when they fit it
    flat = np.zeros(int(starts[-1]), dtype=np.int32 if bits <= 32 else np.int64)

    def store(slots: np.ndarray, summed: np.ndarray) -> None:
        """Store the values of the events at positions ``slots`` of ``chosen``."""
        values = wrap(summed.reshape(len(slots), -1), bits)
        first, last = int(slots[0]), int(slots[-1])
        if last - first + 1 == len(slots):  # consecutive events (of one extent): one slice
            flat[starts[first] : starts[last + 1]] = values.ravel()
        else:
            flat[(starts[slots][:, None] + np.arange(values.shape[1])[None, :]).ravel()] = values.ravel()

    groups = seq.group[chosen]
    for g, extent in enumerate(seq.keys):
        members = np.flatnonzero(groups == g)  # positions in chosen
        if not len(members):
            continue
        group = _Group(design, schedule, {t: operands[t] for t in wl.operands}, relevant, seq.bases, extent)
        shared = _shared_operand(seq.bases[chosen[members]],
                                 [[dims.index(d) for d in relevant[t]] for t in wl.operands])
        if shared is not None:
            # Many events read the same tile of one operand (a stationary one): read it once
            # and reduce the other operand's tiles against it, one einsum per shared tile.
            which, by_tile = shared
            shared_equation = ",".join(side if i == which else "a" + side for i, side in enumerate(sides))
            shared_equation += "->" + result
            for slots in by_tile:
                slots = members[slots]
                ev = chosen[slots]
                store(slots, np.einsum(shared_equation, *(
                    group.tiles(t, ev[:1])[0] if i == which else group.tiles(t, ev)
                    for i, t in enumerate(wl.operands))))
            continue
        chunk = max(1, _CHUNK_POINTS // max(1, int(np.prod(extent))))
        for lo in range(0, len(members), chunk):
            slots = members[lo : lo + chunk]
            store(slots, np.einsum(equation, *(group.tiles(t, chosen[slots]) for t in wl.operands)))
    return DrainValues(flat, starts)


#: The shared-tile path pays off when each tile serves at least this many events ...
_MIN_SHARING = 32
#: ... and there are at most this many tiles (one einsum each).
_MAX_SHARED_TILES = 20_000


def _shared_operand(bases: np.ndarray, columns: list[list[int]]) -> tuple[int, list[np.ndarray]] | None:
    """The operand whose tiles the events of one group share most (if enough), with the
    events grouped by that tile (indices into ``bases``), or ``None``."""
    best: tuple[int, np.ndarray, int] | None = None
    for which, cols in enumerate(columns):
        _, inverse = group_rows(bases[:, cols])
        count = int(inverse.max()) + 1 if len(inverse) else 0
        if best is None or count < best[2]:
            best = (which, inverse, count)
    if best is None or best[2] == 0:
        return None
    which, inverse, count = best
    if count > _MAX_SHARED_TILES or len(bases) < _MIN_SHARING * count:
        return None
    order, bounds = grouped(inverse, count)
    return which, [order[bounds[i] : bounds[i + 1]] for i in range(count)]


def summed_values(design: Design, schedule: Schedule, operands: dict[str, np.ndarray], seq: EventSeq,
                  events: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The sum over ``events`` (drain events of ``seq``) of their array tiles, per output
    element: ``(elements, values)``, elements distinct, values unwrapped (int64, exact modulo
    2^64). ``None`` unless the events' boxes tile one box exactly.

    Events are disjoint sets of iteration points, so their boxes tile the box that bounds
    them exactly when the volumes add up to its volume. (The output is indexed by plain
    dimensions, so its tile over a box has the box's shape over the output's dimensions.)
    """
    wl = design.workload
    if not len(events):
        return None
    e0, e1 = int(events[0]), int(events[-1]) + 1
    if _consecutive(events):
        pick: slice | np.ndarray = slice(e0, e1)  # the usual case: views, no copies
        volume = int(seq.volume_prefix[e1] - seq.volume_prefix[e0])
    else:
        pick = events
        volume = int(np.prod(seq.extents[events], axis=1).sum())
    bases, extents = seq.bases[pick], seq.extents[pick]
    if np.any(extents <= 0):
        return None
    lo = bases.min(axis=0)
    span = (bases + extents).max(axis=0) - lo
    if int(np.prod(span)) != volume:
        return None
    dims = schedule.dims
    out = wl.output
    letters = {d: chr(ord("a") + i) for i, d in enumerate(dims)}
    # Each operand's axes: the output's dimensions, then the reduced ones. Copied contiguous
    # in that order, every output element is a dot product over contiguous memory, which is
    # what einsum's plain loop does fastest (about 2.5x faster than a strided reduction axis).
    order = list(wl.tensor_dims(out)) + [d for d in dims if not wl.is_relevant(out, d)]
    views, sides = [], []
    for t in wl.operands:
        axes = [dims.index(d) for d in order if wl.is_relevant(t, d)]
        unit = schedule.unit(t)[axes]
        flat = operands[t]
        start = int(lo @ schedule.unit(t))
        end = start + int(((span[axes] - 1) * unit).sum())
        if start < 0 or end >= len(flat) or np.any(unit < 0):
            return None  # not addressable as one strided view: let the caller take the general path
        view = np.lib.stride_tricks.as_strided(
            flat[start:], shape=tuple(int(x) for x in span[axes]),
            strides=tuple(int(u) * flat.itemsize for u in unit), writeable=False)
        views.append(np.ascontiguousarray(view) if view.size <= _CHUNK_POINTS else view)
        sides.append("".join(letters[dims[i]] for i in axes))
    result = "".join(letters[d] for d in wl.tensor_dims(out))
    values = np.einsum(",".join(sides) + "->" + result, *views)
    elements = schedule.template(out, tuple(int(x) for x in span)) + int(lo @ schedule.unit(out))
    return elements, np.asarray(values, dtype=np.int64).ravel()
