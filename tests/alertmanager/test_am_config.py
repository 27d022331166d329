"""alertmanager.yml: upstream's validation messages with file:line, defaults, render."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from promethean.alertmanager.config import (
    AlertmanagerConfig,
    load_alertmanager_config,
    parse_alertmanager_config,
)
from promethean.config import ConfigError

# Each case: a config and the reason amtool 0.25 check-config gives for it (observed).
_CASES: dict[str, tuple[str, str]] = {
    "undefined_receiver": (
        "route:\n  receiver: r\n  routes:\n    - receiver: nope\nreceivers: [{name: r}]\n",
        'undefined receiver "nope" used in route',
    ),
    "duplicate_receiver": (
        "route: {receiver: r}\nreceivers: [{name: r}, {name: r}]\n",
        'notification config name "r" is not unique',
    ),
    "missing_root_receiver": (
        "route: {group_by: [a]}\nreceivers: [{name: r}]\n",
        "root route must specify a default receiver",
    ),
    "root_matchers": (
        "route: {receiver: r, matchers: ['a=b']}\nreceivers: [{name: r}]\n",
        "root route must not have any matchers",
    ),
    "root_match": (
        "route: {receiver: r, match: {a: b}}\nreceivers: [{name: r}]\n",
        "root route must not have any matchers",
    ),
    "root_mute": (
        "route: {receiver: r, mute_time_intervals: [x]}\nreceivers: [{name: r}]\n"
        "time_intervals: [{name: x}]\n",
        "root route must not have any mute time intervals",
    ),
    "root_active": (
        "route: {receiver: r, active_time_intervals: [x]}\nreceivers: [{name: r}]\n"
        "time_intervals: [{name: x}]\n",
        "root route must not have any active time intervals",
    ),
    "root_continue": (
        "route: {receiver: r, continue: true}\nreceivers: [{name: r}]\n",
        "cannot have continue in root route",
    ),
    "group_by_dup": (
        "route:\n  receiver: r\n  group_by: [a, b, a]\nreceivers: [{name: r}]\n",
        'duplicated label "a" in group_by',
    ),
    "group_by_all_and_labels": (
        "route:\n  receiver: r\n  group_by: ['...', a]\nreceivers: [{name: r}]\n",
        "cannot have wildcard group_by (`...`) and other other labels at the same time",
    ),
    "group_by_bad_name": (
        "route:\n  receiver: r\n  group_by: ['bad-name']\nreceivers: [{name: r}]\n",
        'invalid label name "bad-name" in group_by list',
    ),
    "group_interval_zero": (
        "route:\n  receiver: r\n  routes: [{group_interval: 0s}]\nreceivers: [{name: r}]\n",
        "group_interval cannot be zero",
    ),
    "repeat_interval_zero": (
        "route:\n  receiver: r\n  repeat_interval: 0s\nreceivers: [{name: r}]\n",
        "repeat_interval cannot be zero",
    ),
    "bad_duration": (
        "route:\n  receiver: r\n  group_wait: 1x\nreceivers: [{name: r}]\n",
        'not a valid duration string: "1x"',
    ),
    "undefined_time_interval": (
        "route:\n  receiver: r\n  routes: [{active_time_intervals: [nope]}]\n"
        "receivers: [{name: r}]\n",
        'undefined time interval "nope" used in route',
    ),
    "duplicate_time_interval": (
        "route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{name: x}, {name: x}]\n",
        'time interval "x" is not unique',
    ),
    "duplicate_mute_and_time_interval": (
        "route: {receiver: r}\nreceivers: [{name: r}]\nmute_time_intervals: [{name: x}]\n"
        "time_intervals: [{name: x}]\n",
        'time interval "x" is not unique',
    ),
    "time_interval_no_name": (
        "route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{time_intervals: []}]\n",
        "missing name in time interval",
    ),
    "mute_time_interval_no_name": (
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        "mute_time_intervals: [{time_intervals: []}]\n",
        "missing name in mute time interval",
    ),
    "match_bad_label": (
        "route:\n  receiver: r\n  routes: [{match: {'bad-name': x}}]\nreceivers: [{name: r}]\n",
        'invalid label name "bad-name"',
    ),
    "match_re_bad_regex": (
        "route:\n  receiver: r\n  routes: [{match_re: {a: '('}}]\nreceivers: [{name: r}]\n",
        "error parsing regexp: missing closing ): `^(?:()$`",
    ),
    "inhibit_bad_equal": (
        "route: {receiver: r}\nreceivers: [{name: r}]\ninhibit_rules: [{equal: ['bad-name']}]\n",
        '"bad-name" is not a valid label name',
    ),
    "inhibit_bad_source_matchers": (
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        "inhibit_rules: [{source_matchers: ['a=~\"[\"']}]\n",
        "error parsing regexp: missing closing ]: `[)$`",
    ),
    "inhibit_bad_target_match_re": (
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        "inhibit_rules: [{target_match_re: {a: '*'}}]\n",
        "error parsing regexp: missing argument to repetition operator: `*`",
    ),
    "global_smarthost": (
        "global: {smtp_smarthost: nohost}\nroute: {receiver: r}\nreceivers: [{name: r}]\n",
        "address nohost: missing port in address",
    ),
    "global_slack_scheme": (
        "global: {slack_api_url: 'ftp://x/y'}\nroute: {receiver: r}\nreceivers: [{name: r}]\n",
        'unsupported scheme "ftp" for URL',
    ),
    "global_resolve_timeout": (
        "global: {resolve_timeout: soon}\nroute: {receiver: r}\nreceivers: [{name: r}]\n",
        'not a valid duration string: "soon"',
    ),
    "global_opsgenie_key_twice": (
        "global: {opsgenie_api_key: a, opsgenie_api_key_file: /b}\nroute: {receiver: r}\n"
        "receivers: [{name: r}]\n",
        "at most one of opsgenie_api_key & opsgenie_api_key_file must be configured",
    ),
    "receiver_no_name": (
        "route: {receiver: r}\nreceivers: [{name: r}, {webhook_configs: [{url: 'http://a/b'}]}]\n",
        "missing name in receiver",
    ),
    "basic_auth_and_bearer": (
        "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
        "      - url: 'http://a/b'\n"
        "        http_config: {basic_auth: {username: u, password: p}, bearer_token: t}\n",
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    ),
    "email_no_smarthost": (
        "route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a@b}]}]\n",
        "no global SMTP smarthost set",
    ),
    "slack_no_url": (
        "route: {receiver: r}\nreceivers: [{name: r, slack_configs: [{channel: x}]}]\n",
        "no global Slack API URL set either inline or in a file",
    ),
    "opsgenie_no_key": (
        "route: {receiver: r}\nreceivers: [{name: r, opsgenie_configs: [{}]}]\n",
        "no global OpsGenie API Key set either inline or in a file",
    ),
    "wechat_no_corp": (
        "global: {wechat_api_secret: s}\nroute: {receiver: r}\n"
        "receivers: [{name: r, wechat_configs: [{}]}]\n",
        "no global Wechat CorpID set",
    ),
    "no_route": (
        "receivers: [{name: r}]\n",
        "no routes provided",
    ),
    "webhook_ftp": (
        "route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'ftp://a/b'}]}]\n",
        'unsupported scheme "ftp" for URL',
    ),
    "webhook_no_url": (
        "route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{send_resolved: false}]}]\n",
        "missing URL in webhook config",
    ),
    "weekday_range_reversed": (
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        "time_intervals: [{name: x, time_intervals: [{weekdays: ['monday:sunday']}]}]\n",
        "start day cannot be before end day",
    ),
}


def _amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("amtool (Debian package prometheus-alertmanager) is required in CI")
        pytest.skip("amtool not installed (Debian prometheus-alertmanager); interop check skipped")
    return path


def _error(text: str, file: str = "am.yml") -> str:
    with pytest.raises(ConfigError) as info:
        parse_alertmanager_config(text, file)
    return str(info.value)


@pytest.mark.parametrize("name", sorted(_CASES))
def test_upstream_messages_with_location(name: str) -> None:
    text, reason = _CASES[name]
    message = _error(text)
    assert message.startswith("am.yml")
    assert message.endswith(reason)


def test_messages_agree_with_amtool(tmp_path: Path) -> None:
    amtool = _amtool()
    differ = []
    for name, (text, reason) in sorted(_CASES.items()):
        path = tmp_path / f"{name}.yml"
        path.write_text(text)
        out = subprocess.run([amtool, "check-config", str(path)], capture_output=True, text=True)
        theirs = out.stdout.split("FAILED: ", 1)[1].strip()
        if theirs != reason or not _error(text).endswith(theirs):
            differ.append((name, theirs))
    assert differ == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "route:\n  receiver: r\n  routes:\n    - receiver: nope\nreceivers: [{name: r}]\n",
            'am.yml:4:7: route.routes[0].receiver: undefined receiver "nope" used in route',
        ),
        (
            "route: {receiver: r}\nreceivers: [{name: r}]\nbogus_field: 1\n",
            "am.yml:3:1: bogus_field: unknown field",
        ),
        (
            "route:\n  receiver: r\n  group_by: [a, b, a]\nreceivers: [{name: r}]\n",
            'am.yml:3:3: route.group_by: duplicated label "a" in group_by',
        ),
        (
            "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
            "      - url: 'http://a/b'\n        sendresolved: true\n",
            "am.yml:6:9: receivers[0].webhook_configs[0].sendresolved: unknown field",
        ),
        ("", "am.yml: no route provided in config"),
        ("route: [\n", "am.yml:2:1: invalid YAML: expected the node content in flow context"),
    ],
)
def test_errors_name_file_line_and_field(text: str, expected: str) -> None:
    assert _error(text).startswith(expected.split(": invalid YAML")[0])
    if "invalid YAML" not in expected:
        assert _error(text) == expected


def test_secret_values_never_in_errors() -> None:
    text = (
        "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
        "      - url: 'ftp://user:TOKEN_SECRET_123@host/x'\n"
    )
    message = _error(text)
    assert message.endswith('unsupported scheme "ftp" for URL')
    assert "TOKEN_SECRET_123" not in message


# Minimal config with one integration of every kind 0.25 has, and what Alertmanager 0.25
# rendered for it in /api/v2/status (observed), minus the fields promethean masks in addition.
_ALL_KINDS = """
global:
  smtp_smarthost: 'localhost:25'
  smtp_from: 'a@b.c'
  slack_api_url: 'http://slack.example/x'
  opsgenie_api_key: 'ogkey'
  victorops_api_key: 'vokey'
  wechat_api_secret: 'wcsecret'
  wechat_api_corp_id: 'corp'
