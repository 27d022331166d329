"""Alertmanager's data model, functions and default notification templates.

Expected texts are what the Go Alertmanager 0.25 (``amtool template render``)
produces for the same alert group.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from promethean.template import GoTime, TemplateError, TemplateParseError
from promethean.template.alertmanager_funcs import (
    KV,
    Alert,
    NotificationTemplates,
    build_data,
)


def _t(s: str) -> GoTime:
    return GoTime(dt.datetime.fromisoformat(s))


FIRING = Alert(
    "firing",
    KV(alertname="HighLatency", job="api", severity="critical", instance="a:9090"),
    KV(summary="Latency is high", description="p99 > 1s on a"),
    _t("2024-03-01T10:00:00+00:00"),
    GoTime.zero(),
    "http://prom:9090/graph?g0.expr=x",
    "aaa",
)
RESOLVED = Alert(
    "resolved",
    KV(alertname="HighLatency", job="api", severity="critical", instance="b:9090"),
    KV(summary="Latency is high"),
    _t("2024-03-01T09:00:00+00:00"),
    _t("2024-03-01T09:30:00.500000+00:00"),
    "http://prom:9090/graph?g0.expr=y",
    "bbb",
)

AM = NotificationTemplates("http://am.example:9093")
DATA = AM.data("team-x", {"alertname": "HighLatency", "job": "api"}, [FIRING, RESOLVED])

SECTIONS = (
    "\nAlerts Firing:\nLabels:\n - alertname = HighLatency\n - instance = a:9090\n"
    " - job = api\n - severity = critical\nAnnotations:\n - description = p99 > 1s on a\n"
    " - summary = Latency is high\nSource: http://prom:9090/graph?g0.expr=x\n\n\n"
    "\nAlerts Resolved:\nLabels:\n - alertname = HighLatency\n - instance = b:9090\n"
    " - job = api\n - severity = critical\nAnnotations:\n - summary = Latency is high\n"
    "Source: http://prom:9090/graph?g0.expr=y\n\n\n"
)
SUBJECT = "[FIRING:1] HighLatency api (critical)"
URL = "http://am.example:9093/#/alerts?receiver=team-x"

DEFAULTS = [
    ("__subject", SUBJECT),
    ("email.default.subject", SUBJECT),
    ("slack.default.title", SUBJECT),
    ("slack.default.username", "Alertmanager"),
    ("slack.default.fallback", f"{SUBJECT} | {URL}"),
    ("slack.default.titlelink", URL),
    ("slack.default.text", ""),
    ("pagerduty.default.description", SUBJECT),
    ("pagerduty.default.client", "Alertmanager"),
    ("pagerduty.default.clientURL", URL),
    ("opsgenie.default.message", SUBJECT),
    ("pushover.default.message", "Latency is high\n" + SECTIONS),
    ("telegram.default.message", "\n" + SECTIONS),
    ("discord.default.message", "\n" + SECTIONS),
    ("webex.default.message", "Latency is high\n" + SECTIONS),
    ("msteams.default.title", SUBJECT),
    ("jira.default.priority", "High"),
]


@pytest.mark.parametrize(("name", "expected"), DEFAULTS, ids=[d[0] for d in DEFAULTS])
def test_default_templates(name: str, expected: str) -> None:
    assert AM.execute_text_string('{{ template "%s" . }}' % name, DATA) == expected  # noqa: UP031


def test_opsgenie_description_uses_trim_markers() -> None:
    out = AM.execute_text_string('{{ template "opsgenie.default.description" . }}', DATA)
    assert out.startswith("Latency is high\nAlerts Firing:\nLabels:\n - alertname = HighLatency\n")
    assert "Source: http://prom:9090/graph?g0.expr=x\n\nAlerts Resolved:\n" in out
    assert out.endswith("Source: http://prom:9090/graph?g0.expr=y\n")


def test_receiver_is_regex_quoted_and_url_escaped() -> None:
    data = AM.data("team (x)", {}, [FIRING])
    assert data.Receiver == "team \\(x\\)"
    out = AM.execute_text_string('{{ template "__alertmanagerURL" . }}', data)
    assert out == "http://am.example:9093/#/alerts?receiver=team+%5C%28x%5C%29"


def test_resolved_subject_and_common_labels() -> None:
    data = build_data("r", {"alertname": "A"}, [RESOLVED])
    assert data.Status == "resolved"
    assert AM.execute_text_string('{{ template "__subject" . }}', data) == (
        "[RESOLVED] A (b:9090 api critical)"
    )


def test_kv_methods_and_alerts_methods() -> None:
    src = (
        '{{ .CommonLabels.SortedPairs.Names | join "," }}|'
        '{{ (.CommonLabels.Remove (stringSlice "job")).Values | join "," }}|'
        "{{ len .Alerts.Firing }}{{ len .Alerts.Resolved }}|{{ .CommonLabels.missing }}|"
        "{{ .GroupLabels }}|{{ (index .Alerts 0).Labels.SortedPairs }}"
    )
    assert AM.execute_text_string(src, DATA) == (
        "alertname,job,severity|HighLatency,critical|11||map[alertname:HighLatency job:api]|"
        "[{alertname HighLatency} {instance a:9090} {job api} {severity critical}]"
    )


def test_times_print_and_format_like_go() -> None:
    src = (
        "{{ (index .Alerts 1).EndsAt }}|{{ (index .Alerts 0).EndsAt.IsZero }}|"
        '{{ (index .Alerts 0).StartsAt.Format "Mon Jan _2 15:04:05 MST 2006 .000 pm" }}|'
        "{{ (index .Alerts 1).EndsAt.Sub (index .Alerts 1).StartsAt }}|"
        '{{ date "2006-01-02T15:04:05Z07:00" ((index .Alerts 0).StartsAt | tz "Europe/Berlin") }}'
    )
    assert AM.execute_text_string(src, DATA) == (
        "2024-03-01 09:30:00.5 +0000 UTC|true|Fri Mar  1 10:00:00 UTC 2024 .000 am|30m0.5s|"
        "2024-03-01T11:00:00+01:00"
    )


FUNCS = [
    (
        "{{ title \"hELLO wORLD it's 1st-rate o'neil x_y a.b\" }}",
        "Hello World It's 1St-Rate O'neil X_y A.b",
    ),
    ('{{ toUpper "é" }}|{{ toLower "ABC" }}|{{ trimSpace "  x \\n" }}', "É|abc|x"),
    ('{{ reReplaceAll "a*" "X" "baaac" }}', "XbXcX"),
    (
        '{{ reReplaceAll "(?P<n>a)(b)?" "[$1|${2}|$n|$1x|$$|$]" "zab a" }}',
        "z[a|b|a||$|$] [a||a||$|$]",
    ),
    ('{{ match "^a" "xa" }} {{ match "a" "xa" }}', "false true"),
    ('{{ urlUnescape "a+b%41" }}', "a bA"),
    ("{{ humanizeDuration 3600 }}|{{ humanizeDuration 0.0012 }}", "1h 0m 0s|1.2ms"),
    (
        '{{ toJson (stringSlice "a" "b") }}|{{ toJson .CommonLabels }}',
        '["a","b"]|{"alertname":"HighLatency","job":"api","severity":"critical"}',
    ),
    ('{{ safeHtml "<b>" }}', "<b>"),
]


@pytest.mark.parametrize(("src", "expected"), FUNCS, ids=[f[0][:40] for f in FUNCS])
def test_functions(src: str, expected: str) -> None:
    assert AM.execute_text_string(src, DATA) == expected


@pytest.mark.parametrize(
    ("src", "message"),
    [
        (
            '{{ reReplaceAll "a(" "x" "y" }}',
            'template: :1:3: executing "" at <reReplaceAll "a(" "x" "y">: error calling '
            "reReplaceAll: regexp: Compile(`a(`): error parsing regexp: missing closing ): `a(`",
        ),
        (
            '{{ match "[z-a]" "x" }}',
            'template: :1:3: executing "" at <match "[z-a]" "x">: error calling match: '
            "error parsing regexp: invalid character class range: `z-a`",
        ),
        (
            '{{ join "," .Alerts }}',
            'template: :1:12: executing "" at <.Alerts>: wrong type for value; '
            "expected []string; got template.Alerts",
        ),
        (
            "{{ .Nope.X }}",
            'template: :1:8: executing "" at <.Nope.X>: can\'t evaluate field Nope in type template.Data',  # noqa: E501
        ),
        ("{{ toUpper 5 }}", 'template: :1:11: executing "" at <5>: expected string; found 5'),
        (
            "{{ 5 | toUpper }}",
            'template: :1:7: executing "" at <toUpper>: wrong type for value; expected string; got int',  # noqa: E501
        ),
        (
            '{{ tz "Nope/Zone" (index .Alerts 0).StartsAt }}',
            'template: :1:3: executing "" at <tz "Nope/Zone" (index .Alerts 0).StartsAt>: error calling tz: unknown time zone Nope/Zone',  # noqa: E501
        ),
    ],
)
def test_function_errors(src: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        AM.execute_text_string(src, DATA)
    assert str(info.value) == message


def test_html_flavour_escapes_values_but_not_safe_html() -> None:
    data = AM.data("r", {}, [Alert("firing", KV(alertname="<b>x</b>"), KV())])
    out = AM.execute_html_string('{{ .CommonLabels.alertname }}|{{ safeHtml "<i>" }}', data)
    assert out == "&lt;b&gt;x&lt;/b&gt;|<i>"
    page = AM.execute_html_string('{{ template "email.default.html" . }}', DATA)
    assert "<title>[FIRING:1] HighLatency api (critical)</title>" in page
    assert "[1] Firing" in page and "[1] Resolved" in page
    assert "p99 &gt; 1s on a" in page


def test_user_files_override_defaults_and_errors_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "a.tmpl").write_text('{{ define "__subject" }}custom {{ .Status }}{{ end }}')
    am = NotificationTemplates.from_globs([str(tmp_path / "*.tmpl"), str(tmp_path / "none/*")])
    assert am.execute_text_string('{{ template "slack.default.title" . }}', DATA) == "custom firing"
    (tmp_path / "t.tmpl").write_text('{{ define "x" }}{{ .A\n')
    with pytest.raises(TemplateParseError) as info:
        NotificationTemplates.from_globs([str(tmp_path / "t.tmpl")])
    assert str(info.value) == "template: t.tmpl:2: unclosed action started at t.tmpl:1"


def test_empty_text_renders_empty() -> None:
    assert AM.execute_text_string("", DATA) == ""
