"""Silences: matchers plus a time range that mute matching alerts, with upstream's rules.

A silence is *pending* before ``startsAt``, *active* until ``endsAt`` and
*expired* after. Creating or updating follows the Go Alertmanager exactly,
because amtool and UIs rely on it:

* a new silence gets a fresh UUID; a ``startsAt`` in the past is moved to now;
* an update (``id`` given) keeps the id when nothing but comment, author or
  times allowed in its state changed: same matchers, and for an active
  silence the same ``startsAt`` and an ``endsAt`` not in the past, for a
  pending one a ``startsAt`` not in the past;
* any other update expires the old silence (unless already expired) and
  creates a new one with a new id; an unknown id is "silence not found".

Validation messages are upstream's (``silence invalid: ...``); regular
expressions run on RE2 and are reported with Go's wording.

Every change is appended to a :class:`~promethean.alertmanager.store.DurableLog`
when one is attached; callers ``await silences.sync()`` before acknowledging.
Expired silences are kept for ``retention`` after their end, then collected.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from promethean.alertmanager.store import Compaction, DurableLog
from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.model.names import is_valid_label_value, is_valid_legacy_label_name
from promethean.template import FuncError
from promethean.template.regex import compile_go

__all__ = [
    "Silence",
    "SilenceError",
    "SilenceMatcher",
    "SilenceNotFound",
    "Silences",
    "silence_state",
    "sort_for_api",
]

ACTIVE = "active"
PENDING = "pending"
EXPIRED = "expired"


class SilenceError(ValueError):
    """A silence that cannot be stored; the message is upstream's and safe to show."""


class SilenceNotFound(SilenceError):
    def __init__(self) -> None:
        super().__init__("silence not found")


@dataclass(frozen=True, slots=True)
class SilenceMatcher:
    """One matcher as API v2 carries it (``isEqual`` false negates)."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @property
    def match_type(self) -> MatchType:
        if self.is_regex:
            return MatchType.REGEX if self.is_equal else MatchType.NOT_REGEX
        return MatchType.EQUAL if self.is_equal else MatchType.NOT_EQUAL

    def to_matcher(self) -> Matcher:
        return Matcher(self.name, self.match_type, self.value)

    def to_json(self) -> dict[str, Any]:
        return {
            "isEqual": self.is_equal,
            "isRegex": self.is_regex,
            "name": self.name,
            "value": self.value,
        }


def _matches_empty(m: SilenceMatcher) -> bool:
    """Upstream's check: only ``=""`` and regexes matching "" count (not negative ones)."""
    if not m.is_equal:
        return False
    if not m.is_regex:
        return m.value == ""
    return compile_go(m.value).search("") is not None


def _validate_matcher(m: SilenceMatcher) -> str | None:
    if not is_valid_legacy_label_name(m.name):
        return f'invalid label name "{m.name}"'
    if m.is_regex:
        try:
            compile_go(m.value)
        except FuncError as exc:
            return f'invalid regular expression "{m.value}": {exc}'
    elif not is_valid_label_value(m.value):
        return f'invalid label value "{m.value}"'
    return None


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[SilenceMatcher, ...]
    starts_at: float
    ends_at: float
    updated_at: float = 0.0
    created_by: str = ""
    comment: str = ""
    _compiled: tuple[Matcher, ...] = field(default=(), compare=False, repr=False)

    def compiled(self) -> tuple[Matcher, ...]:
        if not self._compiled and self.matchers:
            object.__setattr__(self, "_compiled", tuple(m.to_matcher() for m in self.matchers))
        return self._compiled

    def state(self, now: float) -> str:
        return silence_state(self.starts_at, self.ends_at, now)

    def matches(self, labels: Labels) -> bool:
        return all(m.matches(labels.get(m.name)) for m in self.compiled())

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "matchers": [m.to_json() for m in self.matchers],
            "startsAt": self.starts_at,
            "endsAt": self.ends_at,
            "updatedAt": self.updated_at,
            "createdBy": self.created_by,
            "comment": self.comment,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Silence:
        return cls(
            id=str(rec["id"]),
            matchers=tuple(
                SilenceMatcher(
                    str(m["name"]), str(m["value"]), bool(m["isRegex"]), bool(m["isEqual"])
                )
                for m in rec["matchers"]
            ),
            starts_at=float(rec["startsAt"]),
            ends_at=float(rec["endsAt"]),
            updated_at=float(rec["updatedAt"]),
            created_by=str(rec.get("createdBy", "")),
            comment=str(rec.get("comment", "")),
        )


def silence_state(starts_at: float, ends_at: float, now: float) -> str:
    """Upstream's states; the end instant itself counts as expired, so an expired
    silence never reads as active within the clock's resolution."""
    if now >= ends_at:
        return EXPIRED
    if now < starts_at:
        return PENDING
    return ACTIVE


def _validate(sil: Silence) -> None:
    if not sil.matchers:
        raise SilenceError("silence invalid: at least one matcher required")
    all_match_empty = True
    for i, m in enumerate(sil.matchers):
        problem = _validate_matcher(m)
        if problem is not None:
            raise SilenceError(f"silence invalid: invalid label matcher {i}: {problem}")
        all_match_empty = all_match_empty and _matches_empty(m)
    if all_match_empty:
        raise SilenceError("silence invalid: at least one matcher must not match the empty string")
    if sil.ends_at < sil.starts_at:
        raise SilenceError("silence invalid: end time must not be before start time")


def _same_time(a: float, b: float) -> bool:
    return round(a * 1_000_000) == round(b * 1_000_000)


