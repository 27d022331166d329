"""Element-wise math on instant vectors: every step of every series in one numpy call.

Results follow Go's ``math`` package: NaN for a domain error (``ln(-1)``,
``acos(2)``), infinities where Go gives them; numpy's floating-point warnings
are silenced because those values are the answer, not an accident.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from promethean.promql.funcs._registry import InstantArg, instant_function
from promethean.promql.funcs._windows import F64
from promethean.promql.values import EvalContext, StepMatrix

__all__: list[str] = []


def _matrix(arg: InstantArg) -> StepMatrix:
    assert isinstance(arg, StepMatrix)
    return arg


def _scalar(arg: InstantArg) -> F64:
    assert isinstance(arg, np.ndarray)
    return arg.astype(np.float64, copy=False)


def _apply(
    m: StepMatrix, fn: Callable[[F64], F64], present: np.ndarray | None = None
) -> StepMatrix:
    with np.errstate(all="ignore"):
        values = fn(m.values)
    keep = m.present if present is None else m.present & present
    return StepMatrix(list(m.labels), np.where(keep, values, 0.0), keep, None, m.drop_name)


def _sgn(v: F64) -> F64:
    return np.where(v < 0, -1.0, np.where(v > 0, 1.0, v))


_SIMPLE: dict[str, Callable[[F64], F64]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "rad": lambda v: v * np.pi / 180,
    "deg": lambda v: v * 180 / np.pi,
    "sgn": _sgn,
}


def _register_simple(name: str, fn: Callable[[F64], F64]) -> None:
    @instant_function(name)
    def _call(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
        return _apply(_matrix(args[0]), fn)


for _name, _fn in _SIMPLE.items():
    _register_simple(_name, _fn)


def _clamp(m: StepMatrix, low: F64, high: F64) -> StepMatrix:
    """No output at a step where max < min, as upstream."""
    ok = ~(high < low)[None, :]
    return _apply(m, lambda v: np.maximum(low, np.minimum(high, v)), ok)


@instant_function("clamp")
def _clamp_fn(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    return _clamp(_matrix(args[0]), _scalar(args[1]), _scalar(args[2]))


@instant_function("clamp_max")
def _clamp_max(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    m = _matrix(args[0])
    return _clamp(m, np.full(m.n_steps, -np.inf), _scalar(args[1]))


@instant_function("clamp_min")
def _clamp_min(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    m = _matrix(args[0])
    return _clamp(m, _scalar(args[1]), np.full(m.n_steps, np.inf))


@instant_function("round")
def _round(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    """Round to the nearest multiple of ``to_nearest`` (default 1); ties round up."""
    m = _matrix(args[0])
    to_nearest = _scalar(args[1]) if len(args) > 1 else np.ones(m.n_steps)
    with np.errstate(all="ignore"):
        inverse = 1.0 / to_nearest
    return _apply(m, lambda v: np.floor(v * inverse + 0.5) / inverse)
