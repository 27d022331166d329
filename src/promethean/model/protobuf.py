"""The Prometheus protobuf exposition format (delimited ``MetricFamily`` messages).

Wire format: a stream of ``io.prometheus.client.MetricFamily`` messages (from
client_model's ``metrics.proto``), each preceded by its length as a varint.
This is what ``Content-Type: application/vnd.google.protobuf;
proto=io.prometheus.client.MetricFamily; encoding=delimited`` carries, and the
only exposition format that can carry native histograms.

Conversion follows Prometheus's own protobuf scrape parser, so a series looks
the same whichever format the target chose:

* counters, gauges and untyped metrics give one sample named like the family;
* a summary gives ``<name>_count``, ``<name>_sum`` and one ``<name>`` sample per
  quantile with a ``quantile`` label;
* a classic histogram gives ``<name>_count``, ``<name>_sum`` and one
  ``<name>_bucket`` sample per bucket with an ``le`` label, plus a ``+Inf``
  bucket (holding the count) when the message has none;
* ``le`` and ``quantile`` values are formatted as Prometheus 3 does (``0.005``,
  ``1.0``, ``+Inf``, ``1e+06``);
* a native histogram gives one sample named like the family whose
  ``histogram`` is a :class:`~promethean.model.histogram.NativeHistogram` and
  whose ``value`` is the observation count. A message with both native and
  classic buckets gives both; the consumer picks, as the spec allows.

Created timestamps are dropped unless ``created_samples=True``, which adds
OpenMetrics-style ``<name>_created`` samples (seconds since the epoch);
:func:`write_protobuf` turns such samples back into ``created_timestamp``.
Every malformed input raises :class:`~promethean.model.errors.ParseError`
naming the byte offset, never anything else.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

from promethean.model import _pbwire as w
from promethean.model.errors import ParseError
from promethean.model.exposition import Exemplar, MetricFamily, MetricType, Sample
from promethean.model.histogram import NativeHistogram, Span
from promethean.model.labels import Labels

__all__ = ["CONTENT_TYPE", "parse_protobuf", "write_protobuf"]

CONTENT_TYPE = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)

# client_model MetricType enum values.
_PB_COUNTER, _PB_GAUGE, _PB_SUMMARY, _PB_UNTYPED, _PB_HISTOGRAM, _PB_GAUGE_HISTOGRAM = range(6)
_FROM_PB = {
    _PB_COUNTER: MetricType.COUNTER,
    _PB_GAUGE: MetricType.GAUGE,
    _PB_SUMMARY: MetricType.SUMMARY,
    _PB_UNTYPED: MetricType.UNKNOWN,
    _PB_HISTOGRAM: MetricType.HISTOGRAM,
    _PB_GAUGE_HISTOGRAM: MetricType.GAUGEHISTOGRAM,
}
_TO_PB = {
    MetricType.COUNTER: _PB_COUNTER,
    MetricType.GAUGE: _PB_GAUGE,
    MetricType.SUMMARY: _PB_SUMMARY,
    MetricType.UNKNOWN: _PB_UNTYPED,
    MetricType.HISTOGRAM: _PB_HISTOGRAM,
    MetricType.GAUGEHISTOGRAM: _PB_GAUGE_HISTOGRAM,
    MetricType.INFO: _PB_GAUGE,
    MetricType.STATESET: _PB_GAUGE,
}
_UINT64_MAX = (1 << 64) - 1


def parse_protobuf(data: bytes, *, created_samples: bool = False) -> list[MetricFamily]:
    """Decode a delimited stream of MetricFamily messages into our model."""
    buf = bytes(data)
    end = len(buf)
    families: list[MetricFamily] = []
    pos = 0
    try:
        while pos < end:
            start = pos
            length, pos = w.read_varint(buf, pos, end)
            if length > end - pos:
                raise w.WireError(
                    f"message length {length} exceeds the {end - pos} bytes left", start
                )
            families.append(_family(buf, pos, pos + length, created_samples))
            pos += length
    except w.WireError as exc:
        raise ParseError(f"protobuf: {exc.message} at byte {exc.offset}") from None
    except (ValueError, OverflowError, struct.error, IndexError) as exc:
        # Defensive: nothing above should raise these, but a user must never see a trace.
        raise ParseError(f"protobuf: malformed data near byte {pos}: {exc}") from None
    return families


# --- decoding ----------------------------------------------------------------


def _family(buf: bytes, pos: int, end: int, created: bool) -> MetricFamily:
    name = ""
    help_text: str | None = None
    unit: str | None = None
    type_ = _PB_COUNTER  # the proto default
    metrics: list[tuple[int, int]] = []
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            name = w.as_str(buf, wire, val, pos)
        elif num == 2:
            help_text = w.as_str(buf, wire, val, pos)
        elif num == 3:
            type_ = w.as_int(wire, val, pos)
        elif num == 4:
            metrics.append(w.as_span(wire, val, pos))
        elif num == 5:
            unit = w.as_str(buf, wire, val, pos) or None
    if not name:
        raise w.WireError("metric family without a name", pos)
    mtype = _FROM_PB.get(type_)
    if mtype is None:
        raise w.WireError(f"metric family {name!r}: unknown metric type {type_}", pos)
    fam = MetricFamily(name=name, type=mtype, help=help_text, unit=unit)
    for s, e in metrics:
        _metric(buf, s, e, fam, type_, created)
    return fam


def _label_pair(buf: bytes, pos: int, end: int) -> tuple[str, str]:
    # Fast path for the usual encoding: name then value, each shorter than 128 bytes.
    if end - pos >= 4 and buf[pos] == 0x0A:
        n = buf[pos + 1]
        v_at = pos + 2 + n
        if n < 0x80 and v_at + 2 <= end and buf[v_at] == 0x12:
            m = buf[v_at + 1]
            if m < 0x80 and v_at + 2 + m == end:
                try:
                    return (
                        buf[pos + 2 : v_at].decode("utf-8"),
                        buf[v_at + 2 : end].decode("utf-8"),
                    )
                except UnicodeDecodeError:
                    pass  # the general path below reports where
    name = value = ""
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            name = w.as_str(buf, wire, val, pos)
        elif num == 2:
            value = w.as_str(buf, wire, val, pos)
    return name, value


def _labels(buf: bytes, spans: list[tuple[int, int]], where: str, at: int) -> Labels:
    pairs = [_label_pair(buf, s, e) for s, e in spans]
    names = {n for n, _ in pairs}
    if len(names) != len(pairs):
        dup = next(n for n in names if sum(1 for m, _ in pairs if m == n) > 1)
        raise w.WireError(f"{where}: duplicate label name {dup!r}", at)
    if "" in names:
        raise w.WireError(f"{where}: empty label name", at)
    return Labels.from_pairs_keep_empty(pairs)


def _timestamp_ms(buf: bytes, pos: int, end: int) -> int:
    seconds = nanos = 0
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            seconds = w.to_int64(w.as_int(wire, val, pos))
        elif num == 2:
            nanos = w.to_int64(w.as_int(wire, val, pos))
    return seconds * 1000 + nanos // 1_000_000


def _exemplar(buf: bytes, pos: int, end: int, where: str) -> Exemplar:
    label_spans: list[tuple[int, int]] = []
    value = 0.0
    ts: int | None = None
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            label_spans.append(w.as_span(wire, val, pos))
        elif num == 2:
            value = w.as_double(buf, wire, val, pos)
        elif num == 3:
            s, e = w.as_span(wire, val, pos)
            ts = _timestamp_ms(buf, s, e)
    return Exemplar(_labels(buf, label_spans, f"{where} exemplar", pos), value, ts)


def _single_value(buf: bytes, pos: int, end: int) -> tuple[float, Exemplar | None, int | None]:
    """Gauge, Counter or Untyped: (value, exemplar, created ms)."""
    value = 0.0
    exemplar: Exemplar | None = None
    created: int | None = None
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            value = w.as_double(buf, wire, val, pos)
        elif num == 2:
            s, e = w.as_span(wire, val, pos)
            exemplar = _exemplar(buf, s, e, "counter")
        elif num == 3:
            s, e = w.as_span(wire, val, pos)
            created = _timestamp_ms(buf, s, e)
    return value, exemplar, created


def _metric(buf: bytes, pos: int, end: int, fam: MetricFamily, type_: int, created: bool) -> None:
    label_spans: list[tuple[int, int]] = []
    parts: dict[int, tuple[int, int]] = {}
    ts: int | None = None
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            label_spans.append(w.as_span(wire, val, pos))
        elif num in (2, 3, 4, 5, 7):
            parts[num] = w.as_span(wire, val, pos)
        elif num == 6:
            ts = w.to_int64(w.as_int(wire, val, pos)) or None
    labels = _labels(buf, label_spans, f"metric {fam.name!r}", pos)
    name = fam.name
    out = fam.samples
    if type_ in (_PB_COUNTER, _PB_GAUGE, _PB_UNTYPED):
        field = {_PB_COUNTER: 3, _PB_GAUGE: 2, _PB_UNTYPED: 5}[type_]
        s, e = parts.get(field, (0, 0))
        value, exemplar, ct = _single_value(buf, s, e)
        out.append(Sample(name, labels, value, ts, exemplar))
        if created and ct is not None:
            out.append(Sample(_created_name(name), labels, ct / 1000, ts))
    elif type_ == _PB_SUMMARY:
        s, e = parts.get(4, (0, 0))
        _summary(buf, s, e, name, labels, ts, out, created)
    else:
        s, e = parts.get(7, (0, 0))
        _histogram(buf, s, e, name, labels, ts, out, created, type_ == _PB_GAUGE_HISTOGRAM)


def _created_name(name: str) -> str:
    return (name[: -len("_total")] if name.endswith("_total") else name) + "_created"


def summary_fields(
    buf: bytes, pos: int, end: int
) -> tuple[int, float, list[tuple[float, float]], int | None]:
    """A Summary message's sample_count, sample_sum, (quantile, value) pairs and created
    timestamp (ms); shared with the scrape cache's protobuf walk."""
    count = 0
    total = 0.0
    quantiles: list[tuple[float, float]] = []
    ct: int | None = None
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            count = w.as_int(wire, val, pos)
        elif num == 2:
            total = w.as_double(buf, wire, val, pos)
        elif num == 3:
            qs, qe = w.as_span(wire, val, pos)
            q = v = 0.0
            for qn, qw, qv in w.iter_fields(buf, qs, qe):
                if qn == 1:
                    q = w.as_double(buf, qw, qv, qs)
                elif qn == 2:
                    v = w.as_double(buf, qw, qv, qs)
            quantiles.append((q, v))
        elif num == 4:
            s, e = w.as_span(wire, val, pos)
            ct = _timestamp_ms(buf, s, e)
    return count, total, quantiles, ct


