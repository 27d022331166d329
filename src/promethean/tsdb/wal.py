"""The write-ahead log: every committed append is on its way to disk before
``commit()`` returns.

Layout (documented in docs/tsdb-head.md): ``<data>/wal/NNNNNNNN`` segment
files, each a sequence of records framed as ``u32 length | u32 crc32 | body``
(little-endian; the CRC covers the body; the body's first byte is the record
type). A record is written with one ``write(2)`` to a file opened
``O_APPEND``, so once ``commit()`` returns the record sits in the kernel's
page cache and survives a SIGKILL of the process; segments are fsynced when
they are closed (a new segment is cut at ``segment_size``, as upstream's
128 MiB), so a power loss can lose at most the unsynced tail of the newest
segments. As upstream, that fsync runs in the background: syncing 128 MiB
can take seconds on a busy disk, and the commit that cut the segment holds
the head lock, so every scrape would wait for it (issue 6). :meth:`WAL.close`
and :meth:`WAL.sync` wait for those background syncs. A torn or corrupt
tail is found by the length and CRC checks and cut off on replay
(:func:`repair`).

Records hold whole numpy arrays: a samples record of a 100k-series scrape is
three array copies, never a loop per sample.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from promethean.fsutil import fsync_dir
from promethean.logs import kv
from promethean.model.labels import Labels
from promethean.tsdb.faults import crash_point

__all__ = [
    "CHUNKS",
    "SAMPLES",
    "SERIES",
    "TOMBSTONES",
    "WAL",
    "Corruption",
    "decode_chunks",
    "decode_samples",
    "decode_series",
    "decode_tombstones",
    "encode_chunks",
    "encode_samples",
    "encode_series",
    "encode_tombstones",
    "frame",
    "read_records",
    "segment_name",
]

log = logging.getLogger("promethean.tsdb.wal")

SERIES = 1
SAMPLES = 2
TOMBSTONES = 3
CHUNKS = 4  # closed head chunks, written only into checkpoints

DEFAULT_SEGMENT_SIZE = 128 * 1024 * 1024
_HEADER = struct.Struct("<II")

_SINGLE_TS = 1
_REFS_U32 = 2


def segment_name(index: int) -> str:
    return f"{index:08d}"


def frame(body: bytes) -> bytes:
    """One record on disk: length, CRC32 of the body, body."""
    return _HEADER.pack(len(body), zlib.crc32(body)) + body


# --- record bodies -----------------------------------------------------------


def encode_series(entries: Sequence[tuple[int, Labels]]) -> bytes:
    parts: list[bytes] = [bytes((SERIES,)), struct.pack("<I", len(entries))]
    for ref, labels in entries:
        parts.append(struct.pack("<QH", ref, len(labels)))
        for name, value in labels:
            bn = name.encode("utf-8", "surrogatepass")
            bv = value.encode("utf-8", "surrogatepass")
            parts.append(struct.pack("<I", len(bn)))
            parts.append(bn)
            parts.append(struct.pack("<I", len(bv)))
            parts.append(bv)
    return b"".join(parts)


def decode_series(body: bytes) -> list[tuple[int, Labels]]:
    (count,) = struct.unpack_from("<I", body, 1)
    pos = 5
    out: list[tuple[int, Labels]] = []
    for _ in range(count):
        ref, npairs = struct.unpack_from("<QH", body, pos)
        pos += 10
        pairs: list[tuple[str, str]] = []
        for _ in range(npairs):
            (ln,) = struct.unpack_from("<I", body, pos)
            name = body[pos + 4 : pos + 4 + ln].decode("utf-8", "surrogatepass")
            pos += 4 + ln
            (lv,) = struct.unpack_from("<I", body, pos)
            value = body[pos + 4 : pos + 4 + lv].decode("utf-8", "surrogatepass")
            pos += 4 + lv
            pairs.append((name, value))
        out.append((ref, tuple.__new__(Labels, pairs)))
    if pos != len(body):
        raise ValueError("series record has trailing bytes")
    return out


def encode_samples(
    refs: npt.NDArray[np.int64], ts: npt.NDArray[np.int64], vs: npt.NDArray[np.float64]
) -> bytes:
    n = len(refs)
    flags = 0
    if n and bool((ts == ts[0]).all()):
        flags |= _SINGLE_TS
        ts_bytes = np.asarray(ts[:1], dtype="<i8").tobytes()
    else:
        ts_bytes = np.asarray(ts, dtype="<i8").tobytes()
    if n and int(refs.max()) < (1 << 32):
        flags |= _REFS_U32
        ref_bytes = np.asarray(refs, dtype="<u4").tobytes()
    else:
        ref_bytes = np.asarray(refs, dtype="<u8").tobytes()
    return b"".join(
        (
            struct.pack("<BIB", SAMPLES, n, flags),
            ref_bytes,
            ts_bytes,
            np.asarray(vs, dtype="<f8").tobytes(),
        )
    )


def decode_samples(
    body: bytes,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    _type, n, flags = struct.unpack_from("<BIB", body, 0)
    pos = 6
    ref_size = 4 if flags & _REFS_U32 else 8
    refs = np.frombuffer(body, dtype="<u4" if ref_size == 4 else "<u8", count=n, offset=pos)
    pos += ref_size * n
    nts = 1 if flags & _SINGLE_TS else n
    ts = np.frombuffer(body, dtype="<i8", count=nts, offset=pos)
    pos += 8 * nts
    vs = np.frombuffer(body, dtype="<f8", count=n, offset=pos)
    pos += 8 * n
    if pos != len(body):
        raise ValueError("samples record has trailing bytes")
    ts_full = np.full(n, ts[0], dtype=np.int64) if flags & _SINGLE_TS and n else ts
    return refs.astype(np.int64), ts_full.astype(np.int64), vs.astype(np.float64)


def encode_tombstones(entries: Sequence[tuple[int, int, int]]) -> bytes:
    arr = np.asarray(entries, dtype="<i8").reshape(-1, 3)
    return struct.pack("<BI", TOMBSTONES, len(arr)) + arr.tobytes()


def decode_tombstones(body: bytes) -> list[tuple[int, int, int]]:
    _type, n = struct.unpack_from("<BI", body, 0)
    if len(body) != 5 + 24 * n:
        raise ValueError("tombstones record has a wrong length")
    arr = np.frombuffer(body, dtype="<i8", count=3 * n, offset=5).reshape(-1, 3)
    return [(int(a), int(b), int(c)) for a, b, c in arr]


def encode_chunks(entries: Sequence[tuple[int, int, int, bytes]]) -> bytes:
    parts = [struct.pack("<BI", CHUNKS, len(entries))]
    for ref, mint, maxt, data in entries:
        parts.append(struct.pack("<QqqI", ref, mint, maxt, len(data)))
        parts.append(data)
    return b"".join(parts)


def decode_chunks(body: bytes) -> list[tuple[int, int, int, bytes]]:
    _type, n = struct.unpack_from("<BI", body, 0)
    pos = 5
    out: list[tuple[int, int, int, bytes]] = []
    for _ in range(n):
        ref, mint, maxt, ln = struct.unpack_from("<QqqI", body, pos)
        pos += 28
        out.append((ref, mint, maxt, body[pos : pos + ln]))
        pos += ln
    if pos != len(body):
        raise ValueError("chunks record has trailing bytes")
    return out


# --- reading -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Corruption:
    """Where a segment stops being readable: the file and the offset of the bad record."""

    path: Path
    offset: int
    reason: str


def read_records(path: Path) -> tuple[list[bytes], Corruption | None]:
    """All intact record bodies of one file, and where it is torn or corrupt, if it is."""
    data = path.read_bytes()
    bodies: list[bytes] = []
    pos = 0
    end = len(data)
    while pos < end:
        if end - pos < _HEADER.size:
            return bodies, Corruption(path, pos, "truncated record header")
        length, crc = _HEADER.unpack_from(data, pos)
        if length == 0 or length > end - pos - _HEADER.size:
            return bodies, Corruption(path, pos, "truncated or invalid record length")
        body = data[pos + _HEADER.size : pos + _HEADER.size + length]
        if zlib.crc32(body) != crc:
            return bodies, Corruption(path, pos, "checksum mismatch")
        if body[0] not in (SERIES, SAMPLES, TOMBSTONES, CHUNKS):
            return bodies, Corruption(path, pos, f"unknown record type {body[0]}")
        bodies.append(body)
        pos += _HEADER.size + length
    return bodies, None


# --- writing -----------------------------------------------------------------


class WAL:
    """Segmented log writer. Thread-safe; callers hold their own ordering lock."""

    def __init__(self, directory: Path, segment_size: int = DEFAULT_SEGMENT_SIZE) -> None:
        self.dir = directory
        self.segment_size = segment_size
        self._lock = threading.Lock()
        self._fd = -1
        self._size = 0
        self.bytes_written = 0
        self.fsyncs = 0
        self._closing: list[threading.Thread] = []
        directory.mkdir(parents=True, exist_ok=True)
        existing = self.segments()
        self._index = existing[-1] + 1 if existing else 0
        self._open_segment()

    def segments(self) -> list[int]:
        return sorted(int(p.name) for p in self.dir.iterdir() if p.name.isdigit())

    @property
    def current_segment(self) -> int:
        return self._index

    def _open_segment(self) -> None:
        path = self.dir / segment_name(self._index)
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        fsync_dir(self.dir)

    def log(self, *bodies: bytes) -> None:
        """Append records with one write; returns once the kernel holds them."""
        buf = b"".join(frame(b) for b in bodies)
        with self._lock:
            if self._size > 0 and self._size + len(buf) > self.segment_size:
                self._rotate_locked()
                crash_point("wal.segment_cut")
            view = memoryview(buf)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            self._size += len(buf)
            self.bytes_written += len(buf)

    def rotate(self) -> int:
        """Close the current segment (fsynced) and start the next; returns the new index."""
        with self._lock:
            self._rotate_locked()
            return self._index

    def _rotate_locked(self) -> None:
        old = self._fd
        self._index += 1
        self._open_segment()
        self._closing = [t for t in self._closing if t.is_alive()]
        worker = threading.Thread(
            target=self._sync_and_close, args=(old,), name="wal-segment-sync", daemon=True
        )
        self._closing.append(worker)
        worker.start()

    def _sync_and_close(self, fd: int) -> None:
        try:
            os.fsync(fd)
            self.fsyncs += 1
        except OSError as exc:
            log.error("WAL segment fsync failed", extra=kv(component="tsdb", err=exc))
        finally:
            os.close(fd)

    def _wait_closing(self) -> None:
        for worker in self._closing:
            worker.join()
        self._closing = []

    def sync(self) -> None:
        """Everything logged so far is on disk when this returns."""
        with self._lock:
            self._wait_closing()
            if self._fd >= 0:
                os.fsync(self._fd)
                self.fsyncs += 1

    def remove_before(self, index: int) -> None:
        """Delete segments older than ``index`` (their content is in a checkpoint)."""
        for seg in self.segments():
            if seg < index:
                (self.dir / segment_name(seg)).unlink(missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._wait_closing()
            if self._fd >= 0:
                os.fsync(self._fd)
                self.fsyncs += 1
                os.close(self._fd)
                self._fd = -1


def iter_segment_paths(directory: Path, after: int = -1) -> Iterator[tuple[int, Path]]:
    if not directory.is_dir():
        return
    for seg in sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()):
        if seg > after:
            yield seg, directory / segment_name(seg)


def repair(corruption: Corruption, later_segments: Sequence[Path]) -> None:
    """Cut a torn tail: truncate at the bad record and drop any later segment, as upstream."""
    log.warning(
        "Repairing the write-ahead log: cutting a torn or corrupt tail",
        extra=kv(
            component="tsdb",
            segment=corruption.path.name,
            offset=corruption.offset,
            reason=corruption.reason,
            removed_segments=len(later_segments),
        ),
    )
    with open(corruption.path, "r+b") as fh:
        fh.truncate(corruption.offset)
        fh.flush()
        os.fsync(fh.fileno())
    for path in later_segments:
        path.unlink(missing_ok=True)
    fsync_dir(corruption.path.parent)
