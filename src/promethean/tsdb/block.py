"""Immutable on-disk blocks: write one from sorted series, open it, query it.

A block is a directory named by its ULID holding ``meta.json`` (upstream's
fields), ``index`` (symbols, series, chunk references, postings), ``chunks/``
(zstd frames of encoded chunks, see ``chunks.py``) and ``tombstones``
(deleted ranges, see ``tombstones.py``). It is written under
``<ulid>.tmp-for-creation`` and renamed into place only when complete and
fsynced, so a crash never leaves a partial block visible; leftovers are
removed by :func:`cleanup_tmp_dirs` at start-up.

Frames group the chunks of neighbouring series before compressing: series
scraped together share timestamps, so zstd stores one series' timestamp
section and references it for the rest. A query decompresses each frame it
touches once (the last few frames stay per block), and decoded chunks
are kept in a shared cache bounded by samples (``chunks.decoded_cache``).

The byte formats are documented in ``docs/tsdb-blocks.md``.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import mmap
import os
import secrets
import shutil
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cramjam
import numpy as np
import numpy.typing as npt
from pyroaring import BitMap

from promethean.fsutil import fsync_dir, write_atomically
from promethean.model.labels import Labels
from promethean.model.matchers import Matcher
from promethean.tsdb.chunks import (
    MAX_SAMPLES_PER_CHUNK,
    CachedChunk,
    decode_chunk_compact,
    decoded_cache,
    encode_chunk,
    shared_regular_times,
)
from promethean.tsdb.faults import crash_point
from promethean.tsdb.storage import Series

__all__ = [
    "TMP_CREATION_SUFFIX",
    "TMP_DELETION_SUFFIX",
    "Block",
    "BlockFormatError",
    "BlockMeta",
    "BlockQuerier",
    "BlockSeries",
    "BlockStats",
    "BlockWriter",
    "SeriesData",
    "cleanup_tmp_dirs",
    "delete_block_dir",
    "dir_size",
    "is_ulid",
    "list_block_dirs",
    "new_ulid",
    "write_block",
]

SeriesData = tuple[Labels, npt.NDArray[np.int64], npt.NDArray[np.float64]]
"""One series for writing/compaction: labels, ascending timestamps, values."""

TMP_CREATION_SUFFIX = ".tmp-for-creation"
TMP_DELETION_SUFFIX = ".tmp-for-deletion"
META_FILE = "meta.json"
INDEX_FILE = "index"
CHUNKS_DIR = "chunks"
CHUNK_FILE = "000001"
TOMBSTONES_FILE = "tombstones"

_INDEX_MAGIC = b"PMTSIDX1"
_FRAME_TARGET = 1 << 20
"""Uncompressed bytes per zstd frame: big enough for zstd to find cross-series
repeats, small enough that one series' read decompresses little extra."""
_ZSTD_LEVEL = 9
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_OWNER_TOKENS = itertools.count(1)
"""Keys of the shared decoded-chunk cache: one per opened block, never reused."""


class BlockFormatError(Exception):
    """A block directory that cannot be read (missing file, corrupt index)."""


@dataclass(slots=True)
class BlockSeries(Series):
    """A series read from a block; ``stale_free`` says no sample is a stale marker, so
    readers (range selectors) can skip looking for them."""

    stale_free: bool = False


# --------------------------------------------------------------------- ULIDs