def _summary(
    buf: bytes,
    pos: int,
    end: int,
    name: str,
    labels: Labels,
    ts: int | None,
    out: list[Sample],
    created: bool,
) -> None:
    count, total, quantiles, ct = summary_fields(buf, pos, end)
    out.append(Sample(name + "_count", labels, float(count), ts))
    out.append(Sample(name + "_sum", labels, total, ts))
    for q, v in quantiles:
        out.append(Sample(name, _with(labels, "quantile", format_label_float(q)), v, ts))
    if created and ct is not None:
        out.append(Sample(name + "_created", labels, ct / 1000, ts))


def _with(labels: Labels, name: str, value: str) -> Labels:
    return Labels.from_pairs_keep_empty((*labels, (name, value)))


def _spans(buf: bytes, values: list[tuple[int, int]]) -> tuple[Span, ...]:
    spans: list[Span] = []
    for s, e in values:
        offset = length = 0
        for num, wire, val in w.iter_fields(buf, s, e):
            if num == 1:
                offset = w.zigzag_decode(w.as_int(wire, val, s))
            elif num == 2:
                length = w.as_int(wire, val, s)
                if length >> 32:
                    raise w.WireError("span length overflows uint32", s)
        spans.append(Span(offset, length))
    return tuple(spans)


def _histogram(
    buf: bytes,
    pos: int,
    end: int,
    name: str,
    labels: Labels,
    ts: int | None,
    out: list[Sample],
    created: bool,
    gauge: bool,
) -> None:
    count: float = 0
    count_float = 0.0
    total = 0.0
    buckets: list[tuple[float, float, Exemplar | None]] = []
    ct: int | None = None
    schema = 0
    zero_threshold = 0.0
    zero_count: float = 0
    zero_count_float = 0.0
    spans: dict[int, list[tuple[int, int]]] = {9: [], 12: []}
    deltas: dict[int, list[int]] = {10: [], 13: []}
    counts: dict[int, list[float]] = {11: [], 14: []}
    exemplars: list[Exemplar] = []
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            count = w.as_int(wire, val, pos)
        elif num == 2:
            total = w.as_double(buf, wire, val, pos)
        elif num == 3:
            s, e = w.as_span(wire, val, pos)
            buckets.append(_classic_bucket(buf, s, e))
        elif num == 4:
            count_float = w.as_double(buf, wire, val, pos)
        elif num == 5:
            schema = w.zigzag_decode(w.as_int(wire, val, pos))
        elif num == 6:
            zero_threshold = w.as_double(buf, wire, val, pos)
        elif num == 7:
            zero_count = w.as_int(wire, val, pos)
        elif num == 8:
            zero_count_float = w.as_double(buf, wire, val, pos)
        elif num in (9, 12):
            spans[num].append(w.as_span(wire, val, pos))
        elif num in (10, 13):
            ints = w.packed_or_single(buf, wire, val, pos, double=False)
            deltas[num].extend(w.zigzag_decode(int(v)) for v in ints)
        elif num in (11, 14):
            counts[num].extend(
                float(v) for v in w.packed_or_single(buf, wire, val, pos, double=True)
            )
        elif num == 15:
            s, e = w.as_span(wire, val, pos)
            ct = _timestamp_ms(buf, s, e)
        elif num == 16:
            s, e = w.as_span(wire, val, pos)
            exemplars.append(_exemplar(buf, s, e, "histogram"))
    if count_float > 0:
        count = count_float
    is_native = bool(spans[9] or spans[12]) or zero_threshold > 0 or zero_count > 0
    is_native = is_native or zero_count_float > 0
    if is_native:
        is_float = count_float > 0 or zero_count_float > 0 or bool(counts[11] or counts[14])
        pos_spans = _spans(buf, spans[12])
        if pos_spans == (Span(0, 0),):
            pos_spans = ()
        hist = NativeHistogram(
            schema=schema,
            zero_threshold=zero_threshold,
            zero_count=zero_count_float if zero_count_float > 0 else float(zero_count),
            count=float(count),
            sum=total,
            positive_spans=pos_spans,
            positive_buckets=_absolute(deltas[13], counts[14]),
            negative_spans=_spans(buf, spans[9]),
            negative_buckets=_absolute(deltas[10], counts[11]),
            is_gauge=gauge,
            is_float=is_float,
            exemplars=tuple(exemplars),
        )
        problem = hist.validate()
        if problem:
            raise w.WireError(f"histogram {name!r}: {problem}", pos)
        out.append(Sample(name, labels, hist.count, ts, exemplars[0] if exemplars else None, hist))
        if not buckets:
            if created and ct is not None:
                out.append(Sample(name + "_created", labels, ct / 1000, ts))
            return
    out.append(Sample(name + "_count", labels, float(count), ts))
    out.append(Sample(name + "_sum", labels, total, ts))
    bucket_name = name + "_bucket"
    for upper, cum, exemplar in buckets:
        le = _with(labels, "le", format_label_float(upper))
        out.append(Sample(bucket_name, le, cum, ts, exemplar))
    if not buckets or buckets[-1][0] != math.inf:
        out.append(Sample(bucket_name, _with(labels, "le", "+Inf"), float(count), ts))
    if created and ct is not None:
        out.append(Sample(name + "_created", labels, ct / 1000, ts))


