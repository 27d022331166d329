"""``promethean tool tsdb ...``: promtool's block commands.

* ``create-blocks-from openmetrics INPUT OUTPUT_DIR [--max-block-duration]``
* ``list [-r] DIR``: one line per block, promtool's columns
* ``analyze [--limit N] DIR [BLOCK_ID]``: cardinality and churn of one block

Each command is a ``(configure, run)`` pair; the tiny ``tool_*`` modules next
to this one expose them under the names the CLI dispatcher imports.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from promethean.model.durations import format_go_duration as _go_duration
from promethean.model.durations import parse_duration_ms
from promethean.tsdb.backfill import (
    BackfillError,
    create_blocks_from_openmetrics,
    terminal_progress,
)
from promethean.tsdb.block import Block, BlockFormatError, BlockMeta, list_block_dirs, read_meta
from promethean.tsdb.compact import DEFAULT_BLOCK_RANGE

__all__ = [
    "configure_analyze",
    "configure_create",
    "configure_list",
    "format_base2_bytes",
    "format_go_duration",
    "run_analyze",
    "run_create",
    "run_list",
]


# ------------------------------------------------------------- formatting


def format_go_duration(ms: int) -> str:
    """Go's ``time.Duration.String`` for a millisecond count (``2h0m0s``, ``1.5s``, ``0s``)."""
    return _go_duration(ms / 1000)


