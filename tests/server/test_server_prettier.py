"""``format_query``'s multi-line layout (upstream's prettier), node by node and over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _server_api_support import running_api

from promethean.promql.parser import parse_expr
from promethean.promql.prettier import prettify

# Upstream's own unit tests lower the width to 10 to exercise every rule.
NARROW = [
    ("sum(foo)", "sum(foo)"),
    ('sum by() (task:errors:rate10s{job="s"})', 'sum(\n  task:errors:rate10s{job="s"}\n)'),
    (
        'sum without(job,foo) (task:errors:rate10s{job="s"})',
        'sum without (job, foo) (\n  task:errors:rate10s{job="s"}\n)',
    ),
    ('topk(10, ask:errors:rate10s{job="s"})', 'topk(\n  10,\n  ask:errors:rate10s{job="s"}\n)'),
    ("a+b", "a + b"),
    ("aaaaa+bbbbb", "  aaaaa\n+\n  bbbbb"),
    ("a == bool 1", "  a\n== bool\n  1"),
    ("a + ignoring(job) b", "  a\n+ ignoring (job)\n  b"),
    (
        "a * on(x) group_left(y) bbb",
        "  a\n* on (x) group_left (y)\n  bbb",
    ),
    ("aaaa + bbbb + cccc", "    aaaa\n  +\n    bbbb\n+\n  cccc"),
    ("rate(foo[1m])", "rate(\n  foo[1m]\n)"),
    (
        'label_replace(up, "a", "b", "c", "d")',
        'label_replace(\n  up,\n  "a",\n  "b",\n  "c",\n  "d"\n)',
    ),
    ("(aaaa + bbbb)", "(\n    aaaa\n  +\n    bbbb\n)"),
    ("rate(foo[2m])[10m:1m]", "rate(\n  foo[2m]\n)[10m:1m]"),
    ("-a", "-a"),
    ("-(aaaa + bbbb)", "-(\n    aaaa\n  +\n    bbbb\n)"),
    ('very_long_metric_name{a="b"}', 'very_long_metric_name{a="b"}'),
    ("sum(rate(foo[1m]))", "sum(\n  rate(\n    foo[1m]\n  )\n)"),
]


@pytest.mark.parametrize(("text", "expected"), NARROW)
def test_layout_rules(text: str, expected: str) -> None:
    assert prettify(parse_expr(text), max_chars=10) == expected


def test_short_queries_stay_on_one_line_at_the_default_width() -> None:
    text = 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))'
    assert prettify(parse_expr(text)) == text


def test_long_query_at_the_default_width_parses_back_to_the_same_tree() -> None:
    text = (
        'sum by (namespace, service) (rate(http_requests_total{code=~"5..", job="api"}[5m])) '
        "/ on (namespace, service) "
        'sum by (namespace, service) (rate(http_requests_total{job="api"}[5m]))'
    )
    pretty = prettify(parse_expr(text))
    assert pretty == (
        '  sum by (namespace, service) (rate(http_requests_total{code=~"5..",job="api"}[5m]))\n'
        "/ on (namespace, service)\n"
        '  sum by (namespace, service) (rate(http_requests_total{job="api"}[5m]))'
    )
    assert parse_expr(pretty) == parse_expr(text)


def test_format_query_endpoint_uses_the_layout(tmp_path: Path) -> None:
    text = (
        "sum(rate(a_rather_long_metric_name_total[5m])) + "
        "sum(rate(another_rather_long_metric_name_total[5m]))"
    )
    with running_api(tmp_path) as api:
        r = api.get("/api/v1/format_query", query=text)
        assert r.status == 200
        assert json.loads(r.body)["data"] == (
            "  sum(rate(a_rather_long_metric_name_total[5m]))\n"
            "+\n"
            "  sum(rate(another_rather_long_metric_name_total[5m]))"
        )
        r = api.get("/api/v1/format_query", query="foo{b='1',a='2'}")
        assert json.loads(r.body)["data"] == 'foo{a="2",b="1"}'
