"""Arbitrary input into every parser: a ParseError or a result, never anything else."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promethean.model.errors import ParseError
from promethean.model.openmetrics import parse_openmetrics
from promethean.model.scrapeparse import ScrapeParser
from promethean.model.textparse import parse_text

# Fragments that reach deep into the grammar, mixed with arbitrary characters.
_ATOMS = [
    "a",
    "a_total",
    "a_bucket",
    "a_count",
    "a_sum",
    "a_created",
    "a_info",
    "{",
    "}",
    '"',
    "=",
    ",",
    " ",
    "\t",
    "\n",
    "\\",
    "#",
    "# TYPE a ",
    "# HELP a ",
    "# UNIT a ",
    "# EOF",
    "counter",
    "histogram",
    "summary",
    "gaugehistogram",
    "stateset",
    "info",
    "le",
    "quantile",
    "+Inf",
    "NaN",
    "1",
    "-1",
    "1.5e3",
    "0x1p3",
    "1_0",
    " # {",
    "\u2603",
    "\x00",
    "\r",
]
_texts = st.lists(st.one_of(st.sampled_from(_ATOMS), st.text(max_size=3)), max_size=40).map("".join)
_bodies = st.one_of(_texts, st.binary(max_size=200))


def _scrape_text(data: str | bytes) -> object:
    return ScrapeParser().parse(data, "text/plain; version=0.0.4")


def _scrape_om(data: str | bytes) -> object:
    return ScrapeParser().parse(data, "application/openmetrics-text; version=1.0.0")


@pytest.mark.parametrize(
    "parse", [parse_text, parse_openmetrics, _scrape_text, _scrape_om], ids=lambda f: f.__name__
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_bodies)
def test_only_parse_errors(parse: Callable[[str | bytes], object], data: str | bytes) -> None:
    try:
        parse(data)
    except ParseError as exc:
        assert exc.line >= 1
        assert exc.column >= 1


@settings(max_examples=300, deadline=None)
@given(data=_texts)
def test_cached_and_fresh_parsers_agree(data: str) -> None:
    """A warm cache must accept and reject exactly what a cold parser does."""
    warm = ScrapeParser()
    try:
        warm.parse('a 1\na_total 2\nb{x="y"} 3\n')
        warm.end_cycle()
    except ParseError:  # pragma: no cover - the warm-up body is valid
        raise
    outcomes = []
    for parser in (ScrapeParser(), warm):
        try:
            r = parser.parse(data)
            outcomes.append(("ok", [e.labels for e in r.entries], [repr(v) for v in r.values]))
        except ParseError as exc:
            outcomes.append(("error", exc.line, exc.column))
    assert outcomes[0] == outcomes[1]


_shape_lines = st.lists(
    st.tuples(
        st.sampled_from(["a", "a_bucket", "a_sum", "b", "c_total"]),
        st.lists(
            st.tuples(
                st.sampled_from(["le", "x", "quantile", "z", "__name__"]),
                st.sampled_from(["", "1", "+Inf", "q", 'w"', "v\\\\", "a b", "\u2603"]),
            ),
            max_size=3,
        ),
        st.sampled_from(["1", "-2.5", "NaN", "x", "1_0", "+nan", "Inf", "1 5", "1 1.5", "3\t"]),
    ),
    max_size=12,
)


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from(["", "# TYPE a histogram\n", "# TYPE a summary\n", "# HELP b h\n"]),
    rows=_shape_lines,
)
def test_fast_and_careful_text_parsers_agree(head: str, rows: list) -> None:  # type: ignore[type-arg]
    """Bodies that repeat line shapes take parse_text's fast path; the careful one is the judge."""
    from promethean.model.textparse import _parse_careful

    body = head + "".join(
        name + ("{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}" if pairs else "") + f" {val}\n"
        for name, pairs, val in rows
        for _ in range(2)
    )
    outcomes = []
    for parse in (parse_text, _parse_careful):
        try:
            fams = parse(body)
            outcomes.append(("ok", [(f.name, f.type, f.samples) for f in fams]))
        except ParseError as exc:
            outcomes.append(("error", str(exc)))
    assert repr(outcomes[0]) == repr(outcomes[1])