_BASE2 = [("EiB", 1 << 60), ("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30)]
_BASE2 += [("MiB", 1 << 20), ("KiB", 1 << 10)]


def format_base2_bytes(n: int) -> str:
    """``units.Base2Bytes.String`` as promtool prints sizes: ``23MiB312KiB7B``."""
    if n == 0:
        return "0B"
    parts: list[str] = []
    for suffix, unit in _BASE2:
        if n >= unit:
            parts.append(f"{n // unit}{suffix}")
            n %= unit
    if n:
        parts.append(f"{n}B")
    return "".join(parts)


def _format_time(ms: int, human: bool) -> str:
    if not human:
        return str(ms)
    return time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(ms // 1000))


def _table(rows: list[list[str]]) -> str:
    """Go's tabwriter with padding 2: every column but the last padded to its widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for r in rows:
        cells = [c.ljust(widths[i] + 2) for i, c in enumerate(r[:-1])]
        lines.append("".join(cells) + r[-1])
    return "\n".join(lines)


# --------------------------------------------------- create-blocks-from


def configure_create(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT", help="OpenMetrics file with timestamps")
    parser.add_argument(
        "output", metavar="OUTPUT_DIR", nargs="?", default="data/", help="output directory"
    )
    parser.add_argument(
        "--max-block-duration",
        default="2h",
        help="maximum duration of created blocks (rounded down to a compaction range; default 2h)",
    )
    parser.add_argument(
        "-r", "--human-readable", action="store_true", help="print times and sizes readably"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not print created blocks")


def run_create(args: argparse.Namespace) -> int:
    try:
        max_ms = parse_duration_ms(args.max_block_duration)
    except ValueError as exc:
        print(f"error: --max-block-duration: {exc}", file=sys.stderr)
        return 1
    if max_ms < DEFAULT_BLOCK_RANGE:
        print("error: --max-block-duration must be at least 2h", file=sys.stderr)
        return 1
    try:
        result = create_blocks_from_openmetrics(
            args.input, args.output, max_ms, progress=terminal_progress()
        )
    except BackfillError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        out = Path(args.output)
        _print_blocks([(m, out / m.ulid) for m in result.blocks], args.human_readable)
    return 0


# ------------------------------------------------------------------ list


def configure_list(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("db_path", metavar="DIR", nargs="?", default="data/", help="data directory")
    parser.add_argument(
        "-r", "--human-readable", action="store_true", help="print times and sizes readably"
    )


def _print_blocks(blocks: Sequence[tuple[BlockMeta, Path]], human: bool) -> None:
    from promethean.tsdb.block import dir_size

    rows = [
        [
            "BLOCK ULID",
            "MIN TIME",
            "MAX TIME",
            "DURATION",
            "NUM SAMPLES",
            "NUM CHUNKS",
            "NUM SERIES",
            "SIZE",
        ]
    ]
    for meta, path in blocks:
        size = dir_size(path)
        rows.append(
            [
                meta.ulid,
                _format_time(meta.min_time, human),
                _format_time(meta.max_time, human),
                format_go_duration(meta.max_time - meta.min_time),
                str(meta.stats.num_samples),
                str(meta.stats.num_chunks),
                str(meta.stats.num_series),
                format_base2_bytes(size) if human else str(size),
            ]
        )
    print(_table(rows))


def run_list(args: argparse.Namespace) -> int:
    root = Path(args.db_path)
    if not root.is_dir():
        print(f"error: {root}: not a directory", file=sys.stderr)
        return 1
    try:
        blocks = [(read_meta(p), p) for p in list_block_dirs(root)]
    except BlockFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _print_blocks(blocks, args.human_readable)
    return 0


# --------------------------------------------------------------- analyze


def configure_analyze(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("db_path", metavar="DIR", nargs="?", default="data/", help="data directory")
    parser.add_argument("block_id", metavar="BLOCK_ID", nargs="?", help="block (default: newest)")
    parser.add_argument("--limit", type=int, default=20, help="entries per list (default 20)")


def run_analyze(args: argparse.Namespace) -> int:
    root = Path(args.db_path)
    dirs = list_block_dirs(root)
    if not dirs:
        print(f"error: no blocks found in {root}", file=sys.stderr)
        return 1
    try:
        if args.block_id:
            chosen = [p for p in dirs if p.name == args.block_id]
            if not chosen:
                print(f"error: block {args.block_id} not found in {root}", file=sys.stderr)
                return 1
            path = chosen[0]
        else:
            path = max(dirs, key=lambda p: (read_meta(p).min_time, p.name))
        with Block.open(path) as block:
            print(analyze_block(block, args.limit))
    except BlockFormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def analyze_block(block: Block, limit: int = 20) -> str:
    """promtool's ``tsdb analyze`` report for one block."""
    meta = block.meta
    span = max(meta.max_time - meta.min_time, 1)
    uncovered_pairs: Counter[str] = Counter()
    uncovered_names: Counter[str] = Counter()
    pair_count: Counter[str] = Counter()
    value_len: Counter[str] = Counter()
    values_of: dict[str, set[str]] = {}
    names_count: Counter[str] = Counter()
    entries = 0
    for ref in range(block.num_series):
        lo_t, hi_t = block.series_time_range(ref)
        uncovered = max(span - (hi_t - lo_t), 0)
        for name, value in block.labels_of(ref):
            key = f"{name}={value}"
            uncovered_names[name] += uncovered
            uncovered_pairs[key] += uncovered
            pair_count[key] += 1
            entries += 1
            if value not in values_of.setdefault(name, set()):
                values_of[name].add(value)
                value_len[name] += len(value)
            if name == "__name__":
                names_count[value] += 1
    out = [
        f"Block ID: {meta.ulid}",
        f"Duration: {format_go_duration(meta.max_time - meta.min_time)}",
        f"Series: {block.num_series}",
        f"Label names: {len(values_of)}",
        f"Postings (unique label pairs): {len(pair_count)}",
        f"Postings entries (total label pairs): {entries}",
    ]

    def section(title: str, counts: dict[str, int]) -> None:
        out.append("")
        out.append(title)
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
        out.extend(f"{n} {k}" for k, n in top)

    section(
        "Label pairs most involved in churning:",
        {k: v // span for k, v in uncovered_pairs.items()},
    )
    section(
        "Label names most involved in churning:",
        {k: v // span for k, v in uncovered_names.items()},
    )
    section("Most common label pairs:", dict(pair_count))
    section("Label names with highest cumulative label value length:", dict(value_len))
    section("Highest cardinality labels:", {k: len(v) for k, v in values_of.items()})
    section("Highest cardinality metric names:", dict(names_count))
    return "\n".join(out)
