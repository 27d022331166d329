"""Upstream's PromQL test scripts, held to a ratchet.

``promqltest_ratchet.json`` records how many evals of each file pass. A file
passing fewer fails the test (a regression); passing more prints a reminder
to raise the table. Failing evals stay visible in the printed report instead
of being skipped.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from promethean.promql.promqltest import run_file

ROOT = Path(__file__).resolve().parents[2]
RATCHET = Path(__file__).with_name("promqltest_ratchet.json")


def _conformance_dir() -> Path | None:
    env = os.environ.get("PROMETHEAN_CONFORMANCE_DIR")
    base = Path(env) if env else ROOT.parent / "shared" / "conformance"
    d = base / "promqltest"
    return d if d.is_dir() else None


def _files() -> list[Path]:
    d = _conformance_dir()
    return sorted(d.glob("*.test")) if d else []


def test_conformance_data_present() -> None:
    if _conformance_dir() is None:
        msg = "PromQL conformance data not found (../shared/conformance/promqltest)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        print(msg)
        pytest.skip(msg)
    ratchet = json.loads(RATCHET.read_text())
    assert {f.name for f in _files()} <= set(ratchet), "add new files to the ratchet table"


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name)
def test_promqltest_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ratchet = json.loads(RATCHET.read_text())
    result = run_file(path)
    minimum = ratchet.get(path.name, 0)
    with capsys.disabled():
        print(f"\n{path.name}: {result.passed} passed, {result.failed} failed (ratchet {minimum})")
        if result.passed > minimum:
            print(f"  raise the ratchet for {path.name} to {result.passed}")
    assert not result.error, result.error
    failures = [f"{o.line}: {o.expr}: {o.reason}" for o in result.outcomes if not o.passed]
    assert result.passed >= minimum, (
        f"{path.name}: {result.passed} evals pass, ratchet says {minimum}; failing:\n"
        + "\n".join(failures[:20])
    )
