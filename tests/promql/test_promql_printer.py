"""Canonical printing: what upstream's String() writes for tricky queries."""

from __future__ import annotations

import math

import pytest

from promethean.promql import ALL_FEATURES, format_expr, parse_expr
from promethean.promql.printer import format_float

CANONICAL = [
    ("sum by(job)(rate(x[5m]))", "sum by (job) (rate(x[5m]))"),
    ("SUM(rate(x[5m])) BY (job)", "sum by (job) (rate(x[5m]))"),
    ("sum without(a,b)(x)", "sum without (a, b) (x)"),
    ("sum by () (x)", "sum(x)"),
    ("topk(5,x)", "topk(5, x)"),
    ('count_values("v",x)', 'count_values("v", x)'),
    ("a+on(b)group_left(c)d", "a + on (b) group_left (c) d"),
    ("a * ignoring(b) group_right d", "a * ignoring (b) group_right () d"),
    ("a and on() b", "a and on () b"),
    ("a > bool 1", "a > bool 1"),
    ("a==bool on(x) b", "a == bool on (x) b"),
    ("x offset 90m", "x offset 1h30m"),
    ("x offset 90d", "x offset 90d"),
    ("x offset 14d", "x offset 2w"),
    ("x offset 1y", "x offset 1y"),
    ("x offset -5m", "x offset -5m"),
    ("x offset 1500ms", "x offset 1s500ms"),
    ("x[120s]", "x[2m]"),
    ("x[5m] @ 100 offset 1m", "x[5m] @ 100.000 offset 1m"),
    ("x offset 1m @ 1.5", "x @ 1.500 offset 1m"),
    ("x @ start()", "x @ start()"),
    ("rate(x[5m])[1h:]", "rate(x[5m])[1h:]"),
    ("rate(x[5m])[1h:1m] offset 1d", "rate(x[5m])[1h:1m] offset 1d"),
    ('x{b="2",a="1"}', 'x{a="1",b="2"}'),
    ('{__name__="x"}', '{__name__="x"}'),
    ('{"my.metric", "some.label"="v"}', '{"my.metric","some.label"="v"}'),
    ('sum by ("a.b") (x)', 'sum by ("a.b") (x)'),
    ("'single'", '"single"'),
    ("`raw\\n`", '"raw\\\\n"'),
    ('"tab\\there"', '"tab\\there"'),
    ("1e6", "1e+06"),
    ("123456", "123456"),
    ("0.0001", "0.0001"),
    ("0.00001", "1e-05"),
    ("0x10", "16"),
    ("-inf", "-Inf"),
    ("nan", "NaN"),
    ("1h + 5", "1h + 5"),
    ("-(1)", "-(1)"),
    ("-x ^ 2", "-x ^ 2"),
    ("(a + b) * c", "(a + b) * c"),
    ("a # comment\n + b", "a + b"),
    ("offset", "offset"),
]


@pytest.mark.parametrize(("query", "expected"), CANONICAL)
def test_canonical_form(query: str, expected: str) -> None:
    tree = parse_expr(query)
    assert format_expr(tree) == expected
    assert parse_expr(expected) == tree


EXPERIMENTAL = [
    ("x[5m*2]", "x[5m * 2]"),
    ("x[(1h)]", "x[(1h)]"),
    ("x offset (1h+5m)", "x offset (1h + 5m)"),
    ("x offset -step()", "x offset -step()"),
    ("x[STEP():max_of(1m,step())]", "x[step():max_of(1m, step())]"),
    ("rate(x[5m] anchored)", "rate(x[5m] anchored)"),
    ("x smoothed", "x smoothed"),
    ("x @ 10 offset 1m smoothed", "x @ 10.000 offset 1m smoothed"),
    ("a + fill(0) b", "a + fill(0) b"),
    ("a + fill_left(1) fill_right(2) b", "a + fill_left(1) fill_right(2) b"),
    ("a + on(x) group_left fill_right(NaN) b", "a + on (x) group_left () fill_right(NaN) b"),
    ("x * step()", "x * step()"),
    ("a >/ 0.5", "a >/ 0.5"),
]


@pytest.mark.parametrize(("query", "expected"), EXPERIMENTAL)
def test_canonical_form_of_experimental_syntax(query: str, expected: str) -> None:
    tree = parse_expr(query, ALL_FEATURES)
    assert format_expr(tree) == expected
    assert parse_expr(expected, ALL_FEATURES) == tree


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (1.5, "1.5"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (1e21, "1e+21"),
        (1e-4, "0.0001"),
        (1.5e-7, "1.5e-07"),
        (5e-324, "5e-324"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_floats_print_as_go_does(value: float, text: str) -> None:
    assert format_float(value) == text
