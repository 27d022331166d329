"""Immutable label sets: the identity of every series.

A :class:`Labels` is a tuple of ``(name, value)`` pairs sorted by name, with no
duplicate names and no empty values (an empty value means "absent", as in
Prometheus). The one exception is what an exposition parser returns
(:meth:`Labels.from_pairs_keep_empty`): there ``instance=""`` is meaningful, because
with ``honor_labels: true`` a scraped empty label removes the target's label
(Prometheus checks ``lset.Has(name)`` on the parsed set and drops empty labels only
at the end), so parsers keep such pairs and the scrape pipeline drops them.

Being a tuple subclass makes equality and hashing C-speed, which
matters: label sets are dictionary keys on every hot path (scrape cache, head
series lookup, PromQL grouping).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from promethean.model.names import format_series

METRIC_NAME = "__name__"


class Labels(tuple[tuple[str, str], ...]):
    """Sorted, de-duplicated ``(name, value)`` pairs. Build with the classmethods."""

    __slots__ = ()

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Labels:
        """Sort and drop empty values; a later duplicate name overrides an earlier one."""
        merged = dict(pairs)
        return tuple.__new__(cls, sorted((k, v) for k, v in merged.items() if v != ""))

    @classmethod
    def from_pairs_keep_empty(cls, pairs: Iterable[tuple[str, str]]) -> Labels:
        """Sort, keeping empty values (an exposition's ``name=""``); later duplicates override."""
        return tuple.__new__(cls, sorted(dict(pairs).items()))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, str]) -> Labels:
        return tuple.__new__(cls, sorted((k, v) for k, v in mapping.items() if v != ""))

    @classmethod
    def empty(cls) -> Labels:
        return _EMPTY

    def get(self, name: str, default: str = "") -> str:
        for k, v in self:
            if k == name:
                return v
        return default

    def has(self, name: str) -> bool:
        return any(k == name for k, _ in self)

    @property
    def metric_name(self) -> str:
        return self.get(METRIC_NAME)

    def names(self) -> tuple[str, ...]:
        return tuple(k for k, _ in self)

    def as_dict(self) -> dict[str, str]:
        return dict(self)

    def with_labels(self, **updates: str) -> Labels:
        """A copy with ``updates`` set; an empty value removes the label."""
        return self.merge(updates)

    def merge(self, updates: Mapping[str, str]) -> Labels:
        merged = dict(self)
        merged.update(updates)
        return Labels.from_dict(merged)

    def without(self, *names: str) -> Labels:
        drop = set(names)
        return tuple.__new__(Labels, [p for p in self if p[0] not in drop])

    def only(self, *names: str) -> Labels:
        keep = set(names)
        return tuple.__new__(Labels, [p for p in self if p[0] in keep])

    def without_metric_name(self) -> Labels:
        return self.without(METRIC_NAME)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self)
        return f"Labels({inner})"

    def __str__(self) -> str:
        """PromQL-style text: ``name{a="1", b="2"}``, ``{"my.metric", "a.b"="1"}``.

        Used in error messages and by printers; names outside the legacy charset
        are quoted as Prometheus 3.x writes them.
        """
        return format_series(self.metric_name, [(k, v) for k, v in self if k != METRIC_NAME])


_EMPTY = tuple.__new__(Labels, ())
