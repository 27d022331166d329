"""Reading series for selectors: lookback, staleness, range windows.

Prometheus 3.x semantics, all steps at once: an instant selector at time
``t`` takes the newest sample in ``(t - lookback, t]`` unless it is a stale
marker; a range selector takes the samples in ``(t - range, t]`` with stale
markers removed. ``t`` is the step time with ``offset`` and ``@`` applied.
Per series the work is one ``searchsorted`` over all steps, never a loop
over samples.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from promethean.model.labels import Labels
from promethean.promql.ast import VectorSelector
from promethean.promql.values import RangeInput, StepMatrix
from promethean.tsdb.storage import STALE_NAN_BITS, Querier

__all__ = [
    "effective_times",
    "extend_window",
    "select_range",
    "select_smoothed_vector",
    "select_vector",
    "stale_mask",
]

QuerierFactory = Callable[[int, int], Querier]


def stale_mask(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Where a value is the stale marker (bit-exact; an ordinary NaN is a sample)."""
    out: npt.NDArray[np.bool_] = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return out


def effective_times(
    step_times: npt.NDArray[np.int64],
    offset_ms: int,
    timestamp_ms: int | None,
) -> npt.NDArray[np.int64]:
    """The times a selector reads at: ``@`` pins every step, ``offset`` shifts back."""
    if timestamp_ms is not None:
        return np.full(step_times.shape, timestamp_ms - offset_ms, dtype=np.int64)
    return step_times - np.int64(offset_ms)


def select_vector(
    querier: QuerierFactory,
    vs: VectorSelector,
    eff: npt.NDArray[np.int64],
    lookback_ms: int,
    check: Callable[[], None],
    start_timestamps: bool = False,
) -> StepMatrix:
    """The sample each series has at each step (lookback, staleness).

    ``start_timestamps``: the chosen samples' start times in seconds (0 where
    unknown) instead of their values, for ``start_timestamp()``.
    """
    n = int(eff.shape[0])
    if n == 0:
        return StepMatrix.empty(0)
    mint = int(eff.min()) - lookback_ms + 1
    maxt = int(eff.max())
    q = querier(mint, maxt)
    if n == 1 and not start_timestamps:
        try:
            return _select_one(q, vs, int(eff[0]), lookback_ms, check)
        finally:
            q.close()
    labels: list[Labels] = []
    rows_v: list[npt.NDArray[np.float64]] = []
    rows_p: list[npt.NDArray[np.bool_]] = []
    rows_t: list[npt.NDArray[np.int64]] = []
    try:
        for i, s in enumerate(q.select(vs.matchers, sort=True)):
            if i & 255 == 255:
                check()
            ts = s.timestamps
            if ts.size == 0:
                continue
            idx = np.searchsorted(ts, eff, side="right") - 1
            valid = idx >= 0
            safe = np.where(valid, idx, 0)
            st = ts[safe]
            sv = s.values[safe]
            if start_timestamps:
                known = getattr(s, "start_timestamps", None)
                starts = known[safe] if known is not None else np.zeros(safe.shape, np.int64)
            valid &= st > eff - lookback_ms
            valid &= ~stale_mask(sv)
            if not valid.any():
                continue
            labels.append(s.labels)
            rows_v.append(starts / 1000.0 if start_timestamps else sv)
            rows_p.append(valid)
            rows_t.append(st)
    finally:
        q.close()
    if not labels:
        return StepMatrix.empty(n)
    return StepMatrix(labels, np.vstack(rows_v), np.vstack(rows_p), timestamps=np.vstack(rows_t))


def _select_one(
    q: Querier, vs: VectorSelector, t: int, lookback_ms: int, check: Callable[[], None]
) -> StepMatrix:
    """An instant query's selector: one binary search and a few scalar tests per series."""
    labels: list[Labels] = []
    vals: list[float] = []
    times: list[int] = []
    floor = t - lookback_ms
    stale_bits = np.uint64(STALE_NAN_BITS)
    for i, s in enumerate(q.select(vs.matchers, sort=True)):
        if i & 255 == 255:
            check()
        ts = s.timestamps
        k = ts.size - 1
        if k < 0:
            continue
        st = int(ts[k])
        if st > t:  # a querier may return more than its range; the storages here do not
            k = int(ts.searchsorted(t, side="right")) - 1
            if k < 0:
                continue
            st = int(ts[k])
        if st <= floor:
            continue
        v = float(s.values[k])
        if v != v and s.values[k : k + 1].view(np.uint64)[0] == stale_bits:
            continue
        labels.append(s.labels)
        vals.append(v)
        times.append(st)
    if not labels:
        return StepMatrix.empty(1)
    n = len(labels)
    return StepMatrix(
        labels,
        np.asarray(vals, dtype=np.float64).reshape(n, 1),
        np.ones((n, 1), dtype=np.bool_),
        timestamps=np.asarray(times, dtype=np.int64).reshape(n, 1),
    )


