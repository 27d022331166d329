"""WAL checkpoints: the head's state written once so older segments can go.

A checkpoint ``wal/checkpoint.NNNNNNNN`` holds everything segments up to and
including ``NNNNNNNN`` contributed to the head that is still there (live
series, their closed chunks as-is, open samples, tombstones). Replay reads the
newest checkpoint, then only the segments after it, which bounds start-up
time by the head's size rather than by how long the process has run.

It is written to ``checkpoint.NNNNNNNN.tmp``, fsynced, and renamed, so a crash
while checkpointing leaves the previous checkpoint and segments intact; only
after the rename are older checkpoints and segments removed.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from promethean.tsdb.faults import crash_point
from promethean.tsdb.wal import Corruption, frame, read_records

__all__ = ["latest_checkpoint", "read_checkpoint", "remove_stale", "write_checkpoint"]

_PREFIX = "checkpoint."
_DATA = "00000000"


def _index_of(name: str) -> int | None:
    if not name.startswith(_PREFIX):
        return None
    rest = name[len(_PREFIX) :]
    return int(rest) if rest.isdigit() else None


def latest_checkpoint(wal_dir: Path) -> tuple[int, Path] | None:
    best: tuple[int, Path] | None = None
    if not wal_dir.is_dir():
        return None
    for p in wal_dir.iterdir():
        idx = _index_of(p.name)
        if idx is not None and p.is_dir() and (best is None or idx > best[0]):
            best = (idx, p)
    return best


def write_checkpoint(wal_dir: Path, index: int, bodies: Iterable[bytes]) -> Path:
    """Write, fsync and atomically publish ``checkpoint.<index>``."""
    final = wal_dir / f"{_PREFIX}{index:08d}"
    tmp = wal_dir / f"{_PREFIX}{index:08d}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with open(tmp / _DATA, "wb") as fh:
        for body in bodies:
            fh.write(frame(body))
        fh.flush()
        os.fsync(fh.fileno())
    _fsync(tmp)
    crash_point("checkpoint.files_written")
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync(wal_dir)
    return final


def read_checkpoint(path: Path) -> tuple[list[bytes], Corruption | None]:
    return read_records(path / _DATA)


def remove_stale(wal_dir: Path, keep_index: int) -> None:
    """Delete older checkpoints and leftover temporary ones."""
    for p in wal_dir.iterdir():
        if not p.name.startswith(_PREFIX):
            continue
        if p.name.endswith(".tmp"):
            shutil.rmtree(p, ignore_errors=True)
            continue
        idx = _index_of(p.name)
        if idx is not None and idx < keep_index:
            shutil.rmtree(p, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