route:
  receiver: r
  routes:
    - matchers: ['a="b"', '{c=~"d|e", f!="g"}']
      receiver: r
      group_by: ['...']
    - match: {x: y}
      match_re: {z: 'w.*'}
      receiver: r
      mute_time_intervals: [ti]
time_intervals:
  - name: ti
    time_intervals:
      - times: [{start_time: '09:00', end_time: '17:00'}]
        weekdays: ['monday:friday']
        days_of_month: ['1:5', '-3:-1']
        months: ['january:march', 'may']
        years: ['2020:2030']
        location: 'Europe/Berlin'
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_match: {severity: warning}
    equal: [cluster]
receivers:
  - name: r
    webhook_configs: [{url: 'http://h/x'}]
    email_configs: [{to: 'x@y.z'}]
    slack_configs: [{channel: '#c'}]
    pagerduty_configs: [{routing_key: 'rk'}]
    opsgenie_configs: [{}]
    victorops_configs: [{routing_key: 'vrk'}]
    wechat_configs: [{}]
    pushover_configs: [{user_key: 'uk', token: 'tk'}]
    telegram_configs: [{bot_token: 'bt', chat_id: 1}]
    discord_configs: [{webhook_url: 'http://d/x'}]
    webex_configs: [{room_id: 'r', http_config: {authorization: {credentials: 'x'}}}]
    sns_configs: [{topic_arn: 'arn:aws:sns:us-east-1:123:x', sigv4: {region: us-east-1}}]
