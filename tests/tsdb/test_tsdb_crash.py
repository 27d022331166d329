"""The durability promise: a SIGKILL never loses a sample whose commit returned.

A writer process appends and commits in a loop (with small blocks and WAL
segments so that head cuts, checkpoints and compactions happen all the time),
printing each committed timestamp after ``commit()`` returns. The test kills
it with SIGKILL at random moments, restarts it on the same directory, and
checks that start-up succeeds and every printed commit is there, bit for bit.
"""

from __future__ import annotations

import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from promethean.tsdb.db import DB, DBOptions

_WRITER = r"""
import sys
import numpy as np
from promethean.model.labels import Labels
from promethean.tsdb.db import DB, DBOptions

opts = DBOptions(block_range=2000, retention_ms=0, wal_segment_size=16384)
db = DB(sys.argv[1], opts)
labels = [Labels.from_dict({"__name__": "crash", "s": str(i)}) for i in range(20)]
q = db.querier(-(2**62), 2**62)
last = max((int(s.timestamps[-1]) for s in q.select([])), default=0)
q.close()
print("ready", flush=True)
refs = [None] * len(labels)
t = last + 100
n = 0
while True:
    app = db.appender()
    refs, errors = app.append_many(refs, labels, t, np.arange(len(labels), dtype=float) + t)
    assert not errors, errors
    app.commit()
    print(t, flush=True)
    t += 100
    n += 1
    if n % 7 == 0:
        db.compact()
"""

OPTS = DBOptions(block_range=2000, retention_ms=0, wal_segment_size=16384)
ROUNDS = 8


def _run_and_kill(data: Path, rng: random.Random) -> list[int]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    committed: list[int] = []
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    ready = False
    kill_at: float | None = None
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if kill_at is not None and time.monotonic() >= kill_at:
                break
            if not sel.select(timeout=0.05):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line == b"ready":
                    ready = True
                    kill_at = time.monotonic() + rng.uniform(0.05, 0.6)
                elif line:
                    committed.append(int(line))
    finally:
        proc.send_signal(signal.SIGKILL)
        _out, err = proc.communicate(timeout=30)
        sel.close()
    # Lines that arrived between the decision and the kill still count.
    for line in (buf + _out).split(b"\n"):
        if line and line != b"ready":
            committed.append(int(line))
    assert ready, f"writer failed to start:\n{err.decode(errors='replace')[-2000:]}"
    assert proc.returncode == -signal.SIGKILL, err.decode(errors="replace")[-2000:]
    return committed


@pytest.mark.timeout(120)
def test_sigkill_loses_no_committed_sample(tmp_path: Path) -> None:
    rng = random.Random(int(os.environ.get("PROMETHEAN_CRASH_SEED", "4")))
    committed: list[int] = []
    for _ in range(ROUNDS):
        committed += _run_and_kill(tmp_path, rng)
        db = DB(tmp_path, OPTS)
        try:
            q = db.querier(-(2**62), 2**62)
            series = {s.labels.get("s"): s for s in q.select([])}
            q.close()
        finally:
            db.close()
        assert len(series) == 20
        for i in ("0", "7", "19"):
            ts = series[i].timestamps.tolist()
            assert ts == sorted(set(ts)), "timestamps out of order or duplicated"
            present = set(ts)
            missing = [t for t in committed if t not in present]
            assert not missing, f"series {i}: committed but lost: {missing[:10]}"
            vals = series[i].values
            assert (vals == series[i].timestamps + int(i)).all(), "values corrupted"
    assert len(committed) > ROUNDS
