"""Range functions on hand-made range vectors; expected values from upstream's test data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.promql.annotations import Annotations
from promethean.promql.funcs import IMPLEMENTATIONS, FunctionError, RangeFunction
from promethean.promql.values import EvalContext, RangeInput
from promethean.tsdb.storage import STALE_NAN

MIN = 60_000


def expand(notation: str) -> list[float | None]:
    """promqltest's series notation: ``1 2 _ 3``, ``0+10x10``, ``5-1x3``, ``NaN``, ``stale``."""
    out: list[float | None] = []
    for token in notation.split():
        if token == "_":
            out.append(None)
        elif token == "stale":
            out.append(STALE_NAN)
        elif "x" in token and ("+" in token[1:] or "-" in token[1:]):
            body, times = token.split("x")
            sign = 1.0
            cut = body.find("+", 1)
            if cut < 0:
                cut, sign = body.find("-", 1), -1.0
            start, step = float(body[:cut]), float(body[cut + 1 :]) * sign
            out.extend(start + step * i for i in range(int(times) + 1))
        elif token.endswith(("x1", "x2", "x3", "x4", "x5", "x9")) and "x" in token:
            value, times = token.split("x")
            out.extend([float(value)] * (int(times) + 1))
        else:
            out.append(float(token))
    return out


def series(interval_ms: int, notation: str) -> tuple[np.ndarray, np.ndarray]:
    ts, vs = [], []
    for i, v in enumerate(expand(notation)):
        if v is not None:
            ts.append(i * interval_ms)
            vs.append(v)
    return np.array(ts, dtype=np.int64), np.array(vs, dtype=np.float64)


def range_input(
    data: dict[str, tuple[np.ndarray, np.ndarray]],
    at_ms: list[int],
    range_ms: int,
    names: bool = False,
) -> RangeInput:
    labels = [Labels.from_dict({"s": key}) for key in data]
    return RangeInput(
        labels,
        [t for t, _ in data.values()],
        [v for _, v in data.values()],
        np.array(at_ms, dtype=np.int64),
        range_ms,
        list(data) if names else [],
    )


def context(at_ms: list[int]) -> EvalContext:
    steps = np.array(at_ms, dtype=np.int64)
    return EvalContext(
        start_ms=int(steps[0]),
        end_ms=int(steps[-1]),
        step_ms=int(steps[1] - steps[0]) if len(steps) > 1 else 0,
        step_times=steps,
        lookback_ms=5 * MIN,
        annotations=Annotations(),
        check_cancelled=lambda: None,
    )


def call(
    name: str,
    arg: RangeInput,
    params: list[np.ndarray | str] | None = None,
    ctx: EvalContext | None = None,
) -> dict[str, list[float | None]]:
    fn = IMPLEMENTATIONS[name]
    assert isinstance(fn, RangeFunction)
    ctx = ctx or context([int(t) for t in arg.step_times])
    values, present = fn(arg, params or [], ctx)
    return {
        lbls.get("s"): [float(v) if p else None for v, p in zip(row, prow, strict=True)]
        for lbls, row, prow in zip(arg.labels, values, present, strict=True)
    }


def approx(expected: dict[str, list[float | None]]) -> object:
    class _Approx:
        def __eq__(self, actual: object) -> bool:
            assert isinstance(actual, dict)
            if actual.keys() != expected.keys():
                return False
            for key, want in expected.items():
                for a, w in zip(actual[key], want, strict=True):
                    if (a is None) != (w is None):
                        return False
                    if a is None or w is None:
                        continue
                    if math.isnan(w):
                        if not math.isnan(a):
                            return False
                    elif a != pytest.approx(w, rel=1e-12, abs=1e-15):
                        return False
            return True

        def __repr__(self) -> str:
            return repr(expected)

    return _Approx()


def test_every_function_of_the_table_is_registered_except_engine_ones() -> None:
    from promethean.promql.functions import FUNCTIONS

    assert sorted(set(FUNCTIONS) - set(IMPLEMENTATIONS)) == ["info", "start_timestamp"]
    kinds = {name: fn.kind for name, fn in IMPLEMENTATIONS.items()}
    assert kinds["rate"] == "range" and kinds["abs"] == "instant"
    assert IMPLEMENTATIONS["last_over_time"].keeps_name
    assert not IMPLEMENTATIONS["rate"].keeps_name


def test_increase_extrapolates_to_the_window_but_not_below_zero() -> None:
    data = {
        "foo": series(5 * MIN, "0+10x10"),
        "bar": series(5 * MIN, "0+18x5 0+18x5"),
        "dings": series(5 * MIN, "10+10x10"),
        "bumms": series(5 * MIN, "1+10x10"),
    }
    assert call("increase", range_input(data, [50 * MIN], 50 * MIN)) == approx(
        {"foo": [100], "bar": [160], "dings": [100], "bumms": [100]}
    )
    assert call("increase", range_input(data, [50 * MIN], 100 * MIN)) == approx(
        {"foo": [100], "bar": [162], "dings": [105], "bumms": [101]}
    )


