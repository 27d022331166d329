"""The vectorised window sums agree with upstream's ordered, compensated walks.

deriv, predict_linear, stddev_over_time and stdvar_over_time sum each window in
extended precision (per window, or from per-series running sums when windows
overlap a lot) instead of walking the samples in order with Kahan sums as
upstream does. These tests hold both paths to the same answers on awkward data:
large offsets, tiny slopes, constant stretches, long overlapping windows.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promethean.model.labels import Labels
from promethean.promql.engine import Engine
from promethean.promql.funcs._windows import Lockstep, build_windows
from promethean.promql.funcs.over_time import _welford
from promethean.promql.funcs.range import _linear_regression
from promethean.promql.memstorage import MemStorage
from promethean.promql.values import RangeInput


def _close(a: float, b: float, rel: float = 1e-9) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b or abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def _range_input(values: list[list[float]], step_ms: int, range_ms: int) -> RangeInput:
    labels = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(len(values))]
    tss = [np.arange(len(v), dtype=np.int64) * 15_000 for v in values]
    end = max(len(v) for v in values) * 15_000
    steps = np.arange(0, end + step_ms, step_ms, dtype=np.int64)
    return RangeInput(
        labels, tss, [np.asarray(v, dtype=np.float64) for v in values], steps, range_ms
    )


def _walk_regression(ri: RangeInput) -> dict[int, float]:
    w = build_windows(ri)
    lock = Lockstep(w, min_count=2)
    slope, _ = _linear_regression(w, lock, w.ts[lock.lo])
    return dict(zip(lock.pairs.tolist(), slope.tolist(), strict=True))


values = st.lists(
    st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.sampled_from([0.0, 1.0, 1e9, 1e9 + 0.5]),
    ),
    min_size=2,
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=4), st.sampled_from([60_000, 300_000, 3_600_000]))
def test_deriv_fast_path_matches_compensated_walk(series: list[list[float]], rng: int) -> None:
    from promethean.promql.funcs.range import _fit

    ri = _range_input(series, 30_000, rng)
    w = build_windows(ri)
    slope, _, present = _fit(w, None)
    want = _walk_regression(ri)
    assert set(np.flatnonzero(present.ravel()).tolist()) == set(want)
    for k, v in want.items():
        got = float(slope.ravel()[k])
        # Cancellation in the slope: compare against the scale of the data.
        scale = max(abs(x) for s in series for x in s) + 1.0
        assert _close(got, v, 1e-9) or abs(got - v) <= 1e-9 * scale, (k, got, v)


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=4), st.sampled_from([60_000, 300_000, 3_600_000]))
def test_variance_fast_path_matches_welford(series: list[list[float]], rng: int) -> None:
    from promethean.promql.funcs.over_time import _variance

    ri = _range_input(series, 30_000, rng)
    got, present = _variance(ri)
    w = build_windows(ri)
    lock = Lockstep(w)
    want = _welford(w, lock)
    assert set(np.flatnonzero(present.ravel()).tolist()) == set(lock.pairs.tolist())
    for k, v in zip(lock.pairs.tolist(), want.tolist(), strict=True):
        g = float(got.ravel()[k])
        scale = max(abs(x) for s in series for x in s) ** 2 + 1.0
        assert _close(g, v, 1e-9) or abs(g - v) <= 1e-12 * scale, (k, g, v)


def test_constant_window_has_zero_slope_and_variance_exactly() -> None:
    s = MemStorage()
    lbl = Labels.from_dict({"__name__": "c"})
    s.add_series(lbl, np.arange(100) * 15_000, np.full(100, 0.1 + 0.2))
    e = Engine(s)
    for q in ("deriv(c[10m])", "stddev_over_time(c[10m])", "stdvar_over_time(c[10m])"):
        res = e.range_query(q, 600_000, 1_200_000, 60_000)
        assert all(v == 0.0 for v in res.matrix[0].values.tolist()), q
    res = e.instant_query("predict_linear(c[10m], 3600)", 1_200_000)
    assert res.vector[0].v == 0.1 + 0.2


def test_long_overlapping_windows_use_running_sums_and_agree() -> None:
    # 60m windows every 15s: heavy overlap, the running-sum path.
    s = MemStorage()
    rng = np.random.default_rng(7)
    n = 6 * 240
    t = np.arange(n, dtype=np.int64) * 15_000
    for i in range(3):
        v = 1e11 + np.cumsum(rng.normal(1000, 50, n))
        s.add_series(Labels.from_dict({"__name__": "fs", "i": str(i)}), t, v)
    e = Engine(s)
    res = e.range_query("deriv(fs[60m])", 3_600_000, int(t[-1]), 15_000)
    ri = RangeInput(
        [x.labels for x in res.matrix],
        [t] * 3,
        _stored(s),
        np.arange(3_600_000, int(t[-1]) + 1, 15_000, dtype=np.int64),
        3_600_000,
    )
    want = _walk_regression(ri)
    n_steps = ri.step_times.size
    for k, v in want.items():
        got = float(res.matrix[k // n_steps].values[k % n_steps])
        assert got == pytest.approx(v, rel=1e-9)


def _stored(s: MemStorage) -> list[np.ndarray]:
    q = s.querier(0, 2**62)
    from promethean.model.matchers import Matcher, MatchType

    return [x.values for x in q.select([Matcher("__name__", MatchType.EQUAL, "fs")], sort=True)]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=1, max_size=40),
    st.floats(0, 1),
)
def test_quantile_selection_matches_full_sort(values: list[float], q: float) -> None:
    from promethean.promql.funcs.over_time import (
        _quantile_by_selection,
        _quantile_of_sorted,
        _sorted_windows,
    )

    vs = np.asarray(values, dtype=np.float64)
    n = vs.size
    lo = np.asarray([0], dtype=np.int64)
    counts = np.asarray([n], dtype=np.int64)
    want = _quantile_of_sorted(np.asarray([q]), _sorted_windows(vs, lo, counts), counts)
    got = _quantile_by_selection(vs, lo, n, q)
    assert got[0] == want[0] or _close(float(got[0]), float(want[0]), 1e-12)
