"""The group store: pushed metric groups and the consistency check.

The Go Pushgateway re-gathers and re-checks the whole store on every push,
so a push costs more the more is stored. Here the facts the check needs are
kept as indexes that each push updates by its own size:

* ``_types``: family name -> {type: number of groups}, for type conflicts and
  histogram/summary suffix collisions;
* ``_owners``: series identity -> group key, for duplicates across groups.

A series' identity is its rendered text ``name{labels}`` with the grouping
labels applied: a string, so hashing is cached by Python and the same string
is the render cache for ``/metrics``. Text pushes go through a per-group
:class:`ScrapeParser`, so a line seen in the group's previous push costs a
dict lookup, not a parse.

A push is validated completely before anything changes; a refused push never
creates a group (an existing group only records ``push_failure_time_seconds``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from promethean.model import Labels, MetricFamily, MetricType
from promethean.model.errors import ParseError
from promethean.model.labels import METRIC_NAME
from promethean.model.protobuf import parse_protobuf
from promethean.model.scrapeparse import ScrapeParser, SeriesEntry
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
_INVALID = "pushed metrics are invalid or inconsistent with existing metrics: "
PROTOBUF_MEDIA_TYPE = "application/vnd.google.protobuf"


class PushError(ValueError):
    """A push refused by validation; the message names the conflict and is shown to the client."""


@dataclass(frozen=True, slots=True, eq=False)
class Series:
    """A series identity, shared by every push that repeats its line (compared by identity:
    the prefix string is what identifies it in the indexes)."""

    prefix: str  # ``name{labels}`` as rendered: identity and render cache
    name: str  # sample name (``x_bucket``...)
    labels: Labels  # all labels but __name__, grouping labels applied, empty values kept


@dataclass(slots=True)
class Family:
    name: str
    type: MetricType
    help: str | None
    unit: str | None
    series: list[Series]
    values: list[float]  # parallel to ``series``

    def samples(self) -> Iterator[tuple[Series, float]]:
        return zip(self.series, self.values, strict=True)


@dataclass
class Group:
    key: GroupKey
    families: dict[str, Family] = field(default_factory=dict)
    push_time: float = 0.0
    failure_time: float = 0.0
    rendered: dict[str, str] = field(default_factory=dict)

    @property
    def last_push_successful(self) -> bool:
        return self.failure_time <= self.push_time

    def series_labels(self) -> Labels:
        """Labels of this group's own series (push_time_seconds...): ``instance=""`` if absent."""
        return grouping_labels(self.key)


def raw_labels(pairs: dict[str, str]) -> Labels:
    """A label set that keeps empty values: ``instance=""`` tells a honor_labels scraper
    to drop the label, so it must survive to the exposition."""
    return tuple.__new__(Labels, sorted(pairs.items()))


def grouping_labels(key: GroupKey) -> Labels:
    pairs = dict(key)
    pairs.setdefault("instance", "")
    return raw_labels(pairs)


def _series(name: str, body_labels: Iterable[tuple[str, str]], grouping: dict[str, str]) -> Series:
    pairs = dict(body_labels)
    pairs.pop(METRIC_NAME, None)
    pairs.update(grouping)  # URL values win over the body's
    labels = raw_labels(pairs)
    return Series(name + format_labels(labels), name, labels)


