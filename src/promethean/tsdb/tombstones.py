"""Tombstones: deleted time ranges per series of a block, applied on every read.

``delete_series`` only records intervals (the block's data stays immutable,
the ``tombstones`` file is replaced atomically), so a delete is immediate and
cheap; ``clean_tombstones`` later rewrites the affected blocks without the
deleted samples (the new block lists the old one as its parent, so a crash
between writing the new block and removing the old one is finished at the
next start-up by :func:`promethean.tsdb.compact.remove_superseded_blocks`).

File format (JSON, one object)::

    {"version": 1, "intervals": [[series_ref, mint, maxt], ...]}

``series_ref`` is the series' position in the block index; both ends inclusive.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from promethean.model.matchers import Matcher

if TYPE_CHECKING:
    from promethean.tsdb.block import Block, BlockMeta

__all__ = [
    "Intervals",
    "clean_tombstones",
    "delete_series",
    "read_tombstones",
    "write_tombstones",
]

Intervals = dict[int, list[tuple[int, int]]]
"""series ref -> sorted, non-overlapping closed intervals [mint, maxt]."""

_FILE = "tombstones"


def read_tombstones(block_dir: str | os.PathLike[str]) -> Intervals:
    """The block's deleted intervals; a missing file means none."""
    from promethean.tsdb.block import BlockFormatError

    path = Path(block_dir) / _FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise BlockFormatError(f"{path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(raw)
        out: Intervals = {}
        for ref, mint, maxt in data["intervals"]:
            out.setdefault(int(ref), []).append((int(mint), int(maxt)))
    except (ValueError, KeyError, TypeError) as exc:
        raise BlockFormatError(f"{path}: corrupt tombstones: {exc}") from None
    return {ref: _merge(iv) for ref, iv in out.items()}


def write_tombstones(block_dir: str | os.PathLike[str], intervals: Intervals) -> None:
    """Replace the tombstones file atomically and update ``numTombstones`` in meta.json."""
    from promethean.tsdb.block import _atomic_write, read_meta, write_meta

    rows = [[ref, a, b] for ref in sorted(intervals) for a, b in intervals[ref]]
    body = json.dumps({"version": 1, "intervals": rows}, separators=(",", ":")) + "\n"
    _atomic_write(Path(block_dir) / _FILE, body.encode())
    meta = read_meta(block_dir)
    meta.stats.num_tombstones = len(rows)
    write_meta(block_dir, meta)


def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def delete_series(block: Block, matchers: Sequence[Matcher], mint: int, maxt: int) -> int:
    """Hide the samples in [mint, maxt] of every series matching; returns series affected.

    The block object sees the deletion at once (its tombstones are reloaded).
    """
    if not block.meta.overlaps(mint, maxt):
        return 0
    refs = block.postings_for_matchers(matchers)
    if not refs:
        return 0
    current = {ref: list(iv) for ref, iv in block.tombstones.items()}
    lo, hi = max(mint, block.min_time), min(maxt, block.max_time - 1)
    for ref in refs:
        current[ref] = _merge([*current.get(ref, []), (lo, hi)])
    write_tombstones(block.path, current)
    block.reload_tombstones()
    return len(refs)


def clean_tombstones(
    blocks: Sequence[Block],
) -> list[tuple[Block, BlockMeta | None]]:
    """Rewrite every block that has tombstones without the deleted samples.

    Returns ``(old block, new meta or None when nothing survived)`` pairs; the
    old blocks are closed and deleted, and the caller opens the new ones.
    """
    from promethean.tsdb.block import delete_block_dir, write_block

    done: list[tuple[Block, BlockMeta | None]] = []
    for block in blocks:
        if not block.tombstones:
            continue
        meta = block.meta
        new = write_block(
            block.path.parent,
            block.iter_series(),
            min_time=meta.min_time,
            max_time=meta.max_time,
            level=meta.level,
            sources=meta.sources,
            parents=[{"ulid": meta.ulid, "minTime": meta.min_time, "maxTime": meta.max_time}],
        )
        block.close()
        delete_block_dir(block.path)
        done.append((block, new))
    return done
