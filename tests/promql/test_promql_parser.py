"""The parser: trees for valid queries, upstream's exact messages for invalid ones."""

from __future__ import annotations

import math

import pytest

from promethean.model.matchers import Matcher, MatchType
from promethean.promql import (
    ALL_FEATURES,
    ParserOptions,
    PromQLParseError,
    ValueType,
    parse_expr,
    parse_metric_selector,
)
from promethean.promql.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    DurationExpr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
)
from promethean.promql.functions import FUNCTIONS


def _vs(name: str = "", *matchers: Matcher, **kw: object) -> VectorSelector:
    ms = list(matchers)
    if name:
        ms.append(Matcher("__name__", MatchType.EQUAL, name))
    return VectorSelector(name, tuple(sorted(ms, key=str)), **kw)  # type: ignore[arg-type]


def _eq(name: str, value: str) -> Matcher:
    return Matcher(name, MatchType.EQUAL, value)


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("1", 1.0),
        ("+1", 1.0),
        ("-1", -1.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1E-3", 0.001),
        ("0x1F", 31.0),
        ("017", 15.0),
        ("Inf", math.inf),
        ("-inf", -math.inf),
        ("1_000", 1000.0),
    ],
)
def test_number_literals(query: str, value: float) -> None:
    assert parse_expr(query) == NumberLiteral(value)


def test_nan_and_durations_as_numbers() -> None:
    assert parse_expr("NaN") == NumberLiteral(math.nan)
    assert parse_expr("1h30m") == NumberLiteral(5400.0, duration=True)
    assert parse_expr("1h + 1").type is ValueType.SCALAR


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ('"double \\" \\n \\x41 \\u00e9 \\U0001F600 \\101"', 'double " \n A é 😀 A'),
        ("'single \\' quote'", "single ' quote"),
        ("`raw \\n no escapes`", "raw \\n no escapes"),
    ],
)
def test_string_literals(query: str, value: str) -> None:
    assert parse_expr(query) == StringLiteral(value)


def test_selectors_and_matchers() -> None:
    assert parse_expr('foo{a="b", c!="d", e=~"f", g!~"h",}') == _vs(
        "foo",
        _eq("a", "b"),
        Matcher("c", MatchType.NOT_EQUAL, "d"),
        Matcher("e", MatchType.REGEX, "f"),
        Matcher("g", MatchType.NOT_REGEX, "h"),
    )
    assert parse_expr('{"my.metric", "some.label"="v"}') == _vs("my.metric", _eq("some.label", "v"))
    assert parse_expr('{__name__="x"}') == _vs("", _eq("__name__", "x"))
    assert parse_expr("job:rate5m") == _vs("job:rate5m")
    # Keywords may name metrics where an expression starts.
    assert parse_expr("offset") == _vs("offset")
    assert parse_expr("sum + by") == BinaryExpr("+", _vs("sum"), _vs("by"), VectorMatching())


def test_modifiers() -> None:
    assert parse_expr("foo offset -5m") == _vs("foo", offset_ms=-300_000)
    assert parse_expr("foo @ 100 offset 1") == _vs("foo", offset_ms=1000, timestamp_ms=100_000)
    assert parse_expr("foo @ end()") == _vs("foo", start_or_end="end")
    assert parse_expr("foo[5m] offset 1h") == MatrixSelector(
        _vs("foo", offset_ms=3_600_000), 300_000
    )
    assert parse_expr("foo[1h:5m]") == SubqueryExpr(_vs("foo"), 3_600_000, 300_000)
    assert parse_expr("rate(foo[5m])[1h:] @ start()") == SubqueryExpr(
        Call(FUNCTIONS["rate"], (MatrixSelector(_vs("foo"), 300_000),)),
        3_600_000,
        start_or_end="start",
    )


def test_precedence_and_associativity() -> None:
    one, two, three = NumberLiteral(1), NumberLiteral(2), NumberLiteral(3)
    assert parse_expr("1 + 2 * 3") == BinaryExpr("+", one, BinaryExpr("*", two, three))
    assert parse_expr("1 - 2 - 3") == BinaryExpr("-", BinaryExpr("-", one, two), three)
    assert parse_expr("1 ^ 2 ^ 3") == BinaryExpr("^", one, BinaryExpr("^", two, three))
    # Unary minus binds looser than ^ but tighter than *.
    assert parse_expr("-1 ^ 2") == UnaryExpr("-", BinaryExpr("^", one, two))
    assert parse_expr("-a * b") == BinaryExpr(
        "*", UnaryExpr("-", _vs("a")), _vs("b"), VectorMatching()
    )
    assert parse_expr("2 ^ -1") == BinaryExpr("^", two, NumberLiteral(-1))
    tree = parse_expr("a or b and c unless d == bool e + f")
    assert isinstance(tree, BinaryExpr) and tree.op == "or"
    assert parse_expr("(1)") == ParenExpr(one)


