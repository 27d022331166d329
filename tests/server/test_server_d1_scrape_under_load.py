"""SECURITY-MODEL D1 end to end: heavy queries at --query.max-concurrency never delay scrapes.

A real target on 127.0.0.1 is scraped every second by the real server process
while range queries over a thousand series keep every query slot busy and
more wait behind them. The stored ``up`` and ``scrape_duration_seconds``
samples then show every scrape on its interval, and a query beyond the limit
is shown to wait in the queue (it times out there, as upstream's queue does).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from _server_proc_support import ServerProc, running_server

from promethean.model.labels import Labels
from promethean.tsdb.db import DB
from promethean.tsdb.storage import SeriesRef

SERIES = 1000
LIMIT = 2
INTERVAL_S = 1.0
LOAD_S = 8.0
HEAVY = "sum by (group) (rate(d1_heavy_total[5m]))"
QUEUE_TIMEOUT = b'{"status":"error","errorType":"timeout","error":"query timed out in query queue"}'


def seed(data: Path, now_ms: int) -> None:
    """An hour of a thousand counters every 10 s: what makes the range queries heavy."""
    labels = [
        Labels.from_dict({"__name__": "d1_heavy_total", "series": str(i), "group": str(i % 10)})
        for i in range(SERIES)
    ]
    base = np.arange(SERIES, dtype=np.float64)
    with DB(data) as db:
        refs: Sequence[SeriesRef | None] = [None] * SERIES
        for j in range(360):
            app = db.appender()
            refs, _ = app.append_many(refs, labels, now_ms - 3_600_000 + j * 10_000, base * j)
            app.commit()


class _Target(BaseHTTPRequestHandler):
    BODY = "".join(f'd1_target_metric{{n="{i}"}} {i}\n' for i in range(50)).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, format: str, *args: object) -> None:
        return None


@contextmanager
def target() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def metric(server: ServerProc, name: str) -> float:
    for line in server.request("GET", "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exposed")


def raw_samples(server: ServerProc, selector: str, at: float) -> list[tuple[float, float]]:
    r = server.request("GET", "/api/v1/query", params={"query": f"{selector}[2m]", "time": at})
    assert r.status == 200, r.text
    (series,) = json.loads(r.body)["data"]["result"]
    return [(float(t), float(v)) for t, v in series["values"]]


def test_scrapes_keep_their_interval_while_queries_fill_every_slot(tmp_path: Path) -> None:
    now_ms = int(time.time() * 1000)
    seed(tmp_path / "data", now_ms)
    with target() as address:
        config = (
            "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
            "scrape_configs:\n"
            f"  - job_name: d1\n    static_configs: [{{targets: ['{address}']}}]\n"
        )
        flags = (f"--query.max-concurrency={LIMIT}",)
        with running_server(tmp_path, *flags, config=config) as server:
            deadline = time.monotonic() + 15
            while "d1" not in server.request("GET", "/api/v1/query", params={"query": "up"}).text:
                assert time.monotonic() < deadline, "target never scraped"
                time.sleep(0.1)

            stop = threading.Event()
            answers: list[int] = []

            def heavy_loop() -> None:
                while not stop.is_set():
                    end = time.time()
                    r = server.request(
                        "GET",
                        "/api/v1/query_range",
                        params={"query": HEAVY, "start": end - 3600, "end": end, "step": "1"},
                    )
                    answers.append(r.status)

            # One more looper than slots: a query always waits behind the busy ones.
            loopers = [threading.Thread(target=heavy_loop) for _ in range(LIMIT + 1)]
            load_start = time.time()
            for t in loopers:
                t.start()
            try:
                deadline = time.monotonic() + 30
                while metric(server, "prometheus_engine_queries") < LIMIT + 1:
                    assert time.monotonic() < deadline, "queries never filled the slots"
                    time.sleep(0.02)
                # A cheap query beyond the limit waits for a slot; with 50 ms to
                # spare it times out in the queue (two slots would have to free
                # within 50 ms for it to run; three tries make that vanishingly rare).
                queued = [
                    server.request(
                        "GET", "/api/v1/query", params={"query": "vector(1)", "timeout": "50ms"}
                    )
                    for _ in range(3)
                ]
                assert any((r.status, r.body) == (503, QUEUE_TIMEOUT) for r in queued), [
                    (r.status, r.body) for r in queued
                ]
                time.sleep(max(0.0, load_start + LOAD_S - time.time()))
            finally:
                stop.set()
                for t in loopers:
                    t.join(120)
            load_end = time.time()
            assert answers and set(answers) == {200}, answers
            assert (
                metric(server, 'prometheus_engine_query_duration_seconds_sum{slice="queue_time"}')
                > 0
            )

            time.sleep(INTERVAL_S)  # let the last scrape of the window land
            for selector in ('up{job="d1"}', 'scrape_duration_seconds{job="d1"}'):
                samples = raw_samples(server, selector, load_end + INTERVAL_S)
                stamps = [t for t, _ in samples if load_start - INTERVAL_S <= t <= load_end]
                assert len(stamps) >= (load_end - load_start) / INTERVAL_S - 1, stamps
                gaps = np.diff(stamps)
                assert gaps.max() <= 1.5 * INTERVAL_S, (selector, gaps.tolist())
            ups = raw_samples(server, 'up{job="d1"}', load_end)
            assert {v for _, v in ups} == {1.0}
            durations = raw_samples(server, 'scrape_duration_seconds{job="d1"}', load_end)
            assert max(v for _, v in durations) < INTERVAL_S