def _can_update(old: Silence, new: Silence, now: float) -> bool:
    """Upstream's ``canUpdate``: may ``new`` replace ``old`` in place?"""
    if old.matchers != new.matchers:
        return False
    state = old.state(now)
    if state == ACTIVE:
        return _same_time(old.starts_at, new.starts_at) and not new.ends_at < now
    if state == PENDING:
        return not new.starts_at < now
    return False


def _now_ms() -> float:
    """Now, truncated to the millisecond the API prints, so a read-back value compares equal."""
    return int(time.time() * 1000) / 1000


class Silences:
    """The silence store. Mutations are serialised by a lock; reads are lock-free snapshots."""

    def __init__(
        self,
        log: DurableLog | None = None,
        retention: float = 120 * 3600.0,
        clock: Callable[[], float] = _now_ms,
    ) -> None:
        self._log = log
        self._retention = retention
        self._clock = clock
        self._lock = threading.Lock()
        self._by_id: dict[str, Silence] = {}
        self.version = 0

    # -- loading and persistence -------------------------------------------

    def load(self) -> int:
        """Fill from the attached log (call once at start); returns how many were loaded."""
        if self._log is None:
            return 0
        for key, rec in self._log.load().items():
            self._by_id[key] = Silence.from_record(rec)
        self.version += 1
        return len(self._by_id)

    def sync_blocking(self) -> None:
        """:meth:`sync` for callers outside an event loop."""
        if self._log is not None:
            self._log.sync_blocking()

    def close(self) -> None:
        """Flush and close the attached log (at shutdown)."""
        if self._log is not None:
            self._log.close()

    async def sync(self) -> None:
        """Return once every change made so far is on disk (no-op without a log)."""
        if self._log is not None:
            await self._log.sync()

    def begin_compaction(self) -> Compaction | None:
        """Collect expired silences past retention and start a snapshot (see store)."""
        if self._log is None:
            return None
        with self._lock:
            self._collect(self._clock())
            state = {sid: s.to_record() for sid, s in self._by_id.items()}
            return self._log.begin_compaction(state)

    def _record(self, sil: Silence) -> None:
        self._by_id[sil.id] = sil
        self.version += 1
        if self._log is not None:
            self._log.append(sil.id, sil.to_record())

    # -- reads ---------------------------------------------------------------

    def get(self, sid: str) -> Silence | None:
        return self._by_id.get(sid)

    def all(self) -> list[Silence]:
        return list(self._by_id.values())

    def now(self) -> float:
        return self._clock()

    def mutes(self, labels: Labels, now: float | None = None) -> list[str]:
        """Ids of the active silences that match ``labels`` (sorted)."""
        when = self._clock() if now is None else now
        return sorted(
            s.id
            for s in list(self._by_id.values())
            if s.starts_at <= when < s.ends_at and s.matches(labels)
        )

    # -- changes -------------------------------------------------------------

    def set(
        self,
        matchers: Sequence[SilenceMatcher],
        starts_at: float,
        ends_at: float,
        created_by: str,
        comment: str,
        sid: str = "",
    ) -> str:
        """Create, or update by ``sid``, following upstream's rules; returns the id in force."""
        with self._lock:
            now = self._clock()
            new = Silence(sid, tuple(matchers), starts_at, ends_at, now, created_by, comment)
            prev = self._by_id.get(sid) if sid else None
            if sid and prev is None:
                raise SilenceNotFound()
            if prev is not None:
                if _can_update(prev, new, now):
                    _validate(new)
                    self._record(new)
                    return sid
                _validate(replace(new, id="x", starts_at=max(new.starts_at, now)))
                if prev.state(now) != EXPIRED:
                    self._expire(prev, now)
            new = replace(new, id=str(uuid.uuid4()), starts_at=max(new.starts_at, now))
            _validate(new)
            self._record(new)
            return new.id

    def expire(self, sid: str) -> None:
        """End a silence now (a pending one gets start = end = now); expired: no change."""
        with self._lock:
            sil = self._by_id.get(sid)
            if sil is None:
                raise SilenceNotFound()
            now = self._clock()
            if sil.state(now) != EXPIRED:
                self._expire(sil, now)

    def _expire(self, sil: Silence, now: float) -> None:
        if sil.state(now) == PENDING:
            sil = replace(sil, starts_at=now, ends_at=now, updated_at=now)
        else:
            sil = replace(sil, ends_at=now, updated_at=now)
        self._record(sil)

    def gc(self, now: float | None = None) -> int:
        """Drop silences that ended more than ``retention`` ago; returns how many."""
        with self._lock:
            return self._collect(self._clock() if now is None else now)

    def _collect(self, now: float) -> int:
        gone = [s.id for s in self._by_id.values() if s.ends_at + self._retention < now]
        for sid in gone:
            del self._by_id[sid]
        if gone:
            self.version += 1
        return len(gone)

    def restore(self, silences: Iterable[Silence]) -> None:
        """Add silences as they are (import, tests); recorded in the log."""
        with self._lock:
            for sil in silences:
                self._record(sil)


def sort_for_api(silences: Iterable[Silence], now: float) -> list[Silence]:
    """Upstream's order: active by end, then pending by start, then expired by end, newest first."""
    items = list(silences)
    active = sorted((s for s in items if s.state(now) == ACTIVE), key=lambda s: s.ends_at)
    rest = [s for s in items if s.state(now) != ACTIVE]
    pending = sorted((s for s in rest if s.state(now) == PENDING), key=lambda s: s.starts_at)
    expired = sorted(
        (s for s in rest if s.state(now) == EXPIRED), key=lambda s: s.ends_at, reverse=True
    )
    return active + pending + expired
