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

import numpy as np
import numpy.typing as npt

from promethean.model.labels import METRIC_NAME, Labels
from promethean.model.matchers import Matcher, MatchType, matches_labels
from promethean.tsdb.storage import Series, SeriesRef, StorageError

__all__ = ["MemAppender", "MemQuerier", "MemStorage"]


class _MemSeries:
    __slots__ = ("dirty", "labels", "pending_t", "pending_v", "t", "v")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.t: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.v: npt.NDArray[np.float64] = np.zeros(0, dtype=np.float64)
        self.pending_t: list[npt.NDArray[np.int64]] = []
        self.pending_v: list[npt.NDArray[np.float64]] = []
        self.dirty = False

    def add(self, t: npt.NDArray[np.int64], v: npt.NDArray[np.float64]) -> None:
        self.pending_t.append(t)
        self.pending_v.append(v)
        self.dirty = True

    def settle(self) -> None:
        if not self.dirty:
            return
        t = np.concatenate([self.t, *self.pending_t])
        v = np.concatenate([self.v, *self.pending_v])
        # Stable sort, then keep the last write for each timestamp.
        order = np.argsort(t, kind="stable")
        t, v = t[order], v[order]
        if t.size > 1:
            keep = np.ones(t.size, dtype=np.bool_)
            keep[:-1] = t[1:] != t[:-1]
            t, v = t[keep], v[keep]
        self.t, self.v = t, v
        self.pending_t, self.pending_v = [], []
        self.dirty = False


class MemStorage:
    """Series in a dict keyed by labels, with a metric-name index for selection."""

    def __init__(self) -> None:
        self._series: dict[Labels, _MemSeries] = {}
        self._refs: list[_MemSeries] = []
        self._by_name: dict[str, list[_MemSeries]] = {}
        #: Series that had native-histogram samples in their input (not stored).
        self.histogram_series: set[Labels] = set()

    def _get(self, labels: Labels) -> tuple[SeriesRef, _MemSeries]:
        s = self._series.get(labels)
        if s is None:
            if not labels:
                raise StorageError("empty labelset")
            s = _MemSeries(labels)
            self._series[labels] = s
            self._refs.append(s)
            self._by_name.setdefault(labels.metric_name, []).append(s)
        return self._index(s), s

    def _index(self, s: _MemSeries) -> SeriesRef:
        return id(s)

    def add_series(
        self,
        labels: Labels,
        timestamps: npt.ArrayLike,
        values: npt.ArrayLike,
    ) -> None:
        """Bulk load: whole arrays for one series (the fast path for tests and benches)."""
        _, s = self._get(labels)
        s.add(np.asarray(timestamps, dtype=np.int64), np.asarray(values, dtype=np.float64))

    def clear(self) -> None:
        self._series.clear()
        self._refs.clear()
        self._by_name.clear()
        self.histogram_series.clear()

    def appender(self) -> MemAppender:
        return MemAppender(self)

    def querier(self, mint: int, maxt: int) -> MemQuerier:
        return MemQuerier(self, mint, maxt)

    def close(self) -> None:
        return None

    def candidates(self, matchers: Sequence[Matcher]) -> Iterator[_MemSeries]:
        for m in matchers:
            if m.name == METRIC_NAME and m.type is MatchType.EQUAL:
                yield from self._by_name.get(m.value, ())
                return
        for m in matchers:
            if m.name == METRIC_NAME and not m.matches_empty:
                for name, group in self._by_name.items():
                    if m.matches(name):
                        yield from group
                return
        yield from self._refs

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
        found = [
            s for s in self._storage.candidates(matchers) if matches_labels(s.labels, matchers)
        ]
        if sort:
            found.sort(key=lambda s: s.labels)
        for s in found:
            s.settle()
            lo = int(np.searchsorted(s.t, self._mint, side="left"))
            hi = int(np.searchsorted(s.t, self._maxt, side="right"))
            if hi > lo:
                yield Series(s.labels, s.t[lo:hi], s.v[lo:hi])

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
