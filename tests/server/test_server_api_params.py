"""Parameter parsing and number formatting of the API, case by case as Go does them."""

from __future__ import annotations

import pytest

from promethean.server.api_json import format_sample_value, format_timestamp
from promethean.server.api_params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    parse_duration_param,
    parse_time,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("1795754000", 1795754000_000),
        ("1795754000.123", 1795754000_123),
        ("1795754000.1236", 1795754000_124),
        ("-1.5", -1_500),
        ("1e3", 1_000_000),
        ("2026-11-27T04:33:20Z", 1795754000_000),
        ("2026-11-27T04:33:20.5Z", 1795754000_500),
        ("2026-11-27T04:33:20.123456789Z", 1795754000_123),
        ("2026-11-27T05:33:20+01:00", 1795754000_000),
        ("1970-01-01T00:00:00Z", 0),
        ("-292273086-05-16T16:47:06Z", MIN_TIME_MS),
        ("292277025-08-18T07:12:54.999999999Z", MAX_TIME_MS),
    ],
)
def test_parse_time(text: str, ms: int) -> None:
    assert parse_time(text) == ms


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "1_000",
        " 1",
        "2026-11-27",
        "2026-11-27 04:33:20Z",
        "2026-13-01T00:00:00Z",
        "NaN",
        "Inf",
    ],
)
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="to a valid timestamp"):
        parse_time(text)


@pytest.mark.parametrize(
    ("text", "ms"),
    [("15", 15_000), ("0.5", 500), ("1m", 60_000), ("1h30m", 5_400_000), ("0", 0), ("-1", -1000)],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration_param(text) == ms


def test_parse_duration_refuses() -> None:
    with pytest.raises(ValueError, match=r'^cannot parse "abc" to a valid duration$'):
        parse_duration_param("abc")
    with pytest.raises(ValueError, match="It overflows int64"):
        parse_duration_param("1e20")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-0.0, "-0"),
        (0.1, "0.1"),
        (1e6, "1000000"),
        (1e21, "1000000000000000000000"),
        (1.5e-7, "0.00000015"),
        (123456789.125, "123456789.125"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
        (2**53 + 0.0, "9007199254740992"),
    ],
)
def test_sample_values_as_go_writes_them(value: float, text: str) -> None:
    assert format_sample_value(value) == text


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0"), (1500, "1.500"), (1795753957049, "1795753957.049"), (5, "0.005"), (-1500, "-1.500")],
)
def test_timestamps_as_go_writes_them(ms: int, text: str) -> None:
    assert format_timestamp(ms) == text
