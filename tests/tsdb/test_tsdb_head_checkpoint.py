"""Checkpoint records are the head as it was when asked, however late they are encoded."""

from __future__ import annotations

import numpy as np

from promethean.model.labels import Labels
from promethean.tsdb.head import Head


def _lab(i: int) -> Labels:
    return Labels.from_dict({"__name__": "m", "i": str(i)})


def _append(head: Head, labels: list[Labels], t: int) -> None:
    app = head.appender()
    app.append_many([None] * len(labels), labels, t, np.full(len(labels), float(t)))
    app.commit()


def _dump(head: Head) -> dict[Labels, tuple[list[int], list[float]]]:
    q = head.querier(-(2**62), 2**62)
    return {s.labels: (s.timestamps.tolist(), s.values.tolist()) for s in q.select([])}


def test_checkpoint_is_a_snapshot_taken_when_called() -> None:
    head = Head(row_width=8)
    first = [_lab(i) for i in range(30)]
    for k in range(20):  # closed chunks and an open row for every series
        _append(head, first, k * 1000)
    want = _dump(head)
    records = head.checkpoint_bodies()
    _append(head, [*first, _lab(99)], 20_000)  # after the snapshot: not in it
    restored = Head(row_width=8)
    for body in records:
        restored.replay_body(body)
    assert _dump(restored) == want
    assert _lab(99) not in _dump(restored)
