"""Retention deletes whole blocks, oldest first, by time and by size."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from promethean.model.labels import Labels
from promethean.tsdb.block import BlockMeta, dir_size, list_block_dirs, write_block
from promethean.tsdb.retention import (
    BlockSize,
    apply_retention,
    beyond_size_retention,
    beyond_time_retention,
)

H = 3_600_000


def _meta(name: str, mint: int, maxt: int) -> BlockMeta:
    return BlockMeta(name, mint, maxt)


def test_time_retention_counts_from_the_newest_block() -> None:
    metas = [_meta("a", 0, 2 * H), _meta("b", 2 * H, 4 * H), _meta("c", 4 * H, 6 * H)]
    assert beyond_time_retention(metas, 3 * H) == [metas[0]]
    assert beyond_time_retention(metas, 4 * H) == []
    assert beyond_time_retention(metas, H) == [metas[1], metas[0]]
    assert beyond_time_retention(metas, 0) == []
    assert beyond_time_retention(metas[2:], 1) == []  # the newest block always stays


def test_size_retention_drops_the_oldest_until_it_fits() -> None:
    sizes = [BlockSize(_meta(n, i * H, (i + 1) * H), 100) for i, n in enumerate("abcd")]
    assert [m.ulid for m in beyond_size_retention(sizes, 250)] == ["b", "a"]
    assert [m.ulid for m in beyond_size_retention(sizes, 250, extra_bytes=60)] == ["c", "b", "a"]
    assert beyond_size_retention(sizes, 400) == []
    assert beyond_size_retention(sizes, 0) == []


def _write(root: Path, start: int) -> BlockMeta:
    ts = np.arange(start, start + 2 * H, 15_000, dtype=np.int64)
    meta = write_block(
        root, [(Labels.from_dict({"__name__": "m"}), ts, np.arange(ts.size, dtype=np.float64))]
    )
    assert meta is not None
    return meta


def test_apply_retention_removes_block_directories(tmp_path: Path) -> None:
    metas = [_write(tmp_path, k * 2 * H) for k in range(5)]
    assert apply_retention(tmp_path, retention_ms=5 * H) == [metas[0].ulid, metas[1].ulid]
    left = list_block_dirs(tmp_path)
    assert [p.name for p in left] == sorted(m.ulid for m in metas[2:])
    one = dir_size(left[0])
    assert apply_retention(tmp_path, max_bytes=2 * one + one // 2) == [metas[2].ulid]
    assert [p.name for p in list_block_dirs(tmp_path)] == sorted(m.ulid for m in metas[3:])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(m.ulid for m in metas[3:])
