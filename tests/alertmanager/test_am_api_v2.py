"""API v2 against a real ``promethean alertmanager``: codes and bodies as the reference sheet."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# The harness sits beside the tests (this folder is on sys.path); the package form is
# the fallback should the folder become a package.
try:
    from am_harness import AM
except ImportError:
    from tests.alertmanager.am_harness import AM  # type: ignore[no-redef]

CONFIG = """
global:
  smtp_smarthost: 127.0.0.1:2525
  smtp_from: am@example.test
  smtp_auth_password: SMTP_PASSWORD_SECRET
  smtp_auth_identity: SMTP_IDENTITY_SECRET
  slack_api_url: http://127.0.0.1:9/slack/SLACK_URL_SECRET
route:
  receiver: webhook
  group_by: [alertname]
  routes:
    - matchers: [team="email"]
      receiver: email
    - matchers: [team="both"]
      receiver: webhook
      continue: true
    - matchers: [team="both"]
      receiver: email
receivers:
  - name: webhook
    webhook_configs:
      - url: http://urluser:URL_USERINFO_SECRET@127.0.0.1:9/hook?token=URL_TOKEN_SECRET
        http_config:
          basic_auth: {username: hookuser, password: BASIC_PASSWORD_SECRET}
  - name: email
    email_configs:
      - to: ops@example.test
  - name: pager
    pagerduty_configs:
      - routing_key: PD_ROUTING_KEY_SECRET
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
"""

SECRETS = [
    "SMTP_PASSWORD_SECRET",
    "SMTP_IDENTITY_SECRET",
    "SLACK_URL_SECRET",
    "URL_USERINFO_SECRET",
    "URL_TOKEN_SECRET",
    "BASIC_PASSWORD_SECRET",
    "PD_ROUTING_KEY_SECRET",
]


def iso(delta: float = 0.0) -> str:
    t = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture(scope="module")
def am(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AM]:
    server = AM(tmp_path_factory.mktemp("am-api"), CONFIG).start()
    yield server
    server.stop()


def post_alerts(am: AM, *alerts: dict[str, Any]) -> None:
    resp = am.post("/api/v2/alerts", list(alerts))
    assert resp.status == 200, resp


def names(items: list[dict[str, Any]]) -> list[str]:
    return sorted(f"{a['labels']['alertname']}/{a['labels'].get('cluster', '')}" for a in items)


# -- POST /api/v2/alerts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "expected"),
    [
        (b"[]", 200, b""),
        (
            b'[{"annotations":{"a":"b"}}]',
            422,
            {"code": 602, "message": "0.labels in body is required"},
        ),
        (b'[{"labels":{}}]', 400, "at least one label pair required"),
        (
            b'[{"labels":{"a":"b"},"startsAt":"2026-01-01T05:00:00Z","endsAt":"2026-01-01T04:00:00Z"}]',
            400,
            "start time must be before end time",
        ),
        (
            b'[{"labels":',
            400,
            {"code": 400, "message": 'parsing alerts body from "" failed, because unexpected EOF'},
        ),
        (
            b'{"labels":{"a":"b"}}',
            400,
            {
                "code": 400,
                "message": 'parsing alerts body from "" failed, because json: cannot unmarshal '
                "object into Go value of type models.PostableAlerts",
            },
        ),
        (b'[{"labels":{"bad-name":"x"}}]', 400, 'invalid label set: invalid name "bad-name"'),
        (
            b'[{"labels":{"a":1}}]',
            400,
            {
                "code": 400,
                "message": 'parsing alerts body from "" failed, because json: cannot unmarshal '
                "number into Go struct field Alert.labels of type string",
            },
        ),
        (
            b'[{"labels":{"a":"b"},"startsAt":"yesterday"}]',
            400,
            {
                "code": 400,
                "message": 'parsing alerts body from "" failed, because parsing time '
                '"yesterday" as "2006-01-02 15:04:05": cannot parse "yesterday" as "2006"',
            },
        ),
        (
            b'[{"labels":{"a":"b"},"generatorURL":"not a url"}]',
            422,
            {"code": 601, "message": '0.generatorURL in body must be of type uri: "not a url"'},
        ),
    ],
)
def test_post_alerts_validation(am: AM, body: bytes, status: int, expected: Any) -> None:
    resp = am.request(
        "POST", "/api/v2/alerts", raw=body, headers={"Content-Type": "application/json"}
    )
    assert resp.status == status
    if expected == b"":
        assert resp.body == b""
    else:
        assert resp.headers["Content-Type"] == "application/json"
        assert resp.json() == expected


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("text/plain", "text/plain"),
        (None, "application/octet-stream"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
    ],
)
def test_post_alerts_requires_json_content_type(
    am: AM, content_type: str | None, shown: str
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    resp = am.request(
        "POST", "/api/v2/alerts", raw=b'[{"labels":{"alertname":"Form"}}]', headers=headers
    )
    assert resp.status == 415
    assert resp.json() == {
        "code": 415,
        "message": f'unsupported media type "{shown}", only [application/json] are allowed',
    }
    listed = am.get('/api/v2/alerts?filter=alertname="Form"').json()
    assert listed == []


def test_partial_acceptance_and_empty_label_values(am: AM) -> None:
    resp = am.post(
        "/api/v2/alerts",
        [
            {"labels": {"alertname": "PartialOK", "foo": ""}},
            {"labels": {"alertname": "PartialBad"}, "startsAt": iso(60), "endsAt": iso(0)},
        ],
    )
    assert resp.status == 400
    assert resp.json() == "start time must be before end time"
    listed = am.get('/api/v2/alerts?filter=alertname=~"Partial.*"').json()
    assert [a["labels"] for a in listed] == [{"alertname": "PartialOK"}]


def test_alert_shape_and_resolve_timeout(am: AM) -> None:
    post_alerts(
        am,
        {
            "labels": {
                "alertname": "TestA",
                "severity": "warning",
                "cluster": "c1",
                "instance": "i1",
            },
            "annotations": {"summary": "first"},
            "generatorURL": "http://gen.example/graph",
        },
    )
    [alert] = am.get('/api/v2/alerts?filter=alertname="TestA"&filter=cluster="c1"').json()
    assert list(alert) == [
        "annotations",
        "endsAt",
        "fingerprint",
        "receivers",
        "startsAt",
        "status",
        "updatedAt",
        "generatorURL",
        "labels",
    ]
    assert alert["fingerprint"] == "cd6d4b519f25bab3"
    assert alert["receivers"] == [{"name": "webhook"}]
    assert alert["annotations"] == {"summary": "first"}
    assert alert["generatorURL"] == "http://gen.example/graph"
    starts = dt.datetime.fromisoformat(alert["startsAt"])
    ends = dt.datetime.fromisoformat(alert["endsAt"])
    assert ends - starts == dt.timedelta(minutes=5)
    assert alert["startsAt"].endswith("Z") and len(alert["startsAt"]) == 24


def test_filters_silenced_inhibited_active_receiver(am: AM) -> None:
    post_alerts(
        am,
        {"labels": {"alertname": "Crit", "severity": "critical", "cluster": "c1"}},
        {"labels": {"alertname": "FiltA", "severity": "warning", "cluster": "c1"}},
        {"labels": {"alertname": "FiltA", "severity": "warning", "cluster": "c2"}},
        {"labels": {"alertname": "FiltMixed", "team": "email"}},
    )
    sil = am.post(
        "/api/v2/silences",
        {
            "matchers": [
                {"name": "alertname", "value": "FiltMixed", "isRegex": False, "isEqual": True}
            ],
            "startsAt": iso(-60),
            "endsAt": iso(3600),
            "createdBy": "alice",
            "comment": "test silence",
        },
    ).json()["silenceID"]
    q = '/api/v2/alerts?filter=alertname=~"Crit|FiltA|FiltMixed"&filter=severity!="info"'
    everything = am.get(q).json()
    by_name = {(a["labels"]["alertname"], a["labels"].get("cluster", "")): a for a in everything}
    assert by_name[("FiltA", "c1")]["status"] == {
        "inhibitedBy": ["587b712127851cd2"],
        "silencedBy": [],
        "state": "suppressed",
    }
    assert by_name[("FiltA", "c2")]["status"]["state"] == "active"
    assert by_name[("FiltMixed", "")]["status"] == {
        "inhibitedBy": [],
        "silencedBy": [sil],
        "state": "suppressed",
    }
    assert by_name[("FiltMixed", "")]["receivers"] == [{"name": "email"}]
    assert names(am.get(q + "&silenced=false").json()) == ["Crit/c1", "FiltA/c1", "FiltA/c2"]
    assert names(am.get(q + "&inhibited=false").json()) == ["Crit/c1", "FiltA/c2", "FiltMixed/"]
    assert names(am.get(q + "&active=false").json()) == ["FiltA/c1", "FiltMixed/"]
    assert names(am.get(q + "&receiver=email").json()) == ["FiltMixed/"]
    assert names(am.get(q + "&receiver=web.*").json()) == ["Crit/c1", "FiltA/c1", "FiltA/c2"]
    assert am.get(q + "&receiver=web").json() == []
    assert names(am.get('/api/v2/alerts?filter=alertname=FiltA&filter=cluster!="c1"').json()) == [
        "FiltA/c2"
    ]
    # sorted by fingerprint
    fps = [a["fingerprint"] for a in everything]
    assert fps == sorted(fps)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            'filter={alertname="TestA",cluster="c2"}',
            'bad matcher format: {alertname="TestA",cluster="c2"}',
        ),
        ("filter=bad-name=x", "bad matcher format: bad-name=x"),
        ('filter=alertname=~"("', "error parsing regexp: missing closing ): `^(?:()$`"),
    ],
)
def test_bad_filters(am: AM, query: str, message: str) -> None:
    from urllib.parse import quote

    name, _, value = query.partition("=")
    resp = am.get(f"/api/v2/alerts?{name}={quote(value)}")
    assert resp.status == 400
    assert resp.json() == message


def test_alert_groups(am: AM) -> None:
    post_alerts(
        am,
        {"labels": {"alertname": "G1", "team": "both", "i": "1", "instance": "b"}},
        {"labels": {"alertname": "G1", "team": "both", "i": "2", "instance": "a"}},
        {"labels": {"alertname": "G1", "team": "both", "i": "3"}},
        {"labels": {"alertname": "G2"}},
    )
    groups = am.get('/api/v2/alerts/groups?filter=alertname=~"G1|G2"').json()
    summary = [
        (g["labels"], g["receiver"]["name"], [a["labels"].get("i", "") for a in g["alerts"]])
        for g in groups
    ]
    # The dispatcher's aggregation groups in upstream's order: group labels, then
    # receiver; alerts by instance (absent last), then labels.
    assert summary == [
        ({"alertname": "G1"}, "email", ["2", "1", "3"]),
        ({"alertname": "G1"}, "webhook", ["2", "1", "3"]),
        ({"alertname": "G2"}, "webhook", [""]),
    ]
    # an alert in two groups (continue: true) lists both receivers, sorted as upstream
    assert groups[0]["alerts"][0]["receivers"] == [{"name": "email"}, {"name": "webhook"}]
    assert list(groups[0]) == ["alerts", "labels", "receiver"]
    only_email = am.get('/api/v2/alerts/groups?receiver=email&filter=alertname="G1"').json()
    assert [g["receiver"]["name"] for g in only_email] == ["email"]
    assert only_email[0]["alerts"][0]["receivers"] == [{"name": "email"}]


# -- silences ------------------------------------------------------------------------------


def silence(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "matchers": [{"name": "alertname", "value": "Sil", "isRegex": False, "isEqual": True}],
        "startsAt": iso(-60),
        "endsAt": iso(7200),
        "createdBy": "alice",
        "comment": "test silence",
    }
    body.update(over)
    return body


def test_silence_create_get_update_expire(am: AM) -> None:
    sid = am.post("/api/v2/silences", silence()).json()["silenceID"]
    got = am.get(f"/api/v2/silence/{sid}").json()
    assert list(got) == [
        "id",
        "status",
        "updatedAt",
        "comment",
        "createdBy",
        "endsAt",
        "matchers",
        "startsAt",
    ]
    assert got["status"] == {"state": "active"}
    assert got["matchers"] == [
        {"isEqual": True, "isRegex": False, "name": "alertname", "value": "Sil"}
    ]
    # a past startsAt is clamped to creation time
    assert got["startsAt"] == got["updatedAt"]
    # same startsAt: updated in place
    same = am.post(
        "/api/v2/silences",
        silence(id=sid, startsAt=got["startsAt"], comment="longer", createdBy="bob"),
    ).json()["silenceID"]
    assert same == sid
    assert am.get(f"/api/v2/silence/{sid}").json()["createdBy"] == "bob"
    # another startsAt: the old one expires, a new id is returned
    new = am.post("/api/v2/silences", silence(id=sid)).json()["silenceID"]
    assert new != sid
    assert am.get(f"/api/v2/silence/{sid}").json()["status"] == {"state": "expired"}
    # updating an expired silence gives a new id again
    newer = am.post("/api/v2/silences", silence(id=sid)).json()["silenceID"]
    assert newer not in (sid, new)
    # delete: 200 empty, then expired; again: still 200
    resp = am.request("DELETE", f"/api/v2/silence/{new}")
    assert (resp.status, resp.body) == (200, b"")
    assert am.get(f"/api/v2/silence/{new}").json()["status"] == {"state": "expired"}
    assert am.request("DELETE", f"/api/v2/silence/{new}").status == 200
    # filter
    listed = am.get('/api/v2/silences?filter=alertname="Sil"').json()
    assert {s["id"] for s in listed} == {sid, new, newer}
    assert [s["status"]["state"] for s in listed] == ["active", "expired", "expired"]


def test_pending_silence_expire(am: AM) -> None:
    sid = am.post("/api/v2/silences", silence(startsAt=iso(3600), endsAt=iso(7200))).json()[
        "silenceID"
    ]
    assert am.get(f"/api/v2/silence/{sid}").json()["status"] == {"state": "pending"}
    assert am.request("DELETE", f"/api/v2/silence/{sid}").status == 200
    got = am.get(f"/api/v2/silence/{sid}").json()
    assert got["status"] == {"state": "expired"}
    assert got["startsAt"] == got["endsAt"]


@pytest.mark.parametrize(
    ("over", "status", "expected"),
    [
        (
            {"startsAt": "2019-12-31T00:00:00Z", "endsAt": "2020-01-01T00:00:00Z"},
            400,
            "Failed to create silence: end time can't be in the past",
        ),
        (
            {"startsAt": "2099-01-02T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z"},
            400,
            "Failed to create silence: start time must be before end time",
        ),
        (
            {"matchers": []},
            422,
            {"code": 612, "message": "matchers in body should have at least 1 items"},
        ),
        (
            {"matchers": [{"name": "alertname", "value": "", "isRegex": False}]},
            400,
            "silence invalid: at least one matcher must not match the empty string",
        ),
        (
            {"matchers": [{"name": "alertname", "value": ".*", "isRegex": True}]},
            400,
            "silence invalid: at least one matcher must not match the empty string",
        ),
        (
            {"matchers": [{"name": "alertname", "value": "(", "isRegex": True}]},
            400,
            'silence invalid: invalid label matcher 0: invalid regular expression "(": '
            "error parsing regexp: missing closing ): `(`",
        ),
        (
            {"matchers": [{"name": "bad-name", "value": "x", "isRegex": False}]},
            400,
            'silence invalid: invalid label matcher 0: invalid label name "bad-name"',
        ),
        ({"comment": None}, 422, {"code": 602, "message": "comment in body is required"}),
        ({"createdBy": None}, 422, {"code": 602, "message": "createdBy in body is required"}),
        (
            {"matchers": [{"name": "alertname", "value": "x"}]},
            422,
            {"code": 602, "message": "matchers.0.isRegex in body is required"},
        ),
        ({"id": "00000000-0000-0000-0000-000000000000"}, 404, "silence not found"),
    ],
)
def test_silence_validation(am: AM, over: dict[str, Any], status: int, expected: Any) -> None:
    body = {k: v for k, v in silence(**over).items() if v is not None}
    resp = am.post("/api/v2/silences", body)
    assert resp.status == status
    assert resp.json() == expected


@pytest.mark.parametrize(
    "matcher",
    [
        {"name": "alertname", "value": ".+", "isRegex": True, "isEqual": True},
        {"name": "alertname", "value": "x", "isRegex": False, "isEqual": False},
    ],
)
def test_silence_everything_matchers_accepted(am: AM, matcher: dict[str, Any]) -> None:
    resp = am.post("/api/v2/silences", silence(matchers=[matcher], createdBy="", comment=""))
    assert resp.status == 200
    am.request("DELETE", f"/api/v2/silence/{resp.json()['silenceID']}")


def test_silence_bad_json_and_ids(am: AM) -> None:
    resp = am.request(
        "POST",
        "/api/v2/silences",
        raw=b'{"matchers":',
        headers={"Content-Type": "application/json"},
    )
    assert (resp.status, resp.json()) == (
        400,
        {"code": 400, "message": 'parsing silence body from "" failed, because unexpected EOF'},
    )
    for method in ("GET", "DELETE"):
        resp = am.request(method, "/api/v2/silence/xyz")
        assert (resp.status, resp.json()) == (
            422,
            {"code": 601, "message": 'silenceID in path must be of type uuid: "xyz"'},
        )
    unknown = "/api/v2/silence/00000000-0000-0000-0000-000000000000"
    assert (am.get(unknown).status, am.get(unknown).body) == (404, b"")
    resp = am.request("DELETE", unknown)
    assert (resp.status, resp.json()) == (500, "silence not found")
    resp = am.request("POST", "/api/v2/silences", raw=b"{}", headers={"Content-Type": "text/plain"})
    assert resp.status == 415


# -- status, receivers, health, reload, v1, CORS ---------------------------------------------


def test_status_masks_every_secret(am: AM) -> None:
    resp = am.get("/api/v2/status")
    body = resp.json()
    assert list(body) == ["cluster", "config", "uptime", "versionInfo"]
    assert body["cluster"] == {"peers": [], "status": "disabled"}
    original = body["config"]["original"]
    assert "<secret>" in original
    for secret in SECRETS:
        assert secret not in resp.text
        assert secret not in am.log()


def test_receivers(am: AM) -> None:
    assert am.get("/api/v2/receivers").json() == [
        {"name": "webhook"},
        {"name": "email"},
        {"name": "pager"},
    ]


def test_health_ready_and_methods(am: AM) -> None:
    for path in ("/-/healthy", "/-/ready"):
        resp = am.get(path)
        assert (resp.status, resp.text) == (200, "OK")
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert am.request("HEAD", path).status == 200
        resp = am.request("POST", path, raw=b"")
        assert resp.status == 405
        assert resp.headers["Allow"] == "GET, HEAD, OPTIONS"
    resp = am.get("/-/reload")
    assert (resp.status, resp.headers["Allow"]) == (405, "OPTIONS, POST")


def test_v1_is_gone(am: AM) -> None:
    for method, path in (
        ("GET", "/api/v1/alerts"),
        ("POST", "/api/v1/silences"),
        ("GET", "/api/v1/status"),
    ):
        resp = am.request(
            method,
            path,
            raw=b"{}" if method == "POST" else None,
            headers={"Content-Type": "text/plain"},
        )
        assert resp.status == 410
        assert resp.json() == {
            "status": "deprecated",
            "error": "The Alertmanager v1 API was deprecated in version 0.16.0 and is removed "
            "as of version 0.27.0 - please use the equivalent route in the v2 API",
        }


def test_cors(am: AM) -> None:
    resp = am.request("GET", "/api/v2/receivers", headers={"Origin": "http://evil.example"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert resp.headers["Vary"] == "Origin"
    pre = am.request(
        "OPTIONS",
        "/api/v2/silences",
        headers={
            "Origin": "http://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert pre.status == 200
    assert pre.headers["Access-Control-Allow-Methods"] == "POST"
    assert pre.headers["Access-Control-Allow-Headers"] == "Content-Type"
    pre = am.request(
        "OPTIONS",
        "/api/v2/silence/00000000-0000-0000-0000-000000000000",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "DELETE"},
    )
    assert pre.status == 200
    assert "Access-Control-Allow-Origin" not in pre.headers


def test_audit_lines(am: AM) -> None:
    post_alerts(am, {"labels": {"alertname": "Audited"}})
    sid = am.post("/api/v2/silences", silence(createdBy="auditor")).json()["silenceID"]
    am.request("DELETE", f"/api/v2/silence/{sid}")
    log = am.log()
    audit = [line for line in log.splitlines() if "component=audit" in line]
    assert any('msg="alerts posted"' in a and "remote=127.0.0.1" in a for a in audit)
    assert any(
        'msg="silence created"' in a and f"id={sid}" in a and "created_by=auditor" in a
        for a in audit
    )
    assert any('msg="silence expired"' in a and f"id={sid}" in a for a in audit)


def test_reload_keeps_old_config_on_error(tmp_path: Path) -> None:
    server = AM(tmp_path, CONFIG).start()
    try:
        server.config_path.write_text(
            CONFIG.replace("receiver: webhook\n  group_by", "receiver: nope\n  group_by")
        )
        resp = server.request("POST", "/-/reload", raw=b"")
        assert resp.status == 500
        assert resp.text.startswith("failed to reload config: ")
        assert 'undefined receiver "nope" used in route' in resp.text
        assert server.get("/-/ready").status == 200
        assert len(server.get("/api/v2/receivers").json()) == 3
        server.config_path.write_text(CONFIG.replace("  - name: pager\n", "  - name: pager2\n"))
        resp = server.request("POST", "/-/reload", raw=b"")
        assert (resp.status, resp.body) == (200, b"")
        assert server.get("/api/v2/receivers").json()[-1] == {"name": "pager2"}
    finally:
        server.stop()


def test_unknown_paths_and_methods(am: AM) -> None:
    resp = am.request("PUT", "/api/v2/alerts", raw=b"[]")
    assert resp.status == 405
    assert resp.json() == {"code": 405, "message": "method PUT is not allowed, but [GET,POST] are"}
    resp = am.get("/api/v2/nothing")
    assert resp.status == 404
    assert resp.json() == {"code": 404, "message": "path /api/v2/nothing was not found"}


def test_metrics(am: AM) -> None:
    text = am.get("/metrics").text
    assert 'alertmanager_alerts{state="active"}' in text
    assert 'alertmanager_silences{state="active"}' in text
    assert 'alertmanager_alerts_received_total{status="firing"}' in text