def _classic_bucket(buf: bytes, pos: int, end: int) -> tuple[float, float, Exemplar | None]:
    cum: float = 0
    cum_float = 0.0
    upper = 0.0
    exemplar: Exemplar | None = None
    for num, wire, val in w.iter_fields(buf, pos, end):
        if num == 1:
            cum = w.as_int(wire, val, pos)
        elif num == 2:
            upper = w.as_double(buf, wire, val, pos)
        elif num == 3:
            s, e = w.as_span(wire, val, pos)
            exemplar = _exemplar(buf, s, e, "bucket")
        elif num == 4:
            cum_float = w.as_double(buf, wire, val, pos)
    return upper, (cum_float if cum_float > 0 else float(cum)), exemplar


def _absolute(deltas: list[int], counts: list[float]) -> tuple[float, ...]:
    if not deltas:
        return tuple(counts)
    out: list[float] = []
    running = 0
    for d in deltas:
        running += d
        out.append(float(running))
    return tuple(out)


_FORMATTED: dict[float, str] = {}


def format_label_float(f: float) -> str:
    """A float as Prometheus writes ``le``/``quantile`` values: Go's shortest ``%g``
    with ``.0`` added to integers (``1.0``, ``0.005``, ``1e+06``, ``+Inf``)."""
    cached = _FORMATTED.get(f)
    if cached is not None:
        return cached
    text = _format_label_float(f)
    if len(_FORMATTED) < 4096 and not math.isnan(f):
        _FORMATTED[f] = text
    return text


