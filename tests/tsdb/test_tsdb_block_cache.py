"""The read path of blocks: decoded chunks are cached within a sample budget, and what a
query sees is the same whether its chunks were cached, trimmed, merged or tombstoned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.block import Block, BlockWriter, write_block
from promethean.tsdb.chunks import DecodedChunkCache, decoded_cache
from promethean.tsdb.db import DB, DBOptions
from promethean.tsdb.tombstones import delete_series

T0 = 1_672_531_200_000
STEP = 15_000
H = 3_600_000


def _ts(n: int, start: int = T0) -> np.ndarray:
    return start + np.arange(n, dtype=np.int64) * STEP


def _vs(n: int, scale: float) -> np.ndarray:
    return np.arange(n, dtype=np.float64) * scale + 0.25


def _eq(name: str, value: str) -> Matcher:
    return Matcher(name, MatchType.EQUAL, value)


def _labels(i: int) -> Labels:
    return Labels.from_dict({"__name__": "m", "i": f"{i:02d}"})


@pytest.fixture
def block(tmp_path: Path) -> Iterator[Block]:
    """Ten series of 300 samples cut into chunks of 100 (three per series)."""
    writer = BlockWriter(tmp_path, max_samples_per_chunk=100)
    for i in range(10):
        writer.add_series(_labels(i), _ts(300), _vs(300, i + 1))
    meta = writer.finish()
    assert meta is not None
    b = Block.open(tmp_path / meta.ulid)
    yield b
    b.close()


def _select(
    b: Block, mint: int, maxt: int, *ms: Matcher
) -> dict[str, tuple[list[int], list[float]]]:
    q = b.querier(mint, maxt)
    return {
        s.labels.get("i"): (s.timestamps.tolist(), s.values.tolist())
        for s in q.select(list(ms) or [_eq("__name__", "m")])
    }


def test_cache_keeps_at_most_its_budget_and_evicts_the_least_recently_used() -> None:
    cache = DecodedChunkCache(max_samples=250)
    for c in range(3):
        cache.put((1, c), _ts(100), _vs(100, 1))
    assert cache.samples == 200  # the third put evicted the oldest (1, 0)
    assert cache.get((1, 0)) is None
    assert cache.get((1, 1)) is not None  # (1, 1) is now the most recent
    cache.put((1, 3), _ts(100), _vs(100, 1))
    assert cache.get((1, 2)) is None
    assert cache.get((1, 1)) is not None
    assert cache.samples == 200
    cache.put((1, 4), _ts(1000), _vs(1000, 1))  # larger than the whole budget: not kept
    assert cache.get((1, 4)) is None
    assert cache.samples == 200


def test_cached_arrays_cannot_be_modified_by_a_caller(block: Block) -> None:
    series = list(block.querier(T0, T0 + 10 * STEP).select([_eq("i", "03")]))
    assert len(series) == 1
    with pytest.raises(ValueError, match="read-only"):
        series[0].values[0] = 99.0
    again = _select(block, T0, T0 + 10 * STEP, _eq("i", "03"))
    assert again["03"][1][0] == 0.25


def test_every_window_reads_the_same_samples_cold_and_cached(block: Block) -> None:
    full_t = _ts(300)
    windows = [
        (T0, T0 + 299 * STEP),  # everything
        (T0 + 99 * STEP, T0 + 100 * STEP),  # the edge between two chunks
        (T0 + 150 * STEP + 1, T0 + 151 * STEP - 1),  # between two samples: nothing
        (T0 + 250 * STEP - 300_000 + 1, T0 + 250 * STEP),  # an instant query's lookback
        (T0 - H, T0),  # only the first sample
        (T0 + 299 * STEP, T0 + H * 10),  # only the last sample
        (T0 + 90 * STEP, T0 + 210 * STEP),  # across three chunks
    ]
    for mint, maxt in windows:
        decoded_cache.drop_owner(block._token)
        cold = _select(block, mint, maxt)
        warm = _select(block, mint, maxt)
        assert cold == warm
        keep = (full_t >= mint) & (full_t <= maxt)
        for i in range(10):
            full_v = _vs(300, i + 1)
            expected = (full_t[keep].tolist(), full_v[keep].tolist())
            if keep.any():
                assert cold[f"{i:02d}"] == expected
            else:
                assert f"{i:02d}" not in cold


def test_closing_a_block_forgets_its_cached_chunks(tmp_path: Path) -> None:
    meta = write_block(tmp_path, [(_labels(i), _ts(100), _vs(100, i)) for i in range(5)])
    assert meta is not None
    b = Block.open(tmp_path / meta.ulid)
    _select(b, T0, T0 + H)
    held = decoded_cache.samples
    assert held >= 500
    b.close()
    assert decoded_cache.samples == held - 500


def test_tombstones_hide_samples_of_cached_chunks(block: Block) -> None:
    before = _select(block, T0, T0 + H, _eq("i", "04"))
    assert len(before["04"][0]) == 241
    delete_series(block, [_eq("i", "04")], T0 + 10 * STEP, T0 + 19 * STEP)
    after = _select(block, T0, T0 + H, _eq("i", "04"))
    assert len(after["04"][0]) == 231
    assert T0 + 10 * STEP not in after["04"][0]
    assert len(_select(block, T0, T0 + H, _eq("i", "05"))["05"][0]) == 241


def test_compaction_reads_do_not_fill_the_cache(block: Block) -> None:
    decoded_cache.drop_owner(block._token)
    held = decoded_cache.samples
    assert sum(ts.size for _, ts, _ in block.iter_series()) == 3000
    assert decoded_cache.samples == held


def _fill(db: DB, start: int, end: int, step: int = 60_000) -> None:
    labels = [_labels(i) for i in range(4)]
    refs: list[int | None] = [None] * 4
    for t in range(start, end, step):
        app = db.appender()
        refs, errors = app.append_many(refs, labels, t, np.full(4, float(t)))
        assert not errors
        app.commit()


def _db_read(db: DB, mint: int, maxt: int) -> dict[str, list[int]]:
    q = db.querier(mint, maxt)
    try:
        return {s.labels.get("i"): s.timestamps.tolist() for s in q.select([], sort=True)}
    finally:
        q.close()


def test_queries_merge_blocks_and_head_in_time_order(tmp_path: Path) -> None:
    db = DB(tmp_path, DBOptions(no_lockfile=True))
    try:
        _fill(db, 0, 5 * H)
        db.compact()
        assert [(b.min_time, b.max_time) for b in db.blocks] == [(0, 2 * H)]
        # only the block, only the head, and both at once
        assert _db_read(db, 0, H)["02"] == list(range(0, H + 1, 60_000))
        assert _db_read(db, 3 * H, 4 * H)["02"] == list(range(3 * H, 4 * H + 1, 60_000))
        assert _db_read(db, H, 3 * H)["02"] == list(range(H, 3 * H + 1, 60_000))
        # a range before all data: nothing, from no part
        assert _db_read(db, -10 * H, -H) == {}
    finally:
        db.close()


def test_a_sample_in_two_blocks_is_returned_once(tmp_path: Path) -> None:
    lbl = _labels(1)
    write_block(tmp_path, [(lbl, _ts(10), np.full(10, 1.0))])
    write_block(tmp_path, [(lbl, _ts(10, T0 + 9 * STEP), np.full(10, 2.0))])
    db = DB(tmp_path, DBOptions(no_lockfile=True))
    try:
        q = db.querier(T0, T0 + H)
        (s,) = list(q.select([]))
        q.close()
        assert s.timestamps.tolist() == _ts(19).tolist()
        assert s.values.tolist().count(1.0) + s.values.tolist().count(2.0) == 19
    finally:
        db.close()


@pytest.mark.parametrize(
    "values",
    [
        np.arange(480, dtype=np.float64) * 3 + 7,  # constant slope
        np.cumsum(np.arange(480) % 7).astype(np.float64),  # order 1, one-byte differences
        np.cumsum(np.arange(480) % 7 - 3).astype(np.float64) / 100,  # negative, scaled
        np.cumsum((np.arange(480) * 7919) % 70_000).astype(np.float64),  # wide differences
        (np.arange(480, dtype=np.float64) ** 2) / 8,  # order 2
        np.sin(np.arange(480, dtype=np.float64)),  # not decimal: xor
    ],
)
def test_decoded_chunks_equal_what_was_written(values: np.ndarray) -> None:
    from promethean.tsdb.chunks import decode_chunk, encode_chunk

    ts = _ts(values.size)
    got_t, got_v = decode_chunk(encode_chunk(ts, values))
    assert got_t.tolist() == ts.tolist()
    assert got_v.view(np.uint64).tolist() == values.view(np.uint64).tolist()


def test_stale_markers_read_from_a_block_are_not_samples_of_a_range(tmp_path: Path) -> None:
    from promethean.promql.engine import Engine, EngineOptions
    from promethean.tsdb.block import BlockSeries
    from promethean.tsdb.storage import STALE_NAN

    with_stale = _vs(40, 1)
    with_stale[20] = STALE_NAN
    write_block(tmp_path, [(_labels(0), _ts(40), with_stale), (_labels(1), _ts(40), _vs(40, 2))])
    db = DB(tmp_path, DBOptions(no_lockfile=True))
    try:
        q = db.querier(T0, T0 + H)
        flags = {
            s.labels.get("i"): isinstance(s, BlockSeries) and s.stale_free for s in q.select([])
        }
        q.close()
        assert flags == {"00": False, "01": True}
        engine = Engine(db, EngineOptions())
        res = engine.instant_query("count_over_time(m[10m])", T0 + 39 * STEP)
        got = {s.labels.get("i"): s.v for s in res.vector}
        assert got == {"00": 39.0, "01": 40.0}
    finally:
        db.close()


def test_irregular_and_regular_chunks_read_the_same_windows(tmp_path: Path) -> None:
    """Regular timestamps stay implicit in the cache; irregular ones are kept as arrays."""
    regular = _ts(200)
    irregular = regular + (np.arange(200) % 3) * 7  # jitter: delta-of-deltas not all zero
    write_block(
        tmp_path,
        [(_labels(0), regular, _vs(200, 1)), (_labels(1), irregular, _vs(200, 2))],
    )
    (b,) = [Block.open(p) for p in tmp_path.iterdir()]
    try:
        for mint, maxt in [
            (T0, T0 + H),
            (T0 + 7, T0 + 50 * STEP + 3),
            (T0 + 50 * STEP, T0 + 50 * STEP),
            (T0 + 50 * STEP + 1, T0 + 51 * STEP - 1),
            (T0 - H, T0 - 1),
            (T0 + 199 * STEP, T0 + 2 * H),
            (T0 + 199 * STEP + 15, T0 + 2 * H),
        ]:
            got = _select(b, mint, maxt)
            for key, ts, vs in (("00", regular, _vs(200, 1)), ("01", irregular, _vs(200, 2))):
                keep = (ts >= mint) & (ts <= maxt)
                if keep.any():
                    assert got[key] == (ts[keep].tolist(), vs[keep].tolist()), (mint, maxt)
                else:
                    assert key not in got
    finally:
        b.close()