def select_smoothed_vector(
    querier: QuerierFactory,
    vs: VectorSelector,
    eff: npt.NDArray[np.int64],
    lookback_ms: int,
    check: Callable[[], None],
) -> StepMatrix:
    """``metric smoothed``: the value at each step interpolated between its neighbours.

    Per step the samples in ``(t - lookback, t + lookback]`` count: one exactly at
    ``t`` is taken as is, one on each side is interpolated linearly, only an older one
    is carried forward, only a newer one gives nothing.
    """
    n = int(eff.shape[0])
    if n == 0:
        return StepMatrix.empty(0)
    q = querier(int(eff.min()) - lookback_ms + 1, int(eff.max()) + lookback_ms)
    labels: list[Labels] = []
    rows_v: list[npt.NDArray[np.float64]] = []
    rows_p: list[npt.NDArray[np.bool_]] = []
    try:
        for i, s in enumerate(q.select(vs.matchers, sort=True)):
            if i & 255 == 255:
                check()
            ts, v = s.timestamps, s.values
            stale = stale_mask(v)
            if stale.any():
                ts, v = ts[~stale], v[~stale]
            if ts.size == 0:
                continue
            ws = np.searchsorted(ts, eff - lookback_ms, side="right")
            we = np.searchsorted(ts, eff + lookback_ms, side="right")
            k = np.searchsorted(ts, eff, side="left")
            kc = np.minimum(k, ts.size - 1)
            prev = np.maximum(k - 1, 0)
            exact = (k < we) & (ts[kc] == eff)
            between = (k > ws) & (k < we) & ~exact
            carry = (k == we) & (k > ws)
            present = exact | between | carry
            if not present.any():
                continue
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                t1, t2 = ts[prev], ts[kc]
                y1, y2 = v[prev], v[kc]
                frac = (eff - t1) / np.where(t2 != t1, t2 - t1, 1)
                interp = y1 + (y2 - y1) * frac
            out = np.where(exact, v[kc], np.where(between, interp, y1))
            labels.append(s.labels)
            rows_v.append(np.where(present, out, 0.0))
            rows_p.append(present)
    finally:
        q.close()
    if not labels:
        return StepMatrix.empty(n)
    return StepMatrix(labels, np.vstack(rows_v), np.vstack(rows_p))


def select_range(
    querier: QuerierFactory,
    vs: VectorSelector,
    eff: npt.NDArray[np.int64],
    range_ms: int,
    check: Callable[[], None],
    lookback_ms: int = 0,
) -> RangeInput:
    """The samples of every series over all steps' windows (stale markers removed).

    For ``anchored`` the read reaches ``lookback_ms`` further back, for ``smoothed``
    also that far forward (see :class:`RangeInput`); ``lookback_ms`` is ignored
    otherwise.
    """
    labels: list[Labels] = []
    tss: list[npt.NDArray[np.int64]] = []
    vals: list[npt.NDArray[np.float64]] = []
    sts: list[npt.NDArray[np.int64] | None] | None = None
    extra_before = lookback_ms if (vs.anchored or vs.smoothed) else 0
    extra_after = lookback_ms if vs.smoothed else 0
    if eff.shape[0] > 0:
        mint = int(eff.min()) - range_ms - extra_before + 1
        maxt = int(eff.max()) + extra_after
        q = querier(mint, maxt)
        try:
            for i, s in enumerate(q.select(vs.matchers, sort=True)):
                if i & 255 == 255:
                    check()
                t, v = s.timestamps, s.values
                st: npt.NDArray[np.int64] | None = getattr(s, "start_timestamps", None)
                if not getattr(s, "stale_free", False):
                    stale = stale_mask(v)
                    if stale.any():
                        t, v = t[~stale], v[~stale]
                        st = st[~stale] if st is not None else None
                if t.size == 0:
                    continue
                labels.append(s.labels)
                tss.append(t)
                vals.append(v)
                if st is not None:
                    if sts is None:
                        sts = [None] * (len(labels) - 1)
                    sts.append(st)
                elif sts is not None:
                    sts.append(None)
        finally:
            q.close()
    return RangeInput(
        labels,
        tss,
        vals,
        eff,
        range_ms,
        metric_names=[lbl.metric_name for lbl in labels],
        anchored=vs.anchored,
        smoothed=vs.smoothed,
        lookback_ms=lookback_ms if (vs.anchored or vs.smoothed) else 0,
        start_timestamps=sts,
    )


def _interpolate(t1: int, y1: float, t2: int, y2: float, t: int) -> float:
    """The value at ``t`` on the line through two samples (as upstream: never a counter)."""
    return y1 + (y2 - y1) * (t - t1) / (t2 - t1)


def extend_window(
    ts: npt.NDArray[np.int64],
    vs: npt.NDArray[np.float64],
    mint: int,
    maxt: int,
    smoothed: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """An anchored/smoothed range's samples as a range vector: ``[mint, maxt]`` with a
    point on each edge (the sample at or before it, or interpolated when smoothed).

    ``ts``/``vs`` are the samples read for the window, lookback included.
    """
    empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
    if ts.size == 0:
        return empty
    last = ts.size - 1
    first = max(0, min(int(np.searchsorted(ts, mint, side="right")), last) - 1)
    if smoothed:
        last = min(int(np.searchsorted(ts, maxt, side="left")), last)
    if ts[last] <= mint:
        return empty
    left = float(vs[first])
    if smoothed and ts[first] < mint:
        left = _interpolate(int(ts[first]), left, int(ts[first + 1]), float(vs[first + 1]), mint)
    right = float(vs[last])
    if smoothed and last > 0 and ts[last] > maxt:
        right = _interpolate(int(ts[last - 1]), float(vs[last - 1]), int(ts[last]), right, maxt)
    if ts[first] <= mint:
        first += 1
    if ts[last] >= maxt:
        last -= 1
    mid = slice(first, last + 1) if last >= first else slice(0, 0)
    out_t = np.concatenate([[mint], ts[mid], [maxt]]).astype(np.int64)
    out_v = np.concatenate([[left], vs[mid], [right]]).astype(np.float64)
    return out_t, out_v


def window_bounds(
    ts: npt.NDArray[np.int64], eff: npt.NDArray[np.int64], range_ms: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Index range [lo, hi) of the samples in ``(t - range, t]`` for every step ``t``."""
    lo = np.searchsorted(ts, eff - range_ms, side="right")
    hi = np.searchsorted(ts, eff, side="right")
    return lo, hi
