"""Service discovery: file_sd (JSON, YAML, globs, changes, broken files), http_sd, the manager.

Real files in tmp dirs and a real HTTP endpoint on 127.0.0.1; refreshes are
driven directly (``refresh()``) where timing is not the point, and the
manager runs with a short debounce and poll interval where it is.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from promethean.config import parse_config
from promethean.scrape.config import ScrapeSection
from promethean.scrape.discovery import (
    DiscoveryManager,
    FileDiscovery,
    FileSDConfig,
    HTTPDiscovery,
    HTTPSDConfig,
    TargetGroup,
)


def arun(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 30))  # type: ignore[arg-type]

    return wrapper


@asynccontextmanager
async def serve(
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield port
    finally:
        await runner.cleanup()


def file_sd(tmp_path: Path, *patterns: str) -> FileDiscovery:
    cfg = FileSDConfig(files=[str(tmp_path / p) for p in patterns], refresh_interval="5m")
    return FileDiscovery(cfg, poll_interval=0.05)


def touch_later(path: Path) -> None:
    # Make a rewrite visible even on filesystems with coarse mtimes.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


# --------------------------------------------------------------------------- file_sd


def test_file_sd_reads_json_and_yaml_with_meta_filepath(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps(
            [{"targets": ["h1:9100", "h2:9100"], "labels": {"env": "prod"}}, {"targets": ["h3:1"]}]
        )
    )
    (tmp_path / "b.yml").write_text("- targets: ['y:1']\n  labels: {team: core}\n")
    (tmp_path / "ignored.txt").write_text("not matched by the globs")
    d = file_sd(tmp_path, "*.json", "*.yml")
    groups = d.refresh(force=True)
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.yml")
    assert groups == [
        TargetGroup(
            f"{a}:0",
            [{"__address__": "h1:9100"}, {"__address__": "h2:9100"}],
            {"env": "prod", "__meta_filepath": a},
        ),
        TargetGroup(f"{a}:1", [{"__address__": "h3:1"}], {"__meta_filepath": a}),
        TargetGroup(f"{b}:0", [{"__address__": "y:1"}], {"team": "core", "__meta_filepath": b}),
    ]
    assert d.refresh() == []  # nothing changed, nothing sent


def test_file_sd_change_shrink_and_removal(tmp_path: Path) -> None:
    f = tmp_path / "t.json"
    f.write_text(json.dumps([{"targets": ["a:1"]}, {"targets": ["b:1"]}]))
    d = file_sd(tmp_path, "*.json")
    d.refresh(force=True)
    f.write_text(json.dumps([{"targets": ["c:1"]}]))
    touch_later(f)
    src = str(f)
    assert d.refresh() == [
        TargetGroup(f"{src}:0", [{"__address__": "c:1"}], {"__meta_filepath": src}),
        TargetGroup(f"{src}:1"),
    ]
    f.unlink()
    assert d.refresh() == [TargetGroup(f"{src}:0")]


def test_broken_file_keeps_last_good_targets_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("- targets: ['good:1']\n")
    d = file_sd(tmp_path, "*.yaml")
    assert len(d.refresh(force=True)) == 1
    f.write_text("- targets: ['broken:1'\n")
    touch_later(f)
    with caplog.at_level(logging.ERROR, "promethean.scrape.discovery.file"):
        assert d.refresh() == []
    record = caplog.records[-1]
    assert record.getMessage() == "Error reading file; keeping its last good targets"
    fields = record.__dict__["fields"]
    assert fields["path"] == str(f) and fields["err"].startswith("invalid YAML at line 2")
    f.write_text("- targets: ['x:1']\n  labels: {'': v}\n")
    touch_later(f)
    with caplog.at_level(logging.ERROR, "promethean.scrape.discovery.file"):
        assert d.refresh() == []
    assert (
        caplog.records[-1].__dict__["fields"]["err"]
        == 'target group 0: "" is not a valid label name'
    )
    f.write_text("- targets: ['fixed:1']\n")
    touch_later(f)
    assert [g.targets for g in d.refresh()] == [[{"__address__": "fixed:1"}]]


@arun
async def test_file_sd_run_picks_up_a_new_file_by_polling(tmp_path: Path) -> None:
    d = file_sd(tmp_path, "sd-*.json")
    got: list[list[TargetGroup]] = []
    task = asyncio.create_task(d.run(got.append))
    try:
        await asyncio.sleep(0.1)
        (tmp_path / "sd-1.json").write_text(json.dumps([{"targets": ["new:1"]}]))
        for _ in range(100):
            if len(got) > 1:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
    assert got[0] == []
    assert got[1][0].targets == [{"__address__": "new:1"}]


# --------------------------------------------------------------------------- http_sd


@arun
async def test_http_sd_format_auth_and_errors_keep_last_targets() -> None:
    state: dict[str, Any] = {
        "status": 200,
        "ctype": "application/json",
        "body": [{"targets": ["a:1", "b:1"], "labels": {"dc": "x"}}, {"targets": ["c:1"]}],
    }
    seen: list[dict[str, str]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.Response(
            status=state["status"],
            body=json.dumps(state["body"]).encode(),
            headers={"Content-Type": state["ctype"]},
        )

    async with serve(handler) as port:
        url = f"http://127.0.0.1:{port}/sd"
        cfg = parse_config(
            HTTPSDConfig,
            f"url: {url}\nrefresh_interval: 30s\nauthorization: {{credentials: SDTOKEN}}",
        )
        d = HTTPDiscovery(cfg, user_agent="promethean/test")
        try:
            groups = await d.refresh()
            assert groups == [
                TargetGroup(
                    f"{url}:0",
                    [{"__address__": "a:1"}, {"__address__": "b:1"}],
                    {"dc": "x", "__meta_url": url},
                ),
                TargetGroup(f"{url}:1", [{"__address__": "c:1"}], {"__meta_url": url}),
            ]
            assert seen[0]["Authorization"] == "Bearer SDTOKEN"
            assert seen[0]["Accept"] == "application/json"
            assert seen[0]["X-Prometheus-Refresh-Interval-Seconds"] == "30"
            assert seen[0]["User-Agent"] == "promethean/test"

            state["body"] = [{"targets": ["a:1"]}]
            assert await d.refresh() == [
                TargetGroup(f"{url}:0", [{"__address__": "a:1"}], {"__meta_url": url}),
                TargetGroup(f"{url}:1"),
            ]
            state["status"] = 500
            with pytest.raises(
                ValueError, match=r"^server returned HTTP status 500 Internal Server Error$"
            ):
                await d.refresh()
            state["status"], state["ctype"] = 200, "text/plain"
            with pytest.raises(ValueError, match=r'^unsupported content type "text/plain"$'):
                await d.refresh()
            state["ctype"] = "application/json; charset=utf-8"
            state["body"] = {"targets": []}
            with pytest.raises(
                ValueError, match=r"^response must be a JSON list of target groups$"
            ):
                await d.refresh()
        finally:
            await d.close()


# --------------------------------------------------------------------------- manager


@arun
async def test_manager_merges_jobs_keeps_unchanged_and_restarts_changed(tmp_path: Path) -> None:
    sd = tmp_path / "sd.json"
    sd.write_text(json.dumps([{"targets": ["f1:1"]}]))

    def configs(extra_static: str) -> ScrapeSection:
        return parse_config(
            ScrapeSection,
            f"""
