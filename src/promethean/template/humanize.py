"""Prometheus' ``humanize*`` family, shared by rule annotations and Alertmanager.

Outputs follow upstream exactly (``%.4g`` with SI or binary prefixes,
``1d 2h 3m 4s`` durations), because alert text is compared by people and by
tests across the Go and Python implementations.
"""

from __future__ import annotations

import math
from typing import Any

from promethean.template.errors import FuncError
from promethean.template.gofmt import sprintf
from promethean.template.gotime import GoDuration, GoTime


def to_float(v: Any) -> float:
    """Prometheus' convertToFloat: numbers, numeric strings, durations."""
    if isinstance(v, GoDuration):
        return int(v) / 1e9
    if isinstance(v, bool):
        raise FuncError(f"can't convert {'bool'} to float")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        try:
            return _parse_go_float(v)
        except ValueError:
            raise FuncError(f'strconv.ParseFloat: parsing "{v}": invalid syntax') from None
    if isinstance(v, GoTime):
        raise FuncError("can't convert time.Time to float")
    from promethean.template.gofmt import go_type_name

    raise FuncError(f"can't convert {go_type_name(v)} to float")


def _parse_go_float(s: str) -> float:
    t = s.strip()
    if t != s or not t:
        raise ValueError(s)
    low = t.lower().lstrip("+-")
    if low in ("inf", "infinity"):
        return -math.inf if t.startswith("-") else math.inf
    if low == "nan":
        return math.nan
    if low.startswith("0x"):
        return float.fromhex(t)
    return float(t)


def _g4(v: float) -> str:
    return sprintf("%.4g", [v])


def humanize(i: Any) -> str:
    v = to_float(i)
    if math.isinf(v) or math.isnan(v):
        return _g4(v)
    if abs(v) >= 1:
        prefix = ""
        for p in ("k", "M", "G", "T", "P", "E", "Z", "Y"):
            if abs(v) < 1000:
                break
            prefix = p
            v /= 1000
        return _g4(v) + prefix
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1 or v == 0:
            break
        prefix = p
        v *= 1000
    return _g4(v) + prefix


def humanize1024(i: Any) -> str:
    v = to_float(i)
    if abs(v) <= 1 or math.isinf(v) or math.isnan(v):
        return _g4(v)
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"):
        if abs(v) < 1024:
            break
        prefix = p
        v /= 1024
    return _g4(v) + prefix


def humanize_duration(i: Any) -> str:
    v = to_float(i)
    if math.isinf(v) or math.isnan(v):
        return _g4(v)
    if v == 0:
        return _g4(v) + "s"
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        duration = int(v)
        seconds = duration % 60
        minutes = (duration // 60) % 60
        hours = (duration // 3600) % 24
        days = duration // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_g4(v)}s"
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return f"{_g4(v)}{prefix}s"


def humanize_percentage(i: Any) -> str:
    return _g4(to_float(i) * 100) + "%"


def humanize_timestamp(i: Any) -> str:
    v = to_float(i)
    if math.isinf(v) or math.isnan(v):
        return _g4(v)
    return GoTime.from_unix_nano(int(v * 1e9)).String()
