"""OpenMetrics 1.0 text format: strict parsing with every rule of the spec.

Line rules: ``# HELP``/``# TYPE``/``# UNIT`` metadata before a family's samples
(each at most once), no other ``#`` lines, no blank lines, single spaces,
no trailing comma in label sets, a mandatory ``# EOF`` with nothing after it
(its final newline is optional). Timestamps are seconds (real numbers) and are
returned as integer milliseconds.

Family rules: a sample belongs to the current family only if its name is one
the family's type allows (counter: ``_total``/``_created``; histogram:
``_bucket``/``_count``/``_sum``/``_created``; gaugehistogram:
``_bucket``/``_gcount``/``_gsum``; summary: the name, ``_count``, ``_sum``,
``_created``; info: ``_info``; others: the name), otherwise it starts a new
``unknown`` family. The names a family can produce may not clash with another
family's. Within a family, metrics (label sets without ``le``/``quantile``/the
stateset label) may not interleave, timestamps are all present or all absent
and never go backwards.

Value rules: counter-like samples (``_total``, ``_sum``, ``_count``,
``_bucket``, ``_gcount``, ``_gsum``) are never NaN and (except ``_gsum``) never
negative; bucket and count values are integers; buckets have ascending ``le``
(canonical ``+Inf``), non-decreasing counts, a ``+Inf`` bucket equal to
``_count``; ``_sum`` needs ``_count`` and vice versa and is not allowed with
negative buckets; a negative ``_gsum`` needs negative buckets; quantiles are in
[0, 1] with non-negative values; stateset values are 0 or 1 and carry the
family's label; info values are 1; units end the name and are not allowed on
info/stateset. Exemplars (at most 128 characters of label names and values)
only on histogram/gaugehistogram buckets and counter ``_total`` samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

from promethean.model._textlex import (
    FAST_OM,
    FLOAT_FULL,
    NAME_FULL,
    decode,
    fast_pairs,
    parse_float,
    scan_sample,
    seconds_to_ms,
    unescape,
)
from promethean.model.errors import ParseError
from promethean.model.exposition import Exemplar, MetricFamily, MetricType, Sample
from promethean.model.labels import Labels

__all__ = ["parse_openmetrics"]

_TYPES = {t.value: t for t in MetricType}
_SUFFIXES: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("_total", "_created"),
    MetricType.SUMMARY: ("", "_count", "_sum", "_created"),
    MetricType.HISTOGRAM: ("_count", "_sum", "_bucket", "_created"),
    MetricType.GAUGEHISTOGRAM: ("_gcount", "_gsum", "_bucket"),
    MetricType.INFO: ("_info",),
}
_COUNTERLIKE_NAN = frozenset(("_total", "_sum", "_count", "_bucket", "_gcount", "_gsum"))
_COUNTERLIKE_NEG = frozenset(("_total", "_sum", "_count", "_bucket", "_gcount"))
_HISTOGRAMS = (MetricType.HISTOGRAM, MetricType.GAUGEHISTOGRAM)
_MAX_EXEMPLAR_CHARS = 128
_INF = math.inf


def parse_openmetrics(data: str | bytes) -> list[MetricFamily]:
    """Parse an OpenMetrics 1.0 text body; every family, including metadata-only ones."""
    parser = OMParser()
    for _lineno, _sample, _series in parser.samples(decode(data)):
        pass
    return parser.families


@dataclass(slots=True)
class _Family:
    """One family being read, with the state its cross-line rules need."""

    fam: MetricFamily
    lineno: int
    allowed: tuple[str, ...]
    typed: bool = False
    has_samples: bool = False
    group: tuple[tuple[str, str], ...] | None = None
    group_ts: float | None = None
    seen_groups: set[tuple[tuple[str, str], ...]] = field(default_factory=set)
    # histogram rows: (lineno, suffix, group, secs, le, value)
    rows: list[tuple[int, str, object, float | None, float, float]] = field(default_factory=list)


class OMParser:
    """Line-by-line OpenMetrics reader; :meth:`samples` yields each sample as it is accepted.

    The scrape path iterates it to get the raw series text of every sample
    line for its cache; :func:`parse_openmetrics` just drains it.
    """

    __slots__ = ("claimed", "cur", "families")

    def __init__(self) -> None:
        self.families: list[MetricFamily] = []
        self.claimed: set[str] = set()
        self.cur: _Family | None = None

    def samples(self, text: str) -> Iterator[tuple[int, Sample, str]]:
        """Yield (line number, sample, raw series text) for each accepted sample line."""
        lines = text.split("\n")
        if len(lines) > 1 and lines[-1] == "":
            lines.pop()
        eof = False
        for lineno, line in enumerate(lines, 1):
            if eof:
                raise ParseError("unexpected text after '# EOF'", lineno, 1)
            if not line:
                if lineno == len(lines):
                    break
                raise ParseError("blank lines are not allowed", lineno, 1)
            if line[0] == "#":
                if line == "# EOF":
                    eof = True
                else:
                    self.metadata(line, lineno)
                continue
            sample, end = self.sample(line, lineno)
            yield lineno, sample, line[:end]
        if not eof:
            raise ParseError("missing '# EOF' at end of input", len(lines) + 1, 1)
        self._finish()

    # -- families -------------------------------------------------------------

    def _start(self, name: str, lineno: int, col: int) -> _Family:
        self._finish()
        if name in self.claimed:
            raise ParseError(f"clashing name: metric family {name!r} seen before", lineno, col)
        fam = MetricFamily(name)
        self.families.append(fam)
        self.cur = _Family(fam, lineno, (name,))
        return self.cur

    def _finish(self) -> None:
        cur = self.cur
        if cur is None:
            return
        self.cur = None
        fam = cur.fam
        for suffix in dict.fromkeys((*_SUFFIXES.get(fam.type, ()), "")):
            full = fam.name + suffix
            if full in self.claimed:
                raise ParseError(f"clashing name: {full!r} seen before", cur.lineno, 1)
            self.claimed.add(full)
        if fam.unit:
            if fam.type in (MetricType.INFO, MetricType.STATESET):
                raise ParseError(
                    f"units are not allowed for {fam.type.value} metric {fam.name!r}",
                    cur.lineno,
                    1,
                )
            if not fam.name.endswith("_" + fam.unit):
                raise ParseError(
                    f"unit {fam.unit!r} is not a suffix of metric name {fam.name!r}",
                    cur.lineno,
                    1,
                )
        if fam.type in _HISTOGRAMS:
            _check_histogram(cur)

    def metadata(self, line: str, lineno: int) -> None:
        if not line.startswith("# "):
            raise ParseError("expected '# HELP', '# TYPE', '# UNIT' or '# EOF'", lineno, 1)
        kw, sep, _ = line[2:].partition(" ")
        if kw not in ("HELP", "TYPE", "UNIT") or not sep:
            raise ParseError(
                f"expected HELP, TYPE, UNIT or EOF after '# ', got {line[2:]!r}", lineno, 3
            )
        p = 3 + len(kw)
        name_col = p + 1
        if line[p : p + 1] == '"':
            end = _closing_quote(line, p)
            if end < 0:
                raise ParseError("unterminated quoted metric name", lineno, name_col)
            name = unescape(line[p + 1 : end])
            p = end + 1
        else:
            m = NAME_FULL.match(line, p)
            if m is None:
                raise ParseError("expected metric name", lineno, name_col)
            name = m.group(0)
            p = m.end()
        if line[p : p + 1] != " ":
            raise ParseError(f"expected ' ' after metric name in {kw}", lineno, p + 1)
        rest = line[p + 1 :]
        cur = self.cur
        if cur is None or cur.fam.name != name:
            cur = self._start(name, lineno, name_col)
        elif cur.has_samples:
            raise ParseError(f"{kw} for {name!r} after its samples", lineno, 3)
        fam = cur.fam
        if kw == "HELP":
            if fam.help is not None:
                raise ParseError(f"second HELP line for metric {name!r}", lineno, 3)
            fam.help = unescape(rest)
        elif kw == "TYPE":
            if cur.typed:
                raise ParseError(f"second TYPE line for metric {name!r}", lineno, 3)
            typ = _TYPES.get(rest)
            if typ is None:
                raise ParseError(f"invalid metric type {rest!r}", lineno, p + 2)
            fam.type = typ
            cur.typed = True
            cur.allowed = tuple(name + s for s in _SUFFIXES.get(typ, ("",)))
        else:
            if fam.unit is not None:
                raise ParseError(f"second UNIT line for metric {name!r}", lineno, 3)
            fam.unit = rest

    # -- samples --------------------------------------------------------------

    def sample(self, line: str, lineno: int) -> tuple[Sample, int]:
        """Accept one sample line; returns the sample and where its series text ends."""
        m = FAST_OM.fullmatch(line)
        ts_secs: float | None = None
        exemplar: Exemplar | None = None
        if m is not None:
            name, lab, val, ts = m.groups()
            pairs = fast_pairs(lab[1:-1]) if lab is not None and len(lab) > 2 else []
            if len(pairs) > 1 and len(dict(pairs)) != len(pairs):
                scan_sample(line, lineno, om=True)  # raises at the duplicate
            value = float(val)
            ts_ms = None
            if ts is not None:
                ts_secs, ts_ms = seconds_to_ms(ts, lineno, m.start(4) + 1)
            series_end = m.end(2) if lab is not None else m.end(1)
            cols: dict[str, int] | None = None
        else:
            raw = scan_sample(line, lineno, om=True)
            name, pairs, series_end, cols = raw.name, raw.pairs, raw.series_end, raw.label_cols
            value = _om_number(raw.value, lineno, raw.value_col, "value")
            ts_ms = None
            if raw.ts is not None:
                ts_secs, ts_ms = seconds_to_ms(raw.ts, lineno, raw.ts_col)
            if raw.exemplar is not None:
                exemplar = _exemplar(raw.exemplar, lineno)
        if any(k == "__name__" for k, _ in pairs):
            raise ParseError('label name "__name__" is reserved', lineno, 1)
        cur = self.cur
        if cur is None or name not in cur.allowed:
            cur = self._start(name, lineno, 1)
            cur.fam.type = MetricType.UNKNOWN
        cur.has_samples = True
        self._check_sample(cur, name, pairs, value, ts_secs, exemplar, line, lineno, cols)
        sample = Sample(name, Labels.from_pairs_keep_empty(pairs), value, ts_ms, exemplar)
        cur.fam.samples.append(sample)
        return sample, series_end

    def _check_sample(
        self,
        cur: _Family,
        name: str,
        pairs: list[tuple[str, str]],
        value: float,
        ts: float | None,
        exemplar: Exemplar | None,
        line: str,
        lineno: int,
        cols: dict[str, int] | None,
    ) -> None:
        fam = cur.fam
        typ = fam.type
        suffix = name[len(fam.name) :]
        labels = dict(pairs)

        def fail(msg: str, label: str | None = None) -> ParseError:
            col = 1
            if label is not None:
                col = (cols or {}).get(label) or (line.find(label + '="') + len(label) + 3)
            return ParseError(f"{msg}: {line!r}", lineno, col)

        group: tuple[tuple[str, str], ...]
        le = 0.0
        if typ is MetricType.STATESET:
            if fam.name not in labels:
                raise fail(f"stateset sample is missing its label {fam.name!r}")
            group = tuple(sorted(p for p in pairs if p[0] != fam.name))
            if value != 0 and value != 1:
                raise fail("stateset samples can only have values 0 and 1")
        elif typ is MetricType.INFO:
            group = ()
            if value != 1:
                raise fail("info samples can only have value 1")
        elif suffix == "_bucket" and typ in _HISTOGRAMS:
            le_text = labels.get("le")
            if le_text is None:
                raise fail("bucket sample is missing the 'le' label")
            if FLOAT_FULL.fullmatch(le_text) is None or le_text.lower() == "nan":
                raise fail(f"invalid 'le' label value {le_text!r}", "le")
            le = float(le_text)
            if le == _INF and le_text != "+Inf":
                raise fail(f"'le' label {le_text!r} must be written '+Inf'", "le")
            if not math.isfinite(value) or not value.is_integer():
                raise fail("bucket value must be an integer")
            group = tuple(sorted(p for p in pairs if p[0] != "le"))
        elif typ is MetricType.SUMMARY and suffix == "":
            q_text = labels.get("quantile")
            if q_text is None:
                raise fail("summary sample is missing the 'quantile' label")
            if FLOAT_FULL.fullmatch(q_text) is None or not 0 <= float(q_text) <= 1:
                raise fail(f"invalid 'quantile' label value {q_text!r}", "quantile")
            if value < 0:
                raise fail("quantile values cannot be negative")
            group = tuple(sorted(p for p in pairs if p[0] != "quantile"))
        else:
            group = tuple(sorted(pairs))
        if suffix in ("_count", "_gcount") and (not math.isfinite(value) or not value.is_integer()):
            raise fail("count value must be an integer")
        if suffix in _COUNTERLIKE_NAN and math.isnan(value):
            raise fail("counter-like samples cannot be NaN")
        if suffix in _COUNTERLIKE_NEG and value < 0:
            raise fail("counter-like samples cannot be negative")
        if exemplar is not None and not (
            (typ in _HISTOGRAMS and suffix == "_bucket")
            or (typ is MetricType.COUNTER and suffix == "_total")
        ):
            raise fail("exemplars are only allowed on histogram buckets and counter _total")
        if cur.group is not None and group == cur.group:
            if (ts is None) != (cur.group_ts is None):
                raise fail("mix of timestamp presence within a metric")
            if (
                ts is not None
                and cur.group_ts is not None
                and ts < cur.group_ts
                and typ is not MetricType.INFO
            ):
                raise fail("timestamps went backwards within a metric")
        elif group in cur.seen_groups:
            raise fail("invalid metric grouping: metric seen before in this family")
        cur.group = group
        cur.group_ts = ts
        cur.seen_groups.add(group)
        if typ in _HISTOGRAMS and suffix:
            cur.rows.append((lineno, suffix, group, ts, le, value))


def _closing_quote(line: str, start: int) -> int:
    p = start + 1
    n = len(line)
    while p < n:
        c = line[p]
        if c == '"':
            return p
        p += 2 if c == "\\" else 1
    return -1


def _om_number(tok: str, lineno: int, col: int, what: str) -> float:
    if FLOAT_FULL.fullmatch(tok) is None:
        raise ParseError(f"invalid {what} {tok!r}", lineno, col)
    return float(tok)


def _exemplar(
    raw: tuple[list[tuple[str, str]], str, int, str | None, int], lineno: int
) -> Exemplar:
    pairs, value, vcol, ts, tcol = raw
    if len(dict(pairs)) != len(pairs):
        raise ParseError("duplicate label name in exemplar", lineno, 1)
    if sum(len(k) + len(v) for k, v in pairs) > _MAX_EXEMPLAR_CHARS:
        raise ParseError(
            f"exemplar labels are longer than {_MAX_EXEMPLAR_CHARS} characters", lineno, 1
        )
    ts_ms = None if ts is None else seconds_to_ms(ts, lineno, tcol)[1]
    return Exemplar(
        Labels.from_pairs_keep_empty(pairs),
        parse_float(value, lineno, vcol, "exemplar value"),
        ts_ms,
    )


def _check_histogram(cur: _Family) -> None:
    """Bucket rules per metric and timestamp, once the family's samples are all read."""
    name = cur.fam.name
    rows = cur.rows
    i = 0
    while i < len(rows):
        j = i
        key = (rows[i][2], rows[i][3])
        while j < len(rows) and (rows[j][2], rows[j][3]) == key:
            j += 1
        _check_run(name, rows[i:j])
        i = j


