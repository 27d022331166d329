"""Snapshots: a consistent copy of the blocks under ``snapshots/<name>``.

Blocks are immutable (tombstones and meta.json are replaced by rename, never
rewritten in place), so hard links are a consistent copy that costs no space;
where links are impossible (another file system) files are copied. The head
is the database's part: it writes its data as one more block into the same
directory with :func:`promethean.tsdb.block.write_block` unless the snapshot
skips the head.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from promethean.tsdb.block import TMP_CREATION_SUFFIX

__all__ = ["SNAPSHOTS_DIR", "link_or_copy_tree", "snapshot_blocks", "snapshot_name"]

SNAPSHOTS_DIR = "snapshots"


def snapshot_name(now: float | None = None) -> str:
    """Upstream's naming: UTC time, 16 random hex digits: ``20231210T211224Z-2be650b6d019eb54``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{secrets.token_hex(8)}"


def link_or_copy_tree(src: Path, dest: Path) -> None:
    """Recreate ``src`` at ``dest`` with hard links, copying files that cannot be linked."""
    dest.mkdir(parents=True, exist_ok=False)
    for entry in src.iterdir():
        target = dest / entry.name
        if entry.is_dir():
            link_or_copy_tree(entry, target)
        elif entry.name.endswith(".tmp"):
            continue
        else:
            try:
                os.link(entry, target)
            except OSError:
                shutil.copy2(entry, target)


def snapshot_blocks(
    block_dirs: Iterable[str | os.PathLike[str]], dest: str | os.PathLike[str]
) -> Path:
    """Hard-link each block directory into ``dest`` (created; must not exist yet)."""
    out = Path(dest)
    tmp = out.with_name(out.name + TMP_CREATION_SUFFIX)
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        for block_dir in block_dirs:
            src = Path(block_dir)
            link_or_copy_tree(src, tmp / src.name)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
