"""Durable keyed state: a snapshot plus an append-only log, fsynced before acknowledging.

Upstream writes silences and the notification log only at maintenance
(every 15 minutes) and on a clean shutdown, so a silence created just before
a crash is lost. Here every change is one JSON line appended to
``<name>.wal.<generation>``; :meth:`DurableLog.sync` returns once it is on
disk (one ``fsync`` covers every change written before it, so concurrent
writers share it). :meth:`DurableLog.begin_compaction` switches to a new log
generation at the instant the state is copied; finishing it writes that state as
``<name>.snap`` (temporary file, fsync, rename, directory fsync); the snapshot
names its generation, so logs older than it are ignored and removed.

Crash safety: a SIGKILL can leave at most a torn last line, which has no
newline or is not JSON; loading drops it with a warning. Anything acknowledged
was fsynced and is replayed. Records are upserts by key (``None`` deletes), so
replaying a log over the snapshot it produced is harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

from promethean.fsutil import fsync_dir, write_atomically
from promethean.logs import kv

__all__ = ["Compaction", "DurableLog", "StoreError"]

log = logging.getLogger(__name__)
_FORMAT_VERSION = 1


class StoreError(RuntimeError):
    """A data file cannot be read; the message names the file and the problem."""


class DurableLog:
    """Keyed JSON records in ``directory`` under ``name``.

    Call :meth:`load` once before anything else. Appends happen on the
    caller's thread (a ``write`` to the page cache, microseconds); the fsync
    is what :meth:`sync` (async) or :meth:`sync_blocking` wait for.
    """

    def __init__(self, directory: str | Path, name: str) -> None:
        self.directory = Path(directory)
        self.name = name
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._generation = 0
        self._written = 0
        self._synced = 0
        self._retiring: list[tuple[int, Path]] = []
        self._inflight: asyncio.Future[None] | None = None

    @property
    def snapshot_path(self) -> Path:
        return self.directory / f"{self.name}.snap"

    def _log_path(self, generation: int) -> Path:
        return self.directory / f"{self.name}.wal.{generation}"

    def _log_files(self) -> list[tuple[int, Path]]:
        prefix = f"{self.name}.wal."
        out = []
        for path in self.directory.glob(prefix + "*"):
            suffix = path.name[len(prefix) :]
            if suffix.isdigit():
                out.append((int(suffix), path))
        return sorted(out)

    # -- start-up ------------------------------------------------------------

    def load(self) -> dict[str, Any]:
        """Read snapshot and logs into a dict, then start a fresh generation."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create data directory {self.directory}: {exc.strerror}"
            ) from None
        state: dict[str, Any] = {}
        generation = 0
        try:
            raw = self.snapshot_path.read_bytes()
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            raise StoreError(f"cannot read {self.snapshot_path}: {exc.strerror}") from None
        if raw is not None:
            try:
                doc = json.loads(raw)
                if doc.get("version") != _FORMAT_VERSION:
                    raise ValueError(f"unsupported format version {doc.get('version')!r}")
                generation = int(doc["generation"])
                records = doc["records"]
                if not isinstance(records, dict):
                    raise ValueError("records is not an object")
                state.update(records)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise StoreError(
                    f"data file {self.snapshot_path} is corrupt ({exc}); move it away to start "
                    "without it"
                ) from None
        latest = generation
        for number, path in self._log_files():
            latest = max(latest, number)
            if number < generation:
                continue
            self._replay(path, state)
        self._generation = latest
        self._write_snapshot(state, latest + 1)
        with self._lock:
            self._open_generation(latest + 1)
        self._remove_old_logs(latest + 1)
        return state

    def _replay(self, path: Path, state: dict[str, Any]) -> None:
        raw = path.read_bytes()
        good = 0
        for line in raw.splitlines(keepends=True):
            if not line.endswith(b"\n"):
                break
            try:
                key, record = json.loads(line)
            except (ValueError, TypeError):
                break
            if record is None:
                state.pop(str(key), None)
            else:
                state[str(key)] = record
            good += len(line)
        if good != len(raw):
            log.warning(
                "dropping a torn record at the end of a log (a crash while writing it)",
                extra=kv(component="store", file=str(path), offset=good),
            )

    def _remove_old_logs(self, keep_from: int) -> None:
        for number, path in self._log_files():
            if number < keep_from:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def _open_generation(self, generation: int) -> None:
        """Switch appends to a new log file (caller holds the lock)."""
        path = self._log_path(generation)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fsync_dir(self.directory)
        if self._fd is not None:
            self._retiring.append((self._fd, self._log_path(self._generation)))
        self._fd = fd
        self._generation = generation

    # -- changes -------------------------------------------------------------

    def append(self, key: str, record: Any) -> None:
        """Write one change (``None`` deletes ``key``); durable after the next sync."""
        line = (json.dumps([key, record], separators=(",", ":")) + "\n").encode()
        with self._lock:
            if self._fd is None:
                raise StoreError(f"{self.name}: log is not open")
            os.write(self._fd, line)
            self._written += 1

    def sync_blocking(self) -> None:
        """fsync everything appended so far (blocking)."""
        with self._lock:
            target = self._written
            if self._synced >= target:
                return
            fds = [os.dup(fd) for fd, _ in self._retiring]
            if self._fd is not None:
                fds.append(os.dup(self._fd))
        try:
            for fd in fds:
                os.fsync(fd)
        finally:
            for fd in fds:
                os.close(fd)
        with self._lock:
            self._synced = max(self._synced, target)

    async def sync(self) -> None:
        """Wait until every change appended before this call is on disk."""
        target = self._written
        while self._synced < target:
            if self._inflight is None or self._inflight.done():
                self._inflight = asyncio.ensure_future(asyncio.to_thread(self.sync_blocking))
            await asyncio.shield(self._inflight)

    # -- compaction ------------------------------------------------------------

    def begin_compaction(self, state: dict[str, Any]) -> Compaction:
        """Start a new log generation for a snapshot of ``state`` (fast).

        Call it at the moment ``state`` is copied, with no change in between
        (on the thread that makes the changes, or under the owner's lock), then
        finish the returned :class:`Compaction` off the event loop.
        """
        with self._lock:
            generation = self._generation + 1
            self._open_generation(generation)
            return Compaction(self, state, generation, self._written)

    def _finish(self, compaction: Compaction) -> None:
        self._write_snapshot(compaction.state, compaction.generation)
        with self._lock:
            retiring, self._retiring = self._retiring, []
            # Everything written before the switch is in the snapshot now.
            self._synced = max(self._synced, compaction.written)
        for fd, path in retiring:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def _write_snapshot(self, state: dict[str, Any], generation: int) -> None:
        doc = {"version": _FORMAT_VERSION, "generation": generation, "records": state}
        data = json.dumps(doc, separators=(",", ":")).encode()
        write_atomically(self.snapshot_path, data)

    def close(self) -> None:
        with self._lock:
            for fd, _ in self._retiring:
                os.close(fd)
            self._retiring = []
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None


class Compaction:
    """A snapshot being written; :meth:`finish_blocking` or ``await finish()`` completes it."""

    __slots__ = ("generation", "log", "state", "written")

    def __init__(
        self, log: DurableLog, state: dict[str, Any], generation: int, written: int
    ) -> None:
        self.log = log
        self.state = state
        self.generation = generation
        self.written = written

    def finish_blocking(self) -> None:
        self.log._finish(self)

    async def finish(self) -> None:
        await asyncio.to_thread(self.log._finish, self)
