"""The HTTP API v1 (``/api/v1/...``): routes, CORS and the router's plain-text errors.

``add_api_routes(app, ctx)`` registers every read endpoint with upstream's
methods (GET, and POST with a form body where upstream accepts both) and
installs one middleware that

* answers ``OPTIONS`` on any path under ``<prefix>api/v1/`` with 204, the
  admin routes included, existing or not;
* adds CORS headers (security model W2) to API responses when the request
  carries ``Origin``: ``Access-Control-Allow-Origin: *`` for the default
  ``--web.cors.origin=.*``, the origin echoed when it matches a specific
  pattern, nothing when it does not. CORS tells a browser what it may read;
  the request still runs, as upstream;
* turns the router's 404 and 405 into Go's plain-text answers
  (``404 page not found``, ``Method Not Allowed`` with ``Allow``) for the
  whole app.

Handlers parse the form, check parameters on the loop (cheap) and run PromQL
and index lookups in the query pool (:class:`QueryRunner`), never on the loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from promethean.logs import kv
from promethean.server import api_meta, api_query, api_status
from promethean.server.api_params import ApiError, Form, parse_form
from promethean.server.api_query import QueryRunner
from promethean.web import api_error, plain_error

if TYPE_CHECKING:
    from promethean.server.context import ServerContext

__all__ = ["CORS_HEADERS", "RUNNER_KEY", "add_api_routes"]

log = logging.getLogger("promethean.server.api")

RUNNER_KEY = web.AppKey("promethean.server.query_runner", QueryRunner)

#: Sent with every API response to a request that carries ``Origin``.
CORS_HEADERS = {
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Origin",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Expose-Headers": "Date",
    "Vary": "Origin",
}
# Under api/v1/ but not wrapped by upstream's API handler: no CORS there.
_NO_CORS = ("read", "write")

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_Sync = Callable[["ServerContext", Form], web.Response]
_Deferred = Callable[["ServerContext", Form], Callable[[], web.Response]]


def _error(exc: ApiError) -> web.Response:
    return api_error(exc.error_type, exc.message)


def add_api_routes(app: web.Application, ctx: ServerContext) -> None:
    """Register the API v1 read endpoints and the middleware described above."""
    runner = QueryRunner(ctx)
    app[RUNNER_KEY] = runner

    async def _close(_app: web.Application) -> None:
        runner.close()

    app.on_cleanup.append(_close)

    async def run_off_loop(fn: Callable[[], web.Response]) -> web.Response:
        return await runner.call(fn)

    def sync(fn: _Sync) -> _Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                form = await parse_form(request)
                return fn(ctx, form)
            except ApiError as exc:
                return _error(exc)

        return handle

    def deferred(fn: _Deferred) -> _Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                form = await parse_form(request)
                return await run_off_loop(fn(ctx, form))
            except ApiError as exc:
                return _error(exc)

        return handle

    def query(method: Callable[[QueryRunner, Form], Awaitable[web.Response]]) -> _Handler:
        async def handle(request: web.Request) -> web.StreamResponse:
            try:
                form = await parse_form(request)
                return await method(runner, form)
            except ApiError as exc:
                return _error(exc)

        return handle

    async def label_values(request: web.Request) -> web.StreamResponse:
        try:
            form = await parse_form(request)
            work = api_meta.label_values_work(ctx, request.match_info["name"], form)
            return await run_off_loop(work)
        except ApiError as exc:
            return _error(exc)

    async def drop_series(request: web.Request) -> web.StreamResponse:
        return api_error("internal", "not implemented")

    get_post: list[tuple[str, _Handler]] = [
        ("query", query(QueryRunner.query)),
        ("query_range", query(QueryRunner.query_range)),
        ("query_exemplars", sync(api_query.query_exemplars)),
        ("format_query", sync(api_query.format_query)),
        ("parse_query", sync(api_query.parse_query)),
        ("labels", deferred(api_meta.label_names_work)),
        ("series", deferred(api_meta.series_work)),
    ]
    get_only: list[tuple[str, _Handler]] = [
        ("label/{name}/values", label_values),
        ("targets", sync(api_meta.targets)),
        ("targets/metadata", sync(api_meta.target_metadata)),
        ("alertmanagers", sync(api_meta.alertmanagers)),
        ("metadata", sync(api_meta.metadata)),
        ("status/config", sync(api_status.config)),
        ("status/runtimeinfo", sync(api_status.runtimeinfo)),
        ("status/buildinfo", sync(api_status.buildinfo)),
        ("status/flags", sync(api_status.flags)),
        ("status/tsdb", deferred(api_status.tsdb_work)),
        ("status/walreplay", sync(api_status.walreplay)),
        ("alerts", sync(api_meta.alerts)),
        ("rules", sync(api_meta.rules)),
    ]
    for name, handler in get_post:
        path = ctx.path(f"api/v1/{name}")
        app.router.add_route("GET", path, handler)
        app.router.add_route("POST", path, handler)
    for name, handler in get_only:
        app.router.add_route("GET", ctx.path(f"api/v1/{name}"), handler)
    app.router.add_route("DELETE", ctx.path("api/v1/series"), drop_series)
    app.middlewares.append(_api_middleware(ctx))


def _cors_headers(ctx: ServerContext, origin: str) -> dict[str, str]:
    headers = dict(CORS_HEADERS)
    options = ctx.options
    if options.cors_origin_text == ".*":
        headers["Access-Control-Allow-Origin"] = "*"
    elif options.cors_origin.fullmatch(origin):
        headers["Access-Control-Allow-Origin"] = origin
    return headers


def _router_error(request: web.Request) -> web.StreamResponse | None:
    """Go's plain-text 404/405 when the router found no handler, else None."""
    exc = request.match_info.http_exception
    if exc is None:
        return None
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(set(exc.allowed_methods) | {"OPTIONS"})
        return plain_error(405, "Method Not Allowed", {"Allow": ", ".join(allowed)})
    if isinstance(exc, web.HTTPNotFound):
        return plain_error(404, "404 page not found")
    return None


def _api_middleware(ctx: ServerContext) -> Middleware:
    api_root = ctx.path("api/v1/")
    no_cors = {ctx.path(f"api/v1/{name}") for name in _NO_CORS}

    @web.middleware
    async def middleware(request: web.Request, handler: _Handler) -> web.StreamResponse:
        path = request.path
        in_api = path.startswith(api_root) and path not in no_cors
        origin = request.headers.get("Origin", "")
        if in_api and request.method == "OPTIONS":
            preflight = web.Response(status=204)
            if origin:
                preflight.headers.update(_cors_headers(ctx, origin))
            return preflight
        routed = _router_error(request)
        if routed is not None:
            return routed
        resp: web.StreamResponse
        try:
            resp = await handler(request)
        except web.HTTPException as exc:
            if not in_api or not origin:
                raise
            exc.headers.update(_cors_headers(ctx, origin))
            raise
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not in_api:
                raise
            log.error(
                "API handler failed",
                extra=kv(component="api", path=path, err=type(exc).__name__),
            )
            resp = api_error("internal", "internal server error")
        if in_api and origin:
            resp.headers.update(_cors_headers(ctx, origin))
        return resp

    return middleware
