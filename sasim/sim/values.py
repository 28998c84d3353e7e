"""What the array computes: the reduced partial sums of every output drain event.

A drain event covers a box of iteration points (the points sharing the loop
indices at or outside the output's r* at the PE level); its array tile holds, per
output element, the sum over the box of input x weight, wrapped at the accumulator
width. Events with the same box extents are computed together, in chunks: one
gather per operand, one product, one reduction.
"""

from __future__ import annotations

import numpy as np

from sasim.design.design import Design
from sasim.sim.schedule import Schedule
from sasim.workload.workload import wrap

__all__ = ["drain_values"]

_CHUNK_POINTS = 4_000_000


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


def drain_values(design: Design, schedule: Schedule, operands: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Per output drain event (in order), its array tile's values in canonical order.

    ``operands`` maps each input tensor to its flat values.
    """
    wl = design.workload
    out = wl.output
    seq = schedule.seqs[(design.pe_level.name, out)]
    dims = schedule.dims
    bases, extents = seq.bases, seq.extents
    out_axes = [dims.index(d) for d in wl.tensor_dims(out)]
    kept = sorted(out_axes)
    rest = tuple(1 + i for i in range(len(dims)) if i not in out_axes)
    order = [0] + [1 + kept.index(a) for a in out_axes]
    result: list[np.ndarray] = [np.zeros(0, dtype=np.int64)] * seq.events
    unique, group = np.unique(extents, axis=0, return_inverse=True)
    for g, extent_row in enumerate(unique):
        extent = tuple(int(x) for x in extent_row)
        members = np.flatnonzero(group.ravel() == g)
        templates = {t: _template(design, schedule, t, extent) for t in wl.operands}
        chunk = max(1, _CHUNK_POINTS // max(1, int(np.prod(extent))))
        for lo in range(0, len(members), chunk):
            part = members[lo : lo + chunk]
            gathered = []
            for t in wl.operands:
                offsets = bases[part] @ schedule.unit(t)
                template = templates[t]
                gathered.append(operands[t][template[None, ...] + offsets.reshape((-1,) + (1,) * template.ndim)])
            prod = gathered[0] * gathered[1]
            summed = prod.sum(axis=rest) if rest else prod
            summed = np.broadcast_to(summed, (len(part),) + tuple(extent[i] for i in kept))
            values = wrap(np.transpose(summed, order).reshape(len(part), -1), wl.tensors[out].bits)
            for e, row in zip(part, values):
                result[int(e)] = row
    return result