"""

_HTTP = {"follow_redirects": True, "enable_http2": True}


def test_render_matches_upstream_defaults() -> None:
    cfg = parse_alertmanager_config(_ALL_KINDS, "am.yml")
    out = yaml.safe_load(cfg.render())
    g = out["global"]
    assert g["resolve_timeout"] == "5m"
    assert g["http_config"] == _HTTP
    assert g["smtp_hello"] == "localhost" and g["smtp_require_tls"] is True
    assert g["pagerduty_url"] == "https://events.pagerduty.com/v2/enqueue"
    assert g["opsgenie_api_url"] == "https://api.opsgenie.com/"
    assert g["victorops_api_url"] == (
        "https://alert.victorops.com/integrations/generic/20131114/alert/"
    )
    assert g["telegram_api_url"] == "https://api.telegram.org"
    assert g["webex_api_url"] == "https://webexapis.com/v1/messages"
    for key in ("slack_api_url", "opsgenie_api_key", "victorops_api_key", "wechat_api_secret"):
        assert g[key] == "<secret>"
    routes = out["route"]["routes"]
    assert routes[0]["matchers"] == ['a="b"', 'c=~"d|e"', 'f!="g"']
    assert routes[0]["group_by"] == ["..."]
    assert routes[1]["match_re"] == {"z": "w.*"}
    ti = out["time_intervals"][0]["time_intervals"][0]
    assert ti["times"] == [{"start_time": "09:00", "end_time": "17:00"}]
    assert ti["weekdays"] == ["monday:friday"]
    assert ti["days_of_month"] == ["1:5", "-3:-1"]
    assert ti["months"] == ["1:3", "5"]
    assert ti["years"] == ["2020:2030"]
    assert ti["location"] == "Europe/Berlin"
    (r,) = out["receivers"]
    assert list(r) == [
        "name",
        "discord_configs",
        "email_configs",
        "pagerduty_configs",
        "slack_configs",
        "webhook_configs",
        "opsgenie_configs",
        "wechat_configs",
        "pushover_configs",
        "victorops_configs",
        "sns_configs",
        "telegram_configs",
        "webex_configs",
    ]
    assert r["email_configs"][0] == {
        "send_resolved": False,
        "to": "x@y.z",
        "from": "a@b.c",
        "hello": "localhost",
        "smarthost": "localhost:25",
        "headers": {
            "From": "a@b.c",
            "Subject": '{{ template "email.default.subject" . }}',
            "To": "x@y.z",
        },
        "html": '{{ template "email.default.html" . }}',
        "require_tls": True,
    }
    assert r["webhook_configs"][0] == {
        "send_resolved": True,
        "http_config": _HTTP,
        "url": "http://h/<secret>",  # upstream shows it in clear; it embeds tokens
        "max_alerts": 0,
    }
    pd = r["pagerduty_configs"][0]
    assert pd["routing_key"] == "<secret>" and pd["url"] == g["pagerduty_url"]
    assert pd["details"]["num_firing"] == "{{ .Alerts.Firing | len }}"
    assert pd["description"] == '{{ template "pagerduty.default.description" .}}'
    slack = r["slack_configs"][0]
    assert slack["send_resolved"] is False and slack["api_url"] == "<secret>"
    assert slack["color"] == '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    assert r["opsgenie_configs"][0]["api_key"] == "<secret>"
    assert r["wechat_configs"][0]["corp_id"] == "corp"
    assert r["wechat_configs"][0]["api_url"] == "https://qyapi.weixin.qq.com/cgi-bin/"
    push = r["pushover_configs"][0]
    assert (push["retry"], push["expire"], push["user_key"]) == ("1m0s", "1h0m0s", "<secret>")
    vo = r["victorops_configs"][0]
    assert vo["routing_key"] == "<secret>" and vo["message_type"] == "CRITICAL"
    tg = r["telegram_configs"][0]
    assert (tg["bot_token"], tg["chat_id"], tg["parse_mode"]) == ("<secret>", 1, "HTML")
    assert r["discord_configs"][0]["webhook_url"] == "<secret>"
    webex = r["webex_configs"][0]
    assert webex["http_config"]["authorization"] == {"type": "Bearer", "credentials": "<secret>"}
    assert r["sns_configs"][0]["subject"] == '{{ template "sns.default.subject" . }}'
    assert out["templates"] == []


_SECRETS = {
    "global.smtp_auth_password": "S_SMTP_PASSWORD_1",
    "global.smtp_auth_secret": "S_SMTP_SECRET_2",
    "global.smtp_auth_identity": "S_SMTP_IDENTITY_3",
    "global.slack_api_url": "http://h/S_SLACK_URL_4",
    "global.opsgenie_api_key": "S_OPSGENIE_5",
    "global.wechat_api_secret": "S_WECHAT_6",
    "global.victorops_api_key": "S_VICTOROPS_7",
    "webhook.url": "http://user:S_URL_PASS_8@h/x?token=S_URL_TOKEN_9",
    "http_config.basic_auth.password": "S_BASIC_10",
    "http_config.authorization.credentials": "S_BEARER_11",
    "pagerduty.routing_key": "S_ROUTING_12",
    "pagerduty.service_key": "S_SERVICE_13",
    "victorops.routing_key": "S_VO_ROUTING_14",
    "pushover.user_key": "S_PUSH_USER_15",
    "pushover.token": "S_PUSH_TOKEN_16",
    "telegram.bot_token": "S_TELEGRAM_17",
    "discord.webhook_url": "http://h/S_DISCORD_18",
    "msteams.webhook_url": "http://h/S_TEAMS_19",
    "email.auth_password": "S_EMAIL_PASS_20",
    "sns.sigv4.secret_key": "S_SIGV4_21",
    "oauth2.client_secret": "S_OAUTH_22",
}


def test_render_masks_every_secret() -> None:
    s = _SECRETS
    text = f"""
