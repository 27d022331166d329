"""WAL records, torn tails and replay, through the database a user opens."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.tsdb import wal as walmod
from promethean.tsdb.db import DB, DBOptions
from promethean.tsdb.storage import STALE_NAN, is_stale


def lab(**kw: str) -> Labels:
    return Labels.from_dict({"__name__": "m", **kw})


def read_all(db: DB) -> dict[Labels, tuple[list[int], list[float]]]:
    q = db.querier(-(2**62), 2**62)
    try:
        return {s.labels: (s.timestamps.tolist(), s.values.tolist()) for s in q.select([])}
    finally:
        q.close()


def test_record_codecs_round_trip() -> None:
    entries = [(1, lab(a="é")), (70000, lab(b="x\ny"))]
    assert walmod.decode_series(walmod.encode_series(entries)) == entries
    refs = np.array([1, 2, 3], dtype=np.int64)
    for ts in (np.array([5, 5, 5]), np.array([1, 2, 3])):
        body = walmod.encode_samples(refs, ts.astype(np.int64), np.array([1.0, STALE_NAN, 3.0]))
        r, t, v = walmod.decode_samples(body)
        assert r.tolist() == [1, 2, 3] and t.tolist() == ts.tolist() and is_stale(v[1])
    big = np.array([2**40], dtype=np.int64)
    assert walmod.decode_samples(walmod.encode_samples(big, big, np.zeros(1)))[0][0] == 2**40
    tomb = [(1, -5, 10), (2, 0, 0)]
    assert walmod.decode_tombstones(walmod.encode_tombstones(tomb)) == tomb


def test_restart_replays_committed_samples_only(tmp_path: Path) -> None:
    db = DB(tmp_path)
    app = db.appender()
    refs, _ = app.append_many([None, None], [lab(i="1"), lab(i="2")], 1000, np.array([1.0, 2.0]))
    app.commit()
    app = db.appender()
    app.append_many(refs, [lab(i="1"), lab(i="2")], 2000, np.array([STALE_NAN, 4.0]))
    app.commit()
    db.appender().append(None, lab(i="3"), 3000, 9.0)  # never committed
    db.close()
    db = DB(tmp_path)
    got = read_all(db)
    assert sorted(got) == [lab(i="1"), lab(i="2")]
    assert got[lab(i="2")] == ([1000, 2000], [2.0, 4.0])
    assert is_stale(got[lab(i="1")][1][1])
    # Appends continue after replay, with the same refs.
    app = db.appender()
    assert app.append(refs[0], lab(i="1"), 3000, 5.0) == refs[0]
    app.commit()
    db.close()
    assert read_all(DB(tmp_path))[lab(i="1")][0] == [1000, 2000, 3000]


@pytest.mark.parametrize("cut", [1, 5, 13])
def test_torn_tail_is_cut_logged_and_startup_continues(
    tmp_path: Path, cut: int, caplog: pytest.LogCaptureFixture
) -> None:
    db = DB(tmp_path)
    for t in range(3):
        app = db.appender()
        app.append(None, lab(), t * 1000, float(t))
        app.commit()
    seg = Path(db.wal.dir) / walmod.segment_name(db.wal.current_segment)
    db.close()
    size = seg.stat().st_size
    with open(seg, "r+b") as fh:
        fh.truncate(size - cut)
    with caplog.at_level(logging.WARNING, logger="promethean.tsdb.wal"):
        db = DB(tmp_path)
    assert read_all(db)[lab()] == ([0, 1000], [0.0, 1.0])
    assert db.stats.wal_corruptions == 1
    assert "torn or corrupt tail" in caplog.text
    app = db.appender()
    app.append(None, lab(), 5000, 5.0)
    app.commit()
    db.close()
    assert read_all(DB(tmp_path))[lab()][0] == [0, 1000, 5000]


def test_corrupt_record_in_the_middle_drops_it_and_everything_after(tmp_path: Path) -> None:
    db = DB(tmp_path)
    for t in range(4):
        app = db.appender()
        app.append(None, lab(), t * 1000, float(t))
        app.commit()
    seg = Path(db.wal.dir) / walmod.segment_name(db.wal.current_segment)
    db.close()
    data = bytearray(seg.read_bytes())
    data[-40] ^= 0xFF  # inside the last-but-one or last samples record
    seg.write_bytes(bytes(data))
    later = seg.with_name(walmod.segment_name(int(seg.name) + 1))
    later.write_bytes(walmod.frame(walmod.encode_series([(99, lab(x="later"))])))
    db = DB(tmp_path)
    got = read_all(db)
    ts = got[lab()][0]
    assert ts == [0, 1000, 2000][: len(ts)] and len(ts) >= 2
    # The segment after the damage was dropped; its name now holds a fresh, empty one.
    assert lab(x="later") not in got
    assert later.stat().st_size == 0
    db.close()


def test_zero_filled_tail_after_power_loss_is_cut(tmp_path: Path) -> None:
    db = DB(tmp_path)
    app = db.appender()
    app.append(None, lab(), 1000, 1.0)
    app.commit()
    seg = Path(db.wal.dir) / walmod.segment_name(db.wal.current_segment)
    db.close()
    with open(seg, "ab") as fh:
        fh.write(b"\0" * 4096)
    db = DB(tmp_path)
    assert read_all(db)[lab()] == ([1000], [1.0])
    db.close()
    assert seg.stat().st_size < 4096


def test_segments_rotate_at_the_size_limit(tmp_path: Path) -> None:
    db = DB(tmp_path, DBOptions(wal_segment_size=4096))
    labels = [lab(i=str(i)) for i in range(50)]
    refs: list[int | None] = [None] * 50
    for t in range(20):
        app = db.appender()
        refs, _ = app.append_many(refs, labels, t * 1000, np.full(50, float(t)))
        app.commit()
    segments = db.wal.segments()
    db.close()
    assert len(segments) > 3
    assert all(
        os.path.getsize(tmp_path / "wal" / walmod.segment_name(s)) <= 4096 for s in segments[:-1]
    )
    got = read_all(DB(tmp_path))
    assert len(got) == 50 and got[labels[7]][0] == [t * 1000 for t in range(20)]


def test_deletions_survive_restart(tmp_path: Path) -> None:
    from promethean.model.matchers import Matcher, MatchType

    db = DB(tmp_path)
    app = db.appender()
    ref = None
    for t in range(5):
        ref = app.append(ref, lab(), t * 1000, float(t))
    app.commit()
    db.delete_series([Matcher("__name__", MatchType.EQUAL, "m")], 1000, 2000)
    db.close()
    assert read_all(DB(tmp_path))[lab()][0] == [0, 3000, 4000]
