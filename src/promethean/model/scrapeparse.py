"""The scrape-path parser: every scrape body, as cheaply as Python allows.

A target serves almost the same lines on every scrape; only the values change.
So, like Go Prometheus's scrape cache, :class:`ScrapeParser` keeps a cache keyed
by the raw series text of each line (everything before the value, e.g.
``http_requests_total{code="200",method="get"}``). A line whose series text is
cached costs one ``str.rpartition``, one dict lookup and (in bulk, after the
loop) one ``float()``; the label set is parsed, validated and sorted only the
first time a line is seen. Once a target's layout is steady (two scrapes in a
row whose every sample line was cached, with as many lines), the parser also
remembers that layout (:class:`_TextMemo`): a next body with the same comment
lines and the same series texts in the same places is checked with a few
C-level passes (``startswith``, ``removeprefix``, ``float``) and no lookups.

Usage by the scrape loop::

    parser = ScrapeParser(max_age=2)        # one per target
    result = parser.parse(body, content_type)
    for entry, value in zip(result.entries, result.values):
        if entry.ref is None:
            entry.ref = appender.add_series(entry.labels)   # the slot is the caller's
        appender.append(entry.ref, result.timestamps.get(i, default_ts), value)
    parser.end_cycle()                      # after the scrape is committed

:class:`ScrapeResult` gives, per sample in body order, the :class:`SeriesEntry`
(``labels`` including ``__name__``, a free ``ref`` slot for a series reference,
the sample and family names), the value, a sparse ``timestamps`` mapping
(sample index -> ms; most targets send none) and ``exemplars`` (OpenMetrics, protobuf),
plus ``metadata``: TYPE/HELP/UNIT per family seen in this body.

Protobuf bodies (``application/vnd.google.protobuf``) give the samples
:func:`promethean.model.protobuf.parse_protobuf` gives (classic histograms and
summaries expanded into their usual series), but a ``Metric`` message seen
before is recognised by its raw label bytes and only its values are decoded;
new or changed messages go through ``parse_protobuf`` one by one, and a body
the quick walk cannot read is decoded whole, so errors name the byte offset.
Exemplars are reported only for messages decoded fully. Native histogram
samples have no place in the result yet (the TSDB stores floats only): they
are left out and counted in
``ScrapeResult.native_histograms``, so the caller can say so.

Validation: a new line is parsed and checked fully (text 0.0.4 rules as in
:mod:`promethean.model.textparse`), a cached line only has its value checked,
in bulk; if that check finds anything unusual the whole body is re-parsed line
by line, so errors carry exact line and column and odd-but-valid spellings
(tabs, extra blanks) still parse. Family contiguity and TYPE/HELP rules are
checked on every scrape: each cached entry remembers its family, and whenever a
line's family differs from the previous line's, the family is re-resolved
against this body's TYPE lines. OpenMetrics bodies are validated line by line
on every scrape (their value rules, such as non-decreasing buckets, need the
values), and only the label sets come from the cache.

``end_cycle()`` ends a scrape: entries not seen for ``max_age`` cycles are
evicted (the sweep runs every ``max_age`` cycles, so an unseen entry lives
between ``max_age`` and ``2 * max_age`` cycles), and their ``ref`` is dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import add, itemgetter
from typing import Any, cast

from promethean.model import _pbwire as w
from promethean.model._textlex import FAST_TEXT, FLOAT_FULL, decode, fast_pairs, parse_int_ts
from promethean.model.errors import ParseError
from promethean.model.exposition import Exemplar, MetricType
from promethean.model.labels import METRIC_NAME, Labels
from promethean.model.openmetrics import OMParser
from promethean.model.protobuf import parse_protobuf, summary_fields
from promethean.model.textparse import _TextState

__all__ = [
    "FamilyMetadata",
    "ScrapeParser",
    "ScrapeResult",
    "SeriesEntry",
    "is_openmetrics",
    "is_protobuf",
]

_FamKey = tuple[str, MetricType]
_HISTOGRAM = MetricType.HISTOGRAM
_SUMMARY = MetricType.SUMMARY


class SeriesEntry:
    """One cached series: parsed once, reused by every scrape that repeats its line."""

    __slots__ = ("family", "labels", "name", "ref", "seen")

    def __init__(self, labels: Labels, name: str, family: _FamKey) -> None:
        self.labels = labels
        self.name = name
        self.family = family
        self.ref: object | None = None
        self.seen = 0

    def __repr__(self) -> str:
        return f"SeriesEntry({self.labels!s}, family={self.family[0]!r})"


@dataclass(frozen=True, slots=True)
class FamilyMetadata:
    type: MetricType
    help: str | None = None
    unit: str | None = None


@dataclass(slots=True)
class ScrapeResult:
    entries: list[SeriesEntry]
    values: list[float]
    timestamps: dict[int, int] = field(default_factory=dict)
    exemplars: dict[int, Exemplar] = field(default_factory=dict)
    metadata: dict[str, FamilyMetadata] = field(default_factory=dict)
    # Native histogram samples of a protobuf body, left out of ``entries``.
    native_histograms: int = 0
    # The body's exemplars broke OpenMetrics rules and were dropped to keep the scrape.
    dropped_exemplars: bool = False

    def __len__(self) -> int:
        return len(self.entries)


def is_openmetrics(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/openmetrics-text"


def is_protobuf(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "application/vnd.google.protobuf"


class ScrapeParser:
    """Parser plus series cache for one scrape target."""

    def __init__(self, max_age: int = 2) -> None:
        if max_age < 1:
            raise ValueError("max_age must be at least 1")
        self.max_age = max_age
        self._text: dict[str, SeriesEntry] = {}
        self._om: dict[str, SeriesEntry] = {}
        self._pb: dict[tuple[str, Labels], SeriesEntry] = {}
        self._pb_raw: dict[tuple[bytes, int, bytes], _PbMetric] = {}
        self._fam_keys: dict[_FamKey, _FamKey] = {}
        self._cycle = 1
        self._last: list[SeriesEntry] = []
        self._memo: _TextMemo | None = None
        self._replayed = False
        # When to build a memo: after two plain parses in a row of as many lines,
        # and, after memos that were never replayed, only every so often.
        self._plain_lines = -1
        self._memo_skip = 0
        self._memo_backoff = 0

    def __len__(self) -> int:
        return len(self._text) + len(self._om) + len(self._pb)

    def parse(self, body: str | bytes, content_type: str = "text/plain") -> ScrapeResult:
        """Parse one scrape body; raises ParseError (line, column) for bad input.

        A protobuf body must be given as bytes; its errors name a byte offset.
        """
        if is_protobuf(content_type):
            self._drop_memo()
            result = self._parse_pb(body.encode() if isinstance(body, str) else body)
            self._last = result.entries
            return result
        text = decode(body)
        if is_openmetrics(content_type):
            self._drop_memo()
            result = self._parse_om(text)
        else:
            lines = text.split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            memo = self._memo
            got = None if memo is None else memo.replay(lines)
            if got is not None and memo is not None:
                memo.seen_once = True
            if got is not None:
                # Its entries are marked seen all at once, when the memo is dropped or swept.
                self._replayed = True
                self._last = []
                self._memo_backoff = 0
                return got
            else:
                # Whatever this parse does to the cache (new entries, families moved)
                # unmakes the memo's proof, so it goes before anything else happens.
                self._drop_memo()
                try:
                    result, others = self._parse_text_cached(lines)
                except (_Revalidate, ParseError):
                    # Values are checked after the loop, so a bad value before the
                    # error found may have gone unreported: the line-by-line parse
                    # reports the first error.
                    result, others = self._parse_text_fresh(lines), None
                if others is not None:
                    self._maybe_memo(lines, result, others)
                else:
                    self._plain_lines = -1
        self._replayed = False
        self._last = result.entries
        return result

    def end_cycle(self) -> int:
        """Mark this scrape's series seen; every ``max_age`` cycles evict stale ones."""
        cycle = self._cycle
        if self._replayed and self._memo is not None:
            self._memo.seen = cycle
        self._replayed = False
        for e in self._last:
            e.seen = cycle
        self._last = []
        self._cycle = cycle + 1
        if cycle % self.max_age:
            return 0
        horizon = cycle - self.max_age
        for k in [k for k, pm in self._pb_raw.items() if pm.seen <= horizon]:
            del self._pb_raw[k]
        memo = self._memo
        if memo is not None and memo.covers and memo.seen > horizon:
            text_evicted = 0  # every cached line is in the memo, and it was seen lately
        else:
            if memo is not None:
                memo.mark_seen()
            text_evicted = _evict(self._text, horizon)
            if text_evicted:
                self._memo = None  # its entries may be among the evicted
        return text_evicted + _evict(self._om, horizon) + _evict(self._pb, horizon)

    def _drop_memo(self) -> None:
        memo = self._memo
        if memo is not None:
            memo.mark_seen()
            self._memo = None
            if memo.seen_once:
                self._memo_backoff = 0
            else:  # built for nothing: wait longer before the next one
                self._memo_backoff = min(2 * self._memo_backoff or 1, 64)
                self._memo_skip = self._memo_backoff

    def _maybe_memo(self, lines: list[str], result: ScrapeResult, others: list[int]) -> None:
        """Build the memo once the layout looks steady; an unused memo delays the next."""
        steady = self._plain_lines == len(lines)
        self._plain_lines = len(lines)
        if not steady:
            return
        if self._memo_skip:
            self._memo_skip -= 1
            return
        if "" in self._text:  # never a series text; the memo's prefixes assume so
            return
        self._memo = _TextMemo.build(lines, result, others, len(self._text))

    def _key(self, name: str, typ: MetricType) -> _FamKey:
        key = (name, typ)
        return self._fam_keys.setdefault(key, key)

    # -- text 0.0.4 -----------------------------------------------------------

    def _parse_text_cached(self, lines: list[str]) -> tuple[ScrapeResult, list[int] | None]:
        """The usual scrape: a cached line costs one cut, one lookup and two appends.

        The loop is kept to exactly that for a line whose entry is cached and in
        the family of the line before; everything else (comments, new lines,
        family changes) goes through the careful per-line code. (Cutting all
        lines with ``map`` or one big join/split measured slower: the per-line
        loop keeps its few small objects in cache.) When every sample line was a
        cached one (so the loop changed nothing in the cache), the indexes of
        the other lines (comments, blanks) come back too: such a body may seed
        the :class:`_TextMemo` for the next scrape; otherwise None.
        """
        state = _TextState()
        plain = True
        others: list[int] = []
        get = self._text.get
        entries: list[SeriesEntry] = []
        vals: list[str] = []
        ents_append = entries.append
        vals_append = vals.append
        timestamps: dict[int, int] = {}
        cur: _FamKey | None = None
        for lineno, line in enumerate(lines, 1):
            k, _, v = line.rpartition(" ")
            e = get(k)
            if e is not None:
                if e.family is cur:
                    ents_append(e)
                    vals_append(v)
                    continue
                if self._enter_cached(state, e, lineno):
                    cur = e.family
                    ents_append(e)
                    vals_append(v)
                    continue
            stripped = line.lstrip(" \t")
            if not stripped:
                others.append(lineno - 1)
                continue
            if stripped[0] == "#":
                state.comment(line, lineno)
                others.append(lineno - 1)
                cur = None
                continue
            e, value, ts = self._new_text_line(state, line, lineno)
            plain = False
            cur = e.family
            if ts is not None:
                timestamps[len(entries)] = ts
            ents_append(e)
            vals_append(repr(value))
        values = _bulk_floats(vals)
        meta = {
            f.name: FamilyMetadata(f.type, f.help, f.unit)
            for f in state.order
            if f.help is not None or f.name in state.declared
        }
        return ScrapeResult(entries, values, timestamps, {}, meta), others if plain else None

    def _parse_text_fresh(self, lines: list[str]) -> ScrapeResult:
        """Every line parsed afresh, so errors carry exact positions; the cache is refreshed."""
        state = _TextState()
        entries: list[SeriesEntry] = []
        vals: list[float] = []
        timestamps: dict[int, int] = {}
        for lineno, line in enumerate(lines, 1):
            stripped = line.lstrip(" \t")
            if not stripped:
                continue
            if stripped[0] == "#":
                state.comment(line, lineno)
                continue
            e, value, ts = self._new_text_line(state, line, lineno)
            if ts is not None:
                timestamps[len(entries)] = ts
            entries.append(e)
            vals.append(value)
        meta = {
            f.name: FamilyMetadata(f.type, f.help, f.unit)
            for f in state.order
            if f.help is not None or f.name in state.declared
        }
        return ScrapeResult(entries, vals, timestamps, {}, meta)

    def _enter_cached(self, state: _TextState, e: SeriesEntry, lineno: int) -> bool:
        """A cached line starts a new family run: is its family still what this body says?"""
        name, typ = e.family
        if state.resolve(e.name) != name:
            return False
        fam = state.enter(name, lineno, 1)
        if fam.type is not typ:
            return False
        state.typed.add(name)
        return True

    def _new_text_line(
        self, state: _TextState, line: str, lineno: int
    ) -> tuple[SeriesEntry, float, int | None]:
        m = FAST_TEXT.fullmatch(line)
        if m is not None:
            got = self._new_plain_line(state, line, lineno, m)
            if got is not None:
                return got
        fam, sample, raw = state.full_sample(line, lineno)
        family = self._key(fam.name, fam.type)
        series = line[: raw.series_end]
        e = self._text.get(series)
        if e is None or e.name != sample.name:
            labels = Labels.from_pairs_keep_empty(((METRIC_NAME, sample.name), *raw.pairs))
            e = SeriesEntry(labels, sample.name, family)
            self._text[series] = e
        e.family = family
        # Also under the key the hot loop derives (text before the last space).
        start = raw.value_col - 1
        if raw.ts is None and start >= 1 and line[start - 1] == " " and line[start:] == raw.value:
            self._text[line[: start - 1]] = e
        return e, sample.value, sample.timestamp_ms

    def _new_plain_line(
        self, state: _TextState, line: str, lineno: int, m: Any
    ) -> tuple[SeriesEntry, float, int | None] | None:
        """A first-seen line of the plain shape: one regex match and C-level splits.

        This is what makes the first scrape of a target affordable (the exact
        scanner walks every character in Python). Whatever the plain shape cannot
        judge alone (escapes, duplicate or reserved label names, a bad ``le`` or
        ``quantile``) returns None, and the exact scanner decides and reports it.
        """
        name, lab, val, ts_text = m.groups()
        if lab is not None and "\\" in lab:
            return None
        pairs = fast_pairs(lab[1:-1]) if lab is not None and len(lab) > 2 else []
        by_name = dict(pairs)
        if len(by_name) != len(pairs) or METRIC_NAME in by_name:
            return None
        fam = state.family_for(name, lineno)
        if pairs and (fam.type is _HISTOGRAM or fam.type is _SUMMARY):
            special = "le" if fam.type is _HISTOGRAM else "quantile"
            for k, v in pairs:
                if k == special and FLOAT_FULL.fullmatch(v) is None:
                    return None
        ts = None if ts_text is None else parse_int_ts(ts_text, lineno, m.start(4) + 1)
        family = self._key(fam.name, fam.type)
        series = line[: m.end(2) if lab is not None else m.end(1)]
        e = self._text.get(series)
        if e is None or e.name != name:
            by_name[METRIC_NAME] = name
            labels = tuple.__new__(Labels, sorted(by_name.items()))
            e = SeriesEntry(labels, name, family)
            self._text[series] = e
        e.family = family
        if ts_text is None:
            # Also under the key the hot loop derives (text before the last space).
            self._text[line[: m.start(3) - 1]] = e
        return e, float(val), ts

    # -- OpenMetrics ------------------------------------------------------------

    def _parse_om(self, text: str) -> ScrapeResult:
        """OpenMetrics, where an exemplar the spec forbids costs the exemplars, not the scrape.

        The strict parser refuses exemplars that are too long, carry duplicate
        names or sit on a line the spec does not allow. Go Prometheus parses
        those and only drops the exemplar when storing it, keeping the scrape,
        and this does the same: the body is parsed again without exemplars
        (none are stored yet anyway). A malformed exemplar still fails the
        scrape, as it does upstream.
        """
        try:
            return self._parse_om_once(text)
        except ParseError as exc:
            if not exc.message.startswith(_EXEMPLAR_RULES):
                raise
            bare = _without_exemplars(text)
            if bare == text:
                raise
        result = self._parse_om_once(bare)
        result.dropped_exemplars = True
        return result

    def _parse_om_once(self, text: str) -> ScrapeResult:
        parser = OMParser()
        cache = self._om
        entries: list[SeriesEntry] = []
        values: list[float] = []
        timestamps: dict[int, int] = {}
        exemplars: dict[int, Exemplar] = {}
        for _lineno, sample, series in parser.samples(text):
            e = cache.get(series)
            if e is None or e.name != sample.name:
                labels = Labels.from_pairs_keep_empty(((METRIC_NAME, sample.name), *sample.labels))
                fam = parser.families[-1]
                e = SeriesEntry(labels, sample.name, self._key(fam.name, fam.type))
                cache[series] = e
            if sample.timestamp_ms is not None:
                timestamps[len(entries)] = sample.timestamp_ms
            if sample.exemplar is not None:
                exemplars[len(entries)] = sample.exemplar
            entries.append(e)
            values.append(sample.value)
        meta = {f.name: FamilyMetadata(f.type, f.help, f.unit) for f in parser.families}
        return ScrapeResult(entries, values, timestamps, exemplars, meta)

    # -- protobuf -------------------------------------------------------------

    def _parse_pb(self, body: bytes) -> ScrapeResult:
        """The cached walk when it can, else the whole-body decoder (which names bad bytes)."""
        try:
            return self._parse_pb_cached(body)
        except (_Revalidate, w.WireError, ValueError, IndexError, struct.error):
            return self._parse_pb_full(body)

    def _parse_pb_cached(self, buf: bytes) -> ScrapeResult:
        """Walk the wire format directly; a Metric seen before costs its value fields only.

        Each Metric message is cut into its label fields (the cache key, with
        the family's name and type) and the rest. A known key needs only the
        values decoded, in the order its entries were cached; the bucket bounds
        or quantiles are compared with the cached ones, and anything new or
        different (first sight, changed buckets, a native histogram) decodes
        that one Metric with :func:`parse_protobuf`, so the rules stay in one
        place. Exemplars are not read on this path (nothing stores them yet).
        """
        raw = self._pb_raw
        cycle = self._cycle
        entries: list[SeriesEntry] = []
        values: list[float] = []
        timestamps: dict[int, int] = {}
        exemplars: dict[int, Exemplar] = {}
        meta: dict[str, FamilyMetadata] = {}
        native = 0
        end = len(buf)
        pos = 0
        while pos < end:
            length, pos = w.read_varint(buf, pos, end)
            fam_end = pos + length
            if fam_end > end:
                raise _Revalidate
            name_b = b""
            help_text: str | None = None
            unit: str | None = None
            type_ = _PB_COUNTER
            metrics: list[tuple[int, int]] = []
            for num, wire, val in w.iter_fields(buf, pos, fam_end):
                if num == 4:
                    metrics.append(w.as_span(wire, val, pos))
                elif num == 1:
                    a, b = w.as_span(wire, val, pos)
                    name_b = buf[a:b]
                elif num == 2:
                    help_text = w.as_str(buf, wire, val, pos)
                elif num == 3:
                    type_ = w.as_int(wire, val, pos)
                elif num == 5:
                    unit = w.as_str(buf, wire, val, pos) or None
            pos = fam_end
            mtype = _PB_TYPES.get(type_)
            if not name_b or mtype is None:
                raise _Revalidate
            name = name_b.decode("utf-8")
            meta[name] = FamilyMetadata(mtype, help_text, unit)
            family = self._key(name, mtype)
            for ms, me in metrics:
                p = ms
                while p < me and buf[p] == 0x0A:
                    n, p = w.read_varint(buf, p + 1, me)
                    p += n
                if p > me:
                    raise _Revalidate
                key = (name_b, type_, buf[ms:p])
                pm = raw.get(key)
                got = _pb_values(buf, p, me, type_)
                if pm is not None and got is not None and got[2] == pm.sig:
                    vals, ts = got[0], got[1]
                    if len(vals) != len(pm.entries):
                        raise _Revalidate
                else:
                    pm, vals, ts, ex, nat = self._pb_metric(name_b, type_, buf[ms:me], family)
                    native += nat
                    pm.sig = got[2] if got is not None and not nat else None
                    raw[key] = pm
                    for i, x in ex.items():
                        exemplars[len(entries) + i] = x
                pm.seen = cycle
                if ts is not None:
                    for i in range(len(entries), len(entries) + len(vals)):
                        timestamps[i] = ts
                entries.extend(pm.entries)
                values.extend(vals)
        return ScrapeResult(entries, values, timestamps, exemplars, meta, native)

    def _pb_metric(
        self, name: bytes, type_: int, metric: bytes, family: _FamKey
    ) -> tuple[_PbMetric, list[float], int | None, dict[int, Exemplar], int]:
        """Decode one Metric with the full decoder: its entries, values, timestamp, exemplars."""
        msg = w.len_field(1, name) + w.varint_field(3, type_) + w.len_field(4, metric)
        [fam] = parse_protobuf(w.varint(len(msg)) + msg)
        cache = self._pb
        entries: list[SeriesEntry] = []
        vals: list[float] = []
        exemplars: dict[int, Exemplar] = {}
        ts: int | None = None
        native = 0
        for sample in fam.samples:
            if sample.histogram is not None:
                native += 1
                continue
            e = cache.get((sample.name, sample.labels))
            if e is None:
                labels = Labels.from_pairs_keep_empty(((METRIC_NAME, sample.name), *sample.labels))
                e = cache[(sample.name, sample.labels)] = SeriesEntry(labels, sample.name, family)
            if sample.exemplar is not None:
                exemplars[len(entries)] = sample.exemplar
            ts = sample.timestamp_ms
            entries.append(e)
            vals.append(sample.value)
        return _PbMetric(tuple(entries)), vals, ts, exemplars, native

    def _parse_pb_full(self, body: bytes) -> ScrapeResult:
        cache = self._pb
        entries: list[SeriesEntry] = []
        values: list[float] = []
        timestamps: dict[int, int] = {}
        exemplars: dict[int, Exemplar] = {}
        meta: dict[str, FamilyMetadata] = {}
        native = 0
        for fam in parse_protobuf(body):
            meta[fam.name] = FamilyMetadata(fam.type, fam.help, fam.unit)
            family = self._key(fam.name, fam.type)
            for sample in fam.samples:
                if sample.histogram is not None:
                    native += 1
                    continue
                key = (sample.name, sample.labels)
                e = cache.get(key)
                if e is None:
                    labels = Labels.from_pairs_keep_empty(
                        ((METRIC_NAME, sample.name), *sample.labels)
                    )
                    e = SeriesEntry(labels, sample.name, family)
                    cache[key] = e
                if sample.timestamp_ms is not None:
                    timestamps[len(entries)] = sample.timestamp_ms
                if sample.exemplar is not None:
                    exemplars[len(entries)] = sample.exemplar
                entries.append(e)
                values.append(sample.value)
        return ScrapeResult(entries, values, timestamps, exemplars, meta, native)


