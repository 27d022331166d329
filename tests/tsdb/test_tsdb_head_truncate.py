"""Truncation walks the series in batches and ends with the same head as one walk."""

from __future__ import annotations

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.tsdb import head as headmod
from promethean.tsdb.head import Head


def _lab(i: int) -> Labels:
    return Labels.from_dict({"__name__": "m", "i": str(i)})


def test_truncate_over_many_batches_removes_old_series_keeps_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(headmod, "_TRUNCATE_BATCH", 7)
    head = Head(row_width=4)
    old = [_lab(i) for i in range(0, 60, 2)]  # samples at 0..9 s only
    live = [_lab(i) for i in range(1, 60, 2)]  # samples at 0..29 s
    for k in range(30):
        app = head.appender()
        labels = old + live if k < 10 else live
        app.append_many([None] * len(labels), labels, k * 1000, np.full(len(labels), float(k)))
        app.commit()
    removed = head.truncate(15_000)
    assert removed == len(old)
    assert head.num_series == len(live)
    assert head.min_time == 15_000
    q = head.querier(0, 10**9)
    got = {s.labels: s.timestamps.tolist() for s in q.select([])}
    assert set(got) == set(live)
    assert all(ts == [k * 1000 for k in range(15, 30)] for ts in got.values())
    app = head.appender()
    app.append_many([None] * 2, [old[0], live[0]], 30_000, np.array([1.0, 2.0]))
    app.commit()
    assert head.num_series == len(live) + 1