def test_increase_counts_a_drop_as_a_reset_to_zero() -> None:
    data = {"foo": series(5 * MIN, "0 1 2 3 2 3 4")}
    assert call("increase", range_input(data, [30 * MIN], 30 * MIN)) == approx({"foo": [7]})


def test_rate_resets_in_the_middle_and_at_the_end() -> None:
    data = {"mid": series(5 * MIN, "0+27x4 0+27x5"), "end": series(5 * MIN, "0+10x9 0 10")}
    out = call("rate", range_input(data, [50 * MIN], 50 * MIN))
    assert out["mid"][0] == pytest.approx(0.08)
    # One sample in the window: no rate; two samples across the reset: 0.
    assert call("rate", range_input(data, [50 * MIN], 5 * MIN))["end"] == [None]
    assert call("rate", range_input(data, [50 * MIN], 6 * MIN))["end"] == [0.0]


def test_rate_zero_cutoff_on_the_left() -> None:
    data = {f"{m}m": series(4 * MIN, f"{60 * m}+240x10") for m in range(6)}
    out = call("rate", range_input(data, [10 * MIN, 50 * MIN], 20 * MIN))
    assert out == approx(
        {
            "0m": [0.5, 0.6],
            "1m": [0.55, 0.6],
            "2m": [0.6, 0.6],
            "3m": [0.6, 0.6],
            "4m": [0.6, 0.6],
            "5m": [0.6, 0.6],
        }
    )


def test_rate_with_offset_windows() -> None:
    # rate(x[10m] offset 5m) at 50m: the engine hands over windows ending at 45m.
    data = {"a": series(5 * MIN, "0+10x10"), "b": series(5 * MIN, "0+20x10")}
    out = call("rate", range_input(data, [45 * MIN], 10 * MIN), ctx=context([50 * MIN]))
    assert out == approx({"a": [0.03333333333333333], "b": [0.06666666666666667]})


def test_rate_flags_metrics_that_are_not_counters() -> None:
    data = {"requests": series(MIN, "1 2 3"), "requests_total": series(MIN, "1 2 3")}
    ctx = context([2 * MIN])
    call("rate", range_input(data, [2 * MIN], 5 * MIN, names=True), ctx=ctx)
    assert ctx.annotations.infos == [
        "PromQL info: metric might not be a counter, name does not end in "
        '_total/_sum/_count/_bucket: "requests"'
    ]
    # delta is for gauges: no such note.
    ctx = context([2 * MIN])
    call("delta", range_input(data, [2 * MIN], 5 * MIN, names=True), ctx=ctx)
    assert not ctx.annotations


def test_annotation_carries_the_argument_position_when_the_engine_gives_it() -> None:
    data = {"requests": series(MIN, "1 2 3")}
    ctx = context([2 * MIN])
    ctx.arg_positions = ["1:6"]  # type: ignore[attr-defined]
    call("rate", range_input(data, [2 * MIN], 5 * MIN, names=True), ctx=ctx)
    assert ctx.annotations.infos[0].endswith('"requests" (1:6)')


def test_range_query_over_many_steps_matches_step_by_step() -> None:
    rng = np.random.default_rng(7)
    values = np.cumsum(rng.integers(0, 5, 200)).astype(np.float64)
    values[120:] -= values[119]  # a counter reset
    ts = np.arange(200, dtype=np.int64) * 15_000 + rng.integers(-2000, 2000, 200)
    data = {"x": (np.sort(ts), values)}
    steps = list(range(0, 3_000_000, 60_000))
    together = call("rate", range_input(data, steps, 5 * MIN))
    one_by_one = [call("rate", range_input(data, [s], 5 * MIN))["x"][0] for s in steps]
    assert together["x"] == one_by_one


def test_windows_are_open_on_the_left() -> None:
    data = {"x": series(MIN, "1 2 3 4")}
    # Window (1m, 3m] holds the samples at 2m and 3m only.
    assert call("count_over_time", range_input(data, [3 * MIN], 2 * MIN)) == {"x": [2.0]}


def test_stale_markers_are_not_samples() -> None:
    data = {"x": series(MIN, "1 2 stale 4")}
    assert call("count_over_time", range_input(data, [3 * MIN], 10 * MIN)) == {"x": [3.0]}


