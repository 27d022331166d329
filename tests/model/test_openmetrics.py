"""OpenMetrics 1.0: parsed values a user relies on, and exact errors."""

from __future__ import annotations

import pytest

from promethean.model.errors import ParseError
from promethean.model.exposition import MetricType
from promethean.model.labels import Labels
from promethean.model.openmetrics import parse_openmetrics


def test_types_units_timestamps_and_exemplars() -> None:
    fams = parse_openmetrics(
        '# TYPE req counter\n# UNIT req \n# HELP req Say \\"hi\\"\n'
        'req_total{code="200"} 3 1.001 # {trace_id="x"} 1.5 2\n'
        'req_created{code="200"} 1.7e9 1.001\n'
        '# TYPE build info\nbuild_info{version="1"} 1\n'
        '# TYPE state stateset\nstate{state="on"} 1\nstate{state="off"} 0\n'
        "# EOF"
    )
    req, build, state = fams
    assert (req.name, req.type, req.help, req.unit) == ("req", MetricType.COUNTER, 'Say "hi"', "")
    total = req.samples[0]
    assert (total.name, total.value, total.timestamp_ms) == ("req_total", 3.0, 1001)
    assert total.exemplar is not None
    assert total.exemplar.labels == Labels.from_dict({"trace_id": "x"})
    assert (total.exemplar.value, total.exemplar.timestamp_ms) == (1.5, 2000)
    assert req.samples[1].value == 1.7e9
    assert build.type is MetricType.INFO
    assert [s.value for s in state.samples] == [1.0, 0.0]


@pytest.mark.parametrize(
    ("body", "line", "column", "message"),
    [
        ("a 1\n", 2, 1, "missing '# EOF'"),
        ("a 1\n\n# EOF\n", 2, 1, "blank lines are not allowed"),
        ("# EOF\na 1\n", 2, 1, "unexpected text after '# EOF'"),
        ("# TYPE a counter\na_total -1\n# EOF\n", 2, 1, "cannot be negative"),
        ('# TYPE a gauge\na 1 # {x="y"} 1\n# EOF\n', 2, 1, "exemplars are only allowed"),
        ("# TYPE a_seconds gauge\n# UNIT a_seconds ms\n# EOF\n", 1, 1, "not a suffix"),
        ('a{b="1",} 1\n# EOF\n', 1, 9, "expected label name after ','"),
        ("a 1 Inf\n# EOF\n", 1, 5, "expected timestamp (seconds), got 'Inf'"),
    ],
)
def test_errors(body: str, line: int, column: int, message: str) -> None:
    with pytest.raises(ParseError) as info:
        parse_openmetrics(body)
    assert (info.value.line, info.value.column) == (line, column)
    assert message in str(info.value)
