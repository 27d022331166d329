"""Query results as the API's JSON text, number for number as upstream writes them.

Why not ``json.dumps`` on a dict: sample values are strings in Go's shortest
fixed-point form (``"1000000"``, never ``"1e+06"``; ``"NaN"``, ``"+Inf"``) and
timestamps are seconds written from the millisecond integer
(``1795753957.049``, ``1.500``, ``1795754000``), which no float round trip
reproduces. Clients that compare answers byte for byte (promtool, dashboards'
caches) see the same text as from a Go server.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from aiohttp import web

from promethean.model.labels import Labels
from promethean.promql.engine import QueryResult, SeriesResult
from promethean.web import dumps

__all__ = [
    "format_sample_value",
    "format_timestamp",
    "labels_json",
    "query_data_json",
    "raw_success",
]


def format_sample_value(value: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)`` with upstream's names for the specials."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    if "e" in text:
        return np.format_float_positional(value, unique=True, trim="-")
    if text.endswith(".0"):
        return text[:-2]
    return text


def format_timestamp(ms: int) -> str:
    """Milliseconds as seconds, the fraction written with three digits when there is one."""
    sign = ""
    if ms < 0:
        sign, ms = "-", -ms
    seconds, fraction = divmod(ms, 1000)
    if fraction:
        return f"{sign}{seconds}.{fraction:03d}"
    return f"{sign}{seconds}"


def labels_json(labels: Labels) -> str:
    return dumps(dict(labels))


def _point(t: int, v: float) -> str:
    return f'[{format_timestamp(t)},"{format_sample_value(v)}"]'


def _series_json(series: SeriesResult) -> str:
    points = ",".join(
        _point(t, v)
        for t, v in zip(series.timestamps.tolist(), series.values.tolist(), strict=True)
    )
    return f'{{"metric":{labels_json(series.labels)},"values":[{points}]}}'


def query_data_json(result: QueryResult) -> str:
    """The ``data`` object of ``/api/v1/query`` and ``query_range``."""
    if result.type == "vector":
        items = ",".join(
            f'{{"metric":{labels_json(s.labels)},"value":{_point(s.t, s.v)}}}'
            for s in result.vector
        )
        body = f"[{items}]"
    elif result.type == "matrix":
        body = "[" + ",".join(_series_json(s) for s in result.matrix) + "]"
    elif result.type == "scalar":
        body = _point(*result.scalar)
    else:
        t, text = result.string
        body = f"[{format_timestamp(t)},{dumps(text)}]"
    return f'{{"resultType":"{result.type}","result":{body}}}'


def raw_success(
    data_json: str,
    *,
    warnings: Iterable[str] = (),
    infos: Iterable[str] = (),
) -> web.Response:
    """The success envelope around ``data`` already written as JSON text."""
    parts = ['{"status":"success","data":', data_json]
    warnings = list(warnings)
    infos = list(infos)
    if warnings:
        parts.append(',"warnings":' + dumps(warnings))
    if infos:
        parts.append(',"infos":' + dumps(infos))
    parts.append("}")
    return web.Response(
        body="".join(parts).encode(),
        status=200,
        headers={"Content-Type": "application/json"},
    )
