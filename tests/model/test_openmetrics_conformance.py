"""Every OpenMetrics parser case of the upstream test data (shouldParse true/false)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from promethean.model.errors import ParseError
from promethean.model.openmetrics import parse_openmetrics

_ROOT = Path(__file__).resolve().parents[2]


def _cases_dir() -> Path:
    base = os.environ.get("PROMETHEAN_CONFORMANCE_DIR")
    root = Path(base) if base else _ROOT.parent / "shared" / "conformance"
    return root / "openmetrics"


def _cases() -> list[str]:
    folder = _cases_dir()
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if (p / "test.json").is_file())


_CASES = _cases()


def test_conformance_data_present() -> None:
    if not _CASES:
        msg = f"OpenMetrics conformance data not found at {_cases_dir()}"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        print(msg)
        pytest.skip(msg)


@pytest.mark.parametrize("case", _CASES)
def test_openmetrics_case(case: str) -> None:
    folder = _cases_dir() / case
    spec = json.loads((folder / "test.json").read_text())
    data = (folder / spec.get("file", "metrics")).read_bytes()
    if spec["shouldParse"]:
        families = parse_openmetrics(data)
        assert isinstance(families, list)
    else:
        with pytest.raises(ParseError) as info:
            parse_openmetrics(data)
        assert info.value.line >= 1
        assert info.value.column >= 1
