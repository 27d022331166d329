"""Duration arithmetic for the experimental duration expressions, and Go's duration text.

``eval_duration`` computes a :class:`DurationExpr` in seconds; the engine calls
it with the query's step and range when the expression uses ``step()`` or
``range()``, the parser calls it for constant expressions. ``format_duration``
is upstream's ``model.Duration.String()``: years and weeks only when they
divide evenly (``90d``, not ``12w6d``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from promethean.promql.ast import DurationExpr, DurationNode, NumberLiteral

__all__ = ["duration_to_ms", "eval_duration", "format_duration"]

_UNITS = (
    ("y", 365 * 24 * 3600 * 1000, True),
    ("w", 7 * 24 * 3600 * 1000, True),
    ("d", 24 * 3600 * 1000, False),
    ("h", 3600 * 1000, False),
    ("m", 60 * 1000, False),
    ("s", 1000, False),
    ("ms", 1, False),
)


def format_duration(ms: int) -> str:
    if ms == 0:
        return "0s"
    sign = ""
    if ms < 0:
        sign, ms = "-", -ms
    out: list[str] = []
    for unit, size, exact in _UNITS:
        if exact and ms % size:
            continue
        count, ms = divmod(ms, size)
        if count:
            out.append(f"{count}{unit}")
    return sign + "".join(out)


def duration_to_ms(seconds: float) -> int:
    if math.isnan(seconds) or math.isinf(seconds) or abs(seconds) * 1000 >= 2.0**63:
        raise ValueError(f"duration out of range: {seconds}")
    return round(seconds * 1000)


def eval_duration(node: DurationNode, query: Mapping[str, float] | None = None) -> float:
    """The value in seconds.

    ``query`` gives ``step``, ``range``, ``start`` and ``end`` (seconds) for
    expressions that use them. ``ValueError`` for division by zero or a
    query value that is not given.
    """
    if isinstance(node, NumberLiteral):
        return node.value
    return _eval(node, query or {})


def _eval(node: DurationExpr, query: Mapping[str, float]) -> float:
    op = node.op
    if op in ("step", "range", "start", "end"):
        if op not in query:
            raise ValueError(f"{op}() is only known when the query runs")
        return query[op]
    rhs = eval_duration(node.rhs, query) if node.rhs is not None else 0.0
    if node.lhs is None:
        return -rhs if op == "-" else rhs
    lhs = eval_duration(node.lhs, query)
    if op == "+":
        return lhs + rhs
    if op == "-":
        return lhs - rhs
    if op == "*":
        return lhs * rhs
    if op == "/":
        if rhs == 0:
            raise ValueError("division by zero")
        return lhs / rhs
    if op == "%":
        if rhs == 0:
            raise ValueError("modulo by zero")
        return math.fmod(lhs, rhs)
    if op == "^":
        return float(math.pow(lhs, rhs))
    if op in ("min_of", "max_of"):
        # As Go's math.Min/Max: NaN wins over any number.
        if math.isnan(lhs) or math.isnan(rhs):
            return math.nan
        return min(lhs, rhs) if op == "min_of" else max(lhs, rhs)
    raise ValueError(f"unknown duration operator {op!r}")
