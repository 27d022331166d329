"""The scrape subsystem's own metrics, under upstream's names, for the server's ``/metrics``.

Dashboards and alerts written for Go Prometheus (``rate(
prometheus_target_scrapes_sample_out_of_order_total[5m]) > 0``, the
``prometheus_target_interval_length_seconds`` quantiles, ...) keep working
against promethean because the names, types and label names are upstream's.

:class:`ScrapeStats` holds the counters; scrape loops bump them from worker
threads, so every update takes a lock (once per scrape, never per sample).
:class:`ScrapeCollector` is a ``prometheus_client`` collector that reads the
counters and the manager's pools when scraped; register it with
``registry.register(ScrapeCollector(manager))``.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from promethean.model.durations import format_go_duration as go_duration

__all__ = ["INTERVAL_QUANTILES", "ScrapeCollector", "ScrapeStats", "go_duration"]

INTERVAL_QUANTILES = (0.01, 0.05, 0.5, 0.9, 0.99)
"""Upstream's objectives for ``prometheus_target_interval_length_seconds``."""

_WINDOW = 1024  # recent intervals kept per label for the quantiles


@dataclass(slots=True)
class _Summary:
    count: int = 0
    total: float = 0.0
    recent: deque[float] = field(default_factory=lambda: deque(maxlen=_WINDOW))


class ScrapeStats:
    """Counters of every loop of one manager (upstream's ``prometheus_target_*``)."""

    _COUNTERS = (
        "sample_out_of_order",
        "sample_duplicate_timestamp",
        "sample_out_of_bounds",
        "exceeded_sample_limit",
        "exceeded_body_size_limit",
        "exceeded_label_limits",
        "native_histograms_skipped",
        "exceeded_target_limit",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.sample_out_of_order = 0
        self.sample_duplicate_timestamp = 0
        self.sample_out_of_bounds = 0
        self.exceeded_sample_limit = 0
        self.exceeded_body_size_limit = 0
        self.exceeded_label_limits = 0
        self.native_histograms_skipped = 0
        self.exceeded_target_limit = 0
        self._intervals: dict[str, _Summary] = {}

    def add(self, **counts: int) -> None:
        """Add to named counters (``add(sample_out_of_order=3)``); unknown names are a bug."""
        with self._lock:
            for name, n in counts.items():
                if name not in self._COUNTERS:
                    raise AttributeError(name)
                setattr(self, name, getattr(self, name) + n)

    def observe_interval(self, interval: str, seconds: float) -> None:
        """Record the actual time between two scrapes of a target configured at ``interval``."""
        with self._lock:
            s = self._intervals.get(interval)
            if s is None:
                s = self._intervals[interval] = _Summary()
            s.count += 1
            s.total += seconds
            s.recent.append(seconds)

    def counters(self) -> dict[str, int]:
        with self._lock:
            return {name: getattr(self, name) for name in self._COUNTERS}

    def intervals(self) -> dict[str, tuple[int, float, list[tuple[float, float]]]]:
        """``{interval: (count, sum, [(quantile, value)])}``, quantiles over recent scrapes."""
        with self._lock:
            snap = {k: (s.count, s.total, sorted(s.recent)) for k, s in self._intervals.items()}
        out: dict[str, tuple[int, float, list[tuple[float, float]]]] = {}
        for k, (count, total, values) in snap.items():
            qs = [(q, _quantile(values, q)) for q in INTERVAL_QUANTILES] if values else []
            out[k] = (count, total, qs)
        return out


def _quantile(sorted_values: list[float], q: float) -> float:
    idx = min(len(sorted_values) - 1, max(0, int(q * len(sorted_values))))
    return sorted_values[idx]


class _Manager(Protocol):
    stats: ScrapeStats

    def pool_targets(self) -> dict[str, int]: ...

    def discovered_targets(self) -> dict[str, int]: ...


class ScrapeCollector(Collector):
    """Exposes a :class:`~promethean.scrape.manager.ScrapeManager`'s metrics when collected."""

    def __init__(self, manager: _Manager) -> None:
        self._manager = manager

    def describe(self) -> list[Metric]:
        # Names are fixed and unique to this collector; skip the registry's probe collect.
        return []

    def collect(self) -> Iterator[Metric]:
        m = self._manager
        c = m.stats.counters()
        for name, key, help_text in _COUNTER_FAMILIES:
            fam = CounterMetricFamily(name, help_text)
            fam.add_metric([], float(c[key]))
            yield fam
        pools = GaugeMetricFamily(
            "prometheus_target_scrape_pool_targets",
            "Current number of targets in this scrape pool.",
            labels=["scrape_job"],
        )
        for job, n in sorted(m.pool_targets().items()):
            pools.add_metric([job], float(n))
        yield pools
        sd = GaugeMetricFamily(
            "prometheus_sd_discovered_targets",
            "Current number of discovered targets.",
            labels=["config", "name"],
        )
        for job, n in sorted(m.discovered_targets().items()):
            sd.add_metric([job, "scrape"], float(n))
        yield sd
        iv = SummaryMetricFamily(
            "prometheus_target_interval_length_seconds",
            "Actual intervals between scrapes.",
            labels=["interval"],
        )
        for interval, (count, total, qs) in sorted(m.stats.intervals().items()):
            for q, v in qs:
                iv.add_sample(iv.name, {"interval": interval, "quantile": repr(q)}, v)
            iv.add_metric([interval], count_value=count, sum_value=total)
        yield iv


_COUNTER_FAMILIES = (
    (
        "prometheus_target_scrapes_sample_out_of_order_total",
        "sample_out_of_order",
        "Total number of samples rejected due to not being out of the expected order.",
    ),
    (
        "prometheus_target_scrapes_sample_duplicate_timestamp_total",
        "sample_duplicate_timestamp",
        "Total number of samples rejected due to duplicate timestamps but different values.",
    ),
    (
        "prometheus_target_scrapes_sample_out_of_bounds_total",
        "sample_out_of_bounds",
        "Total number of samples rejected due to timestamp falling outside of the time bounds.",
    ),
    (
        "prometheus_target_scrapes_exceeded_sample_limit_total",
        "exceeded_sample_limit",
        "Total number of scrapes that hit the sample limit and were rejected.",
    ),
    (
        "prometheus_target_scrapes_exceeded_body_size_limit_total",
        "exceeded_body_size_limit",
        "Total number of scrapes that hit the body size limit",
    ),
    (
        "prometheus_target_scrape_pool_exceeded_label_limits_total",
        "exceeded_label_limits",
        "Total number of times scrape pools hit the label limits, during sync or config reload.",
    ),
    (
        "prometheus_target_scrape_pool_exceeded_target_limit_total",
        "exceeded_target_limit",
        "Total number of times scrape pools hit the target limit, during sync or config reload.",
    ),
    (
        "promethean_target_scrapes_native_histograms_skipped_total",
        "native_histograms_skipped",
        "Native histogram samples scraped but not stored (no native histogram storage yet).",
    ),
)
