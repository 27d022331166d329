"""Blocks on disk: what is written is what a querier returns, nothing half-made is visible."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.block import (
    Block,
    BlockFormatError,
    BlockWriter,
    cleanup_tmp_dirs,
    list_block_dirs,
    write_block,
)
from promethean.tsdb.snapshot import snapshot_blocks, snapshot_name
from promethean.tsdb.storage import STALE_NAN, is_stale
from promethean.tsdb.tombstones import clean_tombstones, delete_series

T0 = 1_672_531_200_000
STEP = 15_000


def _series(n: int = 30, points: int = 480) -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    out = []
    for i in range(n):
        labels = Labels.from_dict(
            {
                "__name__": "http_requests_total" if i % 2 else "up",
                "i": f"{i:03d}",
                "job": f"j{i % 3}",
            }
        )
        ts = T0 + np.arange(points, dtype=np.int64) * STEP
        out.append((labels, ts, np.arange(points, dtype=np.float64) * i + 0.5))
    return sorted(out, key=lambda s: s[0])


def _eq(name: str, value: str) -> Matcher:
    return Matcher(name, MatchType.EQUAL, value)


@pytest.fixture
def block(tmp_path: Path) -> Block:
    meta = write_block(tmp_path, _series())
    assert meta is not None
    b = Block.open(tmp_path / meta.ulid)
    yield b
    b.close()


def test_meta_json_has_upstream_fields(tmp_path: Path) -> None:
    meta = write_block(tmp_path, _series(n=4, points=10))
    assert meta is not None
    data = json.loads((tmp_path / meta.ulid / "meta.json").read_text())
    assert data == {
        "ulid": meta.ulid,
        "minTime": T0,
        "maxTime": T0 + 9 * STEP + 1,
        "stats": {"numSamples": 40, "numSeries": 4, "numChunks": 4},
        "compaction": {"level": 1, "sources": [meta.ulid]},
        "version": 1,
    }
    assert sorted(os.listdir(tmp_path / meta.ulid)) == [
        "chunks",
        "index",
        "meta.json",
        "tombstones",
    ]


def test_select_returns_exactly_what_was_written(block: Block) -> None:
    written = {lbls: (ts, vs) for lbls, ts, vs in _series()}
    got = list(block.querier(T0, T0 + 10**9).select([_eq("__name__", "up")]))
    assert [s.labels for s in got] == sorted(k for k in written if k.metric_name == "up")
    for s in got:
        ts, vs = written[s.labels]
        assert s.timestamps.tolist() == ts.tolist() and s.values.tolist() == vs.tolist()


def test_time_range_is_inclusive_at_both_ends(block: Block) -> None:
    (s,) = block.querier(T0 + STEP, T0 + 3 * STEP).select([_eq("i", "005")])
    assert s.timestamps.tolist() == [T0 + STEP, T0 + 2 * STEP, T0 + 3 * STEP]
    assert list(block.querier(T0 - 10, T0 - 1).select([_eq("i", "005")])) == []


@pytest.mark.parametrize(
    ("matchers", "expected"),
    [
        ([Matcher("job", MatchType.EQUAL, "j1")], [f"{i:03d}" for i in range(1, 30, 3)]),
        ([Matcher("i", MatchType.REGEX, "00[1-3]|029")], ["001", "002", "003", "029"]),
        ([Matcher("i", MatchType.REGEX, "001|002|404")], ["001", "002"]),
        (
            [Matcher("job", MatchType.NOT_EQUAL, "j0"), Matcher("i", MatchType.REGEX, "00.")],
            ["001", "002", "004", "005", "007", "008"],
        ),
        ([Matcher("i", MatchType.NOT_REGEX, "0[0-2].")], []),
        ([Matcher("missing", MatchType.EQUAL, "")], [f"{i:03d}" for i in range(30)]),
        ([Matcher("missing", MatchType.EQUAL, "x")], []),
        ([Matcher("missing", MatchType.NOT_EQUAL, "x"), _eq("i", "007")], ["007"]),
        (
            [Matcher("job", MatchType.REGEX, "j2|"), _eq("__name__", "up")],
            ["002", "008", "014", "020", "026"],
        ),
    ],
)
def test_matchers_select_through_postings(
    block: Block, matchers: list[Matcher], expected: list[str]
) -> None:
    got = [s.labels.get("i") for s in block.querier(T0, T0 + 10**9).select(matchers)]
    assert sorted(got) == expected


def test_label_names_and_values(block: Block) -> None:
    q = block.querier(T0, T0 + 10**9)
    assert q.label_names() == ["__name__", "i", "job"]
    assert q.label_values("job") == ["j0", "j1", "j2"]
    assert q.label_values("job", [_eq("i", "004")]) == ["j1"]
    assert q.label_names([_eq("i", "404")]) == []
    assert q.label_values("nope") == []


def test_stale_markers_survive_a_block(tmp_path: Path) -> None:
    lbls = Labels.from_dict({"__name__": "up"})
    ts = np.array([T0, T0 + STEP, T0 + 2 * STEP], dtype=np.int64)
    meta = write_block(tmp_path, [(lbls, ts, np.array([1.0, STALE_NAN, 1.0]))])
    assert meta is not None
    with Block.open(tmp_path / meta.ulid) as b:
        (s,) = b.querier(T0, T0 + 10**6).select([_eq("__name__", "up")])
    assert [is_stale(v) for v in s.values.tolist()] == [False, True, False]


def test_long_series_are_cut_into_chunks(tmp_path: Path) -> None:
    meta = write_block(tmp_path, _series(n=2, points=2000))
    assert meta is not None and meta.stats.num_chunks == 2 * 5
    with Block.open(tmp_path / meta.ulid) as b:
        (s,) = b.querier(T0 + 600 * STEP, T0 + 1000 * STEP).select([_eq("i", "001")])
    assert s.timestamps.tolist() == (T0 + np.arange(600, 1001) * STEP).tolist()


def test_unsorted_series_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    data = _series(n=3)
    with pytest.raises(ValueError, match="out of order"):
        write_block(tmp_path, [data[1], data[0]])
    assert os.listdir(tmp_path) == []


def test_a_crash_mid_write_leaves_no_visible_block(tmp_path: Path) -> None:
    writer = BlockWriter(tmp_path)
    for lbls, ts, vs in _series(n=5):
        writer.add_series(lbls, ts, vs)
    # the process "dies" here: no finish(); only the temporary directory exists
    assert list_block_dirs(tmp_path) == []
    assert [p.name for p in tmp_path.iterdir()] == [writer.ulid + ".tmp-for-creation"]
    assert cleanup_tmp_dirs(tmp_path) == [tmp_path / (writer.ulid + ".tmp-for-creation")]
    assert os.listdir(tmp_path) == []


def test_empty_input_writes_no_block(tmp_path: Path) -> None:
    assert write_block(tmp_path, []) is None
    assert os.listdir(tmp_path) == []


def test_corrupt_index_is_a_clear_error(tmp_path: Path) -> None:
    meta = write_block(tmp_path, _series(n=2))
    assert meta is not None
    (tmp_path / meta.ulid / "index").write_bytes(b"PMTSIDX1garbage")
    with pytest.raises(BlockFormatError, match="corrupt index"):
        Block.open(tmp_path / meta.ulid)
    (tmp_path / meta.ulid / "meta.json").write_text("{")
    with pytest.raises(BlockFormatError, match="cannot read block meta"):
        Block.open(tmp_path / meta.ulid)


def test_delete_series_hides_data_at_once_and_clean_rewrites(tmp_path: Path) -> None:
    meta = write_block(tmp_path, _series())
    assert meta is not None
    block = Block.open(tmp_path / meta.ulid)
    n = delete_series(block, [_eq("job", "j1")], T0 + 10 * STEP, T0 + 20 * STEP)
    assert n == 10
    (s,) = block.querier(T0, T0 + 10**9).select([_eq("i", "004")])
    assert s.timestamps.size == 480 - 11
    assert not ((s.timestamps >= T0 + 10 * STEP) & (s.timestamps <= T0 + 20 * STEP)).any()
    assert (
        json.loads((tmp_path / meta.ulid / "meta.json").read_text())["stats"]["numTombstones"] == 10
    )
    # reopening reads the tombstones from disk
    with Block.open(tmp_path / meta.ulid) as again:
        (s2,) = again.querier(T0, T0 + 10**9).select([_eq("i", "004")])
        assert s2.timestamps.tolist() == s.timestamps.tolist()
    ((old, new),) = clean_tombstones([block])
    assert new is not None and old.ulid == meta.ulid
    assert [p.name for p in list_block_dirs(tmp_path)] == [new.ulid]
    assert new.stats.num_samples == 30 * 480 - 10 * 11
    assert new.parents == [{"ulid": meta.ulid, "minTime": meta.min_time, "maxTime": meta.max_time}]
    with Block.open(tmp_path / new.ulid) as cleaned:
        assert cleaned.tombstones == {}
        (s3,) = cleaned.querier(T0, T0 + 10**9).select([_eq("i", "004")])
        assert s3.timestamps.tolist() == s.timestamps.tolist()


def test_deleting_everything_then_cleaning_removes_the_block(tmp_path: Path) -> None:
    meta = write_block(tmp_path, _series(n=3))
    assert meta is not None
    block = Block.open(tmp_path / meta.ulid)
    delete_series(block, [Matcher("i", MatchType.REGEX, ".*")], 0, T0 * 2)
    assert list(block.querier(0, T0 * 2).select([_eq("job", "j0")])) == []
    assert clean_tombstones([block]) == [(block, None)]
    assert list_block_dirs(tmp_path) == []


def test_snapshot_hard_links_blocks(tmp_path: Path) -> None:
    meta = write_block(tmp_path / "data", _series(n=3))
    assert meta is not None
    name = snapshot_name()
    dest = snapshot_blocks([tmp_path / "data" / meta.ulid], tmp_path / "data" / "snapshots" / name)
    src_index = tmp_path / "data" / meta.ulid / "index"
    copy_index = dest / meta.ulid / "index"
    assert os.stat(src_index).st_ino == os.stat(copy_index).st_ino
    with Block.open(dest / meta.ulid) as b:
        assert len(list(b.querier(0, T0 * 2).select([_eq("job", "j0")]))) == 1
    # a later delete in the live block does not reach into the snapshot
    with Block.open(tmp_path / "data" / meta.ulid) as live:
        delete_series(live, [_eq("job", "j0")], 0, T0 * 2)
    with Block.open(dest / meta.ulid) as b:
        assert len(list(b.querier(0, T0 * 2).select([_eq("job", "j0")]))) == 1
    assert len(name) == len("20231210T211224Z-2be650b6d019eb54")
