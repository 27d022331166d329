"""The HTTP(S) server every promethean component runs its aiohttp app on.

Why an own accept loop instead of ``aiohttp.web.TCPSite``: it is the one place
that can (a) hold ``--web.max-connections`` the way Go's LimitListener does,
by not accepting beyond the limit (extra clients wait in the kernel backlog
instead of being dropped), (b) pick the TLS context per connection, so a
renewed certificate is served without a restart, and (c) answer plain HTTP
sent to the TLS port with upstream's 400 instead of a TLS alert.

Slow clients: the TLS handshake and the request headers must arrive within
``--web.read-header-timeout`` (this also bounds how long an idle keep-alive
connection is kept); bodies read with :func:`read_body` must arrive within
``--web.read-timeout`` of the request start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from promethean.logs import kv
from promethean.model.durations import parse_duration
from promethean.web.accesslog import AccessLogger
from promethean.web.basicauth import BasicAuthenticator
from promethean.web.middleware import install
from promethean.web.reload import WebConfigWatcher, WebState, load_web_state

__all__ = [
    "WebOptions",
    "WebServer",
    "add_web_flags",
    "validate_web_config_file",
    "web_options",
]

log = logging.getLogger("promethean.web")

_PLAIN_HTTP_TO_TLS = (
    b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"
)
_TLS_HANDSHAKE_RECORD = 0x16


def validate_web_config_file(path: str | Path | None) -> WebState:
    """Load a web config exactly as the server would; raises ConfigError.

    Components call this (or construct :class:`WebServer`) before anything
    else and exit with status 1 on ConfigError, as upstream does.
    """
    return load_web_state(path)


@dataclass(frozen=True)
class WebOptions:
    """The web flags of one component."""

    listen_addresses: tuple[str, ...]
    config_file: str
    max_connections: int
    read_timeout: float
    header_timeout: float


def _duration_flag(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def mount_under_prefix(
    app: web.Application, prefix: str, *, client_max_size: int, redirect_root: bool = False
) -> web.Application:
    """Serve ``app`` under ``--web.route-prefix`` (as upstream, e.g. ``/pushgateway``).

    Returns ``app`` itself for an empty prefix; otherwise an outer app (give it the
    inner app's body size cap) that mounts it, optionally redirecting ``/`` to the prefix.
    """
    prefix = prefix.rstrip("/")
    if not prefix:
        return app
    outer = web.Application(client_max_size=client_max_size)

    async def to_prefix(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(prefix + "/")

    if redirect_root:
        outer.router.add_get("/", to_prefix)
    outer.add_subapp(prefix, app)
    return outer


def add_web_flags(parser: argparse.ArgumentParser, default_listen_address: str) -> None:
    """Add upstream's web flags (and the header timeout) to a component's parser."""
    group = parser.add_argument_group("web")
    group.add_argument(
        "--web.listen-address",
        dest="web_listen_address",
        action="append",
        default=None,
        metavar="ADDRESS",
        help=f"address to listen on; repeatable (default {default_listen_address})",
    )
    group.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default="",
        metavar="FILE",
        help="web config file enabling TLS, client certificates and basic auth",
    )
    group.add_argument(
        "--web.max-connections",
        dest="web_max_connections",
        type=int,
        default=512,
        help="maximum number of simultaneous connections (default 512)",
    )
    group.add_argument(
        "--web.read-timeout",
        dest="web_read_timeout",
        type=_duration_flag,
        default=300.0,
        metavar="DURATION",
        help="maximum time to read a request, body included (default 5m)",
    )
    group.add_argument(
        "--web.read-header-timeout",
        dest="web_read_header_timeout",
        type=_duration_flag,
        default=30.0,
        metavar="DURATION",
        help="maximum time for the TLS handshake and request headers, and for an idle "
        "keep-alive connection (default 30s)",
    )
    parser.set_defaults(web_default_listen_address=default_listen_address)


def web_options(args: argparse.Namespace) -> WebOptions:
    """The web flags parsed by :func:`add_web_flags`."""
    addresses = args.web_listen_address or [args.web_default_listen_address]
    if args.web_max_connections < 1:
        raise ValueError("--web.max-connections must be at least 1")
    return WebOptions(
        listen_addresses=tuple(addresses),
        config_file=args.web_config_file,
        max_connections=args.web_max_connections,
        read_timeout=args.web_read_timeout,
        header_timeout=args.web_read_header_timeout,
    )


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"listen tcp {address}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        number = int(port)
    except ValueError:
        raise ValueError(f"listen tcp {address}: invalid port") from None
    if not 0 <= number <= 65535:
        raise ValueError(f"listen tcp {address}: invalid port")
    return host, number


def _bind(address: str) -> socket.socket:
    host, port = _split_address(address)
    try:
        if host in ("", "0.0.0.0", "::") and socket.has_ipv6 and host != "0.0.0.0":
            try:
                sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                target: Any = ("::", port)
            except OSError:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                target = ("0.0.0.0", port)
        else:
            infos = socket.getaddrinfo(
                host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
            )
            family, kind, proto, _name, target = infos[0]
            sock = socket.socket(family, kind, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(target)
            sock.listen(1024)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
    except OSError as exc:
        raise OSError(f"listen tcp {address}: {exc.strerror or exc}") from None
    return sock


class _Slot:
    """One of ``--web.max-connections``; released exactly once."""

    __slots__ = ("_released", "_sem")

    def __init__(self, sem: asyncio.Semaphore) -> None:
        self._sem = sem
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._sem.release()


class WebServer:
    """Serves an aiohttp app on listen addresses under a (reloaded) web config.

    Constructing it validates the web config file (ConfigError on failure:
    exit 1). ``await start()`` binds; ``await stop()`` closes everything.
    """

    def __init__(
        self,
        app: web.Application,
        listen_addresses: Sequence[str] = (":9090",),
        web_config_file: str | Path | None = None,
        *,
        max_connections: int = 512,
        read_timeout: float = 300.0,
        header_timeout: float = 30.0,
        reload_interval: float = 1.0,
        bcrypt_concurrency: int | None = None,
    ) -> None:
        if not listen_addresses:
            raise ValueError("no web listen address specified")
        self._app = app
        self._listen = tuple(listen_addresses)
        self._watcher = WebConfigWatcher(web_config_file, reload_interval)
        self._auth = BasicAuthenticator(bcrypt_concurrency)
        self._max_connections = max_connections
        self._read_timeout = read_timeout
        self._header_timeout = header_timeout
        self._runner: web.AppRunner | None = None
        self._sockets: list[socket.socket] = []
        self._accepting: list[asyncio.Task[None]] = []
        self._opening: set[asyncio.Task[None]] = set()
        self._slot_of: dict[web.RequestHandler, _Slot] = {}
        self._slots: asyncio.Semaphore | None = None
        self._closing = False

    @classmethod
    def from_options(cls, app: web.Application, options: WebOptions) -> WebServer:
        return cls(
            app,
            options.listen_addresses,
            options.config_file or None,
            max_connections=options.max_connections,
            read_timeout=options.read_timeout,
            header_timeout=options.header_timeout,
        )

    @property
    def watcher(self) -> WebConfigWatcher:
        return self._watcher

    @property
    def tls(self) -> bool:
        return self._watcher.state.tls

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """Bound (host, port) pairs, in listen-address order (port 0 resolved)."""
        return [tuple(s.getsockname()[:2]) for s in self._sockets]

    @property
    def connections(self) -> int:
        return len(self._slot_of)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        install(self._app, self._watcher, self._auth, self._read_timeout)
        self._runner = web.AppRunner(
            self._app,
            handle_signals=False,
            access_log_class=AccessLogger,
            keepalive_timeout=self._header_timeout,
            handler_cancellation=True,
            shutdown_timeout=5.0,
        )
        await self._runner.setup()
        server = self._runner.server
        assert server is not None
        original_lost = server.connection_lost

        def connection_lost(handler: web.RequestHandler, exc: BaseException | None = None) -> None:
            original_lost(handler, exc)
            slot = self._slot_of.pop(handler, None)
            if slot is not None:
                slot.release()

        server.connection_lost = connection_lost  # type: ignore[method-assign]
        self._slots = asyncio.Semaphore(self._max_connections)
        try:
            for address in self._listen:
                self._sockets.append(_bind(address))
        except OSError:
            await self.stop()
            raise
        tls = self._watcher.state.tls
        for address, sock in zip(self._listen, self._sockets, strict=True):
            bound = sock.getsockname()
            log.info("Listening on", extra=kv(component="web", address=f"{bound[0]}:{bound[1]}"))
            log.info(
                "TLS is enabled." if tls else "TLS is disabled.",
                extra=kv(component="web", http2=False, address=address),
            )
            self._accepting.append(loop.create_task(self._accept_loop(sock)))

    async def stop(self) -> None:
        self._closing = True
        for task in self._accepting:
            task.cancel()
        for task in list(self._opening):
            task.cancel()
        await asyncio.gather(*self._accepting, *self._opening, return_exceptions=True)
        self._accepting.clear()
        for sock in self._sockets:
            sock.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        self._auth.close()

    async def _accept_loop(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        assert self._slots is not None
        while not self._closing:
            await self._slots.acquire()
            slot = _Slot(self._slots)
            try:
                conn, _peer = await loop.sock_accept(sock)
            except asyncio.CancelledError:
                slot.release()
                raise
            except OSError as exc:
                slot.release()
                if self._closing:
                    return
                # EMFILE and friends: back off instead of spinning.
                log.warning("Accept error", extra=kv(component="web", err=exc.strerror or exc))
                await asyncio.sleep(0.1)
                continue
            task = loop.create_task(self._open(conn, slot))
            self._opening.add(task)
            task.add_done_callback(self._opening.discard)

    async def _open(self, conn: socket.socket, slot: _Slot) -> None:
        loop = asyncio.get_running_loop()
        assert self._runner is not None and self._runner.server is not None
        server = self._runner.server
        handed_over = False
        peer = ""
        try:
            host, port = conn.getpeername()[:2]
            peer = f"{host}:{port}"
            conn.setblocking(False)
            with contextlib.suppress(OSError):
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._watcher.maybe_reload()
            ctx = self._watcher.state.ssl_context
            if ctx is not None and not await self._tls_expected(conn):
                return

            def factory() -> web.RequestHandler:
                handler = server()
                self._slot_of[handler] = slot
                return handler

            await loop.connect_accepted_socket(
                factory,
                conn,
                ssl=ctx,
                ssl_handshake_timeout=self._header_timeout if ctx is not None else None,
            )
            handed_over = True
        except (OSError, ssl.SSLError, TimeoutError, EOFError) as exc:
            log.debug(
                "TLS handshake error" if isinstance(exc, ssl.SSLError) else "Connection error",
                extra=kv(component="web", remote=peer, err=str(exc) or type(exc).__name__),
            )
        finally:
            if not handed_over:
                for handler, owner in list(self._slot_of.items()):
                    if owner is slot:
                        del self._slot_of[handler]
                slot.release()
                with contextlib.suppress(OSError):
                    conn.close()

    async def _tls_expected(self, conn: socket.socket) -> bool:
        """Peek at the first byte: a TLS handshake, or plain HTTP (answered 400)?"""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()

        def readable() -> None:
            if not ready.done():
                ready.set_result(None)

        fd = conn.fileno()
        loop.add_reader(fd, readable)
        try:
            await asyncio.wait_for(ready, self._header_timeout)
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)
        try:
            head = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return True  # let the handshake (and its timeout) sort it out
        except OSError:
            return False
        if not head:
            return False
        if head[0] == _TLS_HANDSHAKE_RECORD:
            return True
        if 0x41 <= head[0] <= 0x5A:  # an HTTP method's first letter
            with contextlib.suppress(OSError):
                # Consume what was sent, so closing does not reset the
                # connection before the client has read the answer.
                with contextlib.suppress(BlockingIOError, InterruptedError):
                    conn.recv(65536)
                await loop.sock_sendall(conn, _PLAIN_HTTP_TO_TLS)
                conn.shutdown(socket.SHUT_WR)
        return False
