"""honor_labels and target impersonation (SECURITY-MODEL P1), checked against the
real Go Prometheus 2.42 scraping the same loopback target."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from _scrape_loop_support import Target, open_db, run

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.scrape.loop import LoopSettings, ScrapeLoop

# The page of the reference fact sheet (section 6).
PAGE = """clash_metric{job="exp_job",instance="exp_inst",team="exp_team"} 1
clash_nested{job="exp_job2",exported_job="already"} 11
clash_empty_team{team=""} 2
clash_empty_jobinst{job="",instance=""} 22
clash_empty_other{other=""} 3
dunder_metric{__tmp_x="x",__meta_y="y"} 5
plain_metric_total 4
"""

IMPERSONATION = """# A hostile target speaking for another job and instance.
up{job="prometheus",instance="victim:9090"} 1
node_cpu_seconds_total{job="node",instance="victim:9100",cpu="0"} 123
"""

PROMETHEUS = "/usr/bin/prometheus"


async def _scrape_ours(tmp_path: Path, page: str) -> dict[str, set[frozenset[tuple[str, str]]]]:
    t = await Target(body=page).start()
    db = open_db(tmp_path)
    out: dict[str, set[frozenset[tuple[str, str]]]] = {}
    try:
        async with aiohttp.ClientSession() as session:
            for job, honor in (("hl_false", False), ("hl_true", True)):
                loop = ScrapeLoop(
                    labels=Labels.from_dict({"job": job, "instance": t.address, "team": "ops"}),
                    url=t.url(),
                    interval_s=10.0,
                    timeout_s=5.0,
                    settings=LoopSettings(job_name=job, honor_labels=honor),
                    session=session,
                    storage=db,
                )
                await loop.scrape_once(100.0)
                assert loop.health.last_error == ""
        q = db.querier(0, 2**62)
        for s in q.select([Matcher("__name__", MatchType.REGEX, ".+")]):
            name = s.labels.get("__name__")
            if name in ("up", "scrape_duration_seconds") or name.startswith("scrape_"):
                key = "report"
            else:
                key = "scraped"
            out.setdefault(key, set()).add(frozenset(s.labels))
        q.close()
    finally:
        await t.stop()
        db.close()
    return out


def _fs(d: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset(d.items())


def test_exported_labels_and_honor_labels_match_the_reference_table(tmp_path: Path) -> None:
    got = run(_scrape_ours(tmp_path, PAGE))["scraped"]

    addr = next(dict(s)["instance"] for s in got if dict(s).get("job") == "hl_false")
    base_f = {"instance": addr, "job": "hl_false", "team": "ops"}
    base_t = {"instance": addr, "job": "hl_true", "team": "ops"}
    expected = {
        _fs(
            {
                "__name__": "clash_metric",
                "exported_instance": "exp_inst",
                "exported_job": "exp_job",
                "exported_team": "exp_team",
                **base_f,
            }
        ),
        _fs(
            {
                "__name__": "clash_nested",
                "exported_exported_job": "exp_job2",
                "exported_job": "already",
                **base_f,
            }
        ),
        _fs({"__name__": "clash_empty_team", **base_f}),
        _fs({"__name__": "clash_empty_jobinst", **base_f}),
        _fs({"__name__": "clash_empty_other", **base_f}),
        _fs({"__name__": "dunder_metric", "__meta_y": "y", "__tmp_x": "x", **base_f}),
        _fs({"__name__": "plain_metric_total", **base_f}),
        _fs(
            {
                "__name__": "clash_metric",
                "instance": "exp_inst",
                "job": "exp_job",
                "team": "exp_team",
            }
        ),
        _fs(
            {
                "__name__": "clash_nested",
                "exported_job": "already",
                "instance": addr,
                "job": "exp_job2",
                "team": "ops",
            }
        ),
        _fs({"__name__": "clash_empty_team", "instance": addr, "job": "hl_true"}),
        _fs({"__name__": "clash_empty_jobinst", "team": "ops"}),
        _fs({"__name__": "clash_empty_other", **base_t}),
        _fs({"__name__": "dunder_metric", "__meta_y": "y", "__tmp_x": "x", **base_t}),
        _fs({"__name__": "plain_metric_total", **base_t}),
    }
    assert got == expected


def test_target_cannot_impersonate_another_job_or_instance(tmp_path: Path) -> None:
    series = run(_scrape_ours(tmp_path, IMPERSONATION))
    hl_false = [dict(s) for s in series["scraped"] | series["report"] if ("job", "hl_false") in s]
    # Every series of the protected job carries the real job and instance ...
    assert all(s["job"] == "hl_false" and s["instance"].startswith("127.0.0.1:") for s in hl_false)
    # ... the claimed identity survives only under exported_ names ...
    fake_up = [s for s in hl_false if s["__name__"] == "up" and "exported_job" in s]
    assert fake_up == [
        {
            "__name__": "up",
            "exported_instance": "victim:9090",
            "exported_job": "prometheus",
            "instance": fake_up[0]["instance"],
            "job": "hl_false",
            "team": "ops",
        }
    ]
    # ... and only the honor_labels: true job lets the target claim other identities
    # (the documented risk of that setting).
    every = [dict(s) for s in series["scraped"] | series["report"]]
    claimed = [s for s in every if s.get("job") in ("prometheus", "node")]
    assert sorted((s["__name__"], s["job"], s["instance"], s["team"]) for s in claimed) == [
        ("node_cpu_seconds_total", "node", "victim:9100", "ops"),
        ("up", "prometheus", "victim:9090", "ops"),
    ]


# --- side by side with the real Go Prometheus ---------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _go_prometheus_or_skip() -> str:
    path = shutil.which("prometheus") or (PROMETHEUS if os.path.exists(PROMETHEUS) else None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Go Prometheus (/usr/bin/prometheus) is required in CI")
        print("SKIP REASON: /usr/bin/prometheus (Debian package prometheus) is not installed")
        pytest.skip("/usr/bin/prometheus (Debian package prometheus) is not installed")
    return path


def _go_series(prom: str, tmp_path: Path, target_addr: str) -> set[frozenset[tuple[str, str]]]:
    port = _free_port()
    cfg = tmp_path / "prometheus.yml"
    jobs = []
    for job, honor in (("hl_false", "false"), ("hl_true", "true")):
        jobs.append(
            f"""  - job_name: {job}
    honor_labels: {honor}
    scrape_interval: 1s
    scrape_timeout: 1s
    static_configs: [{{targets: ["{target_addr}"]}}]
    relabel_configs: [{{target_label: team, replacement: ops}}]
