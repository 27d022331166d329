"""The head: the most recent samples, in memory, appendable and queryable.

Layout, chosen so a whole scrape is appended with a handful of numpy
operations rather than a Python loop per sample:

* every series owns a *slot*, a row of two 2-D arrays (``_ts``, ``_vs``) that
  hold its open chunk of up to ``row_width`` samples, plus per-slot arrays of
  its sample count, the row's first timestamp (``_t0``: ``_ts`` holds int32
  offsets from it, half the bytes of int64) and last timestamp/value.
  Appending a scrape is one fancy assignment ``_ts[slots, n[slots]] = t - t0``;
* a full row is *cut* into a closed chunk: delta-of-delta timestamps and XORed
  value bits, byte-shuffled and LZ4-compressed (``_encode_chunk``), kept in a
  per-series list with its time range;
* the postings index (:mod:`promethean.tsdb.postings`) maps label pairs to
  series refs; a :class:`~promethean.tsdb.storage.SeriesRef` is never reused,
  so a ref cached by a scrape loop either finds its series or is resolved
  again by labels after the series was garbage-collected.

Every commit is logged to the WAL under the head lock before it is applied,
so the WAL's order is the order of application and replay reproduces the
head exactly (including which samples went to the out-of-order store).
"""

from __future__ import annotations

import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import cramjam
import numpy as np
import numpy.typing as npt
from pyroaring import BitMap

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher
from promethean.tsdb import wal as walrec
from promethean.tsdb.postings import MemPostings, Symbols, select_postings
from promethean.tsdb.storage import (
    DuplicateSampleError,
    OutOfBoundsError,
    OutOfOrderSampleError,
    Series,
    SeriesLabelsError,
    SeriesRef,
    StorageError,
)

__all__ = ["Head", "HeadAppender", "HeadQuerier", "HeadStats"]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)
DEFAULT_CHUNK_RANGE = 2 * 3600 * 1000
DEFAULT_ROW_WIDTH = 64
_TRUNCATE_BATCH = 4096  # series per lock hold in Head.truncate

# Classification of a sample against the series' state.
_IN_ORDER = 0
_OOO = 1
_DUP_OK = 2  # same timestamp, same value bits: accepted silently, not stored
_ERR_OOO = 3
_ERR_DUP = 4
_ERR_OOB = 5

_CHUNK_HEADER = struct.Struct("<Hd")  # sample count, last value
# A closed chunk in the head is one bytes object, its time span then the chunk:
# a (mint, maxt, data) tuple with two int objects cost 128 bytes more a chunk,
# about a third of what a 64-sample chunk takes.
_SPAN = struct.Struct("<qq")
_ENTRY_HEADER = struct.Struct("<qqHd")
_MAXT = struct.Struct("<q")  # at offset 8 of an entry
_RowT = TypeVar("_RowT", np.int32, np.float64)
_MAX_OFFSET = int(np.iinfo(np.int32).max)  # a row spans at most ~24.8 days


@dataclass(slots=True)
class HeadStats:
    """Counters the server exports as ``prometheus_tsdb_head_*`` self-metrics."""

    samples_appended: int = 0
    ooo_samples_appended: int = 0
    out_of_order_samples: int = 0
    duplicate_samples: int = 0
    out_of_bounds_samples: int = 0
    series_created: int = 0
    series_removed: int = 0
    chunks_created: int = 0
    wal_unknown_refs: int = 0


def _encode_chunk(ts: I64, vs: F64) -> bytes:
    """Delta-of-delta times and XORed value bits, byte-shuffled, LZ4 block."""
    return _encode_chunks(ts[None, :], vs[None, :])[0]


def _encode_chunks(
    ts: npt.NDArray[np.int64],
    vs: npt.NDArray[np.float64],
    spans: tuple[list[int], list[int]] | None = None,
) -> list[bytes]:
    """:func:`_encode_chunk` for many equal-length rows at once.

    With ``spans`` (first and last timestamps) each chunk comes as a head
    *entry*: the span, then the chunk (see ``_SPAN``).

    A whole scrape's series fill their rows together; encoding them row by row
    in Python took ~35 us a row, a stall of seconds when 100k rows were cut in
    one commit. Here the arithmetic is one numpy pass over all rows and only
    the LZ4 call (~2 us) remains per row.
    """
    k, n = ts.shape
    d = np.diff(ts, axis=1, prepend=np.zeros((k, 1), np.int64))
    dd = np.diff(d, axis=1, prepend=np.zeros((k, 1), np.int64))
    bits = np.ascontiguousarray(vs).view(np.uint64)
    x = bits.copy()
    x[:, 1:] ^= bits[:, :-1]
    mat = np.stack((dd.view(np.uint64), x), axis=1).astype("<u8", copy=False)
    shuffled = np.ascontiguousarray(mat.view(np.uint8).reshape(k, 2, n, 8).transpose(0, 1, 3, 2))
    rows = shuffled.reshape(k, 16 * n)
    compress = cramjam.lz4.compress_block
    pack = _CHUNK_HEADER.pack
    if spans is None:
        return [
            pack(n, last) + bytes(compress(row.data))
            for row, last in zip(rows, vs[:, n - 1].tolist(), strict=True)
        ]
    pack_entry = _ENTRY_HEADER.pack
    return [
        pack_entry(lo, hi, n, last) + bytes(compress(row.data))
        for row, last, lo, hi in zip(rows, vs[:, n - 1].tolist(), *spans, strict=True)
    ]


