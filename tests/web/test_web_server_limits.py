"""Connection and request limits against misbehaving clients."""

from __future__ import annotations

import socket
import time

from _webtest_support import request, running_server


def test_body_over_route_limit_gets_413() -> None:
    with running_server(None) as srv:
        assert request(srv.port, "/upload", method="POST", body=b"x" * 10)[:3:2] == (200, b"got 10")
        status, _, body = request(srv.port, "/upload", method="POST", body=b"x" * 11)
        assert status == 413
        assert body == b"request body too large: limit is 10 bytes\n"
        # Without Content-Length (chunked) the limit holds as well.
        chunks = iter([b"x" * 6, b"x" * 6])
        status = request(srv.port, "/upload", method="POST", body=chunks)[0]  # type: ignore[arg-type]
        assert status == 413


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """Trickle a request one byte at a time until the server hangs up (or the deadline)."""
    trickle = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    for byte in trickle:
        if time.monotonic() > deadline:
            return False
        try:
            sock.sendall(bytes([byte]))
            sock.settimeout(0.05)
            if sock.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_slow_header_client_is_disconnected() -> None:
    with running_server(None, header_timeout=0.5) as srv:
        sock = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        try:
            assert _closed_by_server(sock, time.monotonic() + 10)
        finally:
            sock.close()
        # Normal clients are still served.
        assert request(srv.port)[0] == 200


def test_max_connections_is_held() -> None:
    with running_server(None, max_connections=2, header_timeout=30) as srv:
        holders = [socket.create_connection(("127.0.0.1", srv.port), timeout=5) for _ in range(2)]
        try:
            # The first two hold both slots (idle, keep-alive). The third is
            # connected by the kernel but not served while the limit is reached.
            for h in holders:
                h.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert h.recv(1024).startswith(b"HTTP/1.1 200")
            waiting = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            try:
                waiting.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                waiting.settimeout(0.5)
                try:
                    early = waiting.recv(1024)
                except TimeoutError:
                    early = b""
                assert early == b""
                holders.pop().close()
                waiting.settimeout(10)
                assert waiting.recv(1024).startswith(b"HTTP/1.1 200")
            finally:
                waiting.close()
        finally:
            for h in holders:
                h.close()
