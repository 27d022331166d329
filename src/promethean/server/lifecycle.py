"""``/-/healthy``, ``/-/ready``, and the lifecycle API ``/-/reload`` and ``/-/quit``.

Why every method is routed to one handler here instead of letting the router
answer: upstream's lifecycle endpoints answer methods in a precise order that
monitoring scripts and operators rely on (SECURITY-MODEL P3): the method is
checked before the flag (GET is 405 even with the API enabled, with a body
but no ``Allow``), POST and PUT get 403 while ``--web.enable-lifecycle`` is
off, and other methods get the router's 405 with ``Allow``.

Every reload and quit that is carried out (or refused) is written as an audit
line naming who and from where, never a secret.
"""

from __future__ import annotations

import logging

from aiohttp import web

from promethean.config import ConfigError
from promethean.logs import kv
from promethean.server.context import ServerContext
from promethean.web import client_identity, plain_error

__all__ = ["add_lifecycle_routes", "audit"]

log = logging.getLogger("promethean.server")

_LIFECYCLE_ALLOW = "GET, OPTIONS, POST, PUT"
_HEALTH_ALLOW = "GET, HEAD, OPTIONS"


def audit(request: web.Request, action: str, outcome: str, **fields: object) -> None:
    """One audit line for an admin or lifecycle action: who, from where, what, how it went."""
    log.info(
        "audit",
        extra=kv(
            component="audit",
            action=action,
            outcome=outcome,
            method=request.method,
            path=request.path,
            **client_identity(request),
            **fields,
        ),
    )


def _text(status: int, body: str, headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(status=status, text=body, content_type="text/plain", charset="utf-8")
    if headers:
        resp.headers.update(headers)
    return resp


def _options(allow: str) -> web.Response:
    return _text(200, "", {"Allow": allow})


def _lifecycle_gate(request: web.Request, ctx: ServerContext, action: str) -> web.Response | None:
    method = request.method
    if method == "OPTIONS":
        return _options(_LIFECYCLE_ALLOW)
    if method == "GET":
        return _text(405, "Only POST or PUT requests allowed")
    if method not in ("POST", "PUT"):
        return plain_error(405, "Method Not Allowed", {"Allow": _LIFECYCLE_ALLOW})
    if not ctx.options.enable_lifecycle:
        audit(request, action, "refused", reason="lifecycle API disabled")
        return _text(403, "Lifecycle API is not enabled.")
    return None


def add_lifecycle_routes(app: web.Application, ctx: ServerContext) -> None:
    """Register the health, readiness and lifecycle endpoints under the route prefix."""

    async def healthy(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return _options(_HEALTH_ALLOW)
        if request.method not in ("GET", "HEAD"):
            return plain_error(405, "Method Not Allowed", {"Allow": _HEALTH_ALLOW})
        return _text(200, "Prometheus Server is Healthy.\n")

    async def ready(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return _options(_HEALTH_ALLOW)
        if request.method not in ("GET", "HEAD"):
            return plain_error(405, "Method Not Allowed", {"Allow": _HEALTH_ALLOW})
        if not ctx.is_ready():
            return _text(503, "Service Unavailable")
        return _text(200, "Prometheus Server is Ready.\n")

    async def reload(request: web.Request) -> web.StreamResponse:
        refused = _lifecycle_gate(request, ctx, "reload")
        if refused is not None:
            return refused
        try:
            await ctx.reload()
        except ConfigError as exc:
            audit(request, "reload", "failed")
            return plain_error(500, f"failed to reload config: {exc}")
        audit(request, "reload", "ok")
        return _text(200, "")

    async def quit_(request: web.Request) -> web.StreamResponse:
        refused = _lifecycle_gate(request, ctx, "quit")
        if refused is not None:
            return refused
        audit(request, "quit", "ok")
        ctx.request_quit()
        return _text(200, "Requesting termination... Goodbye!")

    app.router.add_route("*", ctx.path("/-/healthy"), healthy)
    app.router.add_route("*", ctx.path("/-/ready"), ready)
    app.router.add_route("*", ctx.path("/-/reload"), reload)
    app.router.add_route("*", ctx.path("/-/quit"), quit_)
