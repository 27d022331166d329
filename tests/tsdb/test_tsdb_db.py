"""The database as the server uses it: lock file, head cuts, compaction,
retention, deletion, snapshots, out-of-order samples, merged queries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.db import DB, DBLockedError, DBOptions

H = 3_600_000
N = 20
LABELS = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(N)]


def fill(db: DB, start: int, end: int, step: int = 60_000) -> None:
    refs: list[int | None] = [None] * N
    for t in range(start, end, step):
        app = db.appender()
        refs, errors = app.append_many(refs, LABELS, t, np.full(N, float(t)))
        assert not errors
        app.commit()


def read(db: DB, mint: int = 0, maxt: int = 2**62, *ms: Matcher) -> dict[str, list[int]]:
    q = db.querier(mint, maxt)
    try:
        return {s.labels.get("i"): s.timestamps.tolist() for s in q.select(list(ms), sort=True)}
    finally:
        q.close()


def test_lock_file_refuses_a_second_process_and_no_lockfile_skips_it(tmp_path: Path) -> None:
    db = DB(tmp_path)
    code = (
        "import sys\nfrom promethean.tsdb.db import DB, DBError, DBOptions\n"
        "try:\n    DB(sys.argv[1])\nexcept DBError as e:\n    print(e); sys.exit(3)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 3
    assert out.stdout.strip() == (
        f"lock DB directory: {tmp_path / 'lock'} is held by another process (two servers "
        "cannot share a data directory; --storage.tsdb.no-lockfile skips this check)"
    )
    with pytest.raises(DBLockedError):
        DB(tmp_path)
    DB(tmp_path, DBOptions(no_lockfile=True)).close()
    db.close()
    assert not (tmp_path / "lock").exists()
    DB(tmp_path).close()


def test_head_is_cut_into_aligned_blocks_and_queries_span_both(tmp_path: Path) -> None:
    db = DB(tmp_path)
    fill(db, 0, 5 * H)
    db.compact()
    metas = [json.loads((b.path / "meta.json").read_text()) for b in db.blocks]
    assert [(m["minTime"], m["maxTime"]) for m in metas] == [(0, 2 * H)]
    assert metas[0]["stats"]["numSamples"] == N * 120
    assert metas[0]["compaction"]["level"] == 1
    assert db.head.min_time == 2 * H
    got = read(db)
    assert got["3"] == list(range(0, 5 * H, 60_000))
    assert read(db, H, 3 * H)["3"] == list(range(H, 3 * H + 1, 60_000))
    db.close()
    db = DB(tmp_path)  # restart: the head replays only what the blocks do not hold
    assert read(db)["3"] == list(range(0, 5 * H, 60_000))
    assert db.head.min_time == 2 * H
    db.close()


def test_blocks_are_compacted_into_larger_ranges(tmp_path: Path) -> None:
    db = DB(tmp_path)
    fill(db, 0, 11 * H + 60_000, step=300_000)
    db.compact()
    spans = [(b.min_time, b.max_time, b.meta.level) for b in db.blocks]
    # The head is cut into [0,2h) .. [6h,8h). Upstream's planner leaves the newest block
    # alone and compacts a group once it spans a whole 6h range: [0,6h) becomes level 2.
    assert spans == [(0, 6 * H, 2), (6 * H, 8 * H, 1)]
    assert read(db)["0"] == list(range(0, 11 * H + 60_000, 300_000))
    db.close()


def test_time_retention_drops_whole_old_blocks(tmp_path: Path) -> None:
    db = DB(tmp_path, DBOptions(retention_ms=5 * H, max_block_duration=2 * H))
    fill(db, 0, 13 * H, step=600_000)
    db.compact()
    assert [b.min_time for b in db.blocks] == [4 * H, 6 * H, 8 * H]
    assert db.stats.retention_time_deletions == 2
    assert read(db)["0"][0] == 4 * H
    db.close()


def test_size_retention_keeps_the_newest_blocks(tmp_path: Path) -> None:
    db = DB(tmp_path, DBOptions(retention_ms=0, max_block_duration=2 * H))
    fill(db, 0, 9 * H, step=600_000)
    db.compact()
    assert len(db.blocks) == 3
    # Blocks and WAL together count against the limit: one byte short drops the oldest.
    db.options.retention_bytes = (
        sum(f.stat().st_size for f in tmp_path.glob("**/*") if f.is_file() and "lock" not in f.name)
        - 1
    )
    db.compact()
    assert [b.min_time for b in db.blocks] == [2 * H, 4 * H]
    assert db.stats.retention_size_deletions >= 1
    db.close()


def test_delete_series_then_clean_tombstones(tmp_path: Path) -> None:
    db = DB(tmp_path)
    fill(db, 0, 5 * H)
    db.compact()
    sel = [Matcher("i", MatchType.REGEX, "1|2")]
    db.delete_series(sel, H, 3 * H)
    got = read(db)
    assert got["1"] == list(range(0, H, 60_000)) + list(range(3 * H + 60_000, 5 * H, 60_000))
    assert got["0"] == list(range(0, 5 * H, 60_000))
    db.clean_tombstones()
    assert all(not b.tombstones for b in db.blocks)
    assert read(db)["2"] == got["2"]
    db.close()
    assert read(DB(tmp_path))["1"] == got["1"]


def test_snapshot_with_and_without_head(tmp_path: Path) -> None:
    db = DB(tmp_path / "data")
    fill(db, 0, 5 * H)
    db.compact()
    with_head = db.snapshot()
    without = db.snapshot(skip_head=True)
    db.close()
    snaps = tmp_path / "data" / "snapshots"
    assert len(list((snaps / without).iterdir())) == 1
    assert len(list((snaps / with_head).iterdir())) == 2
    copy = DB(snaps / with_head)
    assert read(copy)["5"] == list(range(0, 5 * H, 60_000))
    copy.close()
    copy = DB(snaps / without)
    assert read(copy)["5"] == list(range(0, 2 * H, 60_000))
    copy.close()


def test_out_of_order_window_samples_reach_blocks(tmp_path: Path) -> None:
    db = DB(tmp_path, DBOptions(ooo_window=3 * H))
    fill(db, 4 * H, 5 * H)
    app = db.appender()
    app.append(None, LABELS[0], 2 * H + 1000, 42.0)
    app.commit()
    db.compact()
    assert read(db)["0"][0] == 2 * H + 1000
    db.close()
    db = DB(tmp_path, DBOptions(ooo_window=3 * H))
    q = db.querier(0, 3 * H)
    (s,) = list(q.select([Matcher("i", MatchType.EQUAL, "0")]))
    q.close()
    assert s.timestamps.tolist() == [2 * H + 1000] and s.values.tolist() == [42.0]
    db.close()


def test_querier_open_during_compaction_keeps_reading(tmp_path: Path) -> None:
    db = DB(tmp_path)
    fill(db, 0, 9 * H + 60_000, step=300_000)
    db.compact()
    q = db.querier(0, 2**62)
    fill(db, 9 * H + 300_000, 20 * H, step=300_000)
    db.compact()  # replaces the blocks q holds
    series = list(q.select([Matcher("i", MatchType.EQUAL, "0")]))
    q.close()
    assert series[0].timestamps[0] == 0
    assert db.querier(0, 1).label_values("i") == sorted(str(i) for i in range(N))
    db.close()
