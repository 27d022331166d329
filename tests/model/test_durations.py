"""Both duration dialects: Prometheus's (flags, config) and Go's time.Duration (web config)."""

from __future__ import annotations

import pytest

from promethean.model.durations import (
    format_duration_ms,
    format_go_duration,
    parse_duration,
    parse_duration_ms,
    parse_go_duration,
)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("5m", 300_000),
        ("1h30m", 5_400_000),
        ("1d2h", 93_600_000),
        ("500ms", 500),
        ("1y", 365 * 86_400_000),
        ("2w", 14 * 86_400_000),
        ("0", 0),
        ("0s", 0),
    ],
)
def test_prometheus_durations(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms
    assert parse_duration(text) == ms / 1000


@pytest.mark.parametrize("text", ["2h1d", "1.5h", "5", "m", "1m1m", "-5m", " 5m"])
def test_invalid_prometheus_durations_name_the_string(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == f'not a valid duration string: "{text}"'


def test_empty_duration() -> None:
    with pytest.raises(ValueError, match="empty duration string"):
        parse_duration("")


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0s"), (5_400_000, "1h30m"), (15 * 86_400_000, "2w1d"), (1500, "1s500ms")],
)
def test_canonical_format(ms: int, text: str) -> None:
    assert format_duration_ms(ms) == text
    assert parse_duration_ms(text) == ms


def test_go_durations() -> None:
    assert parse_go_duration("1s") == 1.0
    assert parse_go_duration("1m30.5s") == 90.5
    assert parse_go_duration("250ms") == 0.25
    assert parse_go_duration(0) == 0.0
    assert parse_go_duration(1_000_000_000) == 1.0
    with pytest.raises(ValueError, match='time: invalid duration "1x"'):
        parse_go_duration("1x")
    with pytest.raises(ValueError, match="missing unit"):
        parse_go_duration("10")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (15, "15s"),
        (60, "1m0s"),
        (7200, "2h0m0s"),
        (90.5, "1m30.5s"),
        (0.5, "500ms"),
        (0.0015, "1.5ms"),
        (1e-6, "1µs"),
        (3661, "1h1m1s"),
        (-2, "-2s"),
    ],
)
def test_go_duration_string(seconds: float, text: str) -> None:
    assert format_go_duration(seconds) == text
    assert parse_go_duration(text) == pytest.approx(seconds)
