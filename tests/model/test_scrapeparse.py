"""The cached scrape-path parser: same answers as a fresh parse, less work."""

from __future__ import annotations

import pytest

from promethean.model.errors import ParseError
from promethean.model.exposition import MetricType
from promethean.model.labels import Labels
from promethean.model.scrapeparse import FamilyMetadata, ScrapeParser

TEXT = "text/plain; version=0.0.4"
OM = "application/openmetrics-text; version=1.0.0; charset=utf-8"

BODY = """\
# HELP req_total Requests.
# TYPE req_total counter
req_total{method="get",code="200"} 10
req_total{method="post",code="500"} 2
# TYPE lat histogram
lat_bucket{le="1"} 1
lat_bucket{le="+Inf"} 2
lat_sum 1.5
lat_count 2
up 1
"""


def _body(*values: str) -> str:
    lines = BODY.splitlines()
    sample_idx = [i for i, ln in enumerate(lines) if not ln.startswith("#")]
    for i, v in zip(sample_idx, values, strict=False):
        lines[i] = lines[i].rsplit(" ", 1)[0] + " " + v
    return "\n".join(lines) + "\n"


def test_first_parse_gives_labels_values_and_metadata() -> None:
    result = ScrapeParser().parse(BODY, TEXT)
    assert [str(e.labels) for e in result.entries] == [
        'req_total{code="200", method="get"}',
        'req_total{code="500", method="post"}',
        'lat_bucket{le="1"}',
        'lat_bucket{le="+Inf"}',
        "lat_sum",
        "lat_count",
        "up",
    ]
    assert result.values == [10.0, 2.0, 1.0, 2.0, 1.5, 2.0, 1.0]
    assert result.timestamps == {}
    assert result.metadata == {
        "req_total": FamilyMetadata(MetricType.COUNTER, "Requests."),
        "lat": FamilyMetadata(MetricType.HISTOGRAM),
    }
    assert [e.family[0] for e in result.entries][2:6] == ["lat"] * 4


def test_cached_lines_reuse_entries_and_their_ref_slot() -> None:
    parser = ScrapeParser()
    first = parser.parse(BODY, TEXT)
    for i, e in enumerate(first.entries):
        e.ref = i
    parser.end_cycle()
    second = parser.parse(_body("11", "3", "1", "4", "2.5", "4", "0"), TEXT)
    assert [id(e) for e in second.entries] == [id(e) for e in first.entries]
    assert [e.ref for e in second.entries] == list(range(7))
    assert second.values == [11.0, 3.0, 1.0, 4.0, 2.5, 4.0, 0.0]


def test_unseen_entries_are_evicted_after_max_age_cycles() -> None:
    parser = ScrapeParser(max_age=2)
    parser.parse("a 1\nb 1\n", TEXT)
    b_entry = parser.parse("a 1\nb 1\n", TEXT).entries[1]
    b_entry.ref = "series-7"
    parser.end_cycle()
    assert len(parser) == 2
    evicted = 0
    for _ in range(4):
        parser.parse("a 2\n", TEXT)
        evicted += parser.end_cycle()
    assert evicted == 1
    assert len(parser) == 1
    assert b_entry.ref is None
    again = parser.parse("a 1\nb 1\n", TEXT).entries[1]
    assert again is not b_entry and again.labels == Labels.from_dict({"__name__": "b"})


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        (_body("x"), 3, 36, "expected float as value, got 'x'"),
        (_body("10", "1_0"), 4, 37, "expected float as value, got '1_0'"),
        (_body("10", "2", "1", "2", "+nan"), 8, 9, "expected float as value, got '+nan'"),
        (_body("10", "2", "1", "2", "\u0661"), 8, 9, "expected float as value"),
        (BODY + 'req_total{method="get",code="200"} 1\n', 11, 1, "appears again"),
        (BODY + "# TYPE up gauge\n", 11, 3, "second TYPE line for metric name 'up'"),
    ],
)
def test_errors_on_cached_lines_are_exact(body: str, line: int, column: int, message: str) -> None:
    parser = ScrapeParser()
    parser.parse(BODY, TEXT)
    parser.end_cycle()
    with pytest.raises(ParseError) as info:
        parser.parse(body, TEXT)
    assert (info.value.line, info.value.column) == (line, column)
    assert message in str(info.value)


