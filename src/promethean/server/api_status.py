"""The ``/api/v1/status/*`` endpoints: config, flags, runtime and build info, TSDB
cardinality and WAL replay progress.

``status/config`` shows only :meth:`ServerContext.config_yaml`, the one
rendering of the config that masks every secret (security model K1).
``status/tsdb`` reads the head's postings index: which metrics and labels
drive the series count, the first thing an operator looks at when memory
grows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
from aiohttp import web

from promethean.model.matchers import Matcher, MatchType
from promethean.server.api_params import ApiError, Form
from promethean.tsdb.head import INT64_MAX, INT64_MIN
from promethean.web import api_success

if TYPE_CHECKING:
    from promethean.server.context import ServerContext
    from promethean.tsdb.head import Head

__all__ = [
    "buildinfo",
    "config",
    "flags",
    "head_cardinality",
    "head_chunk_count",
    "runtimeinfo",
    "tsdb_work",
    "walreplay",
]


def config(ctx: ServerContext, form: Form) -> web.Response:
    return api_success({"yaml": ctx.config_yaml()})


def flags(ctx: ServerContext, form: Form) -> web.Response:
    return api_success(dict(ctx.flags))


def runtimeinfo(ctx: ServerContext, form: Form) -> web.Response:
    return api_success(ctx.runtime_info())


def buildinfo(ctx: ServerContext, form: Form) -> web.Response:
    return api_success(ctx.build_info.as_json())


def walreplay(ctx: ServerContext, form: Form) -> web.Response:
    return api_success(ctx.wal_replay.as_json())


def head_chunk_count(head: Head) -> int:
    """Chunks the head holds now: closed ones plus each series' open chunk.

    Upstream's ``chunkCount`` (and ``prometheus_tsdb_head_chunks``) counts the
    open head chunk of every series, so a young head that has cut no chunk yet
    still reports one per series with samples. The head keeps no such gauge,
    so it is read from its slot arrays; the created-chunks counter is the
    fallback should their layout change.
    """
    closed = getattr(head, "_closed", None)
    fill = getattr(head, "_n", None)
    if closed is None or fill is None:
        return int(head.stats.chunks_created)
    n_closed = sum(len(lst) for lst in list(closed) if lst)
    return n_closed + int(np.count_nonzero(fill))


def _top(counts: dict[str, int], limit: int) -> list[dict[str, object]]:
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return [{"name": name, "value": value} for name, value in ranked]


def head_cardinality(head: Head, limit: int = 10) -> dict[str, object]:
    """``status/tsdb``'s data from the head index, top ``limit`` per list as upstream."""
    by_metric: dict[str, int] = {}
    values_per_name: dict[str, int] = {}
    bytes_per_name: dict[str, int] = {}
    by_pair: dict[str, int] = {}
    pairs = 0
    q = head.querier(INT64_MIN, INT64_MAX)
    try:
        for name in q.label_names():
            values = q.label_values(name)
            values_per_name[name] = len(values)
            pairs += len(values)
            size = 0
            for value in values:
                n = len(head.select_refs([Matcher(name, MatchType.EQUAL, value)]))
                if name == "__name__":
                    by_metric[value] = n
                by_pair[f"{name}={value}"] = n
                size += len(value.encode()) * n
            bytes_per_name[name] = size
    finally:
        q.close()
    min_t, max_t = head.min_time, head.max_time
    return {
        "headStats": {
            "numSeries": head.num_series,
            "numLabelPairs": pairs,
            "chunkCount": head_chunk_count(head),
            "minTime": min_t,
            "maxTime": max_t,
        },
        "seriesCountByMetricName": _top(by_metric, limit),
        "labelValueCountByLabelName": _top(values_per_name, limit),
        "memoryInBytesByLabelName": _top(bytes_per_name, limit),
        "seriesCountByLabelValuePair": _top(by_pair, limit),
    }


def tsdb_work(ctx: ServerContext, form: Form) -> Callable[[], web.Response]:
    text = form.get("limit")
    limit = 10
    if text != "":
        try:
            limit = int(text)
        except ValueError:
            limit = 0
        if limit < 1:
            raise ApiError("bad_data", "limit must be a positive number")
    db = ctx.db
    if db is None:
        raise ApiError("unavailable", "TSDB not ready")

    def work() -> web.Response:
        return api_success(head_cardinality(db.head, limit))

    return work
