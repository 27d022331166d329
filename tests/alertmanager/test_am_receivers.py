"""Receiver request shapes against real sinks on 127.0.0.1 (HTTP and SMTP), M2 and K1."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult
from am_notify_harness import Rig, Sink, run, webhook_config

from promethean.alertmanager.receivers.email import q_encode


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- webhook ------------------------------------------------------------------------------


def test_webhook_payload_version_4_exactly() -> None:
    async def main() -> None:
        sink = await Sink().start()
        cfg = webhook_config(sink.url).replace(
            "/hook'",
            "/hook'\n        http_config:\n"
            "          basic_auth: {username: hookuser, password: pw}",
        )
        rig = Rig(cfg).start()
        try:
            rig.post(
                {"alertname": "TestA", "severity": "warning", "cluster": "c1", "instance": "i1"},
                {"summary": "first"},
                starts_at=1700000000.25,
                generator_url="http://gen.example/graph",
            )
            req = (await sink.wait_for(1))[0]
            assert req.path == "/hook"
            assert req.headers["User-Agent"] == "Alertmanager/0.25.0"
            assert req.headers["Content-Type"] == "application/json"
            assert (
                req.headers["Authorization"] == "Basic " + base64.b64encode(b"hookuser:pw").decode()
            )
            body = req.json()
            assert list(body) == [
                "receiver",
                "status",
                "alerts",
                "groupLabels",
                "commonLabels",
                "commonAnnotations",
                "externalURL",
                "version",
                "groupKey",
                "truncatedAlerts",
            ]
            labels = {
                "alertname": "TestA",
                "cluster": "c1",
                "instance": "i1",
                "severity": "warning",
            }
            assert body == {
                "receiver": "hook",
                "status": "firing",
                "alerts": [
                    {
                        "status": "firing",
                        "labels": labels,
                        "annotations": {"summary": "first"},
                        "startsAt": "2023-11-14T22:13:20.25Z",
                        "endsAt": "0001-01-01T00:00:00Z",
                        "generatorURL": "http://gen.example/graph",
                        "fingerprint": body["alerts"][0]["fingerprint"],
                    }
                ],
                "groupLabels": {"alertname": "TestA"},
                "commonLabels": labels,
                "commonAnnotations": {"summary": "first"},
                "externalURL": "http://am.example:9093",
                "version": "4",
                "groupKey": '{}:{alertname="TestA"}',
                "truncatedAlerts": 0,
            }
            assert list(body["alerts"][0]) == [
                "status",
                "labels",
                "annotations",
                "startsAt",
                "endsAt",
                "generatorURL",
                "fingerprint",
            ]
            assert len(body["alerts"][0]["fingerprint"]) == 16
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_webhook_max_alerts_truncates_and_regex_quotes_receiver() -> None:
    async def main() -> None:
        sink = await Sink().start()
        cfg = (
            webhook_config(sink.url)
            .replace("/hook'", "/hook'\n        max_alerts: 1")
            .replace("receiver: hook", "receiver: sre.core")
            .replace("- name: hook", "- name: sre.core")
        )
        rig = Rig(cfg).start()
        try:
            for i in (1, 2, 3):
                rig.post({"alertname": "Many", "i": str(i)})
            body = (await sink.wait_for(1))[0].json()
            assert body["receiver"] == "sre\\.core"
            assert body["truncatedAlerts"] == 2
            assert len(body["alerts"]) == 1
            assert body["commonLabels"] == {"alertname": "Many", "i": "1"}
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_webhook_url_userinfo_wins_over_authorization() -> None:
    async def main() -> None:
        sink = await Sink().start()
        url = sink.url.replace("http://", "http://urluser:urlpass@")
        cfg = webhook_config(url).replace(
            "/hook'",
            "/hook'\n        http_config:\n          authorization: {credentials: bearer-token}",
        )
        rig = Rig(cfg).start()
        try:
            rig.post({"alertname": "U"})
            req = (await sink.wait_for(1))[0]
            assert (
                req.headers["Authorization"]
                == "Basic " + base64.b64encode(b"urluser:urlpass").decode()
            )
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


# -- K1 -----------------------------------------------------------------------------------


def _all_log_text(records: list[logging.LogRecord]) -> str:
    parts = []
    for rec in records:
        parts.append(rec.getMessage())
        parts.append(json.dumps(getattr(rec, "fields", {}), default=str))
    return "\n".join(parts)


@pytest.mark.parametrize("failure", ["refused", "500"])
def test_failed_webhook_never_logs_url_secrets(
    failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        sink = await Sink(statuses=[500] * 50).start()
        port = _closed_port() if failure == "refused" else sink.port
        url = f"http://hookuser:K1PASSWORDMARK@127.0.0.1:{port}/hook/K1PATHMARK?token=K1TOKENMARK"
        cfg = webhook_config(url, group_interval="1s").replace(
            f"url: '{url}/hook'", f"url: '{url}'"
        )
        rig = Rig(cfg).start()
        try:
            rig.post({"alertname": "Leak"})
            for _ in range(100):
                if any("Notify attempt failed" in r.getMessage() for r in caplog.records):
                    break
                await asyncio.sleep(0.05)
            assert rig.cfg.render().count("K1") == 0
        finally:
            await rig.stop()
            await sink.stop()

    caplog.set_level(logging.DEBUG, logger="promethean")
    run(main)
    text = _all_log_text(caplog.records)
    assert "Notify attempt failed" in text
    assert "127.0.0.1" in text  # the destination is named, secret-free
    for mark in ("K1PASSWORDMARK", "K1PATHMARK", "K1TOKENMARK", "hookuser:"):
        assert mark not in text


# -- email (SMTP sink) --------------------------------------------------------------------


@dataclass
class Mailbox:
    messages: list[dict[str, Any]] = field(default_factory=list)
    auth: list[tuple[str, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            {
                "from": envelope.mail_from,
                "rcpt": list(envelope.rcpt_tos),
                "data": envelope.content.decode("utf-8", "replace"),
            }
        )
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.auth.append((mechanism, bytes(data.password) if data.password else b""))
        return AuthResult(success=True)


async def _smtp_sink(box: Mailbox, auth: bool = False) -> tuple[asyncio.Server, int]:
    loop = asyncio.get_running_loop()

    def factory() -> SMTP:
        if auth:
            return SMTP(box, authenticator=box.authenticate, auth_require_tls=False)
        return SMTP(box)

    server = await loop.create_server(factory, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _email_config(port: int, allowed: str = "", extra: str = "") -> str:
    return f"""
