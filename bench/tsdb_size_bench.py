#!/usr/bin/env python3
"""On-disk bytes per sample after backfill: promethean vs promtool, one run, same file.

Uses the query-bench data set (../shared/bench/query_bench.py: 5000 x --scale
series, --hours of data every --step s; generated once into --workdir and
reused), backfills it with

    promethean tool tsdb create-blocks-from openmetrics FILE DIR
    promtool tsdb create-blocks-from openmetrics FILE DIR   (if promtool is installed)

and reports for each: bytes per sample (``du`` allocated bytes and apparent
bytes / samples), wall and CPU seconds and peak RSS of the backfill, and the
blocks made. Also checks that both directories hold the same number of samples.

    .venv/bin/python bench/tsdb_size_bench.py [--scale 1] [--hours 6] [--json-out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_BENCH = os.environ.get(
    "PROMETHEAN_BENCH_DIR", os.path.join(os.path.dirname(ROOT), "shared", "bench")
)
sys.path.insert(0, SHARED_BENCH)

import benchlib as bl  # noqa: E402
import query_bench as qb  # noqa: E402


def _backfill(argv: list[str], datadir: str) -> dict[str, object]:
    shutil.rmtree(datadir, ignore_errors=True)
    t0 = time.time()
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.time() - t0
    err = p.stderr.read().decode("utf-8", "replace") if p.stderr else ""
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise SystemExit(f"{shlex.join(argv)} failed rc={rc}: {err[-2000:]}")
    alloc, app = bl.du_bytes(datadir)
    info = qb.block_info(datadir)
    return {
        "command": shlex.join(argv),
        "wall_s": round(wall, 2),
        "cpu_s": round(ru.ru_utime + ru.ru_stime, 2),
        "max_rss_mib": round(ru.ru_maxrss / 1024, 1),
        "du_bytes": alloc,
        "apparent_bytes": app,
        **info,
    }


def _select_bench(datadir: str, rounds: int = 3) -> dict[str, object]:
    """Time a regex select of every series over the whole range, blocks opened once."""
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from promethean.model.matchers import Matcher, MatchType
    from promethean.tsdb.block import Block, list_block_dirs

    blocks = [Block.open(p) for p in list_block_dirs(datadir)]
    matcher = Matcher("__name__", MatchType.REGEX, ".+")
    times, series, points = [], 0, 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        series = points = 0
        for b in blocks:
            for s in b.querier(b.min_time, b.max_time).select([matcher]):
                series += 1
                points += int(s.timestamps.size)
        times.append(time.perf_counter() - t0)
    for b in blocks:
        b.close()
    times.sort()
    return {"median_s": round(times[len(times) // 2], 3), "min_s": round(times[0], 3),
            "series_block_pairs": series, "points": points}  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--hours", type=float, default=6.0)
    ap.add_argument("--step", type=int, default=15)
    ap.add_argument("--start", type=int, default=qb.DEFAULT_START)
    ap.add_argument("--workdir", default="/tmp/promethean-bench/query")
    ap.add_argument("--data-file", default=None)
    ap.add_argument("--regen", action="store_true")
    ap.add_argument(
        "--promtool", default=shutil.which("promtool"), help="promtool binary (default: PATH)"
    )
    ap.add_argument("--json-out")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    datafile, meta = qb.prepare_data(args)
    samples = int(meta["samples"])
    runs: dict[str, dict[str, object]] = {}
    promethean = [sys.executable, "-m", "promethean.cli"]
    runs["promethean"] = _backfill(
        [*promethean, "tool", "tsdb", "create-blocks-from", "openmetrics", "-q", datafile,
         os.path.join(args.workdir, "size-promethean")],
        os.path.join(args.workdir, "size-promethean"),
    )  # fmt: skip
    if args.promtool:
        runs["promtool"] = _backfill(
            [args.promtool, "tsdb", "create-blocks-from", "openmetrics", datafile,
             os.path.join(args.workdir, "size-promtool")],
            os.path.join(args.workdir, "size-promtool"),
        )  # fmt: skip
    print(f"data: {datafile}: {samples} samples, {meta['series']} series, {meta['bytes']} bytes")
    print(f"{'backfill':<12} {'B/sample du':>12} {'B/sample app':>13} {'wall s':>8} {'CPU s':>8} "
          f"{'peak RSS MiB':>13} {'blocks':>7} {'samples':>9}")  # fmt: skip
    for name, r in runs.items():
        du, app = int(str(r["du_bytes"])), int(str(r["apparent_bytes"]))
        cells = [f"{name:<12}", f"{du / samples:>12.3f}", f"{app / samples:>13.3f}"]
        cells += [f"{r['wall_s']:>8}", f"{r['cpu_s']:>8}", f"{r['max_rss_mib']:>13}"]
        cells += [f"{r['blocks']:>7}", f"{r['samples_in_meta']!s:>9}"]
        print(" ".join(cells))
    if "promtool" in runs:
        ratio = int(str(runs["promethean"]["du_bytes"])) / int(str(runs["promtool"]["du_bytes"]))
        print(f"promethean / promtool on-disk size: {ratio:.3f}")
    runs["promethean"]["select"] = _select_bench(os.path.join(args.workdir, "size-promethean"))
    sel = runs["promethean"]["select"]
    print(f'select {{__name__=~".+"}} over all blocks ({args.hours:g} h): {sel}')
    if args.json_out:
        with open(args.json_out, "a") as f:
            f.write(json.dumps({"bench": "tsdb_size", "data": meta, "runs": runs}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