class Store:
    """All groups, with the indexes that keep the consistency check incremental."""

    def __init__(self, consistency_check: bool = True) -> None:
        self.consistency_check = consistency_check
        self.groups: dict[GroupKey, Group] = {}
        self._types: dict[str, dict[MetricType, int]] = {}
        self._owners: dict[str, GroupKey] = {}
        self._family_groups: dict[str, set[GroupKey]] = {}
        self._parsers: dict[GroupKey, ScrapeParser] = {}
        self._shapes: dict[GroupKey, _Shape] = {}
        self.lock = threading.RLock()
        self.version = 0

    # -- turning bodies into families ---------------------------------------

    def prepare_body(self, key: GroupKey, body: bytes, content_type: str) -> list[Family]:
        """Parse a push body by its Content-Type (protobuf delimited, or text 0.0.4);
        raises ParseError or PushError."""
        media = content_type.split(";", 1)[0].strip().lower()
        if media == PROTOBUF_MEDIA_TYPE:
            return self.prepare_families(key, parse_protobuf(body))
        if media == "application/openmetrics-text":
            raise ParseError(
                "OpenMetrics pushes are not supported (as in the Go Pushgateway); "
                "push text format 0.0.4 or protobuf"
            )
        return self.prepare_text(key, body)

    def prepare_text(self, key: GroupKey, body: bytes | str) -> list[Family]:
        """Parse a text 0.0.4 push through the group's line cache; raises ParseError/PushError."""
        with self.lock:
            parser = self._parsers.get(key)
            if parser is None:
                parser = self._parsers[key] = ScrapeParser(max_age=2)
            result = parser.parse(body, "text/plain")
            parser.end_cycle()
        if result.timestamps:
            raise PushError(_INVALID + "pushed metrics must not have timestamps")
        entries = result.entries
        if not entries:
            return []
        values = result.values
        shape = self._shapes.get(key)
        if shape is None or shape.entries != entries:  # identity scan at C speed
            shape = self._shapes[key] = _shape_of(entries, key)
        families: list[Family] = []
        for name, mtype, start, end in shape.runs:
            meta = result.metadata.get(name)
            families.append(
                Family(
                    name,
                    mtype,
                    meta.help if meta else None,
                    meta.unit if meta else None,
                    shape.series[start:end],
                    values[start:end],
                )
            )
        return families

    @staticmethod
    def prepare_families(key: GroupKey, parsed: list[MetricFamily]) -> list[Family]:
        """Families from another parser (protobuf): apply grouping labels, refuse timestamps."""
        grouping = dict(grouping_labels(key))
        out = []
        for mf in parsed:
            if any(s.timestamp_ms is not None for s in mf.samples):
                raise PushError(_INVALID + "pushed metrics must not have timestamps")
            series = [_series(s.name, s.labels, grouping) for s in mf.samples]
            values = [s.value for s in mf.samples]
            out.append(Family(mf.name, mf.type, mf.help or None, mf.unit, series, values))
        return out

    # -- mutations ---------------------------------------------------------

    def push(self, key: GroupKey, families: list[Family], replace_all: bool, now: float) -> None:
        """Apply a PUT (``replace_all``) or POST; raises :class:`PushError` and changes nothing
        but the group's failure time when the push is refused."""
        with self.lock:
            old = self.groups.get(key)
            try:
                self._check_push(families)
                kept = {} if (old is None or replace_all) else dict(old.families)
                for fam in families:
                    kept[fam.name] = fam
                if old is not None and _same_series(old.families, kept):
                    # Only values moved: every relation to other groups is as already checked.
                    self._replace_values(Group(key, kept, push_time=now), old)
                    return
                if self.consistency_check:
                    self._check(key, old, kept)
            except PushError:
                if old is not None:
                    old.failure_time = now
                    self._rerender_own(old)
                    self.version += 1
                else:
                    self._parsers.pop(key, None)
                    self._shapes.pop(key, None)
                raise
            self._install(Group(key, kept, push_time=now, failure_time=0.0), old)

    def _replace_values(self, group: Group, old: Group) -> None:
        """Install a group whose families, types and series are those of ``old``; indexes stay."""
        self.groups[group.key] = group
        self._rerender_own(group)
        self.version += 1
        del old

    def delete(self, key: GroupKey) -> bool:
        with self.lock:
            self._parsers.pop(key, None)
            self._shapes.pop(key, None)
            old = self.groups.pop(key, None)
            if old is None:
                return False
            self._unindex(old)
            self.version += 1
            return True

    def wipe(self) -> None:
        with self.lock:
            self.groups.clear()
            self._types.clear()
            self._owners.clear()
            self._family_groups.clear()
            self._parsers.clear()
            self._shapes.clear()
            self.version += 1

    def restore(self, group: Group) -> None:
        """Insert a group loaded from disk (it was validated when it was pushed)."""
        with self.lock:
            self._install(group, self.groups.get(group.key))

    # -- validation --------------------------------------------------------

    @staticmethod
    def _check_push(families: list[Family]) -> None:
        names: set[str] = set()
        for fam in families:
            if fam.name in _RESERVED:
                raise PushError(
                    f"{_INVALID}metric name {go_quote(fam.name)} is reserved by the Pushgateway"
                )
            if fam.name in names:
                raise PushError(
                    f"{_INVALID}metric family {go_quote(fam.name)} appears twice in the push"
                )
            names.add(fam.name)

    def _check(self, key: GroupKey, old: Group | None, new: dict[str, Family]) -> None:
        own_old = old.families if old is not None else {}
        for name, fam in new.items():
            others = dict(self._types.get(name, {}))
            if name in own_old:
                t = own_old[name].type
                others[t] = others.get(t, 0) - 1
            for t, n in others.items():
                if n > 0 and t != fam.type:
                    raise PushError(
                        f"{_INVALID}metric family {go_quote(name)} is pushed as "
                        f"{fam.type.value} but other groups hold it as {t.value}"
                    )
        self._check_suffixes(new, own_old)
        prefixes = [s.prefix for fam in new.values() for s in fam.series]
        unique = set(prefixes)
        if len(unique) != len(prefixes):
            seen: set[str] = set()
            for fam in new.values():
                for s in fam.series:
                    if s.prefix in seen:
                        raise PushError(
                            f"{_INVALID}collected metric {go_quote(s.name)} with labels "
                            f"{format_labels(s.labels)} was collected before with the same name "
                            "and label values"
                        )
                    seen.add(s.prefix)
        foreign = set(map(self._owners.get, unique)) - {None, key}
        if foreign:
            owners = self._owners
            for fam in new.values():
                for s in fam.series:
                    owner = owners.get(s.prefix)
                    if owner is not None and owner != key:
                        raise PushError(
                            f"{_INVALID}collected metric {go_quote(s.name)} with labels "
                            f"{format_labels(s.labels)} is already pushed in group "
                            f"{format_labels(raw_labels(dict(owner)))}"
                        )

    def _check_suffixes(self, new: dict[str, Family], own_old: dict[str, Family]) -> None:
        """A histogram or summary ``x`` owns the names ``x_sum``, ``x_count``..."""

        def held(name: str) -> set[MetricType]:
            counts = dict(self._types.get(name, {}))
            if name in own_old:
                counts[own_old[name].type] = counts.get(own_old[name].type, 0) - 1
            types = {t for t, n in counts.items() if n > 0}
            if name in new:
                types.add(new[name].type)
            return types

        for name, fam in new.items():
            for suffix in _SUFFIXES.get(fam.type, ()):
                if held(name + suffix):
                    raise PushError(
                        f"{_INVALID}{fam.type.value} {go_quote(name)} collides with metric "
                        f"family {go_quote(name + suffix)}"
                    )
            for base_type, suffixes in _SUFFIXES.items():
                for suffix in suffixes:
                    if name.endswith(suffix) and base_type in held(name[: -len(suffix)]):
                        raise PushError(
                            f"{_INVALID}metric family {go_quote(name)} collides with "
                            f"{base_type.value} {go_quote(name[: -len(suffix)])}"
                        )

    # -- indexes -----------------------------------------------------------

    def _install(self, group: Group, old: Group | None) -> None:
        key = group.key
        new_prefixes = {s.prefix for fam in group.families.values() for s in fam.series}
        if old is not None:
            self._unindex(old, keep=new_prefixes)
        self.groups[key] = group
        for name, fam in group.families.items():
            counts = self._types.setdefault(name, {})
            counts[fam.type] = counts.get(fam.type, 0) + 1
            self._family_groups.setdefault(name, set()).add(key)
        self._owners.update(dict.fromkeys(new_prefixes, key))
        # Sample lines are rendered when /metrics is next read, not on every push.
        group.rendered = {}
        self._rerender_own(group)
        self.version += 1

    def _unindex(self, group: Group, keep: set[str] | frozenset[str] = frozenset()) -> None:
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
        owners = self._owners
        gone = {s.prefix for fam in group.families.values() for s in fam.series} - keep
        for prefix in gone:
            if owners.get(prefix) == group.key:
                del owners[prefix]

    @staticmethod
    def _rerender_own(group: Group) -> None:
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
                parts.extend(self._rendered(self.groups[k], name) for k in keys)
            return "".join(parts)

    @staticmethod
    def _rendered(group: Group, name: str) -> str:
        text = group.rendered.get(name)
        if text is None:
            text = group.rendered[name] = _render(group.families[name])
        return text

    def _merged_meta(self, name: str, keys: list[GroupKey]) -> tuple[str | None, MetricType]:
        """HELP from the first group (in key order) that has one: deterministic, unlike Go's."""
        families = [self.groups[k].families[name] for k in keys]
        help_text = next((f.help for f in families if f.help), None)
        return help_text, families[0].type

    def iter_groups(self) -> Iterator[Group]:
        with self.lock:
            yield from [self.groups[k] for k in sorted(self.groups)]


