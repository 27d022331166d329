"""Compaction: merge blocks into larger ones on upstream's level ranges.

Ranges grow x3 from the 2 h block (2 h, 6 h, 18 h, 54 h, ...) and stop at the
maximum block duration (10% of the retention time, at most 31 days), as
Prometheus's ``ExponentialBlockRanges`` with its default flags. Planning
follows Prometheus's leveled compactor:

1. the newest block is never considered (it just came from the head; leaving
   it alone gives backups a full block period of stable files);
2. overlapping blocks are merged first (vertical compaction);
3. otherwise, for each range above the smallest, the remaining blocks are
   grouped into aligned windows of that range; the first window holding more
   than one block that either spans the whole window or ends before the
   newest remaining block begins is compacted;
4. otherwise, going from the newest, a block at least as long as the middle
   range whose tombstones exceed 5% of its series (or a shorter one where
   every series has a tombstone) is rewritten alone.

A compaction writes the new block under a temporary name and renames it (see
``block.py``); the new meta lists its parents, and only then are the parents
deleted. A crash in between leaves parents and child both complete;
:func:`remove_superseded_blocks` deletes the parents at the next start-up.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from promethean.model.labels import Labels
from promethean.tsdb.block import (
    Block,
    BlockMeta,
    SeriesData,
    delete_block_dir,
    list_block_dirs,
    read_meta,
    write_block,
)
from promethean.tsdb.faults import crash_point

__all__ = [
    "DEFAULT_BLOCK_RANGE",
    "CompactionResult",
    "block_ranges",
    "compact_blocks",
    "exponential_block_ranges",
    "merge_series",
    "plan_compaction",
    "remove_superseded_blocks",
    "run_compactions",
]

HOUR_MS = 3_600_000
DEFAULT_BLOCK_RANGE = 2 * HOUR_MS
MAX_BLOCK_DURATION_CAP = 31 * 24 * HOUR_MS
_TOMBSTONE_SERIES_RATIO = 0.05


def exponential_block_ranges(min_size: int, steps: int, step_size: int) -> list[int]:
    """``min_size * step_size**i`` for i in range(steps), as upstream's helper."""
    return [min_size * step_size**i for i in range(steps)]


def block_ranges(
    retention_ms: int | None = None,
    max_block_duration: int | None = None,
    min_block_duration: int = DEFAULT_BLOCK_RANGE,
) -> list[int]:
    """The compaction ranges the server uses: x3 steps up to the maximum block duration.

    Without an explicit ``max_block_duration`` it is 10% of the retention time
    capped at 31 days (upstream's default for ``--storage.tsdb.max-block-duration``).
    """
    if max_block_duration is None:
        max_block_duration = MAX_BLOCK_DURATION_CAP
        if retention_ms:
            max_block_duration = min(max_block_duration, retention_ms // 10)
    ranges = [
        r for r in exponential_block_ranges(min_block_duration, 10, 3) if r <= max_block_duration
    ]
    return ranges or [min_block_duration]


def _split_by_range(metas: Sequence[BlockMeta], tr: int) -> list[list[BlockMeta]]:
    """Blocks grouped into aligned windows of width ``tr`` (blocks crossing one are left out)."""
    groups: list[list[BlockMeta]] = []
    i = 0
    while i < len(metas):
        t0 = (metas[i].min_time // tr) * tr  # floor, also for negative times
        if metas[i].max_time > t0 + tr:
            i += 1
            continue
        group: list[BlockMeta] = []
        while i < len(metas) and metas[i].max_time <= t0 + tr:
            group.append(metas[i])
            i += 1
        groups.append(group)
    return groups


def _overlapping(metas: Sequence[BlockMeta]) -> list[BlockMeta]:
    """The first run of blocks whose time ranges overlap, in min_time order."""
    ordered = sorted(metas, key=lambda m: (m.min_time, m.max_time))
    run: list[BlockMeta] = []
    global_max = None
    for m in ordered:
        if run and global_max is not None and m.min_time < global_max:
            run.append(m)
            global_max = max(global_max, m.max_time)
            continue
        if len(run) > 1:
            return run
        run = [m]
        global_max = m.max_time
    return run if len(run) > 1 else []


def plan_compaction(metas: Sequence[BlockMeta], ranges: Sequence[int]) -> list[BlockMeta]:
    """The blocks to compact together next (empty when there is nothing to do)."""
    if not metas:
        return []
    ordered = sorted(metas, key=lambda m: m.min_time)
    overlapping = _overlapping(ordered)
    if overlapping:
        return overlapping
    candidates = ordered[:-1]  # the newest block is left alone
    if candidates and len(ranges) >= 2:
        high_time = candidates[-1].min_time
        for tr in ranges[1:]:
            for group in _split_by_range(candidates, tr):
                mint, maxt = group[0].min_time, group[-1].max_time
                if len(group) > 1 and (maxt - mint == tr or maxt <= high_time):
                    return group
    big_enough = ranges[len(ranges) // 2] if ranges else 0
    for m in reversed(candidates):
        if m.max_time - m.min_time < big_enough:
            # small blocks are rewritten only when every series has a tombstone
            if 0 < m.stats.num_series <= m.stats.num_tombstones:
                return [m]
            break
        if m.stats.num_tombstones / (m.stats.num_series + 1) > _TOMBSTONE_SERIES_RATIO:
            return [m]
    return []


def merge_series(streams: Sequence[Iterable[SeriesData]]) -> Iterator[SeriesData]:
    """Merge label-sorted series streams into one; samples of equal label sets are
    combined in time order with duplicate timestamps dropped (the later stream wins).

    Also usable by a querier merging the head with blocks.
    """
    heap: list[tuple[Labels, int, SeriesData, Iterator[SeriesData]]] = []
    for idx, stream in enumerate(streams):
        it = iter(stream)
        first = next(it, None)
        if first is not None:
            heap.append((first[0], idx, first, it))
    heapq.heapify(heap)
    while heap:
        labels, idx, item, it = heap[0]
        parts = [item]
        nxt = next(it, None)
        if nxt is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (nxt[0], idx, nxt, it))
        while heap and heap[0][0] == labels:
            _l2, idx2, item2, it2 = heap[0]
            parts.append(item2)
            nxt = next(it2, None)
            if nxt is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, (nxt[0], idx2, nxt, it2))
        if len(parts) == 1:
            yield item
        else:
            yield _combine(labels, parts)


def _combine(labels: Labels, parts: list[SeriesData]) -> SeriesData:
    ts = np.concatenate([p[1] for p in parts])
    vs = np.concatenate([p[2] for p in parts])
    order = np.argsort(ts, kind="stable")
    ts, vs = ts[order], vs[order]
    if ts.size > 1:
        # keep the last of each run of equal timestamps (later stream wins)
        keep = np.empty(ts.size, dtype=bool)
        keep[:-1] = ts[1:] != ts[:-1]
        keep[-1] = True
        ts, vs = ts[keep], vs[keep]
    return labels, ts, vs


@dataclass(slots=True)
class CompactionResult:
    created: list[BlockMeta] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)