def test_vector_matching() -> None:
    tree = parse_expr("a + on(b) group_left(c) d")
    assert tree == BinaryExpr(
        "+", _vs("a"), _vs("d"), VectorMatching(Cardinality.MANY_TO_ONE, ("b",), True, ("c",))
    )
    tree = parse_expr("a and ignoring(x) b")
    assert isinstance(tree, BinaryExpr)
    assert tree.matching == VectorMatching(Cardinality.MANY_TO_MANY, ("x",))
    # Matching is dropped when a side is a scalar.
    assert parse_expr("a > bool 1") == BinaryExpr(">", _vs("a"), NumberLiteral(1), None, True)


def test_aggregations() -> None:
    by_before = parse_expr("sum by (job) (x)")
    assert by_before == parse_expr("SUM(x) BY (job,)")
    assert by_before == AggregateExpr("sum", _vs("x"), None, ("job",))
    assert parse_expr('count_values without ("a.b") ("v", x)') == AggregateExpr(
        "count_values", _vs("x"), StringLiteral("v"), ("a.b",), True
    )
    assert parse_expr("quantile(0.9, x)").type is ValueType.VECTOR


def test_types() -> None:
    assert parse_expr("x[5m]").type is ValueType.MATRIX
    assert parse_expr("x[5m:]").type is ValueType.MATRIX
    assert parse_expr("scalar(x)").type is ValueType.SCALAR
    assert parse_expr('"s"').type is ValueType.STRING
    assert parse_expr("x + 1").type is ValueType.VECTOR
    assert parse_expr("time() + 1").type is ValueType.SCALAR


def test_comments_are_ignored() -> None:
    assert parse_expr("sum(x) # total\n + 1 # one") == parse_expr("sum(x) + 1")


def test_experimental_features() -> None:
    tree = parse_expr("foo[5m * 2] offset (1h + 5m)", ALL_FEATURES)
    assert isinstance(tree, MatrixSelector)
    assert tree.range_ms == 600_000 and tree.range_expr is not None
    assert tree.vector_selector.offset_ms == 3_900_000
    step = parse_expr("foo[step()]", ALL_FEATURES)
    assert isinstance(step, MatrixSelector) and step.range_expr == DurationExpr("step")
    assert parse_expr("x offset -step() * 2", ALL_FEATURES).type is ValueType.VECTOR
    assert parse_expr("rate(x[5m] anchored)", ALL_FEATURES) == Call(
        FUNCTIONS["rate"], (MatrixSelector(_vs("x", anchored=True), 300_000),)
    )
    fill = parse_expr("a + fill_left(1) fill_right(-Inf) b", ALL_FEATURES)
    assert isinstance(fill, BinaryExpr) and fill.matching is not None
    assert (fill.matching.fill_left, fill.matching.fill_right) == (1.0, -math.inf)
    only_functions = ParserOptions(enable_experimental_functions=True)
    assert parse_expr("limitk(1, x)", only_functions).type is ValueType.VECTOR
    assert parse_expr('sort_by_label(x, "a")', only_functions).type is ValueType.VECTOR


def test_metric_selector() -> None:
    assert parse_metric_selector('up{job="a"}') == (_eq("__name__", "up"), _eq("job", "a"))
    with pytest.raises(PromQLParseError):
        parse_metric_selector("up + 1")


