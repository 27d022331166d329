"""Protobuf scrapes: a real exporter on 127.0.0.1 serving delimited MetricFamily messages
(written with our own ``write_protobuf``), scraped by a real loop into a real DB."""

from __future__ import annotations

import random
from pathlib import Path

import aiohttp
import pytest
from _scrape_loop_support import Target, all_series, is_stale, make_loop, open_db, run

from promethean.model.errors import ParseError
from promethean.model.exposition import Exemplar, MetricFamily, MetricType, Sample
from promethean.model.histogram import NativeHistogram, Span
from promethean.model.labels import Labels
from promethean.model.protobuf import CONTENT_TYPE, parse_protobuf, write_protobuf
from promethean.model.relabel import RelabelConfig, RelabelRules
from promethean.model.scrapeparse import ScrapeParser

PROTO_FIRST = ("PrometheusProto", "OpenMetricsText1.0.0", "PrometheusText0.0.4")


def L(**kw: str) -> Labels:
    return Labels.from_dict(kw)


def _native(count: float) -> NativeHistogram:
    return NativeHistogram(
        schema=0,
        count=count,
        sum=1.5,
        positive_spans=(Span(0, 2),),
        positive_buckets=(count - 1, 1.0),
    )


def _families(requests: float = 10.0, with_temp: bool = True) -> list[MetricFamily]:
    fams = [
        MetricFamily(
            "http_requests_total",
            MetricType.COUNTER,
            "Requests served.",
            None,
            [
                Sample(
                    "http_requests_total",
                    L(code="200"),
                    requests,
                    exemplar=Exemplar(L(trace_id="abc"), 1.0, 1_000_000),
                ),
                Sample("http_requests_total", L(code="500"), 2.0),
            ],
        ),
        MetricFamily(
            "rpc",
            MetricType.SUMMARY,
            "RPC latency.",
            None,
            [
                Sample("rpc", L(quantile="0.5"), 0.25),
                Sample("rpc", L(quantile="0.99"), 0.75),
                Sample("rpc_sum", L(), 12.5),
                Sample("rpc_count", L(), 40.0),
            ],
        ),
        MetricFamily(
            "lat",
            MetricType.HISTOGRAM,
            "Latency.",
            "seconds",
            [
                Sample("lat_bucket", L(le="0.1"), 1.0),
                Sample("lat_bucket", L(le="1"), 3.0),
                Sample("lat_bucket", L(le="+Inf"), 4.0),
                Sample("lat_sum", L(), 2.5),
                Sample("lat_count", L(), 4.0),
            ],
        ),
        # Native only: not stored yet, skipped and counted.
        MetricFamily(
            "nat",
            MetricType.HISTOGRAM,
            "Native.",
            None,
            [Sample("nat", L(), 3.0, histogram=_native(3.0))],
        ),
    ]
    if with_temp:
        fams.append(MetricFamily("temp", MetricType.GAUGE, None, None, [Sample("temp", L(), 21.5)]))
    return fams


def _target(fams: list[MetricFamily]) -> Target:
    t = Target(content_type=CONTENT_TYPE)
    _serve(t, fams)
    return t


def _serve(t: Target, fams: list[MetricFamily]) -> None:
    from aiohttp import web

    body = write_protobuf(fams)

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})

    t.handler = handler


