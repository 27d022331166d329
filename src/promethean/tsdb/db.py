"""The database: a data directory with a head, its WAL and immutable blocks.

:class:`DB` implements :class:`~promethean.tsdb.storage.Storage`. Opening it
takes the directory's lock file, removes what a crash left half-made, opens
the blocks, and replays the WAL (newest checkpoint, then the segments after
it, cutting a torn tail). :meth:`DB.compact` is the periodic maintenance
upstream runs every minute: cut the head into a block once it spans more than
1.5 block ranges, truncate the head and checkpoint the WAL, compact blocks
into larger ones, and apply retention.

Queriers merge the blocks overlapping their range with the head. Blocks
replaced by compaction or retention stay open (their files are memory-mapped,
so unlinking does not disturb a reader) until the last querier using them is
closed.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import logging
import os
import shutil
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from promethean.logs import kv
from promethean.model.labels import Labels
from promethean.model.matchers import Matcher
from promethean.tsdb import checkpoint as ckpt
from promethean.tsdb import wal as walmod
from promethean.tsdb.block import (
    Block,
    cleanup_tmp_dirs,
    dir_size,
    list_block_dirs,
    write_block,
)
from promethean.tsdb.compact import block_ranges, remove_superseded_blocks, run_compactions
from promethean.tsdb.faults import crash_point
from promethean.tsdb.head import INT64_MAX, INT64_MIN, Head, HeadAppender, HeadStats
from promethean.tsdb.retention import apply_retention
from promethean.tsdb.snapshot import SNAPSHOTS_DIR, snapshot_blocks, snapshot_name
from promethean.tsdb.storage import Querier, Series
from promethean.tsdb.tombstones import clean_tombstones as _clean_block_tombstones
from promethean.tsdb.tombstones import delete_series as _delete_in_block

__all__ = ["DB", "DBError", "DBLockedError", "DBOptions", "DBQuerier", "DBStats"]

log = logging.getLogger("promethean.tsdb")

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
LOCK_FILE = "lock"
WAL_DIR = "wal"


class DBError(Exception):
    """A database that cannot be opened or maintained; the message is safe to show."""


class DBLockedError(DBError):
    pass


@dataclass(slots=True)
class DBOptions:
    """Upstream's ``--storage.tsdb.*`` settings, in milliseconds and bytes."""

    block_range: int = 2 * HOUR_MS
    retention_ms: int = 15 * DAY_MS
    retention_bytes: int = 0
    max_block_duration: int | None = None
    no_lockfile: bool = False
    ooo_window: int = 0
    wal_segment_size: int = walmod.DEFAULT_SEGMENT_SIZE
    head_row_width: int = 64


@dataclass(slots=True)
class DBStats:
    """Counters for the ``prometheus_tsdb_*`` self-metrics (head counters live in ``head``)."""

    head: HeadStats
    compactions: int = 0
    compactions_failed: int = 0
    head_truncations: int = 0
    checkpoints_created: int = 0
    checkpoint_failures: int = 0
    wal_corruptions: int = 0
    wal_replay_seconds: float = 0.0
    blocks_loaded: int = 0
    retention_time_deletions: int = 0
    retention_size_deletions: int = 0
    snapshots: int = 0
    removed_on_startup: list[str] = field(default_factory=list)