def _format_label_float(f: float) -> str:
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    s = _go_shortest_g(f)
    if "." in s or "e" in s:
        return s
    return s + ".0"


def _go_shortest_g(f: float) -> str:
    """Go's ``strconv.FormatFloat(f, 'g', -1, 64)`` (and ``fmt.Sprint``): shortest digits,
    exponent form below 1e-4 or from 1e6."""
    if f == 0:
        return "0"
    sign = "-" if f < 0 else ""
    mant, _, exp_text = repr(abs(f)).partition("e")
    int_part, _, frac_part = mant.partition(".")
    all_digits = int_part + frac_part
    stripped = all_digits.lstrip("0")
    dp = len(int_part) + (int(exp_text) if exp_text else 0) - (len(all_digits) - len(stripped))
    digits = stripped.rstrip("0") or "0"
    exp = dp - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


# --- encoding ----------------------------------------------------------------


def write_protobuf(families: Iterable[MetricFamily]) -> bytes:
    """Encode families as a delimited MetricFamily stream (the inverse of parsing)."""
    out = bytearray()
    for fam in families:
        msg = _encode_family(fam)
        out += w.varint(len(msg))
        out += msg
    return bytes(out)


def _encode_family(fam: MetricFamily) -> bytes:
    type_ = _TO_PB.get(fam.type, _PB_UNTYPED)
    if type_ == _PB_SUMMARY:
        name, metrics = fam.name, _encode_summaries(fam)
    elif type_ in (_PB_HISTOGRAM, _PB_GAUGE_HISTOGRAM):
        name, metrics = fam.name, _encode_histograms(fam)
    else:
        name, metrics = _encode_singles(fam, type_)
    parts = [w.str_field(1, name)]
    if fam.help is not None:
        parts.append(w.str_field(2, fam.help))
    parts.append(w.varint_field(3, type_))
    parts.extend(w.len_field(4, m) for m in metrics)
    if fam.unit:
        parts.append(w.str_field(5, fam.unit))
    return b"".join(parts)


