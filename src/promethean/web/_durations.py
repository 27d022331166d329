"""Duration strings as operators already write them for the Go binaries.

Two dialects meet in the web layer: the web config file is decoded by Go's
YAML library into ``time.Duration`` (``time.ParseDuration`` syntax, or a bare
integer meaning nanoseconds), while command-line flags use Prometheus'
``model.Duration`` (``5m``, ``1h30m``, ``2d``; no fractions).
"""

from __future__ import annotations

import re

_GO_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")

_PROM_UNITS = {
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 7 * 86400.0,
    "y": 365 * 86400.0,
}
_PROM_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_PROM_ORDER = ("y", "w", "d", "h", "m", "s", "ms")


def parse_go_duration(value: object) -> float:
    """Seconds from a Go ``time.Duration`` YAML value; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError("invalid duration: must be a string such as 1s or 500ms")
    if isinstance(value, int):
        return value * 1e-9
    if not isinstance(value, str):
        raise ValueError("invalid duration: must be a string such as 1s or 500ms")
    text = value
    sign = 1.0
    if text[:1] in ("+", "-"):
        sign = -1.0 if text[0] == "-" else 1.0
        text = text[1:]
    if text == "0":
        return 0.0
    if not text:
        raise ValueError(f'time: invalid duration "{value}"')
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _GO_PART.match(text, pos)
        if match is None:
            if re.match(r"\d", text[pos:]) and not re.search(r"[a-zµμ]", text[pos:]):
                raise ValueError(f'time: missing unit in duration "{value}"')
            raise ValueError(f'time: invalid duration "{value}"')
        total += float(match.group(1)) * _GO_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def parse_prom_duration(text: str) -> float:
    """Seconds from a Prometheus duration such as ``5m`` or ``1h30m``; raises ValueError."""
    if text == "0":
        return 0.0
    pos = 0
    total = 0.0
    last = -1
    if not text:
        raise ValueError("empty duration string")
    while pos < len(text):
        match = _PROM_PART.match(text, pos)
        if match is None:
            raise ValueError(f'not a valid duration string: "{text}"')
        rank = _PROM_ORDER.index(match.group(2))
        if rank <= last:
            raise ValueError(f'not a valid duration string: "{text}"')
        last = rank
        total += int(match.group(1)) * _PROM_UNITS[match.group(2)]
        pos = match.end()
    return total
