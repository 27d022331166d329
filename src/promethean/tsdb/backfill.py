"""Backfill: turn an OpenMetrics file with timestamps into blocks, like promtool's.

The input is read once, line by line; each distinct series text is parsed
and validated the first time it is seen (the model's OpenMetrics scanner),
after which a line costs a dictionary lookup and two number conversions.
Samples accumulate per series in compact typed arrays, so neither sorted nor
unsorted input (series interleaved, times out of order) needs more than one
pass. Each series is then sorted by time and the data is cut into blocks
aligned to the block duration (promtool's default 2 h, or the largest
compaction range not above ``--max-block-duration``).

Errors name the input and line: ``data.om:12: expected timestamp for series
...``. A duplicate timestamp with a different value is refused as upstream's
appender does; an exact duplicate is dropped.
"""

from __future__ import annotations

import math
import os
import sys
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from promethean.model._textlex import scan_sample, seconds_to_ms
from promethean.model.errors import ParseError
from promethean.model.labels import Labels
from promethean.tsdb.block import BlockMeta, SeriesData, write_block
from promethean.tsdb.compact import DEFAULT_BLOCK_RANGE, exponential_block_ranges

__all__ = [
    "BackfillError",
    "BackfillResult",
    "compatible_block_duration",
    "create_blocks_from_openmetrics",
    "read_openmetrics_series",
]

_PROGRESS_EVERY = 1 << 16


class BackfillError(Exception):
    """A refusal the user can fix; the message names file and line where there is one."""


@dataclass(slots=True)
class BackfillResult:
    blocks: list[BlockMeta] = field(default_factory=list)
    series: int = 0
    samples: int = 0


@dataclass(slots=True)
class _Acc:
    labels: Labels
    ts: array[int]
    vs: array[float]


def compatible_block_duration(max_block_duration: int) -> int:
    """The largest compaction range (2 h x 3^i) not above ``max_block_duration`` (at least 2 h)."""
    best = DEFAULT_BLOCK_RANGE
    for r in exponential_block_ranges(DEFAULT_BLOCK_RANGE, 10, 3):
        if r <= max_block_duration:
            best = r
    return best