def test_irate_and_idelta_use_the_last_two_samples() -> None:
    data = {"foo": series(5 * MIN, "0+10x10"), "bar": series(5 * MIN, "0+10x5 0+10x5")}
    assert call("irate", range_input(data, [50 * MIN, 30 * MIN], 50 * MIN)) == approx(
        {"foo": [1 / 30, 1 / 30], "bar": [1 / 30, 0.0]}
    )
    nan = {"x": series(5 * MIN, "1 NaN NaN 5 11")}
    steps = [0, 5 * MIN, 10 * MIN, 15 * MIN, 20 * MIN]
    assert call("irate", range_input(nan, steps, 15 * MIN + 1000)) == approx(
        {"x": [None, math.nan, math.nan, math.nan, 0.02]}
    )
    assert call("idelta", range_input(nan, steps, 15 * MIN + 1000)) == approx(
        {"x": [None, math.nan, math.nan, math.nan, 6.0]}
    )


def test_delta_of_a_gauge() -> None:
    data = {"x": series(5 * MIN, "0 50 100 150 200")}
    assert call("delta", range_input(data, [20 * MIN], 20 * MIN)) == approx({"x": [200.0]})


def test_resets_and_changes() -> None:
    data = {
        "foo": series(5 * MIN, "1 2 3 0 1 0 0 1 2 0"),
        "bar": series(5 * MIN, "1 2 3 4 5 1 2 3 4 5"),
        "biz": series(5 * MIN, "0 0 0 0 0 1 1 1 1 1"),
    }
    for rng_min, want in [(5, None), (10, (0, 0, 0)), (20, (1, 0, 0)), (32, (2, 1, 0))]:
        out = call("resets", range_input(data, [50 * MIN], rng_min * MIN))
        if want is None:
            assert out == {"foo": [None], "bar": [None], "biz": [None]}
        else:
            assert out == {"foo": [want[0]], "bar": [want[1]], "biz": [want[2]]}
    assert call("resets", range_input(data, [50 * MIN], 50 * MIN)) == {
        "foo": [3.0],
        "bar": [1.0],
        "biz": [0.0],
    }
    nans = {"b": series(5 * MIN, "NaN NaN NaN"), "c": series(5 * MIN, "0 NaN 0")}
    assert call("changes", range_input(nans, [15 * MIN], 20 * MIN)) == {"b": [0.0], "c": [2.0]}


def test_deriv_and_predict_linear() -> None:
    data = {"c": series(5 * MIN, "0+10x4 0+10x5")}
    assert call("deriv", range_input(data, [50 * MIN], 100 * MIN)) == approx(
        {"c": [0.010606060606060607]}
    )
    out = call("predict_linear", range_input(data, [50 * MIN], 50 * MIN), [np.array([3600.0])])
    assert out == approx({"c": [70.0]})
    # The intercept is at the evaluation time; "@ 3000" moves the window, not the anchor.
    three = 3_000_000
    for at, want in [
        (50 * MIN, 76.81818181818181),
        (10 * MIN, 51.36363636363637),
        (70 * MIN, 89.54545454545455),
    ]:
        arg = range_input(data, [three], 55 * MIN)
        out = call("predict_linear", arg, [np.array([3600.0])], ctx=context([at]))
        assert out == approx({"c": [want]})
    inf = {"i": series(5 * MIN, "-Inf 0+80x10 Inf"), "n": series(5 * MIN, "Inf Inf Inf")}
    out = call("deriv", range_input(inf, [100 * MIN], 100 * MIN))
    assert out == approx({"i": [math.nan], "n": [math.nan]})
    const = {"k": series(MIN, "5 5 5")}
    assert call("deriv", range_input(const, [2 * MIN], 5 * MIN)) == {"k": [0.0]}


def test_double_exponential_smoothing() -> None:
    data = {"x": series(10_000, "0+10x100")}
    # A straight line is predicted exactly whatever the factors.
    out = call(
        "double_exponential_smoothing",
        range_input(data, [1000_000], 60_000),
        [np.array([0.5]), np.array([0.1])],
    )
    assert out == approx({"x": [1000.0]})


@pytest.mark.parametrize(
    ("sf", "tf", "message"),
    [
        (1.0, 0.1, "invalid smoothing factor. Expected: 0 < sf < 1, got: 1.000000"),
        (0.5, 0.0, "invalid trend factor. Expected: 0 < tf < 1, got: 0.000000"),
        (math.nan, 0.5, "invalid smoothing factor. Expected: 0 < sf < 1, got: NaN"),
    ],
)
def test_double_exponential_smoothing_rejects_bad_factors(
    sf: float, tf: float, message: str
) -> None:
    data = {"x": series(10_000, "1 2 3")}
    with pytest.raises(FunctionError) as err:
        call(
            "double_exponential_smoothing",
            range_input(data, [20_000], 60_000),
            [np.array([sf]), np.array([tf])],
        )
    assert str(err.value) == message


def test_double_exponential_smoothing_checks_factors_only_where_it_runs() -> None:
    data = {"x": series(10_000, "1 2 3")}
    out = call(
        "double_exponential_smoothing",
        range_input(data, [10 * MIN], 60_000),
        [np.array([2.0]), np.array([0.5])],
    )
    assert out == {"x": [None]}
