"""``*_over_time`` functions; extreme-value cases and expected numbers from upstream's test data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.promql.annotations import Annotations
from promethean.promql.funcs import IMPLEMENTATIONS, RangeFunction
from promethean.promql.values import EvalContext, RangeInput


def _range(values: list[float], interval_ms: int, at_ms: list[int], range_ms: int) -> RangeInput:
    ts = np.arange(len(values), dtype=np.int64) * interval_ms
    return RangeInput(
        [Labels.from_dict({"s": "x"})],
        [ts],
        [np.array(values, dtype=np.float64)],
        np.array(at_ms, dtype=np.int64),
        range_ms,
    )


def _ctx(at_ms: list[int]) -> EvalContext:
    steps = np.array(at_ms, dtype=np.int64)
    return EvalContext(
        int(steps[0]), int(steps[-1]), 0, steps, 300_000, Annotations(), lambda: None
    )


def run(
    name: str,
    values: list[float],
    *,
    interval_ms: int = 10_000,
    at_ms: int = 55_000,
    range_ms: int = 60_000,
    params: list[np.ndarray | str] | None = None,
    ctx: EvalContext | None = None,
) -> float | None:
    fn = IMPLEMENTATIONS[name]
    assert isinstance(fn, RangeFunction)
    arg = _range(values, interval_ms, [at_ms], range_ms)
    out, present = fn(arg, params or [], ctx or _ctx([at_ms]))
    return float(out[0, 0]) if present[0, 0] else None


def same(a: float | None, b: float) -> bool:
    if a is None:
        return False
    if math.isnan(b):
        return math.isnan(a)
    return a == pytest.approx(b, rel=1e-12)


INF, NAN = math.inf, math.nan


@pytest.mark.parametrize(
    ("values", "avg", "total"),
    [
        ([1, 2, 3, 4, 5], 3, 15),
        ([1, 2, 3, 4, INF], INF, INF),
        ([1, 2, 3, 4, -INF], -INF, -INF),
        ([1, 2, 3, INF, -INF], NAN, NAN),
        ([INF, 0, INF], INF, INF),
        ([INF, INF, INF, -INF], NAN, NAN),
        ([-INF, 0, -INF], -INF, -INF),
        ([1, 2, -INF, -INF, INF], NAN, NAN),
        ([9.988465674311579e307, 9.988465674311579e307], 9.988465674311579e307, INF),
        ([-9.988465674311579e307] * 3, -9.988465674311579e307, -INF),
        ([-9.988465674311579e307, 9.988465674311579e307], 0, 0),
        ([1, 2, 3, NAN, NAN], NAN, NAN),
    ],
)
def test_avg_and_sum_over_time_with_infinities_and_overflow(
    values: list[float], avg: float, total: float
) -> None:
    assert same(run("avg_over_time", values), avg)
    assert same(run("sum_over_time", values), total)


def test_compensated_sums_keep_small_values_next_to_huge_ones() -> None:
    values = [1, 1e100, 1, -1e100]
    assert run("sum_over_time", values, at_ms=60_000, range_ms=120_000) == 2
    assert run("avg_over_time", values, at_ms=60_000, range_ms=120_000) == 0.5


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1e10, 1e-6, 1e-6, 1e-6, 1e-6, 1e-6], 1.6666666666666675e09),
        (
            [1.78264e50, 0.76342771, 1.9592258, 2.258e220, 7.69805412, 458.90154],
            3.76333333333333e219,
        ),
        (
            [-1.78264e215, 0.76342771, 1.9592258, 2.258e220, 7.69805412, -458.90154],
            3.76330362266667e219,
        ),
        (
            [
                -1.78264e219,
                0.76342771,
                1.9592258,
                2.3757689e217,
                -2.3757689e217,
                2.258e220,
                7.69805412,
                1.78264e219,
                -458.90154,
            ],
            2.5088888888888888e219,
        ),
        # Even compensated summation ends at 0 here; upstream documents the same.
        (
            [
                -2.258e220,
                -1.78264e219,
                0.76342771,
                1.9592258,
                2.3757689e217,
                -2.3757689e217,
                2.258e220,
                7.69805412,
                1.78264e219,
                -458.90154,
            ],
            0.0,
        ),
    ],
)
def test_avg_over_time_extreme_magnitudes(values: list[float], expected: float) -> None:
    assert run("avg_over_time", values, interval_ms=5_000) == pytest.approx(expected, rel=1e-12)


def test_avg_over_time_of_a_constant_is_exact() -> None:
    for range_s in (100, 110, 120, 130):
        got = run("avg_over_time", [52.0] * 101, at_ms=600_000, range_ms=range_s * 1000)
        assert got == 52.0


def test_dense_samples_sum_exactly() -> None:
    values = [1.0] * 4001
    for range_ms, want in [(1000, 1000), (1001, 1001), (2003, 2003), (3000, 3000)]:
        assert run("sum_over_time", values, interval_ms=1, at_ms=4000, range_ms=range_ms) == want


def test_stddev_and_stdvar_over_time() -> None:
    values = [0, 8, 8, 2, 3]
    assert run("stdvar_over_time", values, at_ms=60_000, range_ms=120_000) == pytest.approx(10.56)
    assert run("stddev_over_time", values, at_ms=60_000, range_ms=120_000) == pytest.approx(
        3.249615361854384
    )


@pytest.mark.parametrize(
    ("q", "two", "three", "uneven"),
    [
        (0, 0, 0, 0),
        (0.5, 0.5, 1, 1),
        (0.75, 0.75, 1.5, 2.5),
        (0.8, 0.8, 1.6, 2.8),
        (1, 1, 2, 4),
        (-1, -INF, -INF, -INF),
        (2, INF, INF, INF),
    ],
)
def test_quantile_over_time(q: float, two: float, three: float, uneven: float) -> None:
    for values, want in (([0, 1], two), ([0, 1, 2], three), ([0, 1, 4], uneven)):
        got = run(
            "quantile_over_time", values, at_ms=60_000, range_ms=120_000, params=[np.array([q])]
        )
        assert got == pytest.approx(want, rel=1e-15)


def test_quantile_over_time_warns_about_a_bad_quantile_once() -> None:
    ctx = _ctx([60_000])
    run(
        "quantile_over_time",
        [0, 1],
        at_ms=60_000,
        range_ms=120_000,
        params=[np.array([NAN])],
        ctx=ctx,
    )
    run(
        "quantile_over_time",
        [0, 1],
        at_ms=60_000,
        range_ms=120_000,
        params=[np.array([NAN])],
        ctx=ctx,
    )
    assert ctx.annotations.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got NaN"
    ]


def test_quantile_over_time_sorts_nan_first() -> None:
    got = run("quantile_over_time", [3, NAN, 1, 2], params=[np.array([0.0])])
    assert got is not None and math.isnan(got)
    assert run("quantile_over_time", [3, NAN, 1, 2], params=[np.array([1.0])]) == 3


def test_mad_over_time() -> None:
    assert run("mad_over_time", [1, 2, 3, 4, 5], at_ms=40_000, range_ms=50_000) == 1
    assert run("mad_over_time", [7, 7, 7, 7, 7], at_ms=40_000, range_ms=50_000) == 0
    assert run("mad_over_time", [5], at_ms=0, range_ms=10_000) == 0
    got = run("mad_over_time", [1, 2, NAN, 4], at_ms=30_000, range_ms=40_000)
    assert got is not None and math.isnan(got)


def test_min_max_and_their_timestamps() -> None:
    values = [1, 2, 3, 0, 5, 6, 2, 1, 4]
    kw = {"interval_ms": 10_053, "at_ms": 90_000, "range_ms": 90_000}
    assert run("ts_of_min_over_time", values, **kw) == 30.159
    assert run("ts_of_max_over_time", values, **kw) == 50.265
    assert run("min_over_time", values, **kw) == 0
    assert run("max_over_time", values, **kw) == 6
    # NaN only wins when there is nothing else.
    assert run("max_over_time", [NAN, 1, NAN]) == 1
    nan_only = run("min_over_time", [NAN, NAN])
    assert nan_only is not None and math.isnan(nan_only)


def test_first_last_count_present() -> None:
    values = [1, 2, 3]
    kw = {"interval_ms": 10_053, "at_ms": 90_000, "range_ms": 90_000}
    assert run("ts_of_last_over_time", values, **kw) == 20.106
    assert (
        run("ts_of_first_over_time", values, at_ms=95_000, range_ms=90_000, interval_ms=10_053)
        == 10.053  # samples at 0, 10.053s, 20.106s: the window (5s, 95s] starts at the second
    )
    assert run("last_over_time", values) == 3
    assert run("first_over_time", values) == 1
    assert run("count_over_time", values) == 3
    assert run("present_over_time", values) == 1
    assert run("last_over_time", values, at_ms=500_000) is None


def test_many_series_and_steps_at_once() -> None:
    """Two series of different lengths over several steps, against one-by-one evaluation."""
    fn = IMPLEMENTATIONS["avg_over_time"]
    assert isinstance(fn, RangeFunction)
    a = np.arange(50, dtype=np.float64) ** 1.5
    b = np.array([5.0, NAN, 7.0])
    arg = RangeInput(
        [Labels.from_dict({"s": "a"}), Labels.from_dict({"s": "b"})],
        [np.arange(50, dtype=np.int64) * 1000, np.array([0, 20_000, 40_000], dtype=np.int64)],
        [a, b],
        np.array([0, 10_000, 25_000, 60_000], dtype=np.int64),
        15_000,
    )
    values, present = fn(arg, [], _ctx([0, 10_000, 25_000, 60_000]))
    assert present.tolist() == [[True, True, True, True], [True, True, True, False]]
    assert values[0, 1] == pytest.approx(a[:11].mean())
    assert values[0, 2] == pytest.approx(a[11:26].mean())
    assert values[1, 0] == 5.0 and math.isnan(values[1, 2])


def test_running_sums_agree_with_exact_sums_on_float_data() -> None:
    fn = IMPLEMENTATIONS["sum_over_time"]
    assert isinstance(fn, RangeFunction)
    rng = np.random.default_rng(3)
    series = [rng.random(500) * 1000 + 5, rng.integers(0, 100, 300).astype(np.float64)]
    steps = np.arange(0, 500_000, 7_000, dtype=np.int64)
    arg = RangeInput(
        [Labels.from_dict({"s": "f"}), Labels.from_dict({"s": "i"})],
        [np.arange(v.size, dtype=np.int64) * 1000 for v in series],
        series,
        steps,
        60_000,
    )
    values, present = fn(arg, [], _ctx(steps.tolist()))
    for row, data in enumerate(series):
        for j, t in enumerate(steps.tolist()):
            lo, hi = max(0, (t - 60_000) // 1000 + 1), min(data.size, t // 1000 + 1)
            assert present[row, j] == (hi > lo)
            if hi > lo:
                want = math.fsum(data[lo:hi].tolist())
                assert values[row, j] == pytest.approx(want, rel=1e-12)
                if row == 1:
                    assert values[row, j] == want  # whole numbers: exact
