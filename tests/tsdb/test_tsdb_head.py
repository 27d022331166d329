"""Head behaviour a caller notices: append errors, stale markers, OOO window, GC."""

from __future__ import annotations

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.head import Head, _decode_chunk, _encode_chunk
from promethean.tsdb.storage import (
    STALE_NAN,
    DuplicateSampleError,
    OutOfBoundsError,
    OutOfOrderSampleError,
    SeriesLabelsError,
    is_stale,
)

H = 3_600_000


def lab(name: str = "up", **kw: str) -> Labels:
    return Labels.from_dict({"__name__": name, **kw})


def eq(name: str, value: str) -> Matcher:
    return Matcher(name, MatchType.EQUAL, value)


def samples(head: Head, *matchers: Matcher, mint: int = -(2**62), maxt: int = 2**62):
    q = head.querier(mint, maxt)
    return {s.labels: (s.timestamps.tolist(), s.values.tolist()) for s in q.select(list(matchers))}


def test_chunk_encoding_round_trips_bits_exactly() -> None:
    rng = np.random.default_rng(1)
    ts = np.cumsum(rng.integers(1, 30000, 64)).astype(np.int64)
    vs = rng.normal(size=64)
    vs[[3, 9]] = [STALE_NAN, np.nan]
    vs[10] = -0.0
    t2, v2 = _decode_chunk(_encode_chunk(ts, vs))
    assert t2.tolist() == ts.tolist()
    assert v2.view(np.uint64).tolist() == vs.view(np.uint64).tolist()


def test_append_commit_query_across_chunk_cuts() -> None:
    head = Head(row_width=8)
    app = head.appender()
    ref = None
    for t in range(100):
        ref = app.append(ref, lab(job="a"), t * 1000, float(t))
    app.commit()
    got = samples(head, eq("job", "a"))
    assert got == {lab(job="a"): ([t * 1000 for t in range(100)], [float(t) for t in range(100)])}
    got = samples(head, eq("job", "a"), mint=10_000, maxt=12_000)
    assert got[lab(job="a")][0] == [10_000, 11_000, 12_000]


def test_uncommitted_samples_are_invisible_and_rollback_drops_them() -> None:
    head = Head()
    app = head.appender()
    app.append(None, lab(), 1000, 1.0)
    assert samples(head) == {}
    app.rollback()
    app.commit()
    assert samples(head) == {}


def test_append_errors_are_raised_and_counted() -> None:
    head = Head()
    app = head.appender()
    ref = app.append(None, lab(), 10_000, 1.0)
    app.commit()
    app = head.appender()
    with pytest.raises(OutOfOrderSampleError, match="out of order sample"):
        app.append(ref, lab(), 9_000, 1.0)
    with pytest.raises(DuplicateSampleError, match="duplicate sample for timestamp"):
        app.append(ref, lab(), 10_000, 2.0)
    # Same timestamp and value: silently accepted, as upstream.
    app.append(ref, lab(), 10_000, 1.0)
    app.append(ref, lab(), 10 * H, 1.0)
    app.commit()
    app = head.appender()
    with pytest.raises(OutOfBoundsError, match="out of bounds"):
        app.append(None, lab(job="new"), 9 * H - 1, 1.0)
    st = head.stats
    assert (st.out_of_order_samples, st.duplicate_samples, st.out_of_bounds_samples) == (1, 1, 1)
    assert st.samples_appended == 2


def test_in_batch_order_is_checked_too() -> None:
    head = Head()
    app = head.appender()
    app.append(None, lab(), 5_000, 1.0)
    with pytest.raises(OutOfOrderSampleError):
        app.append(None, lab(), 4_000, 1.0)
    app.append(None, lab(), 6_000, 2.0)
    app.commit()
    assert samples(head)[lab()] == ([5_000, 6_000], [1.0, 2.0])


def test_append_many_reports_per_index_errors_and_keeps_the_rest() -> None:
    head = Head()
    labels = [lab(i=str(i)) for i in range(5)]
    app = head.appender()
    refs, errors = app.append_many([None] * 5, labels, 10_000, np.arange(5, dtype=float))
    app.commit()
    assert errors == {}
    ts = np.array([11_000, 9_000, 11_000, 10_000, 10_000], dtype=np.int64)
    vs = np.array([1.0, 1.0, 2.0, 3.0, 0.0])
    app = head.appender()
    refs2, errors = app.append_many(refs, labels, ts, vs)
    app.commit()
    assert refs2 == refs
    assert {i: type(e) for i, e in errors.items()} == {
        1: OutOfOrderSampleError,
        4: DuplicateSampleError,
    }
    got = samples(head)
    assert got[labels[0]] == ([10_000, 11_000], [0.0, 1.0])
    assert got[labels[3]] == ([10_000], [3.0])


