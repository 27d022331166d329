"""Chunk cuts under a scrape-shaped load: spread over commits, data intact (issue 6)."""

from __future__ import annotations

import numpy as np

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.head import Head, _decode_chunk, _encode_chunk, _encode_chunks
from promethean.tsdb.storage import STALE_NAN


def test_batch_encoding_is_row_encoding() -> None:
    rng = np.random.default_rng(7)
    ts = np.cumsum(rng.integers(1, 30_000, (50, 13)), axis=1).astype(np.int64)
    vs = rng.normal(size=(50, 13))
    vs[4, 2] = STALE_NAN
    vs[5, 0] = -0.0
    batch = _encode_chunks(ts, vs)
    assert batch == [_encode_chunk(ts[i], vs[i]) for i in range(50)]
    t2, v2 = _decode_chunk(batch[4])
    assert t2.tolist() == ts[4].tolist()
    assert v2.view(np.uint64).tolist() == vs[4].view(np.uint64).tolist()


def test_one_scrapes_series_are_cut_spread_over_commits_not_all_at_once() -> None:
    """1000 series created together: no commit cuts more than 1/(W/2) of them."""
    width, nseries, scrapes = 8, 1000, 60
    head = Head(row_width=width)
    labels = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(nseries)]
    refs: list[int | None] = [None] * nseries
    cuts_per_commit = []
    for k in range(scrapes):
        app = head.appender()
        before = head.stats.chunks_created
        refs, errors = app.append_many(refs, labels, k * 1000, np.full(nseries, float(k)))
        assert not errors
        app.commit()
        cuts_per_commit.append(head.stats.chunks_created - before)
    assert max(cuts_per_commit) <= nseries // (width // 2)
    assert sum(cuts_per_commit) >= nseries * (scrapes // width - 1)
    q = head.querier(0, 10**9)
    got = {
        s.labels: (s.timestamps.tolist(), s.values.tolist())
        for s in q.select([Matcher("__name__", MatchType.EQUAL, "m")])
    }
    want = ([k * 1000 for k in range(scrapes)], [float(k) for k in range(scrapes)])
    assert len(got) == nseries
    assert all(v == want for v in got.values())


def test_samples_weeks_apart_in_one_row_read_back_exactly() -> None:
    """A row stores int32 offsets; a gap past ~24.8 days cuts the row first."""
    head = Head(row_width=8, chunk_range=10**12)
    day = 86_400_000
    times = [0, 1000, 30 * day, 30 * day + 1, 61 * day, 200 * day]
    lab = Labels.from_dict({"__name__": "m"})
    ref = None
    for t in times:
        app = head.appender()
        ref = app.append(ref, lab, t, float(t))
        app.commit()
    q = head.querier(0, 10**12)
    (s,) = list(q.select([Matcher("__name__", MatchType.EQUAL, "m")]))
    assert s.timestamps.dtype == np.int64
    assert s.timestamps.tolist() == times
    assert s.values.tolist() == [float(t) for t in times]
    assert head.stats.chunks_created == 3
    records = list(head.checkpoint_bodies())
    restored = Head(row_width=8, chunk_range=10**12)
    for body in records:
        restored.replay_body(body)
    (r,) = list(restored.querier(0, 10**12).select([Matcher("__name__", MatchType.EQUAL, "m")]))
    assert r.timestamps.tolist() == times
