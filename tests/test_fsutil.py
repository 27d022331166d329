"""Atomic replacement: the target holds the old bytes or the new ones, never a mix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from promethean.fsutil import write_atomically


def test_replaces_content_with_mode_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    write_atomically(target, b"new" * 1000, mode=0o600)
    assert target.read_bytes() == b"new" * 1000
    assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_writer_killed_mid_write_leaves_the_old_file(tmp_path: Path) -> None:
    """SIGKILL the writer while it writes a large temporary: the target is untouched."""
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    script = (
        "import os, signal, sys\n"
        "from promethean import fsutil\n"
        "real = os.fsync\n"
        "def die(fd):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "os.fsync = die\n"
        f"fsutil.write_atomically({str(target)!r}, b'x' * 5_000_000)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)
    assert proc.returncode == -9
    assert target.read_bytes() == b"old"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "state.json"]
    assert leftovers == ["state.json.tmp"]  # a later write replaces it
    write_atomically(target, b"new")
    assert target.read_bytes() == b"new"
    assert not os.path.exists(tmp_path / "state.json.tmp")