class _PbMetric:
    """One protobuf Metric's cached entries and the bucket bounds or quantiles they assume."""

    __slots__ = ("entries", "seen", "sig")

    def __init__(self, entries: tuple[SeriesEntry, ...]) -> None:
        self.entries = entries
        self.sig: tuple[float, ...] | None = None  # None: decode fully every time
        self.seen = 0


_PB_COUNTER, _PB_GAUGE, _PB_SUMMARY, _PB_UNTYPED, _PB_HISTOGRAM, _PB_GAUGE_HISTOGRAM = range(6)
_PB_TYPES = {
    _PB_COUNTER: MetricType.COUNTER,
    _PB_GAUGE: MetricType.GAUGE,
    _PB_SUMMARY: MetricType.SUMMARY,
    _PB_UNTYPED: MetricType.UNKNOWN,
    _PB_HISTOGRAM: MetricType.HISTOGRAM,
    _PB_GAUGE_HISTOGRAM: MetricType.GAUGEHISTOGRAM,
}
_PB_SINGLE_FIELD = {_PB_COUNTER: 3, _PB_GAUGE: 2, _PB_UNTYPED: 5}
_DOUBLE = struct.Struct("<d")
_INF = float("inf")


def _pb_values(
    buf: bytes, pos: int, end: int, type_: int
) -> tuple[list[float], int | None, tuple[float, ...]] | None:
    """The values of one Metric (after its labels) in the order the full decoder emits
    its samples, its timestamp, and its bucket bounds or quantiles; None for anything
    this quick reader leaves to the full decoder (labels out of place, native buckets)."""
    ts: int | None = None
    vals: list[float] | None = None
    sig: tuple[float, ...] = ()
    want = _PB_SINGLE_FIELD.get(type_)
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 6:
            ts = w.to_int64(w.as_int(wire, val, pos)) or None
        elif num == 1:
            return None
        elif want is not None and num == want:
            a, b = w.as_span(wire, val, pos)
            v = 0.0
            for n2, w2, v2 in w.iter_fields(buf, a, b):
                if n2 == 1:
                    v = w.as_double(buf, w2, v2, a)
            vals = [v]
        elif num == 4 and type_ == _PB_SUMMARY:
            vals, sig = _pb_summary(buf, *w.as_span(wire, val, pos))
        elif num == 7 and type_ in (_PB_HISTOGRAM, _PB_GAUGE_HISTOGRAM):
            got = _pb_histogram(buf, *w.as_span(wire, val, pos))
            if got is None:
                return None
            vals, sig = got
    if vals is None:
        return None
    return vals, ts, sig


