#!/usr/bin/env python3
"""PromQL engine benchmark: the query bench corpus in-process, beside Go Prometheus.

Loads the data ``../shared/bench/query_bench.py`` generates (same generator,
same values as the text the Go server backfills, captured as arrays instead
of text) into the in-memory storage, runs the 30 corpus queries on the engine
(warm-up, then ``--runs`` rounds, median per query) and prints each median
next to Prometheus's published median from
``../shared/bench/results/query_prometheus.jsonl``, with the ratio, whether the
result digest matches Go's, and the geometric-mean ratio.

    .venv/bin/python bench/promql_bench.py --runs 5
    .venv/bin/python bench/promql_bench.py --runs 5 --clock cpu   # on a busy machine

Not an HTTP measurement: no JSON encoding, no network, no TSDB decoding, so
it bounds what the server can reach once it serves these queries.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from promethean.model.labels import Labels
from promethean.promql.aggregations import format_value
from promethean.promql.engine import Engine, EngineOptions, QueryError, QueryResult
from promethean.promql.memstorage import MemStorage

ROOT = Path(__file__).resolve().parents[1]
SHARED_BENCH = ROOT.parent / "shared" / "bench"
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def _labels(prefix: str) -> Labels:
    name, _, rest = prefix.strip().partition("{")
    pairs = _LABEL.findall(rest)
    return Labels.from_pairs([("__name__", name), *pairs])


def _as_text_value(values: np.ndarray, fmt: str) -> np.ndarray:
    """What the Go server stores: the value as formatted in the exposition, parsed back."""
    if fmt == "%d":
        return np.trunc(values).astype(np.float64)
    return np.asarray([float(fmt % v) for v in values.tolist()], dtype=np.float64)


def load_data(
    qb: Any, storage: MemStorage, scale: int, hours: float, step: int, start: int
) -> dict[str, Any]:
    """Run the bench's generator with a writer that fills ``storage`` instead of a file."""

    class CaptureWriter:
        def __init__(self, f: Any, T: int, start_s: int, step_s: int) -> None:
            self.T = T
            self.ts = (np.arange(T, dtype=np.int64) * step_s + start_s) * 1000
            self.series = 0
            self.samples = 0

        def family(self, name: str, mtype: str, help_: str) -> None:
            return None

        def series_line(self, prefix: str, values: np.ndarray, fmt: str) -> None:
            storage.add_series(_labels(prefix), self.ts, _as_text_value(np.asarray(values), fmt))
            self.series += 1
            self.samples += self.T

        def histogram(
            self, name: str, labels: str, buckets: np.ndarray, count: np.ndarray, ssum: np.ndarray
        ) -> None:
            sep = "," if labels else ""
            for j, le in enumerate(qb.LES):
                self.series_line(f'{name}_bucket{{{labels}{sep}le="{le}"}} ', buckets[:, j], "%d")
            self.series_line(f"{name}_count{{{labels}}} ", count, "%d")
            self.series_line(f"{name}_sum{{{labels}}} ", ssum, "%.3f")

    qb.Writer = CaptureWriter
    with tempfile.TemporaryDirectory() as d:
        return dict(qb.generate(os.path.join(d, "data.om"), scale, hours, step, start))


def _api_ts(ms: int) -> float | int:
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def api_data(res: QueryResult) -> dict[str, Any]:
    if res.type == "vector":
        result = [
            {"metric": dict(s.labels), "value": [_api_ts(s.t), format_value(s.v)]}
            for s in res.vector
        ]
    elif res.type == "matrix":
        result = [
            {
                "metric": dict(s.labels),
                "values": [
                    [_api_ts(int(t)), format_value(float(v))]
                    for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
                ],
            }
            for s in res.matrix
        ]
    elif res.type == "scalar":
        result = [_api_ts(res.scalar[0]), format_value(res.scalar[1])]  # type: ignore[list-item]
    else:
        result = [_api_ts(res.string[0]), res.string[1]]  # type: ignore[list-item]
    return {"resultType": res.type, "result": result}


def run_query(engine: Engine, qb: Any, q: dict[str, Any], meta: dict[str, Any]) -> QueryResult:
    if q["kind"] == "instant":
        t = qb.resolve(q["when"], meta)
        return engine.instant_query(q["expr"], round(t * 1000))
    a, b, st = q["when"]
    return engine.range_query(
        q["expr"],
        round(qb.resolve(a, meta) * 1000),
        round(qb.resolve(b, meta) * 1000),
        int(st * 1000),
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--only", default="", help="regex of query names to run")
    ap.add_argument("--reference", default=str(SHARED_BENCH / "results" / "query_prometheus.jsonl"))
    ap.add_argument("--json-out", default="")
    ap.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="wall time, or this process's CPU time (steadier on a shared, busy machine)",
    )
    args = ap.parse_args(argv)
    sys.path.insert(0, str(SHARED_BENCH))
    import query_bench as qb  # type: ignore[import-not-found]

    ref = json.loads(Path(args.reference).read_text().splitlines()[0])
    d = ref["data"]
    storage = MemStorage()
    t0 = time.perf_counter()
    meta = load_data(qb, storage, d["scale"], d["hours"], d["step_s"], d["start"])
    print(
        f"loaded {meta['series']} series, {meta['samples']} samples "
        f"in {time.perf_counter() - t0:.1f}s"
    )
    engine = Engine(storage, EngineOptions())
    rows = []
    only = re.compile(args.only) if args.only else None
    for q in qb.load_corpus(None):
        if only and not only.search(q["name"]):
            continue
        refq = ref["queries"][q["name"]]
        try:
            res = run_query(engine, qb, q, meta)  # warm-up and digest
        except QueryError as err:
            rows.append((q["name"], None, refq["latency_s"]["median"], f"ERROR {err}"))
            continue
        digest = qb.canonical_digest(api_data(res))
        match = "match" if digest.get("digest") == refq["digest"] else "MISMATCH"
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        times = []
        for _ in range(args.runs):
            t = clock()
            run_query(engine, qb, q, meta)
            times.append(clock() - t)
        rows.append((q["name"], statistics.median(times), refq["latency_s"]["median"], match))
    print(f"{'query':<26} {'ours ms':>9} {'go ms':>8} {'ratio':>7}  result")
    ratios = []
    for name, ours, go, match in rows:
        if ours is None:
            print(f"{name:<26} {'-':>9} {go * 1000:8.2f} {'-':>7}  {match}")
            continue
        ratio = ours / go
        ratios.append(ratio)
        print(f"{name:<26} {ours * 1000:9.2f} {go * 1000:8.2f} {ratio:7.2f}  {match}")
    if ratios:
        gm = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        n_match = sum(1 for r in rows if r[3] == "match")
        print(
            f"geometric-mean ratio (ours/go) over {len(ratios)} queries: {gm:.2f}; "
            f"{n_match}/{len(rows)} results match Go's digests"
        )
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"rows": rows}) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
