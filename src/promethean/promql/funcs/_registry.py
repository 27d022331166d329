"""The registry the engine dispatches PromQL function calls through.

Two calling conventions exist because upstream has two kinds of function:

* a *range function* gets its range-vector argument as one
  :class:`~promethean.promql.values.RangeInput` (every series, every step)
  plus the other arguments in call order (scalars as per-step float64 arrays,
  strings as ``str``), and returns ``(values, present)``, both shaped
  ``[n_series, n_steps]`` with rows matching ``arg.labels``;
* an *instant function* gets all its arguments in call order
  (:class:`~promethean.promql.values.StepMatrix`, per-step arrays, strings) and
  returns a StepMatrix (vector result) or a per-step array (scalar result).

``keeps_name`` tells the engine not to drop ``__name__`` from the result
(``last_over_time``, ``sort``, ``label_replace``...); every other function's
result loses it, as upstream.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Literal, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

from promethean.promql.annotations import PROMQL_INFO, PROMQL_WARNING
from promethean.promql.values import EvalContext, RangeInput, StepMatrix

__all__ = [
    "IMPLEMENTATIONS",
    "FunctionError",
    "InstantFunction",
    "RangeFunction",
    "annotate",
    "instant_function",
    "range_function",
]

Param: TypeAlias = npt.NDArray[np.float64] | str
InstantArg: TypeAlias = StepMatrix | npt.NDArray[np.float64] | str
RangeResult: TypeAlias = tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]
RangeImpl: TypeAlias = Callable[[RangeInput, list[Param], EvalContext], RangeResult]
InstantImpl: TypeAlias = Callable[
    [list[InstantArg], EvalContext], StepMatrix | npt.NDArray[np.float64]
]


class FunctionError(Exception):
    """A call the function refuses (upstream panics with these texts, failing the query)."""


@dataclass(frozen=True)
class RangeFunction:
    name: str
    fn: RangeImpl
    keeps_name: bool = False
    kind: ClassVar[Literal["range"]] = "range"

    def __call__(self, arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
        return self.fn(arg, params, ctx)


@dataclass(frozen=True)
class InstantFunction:
    name: str
    fn: InstantImpl
    keeps_name: bool = False
    kind: ClassVar[Literal["instant"]] = "instant"

    def __call__(
        self, args: list[InstantArg], ctx: EvalContext
    ) -> StepMatrix | npt.NDArray[np.float64]:
        return self.fn(args, ctx)


IMPLEMENTATIONS: dict[str, RangeFunction | InstantFunction] = {}

_R = TypeVar("_R", bound=RangeImpl)
_I = TypeVar("_I", bound=InstantImpl)


def range_function(*names: str, keeps_name: bool = False) -> Callable[[_R], _R]:
    def register(fn: _R) -> _R:
        for name in names:
            IMPLEMENTATIONS[name] = RangeFunction(name, fn, keeps_name)
        return fn

    return register


def instant_function(*names: str, keeps_name: bool = False) -> Callable[[_I], _I]:
    def register(fn: _I) -> _I:
        for name in names:
            IMPLEMENTATIONS[name] = InstantFunction(name, fn, keeps_name)
        return fn

    return register


def annotate(
    ctx: EvalContext, kind: Literal["warning", "info"], text: str, arg_index: int = 0
) -> None:
    """Record upstream's annotation text, with the argument's position when the engine knows it.

    Upstream ends each annotation with `` (line:col)`` of one argument of the
    call (which one depends on the annotation). The engine may set
    ``ctx.arg_positions`` to the ``"line:col"`` of each argument of the call
    being evaluated; without it the text goes out without a position.
    """
    positions: list[str] | None = getattr(ctx, "arg_positions", None)
    if positions is not None and 0 <= arg_index < len(positions) and positions[arg_index]:
        text = f"{text} ({positions[arg_index]})"
    if kind == "warning":
        ctx.annotations.add_warning(PROMQL_WARNING + text)
    else:
        ctx.annotations.add_info(PROMQL_INFO + text)