def _pb_summary(buf: bytes, pos: int, end: int) -> tuple[list[float], tuple[float, ...]]:
    count, total, quantiles, _created = summary_fields(buf, pos, end)
    return [float(count), total, *(v for _, v in quantiles)], tuple(q for q, _ in quantiles)


def _pb_histogram(buf: bytes, pos: int, end: int) -> tuple[list[float], tuple[float, ...]] | None:
    count: float = 0
    count_float = 0.0
    total = 0.0
    uppers: list[float] = []
    cums: list[float] = []
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 3:
            a, b = w.as_span(wire, val, pos)
            cum: float = 0
            cum_float = 0.0
            upper = 0.0
            for n2, w2, v2 in w.iter_fields(buf, a, b):
                if n2 == 1:
                    cum = w.as_int(w2, v2, a)
                elif n2 == 2:
                    upper = w.as_double(buf, w2, v2, a)
                elif n2 == 4:
                    cum_float = w.as_double(buf, w2, v2, a)
            uppers.append(upper)
            cums.append(cum_float if cum_float > 0 else float(cum))
        elif num == 1:
            count = w.as_int(wire, val, pos)
        elif num == 2:
            total = w.as_double(buf, wire, val, pos)
        elif num == 4:
            count_float = w.as_double(buf, wire, val, pos)
        elif 5 <= num <= 14:
            return None  # native histogram fields: the full decoder decides
    if count_float > 0:
        count = count_float
    out = [float(count), total, *cums]
    if not uppers or uppers[-1] != _INF:
        out.append(float(count))
    return out, tuple(uppers)


