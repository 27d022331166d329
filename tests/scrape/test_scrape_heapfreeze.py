"""The heap freezer: long-lived objects leave the GC's scans, fresh cycles do not leak."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from promethean.scrape.heapfreeze import HeapFreezer, release_free_memory


class _Node:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def _unfreeze_after() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_new_series_freeze_live_objects_but_at_most_once_per_interval() -> None:
    now = [100.0]
    f = HeapFreezer(min_interval_s=5.0, clock=lambda: now[0])
    # The freeze count is process-wide (another test's freezer thread may also freeze),
    # so "no freeze happened" is asserted on this freezer's own count.
    gc.unfreeze()
    keep = [[i] for i in range(1000)]
    assert f.series_added(0) is False
    assert f.freezes == 0
    assert f.series_added(10) is True
    frozen = gc.get_freeze_count()
    assert frozen >= len(keep)
    more = [[i] for i in range(1000)]
    now[0] += 4.9
    assert f.series_added(10) is False
    assert f.freezes == 1
    now[0] += 0.2
    assert f.series_added(1) is True
    assert gc.get_freeze_count() >= frozen + len(more)
    assert f.freezes == 2


def test_young_cyclic_garbage_is_collected_not_frozen() -> None:
    f = HeapFreezer()
    node = _Node()
    ref = weakref.ref(node)
    del node
    f.freeze_now()
    assert ref() is None


def test_free_memory_goes_back_to_the_kernel_where_libc_can() -> None:
    import platform

    blocks = [bytearray(64 * 1024) for _ in range(200)]
    del blocks
    assert release_free_memory() is (platform.libc_ver()[0] == "glibc")