ERRORS = [
    ("", "1:1: parse error: no expression found in input"),
    ("1+", "1:3: parse error: unexpected end of input"),
    ("*1", "1:1: parse error: unexpected <op:*>"),
    ("(1))", "1:4: parse error: unexpected right parenthesis ')'"),
    ("((1)", "1:5: parse error: unclosed left parenthesis"),
    ("1 and 1", '1:1: parse error: set operator "and" not allowed in binary scalar expression'),
    ("1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"),
    ("1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"),
    (
        '-"string"',
        "1:1: parse error: unary expression only allowed on expressions of type scalar or "
        'instant vector, got "string"',
    ),
    (
        '"a" + 1',
        "1:1: parse error: binary expression must contain only scalar and instant vector types",
    ),
    (
        "1 offset 1d",
        "1:1: parse error: offset modifier must be preceded by an instant vector selector or "
        "range vector selector or a subquery",
    ),
    ("foo offset 1s offset 2s", "1:15: parse error: offset may not be set multiple times"),
    ("a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"),
    (
        "foo or on(bar) group_left(baz) bar",
        '1:5: parse error: no grouping allowed for "or" operation',
    ),
    ("foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"),
    ("foo == on(bar) 10", "1:1: parse error: vector matching only allowed between instant vectors"),
    (
        "a + on(instance) group_left(job,instance) b",
        '1:3: parse error: label "instance" must not occur in ON and GROUP clause at once',
    ),
    ('foo{__name__="bar"}', '1:1: parse error: metric name must not be set twice: "foo" or "bar"'),
    ("{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"),
    ('{x=~".*"}', "1:1: parse error: vector selector must contain at least one non-empty matcher"),
    ("foo{", "1:5: parse error: unexpected end of input inside braces"),
    ("{a=", "1:4: parse error: unexpected end of input inside braces"),
    ("foo{1}", "1:5: parse error: unexpected character inside braces: '1'"),
    (
        "foo{a}",
        '1:6: parse error: unexpected "}" in label matching, expected label matching operator',
    ),
    ("foo{a=}", '1:7: parse error: unexpected "}" in label matching, expected string'),
    (
        'foo{a="b" c="d"}',
        '1:11: parse error: unexpected identifier "c" in label matching, expected "," or "}"',
    ),
    ("foo[5mm]", '1:5: parse error: bad number or duration syntax: "5mm"'),
    ("foo[5m", "1:7: parse error: unclosed left bracket"),
    (
        "rate(x)",
        '1:6: parse error: expected type range vector in call to function "rate", '
        "got instant vector",
    ),
    (
        "sum(x[5m])",
        "1:5: parse error: expected type instant vector in aggregation expression, "
        "got range vector",
    ),
    ("nope()", '1:1: parse error: unknown function with name "nope"'),
    ("floor()", '1:1: parse error: expected 1 argument(s) in call to "floor", got 0'),
    (
        "label_join(a)",
        '1:1: parse error: expected at least 3 argument(s) in call to "label_join", got 1',
    ),
    (
        "round(a, 1, 2)",
        '1:1: parse error: expected at most 2 argument(s) in call to "round", got 3',
    ),
    (
        "topk(x)",
        "1:1: parse error: wrong number of arguments for aggregate expression provided, "
        "expected 2, got 1",
    ),
    (
        "topk(x, y)",
        "1:6: parse error: expected type scalar in aggregation parameter, got instant vector",
    ),
    (
        "count_values(5, x)",
        "1:14: parse error: expected type string in aggregation parameter, got scalar",
    ),
    (
        "sum (x) by test",
        '1:12: parse error: unexpected identifier "test" in grouping opts, expected "("',
    ),
    ("sum (x) by (a,,)", '1:15: parse error: unexpected "," in grouping opts, expected label'),
    ("sum x by (test)", '1:5: parse error: unexpected identifier "x" in aggregation'),
    ("foo @ 1 @ 2", "1:9: parse error: @ <timestamp> may not be set multiple times"),
    ('"\\q"', "1:1: parse error: unknown escape sequence U+0071 'q'"),
    ('"abc', "1:1: parse error: unterminated quoted string"),
    ("rate(foo[5m],)", "1:13: parse error: trailing commas not allowed in function call args"),
    ('sort_by_label(x, "a")', '1:1: parse error: function "sort_by_label" is not enabled'),
    (
        "limitk(1, x)",
        "1:1: parse error: limitk() and limit_ratio() are experimental and must be enabled with "
        "--enable-feature=promql-experimental-functions",
    ),
    ("foo[5m*2]", "1:5: parse error: experimental duration expression is not enabled"),
    ("sum(x)[5m]", "1:7: parse error: ranges only allowed for vector selectors"),
    ("x offset 5m [5m]", "1:13: parse error: no offset modifiers allowed before range"),
    (
        "x[5m][5m:]",
        "1:1: parse error: subquery is only allowed on instant vector, got matrix instead",
    ),
    ("0deadbeef", '1:1: parse error: bad number or duration syntax: "0de"'),
    ("foo bar", '1:5: parse error: unexpected identifier "bar"'),
    ("sum(x)\n  + * 2", "2:5: parse error: unexpected <op:*>"),
    ('"é" + ü', "1:8: parse error: unexpected character: 'ü'"),
]


@pytest.mark.parametrize(("query", "message"), ERRORS)
def test_errors_match_upstream(query: str, message: str) -> None:
    with pytest.raises(PromQLParseError) as info:
        parse_expr(query)
    assert str(info.value) == message


def test_extended_selector_function_check_is_left_to_the_engine() -> None:
    # Upstream refuses `deriv(foo[3m] smoothed)` when it runs, not when it parses.
    tree = parse_expr("deriv(foo[3m] smoothed)", ALL_FEATURES)
    assert tree.type is ValueType.VECTOR


def test_long_chains_parse_and_deep_nesting_is_refused_cleanly() -> None:
    chain = " or ".join(f"m{i}" for i in range(3000))
    tree = parse_expr(chain)
    assert tree.type is ValueType.VECTOR
    with pytest.raises(PromQLParseError) as info:
        parse_expr("(" * 5000 + "1" + ")" * 5000)
    assert str(info.value) == "1:1: parse error: expression nested too deeply"
