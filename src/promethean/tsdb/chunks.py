"""Chunk encoding: a run of one series' samples as compact bytes, coded with numpy.

Go Prometheus's XOR chunks spend ~1.3 bytes per sample before any general
compressor; we instead lay every field out as byte planes of small integers
and let zstd (applied to whole frames of many chunks, see ``block.py``) do the
entropy coding. Two facts make this small:

* scrapes are regular, so timestamps are ``t0``, a first delta and a run of
  zero delta-of-deltas (a zero-width section: no bytes at all);
* exposition values are decimals (``"%d"``, ``"%.3f"``); a float that is
  exactly ``m / 10**d`` for an integer ``m`` is stored as ``m``'s differences,
  which are small integers. The check is bit-exact (the decoder performs the
  very same division), so ``-0.0``, NaN, stale markers and any other value that
  does not round-trip fall back to XOR of IEEE bit patterns, which is lossless
  for every bit.

Layout of one chunk (little-endian; byte planes mean: element ``i`` byte ``b``
is stored at ``b * count + i``, so equal high bytes form long runs)::

    u8  encoding        0 = float (the only kind today; histograms get another)
    u32 count           samples (>= 1)
    i64 t0
    -- count >= 2:
    i64 first delta
    u8  dod width       0, 1, 2, 4 or 8 bytes; 0 means all delta-of-deltas are 0
    planes[count-2]     zigzag delta-of-deltas
    u8  value kind      0 = decimal, 1 = xor
    decimal: u8 scale d, u8 order (1 or 2), i64 m0, [order 2: i64 first delta],
             u8 width, planes[count-order] zigzag differences of order ``order``
    xor:     u8 width (always 8), planes[count] bits[i] ^ bits[i-1] (bits[-1] = 0)
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections import OrderedDict

import numpy as np
import numpy.typing as npt

__all__ = [
    "CHUNK_FLOAT",
    "DEFAULT_CACHE_SAMPLES",
    "MAX_SAMPLES_PER_CHUNK",
    "CachedChunk",
    "ChunkFormatError",
    "DecodedChunkCache",
    "decode_chunk",
    "decode_chunk_compact",
    "decoded_cache",
    "encode_chunk",
    "shared_regular_times",
    "split_points",
]

CHUNK_FLOAT = 0
MAX_SAMPLES_PER_CHUNK = 480
"""Samples per chunk: a 2 h block of 15 s scrapes is one chunk per series."""

_VALUE_DECIMAL = 0
_VALUE_XOR = 1
_MAX_SCALE = 15
_EXACT_LIMIT = float(2**53)
_POW10 = [10.0**d for d in range(_MAX_SCALE + 1)]
_HEAD = struct.Struct("<BIq")
_I64 = struct.Struct("<q")


class ChunkFormatError(ValueError):
    """Bytes that are not a chunk this code wrote (a corrupted or foreign file)."""


def _zigzag(x: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    return ((x << np.int64(1)) ^ (x >> np.int64(63))).view(np.uint64)


def _unzigzag(u: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    return (u >> np.uint64(1)).view(np.int64) ^ -((u & np.uint64(1)).view(np.int64))


def _width(u: npt.NDArray[np.uint64]) -> int:
    if u.size == 0:
        return 0
    top = int(u.max())
    if top == 0:
        return 0
    if top < 1 << 8:
        return 1
    if top < 1 << 16:
        return 2
    if top < 1 << 32:
        return 4
    return 8


def _planes(u: npt.NDArray[np.uint64], width: int) -> bytes:
    if width == 0:
        return b""
    narrow = u.astype(f"<u{width}", copy=False)
    return narrow.view(np.uint8).reshape(u.size, width).T.tobytes()


def _unplanes(buf: bytes | memoryview, pos: int, n: int, width: int) -> npt.NDArray[np.uint64]:
    if width == 0:
        return np.zeros(n, dtype=np.uint64)
    end = pos + n * width
    if end > len(buf):
        raise ChunkFormatError("chunk truncated")
    raw = np.frombuffer(buf, dtype=np.uint8, count=n * width, offset=pos)
    if width == 1:  # the common case (small differences): one plane, nothing to interleave
        return raw.astype(np.uint64)
    return raw.reshape(width, n).T.copy().view(f"<u{width}").reshape(n).astype(np.uint64)


def _unzigzag_into(
    out: npt.NDArray[np.int64], buf: bytes | memoryview, pos: int, n: int, width: int
) -> None:
    """``out[:] = unzigzag(planes)`` with as few temporaries as a hot decode path allows."""
    if width == 1:
        if pos + n > len(buf):
            raise ChunkFormatError("chunk truncated")
        z = np.frombuffer(buf, dtype=np.uint8, count=n, offset=pos).astype(np.int64)
        np.right_shift(z, 1, out=out)
        np.bitwise_and(z, 1, out=z)
        np.negative(z, out=z)
        np.bitwise_xor(out, z, out=out)
    else:
        out[:] = _unzigzag(_unplanes(buf, pos, n, width))


def _decimal_scale(values: npt.NDArray[np.float64]) -> tuple[int, npt.NDArray[np.int64]] | None:
    """Smallest ``d`` with every value bit-exactly ``m / 10**d`` (|m| < 2**53), and ``m``."""
    if not np.isfinite(values).all():
        return None
    bits = values.view(np.uint64)
    for d in range(_MAX_SCALE + 1):
        scaled = np.round(values * _POW10[d])
        if np.abs(scaled).max() >= _EXACT_LIMIT:
            return None
        m = scaled.astype(np.int64)
        back = m.astype(np.float64) / _POW10[d]  # exactly what the decoder computes
        if np.array_equal(back.view(np.uint64), bits):
            return d, m
    return None


def encode_chunk(timestamps: npt.NDArray[np.int64], values: npt.NDArray[np.float64]) -> bytes:
    """Encode ascending ``timestamps`` with their ``values`` (same length, >= 1)."""
    n = int(timestamps.size)
    if n == 0 or values.size != n:
        raise ValueError("a chunk needs one value per timestamp and at least one sample")
    ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    vs = np.ascontiguousarray(values, dtype=np.float64)
    out = [_HEAD.pack(CHUNK_FLOAT, n, int(ts[0]))]
    if n >= 2:
        deltas = np.diff(ts)
        out.append(_I64.pack(int(deltas[0])))
        dod = _zigzag(np.diff(deltas))
        w = _width(dod)
        out.append(bytes((w,)))
        out.append(_planes(dod, w))
    out.append(_encode_values(vs))
    return b"".join(out)


def _encode_values(vs: npt.NDArray[np.float64]) -> bytes:
    n = vs.size
    found = _decimal_scale(vs)
    if found is not None:
        d, m = found
        d1 = np.diff(m)
        z1 = _zigzag(d1)
        w1 = _width(z1)
        if n >= 3:
            z2 = _zigzag(np.diff(d1))
            w2 = _width(z2)
            if w2 < w1:
                head = struct.pack("<BBBqq", _VALUE_DECIMAL, d, 2, int(m[0]), int(d1[0]))
                return head + bytes((w2,)) + _planes(z2, w2)
        head = struct.pack("<BBBq", _VALUE_DECIMAL, d, 1, int(m[0]))
        return head + bytes((w1,)) + _planes(z1, w1)
    bits = vs.view(np.uint64)
    x = bits.copy()
    x[1:] ^= bits[:-1]
    return bytes((_VALUE_XOR, 8)) + _planes(x, 8)


def decode_chunk(
    buf: bytes | memoryview,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Inverse of :func:`encode_chunk`; raises :class:`ChunkFormatError` on bad bytes."""
    try:
        return _decode(buf)
    except (struct.error, IndexError, ValueError) as exc:
        if isinstance(exc, ChunkFormatError):
            raise
        raise ChunkFormatError(f"corrupted chunk: {exc}") from None


