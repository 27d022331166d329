"""The scrape self-metrics, read the way the server exports them: a ``prometheus_client``
registry holding ``ScrapeManager.collector()``, rendered in the text format."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _scrape_loop_support import Target, make_loop, open_db, run
from prometheus_client import CollectorRegistry, generate_latest

from promethean.scrape.config import ScrapeConfig
from promethean.scrape.discovery.targetgroup import TargetGroup
from promethean.scrape.manager import ScrapeManager
from promethean.scrape.stats import ScrapeCollector, go_duration


def _cfg(job: str, **extra: Any) -> ScrapeConfig:
    data: dict[str, Any] = {"job_name": job, "scrape_interval": "1h", "scrape_timeout": "5s"}
    data.update(extra)
    return ScrapeConfig.model_validate(data)


def _group(*addresses: str) -> TargetGroup:
    return TargetGroup("static/0", [{"__address__": a} for a in addresses], {})


async def _until(cond: Callable[[], bool], what: str, tries: int = 400) -> None:
    for _ in range(tries):
        if cond():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"timed out waiting for {what}")


def _exposition(collector: ScrapeCollector) -> list[str]:
    reg = CollectorRegistry()
    reg.register(collector)
    return [ln for ln in generate_latest(reg).decode().splitlines() if not ln.startswith("#")]


def test_pool_discovery_and_limit_metrics_under_upstream_names(tmp_path: Path) -> None:
    async def go() -> list[str]:
        ok = await Target(body="m 1\n").start()
        big = await Target(body="x " + "1" * 500 + "\n").start()
        many = await Target(body="a 1\nb 2\nc 3\n").start()
        db = open_db(tmp_path)
        mgr = ScrapeManager(db, skip_offset=True)
        try:
            drop_other = [
                {"source_labels": ["__address__"], "regex": "10.0.0.1:80", "action": "drop"}
            ]
            await mgr.apply_config(
                [
                    _cfg("a", relabel_configs=drop_other),
                    _cfg("big", body_size_limit="100B"),
                    _cfg("lim", sample_limit=2),
                    _cfg("tl", target_limit=1),
                ]
            )
            await mgr.sync(
                {
                    "a": [_group(ok.address, "10.0.0.1:80")],
                    "big": [_group(big.address)],
                    "lim": [_group(many.address)],
                    "tl": [_group(ok.address, many.address)],
                }
            )
            loops = [t.loop for ts in mgr.active_targets().values() for t in ts]
            await _until(lambda: all(lp.health.scrapes >= 1 for lp in loops), "first scrapes")
            return _exposition(mgr.collector())
        finally:
            await mgr.stop()
            for t in (ok, big, many):
                await t.stop()
            db.close()

    lines = run(go())
    for want in (
        'prometheus_target_scrape_pool_targets{scrape_job="a"} 1.0',
        'prometheus_target_scrape_pool_targets{scrape_job="big"} 1.0',
        'prometheus_target_scrape_pool_targets{scrape_job="tl"} 2.0',
        'prometheus_sd_discovered_targets{config="a",name="scrape"} 2.0',
        'prometheus_sd_discovered_targets{config="lim",name="scrape"} 1.0',
        "prometheus_target_scrapes_exceeded_body_size_limit_total 1.0",
        "prometheus_target_scrapes_exceeded_sample_limit_total 1.0",
        "prometheus_target_scrape_pool_exceeded_target_limit_total 1.0",
        "prometheus_target_scrapes_sample_out_of_order_total 0.0",
        "prometheus_target_scrapes_sample_duplicate_timestamp_total 0.0",
        "prometheus_target_scrapes_sample_out_of_bounds_total 0.0",
    ):
        assert want in lines, (want, lines)


def test_rejected_samples_are_counted_and_the_scrape_still_succeeds(tmp_path: Path) -> None:
    async def go() -> list[str]:
        t = await Target(body='m{x="1"} 1 1000000\n').start()
        db = open_db(tmp_path)
        async with aiohttp.ClientSession() as session:
            loop = make_loop(t, db, session)
            await loop.scrape_once(1000.0)
            # Older than the stored sample (out of order), and one series twice
            # with different values (duplicate timestamp).
            t.body = 'm{x="1"} 2 999000\nd 1\nd 2\n'
            await loop.scrape_once(1010.0)
        await t.stop()
        db.close()
        assert loop.health.health == "up"

        class _One:
            stats = loop.stats

            def pool_targets(self) -> dict[str, int]:
                return {}

            def discovered_targets(self) -> dict[str, int]:
                return {}

        return _exposition(ScrapeCollector(_One()))

    lines = run(go())
    assert "prometheus_target_scrapes_sample_out_of_order_total 1.0" in lines
    assert "prometheus_target_scrapes_sample_duplicate_timestamp_total 1.0" in lines


def test_interval_length_summary_per_configured_interval(tmp_path: Path) -> None:
    async def go() -> list[str]:
        t = await Target(body="m 1\n").start()
        db = open_db(tmp_path)
        mgr = ScrapeManager(db, skip_offset=True)
        try:
            await mgr.apply_config([_cfg("fast", scrape_interval="100ms", scrape_timeout="100ms")])
            await mgr.sync({"fast": [_group(t.address)]})
            [target] = mgr.active_targets()["fast"]
            await _until(lambda: target.loop.health.scrapes >= 3, "three scrapes")
            return _exposition(mgr.collector())
        finally:
            await mgr.stop()
            await t.stop()
            db.close()

    lines = run(go())
    count = [ln for ln in lines if ln.startswith("prometheus_target_interval_length_seconds_count")]
    assert len(count) == 1 and count[0].startswith(
        'prometheus_target_interval_length_seconds_count{interval="100ms"} '
    )
    assert float(count[0].split()[-1]) >= 2
    quantiles = [
        ln.split("{")[1].split("}")[0]
        for ln in lines
        if ln.startswith("prometheus_target_interval_length_seconds{")
    ]
    assert quantiles == [
        f'interval="100ms",quantile="{q}"' for q in ("0.01", "0.05", "0.5", "0.9", "0.99")
    ]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (15, "15s"),
        (60, "1m0s"),
        (90, "1m30s"),
        (3600, "1h0m0s"),
        (0.1, "100ms"),
        (1.5, "1.5s"),
        (0, "0s"),
        (0.0015, "1.5ms"),
    ],
)
def test_interval_label_is_gos_duration_string(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text
