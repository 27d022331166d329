"""Rules-side functions and alert annotation expansion (Prometheus semantics)."""

from __future__ import annotations

import pytest

from promethean.template.prometheus_funcs import Sample, StringMap, expand_alert_text

HUMANIZE = [
    ("humanize", 1234567, "1.235M"),
    ("humanize", 0, "0"),
    ("humanize", 0.0012, "1.2m"),
    ("humanize", -1500, "-1.5k"),
    ("humanize", "2048", "2.048k"),
    ("humanize1024", 1048576, "1Mi"),
    ("humanize1024", 1, "1"),
    ("humanize1024", 1536, "1.5ki"),
    ("humanizeDuration", 3600, "1h 0m 0s"),
    ("humanizeDuration", 0, "0s"),
    ("humanizeDuration", 90061, "1d 1h 1m 1s"),
    ("humanizeDuration", -(86400 * 2 + 3600 * 3 + 60 * 4 + 5), "-2d 3h 4m 5s"),
    ("humanizeDuration", 59.5, "59.5s"),
    ("humanizeDuration", 0.25, "250ms"),
    ("humanizeDuration", 899.99, "14m 59s"),
    ("humanizePercentage", 0.1234567, "12.35%"),
    ("humanizeTimestamp", 1435065584.128, "2015-06-23 13:19:44.128 +0000 UTC"),
    ("humanizeTimestamp", 0, "1970-01-01 00:00:00 +0000 UTC"),
]


@pytest.mark.parametrize(
    ("fn", "arg", "expected"), HUMANIZE, ids=[f"{h[0]}-{h[1]}" for h in HUMANIZE]
)
def test_humanize_family(fn: str, arg: object, expected: str) -> None:
    out = expand_alert_text("{{ %s $value }}" % fn, rule_name="r", labels={}, value=arg)  # type: ignore[arg-type]  # noqa: UP031
    assert out == expected


def test_annotation_preamble_variables() -> None:
    out = expand_alert_text(
        "{{ $labels.instance }} of {{ $externalLabels.cluster }} at {{ $value }} "
        "[{{ $labels.missing }}] {{ $externalURL }}",
        rule_name="HighLoad",
        labels={"instance": "host:9100"},
        external_labels={"cluster": "eu1"},
        value=0.75,
        external_url="http://prom.example/prefix",
    )
    assert out == "host:9100 of eu1 at 0.75 [] http://prom.example/prefix"


def test_string_helpers() -> None:
    src = (
        '{{ stripPort "host.example:9100" }}|{{ stripPort "[::1]:80" }}|{{ stripPort "host" }}|'
        '{{ stripDomain "node1.example.com:9100" }}|{{ stripDomain "10.0.0.1:80" }}|'
        '{{ title "hello wORLD" }}|{{ graphLink "up{job=\\"a\\"}" }}|{{ tableLink "up" }}|'
        '{{ parseDuration "1h30m" }}|{{ pathPrefix }}|{{ externalURL }}|'
        '{{ (toTime 1700000000).Format "2006-01-02" }}|{{ (args 1 "x").arg1 }}'
    )
    out = expand_alert_text(
        src, rule_name="r", labels={}, value=0, external_url="http://p.example/pre"
    )
    assert out == (
        "host.example|::1|host|node1:9100|10.0.0.1:80|Hello WORLD|"
        "/graph?g0.expr=up%7Bjob%3D%22a%22%7D&g0.tab=0|/graph?g0.expr=up&g0.tab=1|"
        "5400|/pre|http://p.example/pre|2023-11-14|x"
    )


def test_query_callback_and_sample_functions() -> None:
    seen: list[str] = []

    def query(q: str) -> list[Sample]:
        seen.append(q)
        return [
            Sample(StringMap(instance="b", job="x"), 2.0),
            Sample(StringMap(instance="a", job="x"), 1.5),
        ]

    src = (
        '{{ range query "up" | sortByLabel "instance" }}{{ .Labels.instance }}={{ .Value }} '
        '{{ end }}|{{ with query "up" }}{{ . | first | label "instance" }} '
        "{{ . | first | value | humanize }}{{ end }}"
    )
    out = expand_alert_text(src, rule_name="r", labels={}, value=0, query=query)
    assert out == "a=1.5 b=2 |b 2"
    assert seen == ["up", "up"]


def test_errors_render_as_upstream() -> None:
    out = expand_alert_text(
        '{{ first (query "none") }}', rule_name="Empty", labels={}, value=0, query=lambda q: []
    )
    assert out == (
        "<error expanding template: error executing template __alert_Empty: template: "
        '__alert_Empty:1:115: executing "__alert_Empty" at <first (query "none")>: '
        "error calling first: first() called on vector with no elements>"
    )
    out = expand_alert_text("{{ if }}", rule_name="Bad", labels={}, value=0)
    assert out == (
        "<error expanding template: error parsing template __alert_Bad: "
        "template: __alert_Bad:1: missing value for if>"
    )
    out = expand_alert_text(
        "{{ if gt $value 10 }}x{{ end }}", rule_name="Cmp", labels={}, value=1.0
    )
    assert out.endswith("error calling gt: incompatible types for comparison>")