def _decode(buf: bytes | memoryview) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    ts, vs, t0, step = _decode_parts(buf)
    if ts is None:
        ts = t0 + step * np.arange(vs.size, dtype=np.int64)
    return ts, vs


def decode_chunk_compact(
    buf: bytes | memoryview,
) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.float64], int, int]:
    """Like :func:`decode_chunk`, but regular timestamps stay implicit.

    Returns ``(timestamps, values, t0, step)``; ``timestamps`` is ``None`` when
    sample ``i`` is at ``t0 + i * step`` (a perfectly regular scrape), which
    halves what a cache of decoded chunks holds.
    """
    try:
        return _decode_parts(buf)
    except (struct.error, IndexError, ValueError) as exc:
        if isinstance(exc, ChunkFormatError):
            raise
        raise ChunkFormatError(f"corrupted chunk: {exc}") from None


def _decode_parts(
    buf: bytes | memoryview,
) -> tuple[npt.NDArray[np.int64] | None, npt.NDArray[np.float64], int, int]:
    encoding, n, t0 = _HEAD.unpack_from(buf, 0)
    if encoding != CHUNK_FLOAT:
        raise ChunkFormatError(f"unknown chunk encoding {encoding}")
    if n == 0:
        raise ChunkFormatError("empty chunk")
    pos = _HEAD.size
    ts: npt.NDArray[np.int64] | None = None
    step = 1
    if n >= 2:
        (first,) = _I64.unpack_from(buf, pos)
        w = buf[pos + 8]
        pos += 9
        if w == 0 and first > 0:  # a perfectly regular scrape: no delta-of-delta bytes
            step = first
        elif w == 0:
            ts = t0 + first * np.arange(n, dtype=np.int64)
        else:
            ts = _irregular_times(buf, pos, n, w, t0, first)
            pos += (n - 2) * w
    return ts, _decode_values(buf, pos, n), t0, step


