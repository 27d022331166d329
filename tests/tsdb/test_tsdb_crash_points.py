"""A SIGKILL at every named step of a head cut, checkpoint and compaction loses nothing.

``test_tsdb_crash.py`` kills a writer at random moments; the narrow windows
between two durable steps of maintenance are then hit only by luck. Here the
writer arms one crash point (``PROMETHEAN_TSDB_CRASH_AT``, see
``promethean.tsdb.faults``) and kills itself exactly there. The test then
reopens the directory, checks every commit that returned, keeps writing and
compacting in the test process, and reopens once more: a crash must leave a
directory that is not only readable but also safe to carry on with.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.tsdb.block import list_block_dirs
from promethean.tsdb.db import DB, DBOptions
from promethean.tsdb.faults import CRASH_POINTS, ENV_VAR
from promethean.tsdb.storage import SeriesRef

_WRITER = r"""
import sys
import numpy as np
from promethean.model.labels import Labels
from promethean.tsdb.db import DB, DBOptions

opts = DBOptions(block_range=2000, retention_ms=0, wal_segment_size=4096)
db = DB(sys.argv[1], opts)
labels = [Labels.from_dict({"__name__": "crash", "s": str(i)}) for i in range(20)]
refs = [None] * len(labels)
t = 100
for n in range(1, 1001):
    app = db.appender()
    refs, errors = app.append_many(refs, labels, t, np.arange(len(labels), dtype=float) + t)
    assert not errors, errors
    app.commit()
    print(t, flush=True)
    t += 100
    if n % 7 == 0:
        db.compact()
print("crash point never reached", flush=True)
"""

OPTS = DBOptions(block_range=2000, retention_ms=0, wal_segment_size=4096)
LABELS = [Labels.from_dict({"__name__": "crash", "s": str(i)}) for i in range(20)]


def _crash_writer(data: Path, point: str) -> list[int]:
    """Run the writer until it kills itself at ``point``; the timestamps it committed."""
    env = {**os.environ, ENV_VAR: point}
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, str(data)],
        capture_output=True,
        env=env,
        timeout=90,
        check=False,
    )
    out = proc.stdout.decode()
    assert "never reached" not in out, f"{point}: the writer never got there"
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode(errors="replace")[-2000:]
    return [int(line) for line in out.split()]


def _check(data: Path, committed: list[int]) -> int:
    """Reopen, assert every committed sample is there exactly; returns the newest timestamp."""
    with DB(data, OPTS) as db, db.querier(-(2**62), 2**62) as q:
        series = {s.labels.get("s"): s for s in q.select([])}
    assert sorted(series, key=int) == [str(i) for i in range(20)]
    newest = 0
    for i, s in series.items():
        ts = s.timestamps.tolist()
        assert ts == sorted(set(ts)), f"series {i}: timestamps out of order or duplicated"
        missing = sorted(set(committed) - set(ts))
        assert not missing, f"series {i}: committed but lost: {missing[:10]}"
        # At most the one commit that was written but not yet acknowledged is extra.
        assert len(ts) - len(committed) in (0, 1), f"series {i}: unexpected samples"
        assert (s.values == s.timestamps + int(i)).all(), f"series {i}: values corrupted"
        newest = max(newest, ts[-1])
    return newest


def _carry_on(data: Path, after: int, commits: int) -> list[int]:
    """Keep appending and compacting after the restart, then close cleanly."""
    written: list[int] = []
    with DB(data, OPTS) as db:
        refs: Sequence[SeriesRef | None] = [None] * len(LABELS)
        t = after
        for n in range(1, commits + 1):
            t += 100
            app = db.appender()
            vals = np.arange(len(LABELS), dtype=float) + t
            refs, errors = app.append_many(refs, LABELS, t, vals)
            assert not errors
            app.commit()
            written.append(t)
            if n % 7 == 0:
                db.compact()
        assert db.stats.compactions_failed == 0
    return written


@pytest.mark.timeout(120)
@pytest.mark.parametrize("point", CRASH_POINTS)
def test_kill_at_crash_point_loses_nothing(tmp_path: Path, point: str) -> None:
    # Arm the second arrival, so the kill finds blocks and a checkpoint already there.
    committed = _crash_writer(tmp_path, f"{point}:2")
    assert committed, f"{point}: nothing committed before the kill"
    newest = _check(tmp_path, committed)
    committed += _carry_on(tmp_path, newest, 70)
    _check(tmp_path, committed)
    assert list_block_dirs(tmp_path), "no block was ever cut"