def test_protobuf_scrape_stores_the_classic_series_with_target_labels(tmp_path: Path) -> None:
    async def go() -> None:
        t = await _target(_families()).start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session, scrape_protocols=PROTO_FIRST)
            await loop.scrape_once(1000.0)
        await t.stop()
        assert t.requests[0]["Accept"].startswith(
            "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
            "encoding=delimited;q=0.6,"
        )
        assert loop.health.health == "up", loop.health.last_error
        got = {k: v for k, v in all_series(db).items() if "scrape_" not in k}
        tl = f'instance="{t.address}",job="j"'
        assert got == {
            f'{{__name__="http_requests_total",code="200",{tl}}}': [(1_000_000, 10.0)],
            f'{{__name__="http_requests_total",code="500",{tl}}}': [(1_000_000, 2.0)],
            f'{{__name__="lat_bucket",{tl},le="+Inf"}}': [(1_000_000, 4.0)],
            f'{{__name__="lat_bucket",{tl},le="0.1"}}': [(1_000_000, 1.0)],
            f'{{__name__="lat_bucket",{tl},le="1.0"}}': [(1_000_000, 3.0)],
            f'{{__name__="lat_count",{tl}}}': [(1_000_000, 4.0)],
            f'{{__name__="lat_sum",{tl}}}': [(1_000_000, 2.5)],
            f'{{__name__="rpc",{tl},quantile="0.5"}}': [(1_000_000, 0.25)],
            f'{{__name__="rpc",{tl},quantile="0.99"}}': [(1_000_000, 0.75)],
            f'{{__name__="rpc_count",{tl}}}': [(1_000_000, 40.0)],
            f'{{__name__="rpc_sum",{tl}}}': [(1_000_000, 12.5)],
            f'{{__name__="temp",{tl}}}': [(1_000_000, 21.5)],
            f'{{__name__="up",{tl}}}': [(1_000_000, 1.0)],
        }
        report = all_series(db)
        # The native histogram counts as scraped, but is not stored.
        assert report[f'{{__name__="scrape_samples_scraped",{tl}}}'] == [(1_000_000, 13.0)]
        assert report[f'{{__name__="scrape_samples_post_metric_relabeling",{tl}}}'] == [
            (1_000_000, 12.0)
        ]
        assert report[f'{{__name__="scrape_series_added",{tl}}}'] == [(1_000_000, 12.0)]
        assert loop.stats.native_histograms_skipped == 1
        assert loop.metadata["lat"].unit == "seconds"
        assert loop.metadata["rpc"].type == "summary"
        assert loop.metadata["temp"].type == "gauge"
        db.close()

    run(go())


def test_protobuf_series_that_disappear_get_stale_markers(tmp_path: Path) -> None:
    async def go() -> None:
        t = await _target(_families()).start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session, scrape_protocols=PROTO_FIRST)
            await loop.scrape_once(1000.0)
            _serve(t, _families(requests=11.0, with_temp=False))
            await loop.scrape_once(1010.0)
        await t.stop()
        got = all_series(db)
        tl = f'instance="{t.address}",job="j"'
        temp = got[f'{{__name__="temp",{tl}}}']
        assert temp[0] == (1_000_000, 21.5)
        assert temp[1][0] == 1_010_000 and is_stale(temp[1][1])
        assert got[f'{{__name__="http_requests_total",code="200",{tl}}}'] == [
            (1_000_000, 10.0),
            (1_010_000, 11.0),
        ]
        assert [v for _, v in got[f'{{__name__="scrape_series_added",{tl}}}']] == [12.0, 0.0]
        assert loop.stats.native_histograms_skipped == 2
        db.close()

    run(go())


def test_protobuf_target_cannot_impersonate_another_job(tmp_path: Path) -> None:
    fams = [
        MetricFamily(
            "fake",
            MetricType.GAUGE,
            None,
            None,
            [Sample("fake", L(job="prometheus", instance="victim:9090"), 1.0)],
        )
    ]

    async def go() -> None:
        t = await _target(fams).start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session, scrape_protocols=PROTO_FIRST)
            await loop.scrape_once(1000.0)
            honor = make_loop(
                t,
                db,
                session,
                {"job": "h", "instance": "x"},
                scrape_protocols=PROTO_FIRST,
                honor_labels=True,
            )
            await honor.scrape_once(1000.0)
        await t.stop()
        names = [k for k in all_series(db) if k.startswith('{__name__="fake"')]
        assert names == [
            f'{{__name__="fake",exported_instance="victim:9090",exported_job="prometheus",'
            f'instance="{t.address}",job="j"}}',
            '{__name__="fake",instance="victim:9090",job="prometheus"}',
        ]
        db.close()

    run(go())


def test_protobuf_limits_and_relabelling_apply(tmp_path: Path) -> None:
    async def go() -> None:
        t = await _target(_families()).start()
        db = open_db(tmp_path)
        drop_lat = RelabelRules(
            [
                RelabelConfig.model_validate(
                    {"source_labels": ["__name__"], "regex": "lat_.*", "action": "drop"}
                )
            ]
        )
        async with aiohttp.ClientSession() as session:
            relabelled = make_loop(
                t,
                db,
                session,
                {"job": "r", "instance": "i"},
                scrape_protocols=PROTO_FIRST,
                metric_relabel=drop_lat,
            )
            await relabelled.scrape_once(1000.0)
            limited = make_loop(
                t,
                db,
                session,
                {"job": "l", "instance": "i"},
                scrape_protocols=PROTO_FIRST,
                sample_limit=5,
            )
            await limited.scrape_once(1000.0)
        await t.stop()
        got = all_series(db)
        r = [k for k in got if 'job="r"' in k and "scrape_" not in k and "up" not in k]
        assert not any("lat_" in k for k in r)
        assert len(r) == 7
        assert got['{__name__="scrape_samples_post_metric_relabeling",instance="i",job="r"}'] == [
            (1_000_000, 7.0)
        ]
        assert limited.health.last_error == "sample limit exceeded"
        assert got['{__name__="up",instance="i",job="l"}'] == [(1_000_000, 0.0)]
        assert [k for k in got if 'job="l"' in k and "scrape_" not in k] == [
            '{__name__="up",instance="i",job="l"}'
        ]
        assert limited.stats.exceeded_sample_limit == 1
        db.close()

    run(go())