"""
        )
    cfg.write_text("scrape_configs:\n" + "".join(jobs))
    proc = subprocess.Popen(
        [
            prom,
            f"--config.file={cfg}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'go-data'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        match = urllib.parse.quote('{__name__=~"clash_.*|dunder_.*|plain_.*"}')
        url = f"http://127.0.0.1:{port}/api/v1/series?match[]={match}"
        result: set[frozenset[tuple[str, str]]] = set()
        for _ in range(150):  # bounded: ~15 s
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    data = json.load(resp)["data"]
                result = {frozenset(d.items()) for d in data}
                jobs_seen = {dict(s).get("job") for s in result}
                if "hl_false" in jobs_seen and len(result) >= 14:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_stored_series_match_go_prometheus_in_both_modes(tmp_path: Path) -> None:
    prom = _go_prometheus_or_skip()

    async def serve_to_go() -> set[frozenset[tuple[str, str]]]:
        t = await Target(body=PAGE).start()
        try:
            return await asyncio.to_thread(_go_series, prom, tmp_path, t.address)
        finally:
            await t.stop()

    go: set[frozenset[tuple[str, str]]] = run(serve_to_go())
    ours = run(_scrape_ours(tmp_path / "ours", PAGE))["scraped"]
    assert go, "Go Prometheus stored nothing within 15 s"

    def normal(series: set[frozenset[tuple[str, str]]]) -> set[frozenset[tuple[str, str]]]:
        # The two runs serve from different ports: compare with the address abstracted.
        out = set()
        for s in series:
            d = dict(s)
            for k, v in d.items():
                if v.startswith("127.0.0.1:"):
                    d[k] = "127.0.0.1:E"
            out.add(frozenset(d.items()))
        return out

    assert normal(ours) == normal(go)
