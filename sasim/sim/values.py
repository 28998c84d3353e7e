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

__all__ = ["DrainValues", "drain_values"]

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


class DrainValues:
    """Every drain event's tile values, stored flat: event ``e`` is ``flat[starts[e]:starts[e + 1]]``."""

    def __init__(self, flat: np.ndarray, starts: np.ndarray) -> None:
        self.flat = flat
        self.starts = starts
        self._starts = starts.tolist()

    def __getitem__(self, e: int) -> np.ndarray:
        return self.flat[self._starts[e] : self._starts[e + 1]]

    def gather(self, events: np.ndarray) -> np.ndarray:
        """The values of ``events`` concatenated, in the order given."""
        lengths = self.starts[events + 1] - self.starts[events]
        if len(events) and np.all(lengths == lengths[0]):
            return np.asarray(self.flat[(self.starts[events][:, None] + np.arange(lengths[0])[None, :]).ravel()])
        return np.concatenate([self[int(e)] for e in events]) if len(events) else np.zeros(0, dtype=np.int64)


def drain_values(design: Design, schedule: Schedule, operands: dict[str, np.ndarray]) -> DrainValues:
    """Per output drain event (in order), its array tile's values in canonical order.

    ``operands`` maps each input tensor to its flat values.
    """
    wl = design.workload
    out = wl.output
    seq = schedule.seqs[(design.pe_level.name, out)]
    dims = schedule.dims
    bases = seq.bases
    letters = {d: chr(ord("b") + i) for i, d in enumerate(dims)}  # "a" is the event axis
    relevant = {t: [d for d in dims if wl.is_relevant(t, d)] for t in wl.operands}
    equation = ",".join("a" + "".join(letters[d] for d in relevant[t]) for t in wl.operands)
    equation += "->a" + "".join(letters[d] for d in wl.tensor_dims(out))  # canonical output order
    sizes = seq.sizes
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    flat = np.zeros(int(starts[-1]), dtype=np.int64)
    for g, extent in enumerate(seq.keys):
        members = np.flatnonzero(seq.group == g)
        templates = {t: _template(design, schedule, t, extent) for t in wl.operands}
        chunk = max(1, _CHUNK_POINTS // max(1, int(np.prod(extent))))
        for lo in range(0, len(members), chunk):
            part = members[lo : lo + chunk]
            gathered = []
            for t in wl.operands:
                offsets = bases[part] @ schedule.unit(t)
                template = templates[t]
                box = operands[t][template[None, ...] + offsets.reshape((-1,) + (1,) * template.ndim)]
                # one axis per dimension the operand uses (the others have length 1)
                gathered.append(box.reshape((len(part), *(extent[dims.index(d)] for d in relevant[t]))))
            summed = np.einsum(equation, *gathered)
            values = wrap(summed.reshape(len(part), -1), wl.tensors[out].bits)
            flat[(starts[part][:, None] + np.arange(values.shape[1])[None, :]).ravel()] = values.ravel()
    return DrainValues(flat, starts)