scrape_configs:
  - job_name: static
    static_configs:
      - {{targets: ['s1:1', 's2:1'], labels: {{k: v}}}}
      - {{targets: ['{extra_static}']}}
  - job_name: files
    file_sd_configs: [{{files: ['{tmp_path}/*.json']}}]
  - job_name: empty
""",
        )

    updates: list[dict[str, list[TargetGroup]]] = []
    m = DiscoveryManager(updates.append, debounce=0.01, poll_interval=0.02)
    try:
        m.apply_config(configs("s3:1").scrape_configs)
        for _ in range(200):
            snap = m.snapshot()
            if snap.get("static") and snap.get("files"):
                break
            await asyncio.sleep(0.01)
        update = await m.next_update(timeout=5)
        while not update.get("files"):
            update = await m.next_update(timeout=5)
        assert set(update) == {"static", "files", "empty"}
        assert update["empty"] == []
        assert [g.targets for g in update["static"]] == [
            [{"__address__": "s1:1"}, {"__address__": "s2:1"}],
            [{"__address__": "s3:1"}],
        ]
        assert [g.source for g in update["static"]] == ["0", "1"]
        assert update["files"][0].targets == [{"__address__": "f1:1"}]

        files_tasks = list(m._jobs["files"].tasks)
        m.apply_config(configs("s4:1").scrape_configs)
        assert m._jobs["files"].tasks == files_tasks  # unchanged job: same provider
        for _ in range(200):
            if m.snapshot()["static"][-1:] and m.snapshot()["static"][-1].targets == [
                {"__address__": "s4:1"}
            ]:
                break
            await asyncio.sleep(0.01)
        assert m.snapshot()["static"][-1].targets == [{"__address__": "s4:1"}]

        sd.write_text(json.dumps([{"targets": ["f2:1"]}]))
        touch_later(sd)
        for _ in range(300):
            if m.snapshot()["files"][0].targets == [{"__address__": "f2:1"}]:
                break
            await asyncio.sleep(0.01)
        assert m.snapshot()["files"][0].targets == [{"__address__": "f2:1"}]

        m.apply_config([c for c in configs("s4:1").scrape_configs if c.job_name != "files"])
        assert "files" not in m.snapshot()
    finally:
        await m.stop()
    assert all(set(u) <= {"static", "files", "empty"} for u in updates)
