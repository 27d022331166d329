"""``promethean tool check config FILE...``: promtool's config check.

Output as ``promtool check config`` prints it, so scripts and CI jobs that grep
for ``SUCCESS``/``FAILED`` keep working: ``Checking FILE`` then `` SUCCESS:
FILE is valid prometheus config file syntax`` (stdout) or ``  FAILED:
<reason>`` (stderr, exit status 1). The reason names file, line, column and
field, and never contains a secret (the loader's messages do not).
"""

from __future__ import annotations

import argparse
import glob
import os
import sys

from promethean.config import ConfigError
from promethean.server.config import load_prometheus_config

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="prometheus.yml files")
    parser.add_argument(
        "--syntax-only",
        action="store_true",
        help="only check the syntax, not that rule files exist",
    )


def _rule_files(patterns: list[str], base: str) -> list[str]:
    found: list[str] = []
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
        found.extend(sorted(glob.glob(full)))
    return found


def check_file(path: str, syntax_only: bool = False) -> bool:
    """Check one file, printing as promtool does; True when valid."""
    print(f"Checking {path}")
    try:
        cfg = load_prometheus_config(path)
    except ConfigError as exc:
        print(f"  FAILED: {exc}", file=sys.stderr)
        print()
        return False
    if not syntax_only and cfg.rule_files:
        files = _rule_files(list(cfg.rule_files), os.path.dirname(path) or ".")
        print(f"  SUCCESS: {len(files)} rule files found")
    print(f" SUCCESS: {path} is valid prometheus config file syntax")
    print()
    return True


def run(args: argparse.Namespace) -> int:
    ok = True
    for path in args.files:
        if not os.path.exists(path):
            print(
                f"promethean tool check config: error: path '{path}' does not exist",
                file=sys.stderr,
            )
            return 1
        ok = check_file(path, args.syntax_only) and ok
    return 0 if ok else 1
