"""Inhibition: a firing source alert mutes target alerts that share the ``equal`` labels.

Upstream's rules, reproduced because operators rely on them:

* only firing sources inhibit: a resolved source (``endsAt`` passed) does
  not, while silenced or inhibited sources still do;
* for every name in ``equal`` the source and the target carry the same
  value; a label missing on both sides counts as equal;
* an alert that matches both sides of a rule is not inhibited by a source
  that also matches both sides (so ``severity=~"warning|critical"`` rules do
  not make alerts mute each other, or themselves);
* an inhibited alert reports one source (any matching one) by fingerprint.

The :class:`Inhibitor` keeps, per rule, the alerts matching its source side,
fed by the alert store through :meth:`Inhibitor.observe`; asking whether an
alert is inhibited (:meth:`Inhibitor.inhibited_by`) costs one pass over the
matching sources of the rules whose target side matches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from promethean.alertmanager.config import AlertmanagerConfig, InhibitRuleConfig
from promethean.alertmanager.matchers import matchers_match
from promethean.model.labels import Labels
from promethean.model.matchers import Matcher

__all__ = ["InhibitRule", "Inhibitor"]

LabelsLike = Mapping[str, str] | Labels


@dataclass
class _Source:
    labels: LabelsLike
    ends_at: float | None


@dataclass
class InhibitRule:
    """One rule with the source alerts currently matching its source side."""

    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...]
    _sources: dict[str, _Source] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, cfg: InhibitRuleConfig) -> InhibitRule:
        return cls(tuple(cfg.source()), tuple(cfg.target()), tuple(cfg.equal))

    def matches_source(self, labels: LabelsLike) -> bool:
        return matchers_match(self.source_matchers, labels)

    def matches_target(self, labels: LabelsLike) -> bool:
        return matchers_match(self.target_matchers, labels)

    def _source_for(self, labels: LabelsLike, exclude_two_sided: bool, now: float) -> str | None:
        get = labels.get
        for fingerprint, src in self._sources.items():
            if src.ends_at is not None and src.ends_at <= now:
                continue  # resolved: no longer inhibits
            sget = src.labels.get
            if any(sget(name, "") != get(name, "") for name in self.equal):
                continue
            if exclude_two_sided and self.matches_target(src.labels):
                continue
            return fingerprint
        return None


class Inhibitor:
    """Decides whether an alert is inhibited by the firing alerts it has observed.

    Thread-safe: the API, the dispatcher and the store may call it concurrently.
    """

    def __init__(self, rules: Sequence[InhibitRule] | Iterable[InhibitRuleConfig]) -> None:
        self.rules: list[InhibitRule] = [
            r if isinstance(r, InhibitRule) else InhibitRule.from_config(r) for r in rules
        ]
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, cfg: AlertmanagerConfig) -> Inhibitor:
        return cls(cfg.inhibit_rules)

    def observe(self, fingerprint: str, labels: LabelsLike, ends_at: float | None = None) -> None:
        """Record an alert (new or updated); ``ends_at`` in the past means resolved."""
        with self._lock:
            for rule in self.rules:
                if rule.matches_source(labels):
                    rule._sources[fingerprint] = _Source(labels, ends_at)
                else:
                    rule._sources.pop(fingerprint, None)

    def forget(self, fingerprint: str) -> None:
        """Drop an alert the store garbage-collected."""
        with self._lock:
            for rule in self.rules:
                rule._sources.pop(fingerprint, None)

    def inhibited_by(self, labels: LabelsLike, now: float | None = None) -> str | None:
        """Fingerprint of a firing source that inhibits an alert with ``labels``, or ``None``."""
        when = time.time() if now is None else now
        with self._lock:
            for rule in self.rules:
                if not rule.matches_target(labels):
                    continue
                found = rule._source_for(labels, rule.matches_source(labels), when)
                if found is not None:
                    return found
        return None

    def mutes(self, labels: LabelsLike, now: float | None = None) -> bool:
        return self.inhibited_by(labels, now) is not None
