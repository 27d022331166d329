"""The first scrape of a target: the quick path for first-seen lines must decide exactly
as the exact scanner does (same samples, same errors with line and column)."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from promethean.model.errors import ParseError
from promethean.model.labels import METRIC_NAME
from promethean.model.scrapeparse import ScrapeParser
from promethean.model.textparse import _TextState

_NAMES = st.sampled_from(["m", "m_total", "h_bucket", "h_sum", "h_count", "s", "s_count"])
_LNAMES = st.sampled_from(["a", "b", "le", "quantile", "__name__", "job"])
_LVALUES = st.sampled_from(["", "x", "0.5", "+Inf", "1e3", "bad", 'q\\"q', "back\\\\slash", "n\\n"])
_VALUES = st.sampled_from(
    ["1", "-2.5", "NaN", "+Inf", "1e-3", "7", "0", "3.25"] * 3 + ["0x1", "1_0", "."]
)
_TS = st.sampled_from([None, "1000", "-5", "1.5"])


@st.composite
def _line(draw: st.DrawFn) -> str:
    name = draw(_NAMES)
    pairs = draw(st.lists(st.tuples(_LNAMES, _LVALUES), max_size=3))
    labels = ",".join(f'{k}="{v}"' for k, v in pairs)
    trailing = draw(st.sampled_from(["", ","])) if pairs else ""
    series = name + (f"{{{labels}{trailing}}}" if pairs or draw(st.booleans()) else "")
    ts = draw(_TS)
    return f"{series} {draw(_VALUES)}" + (f" {ts}" if ts else "")


_HEADERS = st.sampled_from(
    ["", "# TYPE h histogram\n", "# TYPE s summary\n", "# TYPE m counter\n# HELP m x\n"]
)


def _exact(body: str) -> list[tuple[str, tuple[tuple[str, str], ...], str, int | None]]:
    """Every line through the exact scanner, as the scrape parser did before its quick path."""
    state = _TextState()
    out = []
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for lineno, line in enumerate(lines, 1):
        stripped = line.lstrip(" \t")
        if not stripped:
            continue
        if stripped[0] == "#":
            state.comment(line, lineno)
            continue
        _fam, sample, _raw = state.full_sample(line, lineno)
        out.append((sample.name, tuple(sample.labels), repr(sample.value), sample.timestamp_ms))
    return out


@settings(max_examples=300, deadline=None)
@given(_HEADERS, st.lists(_line(), min_size=1, max_size=6))
def test_first_scrape_parses_exactly_like_the_reference_parser(
    header: str, lines: list[str]
) -> None:
    body = header + "\n".join(lines) + "\n"
    try:
        want: object = _exact(body)
    except ParseError as exc:
        want = ("error", str(exc), exc.line, exc.column)
    try:
        res = ScrapeParser().parse(body)
        got: object = [
            (
                e.name,
                tuple(p for p in e.labels if p[0] != METRIC_NAME),
                repr(v),
                res.timestamps.get(i),
            )
            for i, (e, v) in enumerate(zip(res.entries, res.values, strict=True))
        ]
    except ParseError as exc:
        got = ("error", str(exc), exc.line, exc.column)
    assert got == want, body


def test_first_and_second_scrape_of_a_large_body_agree() -> None:
    lines = ["# TYPE req counter"]
    for i in range(2000):
        lines.append(f'req{{code="{i % 7}",path="/p{i}",empty=""}} {i}')
    lines.append("# TYPE lat histogram")
    for le in ("0.1", "1", "+Inf"):
        lines.append(f'lat_bucket{{le="{le}"}} 3')
    lines.append("lat_sum 1.5")
    lines.append("lat_count 3")
    body = "\n".join(lines) + "\n"
    parser = ScrapeParser()
    first = parser.parse(body)
    parser.end_cycle()
    second = parser.parse(body)
    assert [e.labels for e in first.entries] == [e.labels for e in second.entries]
    assert all(a is b for a, b in zip(first.entries, second.entries, strict=True))
    assert first.values == second.values
    assert first.entries[0].labels == (
        ("__name__", "req"),
        ("code", "0"),
        ("empty", ""),
        ("path", "/p0"),
    )
    assert not any(math.isnan(v) for v in first.values)
