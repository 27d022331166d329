"""Start-up (WAL replay) time after 1M samples of 100k series, promethean next to Go Prometheus.

One command: ``.venv/bin/python bench/tsdb_replay_bench.py``.

* Go Prometheus 2.42 (``prometheus`` on PATH): scrapes 10 synthetic targets x
  10k series (../shared/bench/targets.py) every second until its head holds
  at least 1M samples, is killed with SIGKILL, and is restarted on the same
  data dir; the figure is the time from the restart to ``/-/ready``.
* promethean: the same number of series and samples is appended through
  the real DB (WAL on), the process's DB is dropped without a clean close
  (as after a SIGKILL), and a new DB is opened on the same dir; the figure is
  the time ``DB(...)`` takes (the WAL replay).
Both run in this one invocation on the same machine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

from promethean.model.labels import Labels
from promethean.tsdb.db import DB, DBOptions

SHARED_BENCH = Path(
    os.environ.get(
        "PROMETHEAN_SHARED_BENCH", Path(__file__).resolve().parents[2] / "shared" / "bench"
    )
)
SERIES = 100_000
SAMPLES = 1_000_000


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return bytes(resp.read())


def _wait_ready(url: str, timeout: float) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        try:
            _get(url + "/-/ready")
            return time.perf_counter() - t0
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"{url} not ready after {timeout} s")


def _head_samples(url: str) -> float:
    for line in _get(url + "/metrics").decode().splitlines():
        if line.startswith("prometheus_tsdb_head_samples_appended_total"):
            return float(line.split()[-1])
    return 0.0


def go_replay(tmp: Path) -> float | None:
    binary = shutil.which("prometheus")
    if binary is None:
        print("Go Prometheus not installed: skipped (apt-get install prometheus)")
        return None
    base = 39400
    targets = subprocess.Popen(
        [
            sys.executable,
            str(SHARED_BENCH / "targets.py"),
            "--targets",
            "10",
            "--series",
            str(SERIES // 10),
            "--base-port",
            str(base),
            "--max-runtime",
            "600",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    cfg = tmp / "prometheus.yml"
    cfg.write_text(
        "scrape_configs:\n  - job_name: t\n    scrape_interval: 1s\n    static_configs:\n"
        f"      - targets: [{', '.join(repr(f'127.0.0.1:{base + i}') for i in range(10))}]\n"
    )
    port = _port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        binary,
        f"--config.file={cfg}",
        f"--storage.tsdb.path={tmp / 'go-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_ready(url, 60)
        deadline = time.monotonic() + 120
        while _head_samples(url) < SAMPLES and time.monotonic() < deadline:
            time.sleep(0.5)
        written = _head_samples(url)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        targets.send_signal(signal.SIGTERM)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            took = _wait_ready(url, 300)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
        print(f"Go Prometheus: {written:,.0f} samples in the WAL, restart to ready {took:.2f} s")
        return took
    finally:
        if targets.poll() is None:
            targets.kill()


def our_replay(tmp: Path) -> float:
    labels = [
        Labels.from_dict(
            {
                "__name__": f"bench_metric_{i % 50}",
                "job": "t",
                "instance": f"127.0.0.1:{39400 + i % 10}",
                "series": str(i),
            }
        )
        for i in range(SERIES)
    ]
    db = DB(tmp / "our-data", DBOptions())
    refs: list[int | None] = [None] * SERIES
    t0 = int(time.time() * 1000)
    for k in range(SAMPLES // SERIES):
        app = db.appender()
        refs, _ = app.append_many(refs, labels, t0 + k * 1000, np.full(SERIES, float(k)))
        app.commit()
    # No close(): the next open replays the WAL as after a crash (the first DB still holds
    # the lock file, so the second skips it).
    start = time.perf_counter()
    db2 = DB(tmp / "our-data", DBOptions(no_lockfile=True))
    took = time.perf_counter() - start
    series = db2.stats.head.series_created - db2.stats.head.series_removed
    db2.close()
    db.close()
    print(
        f"promethean: {SAMPLES:,} samples of {SERIES:,} series in the WAL, replay {took:.2f} s "
        f"(head series after replay: {series})"
    )
    return took


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="promethean-replay-") as d:
        tmp = Path(d)
        ours = our_replay(tmp)
        go = go_replay(tmp)
        result = {
            "bench": "tsdb_replay",
            "promethean_s": ours,
            "go_prometheus_s": go,
            "ratio": (ours / go) if go else None,
        }
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
