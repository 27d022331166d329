"""Values are written exactly as Go's strconv 'g' shortest form."""

from __future__ import annotations

import math

import pytest

from promethean.model import Labels
from promethean.pushgateway.textfmt import format_labels, format_value


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (42.0, "42"),
        (2398.283, "2398.283"),
        (1795754491.9589317, "1.7957544919589317e+09"),
        (1e-05, "1e-05"),
        (0.0001, "0.0001"),
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (-3.25, "-3.25"),
        (0.0, "0"),
        (5e-324, "5e-324"),
        (1e100, "1e+100"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_go_float_format(value: float, text: str) -> None:
    assert format_value(value) == text
    if not math.isnan(value):
        assert float(text.replace("+Inf", "inf").replace("-Inf", "-inf")) == value


def test_labels_escaped_and_empty_values_kept() -> None:
    labels = tuple.__new__(Labels, [("a", 'q"\\\n'), ("instance", "")])
    assert format_labels(labels) == '{a="q\\"\\\\\\n",instance=""}'
