"""The notification log: what each receiver was last told about each group, and when.

The dispatcher asks it before notifying: if the same firing and resolved
alerts were already sent to this receiver for this group within
``repeat_interval``, nothing is sent. Because entries are durable before
:meth:`NotificationLog.log` returns (upstream only writes them every 15
minutes), a restart does not make the Alertmanager notify a group again.

An entry is keyed like upstream's: ``<group key>:<group name>/<integration>/<index>``.
Alert sets are the 64-bit alert hashes the dispatcher computes. Entries expire
``retention`` (``--data.retention``) after they were written, unless the
caller passes a longer ``expiry``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from promethean.alertmanager.store import Compaction, DurableLog

__all__ = ["Entry", "NotificationLog", "Receiver"]


@dataclass(frozen=True, slots=True)
class Receiver:
    """One integration of a receiver: ``webhook/0`` of receiver ``team-a``."""

    group_name: str
    integration: str
    idx: int = 0

    def key(self) -> str:
        return f"{self.group_name}/{self.integration}/{self.idx}"


@dataclass(frozen=True, slots=True)
class Entry:
    group_key: str
    receiver: Receiver
    timestamp: float
    firing_alerts: frozenset[int]
    resolved_alerts: frozenset[int]
    expires_at: float

    @property
    def resolved(self) -> bool:
        """Whether the last notification said every alert was resolved."""
        return not self.firing_alerts

    def is_firing_subset(self, firing: Iterable[int]) -> bool:
        return self.firing_alerts.issuperset(firing)

    def to_record(self) -> dict[str, Any]:
        return {
            "groupKey": self.group_key,
            "receiver": [self.receiver.group_name, self.receiver.integration, self.receiver.idx],
            "timestamp": self.timestamp,
            # Hex strings: JSON numbers lose precision beyond 2**53 in other readers.
            "firing": sorted(f"{h:016x}" for h in self.firing_alerts),
            "resolved": sorted(f"{h:016x}" for h in self.resolved_alerts),
            "expiresAt": self.expires_at,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Entry:
        name, integration, idx = rec["receiver"]
        return cls(
            group_key=str(rec["groupKey"]),
            receiver=Receiver(str(name), str(integration), int(idx)),
            timestamp=float(rec["timestamp"]),
            firing_alerts=frozenset(int(h, 16) for h in rec["firing"]),
            resolved_alerts=frozenset(int(h, 16) for h in rec["resolved"]),
            expires_at=float(rec["expiresAt"]),
        )


def state_key(group_key: str, receiver: Receiver) -> str:
    return f"{group_key}:{receiver.key()}"


class NotificationLog:
    """Entries by group and receiver; durable when a :class:`DurableLog` is attached."""

    def __init__(
        self,
        log: DurableLog | None = None,
        retention: float = 120 * 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._log = log
        self._retention = retention
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def load(self) -> int:
        """Fill from the attached log (call once at start); expired entries are skipped."""
        if self._log is None:
            return 0
        now = self._clock()
        for key, rec in self._log.load().items():
            entry = Entry.from_record(rec)
            if entry.expires_at >= now:
                self._entries[key] = entry
        return len(self._entries)

    def query(self, group_key: str, receiver: Receiver) -> Entry | None:
        """The last entry for this group and receiver, if any and not expired."""
        entry = self._entries.get(state_key(group_key, receiver))
        if entry is None or entry.expires_at < self._clock():
            return None
        return entry

    def record(
        self,
        receiver: Receiver,
        group_key: str,
        firing: Iterable[int],
        resolved: Iterable[int],
        expiry: float = 0.0,
    ) -> Entry:
        """Note a successful notification; durable after :meth:`sync` (or use :meth:`log`)."""
        now = self._clock()
        keep = max(expiry, self._retention)
        entry = Entry(group_key, receiver, now, frozenset(firing), frozenset(resolved), now + keep)
        key = state_key(group_key, receiver)
        with self._lock:
            self._entries[key] = entry
            if self._log is not None:
                self._log.append(key, entry.to_record())
        return entry

    async def log(
        self,
        receiver: Receiver,
        group_key: str,
        firing: Iterable[int],
        resolved: Iterable[int],
        expiry: float = 0.0,
    ) -> Entry:
        """:meth:`record`, then wait until it is on disk."""
        entry = self.record(receiver, group_key, firing, resolved, expiry)
        await self.sync()
        return entry

    def close(self) -> None:
        """Flush and close the attached log (at shutdown)."""
        if self._log is not None:
            self._log.close()

    async def sync(self) -> None:
        if self._log is not None:
            await self._log.sync()

    def log_blocking(
        self,
        receiver: Receiver,
        group_key: str,
        firing: Iterable[int],
        resolved: Iterable[int],
        expiry: float = 0.0,
    ) -> Entry:
        """:meth:`record` and fsync, for callers outside an event loop."""
        entry = self.record(receiver, group_key, firing, resolved, expiry)
        if self._log is not None:
            self._log.sync_blocking()
        return entry

    def gc(self, now: float | None = None) -> int:
        when = self._clock() if now is None else now
        with self._lock:
            gone = [k for k, e in self._entries.items() if e.expires_at < when]
            for key in gone:
                del self._entries[key]
        return len(gone)

    def begin_compaction(self) -> Compaction | None:
        if self._log is None:
            return None
        with self._lock:
            now = self._clock()
            for key in [k for k, e in self._entries.items() if e.expires_at < now]:
                del self._entries[key]
            state = {k: e.to_record() for k, e in self._entries.items()}
            return self._log.begin_compaction(state)
