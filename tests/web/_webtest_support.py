"""Shared helpers for the web tests: a real server on a loopback port, in a thread.

There is no asyncio test plugin here, and the clients under test are the
blocking stdlib ones (ssl sockets with chosen versions, http.client), so each
server runs its own event loop in a background thread.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from promethean.web import WebServer, read_body


def hello_app() -> web.Application:
    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="Hello World!")

    async def upload(request: web.Request) -> web.Response:
        body = await read_body(request, 10)
        return web.Response(text=f"got {len(body)}")

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/-/healthy", hello)
    app.router.add_post("/upload", upload)
    return app


class RunningServer:
    def __init__(self, server: WebServer, loop: asyncio.AbstractEventLoop) -> None:
        self.server = server
        self.loop = loop

    @property
    def port(self) -> int:
        return self.server.addresses[0][1]


@contextmanager
def running_server(
    config: str | Path | None = None,
    app_factory: Callable[[], web.Application] = hello_app,
    **kwargs: Any,
) -> Iterator[RunningServer]:
    """Start a WebServer on 127.0.0.1:0 in a thread; stop it on exit."""
    kwargs.setdefault("reload_interval", 0.0)
    loop = asyncio.new_event_loop()
    holder: dict[str, Any] = {}
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def boot() -> None:
            try:
                server = WebServer(app_factory(), ["127.0.0.1:0"], config, **kwargs)
                await server.start()
                holder["server"] = server
            except BaseException as exc:
                holder["error"] = exc
            finally:
                started.set()

        loop.run_until_complete(boot())
        if "server" in holder:
            loop.run_forever()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert started.wait(10), "server did not start"
    if "error" in holder:
        thread.join(5)
        loop.close()
        raise holder["error"]
    server: WebServer = holder["server"]
    try:
        yield RunningServer(server, loop)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(15)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def write_atomic(path: Path, data: str | bytes) -> None:
    """Replace a file the way config management does (new inode, atomic)."""
    tmp = path.with_name(path.name + ".tmp")
    if isinstance(data, str):
        tmp.write_text(data)
    else:
        tmp.write_bytes(data)
    os.replace(tmp, path)


def request(
    port: int,
    path: str = "/",
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    context: ssl.SSLContext | None = None,
    source: str | None = None,
    timeout: float = 10.0,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request on a fresh connection: (status, headers, body)."""
    source_address = (source, 0) if source else None
    conn: http.client.HTTPConnection
    if context is not None:
        conn = http.client.HTTPSConnection(
            "localhost", port, context=context, timeout=timeout, source_address=source_address
        )
    else:
        conn = http.client.HTTPConnection(
            "127.0.0.1", port, timeout=timeout, source_address=source_address
        )
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def basic(user: str, password: str) -> dict[str, str]:
    import base64

    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def tls_handshake(port: int, context: ssl.SSLContext, timeout: float = 10.0) -> ssl.SSLSocket:
    """Connect and complete a TLS handshake (the caller closes the socket)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        return context.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def conformance_dir() -> Path:
    """The upstream web-config test data: $PROMETHEAN_CONFORMANCE_DIR or ../shared/conformance.

    Missing data fails under CI=true and skips (with the reason) elsewhere.
    """
    import pytest

    root = os.environ.get("PROMETHEAN_CONFORMANCE_DIR")
    base = (
        Path(root)
        if root
        else Path(__file__).resolve().parents[2].parent / "shared" / "conformance"
    )
    path = base / "web-config"
    if not path.is_dir():
        reason = f"web-config conformance data not found at {path}"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path
