"""Chunk encoding: lossless for every bit pattern, small for scrape-shaped data."""

from __future__ import annotations

import struct

import cramjam
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promethean.tsdb.chunks import ChunkFormatError, decode_chunk, encode_chunk
from promethean.tsdb.storage import STALE_NAN, STALE_NAN_BITS

T0 = 1_672_531_200_000


def _roundtrip(ts: np.ndarray, vs: np.ndarray) -> bytes:
    data = encode_chunk(ts, vs)
    ts2, vs2 = decode_chunk(data)
    assert ts2.dtype == np.int64 and vs2.dtype == np.float64
    assert ts2.tolist() == ts.tolist()
    assert vs2.view(np.uint64).tolist() == vs.view(np.uint64).tolist()
    return data


def test_stale_marker_and_special_values_keep_their_bits() -> None:
    values = np.array(
        [1.0, STALE_NAN, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308]
    )
    ts = T0 + np.arange(values.size, dtype=np.int64) * 15_000
    _roundtrip(ts, values)
    _, vs = decode_chunk(encode_chunk(ts, values))
    assert struct.unpack("<Q", struct.pack("<d", vs[1]))[0] == STALE_NAN_BITS


def test_negative_zero_is_not_turned_into_zero() -> None:
    ts = np.array([T0, T0 + 1], dtype=np.int64)
    _, vs = decode_chunk(encode_chunk(ts, np.array([-0.0, 0.0])))
    assert np.signbit(vs[0]) and not np.signbit(vs[1])


def test_single_sample_and_irregular_times() -> None:
    _roundtrip(np.array([-5], dtype=np.int64), np.array([0.1]))
    ts = np.array([T0, T0 + 1, T0 + 15_000, T0 + 15_001, T0 + 10**12], dtype=np.int64)
    _roundtrip(ts, np.array([1.5, -2.25, 1e300, 3.0, 0.001]))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=300, unique=True),
    st.data(),
)
def test_any_samples_round_trip(times: list[int], data: st.DataObject) -> None:
    ts = np.array(sorted(times), dtype=np.int64)
    bits = data.draw(
        st.lists(st.integers(0, 2**64 - 1), min_size=ts.size, max_size=ts.size)
        | st.lists(
            st.decimals(-(10**9), 10**9, places=3, allow_nan=False)
            .map(float)
            .map(lambda f: struct.unpack("<Q", struct.pack("<d", f))[0]),
            min_size=ts.size,
            max_size=ts.size,
        )
    )
    _roundtrip(ts, np.array(bits, dtype=np.uint64).view(np.float64))


def test_scrape_shaped_data_compresses_near_its_entropy() -> None:
    """480 samples at 15 s: random counter steps (~7.6 bits each), a 3-decimal gauge (~12 bits)."""
    rng = np.random.default_rng(7)
    ts = T0 + np.arange(480, dtype=np.int64) * 15_000
    counter = np.cumsum(rng.integers(0, 200, 480)).astype(np.float64)
    gauge = np.round(rng.random(480) * 4, 3)
    for values, limit in ((counter, 1.5), (gauge, 2.0)):
        packed = cramjam.zstd.compress(_roundtrip(ts, values), level=9)
        assert len(packed) / 480 < limit


def test_regular_timestamps_take_no_bytes_beyond_the_header() -> None:
    ts = T0 + np.arange(480, dtype=np.int64) * 15_000
    constant = encode_chunk(ts, np.full(480, 1.0))
    assert len(constant) < 50


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x07" + b"\x00" * 20,
        b"\x00\x05\x00\x00\x00" + b"\x00" * 8,
        b"\x00\x00\x00\x00\x00" + b"\x00" * 8,
    ],
)
def test_garbage_is_refused_with_a_chunk_error(data: bytes) -> None:
    with pytest.raises(ChunkFormatError):
        decode_chunk(data)


def test_truncated_chunk_is_refused() -> None:
    ts = T0 + np.arange(100, dtype=np.int64) * 15_000
    data = encode_chunk(ts, np.random.default_rng(1).random(100))
    with pytest.raises(ChunkFormatError):
        decode_chunk(data[: len(data) // 2])


def test_empty_or_mismatched_input_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at least one sample"):
        encode_chunk(np.array([], dtype=np.int64), np.array([]))
    with pytest.raises(ValueError, match="one value per timestamp"):
        encode_chunk(np.array([1, 2], dtype=np.int64), np.array([1.0]))