def _decode_chunk(data: bytes, offset: int = 0) -> tuple[I64, F64]:
    """Samples of the chunk at ``offset`` (0 for a chunk, ``_SPAN.size`` for an entry)."""
    n, _last = _CHUNK_HEADER.unpack_from(data, offset)
    body = memoryview(data)[offset + _CHUNK_HEADER.size :]
    raw = bytes(cramjam.lz4.decompress_block(body))
    mat = np.frombuffer(raw, dtype=np.uint8).reshape(2, 8, n).transpose(0, 2, 1).copy()
    words = mat.view("<u8").reshape(2, n)
    ts = np.cumsum(np.cumsum(words[0].view(np.int64)))
    bits = np.bitwise_xor.accumulate(words[1])
    return ts.astype(np.int64), bits.view(np.float64).copy()


def _chunk_last_value(data: bytes) -> float:
    return float(_CHUNK_HEADER.unpack_from(data, 0)[1])


def _grown_rows(rows: npt.NDArray[_RowT], new: int) -> npt.NDArray[_RowT]:
    """``rows`` with zero rows appended up to ``new``, the new ones not yet in memory.

    ``np.zeros`` maps fresh zero pages that cost no RSS until written, while
    concatenating would write them all: with doubling, up to half the rows
    (1 KiB each at the default width) are spare, about 30% of the head's RSS.
    """
    out = np.zeros((new, rows.shape[1]), dtype=rows.dtype)
    out[: len(rows)] = rows
    return out


def _validate_labels(labels: Labels) -> None:
    if not labels:
        raise SeriesLabelsError("empty labelset")
    prev = None
    for name, _value in labels:
        if name == prev:
            raise SeriesLabelsError(f'label name "{name}" is not unique')
        if name == "":
            raise SeriesLabelsError("empty label name")
        prev = name


def _merge_sorted(parts: list[tuple[I64, F64]]) -> tuple[I64, F64]:
    """Concatenate pieces, sort by time, keep the first sample of a timestamp."""
    ts = np.concatenate([p[0] for p in parts])
    vs = np.concatenate([p[1] for p in parts])
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    vs = vs[order]
    if len(ts) > 1:
        keep = np.empty(len(ts), dtype=bool)
        keep[0] = True
        np.not_equal(ts[1:], ts[:-1], out=keep[1:])
        if not keep.all():
            ts, vs = ts[keep], vs[keep]
    return ts, vs


def _apply_tombstones(ts: I64, vs: F64, intervals: list[tuple[int, int]]) -> tuple[I64, F64]:
    keep = np.ones(len(ts), dtype=bool)
    for lo, hi in intervals:
        keep &= (ts < lo) | (ts > hi)
    if keep.all():
        return ts, vs
    return ts[keep], vs[keep]


@dataclass(slots=True)
class _Raw:
    lo_bound: int
    mint: int
    maxt: int
    chunks: list[bytes]
    row: tuple[I64, F64] | None
    ooo: tuple[list[int], list[float]] | None
    tombstones: list[tuple[int, int]] | None

    def materialize(self) -> tuple[I64, F64]:
        parts = [_decode_chunk(c, _SPAN.size) for c in self.chunks]
        if self.row is not None:
            parts.append(self.row)
        if parts:
            if len(parts) == 1:
                ts, vs = parts[0]
            else:
                ts = np.concatenate([p[0] for p in parts])
                vs = np.concatenate([p[1] for p in parts])
            a = int(np.searchsorted(ts, self.lo_bound, side="left"))
            b = int(np.searchsorted(ts, self.maxt, side="right"))
            ts, vs = ts[a:b], vs[a:b]
        else:
            ts, vs = np.zeros(0, np.int64), np.zeros(0, np.float64)
        if self.ooo:
            ot = np.array(self.ooo[0], dtype=np.int64)
            ov = np.array(self.ooo[1], dtype=np.float64)
            sel = (ot >= self.mint) & (ot <= self.maxt)
            if sel.any():
                ts, vs = _merge_sorted([(ts, vs), (ot[sel], ov[sel])])
        if self.tombstones:
            ts, vs = _apply_tombstones(ts, vs, self.tombstones)
        return ts, vs


