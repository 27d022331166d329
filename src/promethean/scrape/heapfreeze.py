"""Keep CPython's cyclic GC off the long-lived series tables.

A full (generation 2) collection walks every object the GC tracks. A server
with 100k series holds millions of them (label tuples, parser cache entries,
chunk lists), and they are created in bursts (start-up, WAL replay, a new
target): exactly then full collections come back to back, each stopping every
thread for 0.1-1 s, so scrapes miss their ticks (issue 6). Those objects live
as long as their series; scanning them for cycles only costs time.

``gc.freeze()`` moves everything alive into the permanent generation, which
collections skip (and it is O(1): a list splice). :class:`HeapFreezer` does so
after scrapes that created series, at most once per ``min_interval_s``, and
first collects the young generations (cheap: they are small) so that fresh
cyclic garbage is freed rather than kept. What it can keep is cyclic garbage
that already reached the old generation since the previous freeze; that is
bounded by how often series appear, and only the series' own objects are long
lived in steady state. Freed frozen objects are still released by reference
counting as usual.

:func:`release_free_memory` is the other half of keeping RSS honest: each
scrape parses a megabyte-sized body and builds short-lived arrays in worker
threads, and glibc keeps what they freed in per-thread arenas; ``malloc_trim``
hands those pages back (measured: 15-30 MiB at 100k series, ~2 ms a call).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time
from collections.abc import Callable

__all__ = ["HeapFreezer", "release_free_memory"]


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        return None
    return trim


_TRIM = _malloc_trim()


def release_free_memory() -> bool:
    """Return freed heap pages to the kernel; False where libc cannot (not glibc)."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


class HeapFreezer:
    """Freezes the heap after series growth; thread-safe (called from scrape workers)."""

    def __init__(
        self,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._pending = 0
        self._last = float("-inf")
        self.freezes = 0

    def series_added(self, n: int) -> bool:
        """Note ``n`` new series; freeze if due. Returns whether it froze."""
        if n <= 0:
            return False
        with self._lock:
            self._pending += n
            now = self._clock()
            if now - self._last < self.min_interval_s:
                return False
            self._freeze_locked(now)
            return True

    def freeze_now(self) -> None:
        """Freeze unconditionally (after the WAL replay filled the head)."""
        with self._lock:
            self._freeze_locked(self._clock())

    def _freeze_locked(self, now: float) -> None:
        gc.collect(1)
        gc.freeze()
        self._pending = 0
        self._last = now
        self.freezes += 1
