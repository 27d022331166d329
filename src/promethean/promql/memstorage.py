"""An in-memory storage for the engine's tests, the promqltest runner and benchmarks.

It implements the :mod:`promethean.tsdb.storage` protocols with nothing but
numpy arrays in a dict, so PromQL can be tested and measured without the real
TSDB (and without its chunk encoding costs in the way of the engine's own).
Samples may arrive in any order; a series is sorted once, when first read
after a write. A later sample at an existing timestamp replaces the earlier
one, as promqltest's ``load`` expects.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType, matches_labels
from promethean.tsdb.storage import STALE_NAN_BITS, Series, SeriesRef, StorageError

__all__ = ["MemAppender", "MemQuerier", "MemSeriesView", "MemStorage", "StartTimestampedSeries"]

I64 = npt.NDArray[np.int64]


@dataclass(slots=True)
class MemSeriesView(Series):
    """A selected series that also says whether it holds stale markers at all, so readers
    can skip looking for them (``stale_free``)."""

    stale_free: bool = False


@dataclass(slots=True)
class StartTimestampedSeries(MemSeriesView):
    """A selected series whose samples carry start timestamps (ms; 0: unknown).

    Upstream's start-timestamp storage (``UseStartTimestamps``): the engine reads
    ``start_timestamps`` where a series has them, for counter resets and rate.
    """

    start_timestamps: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


class _MemSeries:
    __slots__ = (
        "dirty",
        "labels",
        "pending_st",
        "pending_t",
        "pending_v",
        "rank",
        "st",
        "stale_free",
        "t",
        "v",
    )

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.t: I64 = np.zeros(0, dtype=np.int64)
        self.v: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self.st: I64 | None = None
        self.stale_free = True
        self.pending_t: list[I64] = []
        self.pending_v: list[npt.NDArray[np.float64]] = []
        self.pending_st: list[I64 | None] = []
        self.dirty = False
        self.rank = 0  # position in label order, kept by MemStorage

    def add(self, t: I64, v: npt.NDArray[np.float64], st: I64 | None = None) -> None:
        self.pending_t.append(t)
        self.pending_v.append(v)
        self.pending_st.append(st)
        self.dirty = True

    def settle(self) -> None:
        if not self.dirty:
            return
        t = np.concatenate([self.t, *self.pending_t])
        v = np.concatenate([self.v, *self.pending_v])
        st: I64 | None = None
        if self.st is not None or any(x is not None for x in self.pending_st):
            parts = [self.st if self.st is not None else np.zeros(self.t.size, dtype=np.int64)]
            for pt, ps in zip(self.pending_t, self.pending_st, strict=True):
                parts.append(ps if ps is not None else np.zeros(pt.size, dtype=np.int64))
            st = np.concatenate(parts).astype(np.int64)
        # Stable sort, then keep the last write for each timestamp.
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        st = st[order] if st is not None else None
        if t.size > 1:
            keep = np.ones(t.size, dtype=np.bool_)
            keep[:-1] = t[1:] != t[:-1]
            t, v = t[keep], v[keep]
            st = st[keep] if st is not None else None
        self.t, self.v, self.st = t, v, st
        self.stale_free = not bool((v.view(np.uint64) == np.uint64(STALE_NAN_BITS)).any())
        self.pending_t, self.pending_v, self.pending_st = [], [], []
        self.dirty = False


class MemStorage:
    """Series in a dict keyed by labels, with a metric-name index for selection."""

    def __init__(self) -> None:
        self._series: dict[Labels, _MemSeries] = {}
        self._refs: list[_MemSeries] = []
        self._by_name: dict[str, list[_MemSeries]] = {}
        # Postings: label name -> value -> positions in _refs (as the TSDB's index).
        self._postings: dict[str, dict[str, list[int]]] = {}
        self._sorted_refs: list[_MemSeries] | None = None
        #: Series that had native-histogram samples in their input (not stored).
        self.histogram_series: set[Labels] = set()

    def _get(self, labels: Labels) -> tuple[SeriesRef, _MemSeries]:
        s = self._series.get(labels)
        if s is None:
            if not labels:
                raise StorageError("empty labelset")
            s = _MemSeries(labels)
            self._series[labels] = s
            pos = len(self._refs)
            self._refs.append(s)
            self._by_name.setdefault(labels.metric_name, []).append(s)
            for name, value in labels:
                self._postings.setdefault(name, {}).setdefault(value, []).append(pos)
            self._sorted_refs = None
        return self._index(s), s

    def _index(self, s: _MemSeries) -> SeriesRef:
        return id(s)

    def add_series(
        self,
        labels: Labels,
        timestamps: npt.ArrayLike,
        values: npt.ArrayLike,
        start_timestamps: npt.ArrayLike | None = None,
    ) -> None:
        """Bulk load: whole arrays for one series (the fast path for tests and benches).

        ``start_timestamps`` (ms, 0 for unknown) go with the samples when given.
        """
        _, s = self._get(labels)
        st = None if start_timestamps is None else np.asarray(start_timestamps, dtype=np.int64)
        s.add(np.asarray(timestamps, dtype=np.int64), np.asarray(values, dtype=np.float64), st)

    def clear(self) -> None:
        self._series.clear()
        self._refs.clear()
        self._by_name.clear()
        self._postings.clear()
        self._sorted_refs = None
        self.histogram_series.clear()

    def appender(self) -> MemAppender:
        return MemAppender(self)

    def querier(self, mint: int, maxt: int) -> MemQuerier:
        return MemQuerier(self, mint, maxt)

    def close(self) -> None:
        return None

    def matching(self, matchers: Sequence[Matcher]) -> list[_MemSeries]:
        """The series every matcher accepts, sorted by labels.

        Matchers that reject the empty value narrow through the postings (one
        set per matcher, unions over the label's matching values); the rest are
        checked per remaining series.
        """
        picked: set[int] | None = None
        rest: list[Matcher] = []
        for m in sorted(matchers, key=lambda m: m.type is not MatchType.EQUAL):
            if m.matches_empty:
                rest.append(m)
                continue
            values = self._postings.get(m.name, {})
            literal = m.literal_values()
            ids: set[int] = set()
            if literal is not None:
                for v in literal:
                    ids.update(values.get(v, ()))
            else:
                for v, positions in values.items():
                    if m.matches(v):
                        ids.update(positions)
            picked = ids if picked is None else picked & ids
            if not picked:
                return []
        if picked is not None:
            # A matcher that accepts "" rejects the series holding a value it refuses.
            for m in rest:
                for v, positions in self._postings.get(m.name, {}).items():
                    if not m.matches(v):
                        picked.difference_update(positions)
            rest = []
        if self._sorted_refs is None:
            self._sorted_refs = sorted(self._refs, key=lambda s: s.labels)
            for rank, s in enumerate(self._sorted_refs):
                s.rank = rank
        if picked is None:
            return [s for s in self._sorted_refs if matches_labels(s.labels, rest)]
        chosen = [self._refs[i] for i in picked]
        chosen.sort(key=lambda s: s.rank)
        return chosen

    def series_count(self) -> int:
        return len(self._series)


class MemAppender:
    """Buffers samples and applies them on commit, like the real head."""

    def __init__(self, storage: MemStorage) -> None:
        self._storage = storage
        self._pending: list[tuple[Labels, int, float]] = []

    def append(self, ref: SeriesRef | None, labels: Labels, t: int, v: float) -> SeriesRef:
        self._pending.append((labels, int(t), float(v)))
        return hash(labels)

    def append_many(
        self,
        refs: Sequence[SeriesRef | None],
        labels: Sequence[Labels],
        t: npt.NDArray[np.int64] | int,
        v: npt.NDArray[np.float64],
    ) -> tuple[list[SeriesRef], dict[int, StorageError]]:
        ts = np.broadcast_to(np.asarray(t, dtype=np.int64), (len(labels),))
        out = [self.append(None, lbl, int(ts[i]), float(v[i])) for i, lbl in enumerate(labels)]
        return out, {}

    def commit(self) -> None:
        grouped: dict[Labels, tuple[list[int], list[float]]] = {}
        for labels, t, v in self._pending:
            ts, vs = grouped.setdefault(labels, ([], []))
            ts.append(t)
            vs.append(v)
        for labels, (ts, vs) in grouped.items():
            self._storage.add_series(labels, ts, vs)
        self._pending = []

    def rollback(self) -> None:
        self._pending = []


class MemQuerier:
    """A view of the storage limited to [mint, maxt] (both inclusive, as upstream)."""

    def __init__(self, storage: MemStorage, mint: int, maxt: int) -> None:
        self._storage = storage
        self._mint = mint
        self._maxt = maxt

    def select(self, matchers: Sequence[Matcher], sort: bool = False) -> Iterator[Series]:
        found = self._storage.matching(matchers)
        mint, maxt = self._mint, self._maxt
        for s in found:
            s.settle()
            t = s.t
            if t.size == 0:
                continue
            if t[0] >= mint and t[-1] <= maxt:
                lo, hi = 0, t.size
            else:
                lo = int(t.searchsorted(mint, side="left"))
                hi = int(t.searchsorted(maxt, side="right"))
                if hi <= lo:
                    continue
            if s.st is not None:
                yield StartTimestampedSeries(
                    s.labels, t[lo:hi], s.v[lo:hi], s.stale_free, s.st[lo:hi]
                )
            else:
                yield MemSeriesView(s.labels, t[lo:hi], s.v[lo:hi], s.stale_free)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        names: set[str] = set()
        for s in self.select(matchers):
            names.update(s.labels.names())
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values = {s.labels.get(name) for s in self.select(matchers)}
        values.discard("")
        return sorted(values)

    def close(self) -> None:
        return None