class Head:
    """In-memory series store with its postings index; see the module docstring."""

    def __init__(
        self,
        *,
        chunk_range: int = DEFAULT_CHUNK_RANGE,
        ooo_window: int = 0,
        wal: walrec.WAL | None = None,
        row_width: int = DEFAULT_ROW_WIDTH,
        min_valid_time: int = INT64_MIN,
    ) -> None:
        self.chunk_range = chunk_range
        self.ooo_window = ooo_window
        self.wal = wal
        self.stats = HeadStats()
        self._lock = threading.RLock()
        self._W = row_width
        self._postings = MemPostings()
        self._symbols = Symbols()
        self._by_labels: dict[Labels, int] = {}
        self._next_ref = 1
        self._slot_of_ref = np.full(1024, -1, dtype=np.int32)
        self._free: list[int] = []
        self._nslots = 0  # slots ever handed out (high-water mark)
        cap = 1024
        self._labels: list[Labels | None] = [None] * cap
        self._ref_of_slot = np.zeros(cap, dtype=np.int64)
        self._ts = np.zeros((cap, self._W), dtype=np.int32)
        self._t0 = np.zeros(cap, dtype=np.int64)
        self._vs = np.zeros((cap, self._W), dtype=np.float64)
        self._n = np.zeros(cap, dtype=np.int32)
        self._last_t = np.full(cap, INT64_MIN, dtype=np.int64)
        self._last_v = np.zeros(cap, dtype=np.float64)
        self._logged = np.zeros(cap, dtype=bool)
        # Samples after which a slot's row is cut; see _first_cut.
        self._cut_at = np.full(cap, self._W, dtype=np.int32)
        self._closed: list[list[bytes] | None] = [None] * cap  # entries, see _SPAN
        self._ooo: dict[int, tuple[list[int], list[float]]] = {}
        self._tombstones: dict[int, list[tuple[int, int]]] = {}
        self.min_valid_time = min_valid_time
        self._min_t = INT64_MAX
        self._max_t = INT64_MIN
        self._fresh_min = INT64_MAX  # oldest sample applied since truncate() began
        self._truncate_lock = threading.Lock()

    # --- properties -----------------------------------------------------------

    @property
    def min_time(self) -> int:
        """Oldest in-order sample still served by the head (INT64_MAX when empty)."""
        if self._min_t == INT64_MAX:
            return INT64_MAX
        return max(self._min_t, self.min_valid_time)

    @property
    def max_time(self) -> int:
        return self._max_t

    @property
    def num_series(self) -> int:
        return len(self._by_labels)

    def appender(self) -> HeadAppender:
        return HeadAppender(self)

    def querier(self, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self, mint, maxt)

    # --- series table ---------------------------------------------------------

    def _grow(self, need: int) -> None:
        cap = len(self._n)
        if need <= cap:
            return
        new = max(need, cap * 2)
        extra = new - cap
        self._labels.extend([None] * extra)
        self._closed.extend([None] * extra)
        self._ref_of_slot = np.concatenate((self._ref_of_slot, np.zeros(extra, np.int64)))
        self._ts = _grown_rows(self._ts, new)
        self._t0 = np.concatenate((self._t0, np.zeros(extra, np.int64)))
        self._vs = _grown_rows(self._vs, new)
        self._n = np.concatenate((self._n, np.zeros(extra, np.int32)))
        self._last_t = np.concatenate((self._last_t, np.full(extra, INT64_MIN, np.int64)))
        self._last_v = np.concatenate((self._last_v, np.zeros(extra, np.float64)))
        self._logged = np.concatenate((self._logged, np.zeros(extra, bool)))
        self._cut_at = np.concatenate((self._cut_at, np.full(extra, self._W, np.int32)))

    def _create(self, labels: Labels, ref: int | None = None) -> int:
        """New series (caller holds the lock); returns its slot."""
        labels = self._symbols.intern(labels)
        if ref is None:
            ref = self._next_ref
        self._next_ref = max(self._next_ref, ref + 1)
        if ref >= len(self._slot_of_ref):
            grown = np.full(max(ref + 1, len(self._slot_of_ref) * 2), -1, dtype=np.int32)
            grown[: len(self._slot_of_ref)] = self._slot_of_ref
            self._slot_of_ref = grown
        if self._free:
            slot = self._free.pop()
        else:
            slot = self._nslots
            self._nslots += 1
            self._grow(self._nslots)
        self._labels[slot] = labels
        self._ref_of_slot[slot] = ref
        self._slot_of_ref[ref] = slot
        self._n[slot] = 0
        self._last_t[slot] = INT64_MIN
        self._last_v[slot] = 0.0
        self._logged[slot] = False
        self._cut_at[slot] = self._first_cut(slot)
        self._closed[slot] = None
        self._by_labels[labels] = ref
        self._postings.add(ref, labels)
        self.stats.series_created += 1
        return slot

    def _first_cut(self, slot: int) -> int:
        """Length of a new series' first chunk: between W/2+1 and W, by slot.

        Series created by one scrape would otherwise fill their rows in the same
        commit every W scrapes, and cutting 10k-100k rows at once is a pause
        that makes every target miss its tick together (issue 6). Staggering the
        first cut spreads the cuts evenly over W/2 commits for good.
        """
        half = self._W // 2
        return self._W - slot % half if half else self._W

    def get_or_create(self, labels: Labels) -> tuple[int, int]:
        """(ref, slot) of the series with these labels, creating it if needed."""
        with self._lock:
            ref = self._by_labels.get(labels)
            if ref is not None:
                return ref, int(self._slot_of_ref[ref])
            _validate_labels(labels)
            slot = self._create(labels)
            return int(self._ref_of_slot[slot]), slot

    def _slots_for_refs(self, refs: I64) -> npt.NDArray[np.int64]:
        inside = refs < len(self._slot_of_ref)
        slots = np.full(len(refs), -1, dtype=np.int64)
        slots[inside] = self._slot_of_ref[refs[inside]]
        return slots

    def _resolve(
        self, refs: Sequence[SeriesRef | None], labels: Sequence[Labels]
    ) -> tuple[I64, npt.NDArray[np.int64], dict[int, StorageError]]:
        """Refs and slots for a batch; bad label sets come back as errors (slot -1)."""
        n = len(labels)
        if len(refs) != n:
            raise ValueError("refs and labels differ in length")
        if refs.count(None) if isinstance(refs, list) else any(r is None for r in refs):
            ref_arr = np.fromiter((0 if r is None else r for r in refs), np.int64, n)
        else:
            ref_arr = np.array(refs, dtype=np.int64).reshape(n)
        errors: dict[int, StorageError] = {}
        with self._lock:
            slots = self._slots_for_refs(ref_arr)
            if n:
                bad = np.flatnonzero(slots < 0)
                if len(bad):
                    # A zero/unknown ref, or one whose series was collected: labels decide.
                    bad_labels_idx = bad.tolist()
                    for i in bad_labels_idx:
                        lab = labels[i]
                        try:
                            r, s = self.get_or_create(lab)
                        except SeriesLabelsError as exc:
                            errors[i] = exc
                            continue
                        ref_arr[i] = r
                        slots[i] = s
                # Refs handed in by callers must name the series they label: a
                # stale ref can only be unknown (never reused), so nothing to check.
        return ref_arr, slots, errors

    # --- classification -------------------------------------------------------

    def _appendable_min(self) -> int:
        if self._max_t == INT64_MIN:
            return self.min_valid_time
        return max(self.min_valid_time, self._max_t - self.chunk_range // 2)

    def _classify(
        self,
        t: I64,
        v: F64,
        last_t: I64,
        last_v: F64,
        *,
        replay: bool = False,
    ) -> npt.NDArray[np.uint8]:
        codes = np.zeros(len(t), dtype=np.uint8)
        vbits = v.view(np.uint64)
        lbits = last_v.view(np.uint64)
        eq = t == last_t
        older = t < last_t
        if replay:
            codes[older] = _OOO
            codes[eq] = _DUP_OK  # already present: replay never stores a timestamp twice
            return codes
        min_valid = self._appendable_min()
        if self.ooo_window > 0:
            late = older | (t < min_valid)
            codes[late] = _OOO
            codes[eq & (vbits == lbits)] = _DUP_OK
            codes[eq & (vbits != lbits)] = _ERR_DUP
            if self._max_t != INT64_MIN:
                codes[t < self._max_t - self.ooo_window] = _ERR_OOB
        else:
            codes[older] = _ERR_OOO
            codes[eq & (vbits == lbits)] = _DUP_OK
            codes[eq & (vbits != lbits)] = _ERR_DUP
            codes[t < min_valid] = _ERR_OOB
        return codes

    def _unique(self, slots: npt.NDArray[np.int64]) -> bool:
        """Whether no slot repeats (a mark array: cheaper than sorting a scrape)."""
        mark = np.zeros(len(self._n), dtype=bool)
        mark[slots] = True
        return int(np.count_nonzero(mark)) == len(slots)

    def _classify_batch(
        self, slots: npt.NDArray[np.int64], t: I64, v: F64, *, replay: bool = False
    ) -> npt.NDArray[np.uint8]:
        """Codes for a batch with sequential semantics (a series may repeat)."""
        n = len(slots)
        if n == 0:
            return np.zeros(0, dtype=np.uint8)
        if self._unique(slots):
            return self._classify(t, v, self._last_t[slots], self._last_v[slots], replay=replay)
        uniq, inverse, counts = np.unique(slots, return_inverse=True, return_counts=True)
        sim_t = self._last_t[uniq].copy()
        sim_v = self._last_v[uniq].copy()
        codes = np.empty(n, dtype=np.uint8)
        order = np.argsort(inverse, kind="stable")
        starts = np.repeat(np.cumsum(counts) - counts, counts)
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(n) - starts
        for r in range(int(counts.max())):
            idx = np.flatnonzero(rank == r)
            pos = inverse[idx]
            c = self._classify(t[idx], v[idx], sim_t[pos], sim_v[pos], replay=replay)
            codes[idx] = c
            ok = c == _IN_ORDER
            sim_t[pos[ok]] = t[idx[ok]]
            sim_v[pos[ok]] = v[idx[ok]]
        return codes

    def _count_errors(self, codes: npt.NDArray[np.uint8]) -> None:
        if len(codes) == 0 or int(codes.max()) < _ERR_OOO:
            return
        counts = np.bincount(codes, minlength=6)
        self.stats.out_of_order_samples += int(counts[_ERR_OOO])
        self.stats.duplicate_samples += int(counts[_ERR_DUP])
        self.stats.out_of_bounds_samples += int(counts[_ERR_OOB])

    # --- applying -------------------------------------------------------------

    def _cut(self, slots: npt.NDArray[np.int64]) -> None:
        """Turn the rows of ``slots`` into closed chunks, grouped by length."""
        ns = self._n[slots]
        widths = np.unique(ns)
        for width in widths.tolist():
            group = slots if len(widths) == 1 else slots[ns == width]
            rows_t = self._ts[group, :width].astype(np.int64) + self._t0[group, None]
            rows_v = self._vs[group, :width]
            spans = (rows_t[:, 0].tolist(), rows_t[:, width - 1].tolist())
            entries = _encode_chunks(rows_t, rows_v, spans)
            closed = self._closed
            for slot, entry in zip(group.tolist(), entries, strict=True):
                lst = closed[slot]
                if lst is None:
                    closed[slot] = [entry]
                else:
                    lst.append(entry)
        self._n[slots] = 0
        self._cut_at[slots] = self._W
        self.stats.chunks_created += len(slots)

    def _apply(
        self,
        slots: npt.NDArray[np.int64],
        t: I64,
        v: F64,
        codes: npt.NDArray[np.uint8],
    ) -> None:
        """Store accepted samples (caller holds the lock and has logged them)."""
        inorder = codes == _IN_ORDER
        s = slots[inorder]
        tt = t[inorder]
        vv = v[inorder]
        if len(s):
            if self._unique(s):
                rounds = [np.arange(len(s))]
            else:
                order = np.argsort(s, kind="stable")
                _u, counts = np.unique(s[order], return_counts=True)
                starts = np.repeat(np.cumsum(counts) - counts, counts)
                rank = np.empty(len(s), dtype=np.int64)
                rank[order] = np.arange(len(s)) - starts
                rounds = [np.flatnonzero(rank == r) for r in range(int(counts.max()))]
            for idx in rounds:
                rs = s[idx]
                t_new = tt[idx]
                cols = self._n[rs]
                full = (cols >= self._cut_at[rs]) | (
                    (cols > 0) & (t_new - self._t0[rs] > _MAX_OFFSET)
                )
                if full.any():
                    self._cut(rs[full])
                    cols = self._n[rs]
                first = cols == 0
                if first.any():
                    self._t0[rs[first]] = t_new[first]
                self._ts[rs, cols] = t_new - self._t0[rs]
                self._vs[rs, cols] = vv[idx]
                self._n[rs] = cols + 1
                self._last_t[rs] = tt[idx]
                self._last_v[rs] = vv[idx]
            oldest = int(tt.min())
            self._min_t = min(self._min_t, oldest)
            self._fresh_min = min(self._fresh_min, oldest)
            self._max_t = max(self._max_t, int(tt.max()))
            self.stats.samples_appended += len(s)
        late = np.flatnonzero(codes == _OOO)
        if len(late):
            for slot, ts_, val in zip(
                slots[late].tolist(), t[late].tolist(), v[late].tolist(), strict=True
            ):
                store = self._ooo.get(slot)
                if store is None:
                    store = self._ooo[slot] = ([], [])
                store[0].append(ts_)
                store[1].append(val)
            self.stats.ooo_samples_appended += len(late)

    def _commit(
        self,
        refs: I64,
        slots: npt.NDArray[np.int64],
        t: I64,
        v: F64,
        labels_of: Sequence[Labels] | None,
    ) -> None:
        """Validate again under the lock, log to the WAL, then apply."""
        with self._lock:
            current = self._slots_for_refs(refs)
            stale = np.flatnonzero(current != slots)
            for i in stale.tolist():
                # The series was collected after the append: recreate it by labels.
                if labels_of is None:
                    continue
                r, sl = self.get_or_create(labels_of[i])
                refs[i] = r
                current[i] = sl
            slots = current
            codes = self._classify_batch(slots, t, v)
            self._count_errors(codes)
            keep = codes <= _OOO
            if not keep.all():
                slots, refs, t, v, codes = slots[keep], refs[keep], t[keep], v[keep], codes[keep]
            if len(slots) == 0:
                return
            if self.wal is not None:
                bodies: list[bytes] = []
                unlogged = slots[~self._logged[slots]]
                if len(unlogged):
                    new_slots = np.unique(unlogged)
                    entries = []
                    for sl in new_slots.tolist():
                        lab = self._labels[sl]
                        assert lab is not None
                        entries.append((int(self._ref_of_slot[sl]), lab))
                    bodies.append(walrec.encode_series(entries))
                    self._logged[new_slots] = True
                bodies.append(walrec.encode_samples(refs, t, v))
                self.wal.log(*bodies)
            self._apply(slots, t, v, codes)

    # --- replay ---------------------------------------------------------------

    def replay_body(self, body: bytes) -> None:
        """Apply one WAL or checkpoint record."""
        kind = body[0]
        with self._lock:
            if kind == walrec.SERIES:
                for ref, labels in walrec.decode_series(body):
                    existing = self._by_labels.get(labels)
                    if existing is not None:
                        # Same labels logged under two refs: alias the later ref.
                        self._grow_ref(ref)
                        self._slot_of_ref[ref] = self._slot_of_ref[existing]
                        self._next_ref = max(self._next_ref, ref + 1)
                        continue
                    slot = self._create(labels, ref)
                    self._logged[slot] = True
            elif kind == walrec.SAMPLES:
                refs, t, v = walrec.decode_samples(body)
                slots = self._slots_for_refs(refs)
                known = slots >= 0
                if not known.all():
                    self.stats.wal_unknown_refs += int((~known).sum())
                    slots, t, v = slots[known], t[known], v[known]
                codes = self._classify_batch(slots, t, v, replay=True)
                keep = codes <= _OOO
                self._apply(slots[keep], t[keep], v[keep], codes[keep])
            elif kind == walrec.TOMBSTONES:
                for ref, lo, hi in walrec.decode_tombstones(body):
                    if ref < len(self._slot_of_ref) and self._slot_of_ref[ref] >= 0:
                        self._tombstones.setdefault(ref, []).append((lo, hi))
            elif kind == walrec.CHUNKS:
                for ref, lo, hi, data in walrec.decode_chunks(body):
                    if ref >= len(self._slot_of_ref) or self._slot_of_ref[ref] < 0:
                        self.stats.wal_unknown_refs += 1
                        continue
                    slot = int(self._slot_of_ref[ref])
                    lst = self._closed[slot]
                    entry = _SPAN.pack(lo, hi) + data
                    if lst is None:
                        self._closed[slot] = [entry]
                    else:
                        lst.append(entry)
                    if hi > self._last_t[slot]:
                        self._last_t[slot] = hi
                        self._last_v[slot] = _chunk_last_value(data)
                    self._min_t = min(self._min_t, lo)
                    self._max_t = max(self._max_t, hi)

    def _grow_ref(self, ref: int) -> None:
        if ref >= len(self._slot_of_ref):
            grown = np.full(max(ref + 1, len(self._slot_of_ref) * 2), -1, dtype=np.int32)
            grown[: len(self._slot_of_ref)] = self._slot_of_ref
            self._slot_of_ref = grown

    def checkpoint_bodies(self) -> Iterator[bytes]:
        """The head's whole state as WAL records, snapshotted now, encoded lazily.

        The state is copied under the lock (the caller holds it too, to cut the
        WAL at the same instant): label and chunk-list references, the open
        samples, the out-of-order samples and tombstones. The records are built
        as the iterator is consumed, outside the lock: encoding millions of
        closed chunks under it stopped every commit for seconds (issue 6).
        """
        with self._lock:
            nslots = self._nslots
            labels = self._labels[:nslots]
            refs = self._ref_of_slot[:nslots].copy()
            closed = [list(lst) if lst else None for lst in self._closed[:nslots]]
            ns = self._n[:nslots]
            mask = np.arange(self._W)[None, :] < ns[:, None]
            open_refs = np.ascontiguousarray(np.broadcast_to(refs[:, None], mask.shape)[mask])
            open_t = self._ts[:nslots][mask].astype(np.int64) + np.repeat(self._t0[:nslots], ns)
            open_v = self._vs[:nslots][mask]
            ooo = [(int(refs[sl]), list(lt), list(lv)) for sl, (lt, lv) in self._ooo.items()]
            tomb = [(ref, lo, hi) for ref, ivs in self._tombstones.items() for lo, hi in ivs]
            self._logged[:nslots] = np.fromiter(
                (lab is not None for lab in labels), dtype=bool, count=nslots
            )
        return _checkpoint_records(labels, refs, closed, (open_refs, open_t, open_v), ooo, tomb)

    # --- reading --------------------------------------------------------------

    def _raw_series(self, slot: int, mint: int, maxt: int) -> _Raw:
        """Copies of one series' pieces overlapping [mint, maxt] (caller holds the lock).

        Decoding happens later, outside the lock, so queries never stall appends.
        """
        lo_bound = max(mint, self.min_valid_time)
        closed = self._closed[slot]
        chunks = []
        if closed:
            span = _SPAN.unpack_from
            for entry in closed:
                lo, hi = span(entry)
                if hi >= lo_bound and lo <= maxt:
                    chunks.append(entry)
        n = int(self._n[slot])
        row = (
            (self._ts[slot, :n] + self._t0[slot : slot + 1], self._vs[slot, :n].copy())
            if n
            else None
        )
        ooo = self._ooo.get(slot)
        ooo_copy = (list(ooo[0]), list(ooo[1])) if ooo else None
        tomb = self._tombstones.get(int(self._ref_of_slot[slot]))
        return _Raw(lo_bound, mint, maxt, chunks, row, ooo_copy, list(tomb) if tomb else None)

    def _series_data(self, slot: int, mint: int, maxt: int) -> tuple[I64, F64]:
        with self._lock:
            raw = self._raw_series(slot, mint, maxt)
        return raw.materialize()

    def select_refs(self, matchers: Sequence[Matcher]) -> BitMap:
        with self._lock:
            return select_postings(self._postings, matchers)

    def series_in_range(
        self, mint: int, maxt: int, matchers: Sequence[Matcher] = ()
    ) -> Iterator[tuple[Labels, I64, F64]]:
        """Series sorted by labels with samples in [mint, maxt] (block cuts, snapshots)."""
        with self._lock:
            if matchers:
                refs = select_postings(self._postings, matchers)
            else:
                refs = BitMap(self._postings.all_postings())
            entries = []
            for ref in refs:
                slot = int(self._slot_of_ref[ref])
                lab = self._labels[slot]
                assert lab is not None
                entries.append((lab, slot))
        entries.sort(key=lambda e: e[0])
        for lab, slot in entries:
            with self._lock:
                if self._labels[slot] is not lab:
                    continue
                raw = self._raw_series(slot, mint, maxt)
            ts, vs = raw.materialize()
            if len(ts):
                yield lab, ts, vs

    # --- maintenance ----------------------------------------------------------

    def compactable(self) -> bool:
        """Whether the head spans more than 1.5 block ranges (upstream's rule)."""
        if self._max_t == INT64_MIN:
            return False
        return self._max_t - self.min_time > self.chunk_range // 2 * 3

    def ooo_range(self) -> tuple[int, int] | None:
        """Time range of the out-of-order samples held, if any."""
        with self._lock:
            if not self._ooo:
                return None
            lo = min(min(ts) for ts, _ in self._ooo.values())
            hi = max(max(ts) for ts, _ in self._ooo.values())
            return lo, hi

    def ooo_series(self) -> Iterator[tuple[Labels, I64, F64]]:
        """The out-of-order samples per series, sorted by labels (for an overlapping block)."""
        with self._lock:
            items = []
            for slot, (lt, lv) in self._ooo.items():
                lab = self._labels[slot]
                assert lab is not None
                ts, vs = _merge_sorted(
                    [(np.array(lt, dtype=np.int64), np.array(lv, dtype=np.float64))]
                )
                tomb = self._tombstones.get(int(self._ref_of_slot[slot]))
                if tomb:
                    ts, vs = _apply_tombstones(ts, vs, tomb)
                if len(ts):
                    items.append((lab, ts, vs))
        items.sort(key=lambda e: e[0])
        yield from items

    def drop_ooo(self) -> None:
        with self._lock:
            self._ooo.clear()

    def truncate(self, mint: int) -> int:
        """Forget in-order data before ``mint`` and collect series with nothing left.

        Returns the number of series removed. The series table is walked in
        batches, taking the lock per batch: a walk over 200k series and their
        chunk lists holds it for about a second, a missed scrape for every
        target. Samples appended meanwhile are newer than anything cut
        (``min_valid_time`` is raised first), and :attr:`_fresh_min` keeps the
        oldest of them so the head's time range stays exact.
        """
        with self._truncate_lock:
            with self._lock:
                self.min_valid_time = max(self.min_valid_time, mint)
                self._fresh_min = INT64_MAX
            removed = 0
            new_min = INT64_MAX
            start = 0
            while True:
                with self._lock:
                    end = min(start + _TRUNCATE_BATCH, self._nslots)
                    r, m = self._truncate_slots(range(start, end), mint)
                    removed += r
                    new_min = min(new_min, m)
                    if end >= self._nslots:
                        self._truncate_finish(mint, new_min, removed)
                        return removed
                start = end

    def _truncate_slots(self, slots: range, mint: int) -> tuple[int, int]:
        removed = 0
        new_min = INT64_MAX
        for slot in slots:
            lab = self._labels[slot]
            if lab is None:
                continue
            lst = self._closed[slot]
            if lst:
                lst[:] = [c for c in lst if _MAXT.unpack_from(c, 8)[0] >= mint]
                if lst:
                    new_min = min(new_min, _SPAN.unpack_from(lst[0])[0])
            n = int(self._n[slot])
            if n:
                row_min = int(self._t0[slot])
                new_min = min(new_min, row_min)
            if int(self._last_t[slot]) < mint and slot not in self._ooo:
                self._remove(slot, lab)
                removed += 1
        return removed, new_min

    def _truncate_finish(self, mint: int, new_min: int, removed: int) -> None:
        """The end of :meth:`truncate`, under the lock."""
        self._min_t = min(new_min, self._fresh_min)
        for ref in list(self._tombstones):
            ivs = [iv for iv in self._tombstones[ref] if iv[1] >= mint]
            if ivs and ref < len(self._slot_of_ref) and self._slot_of_ref[ref] >= 0:
                self._tombstones[ref] = ivs
            else:
                del self._tombstones[ref]
        if removed:
            self._symbols.forget_unused(
                pair for lab in self._labels if lab is not None for pair in lab
            )

    def _remove(self, slot: int, labels: Labels) -> None:
        ref = int(self._ref_of_slot[slot])
        self._postings.delete(ref, labels)
        del self._by_labels[labels]
        self._slot_of_ref[ref] = -1
        self._labels[slot] = None
        self._closed[slot] = None
        self._n[slot] = 0
        self._last_t[slot] = INT64_MIN
        self._logged[slot] = False
        self._free.append(slot)
        self.stats.series_removed += 1

    def delete(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> int:
        """Hide samples of matching series in [mint, maxt]; logged, so it survives restarts."""
        with self._lock:
            refs = select_postings(self._postings, matchers)
            entries = [(int(r), mint, maxt) for r in refs]
            if not entries:
                return 0
            if self.wal is not None:
                self.wal.log(walrec.encode_tombstones(entries))
            for ref, lo, hi in entries:
                self._tombstones.setdefault(ref, []).append((lo, hi))
            return len(entries)


def _checkpoint_records(
    labels: list[Labels | None],
    refs: I64,
    closed: list[list[bytes] | None],
    open_samples: tuple[I64, I64, F64],
    ooo: list[tuple[int, list[int], list[float]]],
    tomb: list[tuple[int, int, int]],
) -> Iterator[bytes]:
    """Encode a :meth:`Head.checkpoint_bodies` snapshot, 10k series or chunks a record."""
    live = [(int(refs[s]), lab) for s, lab in enumerate(labels) if lab is not None]
    for i in range(0, len(live), 10000):
        yield walrec.encode_series(live[i : i + 10000])
    chunks: list[tuple[int, int, int, bytes]] = []
    for s, lst in enumerate(closed):
        if lst:
            ref = int(refs[s])
            chunks.extend((ref, *_SPAN.unpack_from(e), e[_SPAN.size :]) for e in lst)
            if len(chunks) >= 10000:
                yield walrec.encode_chunks(chunks)
                chunks = []
    if chunks:
        yield walrec.encode_chunks(chunks)
    if len(open_samples[0]):
        yield walrec.encode_samples(*open_samples)
    if ooo:
        orefs = [ref for ref, lt, _ in ooo for _t in lt]
        ot = [t for _, lt, _ in ooo for t in lt]
        ov = [v for _, _, lv in ooo for v in lv]
        yield walrec.encode_samples(
            np.array(orefs, np.int64), np.array(ot, np.int64), np.array(ov, np.float64)
        )
    if tomb:
        yield walrec.encode_tombstones(tomb)


class HeadAppender:
    """Collects samples; validation happens at append time and again at commit."""

    def __init__(self, head: Head) -> None:
        self._head = head
        self._reset()

    def _reset(self) -> None:
        self._refs: list[I64] = []
        self._slots: list[npt.NDArray[np.int64]] = []
        self._t: list[I64] = []
        self._v: list[F64] = []
        self._labels: list[Sequence[Labels]] = []
        self._one: list[tuple[int, int, int, float, Labels]] = []
        self._pending: dict[int, tuple[int, float]] | None = None
        self._count = 0

    def _pending_state(self) -> dict[int, tuple[int, float]]:
        if self._pending is None:
            self._pending = {}
            for slots, t, v in zip(self._slots, self._t, self._v, strict=True):
                for s, ts_, val in zip(slots.tolist(), t.tolist(), v.tolist(), strict=True):
                    self._pending[s] = (ts_, val)
            for _r, s, ts_, val, _l in self._one:
                self._pending[s] = (ts_, val)
        return self._pending

    def append(self, ref: SeriesRef | None, labels: Labels, t: int, v: float) -> SeriesRef:
        refs, errors = self.append_many([ref], [labels], t, np.array([v], dtype=np.float64))
        if errors:
            raise errors[0]
        return refs[0]

    def append_many(
        self,
        refs: Sequence[SeriesRef | None],
        labels: Sequence[Labels],
        t: npt.NDArray[np.int64] | int,
        v: npt.NDArray[np.float64],
    ) -> tuple[list[SeriesRef], dict[int, StorageError]]:
        head = self._head
        n = len(labels)
        v_arr = np.asarray(v, dtype=np.float64).reshape(n)
        if isinstance(t, (int, np.integer)):
            t_arr = np.full(n, int(t), dtype=np.int64)
        else:
            t_arr = np.asarray(t, dtype=np.int64).reshape(n)
        ref_arr, slots, errors = head._resolve(refs, labels)
        with head._lock:
            valid = slots >= 0
            if self._count == 0:
                codes = np.full(n, _ERR_OOB + 1, dtype=np.uint8)
                codes[valid] = head._classify_batch(slots[valid], t_arr[valid], v_arr[valid])
            else:
                codes = self._classify_sequential(slots, t_arr, v_arr, valid)
        head._count_errors(codes)
        bad = np.flatnonzero(codes >= _ERR_OOO)
        for i in bad.tolist():
            code = int(codes[i])
            if code == _ERR_OOO:
                errors[i] = OutOfOrderSampleError()
            elif code == _ERR_DUP:
                errors[i] = DuplicateSampleError()
            elif code == _ERR_OOB:
                errors[i] = OutOfBoundsError()
        keep = codes <= _OOO
        if keep.all():
            self._refs.append(ref_arr)
            self._slots.append(slots)
            self._t.append(t_arr)
            self._v.append(v_arr)
            self._labels.append(labels)
        elif keep.any():
            idx = np.flatnonzero(keep)
            self._refs.append(ref_arr[idx])
            self._slots.append(slots[idx])
            self._t.append(t_arr[idx])
            self._v.append(v_arr[idx])
            self._labels.append([labels[i] for i in idx.tolist()])
        kept = int(keep.sum())
        if kept and self._pending is not None:
            idx = np.flatnonzero(keep)
            for s, ts_, val in zip(
                slots[idx].tolist(), t_arr[idx].tolist(), v_arr[idx].tolist(), strict=True
            ):
                self._pending[s] = (ts_, val)
        self._count += kept
        return ref_arr.tolist(), errors

    def _classify_sequential(
        self,
        slots: npt.NDArray[np.int64],
        t: I64,
        v: F64,
        valid: npt.NDArray[np.bool_],
    ) -> npt.NDArray[np.uint8]:
        """Check against pending samples of this appender too (later batches)."""
        head = self._head
        pending = self._pending_state()
        last_t = np.where(valid, head._last_t[np.maximum(slots, 0)], INT64_MIN)
        last_v = head._last_v[np.maximum(slots, 0)].copy()
        for i, s in enumerate(slots.tolist()):
            p = pending.get(s)
            if p is not None and p[0] > last_t[i]:
                last_t[i], last_v[i] = p
        codes = np.full(len(slots), _ERR_OOB + 1, dtype=np.uint8)
        idx = np.flatnonzero(valid)
        if head._unique(slots[idx]):
            codes[idx] = head._classify(t[idx], v[idx], last_t[idx], last_v[idx])
            return codes
        # Repeats within one batch on top of pending samples: one by one.
        for i in idx.tolist():
            one = slice(i, i + 1)
            c = int(head._classify(t[one], v[one], last_t[one], last_v[one])[0])
            codes[i] = c
            if c == _IN_ORDER:
                same = slots == slots[i]
                last_t[same] = t[i]
                last_v[same] = v[i]
        return codes

    def commit(self) -> None:
        if not self._count:
            self._reset()
            return
        refs = np.concatenate(self._refs)
        slots = np.concatenate(self._slots)
        t = np.concatenate(self._t)
        v = np.concatenate(self._v)
        labels: Sequence[Labels]
        if len(self._labels) == 1:
            labels = self._labels[0]
        else:
            labels = [lab for batch in self._labels for lab in batch]
        self._reset()
        self._head._commit(refs, slots, t, v, labels)

    def rollback(self) -> None:
        self._reset()


class HeadQuerier:
    """A querier over the head for [mint, maxt]."""

    def __init__(self, head: Head, mint: int, maxt: int) -> None:
        self._head = head
        self.mint = mint
        self.maxt = maxt

    def select(self, matchers: Sequence[Matcher], sort: bool = False) -> Iterator[Series]:
        head = self._head
        with head._lock:
            refs = select_postings(head._postings, matchers)
            entries = []
            for ref in refs:
                slot = int(head._slot_of_ref[ref])
                lab = head._labels[slot]
                if lab is None:
                    continue
                entries.append((lab, head._raw_series(slot, self.mint, self.maxt)))
        if sort:
            entries.sort(key=lambda e: e[0])
        return self._materialize(entries)

    @staticmethod
    def _materialize(entries: list[tuple[Labels, _Raw]]) -> Iterator[Series]:
        for lab, raw in entries:
            ts, vs = raw.materialize()
            if len(ts):
                yield Series(lab, ts, vs)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        head = self._head
        with head._lock:
            if not matchers:
                return head._postings.label_names()
            return head._postings.label_names(select_postings(head._postings, matchers))

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        head = self._head
        with head._lock:
            if not matchers:
                return head._postings.label_values(name)
            refs = select_postings(head._postings, matchers)
            return head._postings.label_values(name, refs)

    def close(self) -> None:
        pass