def new_ulid(ms: int | None = None) -> str:
    """A ULID: 48-bit milliseconds then 80 random bits, Crockford base32 (26 chars)."""
    when = int(time.time() * 1000) if ms is None else ms
    value = (when & ((1 << 48) - 1)) << 80 | int.from_bytes(secrets.token_bytes(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def is_ulid(name: str) -> bool:
    return len(name) == 26 and all(c in _CROCKFORD for c in name.upper()) and name[0] in "01234567"


# ---------------------------------------------------------------------- meta


@dataclass(slots=True)
class BlockStats:
    num_samples: int = 0
    num_series: int = 0
    num_chunks: int = 0
    num_tombstones: int = 0


@dataclass(slots=True)
class BlockMeta:
    """``meta.json``: upstream's field names; ``max_time`` is exclusive as upstream's."""

    ulid: str
    min_time: int
    max_time: int
    stats: BlockStats = field(default_factory=BlockStats)
    level: int = 1
    sources: list[str] = field(default_factory=list)
    parents: list[dict[str, Any]] = field(default_factory=list)
    version: int = 1

    def to_json(self) -> dict[str, Any]:
        compaction: dict[str, Any] = {"level": self.level, "sources": list(self.sources)}
        if self.parents:
            compaction["parents"] = self.parents
        stats: dict[str, int] = {
            "numSamples": self.stats.num_samples,
            "numSeries": self.stats.num_series,
            "numChunks": self.stats.num_chunks,
        }
        if self.stats.num_tombstones:
            stats["numTombstones"] = self.stats.num_tombstones
        return {
            "ulid": self.ulid,
            "minTime": self.min_time,
            "maxTime": self.max_time,
            "stats": stats,
            "compaction": compaction,
            "version": self.version,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BlockMeta:
        stats = data.get("stats") or {}
        compaction = data.get("compaction") or {}
        return cls(
            ulid=str(data["ulid"]),
            min_time=int(data["minTime"]),
            max_time=int(data["maxTime"]),
            stats=BlockStats(
                num_samples=int(stats.get("numSamples", 0)),
                num_series=int(stats.get("numSeries", 0)),
                num_chunks=int(stats.get("numChunks", 0)),
                num_tombstones=int(stats.get("numTombstones", 0)),
            ),
            level=int(compaction.get("level", 1)),
            sources=[str(s) for s in compaction.get("sources", [])],
            parents=list(compaction.get("parents", [])),
            version=int(data.get("version", 1)),
        )

    def overlaps(self, mint: int, maxt: int) -> bool:
        """Whether the closed range [mint, maxt] meets this block's [min_time, max_time)."""
        return mint < self.max_time and maxt >= self.min_time


def read_meta(block_dir: str | os.PathLike[str]) -> BlockMeta:
    path = Path(block_dir) / META_FILE
    try:
        with open(path, encoding="utf-8") as f:
            return BlockMeta.from_json(json.load(f))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BlockFormatError(f"{path}: cannot read block meta: {exc}") from None


def write_meta(block_dir: str | os.PathLike[str], meta: BlockMeta) -> None:
    """Replace ``meta.json`` atomically (temp file, fsync, rename)."""
    _atomic_write(Path(block_dir) / META_FILE, json.dumps(meta.to_json(), indent="\t").encode())


def _atomic_write(path: Path, data: bytes) -> None:
    write_atomically(path, data, mode=0o644)


# ------------------------------------------------------------ directory care


def list_block_dirs(db_dir: str | os.PathLike[str]) -> list[Path]:
    """Complete block directories in ``db_dir`` (ULID name with a meta.json), by name."""
    root = Path(db_dir)
    if not root.is_dir():
        return []
    return sorted(
        p for p in root.iterdir() if is_ulid(p.name) and p.is_dir() and (p / META_FILE).is_file()
    )


def cleanup_tmp_dirs(db_dir: str | os.PathLike[str]) -> list[Path]:
    """Remove what a crash left half-made or half-deleted; returns what was removed."""
    root = Path(db_dir)
    removed: list[Path] = []
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        if p.name.endswith((TMP_CREATION_SUFFIX, TMP_DELETION_SUFFIX)) and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def delete_block_dir(block_dir: str | os.PathLike[str]) -> None:
    """Delete a block so that a crash midway leaves it either whole or invisible."""
    path = Path(block_dir)
    doomed = path.with_name(path.name + TMP_DELETION_SUFFIX)
    os.replace(path, doomed)
    fsync_dir(path.parent)
    crash_point("block.deletion_renamed")
    shutil.rmtree(doomed, ignore_errors=True)


# -------------------------------------------------------------------- writer


class _Sections:
    """A small container format: named numpy arrays behind a JSON table of contents."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._toc: dict[str, list[Any]] = {}
        self._size = 0

    def add(self, name: str, array: npt.NDArray[Any]) -> None:
        data = np.ascontiguousarray(array).tobytes()
        self._toc[name] = [array.dtype.str, self._size, int(array.size)]
        self._parts.append(data)
        self._size += len(data)

    def to_bytes(self) -> bytes:
        toc = json.dumps(self._toc).encode()
        return struct.pack("<I", len(toc)) + toc + b"".join(self._parts)

    @staticmethod
    def parse(body: bytes) -> dict[str, npt.NDArray[Any]]:
        (toc_len,) = struct.unpack_from("<I", body, 0)
        toc = json.loads(body[4 : 4 + toc_len])
        base = 4 + toc_len
        out: dict[str, npt.NDArray[Any]] = {}
        for name, (dtype, offset, count) in toc.items():
            out[name] = np.frombuffer(
                body, dtype=np.dtype(dtype), count=count, offset=base + offset
            )
        return out


class BlockWriter:
    """Streams sorted series into a new block directory under ``parent_dir``.

    Call :meth:`add_series` in label order, then :meth:`finish` (which renames
    the finished directory into place) or :meth:`abort`.
    """

    def __init__(
        self,
        parent_dir: str | os.PathLike[str],
        *,
        ulid: str | None = None,
        level: int = 1,
        sources: Sequence[str] | None = None,
        parents: Sequence[dict[str, Any]] | None = None,
        max_samples_per_chunk: int = MAX_SAMPLES_PER_CHUNK,
    ) -> None:
        self.ulid = ulid or new_ulid()
        self._parent = Path(parent_dir)
        self._parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self._parent / (self.ulid + TMP_CREATION_SUFFIX)
        if self._tmp.exists():
            shutil.rmtree(self._tmp)
        (self._tmp / CHUNKS_DIR).mkdir(parents=True)
        self._chunk_file = open(self._tmp / CHUNKS_DIR / CHUNK_FILE, "wb")  # noqa: SIM115
        self._level = level
        self._sources = list(sources) if sources else [self.ulid]
        self._parents = list(parents or [])
        self._max_per_chunk = max_samples_per_chunk
        self._labels: list[Labels] = []
        self._frame: list[bytes] = []
        self._frame_size = 0
        self._frame_offsets: list[int] = [0]
        self._file_pos = 0
        self._chunk_series_offsets: list[int] = [0]
        self._c_mint: list[int] = []
        self._c_maxt: list[int] = []
        self._c_frame: list[int] = []
        self._c_offset: list[int] = []
        self._c_length: list[int] = []
        self._c_count: list[int] = []
        self._samples = 0
        self._mint: int | None = None
        self._maxt: int | None = None
        self._last: Labels | None = None

    def add_series(
        self,
        labels: Labels,
        timestamps: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        """Append one series (labels strictly greater than the last one's); empty is skipped."""
        if timestamps.size == 0:
            return
        if self._last is not None and not self._last < labels:
            raise ValueError(f"series out of order or duplicated: {labels} after {self._last}")
        self._last = labels
        self._labels.append(labels)
        for start, end in _chunk_ranges(timestamps.size, self._max_per_chunk):
            ts = timestamps[start:end]
            data = encode_chunk(ts, values[start:end])
            self._c_mint.append(int(ts[0]))
            self._c_maxt.append(int(ts[-1]))
            self._c_frame.append(len(self._frame_offsets) - 1)
            self._c_offset.append(self._frame_size)
            self._c_length.append(len(data))
            self._c_count.append(end - start)
            self._frame.append(data)
            self._frame_size += len(data)
        self._chunk_series_offsets.append(len(self._c_mint))
        self._samples += int(timestamps.size)
        first, last = int(timestamps[0]), int(timestamps[-1])
        self._mint = first if self._mint is None else min(self._mint, first)
        self._maxt = last if self._maxt is None else max(self._maxt, last)
        if self._frame_size >= _FRAME_TARGET:
            self._flush_frame()

    def _flush_frame(self) -> None:
        if not self._frame:
            return
        packed = bytes(cramjam.zstd.compress(b"".join(self._frame), level=_ZSTD_LEVEL))
        self._chunk_file.write(packed)
        self._file_pos += len(packed)
        self._frame_offsets.append(self._file_pos)
        self._frame = []
        self._frame_size = 0

    @property
    def num_samples(self) -> int:
        return self._samples

    def abort(self) -> None:
        self._chunk_file.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def finish(self, min_time: int | None = None, max_time: int | None = None) -> BlockMeta | None:
        """Write index and meta, fsync, rename into place; ``None`` (nothing written) if empty.

        ``min_time``/``max_time`` (exclusive) default to the data's own range.
        """
        try:
            if not self._labels or self._mint is None or self._maxt is None:
                self.abort()
                return None
            self._flush_frame()
            self._chunk_file.flush()
            os.fsync(self._chunk_file.fileno())
            self._chunk_file.close()
            self._write_index()
            meta = BlockMeta(
                ulid=self.ulid,
                min_time=self._mint if min_time is None else min(min_time, self._mint),
                max_time=self._maxt + 1 if max_time is None else max(max_time, self._maxt + 1),
                stats=BlockStats(
                    num_samples=self._samples,
                    num_series=len(self._labels),
                    num_chunks=len(self._c_mint),
                ),
                level=self._level,
                sources=sorted(set(self._sources)),
                parents=self._parents,
            )
            _write_file(self._tmp / TOMBSTONES_FILE, _EMPTY_TOMBSTONES)
            _write_file(self._tmp / META_FILE, json.dumps(meta.to_json(), indent="\t").encode())
            fsync_dir(self._tmp / CHUNKS_DIR)
            fsync_dir(self._tmp)
            crash_point("block.files_written")
            final = self._parent / self.ulid
            os.replace(self._tmp, final)
            crash_point("block.renamed")
            fsync_dir(self._parent)
            return meta
        except BaseException:
            self.abort()
            raise

    def _write_index(self) -> None:
        symbols = sorted({s for lbls in self._labels for pair in lbls for s in pair})
        sym_id = {s: i for i, s in enumerate(symbols)}
        encoded = [s.encode("utf-8", "surrogatepass") for s in symbols]
        sym_offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=sym_offsets[1:])
        label_offsets = np.zeros(len(self._labels) + 1, dtype=np.int64)
        np.cumsum([len(lbls) for lbls in self._labels], out=label_offsets[1:])
        label_syms = np.fromiter(
            (sym_id[s] for lbls in self._labels for pair in lbls for s in pair),
            dtype=np.uint32,
            count=int(label_offsets[-1]) * 2,
        )
        postings: dict[tuple[int, int], list[int]] = {}
        for ref, lbls in enumerate(self._labels):
            for name, value in lbls:
                postings.setdefault((sym_id[name], sym_id[value]), []).append(ref)
        keys = sorted(postings, key=lambda k: (symbols[k[0]], symbols[k[1]]))
        blobs = [BitMap(postings[k]).serialize() for k in keys]
        post_offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in blobs], out=post_offsets[1:])

        sec = _Sections()
        sec.add("symbol_offsets", sym_offsets)
        sec.add("symbol_bytes", np.frombuffer(b"".join(encoded), dtype=np.uint8))
        sec.add("series_label_offsets", label_offsets)
        sec.add("series_label_syms", label_syms)
        sec.add("chunk_series_offsets", np.array(self._chunk_series_offsets, dtype=np.int64))
        sec.add("chunk_mint", np.array(self._c_mint, dtype=np.int64))
        sec.add("chunk_maxt", np.array(self._c_maxt, dtype=np.int64))
        sec.add("chunk_frame", np.array(self._c_frame, dtype=np.uint32))
        sec.add("chunk_offset", np.array(self._c_offset, dtype=np.uint32))
        sec.add("chunk_length", np.array(self._c_length, dtype=np.uint32))
        sec.add("chunk_samples", np.array(self._c_count, dtype=np.uint32))
        sec.add("frame_offsets", np.array(self._frame_offsets, dtype=np.int64))
        sec.add("postings_name", np.array([k[0] for k in keys], dtype=np.uint32))
        sec.add("postings_value", np.array([k[1] for k in keys], dtype=np.uint32))
        sec.add("postings_offsets", post_offsets)
        sec.add("postings_bytes", np.frombuffer(b"".join(blobs), dtype=np.uint8))
        body = bytes(cramjam.zstd.compress(sec.to_bytes(), level=_ZSTD_LEVEL))
        _write_file(self._tmp / INDEX_FILE, _INDEX_MAGIC + body)


_EMPTY_TOMBSTONES = b'{"version":1,"intervals":[]}\n'


def _write_file(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _chunk_ranges(n: int, per_chunk: int) -> list[tuple[int, int]]:
    if n <= per_chunk:
        return [(0, n)]
    count = -(-n // per_chunk)
    size = -(-n // count)  # even chunk sizes: no tiny tail chunk
    return [(s, min(s + size, n)) for s in range(0, n, size)]


def write_block(
    parent_dir: str | os.PathLike[str],
    series: Iterable[SeriesData],
    *,
    min_time: int | None = None,
    max_time: int | None = None,
    level: int = 1,
    sources: Sequence[str] | None = None,
    parents: Sequence[dict[str, Any]] | None = None,
    ulid: str | None = None,
) -> BlockMeta | None:
    """Write a block from series sorted by labels; ``None`` if there were no samples.

    ``max_time`` is exclusive (upstream's meta.json convention); both default
    to the data's own range.
    """
    writer = BlockWriter(parent_dir, ulid=ulid, level=level, sources=sources, parents=parents)
    try:
        for labels, ts, vs in series:
            writer.add_series(labels, ts, vs)
    except BaseException:
        writer.abort()
        raise
    return writer.finish(min_time, max_time)


# -------------------------------------------------------------------- reader


class Block:
    """An opened block: index in memory, chunks memory-mapped, tombstones applied on read."""

    def __init__(self, path: Path, meta: BlockMeta) -> None:
        self.path = path
        self.meta = meta
        raw = _read_bytes(path / INDEX_FILE)
        if not raw.startswith(_INDEX_MAGIC):
            raise BlockFormatError(f"{path / INDEX_FILE}: not a promethean block index")
        try:
            body = bytes(cramjam.zstd.decompress(raw[len(_INDEX_MAGIC) :]))
            sec = _Sections.parse(body)
            sym_offsets = sec["symbol_offsets"]
            sym_bytes = sec["symbol_bytes"].tobytes()
            self._symbols: list[str] = [
                sym_bytes[sym_offsets[i] : sym_offsets[i + 1]].decode("utf-8", "surrogatepass")
                for i in range(len(sym_offsets) - 1)
            ]
            self._label_offsets = sec["series_label_offsets"]
            self._label_syms = sec["series_label_syms"]
            self._chunk_series_offsets = sec["chunk_series_offsets"]
            self._c_mint = sec["chunk_mint"]
            self._c_maxt = sec["chunk_maxt"]
            self._c_frame = sec["chunk_frame"]
            self._c_offset = sec["chunk_offset"]
            self._c_length = sec["chunk_length"]
            self._frame_offsets = sec["frame_offsets"]
            self._post_offsets = sec["postings_offsets"]
            self._post_bytes = sec["postings_bytes"]
            # name -> {value: postings slot}
            self._postings_index: dict[str, dict[str, int]] = {}
            for slot, (n_id, v_id) in enumerate(
                zip(sec["postings_name"].tolist(), sec["postings_value"].tolist(), strict=True)
            ):
                name = self._symbols[n_id]
                self._postings_index.setdefault(name, {})[self._symbols[v_id]] = slot
        except (KeyError, ValueError, IndexError, struct.error, cramjam.DecompressionError) as exc:
            raise BlockFormatError(f"{path / INDEX_FILE}: corrupt index: {exc}") from None
        self.num_series = len(self._label_offsets) - 1
        self._all = BitMap(range(self.num_series))
        # Plain lists: indexing one is several times cheaper than a numpy scalar.
        self._cso: list[int] = self._chunk_series_offsets.tolist()
        self._cmint: list[int] = self._c_mint.tolist()
        self._cmaxt: list[int] = self._c_maxt.tolist()
        self._labels: list[Labels | None] = [None] * self.num_series
        self._token = next(_OWNER_TOKENS)
        self._frame_lock = threading.Lock()
        self._frames: dict[int, bytes] = {}
        self._postings_cache: dict[int, BitMap] = {}
        chunk_path = path / CHUNKS_DIR / CHUNK_FILE
        self._chunk_fd = open(chunk_path, "rb")  # noqa: SIM115
        size = os.fstat(self._chunk_fd.fileno()).st_size
        self._chunks: mmap.mmap | bytes = (
            mmap.mmap(self._chunk_fd.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
        )
        from promethean.tsdb.tombstones import read_tombstones

        self.tombstones = read_tombstones(path)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Block:
        p = Path(path)
        return cls(p, read_meta(p))

    @property
    def ulid(self) -> str:
        return self.meta.ulid

    @property
    def min_time(self) -> int:
        return self.meta.min_time

    @property
    def max_time(self) -> int:
        return self.meta.max_time

    def close(self) -> None:
        decoded_cache.drop_owner(self._token)
        self._frames = {}
        if isinstance(self._chunks, mmap.mmap):
            self._chunks.close()
        self._chunk_fd.close()

    def __enter__(self) -> Block:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def size_bytes(self) -> int:
        """Bytes on disk of every file in the block (what size retention counts)."""
        return dir_size(self.path)

    def reload_tombstones(self) -> None:
        from promethean.tsdb.tombstones import read_tombstones

        self.tombstones = read_tombstones(self.path)
        self.meta = read_meta(self.path)

    # -- index access

    def labels_of(self, ref: int) -> Labels:
        found = self._labels[ref]
        if found is not None:
            return found
        lo, hi = int(self._label_offsets[ref]), int(self._label_offsets[ref + 1])
        syms = self._label_syms[2 * lo : 2 * hi].tolist()
        s = self._symbols
        lbls: Labels = tuple.__new__(
            Labels, [(s[syms[i]], s[syms[i + 1]]) for i in range(0, len(syms), 2)]
        )
        self._labels[ref] = lbls
        return lbls

    def _postings(self, slot: int) -> BitMap:
        bm = self._postings_cache.get(slot)
        if bm is None:
            lo, hi = int(self._post_offsets[slot]), int(self._post_offsets[slot + 1])
            bm = BitMap.deserialize(self._post_bytes[lo:hi].tobytes())
            self._postings_cache[slot] = bm
        return bm

    def postings_for_matchers(self, matchers: Sequence[Matcher]) -> BitMap:
        """Series refs matching all matchers (absent label = empty string, as upstream)."""
        result: BitMap | None = None
        for m in sorted(matchers, key=lambda m: m.matches_empty):
            values = self._postings_index.get(m.name, {})
            if m.matches_empty:
                rejected = [slot for v, slot in values.items() if not m.matches(v)]
                base = result if result is not None else self._all
                result = (
                    base - BitMap.union(*(self._postings(s) for s in rejected))
                    if rejected
                    else BitMap(base)
                )
            else:
                literal = m.literal_values()
                if literal is not None:
                    slots = [values[v] for v in literal if v in values]
                else:
                    slots = [slot for v, slot in values.items() if m.matches(v)]
                found = BitMap.union(*(self._postings(s) for s in slots)) if slots else BitMap()
                result = found if result is None else result & found
            if not result:
                return BitMap()
        return BitMap(self._all) if result is None else result

    def label_names(self, refs: BitMap | None = None) -> list[str]:
        if refs is None:
            return sorted(self._postings_index)
        names: set[str] = set()
        for ref in refs:
            names.update(name for name, _ in self.labels_of(ref))
        return sorted(names)

    def label_values(self, name: str, refs: BitMap | None = None) -> list[str]:
        values = self._postings_index.get(name, {})
        if refs is None:
            return sorted(values)
        return sorted(v for v, slot in values.items() if self._postings(slot).intersect(refs))

    def series_time_range(self, ref: int) -> tuple[int, int]:
        """First and last sample time of series ``ref`` (from chunk metadata, no decoding)."""
        lo, hi = int(self._chunk_series_offsets[ref]), int(self._chunk_series_offsets[ref + 1])
        return int(self._c_mint[lo]), int(self._c_maxt[hi - 1])

    # -- data access

    def series_data(
        self,
        ref: int,
        mint: int,
        maxt: int,
        frames: dict[int, bytes] | None = None,
        apply_tombstones: bool = True,
        cache: bool = True,
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Samples of series ``ref`` in [mint, maxt] (read-only arrays).

        Decoded chunks come from the shared :data:`~promethean.tsdb.chunks.decoded_cache`;
        ``cache=False`` (a one-off full read such as compaction) decodes without
        filling it, so it does not evict what queries keep reading. ``frames``
        is accepted for callers of the older signature and unused.
        """
        cso, cmint, cmaxt = self._cso, self._cmint, self._cmaxt
        ts_parts: list[npt.NDArray[np.int64]] = []
        vs_parts: list[npt.NDArray[np.float64]] = []
        for c in range(cso[ref], cso[ref + 1]):
            c_lo, c_hi = cmint[c], cmaxt[c]
            if c_hi < mint or c_lo > maxt:
                continue
            ts, vs = _window(self._chunk(c, cache), c_lo, c_hi, mint, maxt)
            ts_parts.append(ts)
            vs_parts.append(vs)
        if not ts_parts:
            return _EMPTY_TS, _EMPTY_VS
        ts = ts_parts[0] if len(ts_parts) == 1 else np.concatenate(ts_parts)
        vs = vs_parts[0] if len(vs_parts) == 1 else np.concatenate(vs_parts)
        if apply_tombstones and self.tombstones:
            intervals = self.tombstones.get(ref)
            if intervals:
                keep = np.ones(ts.size, dtype=bool)
                for lo, hi in intervals:
                    keep &= (ts < lo) | (ts > hi)
                ts, vs = ts[keep], vs[keep]
        return ts, vs

    def _chunk(self, c: int, cache: bool = True) -> CachedChunk:
        """Chunk ``c`` decoded, from the shared cache or decoded now (and cached)."""
        key = (self._token, c)
        found = decoded_cache.get(key)
        if found is not None:
            return found
        fno = int(self._c_frame[c])
        frame = self._frame(fno)
        off = int(self._c_offset[c])
        ts, vs, t0, step = decode_chunk_compact(
            memoryview(frame)[off : off + int(self._c_length[c])]
        )
        if cache:
            return decoded_cache.put(key, ts, vs, t0, step)
        if ts is None:
            return shared_regular_times(t0, step, vs.size), vs, False, t0, step
        return ts, vs, False, t0, 0

    def _frame(self, fno: int) -> bytes:
        """Frame ``fno`` decompressed; the last few stay, for neighbouring series."""
        frame = self._frames.get(fno)
        if frame is None:
            start, end = int(self._frame_offsets[fno]), int(self._frame_offsets[fno + 1])
            frame = bytes(cramjam.zstd.decompress(self._chunks[start:end]))
            with self._frame_lock:
                if len(self._frames) >= _FRAMES_KEPT:
                    self._frames.pop(next(iter(self._frames)))
                self._frames[fno] = frame
        return frame

    def select_refs(self, refs: Iterable[int], mint: int, maxt: int) -> Iterator[Series]:
        """The series ``refs`` (ascending) with their samples in [mint, maxt]; empty ones skipped.

        The query path: :meth:`series_data` inlined for the common case of one cached
        chunk per series, since a query touches thousands of series and per-series
        overhead is what remains once chunks are decoded.
        """
        cso, cmint, cmaxt = self._cso, self._cmint, self._cmaxt
        entries = decoded_cache._entries
        token = self._token
        labels = self._labels
        tomb = self.tombstones
        for ref in refs:
            c0, c1 = cso[ref], cso[ref + 1]
            stale_free = False
            if c1 - c0 != 1 or tomb:
                ts, vs = self.series_data(ref, mint, maxt)
            else:
                c_lo, c_hi = cmint[c0], cmaxt[c0]
                if c_hi < mint or c_lo > maxt:
                    continue
                key = (token, c0)
                found = entries.get(key)
                if found is None:
                    found = self._chunk(c0)
                else:
                    with contextlib.suppress(KeyError):
                        entries.move_to_end(key)
                stale_free = found[2]
                ts, vs = _window(found, c_lo, c_hi, mint, maxt)
            if ts.size:
                lbls = labels[ref]
                yield BlockSeries(self.labels_of(ref) if lbls is None else lbls, ts, vs, stale_free)

    def iter_series(
        self,
        mint: int | None = None,
        maxt: int | None = None,
        refs: Iterable[int] | None = None,
        apply_tombstones: bool = True,
    ) -> Iterator[SeriesData]:
        """Every series (label order) with samples in range: the input of compaction."""
        lo = self.min_time if mint is None else mint
        hi = self.max_time if maxt is None else maxt
        for ref in range(self.num_series) if refs is None else refs:
            ts, vs = self.series_data(ref, lo, hi, None, apply_tombstones, cache=False)
            if ts.size:
                yield self.labels_of(ref), ts, vs

    def querier(self, mint: int, maxt: int) -> BlockQuerier:
        return BlockQuerier(self, mint, maxt)


def _window(
    chunk: CachedChunk, c_lo: int, c_hi: int, mint: int, maxt: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The samples of a decoded chunk (first and last time ``c_lo``, ``c_hi``) in [mint, maxt]:
    views, never copies; regular timestamps find the window by arithmetic."""
    ts, vs, _, t0, step = chunk
    if c_lo >= mint and c_hi <= maxt:
        return ts, vs
    if step:
        a = -((t0 - mint) // step) if c_lo < mint else 0  # first i: t0 + i * step >= mint
        b = min((maxt - t0) // step + 1, vs.size) if c_hi > maxt else vs.size
        if a >= b:
            return _EMPTY_TS, _EMPTY_VS
    else:
        a = int(ts.searchsorted(mint, "left")) if c_lo < mint else 0
        b = int(ts.searchsorted(maxt, "right")) if c_hi > maxt else ts.size
    return ts[a:b], vs[a:b]


_EMPTY_TS: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
_EMPTY_VS: npt.NDArray[np.float64] = np.empty(0, dtype=np.float64)
_EMPTY_TS.flags.writeable = False
_EMPTY_VS.flags.writeable = False
_FRAMES_KEPT = 4
"""Decompressed frames kept per block (about 1 MiB each)."""


def dir_size(path: str | os.PathLike[str]) -> int:
    """Bytes of every regular file below ``path`` (files vanishing meanwhile count 0)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise BlockFormatError(f"{path}: {exc.strerror or exc}") from None


class BlockQuerier:
    """The :class:`~promethean.tsdb.storage.Querier` of one block over [mint, maxt] (inclusive).

    Series come in label order whether or not ``sort`` is asked for, so a
    merge over several queriers can stream.
    """

    def __init__(self, block: Block, mint: int, maxt: int) -> None:
        self._block = block
        self.mint = mint
        self.maxt = maxt

    def select(self, matchers: Sequence[Matcher], sort: bool = False) -> Iterator[Series]:
        block = self._block
        if not block.meta.overlaps(self.mint, self.maxt):
            return
        yield from block.select_refs(block.postings_for_matchers(matchers), self.mint, self.maxt)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        block = self._block
        if not matchers:
            return block.label_names()
        return block.label_names(block.postings_for_matchers(matchers))

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        block = self._block
        if not matchers:
            return block.label_values(name)
        return block.label_values(name, block.postings_for_matchers(matchers))

    def close(self) -> None:
        """Nothing to release: the block owns the files."""
