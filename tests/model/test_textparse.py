"""Text format 0.0.4: what a user sees for good and bad exposition."""

from __future__ import annotations

import math

import pytest

from promethean.model.errors import ParseError
from promethean.model.exposition import MetricType
from promethean.model.labels import Labels
from promethean.model.textparse import parse_text

EXAMPLE = """\
# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# A normal comment.
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9
metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
# HELP http_request_duration_seconds A histogram of the request duration.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320
# HELP rpc_duration_seconds A summary.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.5"} 4773
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
"""  # noqa: E501


def test_documented_example() -> None:
    fams = parse_text(EXAMPLE)
    assert [(f.name, f.type) for f in fams] == [
        ("http_requests_total", MetricType.COUNTER),
        ("msdos_file_access_time_seconds", MetricType.UNKNOWN),
        ("metric_without_timestamp_and_labels", MetricType.UNKNOWN),
        ("something_weird", MetricType.UNKNOWN),
        ("http_request_duration_seconds", MetricType.HISTOGRAM),
        ("rpc_duration_seconds", MetricType.SUMMARY),
    ]
    req = fams[0]
    assert req.help == "The total number of HTTP requests."
    assert req.samples[1].labels == Labels.from_dict({"method": "post", "code": "400"})
    assert req.samples[1].value == 3.0
    assert req.samples[1].timestamp_ms == 1395066363000
    msdos = fams[1].samples[0]
    assert msdos.labels.get("path") == "C:\\DIR\\FILE.TXT"
    assert msdos.labels.get("error") == 'Cannot find file:\n"FILE.TXT"'
    assert fams[3].samples[0].value == math.inf
    assert fams[3].samples[0].timestamp_ms == -3982045
    assert [s.name for s in fams[4].samples] == [
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_bucket",
        "http_request_duration_seconds_sum",
        "http_request_duration_seconds_count",
    ]
    assert [s.name for s in fams[5].samples][1:] == [
        "rpc_duration_seconds_sum",
        "rpc_duration_seconds_count",
    ]


def test_utf8_quoted_names_and_go_floats() -> None:
    fams = parse_text(
        '# TYPE "my.metric" gauge\n{"my.metric", "some.label"="v"} NaN\n'
        'a\t{x="1",} -inf\nb Infinity\nc .5\n'
    )
    assert fams[0].name == "my.metric"
    assert fams[0].type is MetricType.GAUGE
    assert fams[0].samples[0].labels == Labels.from_dict({"some.label": "v"})
    assert math.isnan(fams[0].samples[0].value)
    assert [s.value for f in fams[1:] for s in f.samples] == [-math.inf, math.inf, 0.5]


