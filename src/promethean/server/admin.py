"""The TSDB admin API: ``delete_series``, ``clean_tombstones``, ``snapshot`` (SECURITY-MODEL P2).

The routes exist whether or not ``--web.enable-admin-api`` is given, because
upstream answers the disabled case with a specific JSON error (500,
``unavailable``, ``admin APIs disabled``) that tools recognise. Only POST and
PUT do anything; other methods get the router's 405 with upstream's
``Allow`` list. CORS and the ``OPTIONS`` answer come from the API's
middleware like every ``/api/v1`` path.

Beyond upstream: label names in ``match[]`` are validated (400, clear error)
and every call is written to the log as an audit line (who, from where, what),
whether it was refused, failed or done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from multidict import MultiDict

from promethean.logs import kv
from promethean.model.matchers import Matcher, MatchType
from promethean.model.names import is_valid_label_name
from promethean.promql.errors import PromQLParseError
from promethean.promql.parser import parse_metric_selector
from promethean.server.context import ServerContext
from promethean.server.lifecycle import audit
from promethean.web import api_error, api_success, plain_error

if TYPE_CHECKING:
    from promethean.tsdb.db import DB

__all__ = ["add_admin_routes", "parse_admin_selector", "parse_go_bool", "parse_time_param"]

log = logging.getLogger("promethean.server")

_ALLOW = "OPTIONS, POST, PUT"
_MIN_TIME_MS = -(2**63) // 1_000_000  # upstream's MinTime: math.MinInt64 / 2 in ms, clipped
_MAX_TIME_MS = (2**63 - 1) // 1_000_000
_EVERYTHING = Matcher("__name__", MatchType.REGEX, ".+")
_GO_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_GO_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_go_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``; ValueError with upstream's wording."""
    if text in _GO_TRUE:
        return True
    if text in _GO_FALSE:
        return False
    raise ValueError(
        f'unable to parse boolean: strconv.ParseBool: parsing "{text}": invalid syntax'
    )


def parse_time_param(name: str, text: str) -> int:
    """A time parameter (Unix seconds with fraction, or RFC3339) in milliseconds."""
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
        if _RFC3339.match(text):
            with contextlib.suppress(ValueError):
                seconds = datetime.fromisoformat(text.replace("z", "Z")).timestamp()
    if math.isnan(seconds) or math.isinf(seconds):
        raise ValueError(
            f"Invalid time value for '{name}': cannot parse \"{text}\" to a valid timestamp"
        )
    ms = round(seconds * 1000)
    return max(_MIN_TIME_MS, min(_MAX_TIME_MS, ms))


def parse_admin_selector(text: str) -> tuple[Matcher, ...]:
    """A ``match[]`` selector as upstream's admin API accepts it.

    Unlike queries and ``/api/v1/series``, upstream accepts a selector whose
    matchers all match the empty string (``{job=~".*"}``): it deletes every
    series. The parser refuses those, so they are parsed with a placeholder
    matcher that is then removed. Label names must be valid (beyond upstream).
    """
    try:
        matchers = parse_metric_selector(text)
    except PromQLParseError as exc:
        if not str(exc).endswith("at least one non-empty matcher"):
            raise
        brace = text.index("{")
        widened = f'{text[: brace + 1]}__name__=~".+",{text[brace + 1 :]}'
        try:
            matchers = parse_metric_selector(widened)
        except PromQLParseError:
            raise exc from None
        rest = list(matchers)
        rest.remove(_EVERYTHING)
        matchers = tuple(rest)
    for m in matchers:
        if not is_valid_label_name(m.name):
            raise ValueError(f'invalid label name: "{m.name}"')
    return matchers


async def _form(request: web.Request) -> MultiDict[str]:
    """Query parameters overlaid by a form body (the form wins, as Go's ParseForm)."""
    merged: MultiDict[str] = MultiDict()
    body_keys: set[str] = set()
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        body = await request.post()
        body_keys = set(body.keys())
        for key, value in body.items():
            if isinstance(value, str):
                merged.add(key, value)
    for key, value in request.query.items():
        if key not in body_keys:
            merged.add(key, value)
    return merged


