"""Native (exponential, sparse) histograms as one sample value.

A native histogram replaces a classic histogram's many ``_bucket`` series with
one value: a *schema* fixes the bucket boundaries (each power of two split into
``2**schema`` logarithmic buckets), and only populated buckets are stored, as
*spans* of consecutive bucket indices. Buckets here are always absolute counts;
``is_float`` remembers whether the source sent integer counts (as deltas on the
wire) or float counts, so writers can send them back the same way.

Boundaries follow Prometheus: with ``base = 2**(2**-schema)``, positive bucket
``i`` holds ``(base**(i-1), base**i]``; negative bucket ``i`` is its mirror
``[-base**i, -base**(i-1))``; the zero bucket holds ``[-zero_threshold,
zero_threshold]``. The last finite bucket's upper bound is clamped to the
largest float so that only observations of infinity land in the bucket above.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field

from promethean.model.exposition import Exemplar

MIN_SCHEMA = -4
MAX_SCHEMA = 8
_MAX_FLOAT = sys.float_info.max


@dataclass(frozen=True, slots=True)
class Span:
    """``length`` consecutive buckets; ``offset`` is the gap after the previous span
    (or, for the first span, the index of its first bucket)."""

    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket with its boundaries, as Prometheus's bucket iterators yield it."""

    lower: float
    upper: float
    count: float
    lower_inclusive: bool
    upper_inclusive: bool
    index: int


@dataclass(frozen=True, slots=True)
class NativeHistogram:
    schema: int = 0
    zero_threshold: float = 0.0
    zero_count: float = 0.0
    count: float = 0.0
    sum: float = 0.0
    positive_spans: tuple[Span, ...] = ()
    positive_buckets: tuple[float, ...] = ()
    negative_spans: tuple[Span, ...] = ()
    negative_buckets: tuple[float, ...] = ()
    is_gauge: bool = False
    is_float: bool = False
    exemplars: tuple[Exemplar, ...] = field(default=())

    def validate(self) -> str | None:
        """Why the histogram is inconsistent, or None: span lengths must match the
        bucket counts, and counts must not be negative."""
        if not MIN_SCHEMA <= self.schema <= MAX_SCHEMA:
            return f"invalid native histogram schema {self.schema}"
        for side, spans, buckets in (
            ("positive", self.positive_spans, self.positive_buckets),
            ("negative", self.negative_spans, self.negative_buckets),
        ):
            wanted = sum(s.length for s in spans)
            if wanted != len(buckets):
                return f"{side} side: spans need {wanted} buckets, have {len(buckets)} buckets"
            for i, s in enumerate(spans):
                if i and s.offset < 0:
                    return f"{side} side: span number {i + 1} with offset {s.offset}"
            if any(c < 0 for c in buckets):
                return f"{side} side: negative bucket count"
        if self.zero_count < 0:
            return "negative zero bucket count"
        return None

    def bucket_indices(self, negative: bool = False) -> Iterator[tuple[int, float]]:
        """``(index, absolute count)`` of each stored bucket of one side, in index order."""
        spans = self.negative_spans if negative else self.positive_spans
        counts = self.negative_buckets if negative else self.positive_buckets
        pos = 0
        idx = 0
        for n, span in enumerate(spans):
            idx = span.offset if n == 0 else idx + span.offset
            for _ in range(span.length):
                yield idx, counts[pos]
                pos += 1
                idx += 1

    def positive_deltas(self) -> list[int]:
        return _deltas(self.positive_buckets)

    def negative_deltas(self) -> list[int]:
        return _deltas(self.negative_buckets)

    def buckets(self) -> Iterator[Bucket]:
        """Every stored bucket from the most negative to the most positive, with the
        zero bucket in between (when it has a width or a count)."""
        neg = list(self.bucket_indices(negative=True))
        for idx, count in reversed(neg):
            yield Bucket(
                lower=-bucket_upper_bound(idx, self.schema),
                upper=-bucket_upper_bound(idx - 1, self.schema),
                count=count,
                lower_inclusive=True,
                upper_inclusive=False,
                index=idx,
            )
        if self.zero_threshold > 0 or self.zero_count > 0:
            yield Bucket(
                lower=-self.zero_threshold,
                upper=self.zero_threshold,
                count=self.zero_count,
                lower_inclusive=True,
                upper_inclusive=True,
                index=0,
            )
        for idx, count in self.bucket_indices():
            yield Bucket(
                lower=bucket_upper_bound(idx - 1, self.schema),
                upper=bucket_upper_bound(idx, self.schema),
                count=count,
                lower_inclusive=False,
                upper_inclusive=True,
                index=idx,
            )


def bucket_upper_bound(index: int, schema: int) -> float:
    """Upper bound of positive bucket ``index`` under ``schema`` (Prometheus's getBound)."""
    if schema <= 0:
        exp = index << -schema
        if exp == 1024:
            return _MAX_FLOAT
        if exp > 1024:
            return math.inf
        if exp < -1074:
            return 0.0
        return math.ldexp(1.0, exp)
    per_octave = 1 << schema
    frac_idx = index & (per_octave - 1)
    exp = (index >> schema) + 1
    frac = math.exp2(frac_idx / per_octave) / 2
    if frac == 0.5 and exp == 1025:
        return _MAX_FLOAT
    if exp > 1025:
        return math.inf
    try:
        return math.ldexp(frac, exp)
    except OverflowError:
        return math.inf


def bucket_index(value: float, schema: int) -> int:
    """The positive bucket that ``value`` (> 0) falls into: the inverse of the bounds."""
    frac, exp = math.frexp(value)
    if schema > 0:
        per_octave = 1 << schema
        # frac is in [0.5, 1): find the first boundary >= frac within the octave.
        lo, hi = 0, per_octave
        while lo < hi:
            mid = (lo + hi) // 2
            if math.exp2(mid / per_octave) / 2 < frac:
                lo = mid + 1
            else:
                hi = mid
        return lo + ((exp - 1) << schema)
    key = exp
    if frac == 0.5:
        key -= 1
    offset = (1 << -schema) - 1
    return (key + offset) >> -schema


def _deltas(counts: tuple[float, ...]) -> list[int]:
    out: list[int] = []
    prev = 0
    for c in counts:
        cur = int(c)
        out.append(cur - prev)
        prev = cur
    return out
