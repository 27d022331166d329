"""The group store: pushed metric groups and the consistency check.

The Go Pushgateway re-gathers and re-checks the whole store on every push,
so a push costs more the more is stored. Here the facts the check needs are
kept as indexes that each push updates by its own size:

* ``_types``: family name -> {type: number of groups}, for type conflicts and
  histogram/summary suffix collisions;
* ``_owners``: series identity (sample name, full label set) -> group key,
  for duplicates across groups.

A push is validated completely before anything changes; a refused push never
creates a group (an existing group only records ``push_failure_time_seconds``).

Rendering for ``/metrics`` is cached per group and family at push time, so a
scrape concatenates prepared text instead of formatting every sample.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from promethean.model import Labels, MetricFamily, MetricType, Sample
from promethean.pushgateway.groupkey import GroupKey, go_quote
from promethean.pushgateway.textfmt import format_labels, format_value

PUSH_TIME = "push_time_seconds"
PUSH_FAILURE_TIME = "push_failure_time_seconds"
PUSH_TIME_HELP = "Last Unix time when changing this group in the Pushgateway succeeded."
PUSH_FAILURE_HELP = "Last Unix time when changing this group in the Pushgateway failed."
_RESERVED = (PUSH_TIME, PUSH_FAILURE_TIME)
_SUFFIXES = {
    MetricType.HISTOGRAM: ("_bucket", "_sum", "_count", "_created"),
    MetricType.GAUGEHISTOGRAM: ("_bucket", "_gsum", "_gcount"),
    MetricType.SUMMARY: ("_sum", "_count", "_created"),
}


class PushError(ValueError):
    """A push refused by validation; the message names the conflict and is shown to the client."""


SeriesId = tuple[str, Labels]


@dataclass
class Group:
    key: GroupKey
    families: dict[str, MetricFamily] = field(default_factory=dict)
    push_time: float = 0.0
    failure_time: float = 0.0
    # Rendered sample lines per family, built once per push.
    rendered: dict[str, str] = field(default_factory=dict)

    @property
    def last_push_successful(self) -> bool:
        return self.failure_time <= self.push_time

    def series_labels(self) -> Labels:
        """Labels of this group's own series (push_time_seconds...): ``instance=""`` if absent."""
        pairs = dict(self.key)
        pairs.setdefault("instance", "")
        return _raw_labels(pairs)


def _raw_labels(pairs: dict[str, str]) -> Labels:
    # Empty values are kept: ``instance=""`` tells a honor_labels scraper to drop the label.
    return tuple.__new__(Labels, sorted(pairs.items()))


