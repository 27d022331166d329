"""K1 sweep: a unique marker in every secret field, and not one marker in any answer or log line.

The set of secret fields is found by walking the config models for ``Secret``
types, so a secret field added later fails this test until the configs below
plant a marker in it. The real ``promethean alertmanager`` runs with the
config; every API endpoint is called, every integration fails to deliver (all
point at a closed port on 127.0.0.1, directly or through a proxy), and broken
configs holding secrets are reloaded. Then every response body and the whole
log are searched.
"""

from __future__ import annotations

import time
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from am_harness import AM, free_port
from pydantic import BaseModel

from promethean.alertmanager.config import AlertmanagerConfig, parse_alertmanager_config
from promethean.config import Secret

MARK = "K1MARK"
# Every integration the server delivers to: each must log a failed attempt.
KINDS = (
    "webhook[0]",
    "webhook[1]",
    "email[0]",
    "slack[0]",
    "pagerduty[0]",
    "pagerduty[1]",
    "opsgenie[0]",
    "victorops[0]",
    "pushover[0]",
    "telegram[0]",
    "discord[0]",
    "msteams[0]",
    "webex[0]",
)


def _server_config(closed: int, files: Path) -> str:
    c = f"127.0.0.1:{closed}"
    (files / "url").write_text(f"http://{c}/hook/{MARK}_url_file\n")
    (files / "pw").write_text(f"{MARK}_password_file\n")
    return f"""
global:
  resolve_timeout: 5m
  smtp_smarthost: '{c}'
  smtp_from: am@example.test
  smtp_require_tls: false
  smtp_auth_username: u
  smtp_auth_password: '{MARK}_g_smtp_password'
  smtp_auth_secret: '{MARK}_g_smtp_secret'
  smtp_auth_identity: '{MARK}_g_smtp_identity'
  slack_api_url: 'http://{c}/slack/{MARK}_g_slack_url'
  opsgenie_api_key: '{MARK}_g_opsgenie_key'
  victorops_api_key: '{MARK}_g_victorops_key'
  wechat_api_secret: '{MARK}_g_wechat_secret'
  wechat_api_corp_id: corp
route:
  receiver: all
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
receivers:
  - name: all
    webhook_configs:
      - url: 'http://hu:{MARK}_userinfo@{c}/hook/{MARK}_path?token={MARK}_query'
        http_config:
          basic_auth: {{username: u, password: '{MARK}_basic_password'}}
          tls_config:
            cert: "-----BEGIN CERTIFICATE-----\\nAAAA\\n-----END CERTIFICATE-----\\n"
            key: '{MARK}_tls_key'
      - url_file: '{files / "url"}'
        http_config:
          authorization: {{credentials: '{MARK}_bearer'}}
          http_headers:
            X-Token: {{secrets: ['{MARK}_header_secret']}}
          proxy_url: 'http://pu:{MARK}_proxy_password@{c}'
          proxy_connect_header:
            Proxy-Authorization: ['{MARK}_proxy_connect_header']
    email_configs:
      - to: ops@example.test
        auth_username: u
        auth_password: '{MARK}_email_password'
        auth_secret: '{MARK}_email_secret'
        auth_identity: '{MARK}_email_identity'
    slack_configs:
      - channel: '#ops'
        http_config:
          oauth2:
            client_id: id
            client_secret: '{MARK}_oauth_client_secret'
            token_url: 'http://{c}/token'
            proxy_url: 'http://{c}'
            proxy_connect_header:
              Proxy-Authorization: ['{MARK}_oauth_proxy_header']
    pagerduty_configs:
      - routing_key: '{MARK}_pd_routing_key'
        url: 'http://{c}/pd'
      - service_key: '{MARK}_pd_service_key'
        url: 'http://{c}/pd1'
        http_config:
          basic_auth: {{username: u, password_file: '{files / "pw"}'}}
    opsgenie_configs:
      - api_key: '{MARK}_opsgenie_key'
        api_url: 'http://{c}/'
    victorops_configs:
      - api_key: '{MARK}_victorops_key'
        routing_key: '{MARK}_victorops_routing_key'
        api_url: 'http://{c}/vo/'
    pushover_configs:
      - user_key: '{MARK}_pushover_user_key'
        token: '{MARK}_pushover_token'
        http_config:
          proxy_url: 'http://{c}'
    telegram_configs:
      - bot_token: '{MARK}_telegram_token'
        chat_id: 1
        api_url: 'http://{c}'
    discord_configs:
      - webhook_url: 'http://{c}/discord/{MARK}_discord_url'
    msteams_configs:
      - webhook_url: 'http://{c}/teams/{MARK}_msteams_url'
    webex_configs:
      - room_id: room
        api_url: 'http://{c}/webex'
        http_config:
          authorization: {{credentials: '{MARK}_webex_token'}}
"""


def _unsupported_config(closed: int) -> str:
    """Refused by the server at load (SNS, WeChat); holds their secrets."""
    return f"""
route: {{receiver: aws}}
receivers:
  - name: aws
    sns_configs:
      - topic_arn: 'arn:aws:sns:us-east-1:123:x'
        sigv4: {{region: us-east-1, access_key: AK, secret_key: '{MARK}_sigv4_secret'}}
    wechat_configs:
      - api_secret: '{MARK}_wechat_secret'
        corp_id: corp
        api_url: 'http://127.0.0.1:{closed}/'
"""


