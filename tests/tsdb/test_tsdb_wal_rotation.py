"""Segment cuts: the closed segment is synced in the background, never lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from promethean.model.labels import Labels
from promethean.tsdb import wal as walmod


def test_every_closed_segment_is_synced_and_readable_by_close(tmp_path: Path) -> None:
    w = walmod.WAL(tmp_path, segment_size=2048)
    sent = []
    for i in range(40):
        body = walmod.encode_samples(
            np.arange(20, dtype=np.int64), np.full(20, i, np.int64), np.full(20, float(i))
        )
        sent.append(body)
        w.log(body)
    w.log(walmod.encode_series([(1, Labels.from_dict({"__name__": "m"}))]))
    segments = w.segments()
    w.close()
    assert len(segments) > 5
    assert w.fsyncs == len(segments)
    got = []
    for seg in segments:
        bodies, corruption = walmod.read_records(tmp_path / walmod.segment_name(seg))
        assert corruption is None
        got.extend(bodies)
    assert got[:-1] == sent
    assert walmod.decode_series(got[-1])[0][1] == Labels.from_dict({"__name__": "m"})


def test_sync_waits_for_segments_closed_before_it(tmp_path: Path) -> None:
    w = walmod.WAL(tmp_path, segment_size=100)
    body = walmod.encode_tombstones([(1, 0, 10)] * 5)
    for _ in range(6):
        w.log(body)
    w.sync()
    assert w.fsyncs == len(w.segments())
    w.close()