global:
  smtp_smarthost: '127.0.0.1:{port}'
  smtp_from: 'am@example.test'
  smtp_require_tls: false
route:
  receiver: mail
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 500ms
receivers:
  - name: mail
{allowed}
    email_configs:
      - to: '{{{{ .CommonLabels.email }}}}'
        headers: {{Subject: 'AM {{{{ .Status }}}} {{{{ .CommonLabels.alertname }}}}'}}
{extra}
"""


def _wait_until(pred: Any, timeout: float = 10.0) -> Any:
    async def waiter() -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if time.monotonic() > deadline:
                raise AssertionError("condition not met in time")
            await asyncio.sleep(0.05)

    return waiter()


def test_email_alert_chooses_destination_without_guard() -> None:
    box = Mailbox()

    async def main() -> None:
        server, port = await _smtp_sink(box)
        rig = Rig(_email_config(port)).start()
        try:
            rig.post(
                {
                    "alertname": "MailMe",
                    "email": "attacker@evil.example, second@evil.example",
                }
            )
            await _wait_until(lambda: box.messages)
        finally:
            await rig.stop()
            server.close()

    run(main)
    msg = box.messages[0]
    assert msg["from"] == "am@example.test"
    assert msg["rcpt"] == ["attacker@evil.example", "second@evil.example"]
    assert "Subject: AM firing MailMe\r\n" in msg["data"]
    assert "To: attacker@evil.example, second@evil.example\r\n" in msg["data"]
    assert "From: am@example.test\r\n" in msg["data"]
    assert "Content-Type: multipart/alternative;" in msg["data"]
    assert "Content-Type: text/html; charset=UTF-8" in msg["data"]


def test_email_allowed_destinations_refuses_label_chosen_address(
    caplog: pytest.LogCaptureFixture,
) -> None:
    box = Mailbox()

    async def main() -> None:
        server, port = await _smtp_sink(box)
        allowed = "    allowed_destinations: ['.*@example\\.com']"
        rig = Rig(_email_config(port, allowed)).start()
        try:
            rig.post({"alertname": "Evil", "email": "attacker@evil.example"})
            rig.post({"alertname": "Good", "email": "oncall@example.com"})
            await _wait_until(lambda: box.messages)
            await _wait_until(
                lambda: any("destination not allowed" in r.getMessage() for r in caplog.records)
            )
        finally:
            await rig.stop()
            server.close()

    caplog.set_level(logging.INFO, logger="promethean")
    run(main)
    assert [m["rcpt"] for m in box.messages] == [["oncall@example.com"]]
    refused = [r for r in caplog.records if "destination not allowed" in r.getMessage()]
    assert refused[0].fields["destination"] == "attacker@evil.example"  # type: ignore[attr-defined]
    assert refused[0].fields["receiver"] == "mail"  # type: ignore[attr-defined]


def test_email_plain_auth_and_header_injection_is_q_encoded() -> None:
    box = Mailbox()

    async def main() -> None:
        server, port = await _smtp_sink(box, auth=True)
        cfg = _email_config(port).replace(
            "  smtp_require_tls: false",
            "  smtp_require_tls: false\n  smtp_auth_username: u\n"
            "  smtp_auth_password: SMTPPASSMARK\n  smtp_auth_identity: ident",
        )
        rig = Rig(cfg).start()
        try:
            rig.post({"alertname": "Inj\r\nBcc: hidden@evil.example", "email": "a@example.com"})
            await _wait_until(lambda: box.messages)
        finally:
            await rig.stop()
            server.close()

    run(main)
    assert box.auth == [("LOGIN", b"SMTPPASSMARK")]  # the first mechanism offered, as upstream
    data = box.messages[0]["data"]
    assert box.messages[0]["rcpt"] == ["a@example.com"]
    headers = data.split("\r\n\r\n", 1)[0]
    assert "\r\nBcc:" not in headers
    assert "Subject: =?utf-8?q?AM_firing_Inj=0D=0ABcc:_hidden@evil.example?=" in data


def test_q_encode_matches_go() -> None:
    assert q_encode("plain text") == "plain text"
    assert q_encode("a\r\nb") == "=?utf-8?q?a=0D=0Ab?="
    assert q_encode("ü=?_") == "=?utf-8?q?=C3=BC=3D=3F=5F?="


# -- other integrations: request shapes ---------------------------------------------------


def _receiver_config(receiver: str) -> str:
    return f"""
