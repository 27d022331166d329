"""The server's own ``/metrics`` (SECURITY-MODEL D3), with upstream's metric names.

Dashboards and alerts written for Go Prometheus (``prometheus_tsdb_head_series``,
``prometheus_config_last_reload_successful``, ...) keep working against
promethean because the names, types and labels are upstream's wherever the
meaning is the same. Values owned by another part (the TSDB's counters, the
scrape manager's targets) are read when ``/metrics`` is scraped rather than
pushed on every change, so the hot paths carry no metrics code.

Query durations are observed per API request (``slice="inner_eval"`` holds
the wall time of ``/api/v1/query`` and ``/api/v1/query_range``): the engine
itself keeps no timers.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Summary,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from promethean.server.api_status import head_chunk_count
from promethean.server.context import ServerContext

__all__ = ["ServerMetrics", "add_metrics_route"]

_QUERY_HANDLERS = frozenset({"/api/v1/query", "/api/v1/query_range"})


class _StorageCollector(Collector):
    """TSDB figures, read from the running database when scraped.

    The scrape figures (``prometheus_target_*``, ``prometheus_sd_*``) come from
    the scrape manager's own collector, registered once scraping starts.
    """

    def __init__(self, ctx: ServerContext) -> None:
        self._ctx = ctx

    def collect(self) -> Iterator[Metric]:
        db = self._ctx.db
        if db is None:
            return
        head = db.head
        stats = db.stats
        hs = stats.head
        yield GaugeMetricFamily(
            "prometheus_tsdb_head_series",
            "Total number of series in the head block.",
            value=head.num_series,
        )
        appended = CounterMetricFamily(
            "prometheus_tsdb_head_samples_appended",
            "Total number of appended samples.",
            labels=["type"],
        )
        appended.add_metric(["float"], hs.samples_appended)
        yield appended
        yield CounterMetricFamily(
            "prometheus_tsdb_head_series_created",
            "Total number of series created in the head",
            value=hs.series_created,
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_head_series_removed",
            "Total number of series removed in the head",
            value=hs.series_removed,
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_head_chunks_created",
            "Total number of chunks created in the head",
            value=hs.chunks_created,
        )
        yield GaugeMetricFamily(
            "prometheus_tsdb_head_chunks",
            "Total number of chunks in the head block.",
            value=head_chunk_count(head),
        )
        ooo = CounterMetricFamily(
            "prometheus_tsdb_out_of_order_samples",
            "Total number of out of order samples ingestion failed attempts.",
            labels=["type"],
        )
        ooo.add_metric(["float"], hs.out_of_order_samples)
        yield ooo
        if head.max_time >= head.min_time:
            yield GaugeMetricFamily(
                "prometheus_tsdb_head_min_time",
                "Minimum time bound of the head block.",
                value=head.min_time,
            )
            yield GaugeMetricFamily(
                "prometheus_tsdb_head_max_time",
                "Maximum timestamp of the head block.",
                value=head.max_time,
            )
        yield GaugeMetricFamily(
            "prometheus_tsdb_blocks_loaded",
            "Number of currently loaded data blocks",
            value=len(db.blocks),
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_compactions",
            "Total number of compactions that were executed for the partition.",
            value=stats.compactions,
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_compactions_failed",
            "Total number of compactions that failed for the partition.",
            value=stats.compactions_failed,
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_head_truncations",
            "Total number of head truncations attempted.",
            value=stats.head_truncations,
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_checkpoint_creations",
            "Total number of checkpoint creations attempted.",
            value=stats.checkpoints_created,
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_wal_corruptions",
            "Total number of WAL corruptions.",
            value=stats.wal_corruptions,
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_time_retentions",
            "The number of times that blocks were deleted because the maximum time limit was "
            "exceeded.",
            value=stats.retention_time_deletions,
        )
        yield CounterMetricFamily(
            "prometheus_tsdb_size_retentions",
            "The number of times that blocks were deleted because the maximum number of bytes "
            "was exceeded.",
            value=stats.retention_size_deletions,
        )
        yield GaugeMetricFamily(
            "prometheus_tsdb_data_replay_duration_seconds",
            "Time taken to replay the data on disk.",
            value=stats.wal_replay_seconds,
        )


class ServerMetrics:
    """The server's self-metrics, registered in ``ctx.registry``."""

    def __init__(self, ctx: ServerContext) -> None:
        reg: CollectorRegistry = ctx.registry
        self._ctx = ctx
        ProcessCollector(registry=reg)
        PlatformCollector(registry=reg)
        build = Gauge(
            "prometheus_build_info",
            "A metric with a constant '1' value labeled by version, revision, branch, "
            "goversion from which prometheus was built, and the goos and goarch for the build.",
            ["version", "revision", "branch", "goversion", "goos", "goarch", "tags"],
            registry=reg,
        )
        info = ctx.build_info
        build.labels(
            info.version, info.revision, info.branch, info.go_version, "linux", "", ""
        ).set(1)
        self.reload_success = Gauge(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            registry=reg,
        )
        self.reload_timestamp = Gauge(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            registry=reg,
        )
        self.ready = Gauge(
            "prometheus_ready",
            "Whether Prometheus startup was fully completed and the server "
            "is ready for normal operation.",
            registry=reg,
        )
        self.ready.set_function(lambda: 1.0 if ctx.is_ready() else 0.0)
        Gauge(
            "prometheus_engine_queries_concurrent_max",
            "The max number of concurrent queries.",
            registry=reg,
        ).set(ctx.options.query_max_concurrency)
        Gauge(
            "prometheus_api_remote_read_queries",
            "The current number of remote read queries being executed or waiting.",
            registry=reg,
        ).set(0)
        self.query_duration = Summary(
            "prometheus_engine_query_duration_seconds",
            "Query timings",
            ["slice"],
            registry=reg,
        )
        ctx.query_load.observe_queue_time = self.query_duration.labels("queue_time").observe
        Gauge(
            "prometheus_engine_queries",
            "The current number of queries being executed or waiting.",
            registry=reg,
        ).set_function(lambda: float(ctx.query_load.active))
        self.http_requests = Counter(
            "prometheus_http_requests",
            "Counter of HTTP requests.",
            ["handler", "code"],
            registry=reg,
        )
        self.http_duration = Histogram(
            "prometheus_http_request_duration_seconds",
            "Histogram of latencies for HTTP requests.",
            ["handler"],
            buckets=(0.1, 0.2, 0.4, 1, 3, 8, 20, 60, 120),
            registry=reg,
        )
        reg.register(_StorageCollector(ctx))
        self.reload_done(True)

    def reload_done(self, ok: bool) -> None:
        """Record a (re)load: success also moves the success timestamp."""
        self.reload_success.set(1 if ok else 0)
        if ok:
            self.reload_timestamp.set(time.time())

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        """Counts every request by route (``handler``) and status code, as upstream."""
        prefix = self._ctx.options.route_prefix.rstrip("/")

        @web.middleware
        async def count(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            started = time.perf_counter()
            code = 500
            try:
                response = await handler(request)
                code = response.status
                return response
            except web.HTTPException as exc:
                code = exc.status
                raise
            finally:
                elapsed = time.perf_counter() - started
                route = _route_name(request, prefix)
                self.http_requests.labels(route, str(code)).inc()
                self.http_duration.labels(route).observe(elapsed)
                if route in _QUERY_HANDLERS and code == 200:
                    self.query_duration.labels("inner_eval").observe(elapsed)

        return count


def _route_name(request: web.Request, prefix: str) -> str:
    info = request.match_info.route.resource
    name = info.canonical if info is not None else ""
    if not name:
        return "/"
    if prefix and name.startswith(prefix):
        name = name[len(prefix) :] or "/"
    return name


def add_metrics_route(app: web.Application, ctx: ServerContext) -> None:
    """``GET <prefix>metrics``: the registry in the format the scraper asks for."""

    async def metrics(request: web.Request) -> web.StreamResponse:
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        body = encoder(ctx.registry)
        return web.Response(body=body, headers={"Content-Type": content_type})

    app.router.add_get(ctx.path("/metrics"), metrics)
