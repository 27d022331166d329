"""``promethean tool promqltest FILE...``: run PromQL test scripts like upstream's runner.

Prints one block per failing eval (the query and why: expected against actual)
and a final ``N passed, M failed`` line counting eval commands; exits 1 when
anything failed, 2 when a file cannot be read.
"""

from __future__ import annotations

import argparse
import sys

from promethean.promql.promqltest import report, run_file

__all__ = ["configure", "run"]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="PromQL test scripts")
    parser.add_argument(
        "--per-file", action="store_true", help="print pass/fail counts for every file"
    )


def run(args: argparse.Namespace) -> int:
    passed = failed = 0
    for path in args.files:
        try:
            result = run_file(path)
        except OSError as err:
            print(f"{path}: cannot read: {err.strerror}", file=sys.stderr)
            return 2
        report(result, sys.stdout)
        if args.per_file:
            print(f"{result.name}: {result.passed} passed, {result.failed} failed")
        passed += result.passed
        failed += result.failed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0