class DB:
    """See the module docstring. Thread-safe."""

    def __init__(self, path: str | os.PathLike[str], options: DBOptions | None = None) -> None:
        self.path = Path(path)
        self.options = options or DBOptions()
        self._lock_fd = -1
        self._maint = threading.RLock()
        self._blocks_lock = threading.Lock()
        self._blocks: list[Block] = []
        self._readers: dict[int, int] = {}
        self._retired: dict[int, Block] = {}
        self._bg: threading.Thread | None = None
        self._bg_stop = threading.Event()
        self._closed = False
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DBError(f"create data directory {self.path}: {exc.strerror}") from None
        if not self.options.no_lockfile:
            self._take_lock()
        try:
            self._open()
        except BaseException:
            self._release_lock()
            raise

    # --- opening --------------------------------------------------------------

    def _take_lock(self) -> None:
        lock_path = self.path / LOCK_FILE
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise DBLockedError(
                f"lock DB directory: {lock_path} is held by another process "
                "(two servers cannot share a data directory; "
                "--storage.tsdb.no-lockfile skips this check)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                (self.path / LOCK_FILE).unlink()
            os.close(self._lock_fd)
            self._lock_fd = -1

    def _open(self) -> None:
        opts = self.options
        removed = [p.name for p in cleanup_tmp_dirs(self.path)]
        removed += remove_superseded_blocks(self.path)
        self._ranges = block_ranges(
            opts.retention_ms or None, opts.max_block_duration, opts.block_range
        )
        self._blocks = [Block.open(p) for p in list_block_dirs(self.path)]
        self._blocks.sort(key=lambda b: b.min_time)
        min_valid = max((b.max_time for b in self._blocks), default=INT64_MIN)
        self.head = Head(
            chunk_range=opts.block_range,
            ooo_window=opts.ooo_window,
            row_width=opts.head_row_width,
            min_valid_time=min_valid,
        )
        self.stats = DBStats(head=self.head.stats, removed_on_startup=removed)
        self.stats.blocks_loaded = len(self._blocks)
        wal_dir = self.path / WAL_DIR
        started = time.monotonic()
        self._replay(wal_dir)
        self.stats.wal_replay_seconds = time.monotonic() - started
        if min_valid != INT64_MIN:
            self.head.truncate(min_valid)
        self.wal = walmod.WAL(wal_dir, opts.wal_segment_size)
        self.head.wal = self.wal
        log.info(
            "TSDB started",
            extra=kv(
                component="tsdb",
                blocks=len(self._blocks),
                series=self.head.num_series,
                replay_duration=f"{self.stats.wal_replay_seconds:.3f}s",
            ),
        )

    def _replay(self, wal_dir: Path) -> None:
        found = ckpt.latest_checkpoint(wal_dir)
        after = -1
        if found is not None:
            after, cp_path = found
            bodies, corruption = ckpt.read_checkpoint(cp_path)
            if corruption is not None:
                raise DBError(
                    f"WAL checkpoint {cp_path.name} is corrupt at offset {corruption.offset}: "
                    f"{corruption.reason}; move it away to start without it"
                )
            for body in bodies:
                self.head.replay_body(body)
        segments = list(walmod.iter_segment_paths(wal_dir))
        for i, (index, seg_path) in enumerate(segments):
            if index <= after:
                seg_path.unlink(missing_ok=True)  # already in the checkpoint
                continue
            bodies, corruption = walmod.read_records(seg_path)
            for j, body in enumerate(bodies):
                try:
                    self.head.replay_body(body)
                except (ValueError, IndexError) as exc:
                    # Intact framing but an undecodable body: treat as corruption.
                    offset = _offset_of_record(bodies, j)
                    corruption = walmod.Corruption(seg_path, offset, f"bad record: {exc}")
                    break
            if corruption is not None:
                self.stats.wal_corruptions += 1
                walmod.repair(corruption, [p for _, p in segments[i + 1 :]])
                break

    # --- Storage --------------------------------------------------------------

    def appender(self) -> HeadAppender:
        return self.head.appender()

    def querier(self, mint: int, maxt: int) -> DBQuerier:
        with self._blocks_lock:
            blocks = [b for b in self._blocks if b.meta.overlaps(mint, maxt)]
            for b in blocks:
                self._readers[id(b)] = self._readers.get(id(b), 0) + 1
        return DBQuerier(self, blocks, mint, maxt)

    def _release(self, blocks: Sequence[Block]) -> None:
        with self._blocks_lock:
            for b in blocks:
                left = self._readers.get(id(b), 0) - 1
                if left <= 0:
                    self._readers.pop(id(b), None)
                    retired = self._retired.pop(id(b), None)
                    if retired is not None:
                        retired.close()
                else:
                    self._readers[id(b)] = left

    @property
    def blocks(self) -> list[Block]:
        with self._blocks_lock:
            return list(self._blocks)

    def _reload_blocks(self) -> None:
        """Match the open blocks to the directory: open new ones, retire vanished ones."""
        on_disk = {p.name: p for p in list_block_dirs(self.path)}
        with self._blocks_lock:
            current = {b.ulid: b for b in self._blocks}
            keep = [b for u, b in current.items() if u in on_disk]
            for u, b in current.items():
                if u not in on_disk:
                    if self._readers.get(id(b)):
                        self._retired[id(b)] = b
                    else:
                        b.close()
            for u, p in on_disk.items():
                if u not in current:
                    keep.append(Block.open(p))
            keep.sort(key=lambda b: b.min_time)
            self._blocks = keep
            self.stats.blocks_loaded = len(keep)

    # --- maintenance ----------------------------------------------------------

    def compact(self) -> None:
        """Cut the head into blocks while it is compactable, then compact blocks and
        apply retention. Errors are logged and counted; the head keeps its data."""
        with self._maint:
            try:
                self._compact_head()
                result = run_compactions(self.path, self._ranges)
                crash_point("compaction.done")
                if result.created or result.deleted:
                    self.stats.compactions += len(result.created)
                    self._reload_blocks()
                self._apply_retention()
            except (OSError, ValueError) as exc:
                self.stats.compactions_failed += 1
                log.error("Compaction failed", extra=kv(component="tsdb", err=exc))

    def _compact_head(self) -> None:
        head = self.head
        rng = self.options.block_range
        cut = False
        while head.compactable():
            mint = head.min_time
            maxt = (mint // rng) * rng + rng  # exclusive end, aligned as upstream
            meta = write_block(
                self.path, head.series_in_range(mint, maxt - 1), min_time=mint, max_time=maxt
            )
            self.stats.compactions += 1
            crash_point("head.block_written")
            if meta is not None:
                self._reload_blocks()
            head.truncate(maxt)
            crash_point("head.truncated")
            self.stats.head_truncations += 1
            cut = True
        if head.ooo_range() is not None and (cut or self._ooo_due()):
            self._flush_ooo()
            cut = True
        if cut:
            self._checkpoint()

    def _ooo_due(self) -> bool:
        """OOO samples older than the head's in-order window go to blocks promptly."""
        rng = self.head.ooo_range()
        return rng is not None and rng[0] < self.head.min_valid_time

    def _flush_ooo(self) -> None:
        """Write the out-of-order samples into blocks (one per block range) and drop them."""
        items = list(self.head.ooo_series())
        if not items:
            return
        rng = self.options.block_range
        lo = min(int(ts[0]) for _, ts, _ in items)
        hi = max(int(ts[-1]) for _, ts, _ in items)
        start = (lo // rng) * rng
        while start <= hi:
            end = start + rng
            part = []
            for lab, ts, vs in items:
                a, b = np.searchsorted(ts, [start, end])
                if b > a:
                    part.append((lab, ts[a:b], vs[a:b]))
            if part:
                write_block(self.path, part, min_time=start, max_time=end)
            start = end
        self.head.drop_ooo()
        self._reload_blocks()

    def _checkpoint(self) -> None:
        """Checkpoint the head and drop the WAL segments it covers."""
        try:
            with self.head._lock:
                new_seg = self.wal.rotate()
                bodies = self.head.checkpoint_bodies()
            crash_point("checkpoint.wal_rotated")
            index = new_seg - 1
            ckpt.write_checkpoint(self.wal.dir, index, bodies)
            crash_point("checkpoint.published")
            self.wal.remove_before(new_seg)
            crash_point("checkpoint.segments_removed")
            ckpt.remove_stale(self.wal.dir, index)
            crash_point("checkpoint.done")
            self.stats.checkpoints_created += 1
        except OSError as exc:
            self.stats.checkpoint_failures += 1
            log.error("WAL checkpoint failed", extra=kv(component="tsdb", err=exc))

    def _apply_retention(self) -> None:
        opts = self.options
        if not opts.retention_ms and not opts.retention_bytes:
            return
        before = {b.ulid: b for b in self.blocks}
        extra = dir_size(self.path / WAL_DIR) if opts.retention_bytes else 0
        deleted = apply_retention(self.path, opts.retention_ms, opts.retention_bytes, extra)
        if not deleted:
            return
        newest = max((b.max_time for b in before.values()), default=0)
        for u in deleted:
            b = before.get(u)
            if b is not None and opts.retention_ms and newest - b.max_time > opts.retention_ms:
                self.stats.retention_time_deletions += 1
            else:
                self.stats.retention_size_deletions += 1
        self._reload_blocks()

    def start(self, interval_s: float = 60.0) -> None:
        """Run :meth:`compact` every ``interval_s`` in a daemon thread (upstream: 1 min)."""
        if self._bg is not None:
            return

        def loop() -> None:
            while not self._bg_stop.wait(interval_s):
                self.compact()

        self._bg = threading.Thread(target=loop, name="tsdb-compact", daemon=True)
        self._bg.start()

    # --- admin ----------------------------------------------------------------

    def delete_series(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> None:
        """Hide matching samples in [mint, maxt] now (tombstones in blocks and head)."""
        with self._maint:
            for block in self.blocks:
                _delete_in_block(block, matchers, mint, maxt)
            self.head.delete(matchers, mint, maxt)

    def clean_tombstones(self) -> None:
        """Rewrite blocks that have tombstones without the deleted data."""
        with self._maint:
            affected = [Block.open(b.path) for b in self.blocks if b.tombstones]
            if affected:
                _clean_block_tombstones(affected)
                self._reload_blocks()

    def snapshot(self, skip_head: bool = False) -> str:
        """Write ``snapshots/<name>`` (blocks hard-linked, head as a block); returns name."""
        with self._maint:
            name = snapshot_name()
            snaps = self.path / SNAPSHOTS_DIR
            snaps.mkdir(exist_ok=True)
            dirs = [b.path for b in self.blocks]
            head_tmp = snaps / f".head-{name}"
            try:
                if not skip_head and self.head.max_time != INT64_MIN:
                    head = self.head
                    lo = min(head.min_time, (head.ooo_range() or (INT64_MAX, 0))[0])
                    meta = write_block(
                        head_tmp,
                        head.series_in_range(lo, head.max_time),
                        min_time=lo,
                        max_time=head.max_time + 1,
                    )
                    if meta is not None:
                        dirs.append(head_tmp / meta.ulid)
                snapshot_blocks(dirs, snaps / name)
            finally:
                shutil.rmtree(head_tmp, ignore_errors=True)
            self.stats.snapshots += 1
            return name

    # --- closing --------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._bg_stop.set()
        if self._bg is not None:
            self._bg.join()
        with self._maint:
            self.wal.close()
            with self._blocks_lock:
                for b in self._blocks:
                    b.close()
                for b in self._retired.values():
                    b.close()
                self._blocks = []
                self._retired.clear()
            self._release_lock()

    def __enter__(self) -> DB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _offset_of_record(bodies: Sequence[bytes], index: int) -> int:
    return sum(8 + len(b) for b in bodies[:index])


class DBQuerier:
    """Merges block queriers and the head for one time range."""

    def __init__(self, db: DB, blocks: list[Block], mint: int, maxt: int) -> None:
        self._db = db
        self._blocks = blocks
        self.mint = mint
        self.maxt = maxt
        self._closed = False
        self._parts: list[Querier] = [b.querier(mint, maxt) for b in blocks]
        if _head_overlaps(db.head, mint, maxt):
            self._parts.append(db.head.querier(mint, maxt))

    def select(self, matchers: Sequence[Matcher], sort: bool = False) -> Iterator[Series]:
        if not self._parts:
            return iter(())
        if len(self._parts) == 1:
            return self._parts[0].select(matchers, sort)
        found: dict[Labels, list[Series]] = {}
        for part in self._parts:
            for s in part.select(matchers, False):
                lst = found.get(s.labels)
                if lst is None:
                    found[s.labels] = [s]
                else:
                    lst.append(s)
        keys = sorted(found) if sort else list(found)
        return (_merge_series(found[k]) for k in keys)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        names: set[str] = set()
        for part in self._parts:
            names.update(part.label_names(matchers))
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values: set[str] = set()
        for part in self._parts:
            values.update(part.label_values(name, matchers))
        return sorted(values)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for part in self._parts:
            part.close()
        self._db._release(self._blocks)

    def __enter__(self) -> DBQuerier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _head_overlaps(head: Head, mint: int, maxt: int) -> bool:
    """Whether the head holds anything in [mint, maxt]: an empty head, or one holding only
    newer data than a query into the past, costs nothing per select."""
    if head.max_time >= mint and head.min_time <= maxt:
        return True
    ooo = head.ooo_range()
    return ooo is not None and ooo[1] >= mint and ooo[0] <= maxt


def _merge_series(parts: list[Series]) -> Series:
    """One series from several sources: time order, first sample of a timestamp wins."""
    if len(parts) == 1:
        return parts[0]
    parts.sort(key=lambda s: int(s.timestamps[0]) if len(s.timestamps) else 0)
    ts: npt.NDArray[np.int64] = np.concatenate([p.timestamps for p in parts])
    vs: npt.NDArray[np.float64] = np.concatenate([p.values for p in parts])
    disjoint = all(
        len(a.timestamps) and len(b.timestamps) and a.timestamps[-1] < b.timestamps[0]
        for a, b in itertools.pairwise(parts)
    )  # the usual case, blocks side by side: the concatenation is already in order
    if not disjoint and len(ts) > 1 and not bool((ts[1:] > ts[:-1]).all()):
        order = np.argsort(ts, kind="stable")
        ts, vs = ts[order], vs[order]
        keep = np.empty(len(ts), dtype=bool)
        keep[0] = True
        np.not_equal(ts[1:], ts[:-1], out=keep[1:])
        ts, vs = ts[keep], vs[keep]
    return Series(parts[0].labels, ts, vs)