route:
  receiver: r
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 500ms
receivers:
  - name: r
{receiver}
"""


def _one_request(receiver: str, labels: dict[str, str] | None = None) -> Any:
    async def main() -> Any:
        sink = await Sink().start()
        rig = Rig(_receiver_config(receiver.replace("SINK", sink.url))).start()
        try:
            rig.post(labels or {"alertname": "Shape", "channel": "ops"}, {"summary": "s"})
            return (await sink.wait_for(1))[0]
        finally:
            await rig.stop()
            await sink.stop()

    return run(main)


def test_slack_request_shape() -> None:
    req = _one_request(
        """    slack_configs:
      - api_url: 'SINK/services/T/B/SLACKTOKEN'
        channel: '#{{ .CommonLabels.channel }}'
        http_config: {bearer_token: slacktoken}"""
    )
    assert req.path == "/services/T/B/SLACKTOKEN"
    assert req.headers["Authorization"] == "Bearer slacktoken"
    body = req.json()
    assert body["channel"] == "#ops"
    assert body["username"] == "Alertmanager"
    att = body["attachments"][0]
    assert att["title"] == "[FIRING:1] Shape (ops)"
    assert att["title_link"] == "http://am.example:9093/#/alerts?receiver=r"
    assert att["color"] == "danger"
    assert att["mrkdwn_in"] == ["fallback", "pretext", "text"]
    assert list(body) == ["channel", "username", "attachments"]


def test_pagerduty_v2_request_shape() -> None:
    req = _one_request(
        """    pagerduty_configs:
      - routing_key: PDKEY
        url: 'SINK/v2/enqueue'"""
    )
    body = req.json()
    assert req.path == "/v2/enqueue"
    assert body["routing_key"] == "PDKEY"
    assert body["event_action"] == "trigger"
    assert len(body["dedup_key"]) == 64
    assert body["payload"]["summary"] == "[FIRING:1] Shape (ops)"
    assert body["payload"]["severity"] == "error"
    assert body["payload"]["custom_details"]["num_firing"] == "1"
    assert body["client"] == "Alertmanager"


def test_opsgenie_msteams_discord_telegram_shapes() -> None:
    og = _one_request(
        """    opsgenie_configs:
      - api_key: OGKEY
        api_url: 'SINK/'
        tags: 'a, b'"""
    )
    assert og.path == "/v2/alerts"
    assert og.headers["Authorization"] == "GenieKey OGKEY"
    body = og.json()
    assert body["message"] == "[FIRING:1] Shape (ops)"
    assert body["tags"] == ["a", "b"]
    assert body["details"] == {"alertname": "Shape", "channel": "ops"}

    teams = _one_request(
        """    msteams_configs:
      - webhook_url: 'SINK/teams'"""
    ).json()
    assert teams["@context"] == "http://schema.org/extensions"
    assert teams["type"] == "MessageCard"
    assert teams["themeColor"] == "8C1A1A"

    discord = _one_request(
        """    discord_configs:
      - webhook_url: 'SINK/discord'"""
    ).json()
    assert discord["embeds"][0]["color"] == 0x992D22
    assert discord["embeds"][0]["title"] == "[FIRING:1] Shape (ops)"

    tg = _one_request(
        """    telegram_configs:
      - bot_token: TGTOKEN
        chat_id: 42
        api_url: 'SINK'"""
    )
    assert tg.path == "/botTGTOKEN/sendMessage"
    body = tg.json()
    assert body["chat_id"] == 42
    assert body["parse_mode"] == "HTML"


def test_email_starttls_with_ca_and_require_tls_refusal(tmp_path: Any) -> None:
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    box = Mailbox()
    plain_box = Mailbox()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        tls_server = await loop.create_server(
            lambda: SMTP(box, tls_context=server_ctx, require_starttls=True), "127.0.0.1", 0
        )
        plain_server, plain_port = await _smtp_sink(plain_box)
        port = tls_server.sockets[0].getsockname()[1]
        cfg = _email_config(port).replace(
            "  smtp_require_tls: false",
            f"  smtp_require_tls: true\n  smtp_tls_config: {{ca_file: '{ca_file}'}}",
        )
        rig = Rig(cfg).start()
        plain = Rig(_email_config(plain_port).replace("require_tls: false", "require_tls: true"))
        plain.start()
        try:
            rig.post({"alertname": "Secure", "email": "a@example.com"})
            plain.post({"alertname": "Plain", "email": "a@example.com"})
            await _wait_until(lambda: box.messages)
            await asyncio.sleep(0.5)
        finally:
            await rig.stop()
            await plain.stop()
            tls_server.close()
            plain_server.close()

    run(main)
    assert box.messages[0]["rcpt"] == ["a@example.com"]
    assert plain_box.messages == []  # the server offered no STARTTLS: refused, not sent in clear
