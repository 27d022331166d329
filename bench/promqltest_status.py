#!/usr/bin/env python3
"""Per-file promqltest pass counts, with failures split by native-histogram use.

The conformance goal is "every eval without native histograms passes", so the
failures that matter are the ones that involve no native histogram. An eval
counts as native-histogram when its expected output uses ``{{...}}`` notation,
or when the data loaded since the last ``clear`` holds native histograms
(``{{...}}`` values or ``load_with_nhcb``) and the query selects one of those
series (for ``load_with_nhcb``: the classic histogram's base name, which becomes
one). Everything else that fails is ours to fix.

    .venv/bin/python bench/promqltest_status.py            # the table
    .venv/bin/python bench/promqltest_status.py -v         # plus each non-NH failure
    .venv/bin/python bench/promqltest_status.py -v FILE... # only these files
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from promethean.model.matchers import matches_labels
from promethean.promql import ast
from promethean.promql.parser import ALL_FEATURES, parse_expr
from promethean.promql.promqltest import (
    _Eval,
    _Hist,
    _Load,
    _parse,
    _Runner,
    _test_options,
)

ROOT = Path(__file__).resolve().parents[1]


def _conformance_dir() -> Path:
    env = os.environ.get("PROMETHEAN_CONFORMANCE_DIR")
    base = Path(env) if env else ROOT.parent / "shared" / "conformance"
    return base / "promqltest"


def _selects(expr: str, hist: set[object]) -> bool:
    if not hist:
        return False
    try:
        tree = parse_expr(expr, ALL_FEATURES)
    except Exception:
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.VectorSelector) and any(
            matches_labels(lbl, node.matchers)  # type: ignore[arg-type]
            for lbl in hist
        ):
            return True
    return False


def _expects_hist(ev: _Eval) -> bool:
    return any(isinstance(v, _Hist) for _, vals in ev.series.values() for v in vals)


def classify(path: Path) -> tuple[int, int, list[tuple[int, str, str, bool]]]:
    """(passed, total, failures as (line, expr, reason, is_native_histogram))."""
    cmds = _parse(path.read_text(encoding="utf-8"))
    runner = _Runner(_test_options())
    hist: set[object] = set()
    passed = total = 0
    failures: list[tuple[int, str, str, bool]] = []
    for _line, cmd in cmds:
        if cmd == "clear":
            runner.storage.clear()
            hist = set()
        elif isinstance(cmd, _Load):
            from promethean.promql.promqltest import _load

            before = set(runner.storage.histogram_series)
            _load(runner.storage, cmd)
            hist |= runner.storage.histogram_series - before
            hist |= runner.storage.histogram_series
        elif isinstance(cmd, _Eval):
            total += 1
            out = runner.run(cmd)
            if out.passed:
                passed += 1
                continue
            nh = _expects_hist(cmd) or _selects(cmd.expr, hist)
            failures.append((cmd.line, cmd.expr, out.reason, nh))
    return passed, total, failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="list non-NH failures")
    ap.add_argument("--nh", action="store_true", help="with -v, list NH failures too")
    ap.add_argument("files", nargs="*")
    args = ap.parse_args(argv)
    d = _conformance_dir()
    paths = [Path(f) for f in args.files] or sorted(d.glob("*.test"))
    if not paths:
        print(f"no promqltest scripts found in {d}", file=sys.stderr)
        return 2
    rows = []
    tot = [0, 0, 0, 0]
    for p in paths:
        passed, total, failures = classify(p)
        nh = sum(1 for f in failures if f[3])
        other = len(failures) - nh
        rows.append((p.name, passed, total, nh, other))
        for k, v in enumerate((passed, total, nh, other)):
            tot[k] += v
        if args.verbose:
            for line, expr, reason, is_nh in failures:
                if is_nh and not args.nh:
                    continue
                tag = "NH " if is_nh else ""
                print(f"{tag}{p.name}:{line}: {expr}\n    {reason[:600]}")
    print(f"{'file':28} {'pass':>5} {'total':>6} {'fail NH':>8} {'fail other':>11}")
    for name, passed, total, nh, other in rows:
        print(f"{name:28} {passed:5} {total:6} {nh:8} {other:11}")
    print(f"{'TOTAL':28} {tot[0]:5} {tot[1]:6} {tot[2]:8} {tot[3]:11}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
