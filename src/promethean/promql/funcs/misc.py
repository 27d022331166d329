"""Conversions and constants: ``vector``, ``scalar``, ``pi``, ``absent``.

``absent`` and ``absent_over_time`` answer with labels taken from the
argument's selector (the equality matchers), which only the syntax tree
knows: the engine computes them with :func:`absent_labels` and finishes
``absent_over_time`` with :func:`absent_result`.
"""

from __future__ import annotations

import numpy as np

from promethean.model.labels import METRIC_NAME, Labels
from promethean.model.matchers import MatchType
from promethean.promql import ast
from promethean.promql.funcs._registry import InstantArg, instant_function
from promethean.promql.funcs._windows import F64, B
from promethean.promql.values import EvalContext, StepMatrix

__all__ = ["absent_labels", "absent_result"]


def absent_labels(expr: ast.Expr) -> Labels:
    """Labels of an ``absent()`` result: the selector's ``name="value"`` matchers.

    A label constrained twice, or by any other kind of matcher, is left out,
    as upstream does; anything but a selector gives no labels.
    """
    if isinstance(expr, ast.MatrixSelector):
        selector: ast.VectorSelector = expr.vector_selector
    elif isinstance(expr, ast.VectorSelector):
        selector = expr
    else:
        return Labels.empty()
    out: dict[str, str] = {}
    seen: set[str] = set()
    for matcher in selector.matchers:
        if matcher.name == METRIC_NAME:
            continue
        if matcher.type is MatchType.EQUAL and matcher.name not in seen:
            out[matcher.name] = matcher.value
            seen.add(matcher.name)
        else:
            out.pop(matcher.name, None)
    return Labels.from_dict(out)


def absent_result(present: B, labels: Labels) -> StepMatrix:
    """One series, 1 at every step where no input series had a sample."""
    rows = np.asarray(present, dtype=np.bool_)
    missing: B = ~np.asarray(rows.reshape(-1, rows.shape[-1]).any(axis=0))
    values = np.where(missing, 1.0, 0.0)[None, :]
    return StepMatrix([labels], values, missing[None, :].copy())


@instant_function("absent")
def _absent(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    """``args[0]`` the vector; the engine may append the :func:`absent_labels` of its expression."""
    m = args[0]
    assert isinstance(m, StepMatrix)
    extra = args[1] if len(args) > 1 else None
    labels = extra if isinstance(extra, Labels) else Labels.empty()
    return absent_result(m.present if m.n_series else np.zeros((1, m.n_steps), bool), labels)


@instant_function("vector")
def _vector(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    s = args[0]
    assert isinstance(s, np.ndarray)
    values = s.astype(np.float64).reshape(1, -1)
    return StepMatrix([Labels.empty()], values, np.ones(values.shape, dtype=np.bool_))


@instant_function("scalar")
def _scalar(args: list[InstantArg], ctx: EvalContext) -> F64:
    """The only sample's value at each step; NaN where there are none or several."""
    m = args[0]
    assert isinstance(m, StepMatrix)
    if not m.n_series:
        return np.full(m.n_steps, np.nan)
    single = m.present.sum(axis=0) == 1
    value = np.where(m.present, m.values, 0.0).sum(axis=0)
    return np.where(single, value, np.nan)


@instant_function("pi")
def _pi(args: list[InstantArg], ctx: EvalContext) -> F64:
    return np.full(ctx.n_steps, np.pi)
