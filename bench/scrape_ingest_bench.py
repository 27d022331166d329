#!/usr/bin/env python3
"""Scrape ingestion, in process: ScrapeManager scraping real HTTP targets into a real DB.

N synthetic targets from ../shared/bench/targets.py (a separate process, so
its CPU is not ours) are served on 127.0.0.1; one job scrapes them with our
:class:`~promethean.scrape.manager.ScrapeManager` into a
:class:`~promethean.tsdb.db.DB` in a temporary directory (WAL on). After a
warm-up, over a measured window, it reports:

* samples/s ingested (head ``samples_appended``, page samples and the five
  report series) against the offered rate;
* CPU seconds per million samples of this process (all threads), next to Go
  Prometheus 2.42's 1.46 measured on this machine for its whole server
  (../shared/bench/RESULTS.md), and the ratio;
* RSS per active series (RSS growth since before the first scrape / head series);
* missed ticks (scrapes skipped because the previous one overran), late
  scrapes (started over 10% of an interval after their tick) and failed scrapes.

With ``--first-scrape N`` it measures instead the CPU of the first scrape of N
new targets (fresh loops, a fresh DB; the page from targets.py ``--dump``,
served in process): what a target costs before its series are cached.

The side-by-side run against Go on the same targets is
../shared/bench/ingest_bench.py, which needs the server (later issue).

    .venv/bin/python bench/scrape_ingest_bench.py --targets 10 --series 10000 --interval 1
    .venv/bin/python bench/scrape_ingest_bench.py --series 10000 --first-scrape 6 [--protobuf]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

from promethean.scrape.config import ScrapeConfig  # noqa: E402
from promethean.scrape.discovery.targetgroup import TargetGroup  # noqa: E402
from promethean.scrape.manager import ScrapeManager  # noqa: E402
from promethean.tsdb.db import DB  # noqa: E402

GO_CPU_PER_M = 1.46  # CPU-s per million samples, Prometheus 2.42 @ 100k samples/s (RESULTS.md)
GO_RSS_PER_SERIES = 3292  # bytes, same run


def _shared_bench() -> str:
    base = os.environ.get("PROMETHEAN_SHARED_DIR") or os.path.join(ROOT, "..", "shared")
    return os.path.join(base, "bench")


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _start_targets(args: argparse.Namespace) -> subprocess.Popen[str]:
    cmd = [
        sys.executable,
        os.path.join(_shared_bench(), "targets.py"),
        "--targets",
        str(args.targets),
        "--series",
        str(args.series),
        "--base-port",
        str(args.base_port),
        "--max-runtime",
        str(args.warmup + args.duration + 60),
    ]
    if args.gzip:
        cmd.append("--gzip")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "targets_ready" not in line:
        proc.terminate()
        raise SystemExit(f"targets did not start: {line!r}")
    return proc


async def _measure(args: argparse.Namespace, data_dir: str) -> dict[str, float]:
    db = DB(data_dir)
    rss0 = _rss()
    mgr = ScrapeManager(db)
    interval = f"{int(args.interval * 1000)}ms"
    cfg = ScrapeConfig.model_validate(
        {"job_name": "bench", "scrape_interval": interval, "scrape_timeout": interval}
    )
    await mgr.apply_config([cfg])
    addrs = [f"127.0.0.1:{args.base_port + i}" for i in range(args.targets)]
    await mgr.sync({"bench": [TargetGroup("bench", [{"__address__": a} for a in addrs], {})]})
    await asyncio.sleep(args.warmup)
    loops = [t.loop for ts in mgr.active_targets().values() for t in ts]

    def snapshot() -> tuple[float, float, int, int, int, int, int]:
        return (
            time.monotonic(),
            time.process_time(),
            db.stats.head.samples_appended,
            sum(lp.health.missed_ticks for lp in loops),
            sum(lp.health.late_scrapes for lp in loops),
            sum(lp.health.scrapes for lp in loops),
            sum(lp.health.failures for lp in loops),
        )

    a = snapshot()
    await asyncio.sleep(args.duration)
    b = snapshot()
    rss = _rss()
    series = db.head.stats.series_created - db.head.stats.series_removed
    await mgr.stop()
    db.close()
    wall = b[0] - a[0]
    cpu = b[1] - a[1]
    samples = b[2] - a[2]
    per_scrape = args.series + 5
    return {
        "offered_samples_per_s": args.targets * per_scrape / args.interval,
        "samples_per_s": samples / wall,
        "cpu_s_per_million": cpu / samples * 1e6 if samples else float("nan"),
        "cpu_cores": cpu / wall,
        "rss_per_series_bytes": (rss - rss0) / series if series else float("nan"),
        "rss_bytes": rss,
        "active_series": series,
        "missed_ticks": b[3] - a[3],
        "late_scrapes": b[4] - a[4],
        "scrapes": b[5] - a[5],
        "failed_scrapes": b[6] - a[6],
        "max_scrape_duration_s": max(lp.health.max_duration for lp in loops),
    }


async def _first_scrapes(
    args: argparse.Namespace, data_dir: str, page: bytes, ctype: str
) -> list[float]:
    """CPU seconds of each new target's first scrape, then of its second (cached) one."""
    import aiohttp
    from aiohttp import web

    from promethean.model.labels import Labels
    from promethean.scrape.loop import LoopSettings, ScrapeLoop

    async def serve(_request: web.Request) -> web.Response:
        return web.Response(body=page, headers={"Content-Type": ctype})

    app = web.Application()
    app.router.add_get("/metrics", serve)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.base_port)
    await site.start()
    db = DB(data_dir)
    firsts: list[float] = []
    seconds: list[float] = []
    try:
        async with aiohttp.ClientSession() as session:
            for i in range(args.first_scrape):
                loop = ScrapeLoop(
                    labels=Labels.from_dict({"job": "bench", "instance": f"t{i}"}),
                    url=f"http://127.0.0.1:{args.base_port}/metrics",
                    interval_s=1.0,
                    timeout_s=10.0,
                    settings=LoopSettings(
                        job_name="bench",
                        scrape_protocols=("PrometheusProto", "PrometheusText0.0.4"),
                    ),
                    session=session,
                    storage=db,
                )
                for out, at in ((firsts, 1000.0), (seconds, 1001.0)):
                    c0 = time.process_time()
                    await loop.scrape_once(at)
                    out.append(time.process_time() - c0)
    finally:
        db.close()
        await runner.cleanup()
    return firsts + seconds


