"""Upstream answers found missing earlier: max-samples on range results, chunkCount of a
young head, walreplay before readiness, self-metrics from the scrape manager."""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _server_api_support import T0, running_api
from _server_proc_support import http, running_server

from promethean.model.labels import Labels
from promethean.promql.engine import EngineOptions
from promethean.server import main as server_main
from promethean.tsdb.db import DB

TOO_MANY = (
    b'{"status":"error","errorType":"execution","error":"query processing would load too many '
    b'samples into memory in query execution"}'
)


def test_range_result_points_count_against_max_samples(tmp_path: Path) -> None:
    # Observed with Go 2.42 and --query.max-samples=100: every range result of
    # more than 100 points is refused, scalars included; 100 points pass.
    with running_api(tmp_path, engine_options=EngineOptions(max_samples=100)) as api:
        r = api.get("/api/v1/query_range", query="vector(1)", start="0", end="1000", step="1")
        assert (r.status, r.body) == (422, TOO_MANY)
        r = api.get("/api/v1/query_range", query="vector(1)", start="0", end="99", step="1")
        assert r.status == 200
        assert len(json.loads(r.body)["data"]["result"][0]["values"]) == 100
        for expr in ("time()", "1", "vector(1) + 1", "sum(vector(1))"):
            r = api.get("/api/v1/query_range", query=expr, start="0", end="100", step="1")
            assert (r.status, r.body) == (422, TOO_MANY), expr
        r = api.get("/api/v1/query_range", query="1", start="0", end="99", step="1")
        assert r.status == 200
        assert api.get("/api/v1/query", query="vector(1)", time="1000").status == 200


def test_chunk_count_of_a_young_head(tmp_path: Path) -> None:
    # Seven series, none has cut a chunk yet: each still holds its open chunk.
    with running_api(tmp_path) as api:
        r = api.get("/api/v1/status/tsdb")
        assert r.status == 200
        stats = json.loads(r.body)["data"]["headStats"]
        assert stats["numSeries"] == 7
        assert stats["chunkCount"] == 7
        assert (stats["minTime"], stats["maxTime"]) == (T0, T0 + 8 * 15_000)


@contextmanager
def _unready_server(tmp_path: Path) -> Iterator[str]:
    """The real server app before its TSDB opens (start() never called), on 127.0.0.1."""
    parser = argparse.ArgumentParser()
    server_main.configure(parser)
    (tmp_path / "prometheus.yml").write_text("global: {scrape_interval: 1h}\n")
    args = parser.parse_args(
        [
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
        ]
    )
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}
    started = threading.Event()

    def serve() -> None:
        from aiohttp import web

        asyncio.set_event_loop(loop)

        async def start() -> None:
            server = server_main.Server(args, {})
            runner = web.AppRunner(server.app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            holder.update(runner=runner, port=runner.addresses[0][1])
            started.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield f"http://127.0.0.1:{holder['port']}"
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_walreplay_answers_before_ready(tmp_path: Path) -> None:
    with _unready_server(tmp_path) as url:
        assert http("GET", url + "/-/ready").status == 503
        assert http("GET", url + "/api/v1/query", params={"query": "1"}).status == 503
        r = http("GET", url + "/api/v1/status/walreplay")
        assert (r.status, r.body) == (
            200,
            b'{"status":"success","data":{"min":0,"max":0,"current":0}}',
        )


def test_walreplay_reports_the_replayed_segments(tmp_path: Path) -> None:
    with DB(tmp_path / "data") as db:
        app = db.appender()
        app.append(None, Labels.from_dict({"__name__": "seeded"}), T0, 1.0)
        app.commit()
    segments = sorted(int(p.name) for p in (tmp_path / "data" / "wal").iterdir() if p.is_file())
    with running_server(tmp_path, config="global: {scrape_interval: 1h}\n") as server:
        r = server.request("GET", "/api/v1/status/walreplay")
        assert r.status == 200
        last = segments[-1]
        assert json.loads(r.body)["data"] == {"min": segments[0], "max": last, "current": last}
        metrics = server.request("GET", "/metrics").text
        # Scrape figures come from the scrape manager's collector, each family once.
        assert metrics.count("# TYPE prometheus_target_scrapes_sample_out_of_order_total ") == 1
        assert metrics.count("# TYPE prometheus_sd_discovered_targets gauge") == 1
        assert "# TYPE prometheus_target_interval_length_seconds summary" in metrics
        assert "prometheus_tsdb_head_chunks 1.0" in metrics