def _encode_labels(labels: Labels) -> bytes:
    return b"".join(
        w.len_field(1, w.str_field(1, k) + w.str_field(2, v)) for k, v in labels if k != "__name__"
    )


def _encode_timestamp(ms: int) -> bytes:
    seconds, rem = divmod(ms, 1000)
    out = w.varint_field(1, seconds) if seconds else b""
    if rem:
        out += w.varint_field(2, rem * 1_000_000)
    return out


def _encode_created(seconds: float) -> bytes:
    return _encode_timestamp(round(seconds * 1000))


def _encode_exemplar(ex: Exemplar) -> bytes:
    out = _encode_labels(ex.labels) + w.double_field(2, ex.value)
    if ex.timestamp_ms is not None:
        out += w.len_field(3, _encode_timestamp(ex.timestamp_ms))
    return out


def _metric_tail(ts: int | None) -> bytes:
    return w.varint_field(6, ts) if ts else b""


def _encode_singles(fam: MetricFamily, type_: int) -> tuple[str, list[bytes]]:
    created: dict[Labels, float] = {}
    values: list[Sample] = []
    for s in fam.samples:
        if type_ == _PB_COUNTER and s.name.endswith("_created"):
            created[s.labels] = s.value
        else:
            values.append(s)
    names = {s.name for s in values}
    name = names.pop() if len(names) == 1 else fam.name
    field = {_PB_COUNTER: 3, _PB_GAUGE: 2}.get(type_, 5)
    metrics = []
    for s in values:
        body = w.double_field(1, s.value)
        if s.exemplar is not None and type_ == _PB_COUNTER:
            body += w.len_field(2, _encode_exemplar(s.exemplar))
        if s.labels in created and type_ == _PB_COUNTER:
            body += w.len_field(3, _encode_created(created[s.labels]))
        metrics.append(
            _encode_labels(s.labels) + w.len_field(field, body) + _metric_tail(s.timestamp_ms)
        )
    return name, metrics


def _count_field(int_number: int, float_number: int, value: float) -> bytes:
    if _is_finite(value) and value >= 0 and value == int(value) and value <= _UINT64_MAX:
        return w.varint_field(int_number, int(value))
    return w.double_field(float_number, value)


def _is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))


class _Group:
    """Samples of one histogram/summary series (same labels apart from le/quantile)."""

    __slots__ = ("buckets", "count", "created", "native", "quantiles", "sum", "ts")

    def __init__(self) -> None:
        self.count: float | None = None
        self.sum: float | None = None
        self.created: float | None = None
        self.ts: int | None = None
        self.buckets: list[tuple[float, float, Exemplar | None]] = []
        self.quantiles: list[tuple[float, float]] = []
        self.native: Sample | None = None


