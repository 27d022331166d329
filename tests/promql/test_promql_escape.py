"""W3: untrusted input put into a query stays a label value, whatever it holds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promethean.model.matchers import Matcher, MatchType
from promethean.promql import build_selector, escape_label_value, parse_expr, selector
from promethean.promql.ast import StringLiteral, VectorSelector

INJECTIONS = [
    '"} or some_metric{zzz="',
    '\\"} or some_metric{zzz="',
    '\\\\"} or some_metric{zzz="\\',
    '"} # the rest is a comment',
    '"}\nor some_metric{zzz="',
    '"}\u2028or\u00a0some_metric{zzz="',
    "'} or some_metric{zzz='",
    "`} or some_metric{zzz=`",
    '"} or on() vector(1) or {a="',
    "\x00\x7f\u202e\U0001f600",
]


def _expect_selector(query: str, name: str, matchers: list[Matcher]) -> None:
    tree = parse_expr(query)
    assert isinstance(tree, VectorSelector)
    expected = list(matchers)
    if name:
        expected.append(Matcher("__name__", MatchType.EQUAL, name))
    assert tree.name == name
    assert sorted(tree.matchers, key=str) == sorted(expected, key=str)
    assert tree.offset_ms == 0 and tree.timestamp_ms is None


def test_the_security_models_injection_is_a_label_value() -> None:
    query = selector("http_requests_total", job='"} or some_metric{zzz="')
    assert query == 'http_requests_total{job="\\"} or some_metric{zzz=\\""}'
    _expect_selector(
        query,
        "http_requests_total",
        [Matcher("job", MatchType.EQUAL, '"} or some_metric{zzz="')],
    )


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_variants_stay_one_selector(payload: str) -> None:
    query = selector("up", job=payload, instance="host:9090")
    _expect_selector(
        query,
        "up",
        [
            Matcher("job", MatchType.EQUAL, payload),
            Matcher("instance", MatchType.EQUAL, "host:9090"),
        ],
    )


@pytest.mark.parametrize("payload", INJECTIONS)
def test_escaped_value_reads_back_as_itself(payload: str) -> None:
    literal = escape_label_value(payload)
    assert parse_expr(literal) == StringLiteral(payload)


def test_label_names_from_input_are_quoted_not_interpreted() -> None:
    name = 'x"} or up{a'
    query = build_selector("up", [(name, "=", "v")])
    _expect_selector(query, "up", [Matcher(name, MatchType.EQUAL, "v")])


def test_metric_name_from_input_is_quoted() -> None:
    name = 'up"} or vector(1) or {"'
    _expect_selector(build_selector(name), name, [])


def test_regex_matchers_are_validated() -> None:
    query = build_selector("up", [("job", "=~", "api|web")])
    _expect_selector(query, "up", [Matcher("job", MatchType.REGEX, "api|web")])
    with pytest.raises(ValueError):
        build_selector("up", [("job", "=~", "(unclosed")])


def test_selector_that_matches_everything_is_refused() -> None:
    with pytest.raises(ValueError):
        build_selector(None, [("job", "=", "")])
    with pytest.raises(ValueError):
        selector()


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(ValueError):
        escape_label_value("\udcff")


@settings(max_examples=300, deadline=None)
@given(st.text(), st.text(min_size=1))
def test_any_text_stays_one_selector(value: str, label: str) -> None:
    if label == "__name__":
        # A second metric name is refused, as PromQL refuses `m{__name__="x"}`.
        with pytest.raises(ValueError):
            build_selector("m", [(label, "=", value)])
        return
    query = build_selector("m", [(label, "=", value)])
    _expect_selector(query, "m", [Matcher(label, MatchType.EQUAL, value)])
