#!/usr/bin/env python3
"""Query latency of ``promethean server`` beside Go Prometheus, through the HTTP API.

A thin wrapper: the measurement is ``../shared/bench/query_bench.py`` (the
project-wide harness: one deterministic 5k-series x 6 h OpenMetrics file,
backfilled by each server's own tool, both servers up at once, the 30-query
corpus timed alternately, results checked against each other). This script
only fills in promethean's command templates and puts ``.venv/bin`` on PATH,
so one command runs the comparison:

    .venv/bin/python bench/server_query_bench.py --runs 3

Extra arguments go to the harness unchanged (``--only``, ``--scale``,
``--runs``, ``--port``...). Unlike ``bench/promql_bench.py`` (the engine
in-process), this measures what a client sees: HTTP, JSON encoding, the query
pool and the TSDB's block reads included.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HARNESS = ROOT.parent / "shared" / "bench" / "query_bench.py"


def main(argv: list[str]) -> int:
    if not HARNESS.exists():
        print(f"query bench harness not found at {HARNESS}", file=sys.stderr)
        return 2
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    cmd = [
        sys.executable,
        str(HARNESS),
        "--bin",
        "promethean server",
        "--backfill-template",
        "promethean tool tsdb create-blocks-from openmetrics {file} {data}",
        "--baseline-bin",
        "prometheus",
        *argv,
    ]
    return subprocess.call(cmd, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
