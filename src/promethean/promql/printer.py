"""Syntax tree to canonical PromQL text, as upstream's ``String()`` writes it.

The output is what the Prometheus UI and API show for a formatted query:
``sum by (job) (rate(x[5m]))``, ``a + on (b) group_left (c) d``, durations in
their shortest unit form (``1h30m``), ``@ 100.000``, numbers as Go prints a
float64 (``1e+06``, ``0.0001``, ``+Inf``). Label matchers come out sorted.
Parsing the output gives back an equal tree.
"""

from __future__ import annotations

import math
import re

from promethean.model.matchers import Matcher, MatchType
from promethean.model.names import needs_quoting, promql_quote
from promethean.promql.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    DurationExpr,
    DurationNode,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    VectorMatching,
    VectorSelector,
)
from promethean.promql.durations import format_duration

__all__ = ["format_expr", "format_float", "quote_string"]

# Names the lexer would not read back as a bare metric name.
_NOT_BARE = frozenset(
    {"inf", "nan", "bool", "on", "ignoring", "group_left", "group_right", "atan2"}
)
_SURROGATE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\udc([89a-f][0-9a-f])")
_DUR_BINARY = frozenset({"+", "-", "*", "/", "%", "^"})


def format_expr(expr: Expr) -> str:
    """The canonical text of ``expr``."""
    return _fmt(expr)


def quote_string(value: str) -> str:
    """A double-quoted PromQL string literal; bytes that are not UTF-8 become ``\\xNN``."""
    quoted = promql_quote(value)
    if "\\udc" in quoted:
        quoted = _SURROGATE_ESCAPE.sub(r"\1\\x\2", quoted)
    return quoted


