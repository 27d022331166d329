"""Shared helpers for the scrape loop and manager tests: a real HTTP target on
127.0.0.1 whose page the test changes between scrapes, and readers for what
landed in a real DB."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import math
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.scrape.loop import LoopSettings, ScrapeLoop
from promethean.tsdb.db import DB

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Target:
    """A loopback exposition server; set ``body``/``status``/``handler`` between scrapes."""

    body: str = ""
    content_type: str = "text/plain; version=0.0.4"
    status: int = 200
    gzip: bool = False
    handler: Handler | None = None
    requests: list[dict[str, str]] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> Target:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._serve)
        self.runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/metrics") -> str:
        return f"http://{self.address}{path}"

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(dict(request.headers))
        if self.handler is not None:
            return await self.handler(request)
        data = self.body.encode()
        headers = {"Content-Type": self.content_type}
        if self.gzip:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        return web.Response(status=self.status, body=data, headers=headers)


def all_series(db: DB) -> dict[str, list[tuple[int, float]]]:
    """Every stored series as ``str(labels)`` -> [(t, v)], stale markers as 'stale'."""
    q = db.querier(0, 2**62)
    try:
        out: dict[str, list[tuple[int, float]]] = {}
        for s in q.select([Matcher("__name__", MatchType.REGEX, ".+")], sort=True):
            out[series_key(s.labels)] = list(
                zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
            )
        return out
    finally:
        q.close()


def series_key(labels: Labels) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


def is_stale(v: float) -> bool:
    return math.isnan(v) and struct.pack("<d", v) == struct.pack("<Q", 0x7FF0000000000002)


def values_of(db: DB, key: str) -> list[float]:
    return [v for _t, v in all_series(db).get(key, [])]


def make_loop(
    target: Target,
    db: DB,
    session: aiohttp.ClientSession,
    labels: dict[str, str] | None = None,
    *,
    path: str = "/metrics",
    interval_s: float = 10.0,
    timeout_s: float = 5.0,
    **settings: Any,
) -> ScrapeLoop:
    lab = labels if labels is not None else {"job": "j", "instance": target.address}
    return ScrapeLoop(
        labels=Labels.from_dict(lab),
        url=target.url(path),
        interval_s=interval_s,
        timeout_s=timeout_s,
        settings=LoopSettings(job_name=lab.get("job", ""), **settings),
        session=session,
        storage=db,
    )


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(_bounded(coro))


async def _bounded(coro: Awaitable[Any]) -> Any:
    async with asyncio.timeout(60):
        return await coro


def open_db(tmp_path: Path) -> DB:
    return DB(tmp_path / "data")


class ServerThread:
    """Targets served from their own thread and event loop, so a hostile server's
    own CPU (generating a gigabyte) does not stall the scraper under test."""

    def __init__(self) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._targets: list[Target] = []

    def call(self, coro: Awaitable[Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(_as_coro(coro), self.loop).result(30)

    def start(self, target: Target) -> Target:
        self.call(target.start())
        self._targets.append(target)
        return target

    def close(self) -> None:
        for t in self._targets:
            with contextlib.suppress(Exception):
                self.call(t.stop())
        with contextlib.suppress(Exception):
            self.call(_cancel_others())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


async def _cancel_others() -> None:
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me]
    for t in others:
        t.cancel()
    await asyncio.gather(*others, return_exceptions=True)


async def _as_coro(aw: Awaitable[Any]) -> Any:
    return await aw
