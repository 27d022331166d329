"""The storage interfaces: how scrape, rules, PromQL, remote read/write and
federation meet the database without knowing it.

Modelled on Prometheus's ``storage/interface.go``: an :class:`Appender`
collects samples and makes them visible all at once on :meth:`Appender.commit`
(or drops them on :meth:`Appender.rollback`); a :class:`Querier` is scoped to
a time range and returns whole series as numpy arrays, because PromQL
evaluates over arrays, never sample by sample.

Times are int64 milliseconds since the epoch; values are float64. A stale
marker is the special NaN :data:`STALE_NAN` (bit pattern 0x7ff0000000000002),
stored and returned bit-exactly; test with :func:`is_stale`, never ``==``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher

STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale(value: float) -> bool:
    return struct.pack("<d", value) == _STALE_BYTES


_STALE_BYTES = struct.pack("<Q", STALE_NAN_BITS)

SeriesRef = int
"""An opaque handle to a series in the head, valid for the life of the process
(callers cache it, e.g. in the scrape cache, to skip label lookups)."""


class StorageError(Exception):
    """Base of the append errors; each is counted in the server's self-metrics."""


class OutOfOrderSampleError(StorageError):
    def __init__(self) -> None:
        super().__init__("out of order sample")


class DuplicateSampleError(StorageError):
    def __init__(self) -> None:
        super().__init__("duplicate sample for timestamp")


class OutOfBoundsError(StorageError):
    def __init__(self) -> None:
        super().__init__("out of bounds")


class SeriesLabelsError(StorageError):
    """An empty label set or duplicate label names. (A missing ``__name__`` is accepted here,
    as by upstream's TSDB; receivers such as remote write validate names themselves.)"""


@dataclass(slots=True)
class Series:
    """One series selected by a query: labels and its samples in [mint, maxt], ascending."""

    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


class Appender(Protocol):
    def append(self, ref: SeriesRef | None, labels: Labels, t: int, v: float) -> SeriesRef:
        """Add a sample; ``ref`` from an earlier call skips the label lookup.

        Raises an :class:`StorageError` subclass for a sample the database refuses;
        the other samples of the batch are unaffected.
        """
        ...

    def append_many(
        self,
        refs: Sequence[SeriesRef | None],
        labels: Sequence[Labels],
        t: npt.NDArray[np.int64] | int,
        v: npt.NDArray[np.float64],
    ) -> tuple[list[SeriesRef], dict[int, StorageError]]:
        """Bulk form for a whole scrape: returns refs and per-index errors."""
        ...

    def commit(self) -> None:
        """Make the batch visible and durable (in the WAL) before returning."""
        ...

    def rollback(self) -> None: ...


class Querier(Protocol):
    def select(self, matchers: Sequence[Matcher], sort: bool = False) -> Iterator[Series]:
        """Series matching all matchers, with their samples in the querier's range."""
        ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def close(self) -> None: ...


class Storage(Protocol):
    def appender(self) -> Appender: ...

    def querier(self, mint: int, maxt: int) -> Querier: ...

    def close(self) -> None: ...
