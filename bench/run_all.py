"""``make bench``: every benchmark, one after the other, each side by side with its reference.

Each entry is the one command documented for that benchmark; run any of them
alone to measure one thing. Benchmarks that compare with a Go binary (the
Pushgateway harness in ../shared/bench) are skipped with a message when that
binary is not installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED_BENCH = Path(os.environ.get("PROMETHEAN_SHARED_BENCH", ROOT.parent / "shared" / "bench"))
PY = sys.executable
VENV_BIN = str(Path(PY).parent)


def _benches() -> list[tuple[str, list[str], str | None]]:
    """(name, command, required binary)."""
    out: list[tuple[str, list[str], str | None]] = [
        ("web: basic auth cost", [PY, "bench/web_auth_bench.py"], None),
        ("model: exposition parsing", [PY, "bench/parse_bench.py"], None),
    ]
    for script in sorted((ROOT / "bench").glob("tsdb_*_bench.py")):
        out.append((f"tsdb: {script.stem}", [PY, str(script.relative_to(ROOT))], None))
    out.append(
        (
            "pushgateway vs Go Pushgateway",
            [
                PY,
                str(SHARED_BENCH / "pushgateway_bench.py"),
                "--bin",
                "promethean pushgateway",
                "--baseline-bin",
                "prometheus-pushgateway",
            ],
            "prometheus-pushgateway",
        )
    )
    return out


def main() -> int:
    env = dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))
    failed = []
    for name, cmd, needs in _benches():
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        if needs and shutil.which(needs, path=env["PATH"]) is None:
            print(f"skipped: {needs} is not installed (apt-get install {needs})")
            continue
        if not Path(cmd[1]).is_absolute() and not (ROOT / cmd[1]).exists():
            print(f"skipped: {cmd[1]} is missing")
            continue
        if Path(cmd[1]).is_absolute() and not Path(cmd[1]).exists():
            print(f"skipped: {cmd[1]} not found (../shared/bench)")
            continue
        if subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