_EXEMPLAR_RULES = (
    "exemplar labels are longer than",
    "duplicate label name in exemplar",
    "exemplars are only allowed on",
)


def _without_exemplars(text: str) -> str:
    """The body with every sample line's `` # {...} value [ts]`` exemplar cut off."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.startswith("#"):
            cut = line.find(" # {")
            if cut >= 0:
                lines[i] = line[:cut]
    return "\n".join(lines)


def _evict(cache: dict[Any, SeriesEntry], horizon: int) -> int:
    stale = [k for k, e in cache.items() if e.seen <= horizon]
    for k in stale:
        cache[k].ref = None
        del cache[k]
    return len(stale)


class _Revalidate(Exception):
    """The bulk value check saw something a per-line parse must judge."""


def _bulk_floats(vals: list[str]) -> list[float]:
    """Convert all values at C speed, after one pass proving Python's float() agrees with Go's."""
    if not _go_like(" ".join(vals)):
        raise _Revalidate
    try:
        return list(map(float, vals))
    except ValueError:
        raise _Revalidate from None


def _go_like(joined: str) -> bool:
    """Whether float() judges these blank-joined values as Go's ParseFloat would.

    float() also takes underscores, non-ASCII digits, surrounding whitespace and
    signed NaN; none of those can hide in text that is printable ASCII with
    no ``_`` and no ``+n``/``-n``.
    """
    return not (
        not joined.isascii()
        or not joined.isprintable()
        or "_" in joined
        or "+n" in joined
        or "-n" in joined
        or "+N" in joined
        or "-N" in joined
    )


_Pick = Callable[[list[str]], Sequence[str]]
_first = itemgetter(0)


def _picker(positions: list[int]) -> _Pick:
    """The lines at ``positions``, as a tuple, with one C-level call."""
    if len(positions) == 1:
        only = positions[0]
        return lambda lines: (lines[only],)
    return cast(_Pick, itemgetter(*positions))


class _TextMemo:
    """The previous body's layout, so a body that differs only in its values costs no lookups.

    Built after a scrape in which every sample line was a cached line without a
    timestamp. It keeps where the sample lines are, the text each starts with
    (its series text and the space before the value) and its entry, and the
    other lines (comments, blanks) verbatim. A body with as many lines, the
    same other lines, and sample lines that start with the same texts and have
    no further space, is line for line what the cached loop would see: the same
    lookups giving the same entries in the same order after the same comments,
    so the same family checks passing and the same metadata. Only the values
    are new, and they get the same bulk check. Replaying is a few C-level
    passes over the lines: ``startswith``, a slice each, ``float``.

    The proof needs the cache unchanged since the memo was built: a parse that
    does not replay the memo drops it before touching the cache, and so does an
    eviction from the text cache.

    Replays mark their entries seen lazily: ``seen`` is the last cycle the memo
    was replayed in, given to the entries when the memo is dropped or before
    the cache is swept. While every cached line is one of the memo's
    (``covers``) and the memo was replayed within ``max_age`` cycles, nothing
    can be stale and the sweep is skipped.
    """

    __slots__ = (
        "clines",
        "covers",
        "cpick",
        "entries",
        "meta",
        "n",
        "pick",
        "prefixes",
        "seen",
        "seen_once",
    )

    def __init__(self) -> None:
        self.n = 0
        self.cpick: _Pick | None = None
        self.clines: Sequence[str] = ()
        self.pick: _Pick | None = None
        self.prefixes: list[str] = []
        self.entries: tuple[SeriesEntry, ...] = ()
        self.meta: dict[str, FamilyMetadata] = {}
        self.covers = False
        self.seen = 0
        self.seen_once = False  # replayed at least once

    def mark_seen(self) -> None:
        if self.seen:
            seen = self.seen
            for e in self.entries:
                e.seen = seen
            self.seen = 0

    @classmethod
    def build(
        cls, lines: list[str], result: ScrapeResult, cpos: list[int], cached: int
    ) -> _TextMemo | None:
        """The memo of a plain cached parse of ``lines`` (``cpos``: its comments and blanks).

        In such a parse every other line was a cache hit, and nothing changed the
        cache, so each sample line's text before its last space is the key of
        its entry, in order. ``cached`` is the size of the cache.
        """
        entries = result.entries
        n = len(entries)
        if not n or result.timestamps or len(lines) - len(cpos) != n:
            return None
        if cpos:
            cset = set(cpos)
            spos = [i for i in range(len(lines)) if i not in cset]
            samples: Sequence[str] = _picker(spos)(lines)
        else:
            spos, samples = [], lines
        prefixes = list(
            map(add, map(_first, map(str.rpartition, samples, repeat(" "))), repeat(" "))
        )
        memo = cls()
        memo.n = len(lines)
        if cpos:
            memo.cpick = _picker(cpos)
            memo.clines = memo.cpick(lines)
            memo.pick = _picker(spos)
        memo.prefixes = prefixes
        memo.entries = tuple(entries)
        memo.meta = dict(result.metadata)
        memo.covers = cached <= n and len(set(prefixes)) == cached
        return memo

    def replay(self, lines: list[str]) -> ScrapeResult | None:
        """This body's result if it has the memo's layout and plain values, else None."""
        if len(lines) != self.n:
            return None
        if self.cpick is not None and self.cpick(lines) != self.clines:
            return None
        samples = lines if self.pick is None else self.pick(lines)
        if not all(map(str.startswith, samples, self.prefixes)):
            return None
        vals = list(map(str.removeprefix, samples, self.prefixes))
        joined = " ".join(vals)
        if joined.count(" ") != len(vals) - 1 or not _go_like(joined):
            return None  # the cached loop decides (a timestamp, an odd value)
        try:
            values = list(map(float, vals))
        except ValueError:
            return None
        return ScrapeResult(list(self.entries), values, {}, {}, dict(self.meta))