def test_help_escapes_and_empty_families_dropped() -> None:
    fams = parse_text("# HELP a line\\nbreak \\\\ back\n# TYPE a gauge\na 1\n# HELP empty x\n")
    assert len(fams) == 1
    assert fams[0].help == "line\nbreak \\ back"


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        ("a 1\nb 1\na 2\n", 3, 1, "metric family 'a' appears again after other families"),
        ("# TYPE a gauge\n# TYPE a counter\n", 2, 3, "second TYPE line for metric name 'a'"),
        ("# HELP a x\n# HELP a y\n", 2, 3, "second HELP line for metric name 'a'"),
        ("a 1\n# TYPE a gauge\n", 2, 3, "or TYPE reported after samples"),
        ("# TYPE a gauges\n", 1, 10, "unknown metric type 'gauges'"),
        ('a{b="1",b="2"} 1\n', 1, 9, "duplicate label name 'b'"),
        ('a{__name__="x"} 1\n', 1, 3, 'label name "__name__" is reserved'),
        ("a x\n", 1, 3, "expected float as value, got 'x'"),
        ("a 0x1p3\n", 1, 3, "expected float as value, got '0x1p3'"),
        ("a 1_0\n", 1, 3, "expected float as value, got '1_0'"),
        ("a +NaN\n", 1, 3, "expected float as value, got '+NaN'"),
        ("a 1 1.5\n", 1, 5, "expected integer as timestamp, got '1.5'"),
        ("a 1 2 3\n", 1, 7, "spurious string after timestamp: '3'"),
        ('a{b="1} 1\n', 1, 5, "unterminated quoted string"),
        ("a{b=1} 1\n", 1, 5, "expected '\"' to open label value"),
        ("a{,} 1\n", 1, 3, "expected label name"),
        ("a\n", 1, 2, "expected value after metric"),
        ('# TYPE h histogram\nh_bucket{le="x"} 1\n', 2, 14, "expected float as value for 'le'"),
        ('# TYPE s summary\ns{quantile="q"} 1\n', 2, 13, "expected float as value for 'quantile'"),
        (b'a 1\nb{x="\xff"} 1\n', 2, 6, "invalid UTF-8"),
    ],
)
def test_errors_name_line_and_column(body: str, line: int, column: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_text(body)
    assert (info.value.line, info.value.column) == (line, column)
    assert message in str(info.value)
    assert str(info.value).startswith(f"{line}:{column}: ")


def test_no_final_newline_and_crlf_is_an_error() -> None:
    assert parse_text("a 1")[0].samples[0].value == 1.0
    with pytest.raises(ParseError):
        parse_text("a 1\r\n")


def test_empty_label_values_are_kept() -> None:
    """An exposition's ``name=""`` means something (honor_labels removes the target label)."""
    fams = parse_text('foo{instance=""} 1\nfoo{instance="",job="a"} 2\nfoo{instance=""} 3\n')
    labels = [s.labels for s in fams[0].samples]
    assert [tuple(lb) for lb in labels] == [
        (("instance", ""),),
        (("instance", ""), ("job", "a")),
        (("instance", ""),),
    ]
    assert labels[0] == Labels.from_pairs_keep_empty([("instance", "")])
    assert labels[0].has("instance")


def test_lines_of_a_known_shape_get_the_same_checks() -> None:
    """The second line of a shape takes the fast path; it must be judged like the first."""
    body = (
        '# TYPE h histogram\nh_bucket{b="1",le="1"} 1\nh_bucket{b="1",le="x"} 2\n'
        'h_bucket{b="1",le="+Inf"} 2\n'
    )
    with pytest.raises(ParseError) as info:
        parse_text(body)
    assert str(info.value) == "3:20: expected float as value for 'le' label, got 'x'"
    with pytest.raises(ParseError) as info:
        parse_text('a{b="1"} 1\na{b="2"} x\n')
    assert str(info.value) == "2:10: expected float as value, got 'x'"
    with pytest.raises(ParseError) as info:
        parse_text('a{b="1"} 1\nb{c="1"} 2\na{b="2"} 3\n')
    assert (info.value.line, info.value.column) == (3, 1)
    fams = parse_text(
        'a{z="1",b="2"} 1\na{z="3",b="4"} 2 1700000000000\na{z="5\\"",b="\\\\"} 3\n'
        'a{z="7",b="8"} 4\n'
    )
    assert [(tuple(s.labels), s.value, s.timestamp_ms) for s in fams[0].samples] == [
        ((("b", "2"), ("z", "1")), 1.0, None),
        ((("b", "4"), ("z", "3")), 2.0, 1700000000000),
        ((("b", "\\"), ("z", '5"')), 3.0, None),
        ((("b", "8"), ("z", "7")), 4.0, None),
    ]


def test_long_runs_of_one_shape_are_judged_line_by_line() -> None:
    """A run of lines of one shape is cut in bulk; its values, labels and errors stay exact."""
    rows = [f'r{{b="{i}",a="x{i % 2}"}} {i}' for i in range(20)]
    fams = parse_text("# TYPE r gauge\n" + "\n".join(rows) + "\n# TYPE s counter\ns 1\n")
    assert [(f.name, f.type, len(f.samples)) for f in fams] == [
        ("r", MetricType.GAUGE, 20),
        ("s", MetricType.COUNTER, 1),
    ]
    assert tuple(fams[0].samples[13].labels) == (("a", "x1"), ("b", "13"))
    assert fams[0].samples[13].value == 13.0
    bad = [*rows[:15], 'r{b="15",a="x1"} 15 1.5', *rows[16:]]
    with pytest.raises(ParseError) as info:
        parse_text("\n".join(bad) + "\n")
    assert str(info.value) == "16:21: expected integer as timestamp, got '1.5'"
    hist = [f'h_bucket{{b="1",le="{i}"}} {i}' for i in range(12)]
    hist[9] = 'h_bucket{b="1",le="nine"} 9'
    with pytest.raises(ParseError) as info:
        parse_text("# TYPE h histogram\n" + "\n".join(hist) + "\n")
    assert str(info.value) == "11:20: expected float as value for 'le' label, got 'nine'"