def format_float(value: float) -> str:
    """Go's ``fmt.Sprint(float64)``: shortest digits, exponent form outside 1e-4..1e6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    mantissa, _, exp_text = repr(abs(value)).partition("e")
    int_part, _, frac = mantissa.partition(".")
    digits = int_part + frac
    point = len(int_part) + (int(exp_text) if exp_text else 0)
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    digits = stripped.rstrip("0")
    exp10 = point - 1
    if exp10 < -4 or exp10 >= 6:
        head = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{head}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _number(node: NumberLiteral) -> str:
    if node.duration and math.isfinite(node.value):
        return format_duration(round(node.value * 1000))
    return format_float(node.value)


def _label(name: str) -> str:
    return quote_string(name) if needs_quoting(name) else name


def _labels(names: tuple[str, ...]) -> str:
    return ", ".join(_label(n) for n in names)


def _matcher(m: Matcher) -> str:
    return f"{_label(m.name)}{m.type.value}{quote_string(m.value)}"


def _selector(vs: VectorSelector) -> str:
    name = vs.name
    parts = [
        _matcher(m)
        for m in vs.matchers
        if not (name and m.name == "__name__" and m.type is MatchType.EQUAL and m.value == name)
    ]
    if name and (needs_quoting(name, metric_name=True) or name.lower() in _NOT_BARE):
        parts.insert(0, quote_string(name))
        name = ""
    if not parts:
        return name or "{}"
    return name + "{" + ",".join(parts) + "}"


def _at(timestamp_ms: int | None, start_or_end: str | None) -> str:
    if start_or_end is not None:
        return f" @ {start_or_end}()"
    if timestamp_ms is not None:
        return f" @ {timestamp_ms / 1000.0:.3f}"
    return ""


def _offset(offset_ms: int, offset_expr: DurationExpr | None) -> str:
    if offset_expr is not None:
        text = _duration(offset_expr)
        if (
            offset_expr.op in _DUR_BINARY
            and offset_expr.lhs is not None
            and not offset_expr.wrapped
        ):
            text = f"({text})"
        return f" offset {text}"
    if offset_ms > 0:
        return f" offset {format_duration(offset_ms)}"
    if offset_ms < 0:
        return f" offset -{format_duration(-offset_ms)}"
    return ""


def _extended(vs: VectorSelector) -> str:
    if vs.anchored:
        return " anchored"
    if vs.smoothed:
        return " smoothed"
    return ""


def _duration(node: DurationNode) -> str:
    if isinstance(node, NumberLiteral):
        return _number(node)
    op = node.op
    if op in ("step", "range", "start", "end"):
        text = f"{op}()"
    elif op in ("min_of", "max_of"):
        assert node.lhs is not None and node.rhs is not None
        text = f"{op}({_duration(node.lhs)}, {_duration(node.rhs)})"
    elif node.rhs is None:
        text = ""
    elif node.lhs is None:
        text = f"{op}{_duration(node.rhs)}"
    else:
        text = f"{_duration(node.lhs)} {op} {_duration(node.rhs)}"
    return f"({text})" if node.wrapped else text


def _range(range_ms: int, range_expr: DurationExpr | None) -> str:
    return _duration(range_expr) if range_expr is not None else format_duration(range_ms)


def _matching(vm: VectorMatching | None) -> str:
    if vm is None:
        return ""
    out = ""
    grouped = vm.card in (Cardinality.MANY_TO_ONE, Cardinality.ONE_TO_MANY)
    if vm.matching_labels or vm.on or grouped:
        out = f" {'on' if vm.on else 'ignoring'} ({_labels(vm.matching_labels)})"
        if grouped:
            side = "left" if vm.card is Cardinality.MANY_TO_ONE else "right"
            out += f" group_{side} ({_labels(vm.include)})"
    left, right = vm.fill_left, vm.fill_right
    if left is not None and right is not None and format_float(left) == format_float(right):
        out += f" fill({format_float(left)})"
    else:
        if left is not None:
            out += f" fill_left({format_float(left)})"
        if right is not None:
            out += f" fill_right({format_float(right)})"
    return out


def _fmt(node: Expr) -> str:
    if isinstance(node, VectorSelector):
        return (
            _selector(node)
            + _at(node.timestamp_ms, node.start_or_end)
            + _offset(node.offset_ms, node.offset_expr)
            + _extended(node)
        )
    if isinstance(node, NumberLiteral):
        return _number(node)
    if isinstance(node, StringLiteral):
        return quote_string(node.value)
    if isinstance(node, BinaryExpr):
        # Left spine iteratively, so long chains (a or b or ...) do not recurse.
        spine: list[BinaryExpr] = []
        current: Expr = node
        while isinstance(current, BinaryExpr):
            spine.append(current)
            current = current.lhs
        parts = [_fmt(current)]
        for item in reversed(spine):
            bool_str = " bool" if item.return_bool else ""
            parts.append(f" {item.op}{bool_str}{_matching(item.matching)} {_fmt(item.rhs)}")
        return "".join(parts)
    if isinstance(node, Call):
        return f"{node.func.name}({', '.join(_fmt(a) for a in node.args)})"
    if isinstance(node, AggregateExpr):
        head = node.op
        if node.without:
            head += f" without ({_labels(node.grouping)}) "
        elif node.grouping:
            head += f" by ({_labels(node.grouping)}) "
        param = f"{_fmt(node.param)}, " if node.param is not None else ""
        return f"{head}({param}{_fmt(node.expr)})"
    if isinstance(node, MatrixSelector):
        vs = node.vector_selector
        return (
            f"{_selector(vs)}[{_range(node.range_ms, node.range_expr)}]"
            + _at(vs.timestamp_ms, vs.start_or_end)
            + _offset(vs.offset_ms, vs.offset_expr)
            + _extended(vs)
        )
    if isinstance(node, SubqueryExpr):
        step = ""
        if node.step_expr is not None or node.step_ms:
            step = _range(node.step_ms, node.step_expr)
        return (
            f"{_fmt(node.expr)}[{_range(node.range_ms, node.range_expr)}:{step}]"
            + _at(node.timestamp_ms, node.start_or_end)
            + _offset(node.offset_ms, node.offset_expr)
        )
    if isinstance(node, ParenExpr):
        return f"({_fmt(node.expr)})"
    if isinstance(node, DurationExpr):
        return _duration(node)
    return f"{node.op}{_fmt(node.expr)}"
