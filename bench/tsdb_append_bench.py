#!/usr/bin/env python3
"""TSDB head: append throughput, memory per series, WAL replay time.

Appends whole scrapes (``--series`` series, one timestamp each) through the
Appender with cached refs, as the scrape loop does, into a fresh data
directory (WAL on), then closes and reopens it to time the WAL replay.
Prints samples/s, CPU-s per million samples, RSS per active series and the
replay time, next to Go Prometheus 2.42's figures from
../shared/bench/RESULTS.md (measured on this machine for the whole server
pipeline: scrape + parse + append; the Go TSDB alone is cheaper, so the
comparison flatters neither side on CPU, and RSS includes the Go runtime).

    .venv/bin/python bench/tsdb_append_bench.py [--series 100000] [--scrapes 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

import numpy as np  # noqa: E402

from promethean.model.labels import Labels  # noqa: E402
from promethean.tsdb.db import DB  # noqa: E402

GO_CPU_PER_MILLION = 1.457  # CPU-s per million samples at 100k samples/s (RESULTS.md)
GO_RSS_PER_SERIES = (2991, 3292)  # bytes per active series @5s / @1s (RESULTS.md)


def rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def make_labels(n: int) -> list[Labels]:
    out = []
    for i in range(n):
        out.append(
            Labels.from_dict(
                {
                    "__name__": f"metric_{i % 100}",
                    "instance": f"host-{i // 10000}:9100",
                    "job": "node",
                    "series": str(i),
                }
            )
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=100_000)
    ap.add_argument("--scrapes", type=int, default=20)
    ap.add_argument("--interval-ms", type=int, default=15_000)
    args = ap.parse_args()

    labels = make_labels(args.series)
    tmp = tempfile.mkdtemp(prefix="tsdb-append-bench-")
    try:
        rss0 = rss_bytes()
        db = DB(tmp)
        refs: list[int | None] = [None] * args.series
        rng = np.random.default_rng(0)
        base = 1_700_000_000_000
        values = rng.random(args.series) * 100
        t_first = time.perf_counter()
        app = db.appender()
        refs, errors = app.append_many(refs, labels, base, values)
        app.commit()
        first_s = time.perf_counter() - t_first
        assert not errors
        wall0, cpu0 = time.perf_counter(), time.process_time()
        for k in range(1, args.scrapes):
            values = values + rng.random(args.series)
            app = db.appender()
            refs, errors = app.append_many(refs, labels, base + k * args.interval_ms, values)
            app.commit()
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
        appended = args.series * (args.scrapes - 1)
        rss1 = rss_bytes()
        total = args.series * args.scrapes
        wal_bytes = sum(
            os.path.getsize(os.path.join(tmp, "wal", f))
            for f in os.listdir(os.path.join(tmp, "wal"))
        )
        db.close()
        t0 = time.perf_counter()
        db = DB(tmp)
        replay = time.perf_counter() - t0
        assert db.head.stats.samples_appended == total, db.head.stats
        db.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    per_million = cpu / appended * 1e6
    print(f"series: {args.series:,}; scrapes: {args.scrapes}; samples: {total:,}")
    print(f"first scrape (creates every series): {first_s:.3f} s")
    print(
        f"append (cached refs, WAL on): {appended / wall:,.0f} samples/s; "
        f"{per_million:.3f} CPU-s per million samples "
        f"(Go Prometheus whole pipeline: {GO_CPU_PER_MILLION}; "
        f"ratio {per_million / GO_CPU_PER_MILLION:.2f})"
    )
    print(
        f"RSS growth per active series: {(rss1 - rss0) / args.series:,.0f} B "
        f"(after {args.scrapes} samples/series; labels built before; "
        f"Go Prometheus total RSS/series {GO_RSS_PER_SERIES[0]:,}-{GO_RSS_PER_SERIES[1]:,} B)"
    )
    print(f"WAL bytes per sample: {wal_bytes / total:.2f}")
    print(f"WAL replay (start-up) for {total:,} samples: {replay:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
