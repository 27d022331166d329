#!/usr/bin/env python3
"""Scrape interval jitter with and without heavy query load (SECURITY-MODEL D1).

Each server under test (``promethean server``, and with ``--baseline-bin``
Go Prometheus beside it, one after the other in one run) gets the same
backfilled hour of ``--series`` gauges every 10 s (written once as OpenMetrics,
backfilled by each server's own tool), scrapes one small real target on
127.0.0.1 every ``--interval`` seconds, and goes through two phases:

1. idle: ``--phase`` seconds with no queries;
2. load: ``--phase`` seconds with ``--concurrency + 1`` clients sending heavy
   range queries back to back (one hour, 1 s step, over every series), so every
   ``--query.max-concurrency`` slot is busy and a query always waits.

The scrape timestamps the server stored (``up{job="tick"}``) give, per phase:
the mean interval, its standard deviation, the 99th percentile of the
deviation from the interval, the largest gap and the scrapes missed (gaps over
1.5 intervals). Queries completed in the load phase and their median latency
are printed beside them.

    .venv/bin/python bench/server_d1_bench.py --baseline-bin prometheus
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
HEAVY = "avg by (group) (avg_over_time(d1_heavy[5m]))"
BACKFILL = {
    "promethean": "promethean tool tsdb create-blocks-from openmetrics {file} {data}",
    "go": "promtool tsdb create-blocks-from openmetrics {file} {data}",
}


class _Tick(BaseHTTPRequestHandler):
    BODY = "".join(f'd1_tick{{n="{i}"}} {i}\n' for i in range(50)).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, format: str, *args: object) -> None:
        return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 300.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _write_openmetrics(path: Path, series: int, end_s: int) -> None:
    start = end_s - 3600
    with path.open("w") as out:
        out.write("# TYPE d1_heavy gauge\n")
        for i in range(series):
            lbl = f'd1_heavy{{series="{i}",group="{i % 10}"}}'
            out.writelines(
                f"{lbl} {(i * j) % 1000} {t}\n" for j, t in enumerate(range(start, end_s, 10))
            )
        out.write("# EOF\n")


def _phase_stats(stamps: list[float], interval: float) -> dict[str, float]:
    gaps = np.diff(np.asarray(stamps))
    if gaps.size == 0:
        return {"scrapes": len(stamps)}
    return {
        "scrapes": len(stamps),
        "mean_interval_s": float(gaps.mean()),
        "stdev_ms": float(gaps.std() * 1000),
        "p99_deviation_ms": float(np.percentile(np.abs(gaps - interval), 99) * 1000),
        "max_gap_s": float(gaps.max()),
        "missed": int(np.maximum(np.round(gaps / interval) - 1, 0)[gaps > 1.5 * interval].sum()),
    }


def _run_one(
    name: str, cmd: str, backfill: str, om: Path, args: argparse.Namespace, target: str
) -> dict[str, Any]:
    work = Path(args.workdir) / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    data = work / "data"
    env = dict(os.environ)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    subprocess.run(
        shlex.split(backfill.format(file=om, data=data)),
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    config = work / "prometheus.yml"
    ms = round(args.interval * 1000)
    config.write_text(
        f"global: {{scrape_interval: {ms}ms, scrape_timeout: {ms}ms}}\n"
        f"scrape_configs:\n  - job_name: tick\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        *shlex.split(cmd),
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--query.max-concurrency={args.concurrency}",
    ]
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(argv, env=env, stdout=log, stderr=log, cwd=work)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(url + "/-/ready", 2)[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{name}: server did not become ready (see {work / 'server.log'})")
            time.sleep(0.1)
        time.sleep(2 * args.interval)  # first scrapes land
        idle = (time.time(), time.time() + args.phase)
        time.sleep(args.phase)
        stop = threading.Event()
        latencies: list[float] = []
        failures: list[int] = []

        def client() -> None:
            while not stop.is_set():
                end = time.time()
                q = urllib.parse.urlencode(
                    {"query": HEAVY, "start": end - 3600, "end": end, "step": 1}
                )
                t0 = time.monotonic()
                status, _ = _get(f"{url}/api/v1/query_range?{q}")
                (latencies if status == 200 else failures).append(time.monotonic() - t0)

        clients = [threading.Thread(target=client) for _ in range(args.concurrency + 1)]
        load_start = time.time()
        for c in clients:
            c.start()
        time.sleep(args.phase)
        load = (load_start, time.time())
        stop.set()
        for c in clients:
            c.join(300)
        time.sleep(args.interval)
        q = urllib.parse.urlencode(
            {"query": f'up{{job="tick"}}[{int(2 * args.phase + 60)}s]', "time": time.time()}
        )
        status, body = _get(f"{url}/api/v1/query?{q}")
        assert status == 200, body
        (series,) = json.loads(body)["data"]["result"]
        stamps = [float(t) for t, _ in series["values"]]
        out: dict[str, Any] = {"server": name, "command": " ".join(argv)}
        for label, (a, b) in (("idle", idle), ("load", load)):
            out[label] = _phase_stats([t for t in stamps if a <= t <= b], args.interval)
        out["load"]["queries_ok"] = len(latencies)
        out["load"]["queries_failed"] = len(failures)
        out["load"]["query_median_s"] = float(np.median(latencies)) if latencies else None
        return out
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--bin", default="promethean server")
    ap.add_argument("--baseline-bin", default=None, help="e.g. prometheus (Go), run after ours")
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--phase", type=float, default=20.0, help="seconds per phase")
    ap.add_argument("--concurrency", type=int, default=2, help="--query.max-concurrency")
    ap.add_argument("--workdir", default="/tmp/promethean-bench/d1")
    ap.add_argument("--json-out")
    args = ap.parse_args()
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    om = Path(args.workdir) / f"heavy-{args.series}.om"
    _write_openmetrics(om, args.series, int(time.time()) - 60)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Tick)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    target = f"127.0.0.1:{httpd.server_address[1]}"
    runs = [("promethean", args.bin, BACKFILL["promethean"])]
    if args.baseline_bin:
        runs.append(("go", args.baseline_bin, BACKFILL["go"]))
    results = [_run_one(name, cmd, bf, om, args, target) for name, cmd, bf in runs]
    httpd.shutdown()
    cols = ("scrapes", "mean_interval_s", "stdev_ms", "p99_deviation_ms", "max_gap_s", "missed")
    print(
        f"scrape every {args.interval}s; load = {args.concurrency + 1} clients, "
        f"--query.max-concurrency={args.concurrency}, {args.series} series, query: {HEAVY}"
    )
    print("| server | phase | " + " | ".join(cols) + " | queries ok | query median s |")
    print("|---" * (len(cols) + 4) + "|")
    for r in results:
        for phase in ("idle", "load"):
            p = r[phase]
            cells = [
                f"{p.get(c, 0):.3f}" if isinstance(p.get(c), float) else str(p.get(c, ""))
                for c in cols
            ]
            extra = [
                str(p.get("queries_ok", "")),
                f"{p['query_median_s']:.2f}" if p.get("query_median_s") else "",
            ]
            print(f"| {r['server']} | {phase} | " + " | ".join(cells + extra) + " |")
    line = json.dumps({"bench": "server_d1", "results": results})
    if args.json_out:
        with open(args.json_out, "a") as fh:
            fh.write(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
