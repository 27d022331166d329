"""The scrape loop against a real HTTP target on 127.0.0.1 and a real DB."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from _scrape_loop_support import (
    Target,
    all_series,
    is_stale,
    make_loop,
    open_db,
    run,
    values_of,
)
from aiohttp import web

from promethean.model.labels import Labels
from promethean.model.relabel import RelabelConfig, RelabelRules
from promethean.scrape.loop import (
    USER_AGENT,
    LoopSettings,
    MetricMetadata,
    ScrapeLoop,
    mutate_sample_labels,
    scrape_offset,
    target_hash,
)

PAGE = """# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200"} 10
http_requests_total{code="500"} 2
# TYPE temp gauge
temp 21.5
"""


def _up(db: object, job: str = "j", instance: str = "") -> str:
    return f'{{__name__="up",instance="{instance}",job="{job}"}}'


def test_scrape_stores_samples_with_target_labels_and_report_series(tmp_path: Path) -> None:
    async def go() -> None:
        t = await Target(body=PAGE).start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session)
            await loop.scrape_once(1000.0)
            await loop.scrape_once(1010.0)
        await t.stop()
        inst = t.address
        got = all_series(db)
        key = f'{{__name__="http_requests_total",code="200",instance="{inst}",job="j"}}'
        assert got[key] == [(1_000_000, 10.0), (1_010_000, 10.0)]
        base = f'instance="{inst}",job="j"'
        assert got[f'{{__name__="up",{base}}}'] == [(1_000_000, 1.0), (1_010_000, 1.0)]
        assert [v for _, v in got[f'{{__name__="scrape_samples_scraped",{base}}}']] == [3, 3]
        assert [
            v for _, v in got[f'{{__name__="scrape_samples_post_metric_relabeling",{base}}}']
        ] == [3, 3]
        assert [v for _, v in got[f'{{__name__="scrape_series_added",{base}}}']] == [3, 0]
        durations = got[f'{{__name__="scrape_duration_seconds",{base}}}']
        assert all(0 < v < 5 for _, v in durations)
        assert loop.health.health == "up"
        assert loop.health.last_error == ""
        assert loop.health.last_scrape == 1010.0
        assert loop.metadata["http_requests_total"].type == "counter"
        assert loop.metadata["http_requests_total"].help == "Requests served."
        assert loop.metadata["temp"] == MetricMetadata("gauge", "", "")
        headers = t.requests[0]
        assert headers["Accept"].startswith("application/openmetrics-text;version=1.0.0")
        assert headers["Accept-Encoding"] == "gzip"
        assert headers["User-Agent"] == USER_AGENT
        assert headers["X-Prometheus-Scrape-Timeout-Seconds"] == "5"
        db.close()

    run(go())


def test_disappearing_series_and_failed_scrape_get_stale_markers(tmp_path: Path) -> None:
    async def go() -> None:
        t = await Target(body="a 1\nb 2\n").start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session)
            await loop.scrape_once(100.0)
            t.body = "a 3\n"
            await loop.scrape_once(110.0)
            t.status = 404
            await loop.scrape_once(120.0)
            assert loop.health.health == "down"
            assert loop.health.last_error == "server returned HTTP status 404 Not Found"
            t.status = 200
            await loop.scrape_once(130.0)
        await t.stop()
        inst = t.address
        a = values_of(db, f'{{__name__="a",instance="{inst}",job="j"}}')
        b = values_of(db, f'{{__name__="b",instance="{inst}",job="j"}}')
        assert a[:2] == [1.0, 3.0] and is_stale(a[2]) and a[3] == 3.0
        assert b[0] == 2.0 and is_stale(b[1]) and len(b) == 2
        up = values_of(db, f'{{__name__="up",instance="{inst}",job="j"}}')
        assert up == [1.0, 1.0, 0.0, 1.0]
        db.close()

    run(go())


LIMIT_CASES = [
    (
        {"sample_limit": 10},
        "".join(f'many{{i="{i}"}} {i}\n' for i in range(20)),
        "sample limit exceeded",
        (21, 21),
    ),
    (
        {"label_limit": 3},
        'wide{a="1",b="2",c="3",d="4",e="5"} 1\n',
        "label_limit exceeded (metric: wide, number of labels: 8, limit: 3)",
        (1, 0),
    ),
    (
        {"label_name_length_limit": 20},
        'ln{%s="v"} 1\n' % ("x" * 40),
        "label_name_length_limit exceeded (metric: ln, label name: "
        + "x" * 40
        + ", length: 40, limit: 20)",
        (1, 0),
    ),
    (
        {"label_value_length_limit": 20},
        'lv{k="%s"} 1\n' % ("y" * 40),
        'label_value_length_limit exceeded (metric: lv, label name: k, value: "'
        + "y" * 40
        + '", length: 40, limit: 20)',
        (1, 0),
    ),
    (
        {"body_size_limit": 1024},
        "".join(f'big{{i="{i}"}} {i}\n' for i in range(400)),
        "body size limit exceeded",
        (0, 0),
    ),
]


@pytest.mark.parametrize(("limits", "page", "error", "counts"), LIMIT_CASES)
def test_limits_fail_the_whole_scrape_as_upstream(
    tmp_path: Path, limits: dict[str, int], page: str, error: str, counts: tuple[int, int]
) -> None:
    async def go() -> None:
        t = await Target(body=page + "narrow 2\n").start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session, **limits)
            await loop.scrape_once(100.0)
        await t.stop()
        assert loop.health.health == "down"
        assert loop.health.last_error == error
        inst = t.address
        got = all_series(db)
        base = f'instance="{inst}",job="j"'
        assert not any("narrow" in k for k in got), "nothing partial from the page is stored"
        assert sorted(k.split('"')[1] for k in got) == sorted(
            [
                "scrape_duration_seconds",
                "scrape_samples_post_metric_relabeling",
                "scrape_samples_scraped",
                "scrape_series_added",
                "up",
            ]
        )
        assert got[f'{{__name__="up",{base}}}'] == [(100_000, 0.0)]
        scraped = values_of(db, f'{{__name__="scrape_samples_scraped",{base}}}')
        post = values_of(db, f'{{__name__="scrape_samples_post_metric_relabeling",{base}}}')
        # As the reference table (the pages end with the compliant "narrow 2").
        assert (scraped[0], post[0]) == counts
        assert values_of(db, f'{{__name__="scrape_series_added",{base}}}') == [0.0]
        db.close()

    run(go())


def test_gzip_body_and_gzip_bomb_stops_at_decompressed_limit(tmp_path: Path) -> None:
    async def go() -> None:
        t = await Target(body="g 1\n", gzip=True).start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session, body_size_limit=1 << 20)
            await loop.scrape_once(100.0)
            assert loop.health.last_error == ""
            # 64 MiB of zeros compresses to ~64 KiB: far under any wire limit.
            t.body = "#" + " " * (64 << 20)
            await loop.scrape_once(110.0)
            assert loop.health.last_error == "body size limit exceeded"
        await t.stop()
        assert values_of(db, f'{{__name__="g",instance="{t.address}",job="j"}}')[0] == 1.0
        db.close()

    run(go())


def test_timeout_and_connection_refused_errors(tmp_path: Path) -> None:
    async def slow(_request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        return web.Response(text="x 1\n")

    async def go() -> None:
        t = await Target(handler=slow).start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session, timeout_s=0.2)
            await loop.scrape_once(100.0)
            assert loop.health.last_error == f'Get "{t.url()}": context deadline exceeded'
            await t.stop()
            await loop.scrape_once(110.0)
            assert loop.health.last_error == (
                f'Get "{t.url()}": dial tcp 127.0.0.1:{t.port}: connect: connection refused'
            )
            assert loop.health.health == "down"
        db.close()

    run(go())


def test_honor_timestamps(tmp_path: Path) -> None:
    async def go() -> None:
        t = await Target(body="ts 5 50000\n").start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            honored = make_loop(t, db, session, {"job": "a", "instance": "x"})
            ignored = make_loop(
                t, db, session, {"job": "b", "instance": "x"}, honor_timestamps=False
            )
            await honored.scrape_once(100.0)
            await ignored.scrape_once(100.0)
        await t.stop()
        got = all_series(db)
        assert got['{__name__="ts",instance="x",job="a"}'] == [(50_000, 5.0)]
        assert got['{__name__="ts",instance="x",job="b"}'] == [(100_000, 5.0)]
        db.close()

    run(go())


def test_metric_relabel_drop_and_post_relabel_count(tmp_path: Path) -> None:
    rules = RelabelRules(
        [
            RelabelConfig.model_validate(
                {"source_labels": ["__name__"], "regex": "drop_.*", "action": "drop"}
            )
        ]
    )

    async def go() -> None:
        t = await Target(body="keep_me 1\ndrop_me 2\n").start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session, metric_relabel=rules)
            await loop.scrape_once(100.0)
            await loop.scrape_once(110.0)
        await t.stop()
        got = all_series(db)
        assert not any("drop_me" in k for k in got)
        base = f'instance="{t.address}",job="j"'
        assert values_of(db, f'{{__name__="scrape_samples_scraped",{base}}}') == [2.0, 2.0]
        post = values_of(db, f'{{__name__="scrape_samples_post_metric_relabeling",{base}}}')
        assert post == [1.0, 1.0]
        db.close()

    run(go())


def test_unknown_content_type_fails_without_fallback(tmp_path: Path) -> None:
    async def go() -> None:
        t = await Target(body="x 1\n", content_type="application/json").start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session)
            await loop.scrape_once(100.0)
            assert loop.health.last_error == (
                'received unsupported Content-Type "application/json" and no '
                "fallback_scrape_protocol specified for target"
            )
            fb = make_loop(t, db, session, fallback_scrape_protocol="PrometheusText0.0.4")
            await fb.scrape_once(110.0)
            assert fb.health.last_error == ""
        await t.stop()
        db.close()

    run(go())


def test_parse_error_names_line_and_stores_nothing(tmp_path: Path) -> None:
    async def go() -> None:
        t = await Target(body="ok 1\nbad{ 2\n").start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session)
            await loop.scrape_once(100.0)
        await t.stop()
        assert loop.health.last_error.startswith("2:")
        assert not any("ok" in k.split('"')[1] for k in all_series(db))
        db.close()

    run(go())


def test_mutate_sample_labels_exported_and_honor() -> None:
    target = Labels.from_dict({"job": "real", "instance": "i:1", "team": "ops"})
    scraped = Labels.from_pairs_keep_empty(
        [("__name__", "m"), ("job", "fake"), ("exported_job", "x"), ("team", "")]
    )
    out = mutate_sample_labels(scraped, target, False, None)
    assert out == Labels.from_dict(
        {
            "__name__": "m",
            "job": "real",
            "exported_job": "x",
            "exported_exported_job": "fake",
            "instance": "i:1",
            "team": "ops",
        }
    )
    honored = mutate_sample_labels(scraped, target, True, None)
    assert honored == Labels.from_dict(
        {"__name__": "m", "job": "fake", "exported_job": "x", "instance": "i:1"}
    )


def test_offset_spreads_targets_within_the_interval() -> None:
    offsets = [
        scrape_offset(target_hash(Labels.from_dict({"i": str(n)}), "http://x/m"), 10.0, 0, 0.0)
        for n in range(50)
    ]
    assert all(0 <= o <= 10.0 for o in offsets)
    assert len({round(o, 3) for o in offsets}) == 50
    # Pinned to absolute time: the next scrape is at the same phase whenever it is computed.
    h = target_hash(Labels.from_dict({"i": "1"}), "http://x/m")
    assert (1003.25 + scrape_offset(h, 10.0, 7, 1003.25)) % 10 == pytest.approx(
        (1007.5 + scrape_offset(h, 10.0, 7, 1007.5)) % 10
    )


def test_running_loop_scrapes_on_schedule_and_end_of_run_staleness(tmp_path: Path) -> None:
    async def go() -> None:
        t = await Target(body="r 1\n").start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = ScrapeLoop(
                labels=Labels.from_dict({"job": "j", "instance": t.address}),
                url=t.url(),
                # Short, but not so short that a busy CI machine's scheduling noise
                # counts as a missed tick.
                interval_s=0.3,
                timeout_s=0.3,
                settings=LoopSettings(job_name="j"),
                session=session,
                storage=db,
            )
            loop.start()
            for _ in range(100):
                if loop.health.scrapes >= 3:
                    break
                await asyncio.sleep(0.05)
            await loop.stop()
            await loop.end_of_run_staleness()
        await t.stop()
        r = values_of(db, f'{{__name__="r",instance="{t.address}",job="j"}}')
        assert len(r) >= 4 and r[:-1] == [1.0] * (len(r) - 1) and is_stale(r[-1])
        up = values_of(db, f'{{__name__="up",instance="{t.address}",job="j"}}')
        assert is_stale(up[-1])
        assert loop.health.missed_ticks == 0
        db.close()

    run(go())