def compact_blocks(db_dir: str | os.PathLike[str], blocks: Sequence[Block]) -> BlockMeta | None:
    """Write one block merging ``blocks`` (tombstones applied); does not delete them.

    Level is one above the highest parent's; sources are the union of theirs.
    ``None`` when nothing survives (every sample deleted).
    """
    metas = [b.meta for b in blocks]
    return write_block(
        db_dir,
        merge_series([b.iter_series() for b in sorted(blocks, key=lambda b: b.min_time)]),
        min_time=min(m.min_time for m in metas),
        max_time=max(m.max_time for m in metas),
        level=max(m.level for m in metas) + (1 if len(metas) > 1 else 0),
        sources=sorted({s for m in metas for s in m.sources}),
        parents=[{"ulid": m.ulid, "minTime": m.min_time, "maxTime": m.max_time} for m in metas],
    )


def run_compactions(
    db_dir: str | os.PathLike[str],
    ranges: Sequence[int],
    open_blocks: dict[str, Block] | None = None,
    max_rounds: int = 100,
) -> CompactionResult:
    """Plan and compact until nothing is left to do; parents are deleted after each step.

    ``open_blocks`` (ulid -> Block) lets a database reuse its open blocks; the
    ones deleted are closed and removed from it, new ones are not opened.
    """
    result = CompactionResult()
    opened = {} if open_blocks is None else open_blocks
    for _ in range(max_rounds):
        metas = [read_meta(p) for p in list_block_dirs(db_dir)]
        group = plan_compaction(metas, ranges)
        if not group:
            break
        blocks: list[Block] = []
        for m in group:
            block = opened.get(m.ulid)
            if block is None:
                block = Block.open(Path(db_dir) / m.ulid)
                opened[m.ulid] = block
            blocks.append(block)
        new = compact_blocks(db_dir, blocks)
        if new is not None:
            result.created.append(new)
        crash_point("compaction.block_written")
        for block in blocks:
            block.close()
            opened.pop(block.ulid, None)
            delete_block_dir(block.path)
            result.deleted.append(block.ulid)
            crash_point("compaction.parent_deleted")
    return result


def remove_superseded_blocks(db_dir: str | os.PathLike[str]) -> list[str]:
    """Delete blocks listed as a parent by another block (a compaction cut short by a crash)."""
    dirs = list_block_dirs(db_dir)
    metas = {p.name: read_meta(p) for p in dirs}
    parents = {str(par.get("ulid")) for m in metas.values() for par in m.parents}
    removed: list[str] = []
    for p in dirs:
        if p.name in parents:
            delete_block_dir(p)
            removed.append(p.name)
    return removed
