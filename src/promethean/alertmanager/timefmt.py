"""Timestamps as Alertmanager's wire formats write and read them.

Times are float seconds since the epoch (microsecond precision, what Python's
datetime carries). The API v2 prints them as go-swagger does (milliseconds,
``Z``); webhook payloads use Go's RFC 3339 with trailing zeros of the
fraction trimmed, and Go's zero time for "not set".
"""

from __future__ import annotations

import datetime as dt

__all__ = ["GO_ZERO_TIME", "format_api_time", "format_rfc3339nano", "parse_api_time"]

GO_ZERO_TIME = "0001-01-01T00:00:00Z"
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_GO_ZERO = dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def _utc(ts: float) -> dt.datetime:
    return _EPOCH + dt.timedelta(microseconds=round(ts * 1_000_000))


def format_api_time(ts: float) -> str:
    """``2026-11-27T04:43:06.249Z``: milliseconds, truncated as Go's Format does."""
    t = _utc(ts)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def format_rfc3339nano(ts: float | None) -> str:
    """Go's ``time.RFC3339Nano`` in UTC; ``None`` is Go's zero time."""
    if ts is None:
        return GO_ZERO_TIME
    t = _utc(ts)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        base += "." + f"{t.microsecond:06d}".rstrip("0")
    return base + "Z"


def parse_api_time(text: str) -> float | None:
    """Seconds from an RFC 3339 timestamp; ``None`` for Go's zero time.

    Raises ValueError worded as Go's time parser (the API quotes it).
    """
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(_go_parse_error(text)) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    if t == _GO_ZERO:
        return None
    return (t - _EPOCH) / dt.timedelta(seconds=1)


def _go_parse_error(text: str) -> str:
    layout = "2006-01-02 15:04:05"
    rest = text
    if len(text) >= 4 and text[:4].isdigit():
        rest = text[4:]
        return f'parsing time "{text}" as "{layout}": cannot parse "{rest}" as "-"'
    return f'parsing time "{text}" as "{layout}": cannot parse "{rest}" as "2006"'
