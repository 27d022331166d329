"""Time functions: ``time()``, ``timestamp()`` and the UTC calendar functions.

Calendar fields are computed with numpy's datetime64 arithmetic on whole
arrays. Like upstream, a sample value is truncated to whole seconds before it
is read as a Unix time; without an argument the evaluation time is used.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from promethean.model.labels import Labels
from promethean.promql.funcs._registry import InstantArg, instant_function
from promethean.promql.funcs._windows import F64, I64
from promethean.promql.values import EvalContext, StepMatrix

__all__: list[str] = []

# datetime64[s] covers far more than Go's time; clip so casts never overflow.
_SECONDS_LIMIT = float(1 << 52)


def _days(seconds: I64) -> I64:
    return np.floor_divide(seconds, 86400)


def _month_start(seconds: I64) -> np.ndarray:
    return seconds.astype("datetime64[s]").astype("datetime64[M]")


def _day_of_month(s: I64) -> F64:
    day = s.astype("datetime64[s]").astype("datetime64[D]")
    offset = (day - _month_start(s).astype("datetime64[D]")).astype(np.int64)
    return np.asarray(offset + 1, dtype=np.float64)


def _day_of_week(s: I64) -> F64:
    # 1970-01-01 was a Thursday (4); Sunday is 0.
    return ((_days(s) + 4) % 7).astype(np.float64)


def _day_of_year(s: I64) -> F64:
    dt = s.astype("datetime64[s]")
    day = dt.astype("datetime64[D]")
    year_start = dt.astype("datetime64[Y]").astype("datetime64[D]")
    offset = (day - year_start).astype(np.int64)
    return np.asarray(offset + 1, dtype=np.float64)


def _days_in_month(s: I64) -> F64:
    start = _month_start(s)
    following = start + np.timedelta64(1, "M")
    days = (following.astype("datetime64[D]") - start.astype("datetime64[D]")).astype(np.int64)
    return np.asarray(days, dtype=np.float64)


def _hour(s: I64) -> F64:
    return (np.floor_divide(s, 3600) % 24).astype(np.float64)


def _minute(s: I64) -> F64:
    return (np.floor_divide(s, 60) % 60).astype(np.float64)


def _month(s: I64) -> F64:
    return (_month_start(s).astype(np.int64) % 12 + 1).astype(np.float64)


def _year(s: I64) -> F64:
    return (s.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970).astype(
        np.float64
    )


_CALENDAR: dict[str, Callable[[I64], F64]] = {
    "day_of_month": _day_of_month,
    "day_of_week": _day_of_week,
    "day_of_year": _day_of_year,
    "days_in_month": _days_in_month,
    "hour": _hour,
    "minute": _minute,
    "month": _month,
    "year": _year,
}


def _register_calendar(name: str, fn: Callable[[I64], F64]) -> None:
    @instant_function(name)
    def _call(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
        if not args:
            seconds = np.floor_divide(np.asarray(ctx.step_times, dtype=np.int64), 1000)
            values = fn(seconds)[None, :]
            return StepMatrix([Labels.empty()], values, np.ones(values.shape, dtype=np.bool_))
        m = args[0]
        assert isinstance(m, StepMatrix)
        raw = np.where(m.present, m.values, 0.0)
        finite = np.isfinite(raw)
        clipped = np.clip(np.where(finite, raw, 0.0), -_SECONDS_LIMIT, _SECONDS_LIMIT)
        seconds = np.trunc(clipped).astype(np.int64)
        values = fn(seconds)
        # Go turns a non-finite value into an arbitrary time; answer NaN instead.
        values = np.where(finite, values, np.nan)
        return StepMatrix(
            list(m.labels), np.where(m.present, values, 0.0), m.present.copy(), None, m.drop_name
        )


for _name, _fn in _CALENDAR.items():
    _register_calendar(_name, _fn)


@instant_function("time")
def _time(args: list[InstantArg], ctx: EvalContext) -> F64:
    return np.asarray(ctx.step_times, dtype=np.int64) / 1000.0


@instant_function("timestamp")
def _timestamp(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    """The sample's own timestamp where the engine knows it (a plain selector), else the step's."""
    m = args[0]
    assert isinstance(m, StepMatrix)
    if m.timestamps is not None:
        ts = m.timestamps / 1000.0
    else:
        ts = np.broadcast_to(np.asarray(ctx.step_times, dtype=np.int64) / 1000.0, m.values.shape)
    return StepMatrix(
        list(m.labels), np.where(m.present, ts, 0.0), m.present.copy(), None, m.drop_name
    )
