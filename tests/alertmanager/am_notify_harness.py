"""In-process dispatcher rig and HTTP sinks on 127.0.0.1 for the notification tests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from promethean.alertmanager.alerts import AlertStore, posted_alert
from promethean.alertmanager.config import AlertmanagerConfig, parse_alertmanager_config
from promethean.alertmanager.dispatch import Dispatcher
from promethean.alertmanager.inhibit import Inhibitor
from promethean.alertmanager.nflog import NotificationLog
from promethean.alertmanager.notify import Pipeline
from promethean.alertmanager.route import Route
from promethean.alertmanager.silences import Silences
from promethean.alertmanager.store import DurableLog


@dataclass
class Request:
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Sink:
    """An HTTP server recording every request; ``statuses`` are answered in turn, then 200."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _event: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> Sink:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests.append(
            Request(request.path, request.query_string, dict(request.headers), body, time.time())
        )
        self._event.set()
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="" if status < 300 else "sink says no")

    async def wait_for(self, n: int, timeout: float = 10.0) -> list[Request]:
        """Wait until at least ``n`` requests arrived (bounded); returns them all."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            self._event.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"expected {n} requests, got {len(self.requests)}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), left)
        return self.requests

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


class Rig:
    """Store, silences, nflog, inhibitor, pipeline and dispatcher wired as in the server."""

    def __init__(self, config: str, storage: Path | None = None) -> None:
        self.cfg: AlertmanagerConfig = parse_alertmanager_config(config)
        self.store = AlertStore()
        self.silences = Silences()
        self.storage = storage
        self.nflog = NotificationLog(DurableLog(storage, "nflog") if storage else None)
        if storage is not None:
            self.nflog.load()
        self.inhibitor = Inhibitor.from_config(self.cfg)
        self.store.subscribe(lambda a: self.inhibitor.observe(a.fingerprint, a.labels, a.ends_at))
        self.external_url = "http://am.example:9093"
        self.dispatcher: Dispatcher | None = None

    def start(self) -> Rig:
        pipeline = Pipeline(
            self.cfg,
            silences=self.silences,
            inhibitor=lambda: self.inhibitor,
            nflog=self.nflog,
            external_url=lambda: self.external_url,
        )
        self.dispatcher = Dispatcher(self.store, Route.from_config(self.cfg), pipeline)
        self.dispatcher.start()
        return self

    def post(
        self,
        labels: dict[str, str],
        annotations: dict[str, str] | None = None,
        starts_at: float | None = None,
        ends_at: float | None = None,
        generator_url: str = "",
    ) -> None:
        now = time.time()
        alert = posted_alert(
            labels, annotations or {}, starts_at, ends_at, generator_url, now, 300.0
        )
        self.store.put([alert], now)

    def resolve(self, labels: dict[str, str]) -> None:
        self.post(labels, ends_at=time.time())

    async def stop(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        self.nflog.close()


def webhook_config(url: str, extra_route: str = "", receiver_extra: str = "", **route: str) -> str:
    opts = {"group_wait": "200ms", "group_interval": "500ms", "repeat_interval": "1h"}
    opts.update(route)
    lines = "\n".join(f"  {k}: {v}" for k, v in opts.items())
    return f"""
route:
  receiver: hook
  group_by: [alertname]
{lines}
{extra_route}
receivers:
  - name: hook
    webhook_configs:
      - url: '{url}/hook'
{receiver_extra}
"""


def run(coro_fn: Callable[[], Any], timeout: float = 30.0) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro_fn(), timeout)

    return asyncio.run(bounded())