def _broken_config(closed: int) -> str:
    """Invalid: a secret-bearing URL with a bad scheme, next to an unknown field."""
    return f"""
route: {{receiver: r}}
receivers:
  - name: r
    webhook_configs:
      - url: 'ftp://u:{MARK}_bad_scheme@127.0.0.1:{closed}/{MARK}_bad_path'
        http_config: {{basic_auth: {{password: '{MARK}_broken_password'}}}}
"""


# -- which fields are secret ------------------------------------------------------------


def _has_secret(tp: Any) -> bool:
    return tp is Secret or any(_has_secret(a) for a in typing.get_args(tp))


def _models(tp: Any) -> Iterator[type[BaseModel]]:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        yield tp
    for arg in typing.get_args(tp):
        yield from _models(arg)


def _secret_fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[tuple[str, str]]:
    if model in seen:
        return set()
    seen.add(model)
    out = set()
    for name, info in model.model_fields.items():
        if _has_secret(info.annotation):
            out.add((model.__name__, name))
        for sub in _models(info.annotation):
            out |= _secret_fields(sub, seen)
    return out


def _planted(value: Any, owner: str = "", field: str = "") -> set[tuple[str, str]]:
    """(model, field) of every Secret in a parsed config whose value holds the marker."""
    if isinstance(value, Secret):
        return {(owner, field)} if MARK in value.reveal() else set()
    if isinstance(value, BaseModel):
        out = set()
        for name in type(value).model_fields:
            out |= _planted(getattr(value, name), type(value).__name__, name)
        return out
    if isinstance(value, dict):
        return set().union(*(_planted(v, owner, field) for v in value.values()))
    if isinstance(value, list | tuple):
        return set().union(*(_planted(v, owner, field) for v in value))
    return set()


def test_sweep_configs_plant_a_marker_in_every_secret_field(tmp_path: Path) -> None:
    wanted = _secret_fields(AlertmanagerConfig, set())
    closed = free_port()
    served = parse_alertmanager_config(
        _server_config(closed, tmp_path), "am.yml", tmp_path, deliverable=True
    )
    unsupported = parse_alertmanager_config(_unsupported_config(closed), "aws.yml")
    planted = _planted(served) | _planted(unsupported)
    assert wanted - planted == set(), "plant a marker in these new secret fields"
    assert MARK not in served.render() and MARK not in unsupported.render()


# -- the running server ----------------------------------------------------------------


def test_no_secret_in_any_response_or_log_line(tmp_path: Path) -> None:
    closed = free_port()
    am = AM(tmp_path, _server_config(closed, tmp_path), "--log.level=debug").start()
    bodies: list[str] = []

    def call(method: str, path: str, body: Any = None, expect: int | None = 200) -> Any:
        resp = am.request(method, path, body)
        bodies.append(f"{method} {path} {resp.status} {resp.headers} {resp.text}")
        if expect is not None:
            assert resp.status == expect, resp
        return resp

    try:
        call("POST", "/api/v2/alerts", [{"labels": {"alertname": "Sweep", "sev": "x"}}])
        deadline = time.monotonic() + 30
        while not all(f"integration={k}" in am.log() for k in KINDS):
            assert time.monotonic() < deadline, [k for k in KINDS if k not in am.log()]
            time.sleep(0.2)
        sid = call(
            "POST",
            "/api/v2/silences",
            {
                "matchers": [{"name": "a", "value": "b", "isRegex": False}],
                "startsAt": "2030-01-01T00:00:00Z",
                "endsAt": "2030-01-02T00:00:00Z",
                "createdBy": "k1",
                "comment": "sweep",
            },
        ).json()["silenceID"]
        for path in (
            "/api/v2/status",
            "/api/v2/receivers",
            "/api/v2/alerts",
            "/api/v2/alerts/groups",
            "/api/v2/silences",
            f"/api/v2/silence/{sid}",
            "/-/healthy",
            "/-/ready",
            "/metrics",
        ):
            call("GET", path)
        call("DELETE", f"/api/v2/silence/{sid}")
        call("GET", "/api/v1/status", expect=None)
        call("POST", "/api/v2/alerts", [{"labels": {"x": "y"}, "endsAt": "nope"}], expect=None)
        status = call("GET", "/api/v2/status").json()
        assert "url: http://127.0.0.1:" in status["config"]["original"]

        for broken in (_unsupported_config(closed), _broken_config(closed)):
            am.config_path.write_text(broken)
            resp = call("POST", "/-/reload", expect=500)
            assert resp.text.startswith("failed to reload config: ")
        assert 'receiver "aws": SNS notifications are not supported' in bodies[-2]
        assert "unsupported scheme" in bodies[-1]
        call("GET", "/api/v2/status")  # the old config still runs
    finally:
        am.stop()

    log = am.log()
    assert "Notify attempt failed" in log
    leaks = [text for text in [*bodies, log] if MARK in text]
    assert leaks == []
