"""A real Pushgateway on 127.0.0.1 for HTTP tests, driven from synchronous tests."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from aiohttp import web

from promethean.pushgateway.api import Options, PushgatewayAPI, build_app
from promethean.pushgateway.persistence import Persistence
from promethean.pushgateway.store import Store


@dataclass
class Gateway:
    url: str
    api: PushgatewayAPI


def start_gateway(
    options: Options | None = None,
    persistence: Persistence | None = None,
    max_body: int = 64 << 20,
    consistency_check: bool = True,
) -> tuple[Gateway, callable]:  # type: ignore[valid-type]
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder: dict[str, object] = {}

    def runner() -> None:
        asyncio.set_event_loop(loop)

        async def start() -> None:
            opts = options or Options()
            opts.max_body = max_body
            api = PushgatewayAPI(Store(consistency_check), persistence, opts)
            app = build_app(api)
            app_runner = web.AppRunner(app, access_log=None)
            await app_runner.setup()
            site = web.TCPSite(app_runner, "127.0.0.1", 0)
            await site.start()
            port = app_runner.addresses[0][1]
            holder.update(api=api, runner=app_runner, port=port)
            ready.set()

        loop.run_until_complete(start())
        loop.run_forever()

    thread = threading.Thread(target=runner, daemon=True)
    thread.start()
    assert ready.wait(10)

    def stop() -> None:
        async def cleanup() -> None:
            await holder["runner"].cleanup()  # type: ignore[attr-defined]

        asyncio.run_coroutine_threadsafe(cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

    gw = Gateway(f"http://127.0.0.1:{holder['port']}", holder["api"])  # type: ignore[arg-type]
    return gw, stop


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw, stop = start_gateway()
    yield gw
    stop()


@pytest.fixture
def admin_gateway() -> Iterator[Gateway]:
    gw, stop = start_gateway(Options(enable_admin_api=True, enable_lifecycle=True))
    yield gw
    stop()
