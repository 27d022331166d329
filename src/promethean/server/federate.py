"""``/federate``: the latest sample of every selected series, for another server to scrape.

Output is what upstream writes, so a Go Prometheus can federate from
promethean and the other way round: every family typed ``untyped`` with no
HELP, every sample with its millisecond timestamp, the server's external
labels added to series that lack them (a series' own label wins, as
upstream's). The scraping side sets ``honor_labels: true`` to keep ``job``
and ``instance`` as written here; with the default it renames them
``exported_job``/``exported_instance`` (SECURITY-MODEL P1).

A sample counts when it lies within the lookback delta before now and is
not a staleness marker. Selection runs in a worker thread: a large federation
request must not stall scrapes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiohttp import web

from promethean.model.exposition import MetricFamily, MetricType, Sample
from promethean.model.labels import Labels
from promethean.model.matchers import Matcher
from promethean.model.protobuf import write_protobuf
from promethean.model.writer import write_text
from promethean.promql.errors import PromQLParseError
from promethean.promql.parser import parse_metric_selector
from promethean.server.context import ServerContext
from promethean.tsdb.storage import Storage, is_stale
from promethean.web import plain_error

__all__ = ["add_federate_route", "federate_families"]

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PROTO_CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)


def federate_families(
    storage: Storage,
    selectors: Sequence[Sequence[Matcher]],
    now_ms: int,
    lookback_ms: int,
    external_labels: dict[str, str],
) -> list[MetricFamily]:
    """The families ``/federate`` answers with for these selectors at ``now_ms``."""
    mint, maxt = now_ms - lookback_ms, now_ms
    latest: dict[Labels, tuple[int, float]] = {}
    querier = storage.querier(mint, maxt)
    try:
        for matchers in selectors:
            for series in querier.select(matchers):
                if series.labels in latest or len(series.timestamps) == 0:
                    continue
                t = int(series.timestamps[-1])
                v = float(series.values[-1])
                if t < mint or t > maxt or is_stale(v):
                    continue
                latest[series.labels] = (t, v)
    finally:
        querier.close()
    families: dict[str, MetricFamily] = {}
    for labels in sorted(latest, key=lambda ls: (ls.metric_name, ls)):
        t, v = latest[labels]
        name = labels.metric_name
        rest = dict(labels.without("__name__"))
        for key, value in external_labels.items():
            rest.setdefault(key, value)
        fam = families.get(name)
        if fam is None:
            fam = families[name] = MetricFamily(name=name, type=MetricType.UNKNOWN)
        fam.samples.append(Sample(name, Labels.from_dict(rest), v, t))
    return list(families.values())


def _wants_protobuf(accept: str) -> bool:
    for part in accept.split(","):
        media, _, params = part.partition(";")
        if media.strip().lower() == "application/vnd.google.protobuf" and (
            "io.prometheus.client.MetricFamily" in params and "delimited" in params
        ):
            return True
    return False


def add_federate_route(app: web.Application, ctx: ServerContext) -> None:
    """Register ``GET <prefix>federate``."""

    async def federate(request: web.Request) -> web.StreamResponse:
        texts = request.query.getall("match[]", [])
        selectors: list[tuple[Matcher, ...]] = []
        for text in texts:
            try:
                selectors.append(parse_metric_selector(text))
            except PromQLParseError as exc:
                return plain_error(400, str(exc))
        db = ctx.db
        if db is None or not selectors:
            return web.Response(body=b"", headers={"Content-Type": TEXT_CONTENT_TYPE})
        families = await asyncio.to_thread(
            federate_families,
            db,
            selectors,
            int(time.time() * 1000),
            ctx.options.lookback_ms,
            ctx.external_labels(),
        )
        if _wants_protobuf(request.headers.get("Accept", "")):
            return web.Response(
                body=write_protobuf(families), headers={"Content-Type": PROTO_CONTENT_TYPE}
            )
        return web.Response(
            body=write_text(families).encode(), headers={"Content-Type": TEXT_CONTENT_TYPE}
        )

    app.router.add_get(ctx.path("/federate"), federate, allow_head=False)
