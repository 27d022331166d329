"""The TSDB admin API behind --web.enable-admin-api (P2), against the real server and TSDB."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from _server_proc_support import ServerProc, running_server

from promethean.model.labels import Labels
from promethean.tsdb.db import DB

CONFIG = "global: {scrape_interval: 1h}\n"
PATHS = ("delete_series", "clean_tombstones", "snapshot")


def seed(data: Path, now_ms: int) -> None:
    """Two series with a sample a second apart over the last minute."""
    with DB(data) as db:
        app = db.appender()
        for i in range(60):
            t = now_ms - 60_000 + i * 1000
            app.append(None, Labels.from_dict({"__name__": "small_metric", "src": "a"}), t, i)
            app.append(None, Labels.from_dict({"__name__": "other_metric", "src": "b"}), t, 1)
        app.commit()


def query(server: ServerProc, expr: str) -> list[object]:
    r = server.request("GET", "/api/v1/query", params={"query": expr})
    assert r.status == 200, r.text
    result: list[object] = json.loads(r.body)["data"]["result"]
    return result


@pytest.fixture(scope="module")
def off(tmp_path_factory: pytest.TempPathFactory) -> ServerProc:
    with running_server(tmp_path_factory.mktemp("off"), config=CONFIG) as server:
        yield server


@pytest.fixture()
def on(tmp_path: Path) -> ServerProc:
    seed(tmp_path / "data", int(time.time() * 1000))
    with running_server(tmp_path, "--web.enable-admin-api", config=CONFIG) as server:
        yield server


def test_disabled_answers_exactly_as_upstream(off: ServerProc) -> None:
    for name in PATHS:
        for method in ("POST", "PUT"):
            r = off.request(method, f"/api/v1/admin/tsdb/{name}")
            assert r.status == 500
            assert r.body == (
                b'{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}'
            )
            assert r.headers["Content-Type"] == "application/json"
            assert r.headers["Content-Length"] == "74"
        for method in ("GET", "DELETE"):
            r = off.request(method, f"/api/v1/admin/tsdb/{name}")
            assert (r.status, r.text, r.headers["Allow"]) == (
                405,
                "Method Not Allowed\n",
                "OPTIONS, POST, PUT",
            )
        assert off.request("OPTIONS", f"/api/v1/admin/tsdb/{name}").status == 204
    assert "action=snapshot outcome=refused" in off.log()


def test_snapshot(on: ServerProc) -> None:
    r = on.request("POST", "/api/v1/admin/tsdb/snapshot")
    assert r.status == 200
    name = json.loads(r.body)["data"]["name"]
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{16}", name)
    assert (on.workdir / "data" / "snapshots" / name).is_dir()
    r = on.request("PUT", "/api/v1/admin/tsdb/snapshot", params={"skip_head": "true"})
    assert r.status == 200
    r = on.request("POST", "/api/v1/admin/tsdb/snapshot", params={"skip_head": "notbool"})
    assert r.status == 400
    assert r.body == (
        b'{"status":"error","errorType":"bad_data","error":"invalid parameter \\"skip_head\\": '
        b'unable to parse boolean: strconv.ParseBool: parsing \\"notbool\\": invalid syntax"}'
    )
    assert "action=snapshot outcome=ok method=POST path=/api/v1/admin/tsdb/snapshot " in on.log()


def test_delete_series_validation(on: ServerProc) -> None:
    def error(**kwargs: object) -> str:
        r = on.request("POST", "/api/v1/admin/tsdb/delete_series", **kwargs)
        assert r.status == 400, r.text
        body = json.loads(r.body)
        assert body["errorType"] == "bad_data"
        return str(body["error"])

    assert error() == "no match[] parameter provided"
    assert error(params={"match[]": "up{"}) == (
        'invalid parameter "match[]": 1:4: parse error: unexpected end of input inside braces'
    )
    assert error(params={"match[]": "up", "start": "abc"}) == (
        "invalid parameter \"start\": Invalid time value for 'start': "
        'cannot parse "abc" to a valid timestamp'
    )


def test_delete_series_and_clean_tombstones(on: ServerProc) -> None:
    assert len(query(on, "small_metric")) == 1
    r = on.request("POST", "/api/v1/admin/tsdb/delete_series", params={"match[]": "small_metric"})
    assert (r.status, r.body) == (204, b"")
    assert query(on, "small_metric") == []
    assert len(query(on, "other_metric")) == 1
    r = on.request("PUT", "/api/v1/admin/tsdb/clean_tombstones")
    assert (r.status, r.body) == (204, b"")
    log = on.log()
    assert "action=delete_series outcome=ok" in log
    assert "match=small_metric" in log
    assert "action=clean_tombstones outcome=ok" in log


def test_delete_with_all_empty_matchers_in_form_body(on: ServerProc) -> None:
    # Upstream accepts a selector whose matchers all match "" and deletes everything.
    r = on.request(
        "PUT",
        "/api/v1/admin/tsdb/delete_series",
        form=[("match[]", '{src=~".*"}'), ("start", "0")],
    )
    assert r.status == 204, r.text
    assert query(on, "small_metric") == []
    assert query(on, "other_metric") == []
