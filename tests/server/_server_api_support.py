"""A real API v1 server on 127.0.0.1 over a real TSDB with known samples, for sync tests."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import re2
from aiohttp import web

from promethean.model.labels import Labels
from promethean.promql.engine import Engine, EngineOptions
from promethean.server.api import add_api_routes
from promethean.server.config import PrometheusConfig, parse_prometheus_config
from promethean.server.context import ServerContext, ServerOptions
from promethean.tsdb.db import DB

# 2023-11-14T22:13:20Z: whole seconds, so answers are easy to read.
T0 = 1_700_000_000_000

CONFIG = """
global:
  scrape_interval: 15s
  external_labels:
    site: lab
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ["127.0.0.1:9100"]
    basic_auth:
      username: scraper
      password: PLANTED_API_SECRET
alerting:
  alertmanagers:
    - static_configs:
        - targets: ["127.0.0.1:9093"]
"""


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


@dataclass
class ApiServer:
    url: str
    ctx: ServerContext
    db: DB
    app: web.Application
    loop: asyncio.AbstractEventLoop

    def request(
        self,
        method: str,
        path: str,
        params: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
        form: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Response:
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = body
        hdrs = dict(headers or {})
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return Response(resp.status, dict(resp.headers), resp.read())
        except urllib.error.HTTPError as err:
            return Response(err.code, dict(err.headers), err.read())

    def get(self, path: str, **params: str) -> Response:
        return self.request("GET", path, params)


def fill(db: DB) -> None:
    """Known series: up (two jobs), a counter, special values, a metric with a bad-ish name."""
    app = db.appender()
    series: list[tuple[dict[str, str], list[tuple[int, float]]]] = [
        (
            {"__name__": "up", "job": "node", "instance": "a:9100"},
            [(T0 + i * 15_000, 1.0) for i in range(9)],
        ),
        (
            {"__name__": "up", "job": "prom", "instance": "b:9090"},
            [(T0 + i * 15_000, 0.0 if i == 4 else 1.0) for i in range(9)],
        ),
        (
            {"__name__": "http_requests_total", "job": "prom", "code": "200"},
            [(T0 + i * 15_000, float(i * 10)) for i in range(9)],
        ),
        (
            {"__name__": "special", "kind": "nan"},
            [(T0, float("nan"))],
        ),
        ({"__name__": "special", "kind": "inf"}, [(T0, float("inf"))]),
        ({"__name__": "special", "kind": "big"}, [(T0, 1e21)]),
        ({"__name__": "special", "kind": "tiny"}, [(T0, 1.5e-7)]),
    ]
    for labels, samples in series:
        lbl = Labels.from_dict(labels)
        ref = None
        for t, v in samples:
            ref = app.append(ref, lbl, t, v)
    app.commit()


def make_context(
    db: DB,
    *,
    cors: str = ".*",
    config: PrometheusConfig | None = None,
    engine_options: EngineOptions | None = None,
    max_concurrency: int = 4,
    route_prefix: str = "/",
) -> ServerContext:
    cfg = config or parse_prometheus_config(CONFIG, "prometheus.yml")
    eopts = engine_options or EngineOptions(max_concurrency=max_concurrency)
    options = ServerOptions(
        cors_origin=re2.compile(f"^(?:{cors})$"),
        cors_origin_text=cors,
        query_max_concurrency=max_concurrency,
        query_timeout_s=eopts.timeout_s,
        route_prefix=route_prefix,
    )
    ctx = ServerContext(
        options=options,
        get_config=lambda: cfg,
        engine=Engine(db, eopts),
        flags={"web.enable-admin-api": "false", "query.max-samples": "50000000"},
        db=db,
    )
    ctx.set_ready()
    return ctx


@contextmanager
def running_api(
    tmp_path: Path,
    populate: Callable[[DB], None] = fill,
    extra_routes: Callable[[web.Application, ServerContext], None] | None = None,
    **ctx_args: Any,
) -> Iterator[ApiServer]:
    db = DB(tmp_path / "data")
    populate(db)
    ctx = make_context(db, **ctx_args)
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, Any] = {}

    def serve() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            app = web.Application()
            add_api_routes(app, ctx)
            if extra_routes is not None:
                extra_routes(app, ctx)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            holder.update(runner=runner, port=runner.addresses[0][1], app=app)
            ready.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield ApiServer(f"http://127.0.0.1:{holder['port']}", ctx, db, holder["app"], loop)
    finally:
        asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        db.close()