@dataclass(slots=True)
class _Shape:
    """What a body's line sequence means for a group: its series and its family runs.

    Cached per group: a push whose parsed entries are the same objects in the same
    order as the previous push's (the usual case: only values move) reuses it whole."""

    entries: list[SeriesEntry]
    series: list[Series]
    runs: list[tuple[str, MetricType, int, int]]


def _shape_of(entries: list[SeriesEntry], key: GroupKey) -> _Shape:
    grouping = dict(grouping_labels(key))
    series: list[Series] = []
    for e in entries:
        ref = e.ref
        if not isinstance(ref, Series):
            ref = e.ref = _series(e.name, e.labels, grouping)
        series.append(ref)
    # Split into families at each change of family (bodies keep a family's lines together).
    fams = [e.family for e in entries]
    starts = [0, *[i for i in range(1, len(fams)) if fams[i] is not fams[i - 1]]]
    ends = [*starts[1:], len(fams)]
    runs = [(fams[a][0], fams[a][1], a, b) for a, b in zip(starts, ends, strict=True)]
    return _Shape(list(entries), series, runs)


def _same_series(old: dict[str, Family], new: dict[str, Family]) -> bool:
    """Same family names, types and series objects (series are shared through the parse cache,
    so an unchanged body yields the very same objects and this is a C-speed identity scan)."""
    if old.keys() != new.keys():
        return False
    for name, fam in new.items():
        prev = old[name]
        if prev.type is not fam.type or prev.series != fam.series:
            return False
    return True


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _render(fam: Family) -> str:
    # Sorted by the rendered series text: label order, and a C-speed string sort.
    lines = sorted(zip([s.prefix for s in fam.series], fam.values, strict=True))
    return "".join([f"{prefix} {format_value(value)}\n" for prefix, value in lines])
