"""Hostile targets (SECURITY-MODEL D2): each costs at most its own scrape.

A well-behaved target is scraped on a short interval the whole time; the
hostile ones (never answers, answers forever, a gigabyte, a gzip bomb, ten
million series) must each end in their timeout or limit with ``up`` 0 and the
exact error, while the good target keeps its schedule.
"""

from __future__ import annotations

import asyncio
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import aiohttp
from _scrape_loop_support import ServerThread, Target, open_db, run, values_of
from aiohttp import web

from promethean.model.labels import Labels
from promethean.scrape.loop import LoopSettings, ScrapeLoop

LIMIT = 8 << 20  # body_size_limit of the hostile jobs


async def _forever(request: web.Request) -> web.StreamResponse:
    """Valid lines, slowly and without end."""
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; version=0.0.4"})
    await resp.prepare(request)
    n = 0
    while True:
        await resp.write(f'slow{{i="{n}"}} 1\n'.encode())
        n += 1
        await asyncio.sleep(0.01)


async def _gigabyte(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; version=0.0.4"})
    resp.content_length = 1 << 30
    await resp.prepare(request)
    chunk = b"#" + b" " * ((1 << 20) - 2) + b"\n"
    for _ in range(1024):
        await resp.write(chunk)
    return resp


async def _bomb(request: web.Request) -> web.StreamResponse:
    """1 GiB of zeros as gzip: about 1 MiB on the wire."""
    resp = web.StreamResponse(
        headers={"Content-Type": "text/plain; version=0.0.4", "Content-Encoding": "gzip"}
    )
    await resp.prepare(request)
    comp = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1 << 20)
    for _ in range(1024):
        await resp.write(comp.compress(block))
    await resp.write(comp.flush())
    return resp


async def _ten_million(request: web.Request) -> web.StreamResponse:
    """10,000,000 distinct series (about 250 MB of text), generated as it is sent."""
    resp = web.StreamResponse(headers={"Content-Type": "text/plain; version=0.0.4"})
    await resp.prepare(request)
    step = 20_000
    for start in range(0, 10_000_000, step):
        lines = "".join(
            f'series_bomb{{i="{i}",pad="xxxx"}} {i}\n' for i in range(start, start + step)
        )
        await resp.write(lines.encode())
    return resp


async def _never_answers() -> tuple[asyncio.Server, int]:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def _close_server(server: asyncio.Server) -> None:
    server.close()


def test_hostile_targets_cost_only_their_own_scrape(tmp_path: Path) -> None:
    servers = ServerThread()
    good = servers.start(Target(body="good 1\n"))
    forever = servers.start(Target(handler=_forever))
    gig = servers.start(Target(handler=_gigabyte))
    bomb = servers.start(Target(handler=_bomb))
    many = servers.start(Target(handler=_ten_million))
    silent, silent_port = servers.call(_never_answers())

    async def go() -> None:
        db = open_db(tmp_path)
        executor = ThreadPoolExecutor(max_workers=2)
        try:
            async with aiohttp.ClientSession() as session:

                def loop_for(job: str, url: str, interval: float, timeout: float) -> ScrapeLoop:
                    return ScrapeLoop(
                        labels=Labels.from_dict({"job": job, "instance": url.split("/")[2]}),
                        url=url,
                        interval_s=interval,
                        timeout_s=timeout,
                        settings=LoopSettings(job_name=job, body_size_limit=LIMIT),
                        session=session,
                        storage=db,
                        executor=executor,
                        skip_offset=True,
                    )

                # 0.5 s: short next to the hostile scrapes (1-5 s), long enough that a busy
                # CI machine's scheduling noise is not mistaken for a missed tick.
                good_loop = loop_for("good", good.url(), 0.5, 0.5)
                hostile = {
                    "silent": loop_for("silent", f"http://127.0.0.1:{silent_port}/metrics", 10, 1),
                    "forever": loop_for("forever", forever.url(), 10, 1),
                    "gig": loop_for("gig", gig.url(), 10, 5),
                    "bomb": loop_for("bomb", bomb.url(), 10, 5),
                    "many": loop_for("many", many.url(), 10, 5),
                }
                good_loop.start()
                await asyncio.sleep(0.6)
                before = good_loop.health.scrapes
                await asyncio.gather(*(h.scrape_once() for h in hostile.values()))
                await asyncio.sleep(0.6)
                during = good_loop.health.scrapes - before
                await good_loop.stop()
        finally:
            executor.shutdown()
        errors = {job: loop.health.last_error for job, loop in hostile.items()}
        assert errors == {
            "silent": f'Get "http://127.0.0.1:{silent_port}/metrics": context deadline exceeded',
            "forever": f'Get "{forever.url()}": context deadline exceeded',
            "gig": "body size limit exceeded",
            "bomb": "body size limit exceeded",
            "many": "body size limit exceeded",
        }
        for job, loop in hostile.items():
            assert loop.health.health == "down"
            inst = loop.labels.get("instance")
            assert values_of(db, f'{{__name__="up",instance="{inst}",job="{job}"}}') == [0.0]
        # The good target kept scraping (every 0.5 s) while the hostile scrapes ran.
        assert good_loop.health.last_error == ""
        assert during >= 2
        assert good_loop.health.missed_ticks <= 1
        up = values_of(db, f'{{__name__="up",instance="{good.address}",job="good"}}')
        assert up and set(up) == {1.0}
        db.close()

    try:
        run(go())
    finally:
        servers.call(_close_server(silent))
        servers.close()