def _check_run(name: str, run: list[tuple[int, str, object, float | None, float, float]]) -> None:
    lineno = run[-1][0]
    bucket: float | None = None
    last = 0.0
    count: float | None = None
    has_sum = has_gsum = neg_buckets = neg_gsum = False
    for row_line, suffix, _g, _ts, le, value in run:
        if suffix == "_bucket":
            if le < 0:
                neg_buckets = True
            if bucket is not None and le <= bucket:
                raise ParseError(f"histogram {name!r}: buckets out of order", row_line, 1)
            if value < last:
                raise ParseError(
                    f"histogram {name!r}: bucket counts must not decrease", row_line, 1
                )
            bucket, last = le, value
        elif suffix in ("_count", "_gcount"):
            count = value
        elif suffix == "_sum":
            has_sum = True
        elif suffix == "_gsum":
            has_gsum = True
            neg_gsum = neg_gsum or value < 0
    if bucket != _INF:
        raise ParseError(f"histogram {name!r}: +Inf bucket missing", lineno, 1)
    if count is not None and count != last:
        raise ParseError(f"histogram {name!r}: count does not match +Inf bucket", lineno, 1)
    if (has_sum or has_gsum) and count is None:
        raise ParseError(f"histogram {name!r}: _sum/_gsum without _count/_gcount", lineno, 1)
    if count is not None and not (has_sum or has_gsum):
        raise ParseError(f"histogram {name!r}: _count/_gcount without _sum/_gsum", lineno, 1)
    if neg_buckets and has_sum:
        raise ParseError(
            f"histogram {name!r}: _sum is not allowed with negative buckets", lineno, 1
        )
    if neg_gsum and not neg_buckets:
        raise ParseError(f"histogram {name!r}: negative _gsum needs negative buckets", lineno, 1)
