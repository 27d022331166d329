"""Duration strings as operators already write them for the Go binaries.

Two dialects exist. Prometheus durations (``1h30m``, ``5m``, ``15d``,
``500ms``) are what flags and most config fields use: units y, w, d, h, m, s,
ms in that order, each at most once, integers only; ``0`` alone is allowed; a
year is 365 days. Go ``time.Duration`` values (``1.5s``, ``300ms``, ``1h2m``,
or a bare integer meaning nanoseconds) appear where upstream decodes YAML
straight into a Go duration, such as the web config file's ``rate_limit``.
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


def format_go_duration(seconds: float) -> str:
    """Go's ``time.Duration.String()`` (``15s``, ``1m0s``, ``2h0m0s``, ``500ms``, ``1.5s``),
    which upstream prints in labels, configs and tool output."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _frac(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + _frac(rest, 1_000_000_000) + "s"


def _frac(value: int, size: int) -> str:
    whole, part = divmod(value, size)
    if not part:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}." + f"{part:0{digits}d}".rstrip("0")
