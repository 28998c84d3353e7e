"""A window of array steps issued at once: the array's recurrence solved with NumPy.

The array issues step ``s`` in cycle ``c[s] = max(c[s-1] + inc[s], T[s])`` (docs/timing.md,
"The array"): ``inc`` is 1, or at a fold boundary the drain of the array plus the preload of
the stationary operand, and ``T[s]`` is the latest of the step's thresholds (its input tiles
readable in their edge buffers, room for its output tile, the stationary tile plus its
preload). With every threshold known, ``c = P + max(0, cummax(T - P))`` where ``P`` is the
running sum of ``inc``. The feeders and the drain obey recurrences of the same form
(``finish[k] = max(finish[k-1] + d[k], a[k])``), solved the same way.

The thresholds close a loop through ``c``, though: an input tile has room in its edge buffer
once the last step of an earlier tile issued, and an output tile once an earlier drain
finished, which waited for that tile's last step. Both only look back, so ``c`` is the unique
fixed point of "thresholds from cycles, cycles from thresholds" and is reached by iterating
from below, starting from "no stalls": a round's cycles are exact up to the first step where
they differ from the previous round's, and once a round changes nothing they are exactly the
cycles the step-by-step loop computes. In steady streams the loop seldom binds and a few
rounds suffice; when it keeps binding, the window keeps the exact prefix and the caller runs
the step-by-step loop for a while.

A window ends before the first step whose thresholds are not known yet (an input tile whose
parent tile has not arrived, room that waits for an output tile the drain cannot open yet);
the step-by-step loop decides those steps, as it decides everything for an output edge buffer
that drains straight to DRAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sasim.sim.fast import _Array, _Feeder

__all__ = ["issue_window"]

#: Rounds of the fixed-point iteration before a window settles for its exact prefix.
ROUNDS = 6

_NONE = np.iinfo(np.int64).min // 4  # "no threshold"


def _chain(first: int, step: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """``x[k] = max(x[k-1] + step[k], floor[k])`` with ``x[-1] = first``, for every k at once."""
    p = first + np.cumsum(step)
    return np.asarray(p + np.maximum(0, np.maximum.accumulate(floor - p)))


@dataclass
class _Stream:
    """One input in a window: thresholds of the tiles its feeder already computed, and the
    tiles ``k0..k1-1`` it computes here."""

    t: str
    feeder: _Feeder
    fixed_steps: np.ndarray  # window steps where an already computed tile starts
    fixed_ready: np.ndarray  # ... and when it is readable
    k0: int
    k1: int
    steps: np.ndarray  # window step where each new tile starts
    room_fixed: np.ndarray  # its room, when known before the window
    room_step: np.ndarray  # else the window step whose issue gives it (-1: room_fixed)
    d: np.ndarray  # (n-1)//bw per new tile
    r: np.ndarray  # the earliest its last element can move, from its parent's fills
    start: np.ndarray | None = None  # a round's results
    finish: np.ndarray | None = None


def _feeder_stream(a: _Array, t: str, feeder: _Feeder, s0: int, cut: int) -> _Stream:
    seq = a.seq[t]
    ea, eb = (int(x) for x in np.searchsorted(seq.first, [s0, cut]))
    k0 = feeder.computed  # every tile that started has been computed: k0 >= ea
    k1 = max(k0, eb)
    steps = seq.first[ea:eb] - s0
    ks = np.arange(k0, k1)
    j = feeder.log.room_index[ks]
    last = seq.last[np.maximum(j, 0)]
    before = (j >= 0) & (last < s0)
    room_fixed = np.zeros(len(ks), dtype=np.int64)
    if before.any():
        room_fixed[before] = feeder.log.shrunk[j[before]] + 1
    return _Stream(
        t, feeder, steps[: k0 - ea], feeder.ready[ea:min(k0, eb)], k0, k1, steps[k0 - ea:],
        room_fixed, np.where((j >= 0) & ~before, last - s0, -1),
        feeder.D[k0:k1], feeder.R[k0:k1],
    )


class _Window:
    """One window's structure (which tiles, where their rooms come from: independent of the
    cycles) and the rounds of its fixed point."""

    def __init__(self, a: _Array, s0: int, cut: int) -> None:
        self.a, self.s0, self.cut, self.n = a, s0, cut, cut - s0
        self.prev = -1 if a.last_issue is None else a.last_issue
        self.fold = np.flatnonzero(a.fold_np[s0:cut])
        self.inc = np.ones(self.n, dtype=np.int64)
        if len(self.fold):
            # c >= max(c[s-1] + latency (the array drained), stationary tile) + its preload
            self.inc[self.fold] = max(1, a.latency) + a.rows_used
            if a.last_issue is None and self.fold[0] == 0:
                self.inc[0] = 1 + a.rows_used
        self.streams = [_feeder_stream(a, t, a.feeders[t], s0, cut) for t in a.inputs]
        self.stat_label = f"input {a.stationary_input}"
        # the output: tiles starting here need room, which a drain gives back
        drain = a.drain
        assert drain is not None
        seq = a.seq[a.out]
        ja, jb = (int(x) for x in np.searchsorted(seq.first, [s0, cut]))
        oa, ob = (int(x) for x in np.searchsorted(seq.last, [s0, cut]))
        self.out_first, self.out_last = (ja, jb), (oa, ob)
        self.out_steps = seq.first[ja:jb] - s0
        j = drain.log.room_index[ja:jb]
        self.room_from = np.where(j >= drain.e, j - drain.e, -1)  # index among the drains solved here
        self.room_fixed = np.zeros(len(j), dtype=np.int64)
        known = (j >= 0) & (j < drain.e)
        if known.any():
            self.room_fixed[known] = drain.log.shrunk[j[known]] + 1
        # the drains solved here: from the drain's next tile to the last that ends in the window
        self.d0 = drain.e
        self.d1 = max(drain.e, min(drain.open_limit(), ob))
        ds = np.arange(self.d0, self.d1)
        self.dur = -(-seq.sizes[ds] // drain.bw)
        ends = seq.last[ds]
        self.complete_step = np.where(ends >= s0, ends - s0, -1)
        self.complete_fixed = np.where(ends < s0, drain.complete[ds], 0)
        # a round's results
        self.thresholds: list[tuple[str, np.ndarray, np.ndarray]] = []
        self.stat_at = np.zeros(len(self.fold), dtype=np.int64)
        self.room = self.room_fixed
        self.drain_finish = np.zeros(0, dtype=np.int64)

    def round(self, c: np.ndarray) -> np.ndarray:
        """Every threshold from the cycles ``c``, then the cycles from the thresholds."""
        a = self.a
        T = np.full(self.n, _NONE, dtype=np.int64)
        self.thresholds = []
        for st in self.streams:
            f = st.feeder
            room = np.where(st.room_step >= 0, c[st.room_step] + 1, st.room_fixed)
            first = f.next_free - 1
            st.finish = _chain(first, 1 + st.d, np.maximum(room + st.d, st.r))
            st.start = np.maximum(np.concatenate([[first], st.finish[:-1]]) + 1, room)
            steps = np.concatenate([st.fixed_steps, st.steps])
            ready = np.concatenate([st.fixed_ready, st.finish + f.latency])
            self.thresholds.append((a.labels[st.t], steps, ready))
            T[steps] = np.maximum(T[steps], ready)
            if st.t == a.stationary_input and len(self.fold):
                pos = np.minimum(np.searchsorted(steps, self.fold), max(len(steps) - 1, 0))
                hit = steps[pos] == self.fold if len(steps) else np.zeros(len(self.fold), dtype=bool)
                self.stat_at = np.where(hit, ready[pos] if len(steps) else 0, 0)
        # a drain moves once its tile is complete and the previous drain moved, for dur cycles
        drain = a.drain
        assert drain is not None
        complete = np.where(self.complete_step >= 0, c[self.complete_step] + a.latency, self.complete_fixed)
        self.drain_finish = _chain(drain.next_free - 1, self.dur, complete + self.dur)
        if len(self.drain_finish):
            self.room = np.where(self.room_from >= 0, self.drain_finish[np.maximum(self.room_from, 0)] + 1,
                                 self.room_fixed)
        T[self.out_steps] = np.maximum(T[self.out_steps], self.room)
        if len(self.fold):
            T[self.fold] = np.maximum(T[self.fold], self.stat_at + a.rows_used)
        return _chain(self.prev, self.inc, T)


def _cut(a: _Array, s0: int, s1: int) -> int:
    """The end of the window from ``s0``: at most ``s1``, and before the first step with a
    threshold that the window's cycles cannot give."""
    cut = s1
    for t in a.inputs:
        seq, feeder = a.seq[t], a.feeders[t]
        ea, eb = (int(x) for x in np.searchsorted(seq.first, [s0, cut]))
        while feeder.prepared < eb and feeder.prepare():
            pass
        if feeder.prepared < eb:  # the parent tile of this one has not arrived
            cut = min(cut, int(seq.first[feeder.prepared]))
            eb = int(np.searchsorted(seq.first, cut))
        if eb > feeder.computed:
            # a tile's room must come from a tile whose last step comes before its first
            ks = np.arange(feeder.computed, eb)
            j = feeder.log.room_index[ks]
            bad = np.flatnonzero((j >= 0) & (seq.last[np.maximum(j, 0)] >= seq.first[ks]))
            if len(bad):
                cut = min(cut, int(seq.first[ks[bad[0]]]))
    drain = a.drain
    assert drain is not None
    seq = a.seq[a.out]
    ja, jb = (int(x) for x in np.searchsorted(seq.first, [s0, cut]))
    if jb > ja:
        # an output tile's room must come from a drain solved here: into an open parent tile,
        # of a tile whose last step comes before its first
        js = np.arange(ja, jb)
        i = drain.log.room_index[js]
        late = (i >= drain.e) & ((i >= drain.open_limit()) | (seq.last[np.maximum(i, 0)] >= seq.first[js]))
        bad = np.flatnonzero(late)
        if len(bad):
            cut = min(cut, int(seq.first[js[bad[0]]]))
    return cut


