"""HTTP API of the Pushgateway, routes and answers as the Go Pushgateway's.

Beyond upstream: every push is validated in full before anything is stored
(grouping key, body, consistency), an OpenMetrics body is refused rather than
half-understood, and admin and lifecycle endpoints are opt-in (G2).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from promethean import __version__
from promethean.logs import kv
from promethean.model import MetricType
from promethean.model.errors import ParseError
from promethean.pushgateway.groupkey import GroupKey, GroupKeyError, parse_group_path
from promethean.pushgateway.persistence import Persistence
from promethean.pushgateway.store import (
    PUSH_FAILURE_TIME,
    PUSH_TIME,
    Family,
    PushError,
    Store,
)
from promethean.pushgateway.textfmt import format_value
from promethean.web import client_identity, mount_under_prefix, read_body

log = logging.getLogger(__name__)

PROTOBUF_CONTENT_TYPE = "application/vnd.google.protobuf"
TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_PUSH_METHODS = "DELETE, OPTIONS, POST, PUT"


@dataclass
class Options:
    enable_admin_api: bool = False
    enable_lifecycle: bool = False
    flags: dict[str, str] | None = None
    max_body: int = 64 << 20
    telemetry_path: str = "/metrics"
    route_prefix: str = ""


def _plain(status: int, text: str, headers: dict[str, str] | None = None) -> web.Response:
    resp = web.Response(status=status, text=text, content_type="text/plain", charset="utf-8")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if headers:
        resp.headers.update(headers)
    return resp


class PushgatewayAPI:
    def __init__(self, store: Store, persistence: Persistence | None, options: Options) -> None:
        self.store = store
        self.persistence = persistence
        self.options = options
        self.start_time = dt.datetime.now(dt.UTC)
        self.quit_event = asyncio.Event()
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._requests = Counter(
            "pushgateway_http_requests_total",
            "Total HTTP requests processed by the Pushgateway, excluding scrapes.",
            ["code", "handler", "method"],
            registry=self.registry,
        )

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/metrics/{tail:.*}", self.push_handler),
            web.get(self.options.telemetry_path, self.metrics),
            web.get("/api/v1/status", self.status),
            web.get("/api/v1/metrics", self.api_metrics),
            web.route("*", "/api/v1/admin/wipe", self.wipe),
            web.route("*", "/-/quit", self.quit),
            web.route("*", "/-/healthy", self.healthy),
            web.route("*", "/-/ready", self.healthy),
        ]

    # -- pushes ------------------------------------------------------------

    async def push_handler(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        if method == "OPTIONS":
            return web.Response(status=200, headers={"Allow": _PUSH_METHODS})
        if method not in ("PUT", "POST", "DELETE"):
            return _plain(405, "Method Not Allowed\n", {"Allow": _PUSH_METHODS})
        tail = request.match_info["tail"]
        if tail == "job/":  # Go's router redirects the trailing slash (then 404s)
            return web.Response(status=307, headers={"Location": request.path.rstrip("/")})
        if tail == "job@base64/":
            return _plain(404, "404 page not found\n")
        try:
            key = parse_group_path(tail)
        except GroupKeyError as exc:
            status = 404 if str(exc) == "404 page not found" else 400
            self._count(status, "push", method)
            return _plain(status, f"{exc}\n" if status == 404 else str(exc))
        if method == "DELETE":
            await self._mutate(lambda: self._delete(key))
            log.info(
                "group deleted",
                extra=kv(component="api", group=dict(key), **client_identity(request)),
            )
            self._count(202, "delete", method)
            return web.Response(status=202)
        body = await read_body(request, self.options.max_body)
        try:
            content_type = request.headers.get("Content-Type", "")
            families = self.store.prepare_body(key, body, content_type)
        except ParseError as exc:
            self._count(400, "push", method)
            return _plain(400, _parse_error_text(exc, request))
        except PushError as exc:
            self._count(400, "push", method)
            return _plain(400, str(exc))
        now = time.time()
        try:
            await self._mutate(
                lambda: self._push(key, families, method == "PUT", now, body, content_type)
            )
        except PushError as exc:
            log.info("push refused", extra=kv(component="api", group=dict(key), err=str(exc)))
            self._count(400, "push", method)
            return _plain(400, str(exc))
        self._count(200, "push", method)
        return web.Response(status=200)

    async def _mutate(self, fn: Callable[[], None]) -> None:
        # Durable mode fsyncs before answering: keep that off the event loop.
        if self.persistence is not None and self.persistence.durable:
            await asyncio.to_thread(fn)
        else:
            fn()

    def _push(
        self,
        key: GroupKey,
        families: list[Family],
        replace: bool,
        now: float,
        body: bytes,
        content_type: str,
    ) -> None:
        with self.store.lock:
            self.store.push(key, families, replace, now)
            if self.persistence is not None and self.persistence.durable:
                # The request itself is the log record: replaying it rebuilds the group.
                self.persistence.record(Persistence.push_op(key, replace, content_type, body, now))

    def _delete(self, key: GroupKey) -> None:
        with self.store.lock:
            self.store.delete(key)
            if self.persistence is not None and self.persistence.durable:
                self.persistence.record(Persistence.delete_op(key))

    def _count(self, code: int, handler: str, method: str) -> None:
        self._requests.labels(str(code), handler, method.lower()).inc()

    # -- reading -----------------------------------------------------------

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        text = self.store.render_text().encode() + generate_latest(self.registry)
        headers = {"Content-Type": TEXT_CONTENT_TYPE}
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            text = gzip.compress(text, compresslevel=1)
            headers["Content-Encoding"] = "gzip"
        return web.Response(body=text, headers=headers)

    async def status(self, request: web.Request) -> web.StreamResponse:
        data = {
            "build_information": {
                "branch": "",
                "buildDate": "",
                "buildUser": "",
                "goVersion": "",
                "revision": "",
                "version": __version__,
            },
            "flags": self.options.flags or {},
            "start_time": self.start_time.isoformat().replace("+00:00", "Z"),
        }
        return _api_json(data)

    async def api_metrics(self, request: web.Request) -> web.StreamResponse:
        out = []
        for group in self.store.iter_groups():
            stamp = _rfc3339(group.push_time if group.push_time else group.failure_time)
            entry: dict[str, Any] = {
                "labels": dict(group.key),
                "last_push_successful": group.last_push_successful,
            }
            for name, fam in group.families.items():
                entry[name] = _family_json(fam, stamp)
            series = dict(group.series_labels())
            for name, value, help_text in (
                (PUSH_FAILURE_TIME, group.failure_time, "failed"),
                (PUSH_TIME, group.push_time, "succeeded"),
            ):
                entry[name] = {
                    "time_stamp": stamp,
                    "type": "GAUGE",
                    "help": f"Last Unix time when changing this group in the Pushgateway "
                    f"{help_text}.",
                    "metrics": [{"labels": series, "value": format_value(value)}],
                }
            out.append(entry)
        return _api_json(out)

    # -- admin and lifecycle -----------------------------------------------

    async def wipe(self, request: web.Request) -> web.StreamResponse:
        if not self.options.enable_admin_api:
            return _plain(404, "404 page not found\n")
        if request.method == "OPTIONS":
            return web.Response(status=200, headers={"Allow": "OPTIONS, PUT"})
        if request.method != "PUT":
            return _plain(405, "Method Not Allowed\n", {"Allow": "OPTIONS, PUT"})

        def do_wipe() -> None:
            with self.store.lock:
                self.store.wipe()
                if self.persistence is not None and self.persistence.durable:
                    self.persistence.record({"op": "wipe"})

        await self._mutate(do_wipe)
        log.warning(
            "all groups wiped via admin API", extra=kv(component="api", **client_identity(request))
        )
        return web.Response(status=202)

    async def quit(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("PUT", "POST"):
            return _plain(405, "Only POST or PUT requests allowed.")
        if not self.options.enable_lifecycle:
            return _plain(403, "Lifecycle API is not enabled.")
        log.warning(
            "received termination request via web service, exiting gracefully...",
            extra=kv(component="api", **client_identity(request)),
        )
        self.quit_event.set()
        return _plain(200, "Requesting termination... Goodbye!")

    async def healthy(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return _plain(405, "Method Not Allowed\n")
        return _plain(200, "OK\n")


def build_app(api: PushgatewayAPI) -> web.Application:
    # Bodies are read with read_body and the push limit; aiohttp's own cap must not be lower.
    size = max(api.options.max_body, 1 << 20)
    app = web.Application(client_max_size=size)
    app.add_routes(api.routes())
    return mount_under_prefix(app, api.options.route_prefix, client_max_size=size)


def _parse_error_text(exc: ParseError, request: web.Request) -> str:
    media = request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if media == PROTOBUF_CONTENT_TYPE:
        return f"protobuf parsing error: {exc}"
    return f"text format parsing error in line {exc.line}: {exc.message}" if exc.line else str(exc)


def _rfc3339(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat().replace("+00:00", "Z")


_API_TYPES = {
    MetricType.COUNTER: "COUNTER",
    MetricType.GAUGE: "GAUGE",
    MetricType.HISTOGRAM: "HISTOGRAM",
    MetricType.GAUGEHISTOGRAM: "GAUGE_HISTOGRAM",
    MetricType.SUMMARY: "SUMMARY",
    MetricType.UNKNOWN: "UNTYPED",
    MetricType.INFO: "GAUGE",
    MetricType.STATESET: "GAUGE",
}


def _family_json(fam: Family, stamp: str) -> dict[str, Any]:
    out: dict[str, Any] = {"time_stamp": stamp, "type": _API_TYPES[fam.type]}
    if fam.help:
        out["help"] = fam.help
    metrics: list[dict[str, Any]] = []
    if fam.type in (MetricType.HISTOGRAM, MetricType.GAUGEHISTOGRAM, MetricType.SUMMARY):
        series: dict[Any, dict[str, Any]] = {}
        for s, value in fam.samples():
            bucket_label = "le" if fam.type is not MetricType.SUMMARY else "quantile"
            base = s.labels.without(bucket_label)
            m = series.setdefault(base, {"labels": dict(base)})
            suffix = s.name[len(fam.name) :]
            if suffix in ("_count", "_gcount"):
                m["count"] = format_value(value)
            elif suffix in ("_sum", "_gsum"):
                m["sum"] = format_value(value)
            elif suffix == "_bucket" or (suffix == "" and fam.type is MetricType.SUMMARY):
                field = "buckets" if suffix == "_bucket" else "quantiles"
                m.setdefault(field, {})[s.labels.get(bucket_label)] = format_value(value)
        metrics = list(series.values())
    else:
        metrics = [{"labels": dict(s.labels), "value": format_value(v)} for s, v in fam.samples()]
    out["metrics"] = metrics
    return out


def _api_json(data: Any) -> web.Response:
    resp = web.json_response({"status": "success", "data": data})
    resp.headers.update(
        {
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
            "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Origin",
            "Access-Control-Expose-Headers": "Date",
            "Cache-Control": "no-cache, no-store, must-revalidate",
        }
    )
    return resp


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
