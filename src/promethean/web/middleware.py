"""The request path every promethean server shares.

Order, as upstream plus promethean's guards: rate limit (429) -> client
certificate SAN check -> authentication (exempt paths, per-address throttle,
basic auth) -> handler. Configured security headers are added to every
response, including 401 and 429, when it is prepared.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from aiohttp import web

from promethean.logs import kv
from promethean.web.basicauth import BasicAuthenticator, parse_basic_auth
from promethean.web.reload import WebConfigWatcher, WebState
from promethean.web.tlscontext import peer_san_allowed

__all__ = ["STATE_KEY", "install", "plain_error", "read_body"]

log = logging.getLogger("promethean.web")

STATE_KEY = web.RequestKey("promethean.web.state", WebState)
_DEADLINE_KEY = web.RequestKey("promethean.web.deadline", float)

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def plain_error(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    """A Go ``http.Error`` response: text, newline, text/plain and nosniff."""
    resp = web.Response(status=status, text=text + "\n", content_type="text/plain", charset="utf-8")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if headers:
        resp.headers.update(headers)
    return resp


AUTH_USER_KEY = web.RequestKey("promethean.web.auth_user", str)
"""Request key holding the basic-auth user once authenticated (audit logs read it)."""


def client_identity(request: web.Request) -> dict[str, str]:
    """Who made a request, for audit log lines: address and authenticated user, no secrets."""
    user = request.get(AUTH_USER_KEY)
    out = {"remote": request.remote or ""}
    if user:
        out["user"] = str(user)
    return out


def _unauthorized() -> web.Response:
    return plain_error(401, "Unauthorized", {"WWW-Authenticate": "Basic"})


def _request_path(request: web.Request) -> str:
    # The form the router matches on, so an exemption covers exactly that route.
    url = request.rel_url
    return getattr(url, "path_safe", url.path)


async def _authenticate(
    request: web.Request, state: WebState, auth: BasicAuthenticator
) -> web.StreamResponse | None:
    creds = parse_basic_auth(request.headers.get("Authorization"))
    if creds is None:
        return _unauthorized()
    user, password = creds
    address = request.remote or ""
    throttle = state.throttle
    if throttle is not None:
        # Before the cache: a throttled address must not keep guessing at memory speed.
        wait = throttle.blocked_for(address)
        if wait > 0:
            return plain_error(429, "Too Many Requests", {"Retry-After": str(math.ceil(wait))})
    if await auth.check(state.users, user, password):
        if throttle is not None:
            throttle.succeeded(address)
        request[AUTH_USER_KEY] = user  # for audit lines; never the password
        return None
    if throttle is not None:
        throttle.failed(address)
    return _unauthorized()


def install(
    app: web.Application,
    watcher: WebConfigWatcher,
    authenticator: BasicAuthenticator,
    read_timeout: float,
) -> None:
    """Put the guard first in ``app``'s middlewares and the header hook on prepare."""

    @web.middleware
    async def guard(request: web.Request, handler: _Handler) -> web.StreamResponse:
        watcher.maybe_reload()
        state = watcher.state
        request[STATE_KEY] = state
        request[_DEADLINE_KEY] = asyncio.get_running_loop().time() + read_timeout
        if state.limiter is not None and not state.limiter.allow():
            return plain_error(429, "Too Many Requests")
        if state.allowed_sans is not None:
            transport = request.transport
            ssl_object = transport.get_extra_info("ssl_object") if transport else None
            if ssl_object is None or not peer_san_allowed(ssl_object, state.allowed_sans):
                log.error(
                    "TLS client rejected",
                    extra=kv(
                        component="web",
                        remote=request.remote or "",
                        err="could not find allowed SANs in client cert",
                    ),
                )
                if transport is not None:
                    transport.abort()
                return plain_error(403, "Forbidden")
        if state.users and _request_path(request) not in state.exempt_paths:
            refused = await _authenticate(request, state, authenticator)
            if refused is not None:
                return refused
        return await handler(request)

    async def add_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
        state = request.get(STATE_KEY) or watcher.state
        for name, value in state.headers:
            response.headers[name] = value

    app.middlewares.insert(0, guard)
    app.on_response_prepare.append(add_headers)


async def read_body(request: web.Request, max_bytes: int) -> bytes:
    """The request body, at most ``max_bytes`` (413 beyond) and within the read timeout (408).

    Use it on every receiving endpoint with that endpoint's own limit.
    """
    if request.content_length is not None and request.content_length > max_bytes:
        raise _too_large(max_bytes)
    deadline = request.get(_DEADLINE_KEY)
    loop = asyncio.get_running_loop()
    remaining = None if deadline is None else max(0.0, deadline - loop.time())
    buf = bytearray()
    try:
        async with asyncio.timeout(remaining):
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                buf += chunk
                if len(buf) > max_bytes:
                    raise _too_large(max_bytes)
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text="Request Timeout\n", content_type="text/plain", headers={"Connection": "close"}
        ) from None
    return bytes(buf)


def _too_large(max_bytes: int) -> web.HTTPRequestEntityTooLarge:
    exc = web.HTTPRequestEntityTooLarge(max_size=max_bytes, actual_size=0)
    exc.text = f"request body too large: limit is {max_bytes} bytes\n"
    exc.headers["Connection"] = "close"
    exc.headers["X-Content-Type-Options"] = "nosniff"
    return exc
