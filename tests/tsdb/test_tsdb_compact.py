"""Compaction planning (upstream's leveled compactor cases) and merging on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.block import (
    Block,
    BlockMeta,
    BlockStats,
    list_block_dirs,
    read_meta,
    write_block,
)
from promethean.tsdb.compact import (
    block_ranges,
    merge_series,
    plan_compaction,
    remove_superseded_blocks,
    run_compactions,
)

H = 3_600_000


def _m(name: str, mint: int, maxt: int, tombstones: int = 0, series: int = 10) -> BlockMeta:
    return BlockMeta(name, mint, maxt, BlockStats(num_series=series, num_tombstones=tombstones))


RANGES = [20, 60, 180, 540, 1620]


@pytest.mark.parametrize(
    ("metas", "expected"),
    [
        ([], []),
        ([_m("1", 0, 20)], []),
        ([_m("1", 0, 20), _m("2", 20, 40)], []),
        # the newest block stays out, and [1, 2] neither fills 60 nor ends before block 2
        ([_m("1", 0, 20), _m("2", 20, 40), _m("3", 40, 60)], []),
        (
            [_m("1", 0, 20), _m("2", 20, 40), _m("3", 40, 60), _m("4", 60, 120)],
            ["1", "2", "3"],
        ),
        ([_m("1", 0, 20), _m("2", 20, 40), _m("3", 60, 80)], []),
        ([_m("1", 0, 20), _m("2", 20, 40), _m("3", 60, 80), _m("4", 80, 100)], ["1", "2"]),
        (
            [_m("1", 0, 20), _m("2", 20, 40), _m("3", 40, 60), _m("4", 60, 120), _m("5", 120, 180)],
            ["1", "2", "3"],
        ),
        (
            [
                _m("2", 20, 40),
                _m("4", 60, 120),
                _m("5", 960, 980),
                _m("6", 120, 180),
                _m("7", 720, 960),
            ],
            ["2", "4", "6"],
        ),
        # overlapping blocks come first (vertical compaction)
        ([_m("1", 0, 20), _m("2", 19, 40), _m("3", 40, 60)], ["1", "2"]),
        ([_m("1", 0, 20), _m("2", 20, 40), _m("3", 30, 50)], ["2", "3"]),
        ([_m("1", 0, 10), _m("2", 10, 20), _m("3", 10, 20)], ["2", "3"]),
        (
            [_m("1", 0, 360), _m("2", 340, 560), _m("3", 360, 420), _m("4", 420, 540)],
            ["1", "2", "3", "4"],
        ),
        # a block whose tombstones cover >5% of its series is rewritten alone
        ([_m("1", 0, 540, tombstones=3), _m("2", 540, 560)], ["1"]),
        ([_m("1", 0, 540, tombstones=0), _m("2", 540, 560)], []),
        # ...but never the newest block
        ([_m("1", 0, 540), _m("2", 540, 560, tombstones=5)], []),
        # short blocks only when every series has a tombstone
        ([_m("1", 0, 20, tombstones=5), _m("2", 20, 40)], []),
        ([_m("1", 0, 20, tombstones=10), _m("2", 20, 40)], ["1"]),
    ],
)
def test_plan_matches_upstream(metas: list[BlockMeta], expected: list[str]) -> None:
    assert [m.ulid for m in plan_compaction(metas, RANGES)] == expected


def test_default_ranges_grow_threefold_up_to_a_tenth_of_retention() -> None:
    assert block_ranges(15 * 24 * H) == [2 * H, 6 * H, 18 * H]  # 10% of 15d = 36h
    assert block_ranges(None) == [2 * H * 3**i for i in range(6)]  # capped at 31 days
    assert block_ranges(max_block_duration=2 * H) == [2 * H]


def _labels(i: int) -> Labels:
    return Labels.from_dict({"__name__": "m", "i": str(i)})


def _write(root: Path, start: int, end: int, step: int = 15_000, value: float = 1.0) -> BlockMeta:
    ts = np.arange(start, end, step, dtype=np.int64)
    meta = write_block(
        root, [(_labels(i), ts, np.full(ts.size, value + i)) for i in range(5)], max_time=end
    )
    assert meta is not None
    return meta


def test_merge_series_combines_equal_labels_and_drops_duplicate_times() -> None:
    a = [(_labels(1), np.array([1, 2, 3]), np.array([1.0, 2.0, 3.0]))]
    b = [
        (_labels(1), np.array([3, 4]), np.array([30.0, 4.0])),
        (_labels(2), np.array([1]), np.array([9.0])),
    ]
    out = list(merge_series([a, b]))
    assert [x[0] for x in out] == [_labels(1), _labels(2)]
    assert out[0][1].tolist() == [1, 2, 3, 4] and out[0][2].tolist() == [1.0, 2.0, 30.0, 4.0]


def test_backfilled_6h_stays_three_blocks_as_upstream(tmp_path: Path) -> None:
    metas = [_write(tmp_path, k * 2 * H, (k + 1) * 2 * H) for k in range(3)]
    assert run_compactions(tmp_path, block_ranges(15 * 24 * H)).created == []
    assert len(list_block_dirs(tmp_path)) == len(metas)


def test_three_2h_blocks_compact_into_one_6h_block(tmp_path: Path) -> None:
    metas = [_write(tmp_path, k * 2 * H, (k + 1) * 2 * H) for k in range(4)]
    result = run_compactions(tmp_path, block_ranges(15 * 24 * H))
    (new,) = result.created
    assert sorted(result.deleted) == sorted(m.ulid for m in metas[:3])
    assert (new.min_time, new.max_time, new.level) == (0, 6 * H, 2)
    assert new.sources == sorted(m.ulid for m in metas[:3])
    assert new.stats.num_samples == 5 * 3 * 480
    assert sorted(p.name for p in list_block_dirs(tmp_path)) == sorted([new.ulid, metas[3].ulid])
    with Block.open(tmp_path / new.ulid) as b:
        (s,) = b.querier(0, 6 * H).select([Matcher("i", MatchType.EQUAL, "2")])
    assert s.timestamps.tolist() == list(range(0, 6 * H, 15_000))


def test_overlapping_blocks_merge_without_duplicates(tmp_path: Path) -> None:
    a = _write(tmp_path, 0, 2 * H)
    b = _write(tmp_path, H, 3 * H)  # overlaps the second hour of a
    result = run_compactions(tmp_path, block_ranges(15 * 24 * H))
    (new,) = result.created
    assert sorted(result.deleted) == sorted([a.ulid, b.ulid])
    assert (new.min_time, new.max_time) == (0, 3 * H)
    assert new.stats.num_samples == 5 * (3 * H // 15_000)


def test_a_crash_between_writing_and_deleting_is_finished_at_start_up(tmp_path: Path) -> None:
    from promethean.tsdb.compact import compact_blocks

    metas = [_write(tmp_path, k * 2 * H, (k + 1) * 2 * H) for k in range(3)]
    blocks = [Block.open(tmp_path / m.ulid) for m in metas]
    new = compact_blocks(tmp_path, blocks)  # the process dies before deleting the parents
    for blk in blocks:
        blk.close()
    assert new is not None
    assert sorted(remove_superseded_blocks(tmp_path)) == sorted(m.ulid for m in metas)
    assert [p.name for p in list_block_dirs(tmp_path)] == [new.ulid]
    assert read_meta(tmp_path / new.ulid).level == 2
