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

__all__ = ["effective_times", "select_range", "select_vector", "stale_mask"]

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
) -> StepMatrix:
    n = int(eff.shape[0])
    if n == 0:
        return StepMatrix.empty(0)
    mint = int(eff.min()) - lookback_ms + 1
    maxt = int(eff.max())
    q = querier(mint, maxt)
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
            valid &= st > eff - lookback_ms
            valid &= ~stale_mask(sv)
            if not valid.any():
                continue
            labels.append(s.labels)
            rows_v.append(sv)
            rows_p.append(valid)
            rows_t.append(st)
    finally:
        q.close()
    if not labels:
        return StepMatrix.empty(n)
    return StepMatrix(labels, np.vstack(rows_v), np.vstack(rows_p), timestamps=np.vstack(rows_t))


def select_range(
    querier: QuerierFactory,
    vs: VectorSelector,
    eff: npt.NDArray[np.int64],
    range_ms: int,
    check: Callable[[], None],
) -> RangeInput:
    labels: list[Labels] = []
    tss: list[npt.NDArray[np.int64]] = []
    vals: list[npt.NDArray[np.float64]] = []
    if eff.shape[0] > 0:
        mint = int(eff.min()) - range_ms + 1
        maxt = int(eff.max())
        q = querier(mint, maxt)
        try:
            for i, s in enumerate(q.select(vs.matchers, sort=True)):
                if i & 255 == 255:
                    check()
                t, v = s.timestamps, s.values
                stale = stale_mask(v)
                if stale.any():
                    t, v = t[~stale], v[~stale]
                if t.size == 0:
                    continue
                labels.append(s.labels)
                tss.append(t)
                vals.append(v)
        finally:
            q.close()
    return RangeInput(
        labels,
        tss,
        vals,
        eff,
        range_ms,
        metric_names=[lbl.metric_name for lbl in labels],
    )


def window_bounds(
    ts: npt.NDArray[np.int64], eff: npt.NDArray[np.int64], range_ms: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Index range [lo, hi) of the samples in ``(t - range, t]`` for every step ``t``."""
    lo = np.searchsorted(ts, eff - range_ms, side="right")
    hi = np.searchsorted(ts, eff, side="right")
    return lo, hi