def _groups(fam: MetricFamily, split_label: str) -> dict[Labels, _Group]:
    groups: dict[Labels, _Group] = {}
    base = fam.name
    for s in fam.samples:
        key = s.labels.without(split_label)
        g = groups.get(key)
        if g is None:
            g = groups[key] = _Group()
        if g.ts is None:
            g.ts = s.timestamp_ms
        suffix = s.name[len(base) :] if s.name.startswith(base) else s.name
        if s.histogram is not None:
            g.native = s
        elif suffix in ("_count", "_gcount"):
            g.count = s.value
        elif suffix in ("_sum", "_gsum"):
            g.sum = s.value
        elif suffix == "_created":
            g.created = s.value
        elif suffix == "_bucket":
            g.buckets.append((_parse_bound(s.labels.get("le")), s.value, s.exemplar))
        elif split_label == "quantile" and s.labels.has("quantile"):
            g.quantiles.append((_parse_bound(s.labels.get("quantile")), s.value))
    return groups


def _parse_bound(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _encode_summaries(fam: MetricFamily) -> list[bytes]:
    metrics = []
    for labels, g in _groups(fam, "quantile").items():
        body = b""
        if g.count is not None and _is_finite(g.count) and g.count >= 0:
            # Summary has no float count in metrics.proto: a fractional count is truncated.
            body += w.varint_field(1, min(int(g.count), _UINT64_MAX))
        if g.sum is not None:
            body += w.double_field(2, g.sum)
        for q, v in g.quantiles:
            body += w.len_field(3, w.double_field(1, q) + w.double_field(2, v))
        if g.created is not None:
            body += w.len_field(4, _encode_created(g.created))
        metrics.append(_encode_labels(labels) + w.len_field(4, body) + _metric_tail(g.ts))
    return metrics


def _encode_histograms(fam: MetricFamily) -> list[bytes]:
    metrics = []
    for labels, g in _groups(fam, "le").items():
        body = b""
        h = g.native.histogram if g.native is not None else None
        count = g.count if g.count is not None else (h.count if h else None)
        total = g.sum if g.sum is not None else (h.sum if h else None)
        if count is not None and _is_finite(count):
            body += _count_field(1, 4, count)
        if total is not None:
            body += w.double_field(2, total)
        buckets = sorted(g.buckets, key=lambda b: b[0])
        if buckets and buckets[-1][0] == math.inf and buckets[-1][1] == count:
            buckets.pop()  # implied by the count, as client_golang writes it
        for upper, cum, exemplar in buckets:
            b = _count_field(1, 4, cum) + w.double_field(2, upper)
            if exemplar is not None:
                b += w.len_field(3, _encode_exemplar(exemplar))
            body += w.len_field(3, b)
        if h is not None:
            body += _encode_native(h)
        if g.created is not None:
            body += w.len_field(15, _encode_created(g.created))
        if h is not None:
            for ex in h.exemplars:
                body += w.len_field(16, _encode_exemplar(ex))
        metrics.append(_encode_labels(labels) + w.len_field(7, body) + _metric_tail(g.ts))
    return metrics


def _encode_spans(number: int, spans: tuple[Span, ...]) -> bytes:
    return b"".join(
        w.len_field(
            number,
            w.varint_field(1, w.zigzag_encode(s.offset)) + w.varint_field(2, s.length),
        )
        for s in spans
    )


def _encode_native(h: NativeHistogram) -> bytes:
    out = w.varint_field(5, w.zigzag_encode(h.schema)) + w.double_field(6, h.zero_threshold)
    if h.is_float:
        out += w.double_field(8, h.zero_count)
    else:
        out += w.varint_field(7, int(h.zero_count))
    out += _encode_spans(9, h.negative_spans)
    if h.negative_buckets:
        if h.is_float:
            out += w.packed_doubles(11, h.negative_buckets)
        else:
            out += w.packed_varints(10, [w.zigzag_encode(d) for d in h.negative_deltas()])
    pos_spans = h.positive_spans or (Span(0, 0),)  # the no-op span marks it native
    out += _encode_spans(12, pos_spans)
    if h.positive_buckets:
        if h.is_float:
            out += w.packed_doubles(14, h.positive_buckets)
        else:
            out += w.packed_varints(13, [w.zigzag_encode(d) for d in h.positive_deltas()])
    return out