def issue_window(a: _Array, size: int) -> tuple[int, bool]:
    """Issue up to ``size`` steps from the array's next one at once. Returns how many were
    issued, and whether the window stopped short because its fixed point kept moving."""
    assert a.drain is not None
    a.drain.advance()  # drains of tiles already complete, opening parent tiles where there is room
    s0 = a.s
    cut = _cut(a, s0, min(a.m.sc.steps, s0 + size))
    if cut <= s0:
        return 0, False
    w = _Window(a, s0, cut)
    c = w.prev + np.cumsum(w.inc)  # no stalls: a lower bound
    short = False
    for _ in range(ROUNDS):
        new = w.round(c)
        if np.array_equal(new, c):
            break
        moved = int(np.argmax(new != c))
        c = new
    else:
        # exact up to (and at) the first step that still moved: keep that prefix
        short = True
        w = _Window(a, s0, s0 + moved + 1)
        c = c[: w.n]
        if not np.array_equal(w.round(c), c):
            raise AssertionError("internal error: a window's exact prefix moved")
    _commit(w, c)
    return w.n, short


def _commit(w: _Window, c: np.ndarray) -> None:
    """Apply a solved window: the array's steps and stalls, the feeders' tiles, the drains."""
    a, s0, cut, n = w.a, w.s0, w.cut, w.n
    poll = np.concatenate([[w.prev], c[:-1]]) + 1
    # stalls, charged in the order of the step-by-step loop
    kinds: list[tuple[str, np.ndarray, np.ndarray]] = []
    if len(w.fold):
        drained = poll[w.fold] - 1 + a.latency
        if a.last_issue is None and w.fold[0] == 0:
            drained[0] = 0
        preload = np.maximum(np.maximum(poll[w.fold], drained), w.stat_at) + a.rows_used
        kinds += [("fold drain", w.fold, drained), (w.stat_label, w.fold, w.stat_at), ("preload", w.fold, preload)]
    kinds += w.thresholds
    kinds.append(("output full", w.out_steps, w.room))
    level = poll.copy()
    worst = np.zeros(n, dtype=np.int64)
    code = np.full(n, len(kinds), dtype=np.int64)
    for k, (label, steps, values) in enumerate(kinds):
        if not len(steps):
            continue
        before = level[steps]
        d = np.maximum(values - before, 0)
        total = int(d.sum())
        if total:
            a.stalls[label] += total
            better = d > worst[steps]
            worst[steps[better]] = d[better]
            code[steps[better]] = k
            if label not in ("fold drain", "preload"):
                a.data_stalls += int(d[steps + s0 > 0].sum())
        level[steps] = np.maximum(before, values)
    if not np.array_equal(level, c):
        raise AssertionError("internal error: a window issued a step out of its thresholds")
    a.wait[s0:cut] = c - poll
    names = np.array([label for label, _, _ in kinds] + [""], dtype=object)
    a.cause.extend(names[code].tolist())
    a.cycles[s0:cut] = c
    a.last_issue = int(c[-1])
    a.s = cut
    for st in w.streams:
        seq = a.seq[st.t]
        ea, eb = np.searchsorted(seq.first, [s0, cut])
        a.fills[st.t] += int(a.pe_sums_np[st.t][ea:eb].sum())
        ga, gb = (int(x) for x in np.searchsorted(seq.last, [s0, cut]))
        st.feeder.log.shrunk[ga:gb] = c[seq.last[ga:gb] - s0]  # credits back
        _commit_stream(st)
    drain = a.drain
    assert drain is not None
    seq = a.seq[a.out]
    ja, jb = w.out_first
    drain.log.opened[ja:jb] = c[w.out_steps]
    oa, ob = w.out_last
    a.drained += int(a.pe_sums_np[a.out][oa:ob].sum())
    drain.complete[oa:ob] = c[seq.last[oa:ob] - s0] + a.latency
    if w.d1 > w.d0:
        drain.commit(w.d0, w.d1, w.drain_finish, w.dur)
    m = a.m
    if m.progress is not None and a.s - a.reported >= 4096:
        a.reported = a.s
        m.progress(a.s, m.sc.steps)


def _commit_stream(st: _Stream) -> None:
    """A feeder's new tiles: when each opened and became readable; parents freed."""
    f = st.feeder
    if st.k1 <= st.k0:
        return
    assert st.start is not None and st.finish is not None and f.computed == st.k0
    k0, k1 = st.k0, st.k1
    f.log.opened[k0:k1] = st.start
    f.ready[k0:k1] = st.finish + f.latency
    f.starts.extend(st.start)
    f.finishes.extend(st.finish)
    f.next_free = int(st.finish[-1]) + 1
    for k in np.flatnonzero(f.last_in_parent[k0:k1]).tolist():
        f.src.shrink(int(f.pe[k0 + k]), int(st.finish[k]))
    f.computed = k1