def read_openmetrics_series(
    path: str | os.PathLike[str],
    progress: Callable[[int, int], None] | None = None,
) -> list[_Acc]:
    """Every series in the file with its samples as read (not yet sorted)."""
    name = os.fspath(path)
    try:
        size = os.path.getsize(name)
        f = open(name, encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        raise BackfillError(f"{name}: {exc.strerror or exc}") from None
    cache: dict[str, int] = {}
    by_labels: dict[Labels, int] = {}
    accs: list[_Acc] = []
    ts_add: list[Callable[[int], None]] = []
    vs_add: list[Callable[[float], None]] = []
    eof_line = 0
    lineno = 0

    def new_series(labels: Labels) -> int:
        k = by_labels.get(labels)
        if k is None:
            k = len(accs)
            by_labels[labels] = k
            acc = _Acc(labels, array("q"), array("d"))
            accs.append(acc)
            ts_add.append(acc.ts.append)
            vs_add.append(acc.vs.append)
        return k

    with f:
        try:
            for lineno, line in enumerate(f, 1):
                if eof_line:
                    raise ParseError("unexpected text after '# EOF'", lineno, 1)
                if progress is not None and lineno % _PROGRESS_EVERY == 0:
                    progress(_tell(f), size)
                if line[-1:] == "\n":
                    line = line[:-1]
                if not line:
                    raise ParseError("blank lines are not allowed", lineno, 1)
                if line[0] == "#":
                    if line == "# EOF":
                        eof_line = lineno
                    elif not line.startswith(("# HELP ", "# TYPE ", "# UNIT ")):
                        raise ParseError(
                            "only HELP, TYPE, UNIT and EOF comments are allowed", lineno, 1
                        )
                    continue
                head, _, ts_tok = line.rpartition(" ")
                series, _, val_tok = head.rpartition(" ")
                k = cache.get(series)
                if k is None or "_" in val_tok:
                    k, val_tok, ts_tok = _slow_line(line, lineno, series, cache, new_series)
                try:
                    v = float(val_tok)
                except ValueError:
                    raise ParseError(
                        f"expected a number as value, got {val_tok!r}", lineno, 1
                    ) from None
                if ts_tok.isascii() and ts_tok.isdigit():
                    t = int(ts_tok) * 1000
                else:
                    t = seconds_to_ms(ts_tok, lineno, 1)[1]
                ts_add[k](t)
                vs_add[k](v)
        except ParseError as exc:
            raise BackfillError(f"{name}:{exc.line}: {exc.message}") from None
        except UnicodeDecodeError:
            raise BackfillError(f"{name}:{lineno + 1}: input is not valid UTF-8") from None
    if not eof_line:
        raise BackfillError(f"{name}:{lineno + 1}: missing '# EOF' at end of input")
    if progress is not None:
        progress(size, size)
    return accs


def _tell(f: object) -> int:
    """Bytes consumed so far (of the binary buffer below the text reader)."""
    buffer = getattr(f, "buffer", None)
    try:
        return int(buffer.tell()) if buffer is not None else 0
    except (OSError, ValueError):
        return 0


def _slow_line(
    line: str,
    lineno: int,
    series: str,
    cache: dict[str, int],
    new_series: Callable[[Labels], int],
) -> tuple[int, str, str]:
    """Validate a line the fast split cannot vouch for; cache its series text if plain."""
    raw = scan_sample(line, lineno, om=True)
    if any(k == "__name__" for k, _ in raw.pairs):
        raise ParseError('label name "__name__" is reserved', lineno, 1)
    labels = Labels.from_pairs([("__name__", raw.name), *raw.pairs])
    if raw.ts is None:
        raise ParseError(f"expected timestamp for series {labels}, got none", lineno, 1)
    k = new_series(labels)
    plain = (
        raw.exemplar is None
        and raw.series_end == len(series)
        and line[: raw.series_end] == series
        and "_" not in raw.value
    )
    if plain:
        cache[series] = k
    elif "_" in raw.value:
        raise ParseError(f"expected a number as value, got {raw.value!r}", lineno, raw.value_col)
    return k, raw.value, raw.ts


def _sorted_series(accs: list[_Acc]) -> Iterator[SeriesData]:
    """Each series sorted by time, exact duplicates dropped, conflicting ones refused."""
    for acc in sorted(accs, key=lambda a: a.labels):
        ts = np.frombuffer(acc.ts, dtype=np.int64)
        vs = np.frombuffer(acc.vs, dtype=np.float64)
        if ts.size > 1 and bool((ts[1:] <= ts[:-1]).any()):
            order = np.argsort(ts, kind="stable")
            ts, vs = ts[order], vs[order]
            dup = ts[1:] == ts[:-1]
            if dup.any():
                bits = vs.view(np.uint64)
                clash = dup & (bits[1:] != bits[:-1])
                if clash.any():
                    at = int(ts[1:][clash][0])
                    raise BackfillError(
                        f"duplicate sample for timestamp {at} with a different value "
                        f"in series {acc.labels}"
                    )
                keep = np.ones(ts.size, dtype=bool)
                keep[1:] = ~dup
                ts, vs = ts[keep], vs[keep]
        yield acc.labels, ts, vs


def create_blocks_from_openmetrics(
    input_path: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    max_block_duration: int = DEFAULT_BLOCK_RANGE,
    progress: Callable[[int, int], None] | None = None,
) -> BackfillResult:
    """Read ``input_path`` and write level-1 blocks into ``output_dir`` (created if needed)."""
    accs = read_openmetrics_series(input_path, progress)
    result = BackfillResult(series=len(accs))
    if not accs:
        return result
    series = list(_sorted_series(accs))
    del accs
    mint = min(int(ts[0]) for _, ts, _ in series)
    maxt = max(int(ts[-1]) for _, ts, _ in series)
    duration = compatible_block_duration(max_block_duration)
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackfillError(f"{out}: {exc.strerror or exc}") from None
    start = math.floor(mint / duration) * duration
    for t0 in range(start, maxt + 1, duration):
        t1 = t0 + duration
        meta = write_block(out, _window(series, t0, t1))
        if meta is not None:
            result.blocks.append(meta)
            result.samples += meta.stats.num_samples
    return result


def _window(series: list[SeriesData], t0: int, t1: int) -> Iterator[SeriesData]:
    for labels, ts, vs in series:
        lo, hi = np.searchsorted(ts, [t0, t1])
        if hi > lo:
            yield labels, ts[lo:hi], vs[lo:hi]


def terminal_progress(stream: object = None) -> Callable[[int, int], None] | None:
    """A percentage on stderr when it is a terminal (large inputs take a while)."""
    out = sys.stderr if stream is None else stream
    isatty = getattr(out, "isatty", None)
    if not callable(isatty) or not isatty():
        return None
    write = getattr(out, "write")  # noqa: B009

    def show(done: int, total: int) -> None:
        pct = 100.0 * done / total if total else 100.0
        write(f"\rreading input: {pct:5.1f}%")
        if done >= total:
            write("\n")

    return show
