"""Selecting 10k series by a regex matcher over 6 hours, from blocks and from the head.

One command: ``.venv/bin/python bench/tsdb_select_bench.py [--series 10000] [--hours 6]``.

Builds a data dir with ``--series`` series (20 jobs x instances, 15 s
resolution, realistic counter values) as three 2 h blocks, opens it with the
real DB, and times ``select({__name__=~"bench_metric_.*", job=~"job_(1|2|3).*"}``
variants that match all or part of the series over the whole range and
over an instant query's window (the 5 min lookback ending 30 min before the
end), each cold (the shared decoded-chunk cache emptied before every run)
and warm (chunks already decoded), reporting wall time, series/s and
samples/s (median of ``--repeat`` runs).
The same series are then appended through the head (no blocks) and the
same selects are timed again.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Iterator

import numpy as np

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.block import write_block
from promethean.tsdb.chunks import decoded_cache
from promethean.tsdb.db import DB, DBOptions

STEP_MS = 15_000
HOUR_MS = 3_600_000


def _labels(i: int) -> Labels:
    return Labels.from_dict(
        {
            "__name__": f"bench_metric_{i % 10}",
            "job": f"job_{i % 20}",
            "instance": f"host-{i // 20}:9100",
            "mode": ("idle", "user", "system", "iowait")[i % 4],
        }
    )


def _series(n: int, t0: int, t1: int) -> Iterator[tuple[Labels, np.ndarray, np.ndarray]]:
    ts = np.arange(t0, t1, STEP_MS, dtype=np.int64)
    rng = np.random.default_rng(1)
    rows = sorted(range(n), key=_labels)
    for i in rows:
        steps = rng.integers(0, 100, size=ts.size).astype(np.float64)
        yield _labels(i), ts, np.cumsum(steps) + i


QUERIES = {
    "all 10k by regex": [Matcher("__name__", MatchType.REGEX, "bench_metric_.*")],
    "3 of 20 jobs": [
        Matcher("__name__", MatchType.REGEX, "bench_metric_.*"),
        Matcher("job", MatchType.REGEX, "job_(1|2|3)"),
    ],
    "one metric, negative regex": [
        Matcher("__name__", MatchType.EQUAL, "bench_metric_3"),
        Matcher("mode", MatchType.NOT_REGEX, "idle|iowait"),
    ],
}


def _time(
    db: DB, mint: int, maxt: int, matchers: list[Matcher], repeat: int, cold: bool
) -> tuple[float, int, int]:
    walls = []
    n_series = n_samples = 0
    for _ in range(repeat):
        if cold:
            decoded_cache.clear()
        t = time.perf_counter()
        q = db.querier(mint, maxt)
        try:
            n_series = n_samples = 0
            for s in q.select(matchers):
                n_series += 1
                n_samples += int(s.timestamps.size)
        finally:
            q.close()
        walls.append(time.perf_counter() - t)
    return statistics.median(walls), n_series, n_samples


def _report(title: str, db: DB, mint: int, maxt: int, repeat: int, blocks: bool) -> None:
    print(f"\n{title}")
    print("| query | window | cache | series | samples | median s | series/s | samples/s |")
    print("|---|---|---|---|---|---|---|---|")
    instant_end = maxt - 30 * 60_000
    windows = [("whole", mint, maxt), ("5m instant", instant_end - 300_000 + 1, instant_end)]
    for name, matchers in QUERIES.items():
        for wname, lo, hi in windows:
            for cold in (True, False) if blocks else (False,):
                wall, ns, nsamp = _time(db, lo, hi, matchers, repeat, cold)
                state = "-" if not blocks else "cold" if cold else "warm"
                print(
                    f"| {name} | {wname} | {state} | {ns:,} | {nsamp:,} | {wall:.4f} "
                    f"| {ns / wall:,.0f} | {nsamp / wall:,.0f} |"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--hours", type=int, default=6)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    t0 = 1_700_000_000_000 // (2 * HOUR_MS) * (2 * HOUR_MS)
    t1 = t0 + args.hours * HOUR_MS
    with tempfile.TemporaryDirectory(prefix="promethean-select-") as tmp:
        start = time.perf_counter()
        for b0 in range(t0, t1, 2 * HOUR_MS):
            write_block(tmp, _series(args.series, b0, min(b0 + 2 * HOUR_MS, t1)))
        print(
            f"built {args.series:,} series x {args.hours} h in {time.perf_counter() - start:.1f} s"
        )
        db = DB(tmp, DBOptions(retention_ms=10 * 365 * 24 * HOUR_MS))
        try:
            _report(f"from blocks ({args.hours} h)", db, t0, t1, args.repeat, True)
        finally:
            db.close()
    with tempfile.TemporaryDirectory(prefix="promethean-select-head-") as tmp:
        hours = min(args.hours, 2)
        db = DB(tmp, DBOptions(retention_ms=10 * 365 * 24 * HOUR_MS))
        try:
            labels = [lab for lab, _, _ in _series(args.series, t0, t0 + STEP_MS)]
            refs: list[int | None] = [None] * len(labels)
            for t in range(t0, t0 + hours * HOUR_MS, STEP_MS):
                app = db.appender()
                refs, _errors = app.append_many(
                    refs, labels, t, np.full(len(labels), float(t), dtype=np.float64)
                )
                app.commit()
            _report(f"from the head ({hours} h)", db, t0, t0 + hours * HOUR_MS, args.repeat, False)
        finally:
            db.close()


if __name__ == "__main__":
    main()