class Store:
    """All groups, with the indexes that keep the consistency check incremental."""

    def __init__(self, consistency_check: bool = True) -> None:
        self.consistency_check = consistency_check
        self.groups: dict[GroupKey, Group] = {}
        self._types: dict[str, dict[MetricType, int]] = {}
        self._owners: dict[SeriesId, GroupKey] = {}
        self._family_groups: dict[str, set[GroupKey]] = {}
        self.lock = threading.RLock()
        self.version = 0

    # -- mutations ---------------------------------------------------------

    def push(
        self, key: GroupKey, families: list[MetricFamily], replace_all: bool, now: float
    ) -> None:
        """Apply a PUT (``replace_all``) or POST; raises :class:`PushError` and changes nothing
        but the group's failure time when the push is refused."""
        with self.lock:
            old = self.groups.get(key)
            try:
                incoming = self._prepare(key, families)
                kept = {} if (old is None or replace_all) else dict(old.families)
                for fam in incoming:
                    kept[fam.name] = fam
                if self.consistency_check:
                    self._check(key, old, kept)
            except PushError:
                if old is not None:
                    old.failure_time = now
                    self._rerender_own(old)
                    self.version += 1
                raise
            self._install(Group(key, kept, push_time=now, failure_time=0.0), old)

    def delete(self, key: GroupKey) -> bool:
        with self.lock:
            old = self.groups.get(key)
            if old is None:
                return False
            self._unindex(old)
            del self.groups[key]
            self.version += 1
            return True

    def wipe(self) -> None:
        with self.lock:
            self.groups.clear()
            self._types.clear()
            self._owners.clear()
            self._family_groups.clear()
            self.version += 1

    def restore(self, group: Group) -> None:
        """Insert a group loaded from disk (already validated when it was pushed)."""
        with self.lock:
            self._install(group, self.groups.get(group.key))

    # -- validation --------------------------------------------------------

    def _prepare(self, key: GroupKey, families: list[MetricFamily]) -> list[MetricFamily]:
        """Attach the grouping labels to every sample (URL values win) and reject timestamps."""
        grouping = dict(key)
        grouping.setdefault("instance", "")
        out = []
        seen_names: set[str] = set()
        for fam in families:
            if fam.name in _RESERVED:
                raise PushError(
                    f"pushed metrics are invalid or inconsistent with existing metrics: "
                    f"metric name {go_quote(fam.name)} is reserved by the Pushgateway"
                )
            if fam.name in seen_names:
                raise PushError(
                    f"pushed metrics are invalid or inconsistent with existing metrics: "
                    f"metric family {go_quote(fam.name)} appears twice in the push"
                )
            seen_names.add(fam.name)
            samples = []
            for s in fam.samples:
                if s.timestamp_ms is not None:
                    raise PushError(
                        "pushed metrics are invalid or inconsistent with existing metrics: "
                        "pushed metrics must not have timestamps"
                    )
                labels = dict(s.labels)
                labels.update(grouping)
                samples.append(Sample(s.name, _raw_labels(labels), s.value, None, s.exemplar))
            out.append(MetricFamily(fam.name, fam.type, fam.help or None, fam.unit, samples))
        return out

    def _check(self, key: GroupKey, old: Group | None, new: dict[str, MetricFamily]) -> None:
        prefix = "pushed metrics are invalid or inconsistent with existing metrics: "
        own_old = old.families if old is not None else {}
        # Types: compare with what other groups hold for the same family name.
        for name, fam in new.items():
            others = dict(self._types.get(name, {}))
            if name in own_old:
                t = own_old[name].type
                others[t] = others.get(t, 0) - 1
            for t, n in others.items():
                if n > 0 and t != fam.type:
                    raise PushError(
                        f"{prefix}metric family {go_quote(name)} is pushed as "
                        f"{fam.type.value} but other groups hold it as {t.value}"
                    )
        self._check_suffixes(new, own_old)
        # Series: duplicates within the push and against other groups.
        seen: set[SeriesId] = set()
        for fam in new.values():
            for s in fam.samples:
                sid = (s.name, s.labels)
                if sid in seen:
                    raise PushError(
                        f"{prefix}collected metric {go_quote(s.name)} with labels "
                        f"{format_labels(s.labels)} was collected before with the same name "
                        "and label values"
                    )
                seen.add(sid)
                owner = self._owners.get(sid)
                if owner is not None and owner != key:
                    raise PushError(
                        f"{prefix}collected metric {go_quote(s.name)} with labels "
                        f"{format_labels(s.labels)} is already pushed in group "
                        f"{format_labels(_raw_labels(dict(owner)))}"
                    )

    def _check_suffixes(
        self, new: dict[str, MetricFamily], own_old: dict[str, MetricFamily]
    ) -> None:
        """A histogram or summary ``x`` owns the names ``x_sum``, ``x_count``..."""

        def held_elsewhere(name: str) -> set[MetricType]:
            counts = dict(self._types.get(name, {}))
            if name in own_old:
                counts[own_old[name].type] = counts.get(own_old[name].type, 0) - 1
            held = {t for t, n in counts.items() if n > 0}
            if name in new:
                held.add(new[name].type)
            return held

        for name, fam in new.items():
            for suffix in _SUFFIXES.get(fam.type, ()):
                if held_elsewhere(name + suffix):
                    raise PushError(
                        "pushed metrics are invalid or inconsistent with existing metrics: "
                        f"{fam.type.value} {go_quote(name)} collides with metric family "
                        f"{go_quote(name + suffix)}"
                    )
            for base_type, suffixes in _SUFFIXES.items():
                for suffix in suffixes:
                    if name.endswith(suffix) and base_type in held_elsewhere(name[: -len(suffix)]):
                        raise PushError(
                            "pushed metrics are invalid or inconsistent with existing metrics: "
                            f"metric family {go_quote(name)} collides with {base_type.value} "
                            f"{go_quote(name[: -len(suffix)])}"
                        )

    # -- indexes -----------------------------------------------------------

    def _install(self, group: Group, old: Group | None) -> None:
        if old is not None:
            self._unindex(old)
        self.groups[group.key] = group
        for name, fam in group.families.items():
            self._types.setdefault(name, {}).setdefault(fam.type, 0)
            self._types[name][fam.type] += 1
            self._family_groups.setdefault(name, set()).add(group.key)
            for s in fam.samples:
                self._owners[(s.name, s.labels)] = group.key
        group.rendered = {
            name: _render_samples(fam.samples) for name, fam in group.families.items()
        }
        self._rerender_own(group)
        self.version += 1

    def _unindex(self, group: Group) -> None:
        for name, fam in group.families.items():
            counts = self._types.get(name)
            if counts is not None:
                counts[fam.type] -= 1
                if counts[fam.type] <= 0:
                    del counts[fam.type]
                if not counts:
                    del self._types[name]
            members = self._family_groups.get(name)
            if members is not None:
                members.discard(group.key)
                if not members:
                    del self._family_groups[name]
            for s in fam.samples:
                if self._owners.get((s.name, s.labels)) == group.key:
                    del self._owners[(s.name, s.labels)]

    def _rerender_own(self, group: Group) -> None:
        labels = format_labels(group.series_labels())
        group.rendered[PUSH_TIME] = f"{PUSH_TIME}{labels} {format_value(group.push_time)}\n"
        group.rendered[PUSH_FAILURE_TIME] = (
            f"{PUSH_FAILURE_TIME}{labels} {format_value(group.failure_time)}\n"
        )

    # -- reading -----------------------------------------------------------

    def family_names(self) -> list[str]:
        return sorted({*self._family_groups, *(_RESERVED if self.groups else ())})

    def render_text(self) -> str:
        """The merged exposition of every group in text format 0.0.4."""
        with self.lock:
            parts: list[str] = []
            for name in self.family_names():
                help_text: str | None
                if name in _RESERVED:
                    keys = sorted(self.groups)
                    help_text = PUSH_TIME_HELP if name == PUSH_TIME else PUSH_FAILURE_HELP
                    mtype = MetricType.GAUGE
                else:
                    keys = sorted(self._family_groups[name])
                    help_text, mtype = self._merged_meta(name, keys)
                if help_text:
                    parts.append(f"# HELP {name} {_escape_help(help_text)}\n")
                type_word = "untyped" if mtype is MetricType.UNKNOWN else mtype.value
                parts.append(f"# TYPE {name} {type_word}\n")
                parts.extend(self.groups[k].rendered[name] for k in keys)
            return "".join(parts)

    def _merged_meta(self, name: str, keys: list[GroupKey]) -> tuple[str | None, MetricType]:
        """HELP from the first group (in key order) that has one: deterministic, unlike Go's."""
        families = [self.groups[k].families[name] for k in keys]
        help_text = next((f.help for f in families if f.help), None)
        return help_text, families[0].type

    def iter_groups(self) -> Iterator[Group]:
        with self.lock:
            yield from [self.groups[k] for k in sorted(self.groups)]


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _render_samples(samples: Iterable[Sample]) -> str:
    lines = [
        f"{s.name}{format_labels(s.labels)} {format_value(s.value)}\n"
        for s in sorted(samples, key=lambda s: (s.labels, s.name))
    ]
    return "".join(lines)


def is_finite(value: float) -> bool:
    return not (math.isnan(value) or math.isinf(value))