def test_broken_protobuf_body_fails_the_scrape_with_the_byte_offset(tmp_path: Path) -> None:
    async def go() -> None:
        t = await Target(content_type=CONTENT_TYPE, body="\x05\x0a\x03ab").start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session, scrape_protocols=PROTO_FIRST)
            await loop.scrape_once(1000.0)
        await t.stop()
        assert loop.health.health == "down"
        assert loop.health.last_error.startswith("protobuf: ")
        assert "byte" in loop.health.last_error
        db.close()

    run(go())


def _random_families(rng: random.Random) -> list[MetricFamily]:
    """Families whose values, bucket bounds, quantiles, members and timestamps vary per call."""
    fams: list[MetricFamily] = []
    ts = rng.choice([None, None, 1_700_000_000_123])
    fams.append(
        MetricFamily(
            "req_total",
            MetricType.COUNTER,
            "h",
            None,
            [
                Sample("req_total", L(code=str(c)), float(rng.randint(0, 99)), ts)
                for c in rng.sample(range(6), rng.randint(0, 6))
            ],
        )
    )
    fams.append(
        MetricFamily(
            "temp", MetricType.GAUGE, None, None, [Sample("temp", L(), rng.choice([1.5, -0.0]))]
        )
    )
    fams.append(MetricFamily("raw", MetricType.UNKNOWN, None, None, [Sample("raw", L(a="b"), 3.0)]))
    qs = rng.choice([("0.5", "0.9"), ("0.5", "0.99", "1.0")])
    fams.append(
        MetricFamily(
            "rpc",
            MetricType.SUMMARY,
            None,
            None,
            [Sample("rpc", L(quantile=q), rng.random()) for q in qs]
            + [Sample("rpc_sum", L(), 2.0), Sample("rpc_count", L(), float(rng.randint(0, 9)))],
        )
    )
    bounds = rng.choice([("0.1", "1", "+Inf"), ("0.5", "+Inf"), ("0.1", "1", "10", "+Inf")])
    cum = 0.0
    buckets = []
    for b in bounds:
        cum += rng.randint(0, 3)
        buckets.append(Sample("lat_bucket", L(le=b, path="/x"), cum))
    fams.append(
        MetricFamily(
            "lat",
            MetricType.HISTOGRAM,
            None,
            None,
            [
                *buckets,
                Sample("lat_sum", L(path="/x"), 1.0),
                Sample("lat_count", L(path="/x"), cum),
            ],
        )
    )
    if rng.random() < 0.5:
        fams.append(
            MetricFamily(
                "nat",
                MetricType.HISTOGRAM,
                None,
                None,
                [Sample("nat", L(), 3.0, histogram=_native(float(rng.randint(2, 5))))],
            )
        )
    return fams


def test_cached_protobuf_walk_gives_exactly_what_the_decoder_gives() -> None:
    rng = random.Random(5)
    parser = ScrapeParser(max_age=2)
    for _ in range(30):
        body = write_protobuf(_random_families(rng))
        want = [
            (s.name, tuple(s.labels), repr(s.value), s.timestamp_ms)
            for fam in parse_protobuf(body)
            for s in fam.samples
            if s.histogram is None
        ]
        natives = sum(1 for fam in parse_protobuf(body) for s in fam.samples if s.histogram)
        res = parser.parse(body, CONTENT_TYPE)
        got = [
            (
                e.name,
                tuple(p for p in e.labels if p[0] != "__name__"),
                repr(v),
                res.timestamps.get(i),
            )
            for i, (e, v) in enumerate(zip(res.entries, res.values, strict=True))
        ]
        assert got == want
        assert res.native_histograms == natives
        parser.end_cycle()


def test_broken_bytes_after_a_cached_scrape_still_name_the_offset() -> None:
    parser = ScrapeParser()
    body = write_protobuf(_families())
    parser.parse(body, CONTENT_TYPE)
    parser.end_cycle()
    with pytest.raises(ParseError) as err:
        parser.parse(body[:-3], CONTENT_TYPE)
    assert str(err.value).startswith("protobuf: ")
    assert "at byte" in str(err.value)
