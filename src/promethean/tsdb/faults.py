"""Named crash points, so tests can kill the process between any two durable steps.

The storage promises that a SIGKILL at *any* moment loses nothing committed.
Random kills find the narrow windows (a block renamed but the head not yet
truncated, a checkpoint published but old segments not yet deleted) only by
luck; these points let a test stop the process exactly there, every time.

``PROMETHEAN_TSDB_CRASH_AT=<point>[:<n>]`` (read once, at import) makes the
``n``-th (default first) arrival at ``<point>`` send SIGKILL to the process
itself: no ``finally``, no buffered output, no atexit, exactly like an OOM
kill. Unset, :func:`crash_point` costs one comparison. :data:`CRASH_POINTS`
lists every point in the order one head cut, checkpoint and compaction reach
them.
"""

from __future__ import annotations

import os
import signal

__all__ = ["CRASH_POINTS", "ENV_VAR", "crash_point"]

ENV_VAR = "PROMETHEAN_TSDB_CRASH_AT"

CRASH_POINTS: tuple[str, ...] = (
    # WAL: a segment filled up inside a commit, the next one not yet written to.
    "wal.segment_cut",
    # Head cut: the block is complete under its temporary name, then renamed.
    "block.files_written",
    "block.renamed",
    "head.block_written",
    "head.truncated",
    # Checkpoint: WAL rotated, checkpoint written and published, old data removed.
    "checkpoint.wal_rotated",
    "checkpoint.files_written",
    "checkpoint.published",
    "checkpoint.segments_removed",
    "checkpoint.done",
    # Block compaction: child written, then each parent renamed away and removed.
    "compaction.block_written",
    "block.deletion_renamed",
    "compaction.parent_deleted",
    "compaction.done",
)


def _parse(spec: str | None) -> tuple[str, int] | None:
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count) if count.isdigit() and int(count) > 0 else 1


_TARGET = _parse(os.environ.get(ENV_VAR))
_seen = 0


def crash_point(name: str) -> None:
    """SIGKILL this process if ``name`` is the armed point and its count is reached."""
    global _seen
    if _TARGET is None or _TARGET[0] != name:
        return
    _seen += 1
    if _seen >= _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