def _irregular_times(
    buf: bytes | memoryview, pos: int, n: int, w: int, t0: int, first: int
) -> npt.NDArray[np.int64]:
    deltas = np.empty(n - 1, dtype=np.int64)
    deltas[0] = first
    deltas[1:] = _unzigzag(_unplanes(buf, pos, n - 2, w))
    np.cumsum(deltas, out=deltas)
    ts = np.empty(n, dtype=np.int64)
    ts[0] = t0
    np.cumsum(deltas, out=ts[1:])
    ts[1:] += t0
    return ts


def _decode_values(buf: bytes | memoryview, pos: int, n: int) -> npt.NDArray[np.float64]:
    kind = buf[pos]
    if kind == _VALUE_XOR:
        if buf[pos + 1] != 8:
            raise ChunkFormatError("bad xor width")
        x = _unplanes(buf, pos + 2, n, 8)
        return np.bitwise_xor.accumulate(x).view(np.float64)
    if kind != _VALUE_DECIMAL:
        raise ChunkFormatError(f"unknown value encoding {kind}")
    d, order, m0 = struct.unpack_from("<BBq", buf, pos + 1)
    pos += 11
    if d > _MAX_SCALE or order not in (1, 2):
        raise ChunkFormatError("bad decimal header")
    d1 = 0
    if order == 2:
        (d1,) = _I64.unpack_from(buf, pos)
        pos += 8
    w = buf[pos]
    pos += 1
    if n == 1:
        m = np.array([m0], dtype=np.int64)
    elif w == 0 and order == 1:  # constant value
        m = np.full(n, m0, dtype=np.int64)
    elif w == 0:  # constant slope
        m = m0 + d1 * np.arange(n, dtype=np.int64)
    else:
        # m = cumsum([m0, first deltas...]); order 2: first deltas = cumsum([d1, diffs...])
        m = np.empty(n, dtype=np.int64)
        m[0] = m0
        if order == 2:
            m[1] = d1
            _unzigzag_into(m[2:], buf, pos, n - 2, w)
            np.cumsum(m[1:], out=m[1:])
        else:
            _unzigzag_into(m[1:], buf, pos, n - 1, w)
        np.cumsum(m, out=m)
    values: npt.NDArray[np.float64] = m.astype(np.float64) / _POW10[d]
    return values


