"""The data model every exposition parser produces and every writer consumes.

Parsers (text 0.0.4, OpenMetrics 1.0, protobuf) all return a list of
:class:`MetricFamily`; writers take the same. Samples carry their own full
metric name (``foo_bucket``, ``foo_count``...) and their labels *without*
``__name__``, the way the formats write them. Timestamps are integer
milliseconds since the epoch, as Prometheus stores them; ``None`` when absent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from promethean.model.labels import Labels

if TYPE_CHECKING:
    from promethean.model.histogram import NativeHistogram


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    GAUGEHISTOGRAM = "gaugehistogram"
    SUMMARY = "summary"
    INFO = "info"
    STATESET = "stateset"
    UNKNOWN = "unknown"  # "untyped" in text format 0.0.4


@dataclass(frozen=True, slots=True)
class Exemplar:
    labels: Labels
    value: float
    timestamp_ms: int | None = None


@dataclass(slots=True)
class Sample:
    name: str
    labels: Labels
    value: float
    timestamp_ms: int | None = None
    exemplar: Exemplar | None = None
    # Set for a native histogram sample (protobuf format); ``value`` is then its count.
    histogram: NativeHistogram | None = None


@dataclass(slots=True)
class MetricFamily:
    name: str
    type: MetricType = MetricType.UNKNOWN
    help: str | None = None
    unit: str | None = None
    samples: list[Sample] = field(default_factory=list)