def test_invalid_label_sets_are_refused() -> None:
    head = Head()
    app = head.appender()
    with pytest.raises(SeriesLabelsError, match="empty labelset"):
        app.append(None, Labels.empty(), 1, 1.0)
    dup = tuple.__new__(Labels, (("a", "1"), ("a", "2")))
    with pytest.raises(SeriesLabelsError, match='label name "a" is not unique'):
        app.append(None, dup, 1, 1.0)


def test_stale_markers_are_stored_bit_exactly() -> None:
    head = Head(row_width=4)
    app = head.appender()
    ref = None
    for t in range(10):
        ref = app.append(ref, lab(), t, STALE_NAN if t % 3 == 0 else float("nan"))
    app.commit()
    series = next(iter(head.querier(0, 100).select([])))
    assert series.timestamps.tolist() == list(range(10))
    assert [is_stale(v) for v in series.values] == [t % 3 == 0 for t in range(10)]


def test_out_of_order_window_accepts_late_samples() -> None:
    head = Head(ooo_window=10 * 60_000)
    app = head.appender()
    ref = app.append(None, lab(), 20 * 60_000, 1.0)
    app.commit()
    app = head.appender()
    app.append(ref, lab(), 15 * 60_000, 2.0)
    with pytest.raises(OutOfBoundsError):
        app.append(ref, lab(), 9 * 60_000, 3.0)
    app.commit()
    assert samples(head)[lab()] == ([15 * 60_000, 20 * 60_000], [2.0, 1.0])
    assert head.stats.ooo_samples_appended == 1


def test_postings_select_matchers() -> None:
    head = Head()
    app = head.appender()
    for job in ("api", "db"):
        for inst in ("a", "b", "c"):
            app.append(None, lab(job=job, instance=inst), 1, 1.0)
    app.append(None, lab("other", instance="a"), 1, 1.0)
    app.commit()

    def names(*ms: Matcher) -> list[str]:
        return sorted(str(s.labels) for s in head.querier(0, 10).select(list(ms)))

    assert len(names(eq("job", "api"))) == 3
    assert names(Matcher("job", MatchType.NOT_EQUAL, "api"), eq("instance", "a")) == [
        'other{instance="a"}',
        'up{instance="a", job="db"}',
    ]
    assert names(eq("job", "")) == ['other{instance="a"}']
    assert len(names(Matcher("instance", MatchType.REGEX, "a|b"), eq("job", "db"))) == 2
    assert len(names(Matcher("job", MatchType.NOT_REGEX, "a.*"))) == 4
    q = head.querier(0, 10)
    assert q.label_values("job") == ["api", "db"]
    assert q.label_names([eq("__name__", "other")]) == ["__name__", "instance"]
    assert q.label_values("instance", [eq("job", "db")]) == ["a", "b", "c"]


def test_truncate_collects_series_that_stopped() -> None:
    head = Head()
    app = head.appender()
    old = app.append(None, lab(job="old"), 1_000, 1.0)
    live = app.append(None, lab(job="live"), 1_000, 1.0)
    app.append(live, lab(job="live"), 5 * H, 2.0)
    app.commit()
    assert head.truncate(2 * H) == 1
    assert head.num_series == 1
    assert samples(head) == {lab(job="live"): ([5 * H], [2.0])}
    # The collected series' cached ref falls back to its labels.
    app = head.appender()
    ref = app.append(old, lab(job="old"), 5 * H, 3.0)
    app.commit()
    assert ref != old
    assert samples(head, eq("job", "old")) == {lab(job="old"): ([5 * H], [3.0])}


def test_delete_hides_samples() -> None:
    head = Head()
    app = head.appender()
    ref = None
    for t in range(10):
        ref = app.append(ref, lab(), t * 1000, float(t))
    app.commit()
    assert head.delete([eq("__name__", "up")], 2000, 7000) == 1
    assert samples(head)[lab()][0] == [0, 1000, 8000, 9000]