_series = st.lists(
    st.tuples(
        st.sampled_from(["a", "a_bucket", "a_sum", "b", "  c", "d{"]),
        st.lists(
            st.tuples(
                st.sampled_from(["le", "x", "quantile"]),
                st.sampled_from(["", "1", "+Inf", "q", "a b", "\\n"]),
            ),
            max_size=2,
        ),
    ),
    min_size=1,
    max_size=6,
)
_values = st.sampled_from(["1", "-2.5", "NaN", "x", "1_0", "+nan", "1 5", "3\t", "", "2 ", " 4"])
_heads = st.sampled_from(["", "# TYPE a histogram\n", "# TYPE a summary\n", "# HELP b h\n", "\n"])


@settings(max_examples=300, deadline=None)
@given(
    series=_series,
    heads=st.tuples(_heads, _heads),
    values=st.tuples(st.lists(_values, min_size=6, max_size=6), st.lists(_values, min_size=6)),
)
def test_replayed_layout_and_cold_parser_agree(series: list, heads: tuple, values: tuple) -> None:  # type: ignore[type-arg]
    """A parser replaying the last scrape's layout accepts and rejects what a cold one does."""

    def body(head: str, vals: list[str]) -> str:
        return head + "".join(
            name
            + ("{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}" if pairs else "")
            + f" {val}\n"
            for (name, pairs), val in zip(series, vals, strict=False)
        )

    def outcome(parser: ScrapeParser, data: str) -> object:
        try:
            r = parser.parse(data)
        except ParseError as exc:
            return ("error", exc.line, exc.column, exc.message)
        parser.end_cycle()
        return (
            "ok",
            [(e.labels, e.family) for e in r.entries],
            [repr(v) for v in r.values],
            r.timestamps,
            r.metadata,
        )

    first = body(heads[0], ["1"] * 6)
    warm = ScrapeParser()
    for _ in range(3):
        outcome(warm, first)
    for data in (body(heads[0], values[0]), body(heads[1], values[1]), first):
        assert outcome(warm, data) == outcome(ScrapeParser(), data)


_run_breaks = st.sampled_from(
    [
        "",  # the run stays whole
        'a{x="1",le="2"} 3 1700000000000',  # a timestamp
        'a{x="1",le="2"}  3',  # two blanks
        'a{x="1", le="2"} 3',  # a blank in the label set
        'a{x="1",le="2",} 3',  # a trailing comma
        'a{le="2",x="1"} 3',  # other label order
        'a{x="1"} 3',  # fewer labels
        'a{x="1",le="2",y="3"} 3',  # more labels
        'b{x="1",le="2"} 3',  # another name
        'a{x="1",le="x"} 3',  # a bad le in a histogram
        'a{x="1\\"",le="2"} 3',  # an escape
        'a{x="1",le="2"} 3\t',  # a tab after the value
        'a{x="1",le="2"} ',  # no value
        '  a{x="1",le="2"} 3',  # a leading blank
        "  # comment",  # a comment after blanks
        "",  # a blank line (with the empty break below it stays a blank line)
        'a{x="1} 3\na{le="2"} 3',  # quotes moved across lines
        'a{x="1",le="2"} 3\na{x="1",le="2"} 4',  # a duplicate series
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    head=st.sampled_from(
        [
            "",
            "# TYPE a histogram\n",
            "# TYPE a gauge\n",
            "# HELP a h\n",
            "# HELP a h\n# TYPE a histogram\n",
            "# HELP z h\n# TYPE z counter\nz 1\n# TYPE a gauge\n",
        ]
    ),
    size=st.integers(min_value=8, max_value=14),
    where=st.integers(min_value=0, max_value=13),
    brk=_run_breaks,
    blank=st.booleans(),
)
def test_runs_of_one_shape_and_careful_parser_agree(
    head: str, size: int, where: int, brk: str, blank: bool
) -> None:
    """A run of lines of one shape is cut as columns in parse_text; one odd line must not pass."""
    from promethean.model.textparse import _parse_careful

    lines = [f'a{{x="{i % 3}",le="{i}"}} {i}.5' for i in range(size)]
    if brk or blank:
        lines[where % size] = brk
    tail = "".join(f'y{{k="{i}"}} {i}\n' for i in range(9))
    body = head + "\n".join(lines) + "\n# HELP y h\n# TYPE y gauge\n" + tail
    outcomes = []
    for parse in (parse_text, _parse_careful):
        try:
            fams = parse(body)
            outcomes.append(("ok", [(f.name, f.type, f.samples) for f in fams]))
        except ParseError as exc:
            outcomes.append(("error", str(exc)))
    assert repr(outcomes[0]) == repr(outcomes[1])
