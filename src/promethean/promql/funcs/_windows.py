"""Sample windows of a range vector, for all series and all steps at once.

Every series' samples are laid end to end in one flat array; a window is the
half-open index range ``[lo, hi)`` of the samples with
``step - range < t <= step``. One ``np.searchsorted`` over a combined
(series, time) key finds all windows of all series together, so building them
costs no Python loop per series.

Functions that need the samples of a window in order (Kahan sums, linear
regression, smoothing) walk all windows in lockstep with :class:`Lockstep`:
the k-th iteration touches the k-th sample of every window still that long,
so the number of Python iterations is the longest window, never the number of
samples, series or steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np
import numpy.typing as npt

from promethean.promql.values import RangeInput
from promethean.tsdb.storage import STALE_NAN_BITS

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

_KEY_LIMIT = 1 << 62
_T = TypeVar("_T", bound=np.generic)


@dataclass
class Windows:
    ts: I64  # flat timestamps, series after series (stale markers removed)
    vs: F64  # flat values
    lo: I64  # [n_series, n_steps] first flat index of the window
    hi: I64  # [n_series, n_steps] one past the last
    starts: I64  # [n_series + 1] where each series begins in the flat arrays
    sid: I64 | None = None  # flat series index of each sample
    st: I64 | None = None  # flat start timestamps (0: unknown), when the input has them

    def search(self, times: I64, side: Literal["left", "right"]) -> I64:
        """Per series and step, the flat index ``searchsorted`` gives for ``times[step]``.

        The answer always lies within the series' own samples
        (``starts[i] <= idx <= starts[i + 1]``).
        """
        n, n_steps = self.shape
        out = np.empty((n, n_steps), dtype=np.int64)
        times = np.asarray(times, dtype=np.int64)
        for i in range(n):
            a, b = int(self.starts[i]), int(self.starts[i + 1])
            out[i] = a + np.searchsorted(self.ts[a:b], times, side=side)
        return out

    @property
    def count(self) -> I64:
        return self.hi - self.lo

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.lo.shape[0]), int(self.lo.shape[1]))


def build_windows(arg: RangeInput) -> Windows:
    """The flat windows of ``arg`` (computed once per input and cached on it)."""
    cached = arg.cache.get("windows")
    if isinstance(cached, Windows):
        return cached
    w = _build_windows(arg)
    arg.cache["windows"] = w
    return w


def _build_windows(arg: RangeInput) -> Windows:
    n = len(arg.labels)
    steps = np.asarray(arg.step_times, dtype=np.int64)
    n_steps = int(steps.shape[0])
    lengths = np.fromiter((len(t) for t in arg.timestamps), dtype=np.int64, count=n)
    if n == 0 or int(lengths.sum()) == 0:
        zeros = np.zeros((n, n_steps), dtype=np.int64)
        empty_i = np.zeros(0, dtype=np.int64)
        return Windows(empty_i, np.zeros(0), zeros, zeros.copy(), np.zeros(n + 1, np.int64))
    ts = np.concatenate([np.asarray(t, dtype=np.int64) for t in arg.timestamps])
    vs = np.concatenate([np.asarray(v, dtype=np.float64) for v in arg.values])
    sid = np.repeat(np.arange(n, dtype=np.int64), lengths)
    st: I64 | None = None
    if arg.start_timestamps is not None:
        st = np.concatenate(
            [
                np.asarray(x, dtype=np.int64) if x is not None else np.zeros(len(t), np.int64)
                for x, t in zip(arg.start_timestamps, arg.timestamps, strict=True)
            ]
        )
    stale = vs.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    if stale.any():
        keep = ~stale
        ts, vs, sid = ts[keep], vs[keep], sid[keep]
        st = st[keep] if st is not None else None
        lengths = np.bincount(sid, minlength=n).astype(np.int64)
    starts = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=starts[1:])
    if ts.size == 0:
        zeros = np.zeros((n, n_steps), dtype=np.int64)
        return Windows(ts, vs, zeros, zeros.copy(), starts)
    tmin = int(ts.min())
    rel_max = int(ts.max()) - tmin
    span = rel_max + 2
    upper = steps - tmin
    lower = upper - int(arg.range_ms)
    if n * span < _KEY_LIMIT:
        key = ts - tmin + sid * span
        base = (np.arange(n, dtype=np.int64) * span)[:, None]
        hi = np.searchsorted(key, base + np.clip(upper, -1, rel_max)[None, :], side="right")
        lo = np.searchsorted(key, base + np.clip(lower, -1, rel_max)[None, :], side="right")
    else:  # pragma: no cover - needs a time span near 2**62 / n_series ms
        hi = np.empty((n, n_steps), dtype=np.int64)
        lo = np.empty((n, n_steps), dtype=np.int64)
        for i in range(n):
            seg = ts[starts[i] : starts[i + 1]]
            hi[i] = starts[i] + np.searchsorted(seg, steps, side="right")
            lo[i] = starts[i] + np.searchsorted(seg, steps - int(arg.range_ms), side="right")
    return Windows(ts, vs, lo.astype(np.int64), hi.astype(np.int64), starts, sid, st)


class Lockstep:
    """The windows with at least ``min_count`` samples, longest first.

    ``active(k)`` is how many of them have more than ``k`` samples; they are
    the first ``active(k)`` entries, so per-iteration work shrinks with the
    windows instead of masking.
    """

    def __init__(self, w: Windows, min_count: int = 1) -> None:
        cnt = w.count.ravel()
        sel = np.flatnonzero(cnt >= min_count)
        order = sel[np.argsort(-cnt[sel], kind="stable")]
        self.pairs = order  # flat indices into [n_series * n_steps]
        self.counts = cnt[order]
        self.lo = w.lo.ravel()[order]
        self._neg = -self.counts
        self.max_count = int(self.counts[0]) if order.size else 0

    def __len__(self) -> int:
        return int(self.pairs.size)

    def active(self, k: int) -> int:
        return int(np.searchsorted(self._neg, -k, side="left"))

    def scatter(self, shape: tuple[int, int], values: F64) -> tuple[F64, B]:
        out = np.zeros(shape[0] * shape[1], dtype=np.float64)
        present = np.zeros(shape[0] * shape[1], dtype=np.bool_)
        out[self.pairs] = values
        present[self.pairs] = True
        return out.reshape(shape), present.reshape(shape)


def kahan_inc(inc: F64, s: F64, c: F64) -> tuple[F64, F64]:
    """One step of Neumaier-compensated summation, element-wise (upstream's kahansum.Inc)."""
    with np.errstate(invalid="ignore", over="ignore"):
        t = s + inc
        c = c + np.where(np.abs(s) >= np.abs(inc), (s - t) + inc, (inc - t) + s)
    c[np.isinf(t)] = 0.0
    return t, c


def last_index(w: Windows) -> I64:
    return np.maximum(w.hi - 1, 0)


def gather(arr: npt.NDArray[_T], idx: I64) -> npt.NDArray[_T]:
    """``arr[idx]`` that tolerates indices of empty windows (they are masked later)."""
    if arr.size == 0:
        return np.zeros(idx.shape, dtype=arr.dtype)
    return arr[np.minimum(idx, arr.size - 1)]


LD = np.longdouble
#: Above this many summed window samples per stored sample, running sums beat summing
#: each window on its own (long windows over many steps overlap heavily).
_PREFIX_OVERLAP = 4


def window_sums(w: Windows, sel: npt.NDArray[np.intp], arrays: list[npt.NDArray[Any]]) -> list[Any]:
    """Sums of each array over the windows ``sel`` (flat indices into ``[series, step]``).

    In extended precision (64-bit mantissa): per window when windows are short or few,
    from per-series running sums when they overlap heavily. Either way the error is
    well below that of upstream's compensated float64 sums, so results agree with
    upstream to the last digit or so, without a Python loop per sample.
    """
    lo = w.lo.ravel()[sel]
    hi = w.hi.ravel()[sel]
    total = int((hi - lo).sum())
    if total <= _PREFIX_OVERLAP * max(w.vs.size, 1):
        idx = np.empty(lo.size * 2, dtype=np.int64)
        idx[0::2] = lo
        idx[1::2] = hi
        out = []
        for arr in arrays:
            padded = np.append(np.asarray(arr, dtype=LD), LD(0))
            out.append(np.add.reduceat(padded, idx)[0::2])
        return out
    sums = []
    for arr in arrays:
        a = np.asarray(arr, dtype=LD)
        run = np.zeros(a.size + 1, dtype=LD)
        for i in range(w.starts.size - 1):
            s, e = int(w.starts[i]), int(w.starts[i + 1])
            if e > s:
                # Restart per series, so one series' magnitude never blurs the next.
                np.cumsum(a[s:e], out=run[s + 1 : e + 1])
        sums.append(run)
    sid = np.searchsorted(w.starts, lo, side="right") - 1
    base = w.starts[np.clip(sid, 0, w.starts.size - 2)]
    out = []
    for run in sums:
        upper = np.where(hi > base, run[hi], LD(0))
        lower = np.where(lo > base, run[lo], LD(0))
        out.append(upper - lower)
    return out


def series_origin(w: Windows) -> tuple[I64, F64]:
    """Each sample's series' first timestamp and value (to center sums on)."""
    lengths = np.diff(w.starts)
    first = w.starts[:-1]
    t0 = np.repeat(w.ts[np.minimum(first, max(w.ts.size - 1, 0))], lengths) if w.ts.size else w.ts
    y0 = np.repeat(w.vs[np.minimum(first, max(w.vs.size - 1, 0))], lengths) if w.vs.size else w.vs
    return t0, y0


def unchanged_windows(w: Windows) -> B:
    """Windows whose samples all equal the first one (NaN never equals)."""
    flags = np.zeros(w.vs.size, dtype=np.bool_)
    if w.vs.size > 1:
        flags[1:] = ~(w.vs[1:] == w.vs[:-1])
    running = np.zeros(w.vs.size + 1, dtype=np.int64)
    np.cumsum(flags, out=running[1:])
    first_pair = np.minimum(w.lo + 1, w.hi)
    out: B = (running[w.hi] - running[first_pair]) == 0
    return out


def nonfinite_windows(w: Windows) -> B:
    """Windows holding a NaN or an infinity (these take upstream's ordered walk)."""
    bad = ~np.isfinite(w.vs)
    running = np.zeros(w.vs.size + 1, dtype=np.int64)
    np.cumsum(bad, out=running[1:])
    out: B = (running[w.hi] - running[w.lo]) > 0
    return out


def restrict(w: Windows, keep: B) -> Windows:
    """The same samples with only the windows in ``keep`` (the others emptied)."""
    return Windows(w.ts, w.vs, np.where(keep, w.lo, w.hi), w.hi, w.starts, w.sid, w.st)
