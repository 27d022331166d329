"""ScrapeManager: discovery sync, dropped targets, target_limit, reloads, API views."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _scrape_loop_support import Target, is_stale, open_db, run, values_of

from promethean.scrape.config import ScrapeConfig
from promethean.scrape.discovery.targetgroup import TargetGroup
from promethean.scrape.manager import ScrapeManager, global_url, go_time


def _cfg(job: str, **extra: Any) -> ScrapeConfig:
    data: dict[str, Any] = {"job_name": job, "scrape_interval": "100ms", "scrape_timeout": "100ms"}
    data.update(extra)
    return ScrapeConfig.model_validate(data)


def _group(*addresses: str, source: str = "static/0", **labels: str) -> TargetGroup:
    return TargetGroup(source, [{"__address__": a} for a in addresses], dict(labels))


async def _until(cond: Callable[[], bool], what: str, tries: int = 200) -> None:
    for _ in range(tries):
        if cond():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


def _scraped(mgr: ScrapeManager, n: int = 2) -> Callable[[], bool]:
    def ok() -> bool:
        targets = [t for ts in mgr.active_targets().values() for t in ts]
        return bool(targets) and all(t.loop.health.scrapes >= n for t in targets)

    return ok


def test_sync_scrapes_targets_and_shows_them_in_the_targets_api(tmp_path: Path) -> None:
    async def go() -> None:
        a = await Target(body="m 1\n").start()
        b = await Target(body="m 2\n").start()
        db = open_db(tmp_path)
        mgr = ScrapeManager(db, skip_offset=True)
        try:
            await mgr.apply_config([_cfg("job1")])
            await mgr.sync({"job1": [_group(a.address, b.address, env="prod")]})
            await _until(_scraped(mgr), "two scrapes of each target")
            api = mgr.targets_api()
        finally:
            await mgr.stop()
            await a.stop()
            await b.stop()
        active = sorted(api["activeTargets"], key=lambda t: t["scrapeUrl"])
        assert api["droppedTargets"] == []
        first = active[0]
        addr = first["labels"]["instance"]
        assert first["discoveredLabels"] == {
            "__address__": addr,
            "__metrics_path__": "/metrics",
            "__scheme__": "http",
            "__scrape_interval__": "100ms",
            "__scrape_timeout__": "100ms",
            "env": "prod",
            "job": "job1",
        }
        assert first["labels"] == {"env": "prod", "instance": addr, "job": "job1"}
        assert first["scrapePool"] == "job1"
        assert first["scrapeUrl"] == f"http://{addr}/metrics"
        assert first["health"] == "up"
        assert first["lastError"] == ""
        assert first["scrapeInterval"] == "100ms" and first["scrapeTimeout"] == "100ms"
        assert first["lastScrape"].endswith("Z") and first["lastScrapeDuration"] > 0
        for t, v in ((a, 1.0), (b, 2.0)):
            vals = values_of(db, f'{{__name__="m",env="prod",instance="{t.address}",job="job1"}}')
            assert vals and set(vals) == {v}
        db.close()

    run(go())


def test_vanished_target_gets_stale_markers_and_dropped_targets_are_listed(
    tmp_path: Path,
) -> None:
    async def go() -> None:
        a = await Target(body="m 1\n").start()
        db = open_db(tmp_path)
        drop_rule = {"source_labels": ["__address__"], "regex": ".*:1", "action": "drop"}
        mgr = ScrapeManager(db, skip_offset=True)
        try:
            await mgr.apply_config([_cfg("j", relabel_configs=[drop_rule])])
            await mgr.sync({"j": [_group(a.address, "127.0.0.1:1")]})
            await _until(_scraped(mgr), "scrapes")
            assert mgr.targets_api("dropped")["droppedTargets"] == [
                {
                    "discoveredLabels": {
                        "__address__": "127.0.0.1:1",
                        "__metrics_path__": "/metrics",
                        "__scheme__": "http",
                        "__scrape_interval__": "100ms",
                        "__scrape_timeout__": "100ms",
                        "job": "j",
                    }
                }
            ]
            assert mgr.targets_api("dropped")["activeTargets"] == []
            await mgr.sync({"j": []})
            assert mgr.targets_api()["activeTargets"] == []
            key = f'{{__name__="m",instance="{a.address}",job="j"}}'
            # Two intervals plus 10% later the series ends with a stale marker.
            await _until(lambda: is_stale(values_of(db, key)[-1]), "stale marker")
            up = values_of(db, f'{{__name__="up",instance="{a.address}",job="j"}}')
            assert is_stale(up[-1])
        finally:
            await mgr.stop()
            await a.stop()
        db.close()

    run(go())


def test_target_limit_fails_every_scrape_of_the_job(tmp_path: Path) -> None:
    async def go() -> None:
        a = await Target(body="m 1\n").start()
        b = await Target(body="m 1\n").start()
        db = open_db(tmp_path)
        mgr = ScrapeManager(db, skip_offset=True)
        try:
            await mgr.apply_config([_cfg("lim", target_limit=1)])
            await mgr.sync({"lim": [_group(a.address, b.address)]})
            await _until(_scraped(mgr), "scrapes")
            errors = {t["lastError"] for t in mgr.targets_api()["activeTargets"]}
            assert errors == {"target_limit exceeded (number of targets: 2, limit: 1)"}
            assert values_of(db, f'{{__name__="m",instance="{a.address}",job="lim"}}') == []
            # Back under the limit: scraping resumes.
            await mgr.sync({"lim": [_group(a.address)]})
            await _until(
                lambda: values_of(db, f'{{__name__="m",instance="{a.address}",job="lim"}}') != [],
                "scrapes after the limit",
            )
        finally:
            await mgr.stop()
            await a.stop()
            await b.stop()
        db.close()

    run(go())


def test_reload_keeps_unchanged_jobs_and_hands_over_the_cache(tmp_path: Path) -> None:
    async def go() -> None:
        a = await Target(body="# TYPE m gauge\nm 1\n").start()
        db = open_db(tmp_path)
        mgr = ScrapeManager(db, skip_offset=True)
        try:
            await mgr.apply_config([_cfg("keep"), _cfg("change"), _cfg("gone")])
            groups = {j: [_group(a.address)] for j in ("keep", "change", "gone")}
            await mgr.sync(groups)
            await _until(_scraped(mgr), "scrapes")
            before = {j: ts[0].loop for j, ts in mgr.active_targets().items()}
            await mgr.apply_config([_cfg("keep"), _cfg("change", sample_limit=1000)])
            after = {j: ts[0].loop for j, ts in mgr.active_targets().items()}
            assert set(after) == {"keep", "change"}
            assert after["keep"] is before["keep"]
            assert after["change"] is not before["change"]
            await _until(lambda: after["change"].health.scrapes >= 3, "scrapes after reload")
        finally:
            await mgr.stop()
            await a.stop()
        inst = a.address
        # Only the sample limit changed, so the job kept its cache (Go's reusableCache):
        # no series counted as new after the reload.
        added = values_of(db, f'{{__name__="scrape_series_added",instance="{inst}",job="change"}}')
        assert added[0] == 1.0 and set(added[1:]) == {0.0}
        # No stale marker was written for the reloaded job's series.
        assert not any(
            is_stale(v) for v in values_of(db, f'{{__name__="m",instance="{inst}",job="change"}}')
        )
        db.close()

    run(go())


def test_metadata_views(tmp_path: Path) -> None:
    async def go() -> None:
        page = "# HELP m A gauge.\n# TYPE m gauge\nm 1\n"
        a = await Target(body=page).start()
        db = open_db(tmp_path)
        mgr = ScrapeManager(db, skip_offset=True)
        try:
            await mgr.apply_config([_cfg("j")])
            await mgr.sync({"j": [_group(a.address)]})
            await _until(_scraped(mgr, 1), "scrape")
            assert mgr.metadata() == {"m": [{"type": "gauge", "help": "A gauge.", "unit": ""}]}
            assert mgr.metadata(metric="nope") == {}
            rows = mgr.target_metadata(metric="m")
            assert rows == [
                {
                    "target": {"instance": a.address, "job": "j"},
                    "metric": "m",
                    "type": "gauge",
                    "help": "A gauge.",
                    "unit": "",
                }
            ]
        finally:
            await mgr.stop()
            await a.stop()
        db.close()

    run(go())


def test_go_time_and_global_url() -> None:
    assert go_time(None) == "0001-01-01T00:00:00Z"
    assert go_time(1795753972.5) == "2026-11-27T04:32:52.5Z"
    assert global_url("http://example.org:9100/m") == "http://example.org:9100/m"
    assert not global_url("http://127.0.0.1:9100/m").startswith("http://127.0.0.1")
