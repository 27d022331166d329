"""Exemplars are parsed but not stored (no exemplar storage yet); they must never cost a
scrape its samples, as with Go Prometheus, which drops a bad exemplar and keeps the sample."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from _scrape_loop_support import Target, all_series, make_loop, open_db, run

OM = "application/openmetrics-text; version=1.0.0; charset=utf-8"
LONG = "x" * 200

CASES = {
    "valid": '# TYPE c counter\nc_total 5 # {trace_id="abc"} 1.0 123.456\n# EOF\n',
    "too long": f'# TYPE c counter\nc_total 5 # {{trace_id="{LONG}"}} 1.0\n# EOF\n',
    "on a gauge": '# TYPE c gauge\nc_total 5 # {trace_id="abc"} 1.0\n# EOF\n',
    "on a bucket": (
        "# TYPE h histogram\n"
        'h_bucket{le="1"} 1 # {trace_id="b"} 0.5\n'
        'h_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0.5\n'
        "c_total 5\n# EOF\n"
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_exemplars_never_cost_the_samples(tmp_path: Path, case: str) -> None:
    async def go() -> None:
        t = await Target(body=CASES[case], content_type=OM).start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session)
            await loop.scrape_once(1000.0)
        await t.stop()
        assert loop.health.last_error == ""
        got = all_series(db)
        key = f'{{__name__="c_total",instance="{t.address}",job="j"}}'
        assert got[key] == [(1_000_000, 5.0)]
        assert got[f'{{__name__="up",instance="{t.address}",job="j"}}'] == [(1_000_000, 1.0)]
        db.close()

    run(go())


def test_a_malformed_exemplar_fails_the_scrape_as_upstream(tmp_path: Path) -> None:
    async def go() -> None:
        body = '# TYPE c counter\nc_total 5 # {trace_id="abc"}\n# EOF\n'
        t = await Target(body=body, content_type=OM).start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session)
            await loop.scrape_once(1000.0)
        await t.stop()
        assert loop.health.health == "down"
        assert loop.health.last_error == (
            "2:29: expected ' ' after exemplar labels, found end of line"
        )
        db.close()

    run(go())
