"""/federate: latest sample per series within the lookback, external labels, upstream's text."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _server_proc_support import ServerProc, running_server

from promethean.model.labels import Labels
from promethean.model.protobuf import parse_protobuf
from promethean.tsdb.db import DB
from promethean.tsdb.storage import STALE_NAN

CONFIG = """
global:
  scrape_interval: 1h
  external_labels: {site: lab, job: external}
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> ServerProc:
    workdir: Path = tmp_path_factory.mktemp("federate")
    now = int(time.time() * 1000)
    with DB(workdir / "data") as db:
        app = db.appender()
        plain = Labels.from_dict({"__name__": "plain_metric_total", "instance": "i1", "job": "j"})
        app.append(None, plain, now - 20_000, 3)
        app.append(None, plain, now - 10_000, 4)
        up = Labels.from_dict({"__name__": "up", "instance": "i2"})
        app.append(None, up, now - 5_000, 1)
        old = Labels.from_dict({"__name__": "up", "instance": "old"})
        app.append(None, old, now - 600_000, 1)  # beyond the 5m lookback
        gone = Labels.from_dict({"__name__": "up", "instance": "gone"})
        app.append(None, gone, now - 9_000, 1)
        app.append(None, gone, now - 8_000, STALE_NAN)
        app.commit()
    seed_times = {"plain": now - 10_000, "up": now - 5_000}
    with running_server(workdir, config=CONFIG) as srv:
        srv.seed_times = seed_times  # type: ignore[attr-defined]
        yield srv


def test_text_output(server: ServerProc) -> None:
    r = server.request(
        "GET", "/federate", params=[("match[]", "plain_metric_total"), ("match[]", "up")]
    )
    assert r.status == 200
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    times = server.seed_times  # type: ignore[attr-defined]
    assert r.text == (
        "# TYPE plain_metric_total untyped\n"
        f'plain_metric_total{{instance="i1",job="j",site="lab"}} 4 {times["plain"]}\n'
        "# TYPE up untyped\n"
        f'up{{instance="i2",job="external",site="lab"}} 1 {times["up"]}\n'
    )


def test_no_match_and_bad_match(server: ServerProc) -> None:
    r = server.request("GET", "/federate")
    assert (r.status, r.body) == (200, b"")
    r = server.request("GET", "/federate", params={"match[]": "up{"})
    assert r.status == 400
    assert r.text == "1:4: parse error: unexpected end of input inside braces\n"
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_protobuf_output(server: ServerProc) -> None:
    accept = (
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
    )
    r = server.request("GET", "/federate", params={"match[]": "up"}, headers={"Accept": accept})
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/vnd.google.protobuf")
    families = parse_protobuf(r.body)
    assert [f.name for f in families] == ["up"]
    assert [s.labels.as_dict() for s in families[0].samples] == [
        {"instance": "i2", "job": "external", "site": "lab"}
    ]