def kv_err(exc: BaseException) -> dict[str, object]:
    return kv(component="api", err=str(exc) or type(exc).__name__)


def _bad(message: str) -> web.Response:
    return api_error("bad_data", message)


def add_admin_routes(app: web.Application, ctx: ServerContext) -> None:
    """Register the three admin endpoints under ``<prefix>api/v1/admin/tsdb/``."""

    def gate(request: web.Request, action: str) -> tuple[web.Response | None, DB | None]:
        if request.method not in ("POST", "PUT"):
            return plain_error(405, "Method Not Allowed", {"Allow": _ALLOW}), None
        if not ctx.options.enable_admin_api:
            audit(request, action, "refused", reason="admin APIs disabled")
            return api_error("unavailable", "admin APIs disabled", status=500), None
        if ctx.db is None:
            return api_error("unavailable", "TSDB not ready"), None
        return None, ctx.db

    async def delete_series(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204)
        refused, db = gate(request, "delete_series")
        if refused is not None or db is None:
            return refused or api_error("unavailable", "TSDB not ready")
        form = await _form(request)
        selectors = form.getall("match[]", [])
        if not selectors:
            audit(request, "delete_series", "invalid", reason="no match[]")
            return _bad("no match[] parameter provided")
        try:
            start = parse_time_param("start", form["start"]) if "start" in form else _MIN_TIME_MS
        except ValueError as exc:
            return _bad(f'invalid parameter "start": {exc}')
        try:
            end = parse_time_param("end", form["end"]) if "end" in form else _MAX_TIME_MS
        except ValueError as exc:
            return _bad(f'invalid parameter "end": {exc}')
        matcher_sets = []
        for text in selectors:
            try:
                matcher_sets.append(parse_admin_selector(text))
            except (PromQLParseError, ValueError) as exc:
                audit(request, "delete_series", "invalid", match=",".join(selectors))
                return _bad(f'invalid parameter "match[]": {exc}')
        try:
            for matchers in matcher_sets:
                await asyncio.to_thread(db.delete_series, matchers, start, end)
        except Exception as exc:
            audit(request, "delete_series", "failed", match=",".join(selectors))
            log.error("delete_series failed", extra=kv_err(exc))
            return api_error("internal", f"delete series: {exc}")
        audit(request, "delete_series", "ok", match=",".join(selectors), start=start, end=end)
        return web.Response(status=204)

    async def clean_tombstones(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204)
        refused, db = gate(request, "clean_tombstones")
        if refused is not None or db is None:
            return refused or api_error("unavailable", "TSDB not ready")
        try:
            await asyncio.to_thread(db.clean_tombstones)
        except Exception as exc:
            audit(request, "clean_tombstones", "failed")
            log.error("clean_tombstones failed", extra=kv_err(exc))
            return api_error("internal", f"clean tombstones: {exc}")
        audit(request, "clean_tombstones", "ok")
        return web.Response(status=204)

    async def snapshot(request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":
            return web.Response(status=204)
        refused, db = gate(request, "snapshot")
        if refused is not None or db is None:
            return refused or api_error("unavailable", "TSDB not ready")
        form = await _form(request)
        skip_head = False
        if form.get("skip_head"):
            try:
                skip_head = parse_go_bool(form["skip_head"])
            except ValueError as exc:
                return _bad(f'invalid parameter "skip_head": {exc}')
        try:
            name = await asyncio.to_thread(db.snapshot, skip_head)
        except Exception as exc:
            audit(request, "snapshot", "failed")
            log.error("snapshot failed", extra=kv_err(exc))
            return api_error("internal", f"create snapshot: {exc}")
        audit(request, "snapshot", "ok", name=name, skip_head=skip_head)
        return api_success({"name": name})

    base = "/api/v1/admin/tsdb/"
    app.router.add_route("*", ctx.path(base + "delete_series"), delete_series)
    app.router.add_route("*", ctx.path(base + "clean_tombstones"), clean_tombstones)
    app.router.add_route("*", ctx.path(base + "snapshot"), snapshot)
