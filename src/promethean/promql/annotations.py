"""Warnings and infos a query collects while it runs.

Upstream returns these next to the result (``warnings`` and ``infos`` in the
HTTP API) instead of failing the query: a non-counter passed to ``rate`` still
gives a number, but the user should hear about it. The engine and the
functions share one :class:`Annotations` per query; duplicates collapse, as
upstream keeps them in a map.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROMQL_WARNING = "PromQL warning: "
PROMQL_INFO = "PromQL info: "


@dataclass
class Annotations:
    """Ordered, de-duplicated warning and info texts of one query."""

    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)

    def add_warning(self, msg: str) -> None:
        if msg not in self.warnings:
            self.warnings.append(msg)

    def add_info(self, msg: str) -> None:
        if msg not in self.infos:
            self.infos.append(msg)

    def merge(self, other: Annotations) -> None:
        for w in other.warnings:
            self.add_warning(w)
        for i in other.infos:
            self.add_info(i)

    def __bool__(self) -> bool:
        return bool(self.warnings or self.infos)
