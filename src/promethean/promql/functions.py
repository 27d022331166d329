"""The function table of Prometheus 3.x: names, argument types, experimental flags.

The parser checks every call against it (argument count and types) and the
engine dispatches on ``Function.name``. Experimental functions are rejected
unless the parser runs with ``enable_experimental_functions`` (upstream's
``--enable-feature=promql-experimental-functions``).
"""

from __future__ import annotations

from promethean.promql.ast import Function, ValueType

__all__ = ["EXPERIMENTAL_AGGREGATIONS", "FUNCTIONS", "get_function"]

_V = ValueType.VECTOR
_M = ValueType.MATRIX
_S = ValueType.SCALAR
_STR = ValueType.STRING


def _fn(
    name: str,
    args: tuple[ValueType, ...],
    ret: ValueType = _V,
    variadic: int = 0,
    experimental: bool = False,
) -> Function:
    return Function(name, args, ret, variadic, experimental)


_VECTOR_MATH = [
    "abs",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "ceil",
    "cos",
    "cosh",
    "deg",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "ln",
    "log10",
    "log2",
    "rad",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_desc",
    "sqrt",
    "tan",
    "tanh",
    "timestamp",
    "absent",
]
_OVER_TIME = [
    "absent_over_time",
    "avg_over_time",
    "changes",
    "count_over_time",
    "delta",
    "deriv",
    "idelta",
    "increase",
    "irate",
    "last_over_time",
    "max_over_time",
    "min_over_time",
    "present_over_time",
    "rate",
    "resets",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
]
_EXPERIMENTAL_OVER_TIME = [
    "first_over_time",
    "mad_over_time",
    "ts_of_first_over_time",
    "ts_of_last_over_time",
    "ts_of_max_over_time",
    "ts_of_min_over_time",
]
_DATE = [
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "hour",
    "minute",
    "month",
    "year",
]

_TABLE: list[Function] = [
    *(_fn(n, (_V,)) for n in _VECTOR_MATH),
    *(_fn(n, (_M,)) for n in _OVER_TIME),
    *(_fn(n, (_M,), experimental=True) for n in _EXPERIMENTAL_OVER_TIME),
    *(_fn(n, (_V,), variadic=1) for n in _DATE),
    _fn("clamp", (_V, _S, _S)),
    _fn("clamp_max", (_V, _S)),
    _fn("clamp_min", (_V, _S)),
    _fn("double_exponential_smoothing", (_M, _S, _S), experimental=True),
    _fn("histogram_fraction", (_S, _S, _V)),
    _fn("histogram_quantile", (_S, _V)),
    _fn("histogram_quantiles", (_V, _STR, _S, _S), variadic=-1, experimental=True),
    _fn("info", (_V, _V), variadic=1, experimental=True),
    _fn("label_join", (_V, _STR, _STR, _STR), variadic=-1),
    _fn("label_replace", (_V, _STR, _STR, _STR, _STR)),
    _fn("pi", (), _S),
    _fn("predict_linear", (_M, _S)),
    _fn("quantile_over_time", (_S, _M)),
    _fn("round", (_V, _S), variadic=1),
    _fn("scalar", (_V,), _S),
    _fn("sort_by_label", (_V, _STR), variadic=-1, experimental=True),
    _fn("sort_by_label_desc", (_V, _STR), variadic=-1, experimental=True),
    _fn("start_timestamp", (_V,), experimental=True),
    _fn("time", (), _S),
    _fn("vector", (_S,)),
]

FUNCTIONS: dict[str, Function] = {f.name: f for f in _TABLE}

#: Aggregations that need the experimental-functions option, as upstream.
EXPERIMENTAL_AGGREGATIONS = frozenset({"limitk", "limit_ratio"})


def get_function(name: str) -> Function | None:
    return FUNCTIONS.get(name)