def split_points(
    timestamps: npt.NDArray[np.int64], max_samples: int = MAX_SAMPLES_PER_CHUNK
) -> list[tuple[int, int]]:
    """Index ranges ``[start, end)`` cutting a series into chunks of at most ``max_samples``."""
    n = int(timestamps.size)
    return [(s, min(s + max_samples, n)) for s in range(0, n, max_samples)]


CachedChunk = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], bool, int, int]
"""A decoded chunk: timestamps, values, whether no value is a stale marker, ``t0`` and
``step`` (0 for irregular timestamps; otherwise sample ``i`` is at ``t0 + i * step``
and the timestamps array is shared with every chunk of the same times)."""

_REGULAR_KEPT = 4096
_regular_times: dict[tuple[int, int, int], npt.NDArray[np.int64]] = {}


def shared_regular_times(t0: int, step: int, n: int) -> npt.NDArray[np.int64]:
    """The read-only array ``t0 + step * arange(n)``, one copy for all chunks that have it.

    Series scraped by one target share their timestamps, so a block of thousands of
    series has a handful of distinct timestamp runs: cached chunks then hold values only.
    """
    key = (t0, step, n)
    found = _regular_times.get(key)
    if found is None:
        if len(_regular_times) >= _REGULAR_KEPT:
            _regular_times.clear()
        found = t0 + step * np.arange(n, dtype=np.int64)
        found.flags.writeable = False
        _regular_times[key] = found
    return found


_STALE_BITS = np.uint64(0x7FF0000000000002)  # storage.STALE_NAN_BITS (no import cycle)


class DecodedChunkCache:
    """A process-wide LRU of decoded chunks, bounded by the samples it holds.

    Decoding dominates a block read (an instant query needs 20 samples of a
    480-sample chunk, yet the whole chunk is decoded), and dashboards re-run
    the same queries over the same recent data. Entries are keyed by an owner
    token (one per open block) and a chunk number; the arrays handed out are
    read-only, so a caller can never alter what the next query sees.
    """

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max_samples
        self._entries: OrderedDict[tuple[int, int], CachedChunk] = OrderedDict()
        self._samples = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def samples(self) -> int:
        return self._samples

    def get(self, key: tuple[int, int]) -> CachedChunk | None:
        # No lock on the hot path: a dict lookup and OrderedDict.move_to_end are each
        # atomic under the GIL; an entry evicted in between is simply a miss.
        found = self._entries.get(key)
        if found is None:
            self.misses += 1
            return None
        with contextlib.suppress(KeyError):
            self._entries.move_to_end(key)
        self.hits += 1
        return found

    def put(
        self,
        key: tuple[int, int],
        ts: npt.NDArray[np.int64] | None,
        vs: npt.NDArray[np.float64],
        t0: int = 0,
        step: int = 0,
    ) -> CachedChunk:
        """Keep a decoded chunk (arrays made read-only); returns the entry, kept or not.

        ``ts`` is ``None`` for regular timestamps ``t0 + i * step`` (``step > 0``): they
        are then shared (:func:`shared_regular_times`) and only values count against
        the budget.
        """
        n = int(vs.size)
        if ts is None:
            ts = shared_regular_times(t0, step, n)
        else:
            ts.flags.writeable = False
            step = 0
        vs.flags.writeable = False
        entry = (ts, vs, not bool((vs.view(np.uint64) == _STALE_BITS).any()), t0, step)
        if n > self.max_samples:
            return entry
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._samples -= int(old[1].size)
            self._entries[key] = entry
            self._samples += n
            while self._samples > self.max_samples:
                _, evicted = self._entries.popitem(last=False)
                self._samples -= int(evicted[1].size)
        return entry

    def drop_owner(self, owner: int) -> None:
        """Forget every chunk of one owner (a closed block)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == owner]:
                self._samples -= int(self._entries.pop(key)[1].size)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._samples = 0


DEFAULT_CACHE_SAMPLES = 8_000_000
"""At most 128 MiB of decoded samples (16 bytes each; 8 where the timestamps are
regular and shared): the recent hours of a few thousand series, what
dashboards and rules read again and again."""

decoded_cache = DecodedChunkCache(DEFAULT_CACHE_SAMPLES)
"""The cache every open block shares."""