global:
  smtp_smarthost: 'localhost:25'
  smtp_from: 'a@b.c'
  smtp_auth_password: '{s["global.smtp_auth_password"]}'
  smtp_auth_secret: '{s["global.smtp_auth_secret"]}'
  smtp_auth_identity: '{s["global.smtp_auth_identity"]}'
  slack_api_url: '{s["global.slack_api_url"]}'
  opsgenie_api_key: '{s["global.opsgenie_api_key"]}'
  wechat_api_secret: '{s["global.wechat_api_secret"]}'
  wechat_api_corp_id: corp
  victorops_api_key: '{s["global.victorops_api_key"]}'
route: {{receiver: r}}
receivers:
  - name: r
    webhook_configs:
      - url: '{s["webhook.url"]}'
        http_config:
          basic_auth: {{username: u, password: '{s["http_config.basic_auth.password"]}'}}
      - url: 'http://h/y'
        http_config:
          authorization: {{credentials: '{s["http_config.authorization.credentials"]}'}}
      - url: 'http://h/z'
        http_config:
          oauth2: {{client_id: c, client_secret: '{s["oauth2.client_secret"]}', token_url: 'http://t/'}}
    pagerduty_configs:
      - routing_key: '{s["pagerduty.routing_key"]}'
      - service_key: '{s["pagerduty.service_key"]}'
    victorops_configs: [{{routing_key: '{s["victorops.routing_key"]}'}}]
    pushover_configs: [{{user_key: '{s["pushover.user_key"]}', token: '{s["pushover.token"]}'}}]
    telegram_configs: [{{bot_token: '{s["telegram.bot_token"]}', chat_id: 5}}]
    discord_configs: [{{webhook_url: '{s["discord.webhook_url"]}'}}]
    msteams_configs: [{{webhook_url: '{s["msteams.webhook_url"]}'}}]
    email_configs: [{{to: x@y.z, auth_password: '{s["email.auth_password"]}'}}]
    slack_configs: [{{channel: '#x'}}]
    opsgenie_configs: [{{}}]
    wechat_configs: [{{}}]
    sns_configs:
      - topic_arn: t
        sigv4: {{access_key: AK, secret_key: '{s["sns.sigv4.secret_key"]}'}}