def test_odd_but_valid_spelling_of_a_cached_line() -> None:
    parser = ScrapeParser()
    parser.parse("a 1\n", TEXT)
    result = parser.parse("a 2\t\n", TEXT)
    assert result.values == [2.0]


def test_type_change_between_scrapes_moves_the_family() -> None:
    parser = ScrapeParser()
    first = parser.parse("foo_sum 1\nfoo_count 2\n", TEXT)
    assert [e.family[0] for e in first.entries] == ["foo_sum", "foo_count"]
    parser.end_cycle()
    second = parser.parse("# TYPE foo summary\nfoo_sum 1\nfoo_count 2\n", TEXT)
    assert [e.family for e in second.entries] == [("foo", MetricType.SUMMARY)] * 2
    assert second.entries[0].labels == first.entries[0].labels


def test_timestamps_are_sparse_by_sample_index() -> None:
    parser = ScrapeParser()
    for _ in range(2):
        result = parser.parse("a 1\nb 2 1700000000000\nc 3\n", TEXT)
    assert result.timestamps == {1: 1700000000000}
    assert result.values == [1.0, 2.0, 3.0]


def test_openmetrics_body() -> None:
    body = (
        "# TYPE rpc counter\n# HELP rpc Calls.\n"
        'rpc_total{m="a"} 5 1.5 # {trace_id="t1"} 1 1.25\n'
        'rpc_created{m="a"} 1.0 1.5\n'
        "# TYPE temp_celsius gauge\n# UNIT temp_celsius celsius\ntemp_celsius 21.5\n# EOF\n"
    )
    parser = ScrapeParser()
    first = parser.parse(body, OM)
    parser.end_cycle()
    second = parser.parse(body.replace(" 5 ", " 6 "), OM)
    assert second.entries == first.entries
    assert second.values == [6.0, 1.0, 21.5]
    assert second.timestamps == {0: 1500, 1: 1500}
    assert second.exemplars[0].labels == Labels.from_dict({"trace_id": "t1"})
    assert second.exemplars[0].timestamp_ms == 1250
    assert second.metadata["temp_celsius"] == FamilyMetadata(MetricType.GAUGE, None, "celsius")
    assert str(second.entries[0].labels) == 'rpc_total{m="a"}'
    with pytest.raises(ParseError) as info:
        parser.parse(body.replace(" 5 ", " -5 "), OM)
    assert info.value.line == 3


def test_scraped_empty_label_value_keeps_the_pair() -> None:
    """``instance=""`` must reach relabelling: with honor_labels it removes the target label."""
    parser = ScrapeParser()
    body = 'foo{instance=""} 1\nfoo{instance="",job="x"} 2\n'
    for _ in range(2):  # first sight, then from the cache
        result = parser.parse(body, TEXT)
        assert [tuple(e.labels) for e in result.entries] == [
            (("__name__", "foo"), ("instance", "")),
            (("__name__", "foo"), ("instance", ""), ("job", "x")),
        ]
        assert result.entries[0].labels.has("instance")
        parser.end_cycle()
    om = parser.parse('foo{instance=""} 1\n# EOF\n', OM)
    assert tuple(om.entries[0].labels) == (("__name__", "foo"), ("instance", ""))


def _outcome(parser: ScrapeParser, body: str) -> tuple[object, ...]:
    try:
        r = parser.parse(body, TEXT)
    except ParseError as exc:
        return ("error", exc.line, exc.column, exc.message)
    return (
        "ok",
        [(str(e.labels), e.family) for e in r.entries],
        [repr(v) for v in r.values],
        r.timestamps,
        r.metadata,
    )


def _warm(body: str, scrapes: int = 3) -> ScrapeParser:
    """A parser that has seen ``body`` often enough to replay its layout."""
    parser = ScrapeParser()
    for _ in range(scrapes):
        parser.parse(body, TEXT)
        parser.end_cycle()
    return parser


