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
        # A commit is one WAL write: all 20 series appear with it, or none do. Only
        # while no commit has returned yet (a kill that came before the first one,
        # which on a busy machine can take longer than the kill delay) may there
        # be none.
        expected = [str(i) for i in range(20)]
        if committed:
            assert sorted(series, key=int) == expected
        else:
            assert sorted(series, key=int) in ([], expected)
        for i in series:
            ts = series[i].timestamps.tolist()
            assert ts == sorted(set(ts)), "timestamps out of order or duplicated"
            present = set(ts)
            missing = [t for t in committed if t not in present]
            assert not missing, f"series {i}: committed but lost: {missing[:10]}"
            vals = series[i].values
            assert (vals == series[i].timestamps + int(i)).all(), "values corrupted"
    assert len(committed) > ROUNDS


_IDLE_WRITER = r"""
import sys
from promethean.tsdb.db import DB, DBOptions

db = DB(sys.argv[1], DBOptions(block_range=2000, retention_ms=0, wal_segment_size=16384))
print("ready", flush=True)
sys.stdin.read()
"""


@pytest.mark.timeout(60)
def test_sigkill_before_first_commit_leaves_an_empty_usable_db(tmp_path: Path) -> None:
    # The case the random test meets on a busy machine when the kill comes
    # before the writer's first commit: nothing was committed, so nothing may
    # appear, and the next writer starts on a directory that opens cleanly.
    proc = subprocess.Popen(
        [sys.executable, "-c", _IDLE_WRITER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with DB(tmp_path, OPTS) as db, db.querier(-(2**62), 2**62) as q:
        assert list(q.select([])) == []
    committed = _run_and_kill(tmp_path, random.Random(1))
    with DB(tmp_path, OPTS) as db, db.querier(-(2**62), 2**62) as q:
        series = {s.labels.get("s"): s for s in q.select([])}
    if committed:
        assert len(series) == 20
        assert set(committed) <= set(series["0"].timestamps.tolist())
