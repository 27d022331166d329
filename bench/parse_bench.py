#!/usr/bin/env python3
"""Parse throughput: prometheus_client vs promethean on the shared targets.py payload.

One run, one process, same payload: prometheus_client's text parser (the Python
baseline), promethean's parse_text, parse_openmetrics on the OpenMetrics
rendering, and the cached ScrapeParser re-parse of a scrape where only the
values changed (scrapes 3 and 4 alternate; parse + end_cycle are timed: the
steady state, where the parser replays the last scrape's layout), and the same
with one extra line on every other scrape (the layout changes, so every line
goes through the cache lookup loop).
Prints samples/s, CPU-s per million samples, the ratio to prometheus_client (by
wall-clock rate and by CPU time: on a shared machine the CPU one is steadier) and
Go's reference figure (1.46 CPU-s per million samples for the whole Go scrape
pipeline, from ../shared/bench/RESULTS.md).

    .venv/bin/python bench/parse_bench.py [--series 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))
sys.path.insert(0, os.path.join(os.path.dirname(ROOT), "shared", "bench"))

from targets import Exposition  # noqa: E402

from promethean.model.openmetrics import parse_openmetrics  # noqa: E402
from promethean.model.scrapeparse import ScrapeParser  # noqa: E402
from promethean.model.textparse import parse_text  # noqa: E402

GO_CPU_S_PER_MILLION = 1.46


def _time(fn: Callable[[int], int], repeat: int) -> tuple[float, float, int]:
    """Median samples/s (wall) and CPU-s per million samples over ``repeat`` rounds."""
    rates, cpus = [], []
    n = 0
    for i in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        n = fn(i)
        w, c = time.perf_counter() - w0, time.process_time() - c0
        rates.append(n / w)
        cpus.append(c / n * 1e6)
    return statistics.median(rates), statistics.median(cpus), n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--series", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-baseline", action="store_true", help="skip prometheus_client")
    args = ap.parse_args(argv)

    expo = Exposition(args.series, 100, None, 0.1, 10, 1)
    text3 = expo.render(0, 3, "text")
    text4 = expo.render(0, 4, "text")
    om = expo.render(0, 3, "openmetrics")
    print(f"payload: {expo.n_series} samples, {len(text3.encode()):,} bytes (text)")

    rows: list[tuple[str, float, float]] = []
    if not args.skip_baseline:
        from prometheus_client.parser import text_string_to_metric_families

        def baseline(_: int) -> int:
            return sum(len(f.samples) for f in text_string_to_metric_families(text3))

        rows.append(("prometheus_client.parser (text)", *_time(baseline, args.repeat)[:2]))

    def ours_text(_: int) -> int:
        return sum(len(f.samples) for f in parse_text(text3))

    def ours_om(_: int) -> int:
        return sum(len(f.samples) for f in parse_openmetrics(om))

    rows.append(("promethean parse_text", *_time(ours_text, args.repeat)[:2]))
    rows.append(("promethean parse_openmetrics (OM body)", *_time(ours_om, args.repeat)[:2]))

    parser = ScrapeParser()
    parser.parse(text3)
    parser.end_cycle()

    def cached(i: int) -> int:
        n = len(parser.parse(text4 if i % 2 == 0 else text3))
        parser.end_cycle()
        return n

    rows.append(("promethean ScrapeParser cached re-parse", *_time(cached, args.repeat * 2)[:2]))

    churn = ScrapeParser()
    text4_extra = text4 + "bench_extra_series 1\n"
    for body in (text3, text4_extra):
        churn.parse(body)
        churn.end_cycle()

    def changing(i: int) -> int:
        n = len(churn.parse(text4_extra if i % 2 == 0 else text3))
        churn.end_cycle()
        return n

    rows.append(("  ... layout changes every scrape", *_time(changing, args.repeat * 2)[:2]))

    base = rows[0][1] if not args.skip_baseline else None
    base_cpu = rows[0][2] if not args.skip_baseline else None
    print(f"\n{'parser':45} {'samples/s':>12} {'CPU-s/M':>9} {'vs python':>10} {'(by CPU)':>9}")
    for name, rate, cpu in rows:
        ratio = f"{rate / base:.1f}x" if base else "-"
        cpu_ratio = f"{base_cpu / cpu:.1f}x" if base_cpu else "-"
        print(f"{name:45} {rate:12,.0f} {cpu:9.2f} {ratio:>10} {cpu_ratio:>9}")
    print(f"{'Go Prometheus scrape pipeline (reference)':45} {'':>12} {GO_CPU_S_PER_MILLION:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
