"""Crash-safe file writes shared by every component that keeps state on disk.

The pattern is always the same and easy to get subtly wrong: write to a
temporary name in the same directory, fsync the file, rename it over the
target, fsync the directory so the rename itself survives a power loss.
A crash at any point leaves either the old file or the new one, never a mix.
"""

from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a directory's entries (renames, creations, deletions) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomically(
    path: str | os.PathLike[str], data: bytes, *, mode: int = 0o600, tmp_suffix: str = ".tmp"
) -> None:
    """Replace ``path`` with ``data`` so that readers (and a restart after a crash)
    see the old content or the new, never a partial file."""
    target = Path(path)
    tmp = target.with_name(target.name + tmp_suffix)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, target)
    fsync_dir(target.parent)