"""
    cfg = parse_alertmanager_config(text, "am.yml")
    rendered = cfg.render() + repr(cfg) + str(cfg)
    markers = [m for v in s.values() for m in re.findall(r"S_[A-Z0-9_]+_\d+", v)]
    assert len(markers) == len(s) + 1
    assert [m for m in markers if m in rendered] == []
    # Inherited secrets are there for the notifiers, just never shown.
    email = cfg.receivers[0].email_configs[0]
    assert email.auth_identity is not None
    assert email.auth_identity.reveal() == "S_SMTP_IDENTITY_3"


def test_global_inheritance_and_explicit_values() -> None:
    cfg = parse_alertmanager_config(
        """
global:
  smtp_smarthost: 'mail:25'
  smtp_from: 'am@x'
  smtp_require_tls: false
  http_config: {basic_auth: {username: g, password: p}}
  opsgenie_api_url: 'https://og.example/api'
route: {receiver: r}
receivers:
  - name: r
    email_configs:
      - {to: a@x}
      - {to: b@x, smarthost: 'other:587', from: 'me@x', require_tls: true, headers: {subject: S}}
    webhook_configs:
      - {url: 'http://a/1'}
      - {url: 'http://a/2', http_config: {follow_redirects: false}}
    opsgenie_configs: [{api_key: k}]
