"""Retention: delete whole blocks, oldest first, by time and by size.

Semantics as Prometheus's ``BeyondTimeRetention`` and ``BeyondSizeRetention``:

* time: measured from the newest block's ``maxTime`` (not the wall clock, so
  a server restarted after a long stop does not wipe its data at once); a
  block goes, with every older one, once its ``maxTime`` is more than the
  retention before that;
* size: the head's bytes (WAL and the like, passed in as ``extra_bytes``)
  plus the blocks' sizes counted newest first; the first block that takes the
  total over the limit goes, with every older one.

Deletion renames the block to ``<ulid>.tmp-for-deletion`` before removing
files, so a crash never leaves a half-deleted block visible.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from promethean.tsdb.block import (
    BlockMeta,
    delete_block_dir,
    dir_size,
    list_block_dirs,
    read_meta,
)

__all__ = [
    "BlockSize",
    "apply_retention",
    "beyond_size_retention",
    "beyond_time_retention",
    "dir_size",
]


@dataclass(frozen=True, slots=True)
class BlockSize:
    meta: BlockMeta
    size: int


def beyond_time_retention(metas: Sequence[BlockMeta], retention_ms: int) -> list[BlockMeta]:
    """Blocks older than the retention window (0 or negative: keep everything)."""
    if retention_ms <= 0 or not metas:
        return []
    newest_first = sorted(metas, key=lambda m: m.max_time, reverse=True)
    newest = newest_first[0].max_time
    for i, m in enumerate(newest_first):
        if i > 0 and newest - m.max_time > retention_ms:
            return newest_first[i:]
    return []


def beyond_size_retention(
    blocks: Sequence[BlockSize], max_bytes: int, extra_bytes: int = 0
) -> list[BlockMeta]:
    """Oldest blocks to drop so blocks + ``extra_bytes`` fit in ``max_bytes`` (<= 0: no limit)."""
    if max_bytes <= 0:
        return []
    total = extra_bytes
    newest_first = sorted(blocks, key=lambda b: b.meta.max_time, reverse=True)
    for i, b in enumerate(newest_first):
        total += b.size
        if total > max_bytes:
            return [x.meta for x in newest_first[i:]]
    return []


def apply_retention(
    db_dir: str | os.PathLike[str],
    retention_ms: int = 0,
    max_bytes: int = 0,
    extra_bytes: int = 0,
) -> list[str]:
    """Delete the blocks in ``db_dir`` beyond either limit; returns their ULIDs, oldest first.

    A database holding the blocks open must close the returned ones (their
    files are gone; an mmap keeps reading until closed).
    """
    dirs = list_block_dirs(db_dir)
    metas = [read_meta(p) for p in dirs]
    doomed = {m.ulid: m for m in beyond_time_retention(metas, retention_ms)}
    remaining = [
        BlockSize(m, dir_size(Path(db_dir) / m.ulid)) for m in metas if m.ulid not in doomed
    ]
    for m in beyond_size_retention(remaining, max_bytes, extra_bytes):
        doomed[m.ulid] = m
    ordered = sorted(doomed.values(), key=lambda m: m.min_time)
    for m in ordered:
        delete_block_dir(Path(db_dir) / m.ulid)
    return [m.ulid for m in ordered]