@pytest.mark.parametrize(
    "body",
    [
        _body("11", "3", "1", "4", "2.5", "4", "0"),
        _body("11", "3", "1", "4", "2.5", "4", "0 1700000000000"),
        _body("x"),
        _body("10", "1_0"),
        _body("10", "2", "1", "2", "+nan"),
        _body("10", "2", "1", "2", "\u0661"),
        _body("10", "2", "1", "2", "1.5\t"),
        _body("10", "2", "1", "2", "1.5 x"),
        _body("10", "2", "1", "2", ""),
        BODY.replace("Requests.", "Requests served."),
        BODY.replace("# TYPE lat histogram", "# TYPE lat summary"),
        BODY.replace("# TYPE lat histogram", "# HELP lat Latency."),
        BODY.replace("# TYPE lat histogram", "# TYPE up gauge"),
        BODY.replace("lat_sum 1.5\nlat_count 2", "lat_count 2\nlat_sum 1.5"),
        BODY.replace("up 1\n", "up 1\nup 1\n"),
        BODY.replace("up 1\n", "down 1\n"),
        BODY.replace("up 1\n", "\n"),
        BODY.replace("up 1\n", "# up 1\n"),
        BODY.replace("up 1\n", ""),
        BODY + "\n",
        BODY.rstrip("\n"),
        BODY.replace("\n", "\r\n"),
        BODY.replace('req_total{method="get"', 'req_total{method="put"'),
    ],
)
def test_a_replayed_layout_answers_like_a_cold_parser(body: str) -> None:
    """Three scrapes of one body let the next skip lookups; any change must still be seen."""
    assert _outcome(_warm(BODY), body) == _outcome(ScrapeParser(), body)


def test_replayed_scrapes_keep_entries_alive_exactly_max_age_cycles() -> None:
    parser = _warm("a 1\nb 1\n", scrapes=5)  # cycles 1-5: b last seen in cycle 5
    b_entry = parser.parse("a 1\nb 2\n", TEXT).entries[1]
    b_entry.ref = "series-7"
    counts = []
    for _ in range(4):
        parser.parse("a 2\n", TEXT)
        counts.append(parser.end_cycle())  # cycles 6-9: sweeps at 6 (horizon 4), 8 (6)
    assert counts == [0, 0, 1, 0]
    assert b_entry.ref is None
    assert len(parser) == 1


def test_a_stale_line_outside_the_replayed_layout_is_still_evicted() -> None:
    parser = ScrapeParser(max_age=2)
    parser.parse("a 1\nb 1\nc 1\n", TEXT)
    parser.end_cycle()  # cycle 1: c last seen
    counts = []
    for _ in range(5):
        parser.parse("a 1\nb 1\n", TEXT)
        counts.append(parser.end_cycle())  # sweeps at 2 (horizon 0) and 4 (horizon 2)
    assert counts == [0, 0, 1, 0, 0]
    assert len(parser) == 2
    assert parser.parse("a 3\nb 4\n", TEXT).values == [3.0, 4.0]


def test_replayed_result_is_the_callers_to_keep() -> None:
    parser = _warm(BODY)
    first = parser.parse(BODY, TEXT)
    first.entries.clear()
    first.metadata.clear()
    second = parser.parse(BODY, TEXT)
    assert len(second.entries) == 7
    assert second.metadata["lat"] == FamilyMetadata(MetricType.HISTOGRAM)


def test_alternating_layouts_answer_like_a_cold_parser() -> None:
    swapped = BODY.replace("lat_sum 1.5\nlat_count 2", "lat_count 2\nlat_sum 1.5")
    odd = '  a 1\n\n# c\n\tb{x="1"}  2\nd 3\n'
    parser = ScrapeParser()
    for body in [BODY] * 4 + [swapped, BODY, swapped] + [odd] * 4 + [BODY] * 4 + [_body("9")]:
        assert _outcome(parser, body) == _outcome(ScrapeParser(), body)
        parser.end_cycle()
