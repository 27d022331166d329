"""Access log at debug level that cannot leak credentials.

It logs method, path and query, status, size, duration, peer and user agent,
never a header value that carries credentials, and never URL userinfo (an
absolute-form request target can carry ``user:pass@``). The log filter in
:mod:`promethean.logs` still scrubs registered secrets on top.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from promethean.logs import kv

__all__ = ["AccessLogger"]

log = logging.getLogger("promethean.web.access")


class AccessLogger(AbstractAccessLogger):
    """aiohttp access logger writing structured debug lines (component=web)."""

    def __init__(self, logger: logging.Logger, log_format: str) -> None:
        super().__init__(log, log_format)

    @property
    def enabled(self) -> bool:
        return log.isEnabledFor(logging.DEBUG)

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if not log.isEnabledFor(logging.DEBUG):
            return
        url = request.rel_url
        target = url.raw_path + (f"?{url.raw_query_string}" if url.raw_query_string else "")
        log.debug(
            "request",
            extra=kv(
                component="web",
                method=request.method,
                path=target,
                status=response.status,
                bytes=response.body_length,
                duration=f"{time:.6f}s",
                remote=request.remote or "",
                user_agent=request.headers.get("User-Agent", ""),
            ),
        )