""",
        "am.yml",
    )
    (r,) = cfg.receivers
    e1, e2 = r.email_configs
    assert (e1.smarthost, e1.from_, e1.require_tls) == ("mail:25", "am@x", False)
    assert (e2.smarthost, e2.from_, e2.require_tls) == ("other:587", "me@x", True)
    assert e2.headers == {"From": "me@x", "Subject": "S", "To": "b@x"}
    w1, w2 = r.webhook_configs
    assert w1.http_config is not None and w1.http_config.basic_auth is not None
    assert w1.http_config.basic_auth.username == "g"
    assert w2.http_config is not None and w2.http_config.basic_auth is None
    assert w2.http_config.follow_redirects is False
    assert r.opsgenie_configs[0].api_url == "https://og.example/api/"


def test_relative_paths_resolve_against_the_config_dir(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "am.yml").write_text(
        "route: {receiver: r}\n"
        "receivers: [{name: r, webhook_configs: [{url_file: secrets/hook}]}]\n"
        "templates: ['tmpl/*.tmpl', '/abs/*.tmpl']\n"
    )
    cfg = load_alertmanager_config(conf / "am.yml")
    assert cfg.templates == [str(conf / "tmpl/*.tmpl"), "/abs/*.tmpl"]
    assert cfg.receivers[0].webhook_configs[0].url_file == str(conf / "secrets/hook")


def test_unreadable_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_alertmanager_config(tmp_path / "missing.yml")
    assert str(info.value) == f"{tmp_path / 'missing.yml'}: cannot read config file: " + (
        "No such file or directory"
    )


def test_allowed_destinations() -> None:
    cfg = parse_alertmanager_config(
        "route: {receiver: r}\n"
        "receivers:\n"
        "  - name: r\n"
        "    allowed_destinations: ['.*@example\\.com', 'https://hooks\\.example\\.com/.*']\n"
        "  - name: open\n",
        "am.yml",
    )
    r, open_ = cfg.receivers
    assert r.destination_allowed("ops@example.com")
    assert r.destination_allowed("https://hooks.example.com/T1")
    assert not r.destination_allowed("attacker@evil.example")
    assert not r.destination_allowed("ops@example.com.evil.example")  # anchored
    assert open_.destination_allowed("anything@anywhere")
    message = _error("route: {receiver: r}\nreceivers: [{name: r, allowed_destinations: ['(']}]\n")
    assert message == (
        "am.yml:2:23: receivers[0].allowed_destinations: invalid allowed_destinations pattern: "
        "error parsing regexp: missing closing ): `^(?:()$`"
    )


def test_group_by_forms() -> None:
    cfg = parse_alertmanager_config(
        "route:\n  receiver: r\n  group_by: ['...']\n"
        "  routes: [{group_by: []}, {group_by: [a, b]}]\nreceivers: [{name: r}]\n"
    )
    assert cfg.route is not None
    assert cfg.route.group_by_all and cfg.route.group_by_names is None
    empty, named = cfg.route.routes
    assert not empty.group_by_all and empty.group_by_names is None
    assert named.group_by_names == ["a", "b"]


def test_empty_global_block_keeps_defaults() -> None:
    cfg = parse_alertmanager_config("global:\nroute: {receiver: r}\nreceivers: [{name: r}]\n")
    assert isinstance(cfg, AlertmanagerConfig)
    assert cfg.global_.resolve_timeout == 300.0


def test_rendered_config_is_read_back_by_amtool(tmp_path: Path) -> None:
    """What /api/v2/status shows must parse in amtool 0.25 (``amtool config routes`` does)."""
    from am_harness import amtool_or_skip

    amtool = amtool_or_skip()
    text = _ALL_KINDS.replace("url: 'http://h/x'", "url: 'https://u:TOKEN_9z@h:8443/x?k=TOKEN_9z'")
    rendered = parse_alertmanager_config(text, "am.yml").render()
    assert "url: https://h:8443/<secret>" in rendered and "TOKEN_9z" not in rendered
    path = tmp_path / "rendered.yml"
    path.write_text(rendered)
    done = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stdout + done.stderr
