"""Prometheus durations (``1h30m``, ``5m``, ``15d``, ``500ms``), as config and flags write them.

The grammar is upstream's: units y, w, d, h, m, s, ms in that order, each at
most once, integers only; ``0`` alone is allowed. A year is 365 days.
"""

from __future__ import annotations

import re

_UNITS_MS = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)
_PATTERN = re.compile(
    r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$"
)
_MAX_MS = (1 << 63) - 1


def parse_duration_ms(text: str) -> int:
    """Parse to integer milliseconds; ValueError names the bad string."""
    if text == "":
        raise ValueError("empty duration string")
    if text == "0":
        return 0
    match = _PATTERN.match(text)
    if match is None or not any(match.groups()):
        raise ValueError(f'not a valid duration string: "{text}"')
    total = 0
    for (_, unit_ms), group in zip(_UNITS_MS, match.groups(), strict=True):
        if group is not None:
            total += int(group) * unit_ms
    if total > _MAX_MS:
        raise ValueError(f'duration out of range: "{text}"')
    return total


def parse_duration(text: str) -> float:
    """Parse to seconds (float)."""
    return parse_duration_ms(text) / 1000.0


def format_duration_ms(ms: int) -> str:
    """Canonical form, largest units first: 5400000 -> ``1h30m``; 0 -> ``0s``."""
    if ms == 0:
        return "0s"
    sign = ""
    if ms < 0:
        sign, ms = "-", -ms
    out = []
    for unit, unit_ms in _UNITS_MS:
        if ms >= unit_ms:
            n, ms = divmod(ms, unit_ms)
            out.append(f"{n}{unit}")
    return sign + "".join(out)