def _first_scrape_main(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="scrape-first-") as d:
        dump = os.path.join(d, "page.prom")
        subprocess.run(
            [
                sys.executable,
                os.path.join(_shared_bench(), "targets.py"),
                "--series",
                str(args.series),
                "--dump",
                dump,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        with open(dump, "rb") as f:
            page = f.read()
        ctype = "text/plain; version=0.0.4"
        if args.protobuf:
            from promethean.model.protobuf import CONTENT_TYPE, write_protobuf
            from promethean.model.textparse import parse_text

            page, ctype = write_protobuf(parse_text(page)), CONTENT_TYPE
        res = asyncio.run(_first_scrapes(args, os.path.join(d, "db"), page, ctype))
    n = args.first_scrape
    firsts, seconds = sorted(res[:n]), sorted(res[n:])
    fmt = "protobuf" if args.protobuf else "text"
    print(f"first scrape of {n} new targets x {args.series} series, {fmt} (CPU s, whole scrape)")
    print(f"  first:  median {firsts[n // 2]:.3f}  min {firsts[0]:.3f}  max {firsts[-1]:.3f}")
    print(f"  second: median {seconds[n // 2]:.3f}  min {seconds[0]:.3f}  max {seconds[-1]:.3f}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", type=int, default=10)
    ap.add_argument("--series", type=int, default=10000)
    ap.add_argument("--interval", type=float, default=1.0, help="seconds")
    ap.add_argument("--warmup", type=float, default=5.0)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--base-port", type=int, default=39600)
    ap.add_argument("--gzip", action="store_true")
    ap.add_argument("--json-out", help="append the result as one JSON line")
    ap.add_argument(
        "--first-scrape", type=int, default=0, metavar="N", help="measure N first scrapes instead"
    )
    ap.add_argument("--protobuf", action="store_true", help="--first-scrape: serve protobuf")
    args = ap.parse_args(argv)
    if args.first_scrape > 0:
        return _first_scrape_main(args)
    targets = _start_targets(args)
    try:
        with tempfile.TemporaryDirectory(prefix="scrape-bench-") as d:
            res = asyncio.run(_measure(args, d))
    finally:
        targets.terminate()
        targets.wait(timeout=10)
    res["cpu_ratio_vs_go"] = res["cpu_s_per_million"] / GO_CPU_PER_M
    res["rss_ratio_vs_go"] = res["rss_per_series_bytes"] / GO_RSS_PER_SERIES
    print(
        f"{args.targets} targets x {args.series} series every {args.interval:g}s "
        f"(offered {res['offered_samples_per_s']:,.0f} samples/s, gzip={args.gzip})"
    )
    rows = [
        ("samples/s ingested", f"{res['samples_per_s']:,.0f}"),
        (
            "CPU-s per million samples",
            f"{res['cpu_s_per_million']:.3f} (Go 2.42: {GO_CPU_PER_M}; "
            f"ratio {res['cpu_ratio_vs_go']:.2f}x)",
        ),
        ("CPU cores used", f"{res['cpu_cores']:.3f}"),
        (
            "RSS per active series",
            f"{res['rss_per_series_bytes']:,.0f} B (Go 2.42: {GO_RSS_PER_SERIES:,} B total)",
        ),
        ("active series", f"{res['active_series']:,}"),
        ("scrapes in window", f"{res['scrapes']}"),
        ("missed ticks / late scrapes", f"{res['missed_ticks']} / {res['late_scrapes']}"),
        ("failed scrapes", f"{res['failed_scrapes']}"),
        ("slowest scrape (whole run)", f"{res['max_scrape_duration_s']:.3f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    if args.json_out:
        with open(args.json_out, "a") as f:
            f.write(json.dumps({"args": vars(args), **res}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
