"""Go's ``time.Time`` and ``time.Duration`` as template values.

Templates call methods on times (``.StartsAt.Format "2006-01-02"``,
``.StartsAt.Unix``) and print them with Go's ``String()`` form
(``2024-01-02 03:04:05 +0000 UTC``); durations print as ``1h2m3.5s``. Python's
datetime formats none of these the Go way, hence these small wrappers.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC = _dt.UTC
_ZERO = _dt.datetime(1, 1, 1, tzinfo=UTC)

_LONG_MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
_LONG_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def format_duration(ns: int) -> str:
    """time.Duration.String()."""
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u < 1_000:
            s = f"{u}ns"
        elif u < 1_000_000:
            s = _frac(u, 1_000) + "µs"
        else:
            s = _frac(u, 1_000_000) + "ms"
    else:
        secs, frac = divmod(u, 1_000_000_000)
        h, rem = divmod(secs, 3600)
        m, sec = divmod(rem, 60)
        s = _frac(sec * 1_000_000_000 + frac, 1_000_000_000) + "s"
        if h or m:
            s = f"{m}m" + s
        if h:
            s = f"{h}h" + s
    return "-" + s if neg else s


def _frac(v: int, unit: int) -> str:
    whole, rest = divmod(v, unit)
    if rest == 0:
        return str(whole)
    digits = str(rest).rjust(len(str(unit)) - 1, "0").rstrip("0")
    return f"{whole}.{digits}"


class GoDuration(int):
    """Nanoseconds; prints as Go does."""

    __go_type__ = "time.Duration"

    def String(self) -> str:
        return format_duration(int(self))

    def Seconds(self) -> float:
        return int(self) / 1e9

    def Minutes(self) -> float:
        return int(self) / 6e10

    def Hours(self) -> float:
        return int(self) / 3.6e12

    def Milliseconds(self) -> int:
        return int(self) // 1_000_000

    def __str__(self) -> str:
        return self.String()


def _zone_offset(
    d: _dt.datetime, sep: str, z: bool, secs: bool = False, short: bool = False
) -> str:
    off = d.utcoffset() or _dt.timedelta(0)
    total = int(off.total_seconds())
    if z and total == 0:
        return "Z"
    sign = "-" if total < 0 else "+"
    total = abs(total)
    hh, rem = divmod(total, 3600)
    mm, ss = divmod(rem, 60)
    if short:
        return f"{sign}{hh:02d}"
    s = f"{sign}{hh:02d}{sep}{mm:02d}"
    if secs:
        s += f"{sep}{ss:02d}"
    return s


def _zone_name(d: _dt.datetime) -> str:
    name = d.tzname()
    if not name:
        return _zone_offset(d, "", False)
    return name


_TOKENS = [
    "January",
    "Jan",
    "Monday",
    "Mon",
    "MST",
    "2006",
    "Z07:00:00",
    "Z070000",
    "Z07:00",
    "Z0700",
    "Z07",
    "-07:00:00",
    "-070000",
    "-07:00",
    "-0700",
    "-07",
    "002",
    "__2",
    "_2",
    "01",
    "02",
    "03",
    "04",
    "05",
    "06",
    "15",
    "PM",
    "pm",
    "1",
    "2",
    "3",
    "4",
    "5",
]


def go_format(d: _dt.datetime, layout: str, nanos: int | None = None) -> str:
    """time.Time.Format with Go's reference-time layout."""
    ns = d.microsecond * 1000 if nanos is None else nanos
    out: list[str] = []
    i, n = 0, len(layout)
    while i < n:
        c = layout[i]
        if c in ".," and i + 1 < n and layout[i + 1] in "09":
            digit = layout[i + 1]
            j = i + 1
            while j < n and layout[j] == digit:
                j += 1
            if j >= n or not layout[j].isdigit():
                width = min(j - i - 1, 9)
                frac = f"{ns:09d}"[:width]
                if digit == "9":
                    frac = frac.rstrip("0")
                    if frac:
                        out.append(c + frac)
                else:
                    out.append(c + frac)
                i = j
                continue
        tok = next((t for t in _TOKENS if layout.startswith(t, i)), None)
        if tok is None or (tok == "_2" and layout.startswith("_2006", i)):
            out.append(c)
            i += 1
            continue
        i += len(tok)
        out.append(_render(d, tok))
    return "".join(out)


def _render(d: _dt.datetime, tok: str) -> str:
    h12 = d.hour % 12 or 12
    match tok:
        case "January":
            return _LONG_MONTHS[d.month - 1]
        case "Jan":
            return _LONG_MONTHS[d.month - 1][:3]
        case "Monday":
            return _LONG_DAYS[d.weekday()]
        case "Mon":
            return _LONG_DAYS[d.weekday()][:3]
        case "MST":
            return _zone_name(d)
        case "2006":
            return f"{d.year:04d}"
        case "06":
            return f"{d.year % 100:02d}"
        case "01":
            return f"{d.month:02d}"
        case "1":
            return str(d.month)
        case "02":
            return f"{d.day:02d}"
        case "2":
            return str(d.day)
        case "_2":
            return f"{d.day:2d}"
        case "002":
            return f"{d.timetuple().tm_yday:03d}"
        case "__2":
            return f"{d.timetuple().tm_yday:3d}"
        case "15":
            return f"{d.hour:02d}"
        case "03":
            return f"{h12:02d}"
        case "3":
            return str(h12)
        case "04":
            return f"{d.minute:02d}"
        case "4":
            return str(d.minute)
        case "05":
            return f"{d.second:02d}"
        case "5":
            return str(d.second)
        case "PM":
            return "PM" if d.hour >= 12 else "AM"
        case "pm":
            return "pm" if d.hour >= 12 else "am"
    z = tok.startswith("Z")
    body = tok[1:]
    return _zone_offset(d, ":" if ":" in body else "", z, secs=len(body) >= 6, short=body == "07")


class GoTime:
    """An instant with Go's time.Time methods. Wraps an aware datetime."""

    __slots__ = ("dt", "nanos")
    __go_type__ = "time.Time"

    def __init__(self, dt: _dt.datetime, nanos: int | None = None) -> None:
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        self.dt = dt
        self.nanos = dt.microsecond * 1000 if nanos is None else nanos

    @classmethod
    def zero(cls) -> GoTime:
        return cls(_ZERO)

    @classmethod
    def from_unix(cls, seconds: float) -> GoTime:
        ns = round(seconds * 1e9)
        return cls.from_unix_nano(ns)

    @classmethod
    def from_unix_nano(cls, ns: int) -> GoTime:
        secs, rem = divmod(ns, 1_000_000_000)
        d = _dt.datetime.fromtimestamp(secs, UTC) + _dt.timedelta(microseconds=rem // 1000)
        return cls(d, rem)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GoTime) and self.UnixNano() == other.UnixNano()

    def __hash__(self) -> int:
        return hash(self.UnixNano())

    def __repr__(self) -> str:
        return f"GoTime({self.String()})"

    # Go methods ------------------------------------------------------------------------------
    def String(self) -> str:
        return go_format(self.dt, "2006-01-02 15:04:05.999999999 -0700 MST", self.nanos)

    def Format(self, layout: str) -> str:
        return go_format(self.dt, str(layout), self.nanos)

    def IsZero(self) -> bool:
        return self.dt.astimezone(UTC).replace(microsecond=0) == _ZERO and self.nanos == 0

    def Unix(self) -> int:
        return int((self.dt - _dt.datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() // 1)

    def UnixMilli(self) -> int:
        return self.UnixNano() // 1_000_000

    def UnixNano(self) -> int:
        base = self.dt.replace(microsecond=0) - _dt.datetime(1970, 1, 1, tzinfo=UTC)
        return (base.days * 86400 + base.seconds) * 1_000_000_000 + self.nanos

    def UTC(self) -> GoTime:
        return GoTime(self.dt.astimezone(UTC), self.nanos)

    def Local(self) -> GoTime:
        return GoTime(self.dt.astimezone(), self.nanos)

    def In(self, loc: Any) -> GoTime:
        return GoTime(self.dt.astimezone(loc), self.nanos)

    def Add(self, d: int) -> GoTime:
        return GoTime.from_unix_nano(self.UnixNano() + int(d)).In(self.dt.tzinfo)

    def Sub(self, other: GoTime) -> GoDuration:
        return GoDuration(self.UnixNano() - other.UnixNano())

    def Before(self, other: GoTime) -> bool:
        return self.UnixNano() < other.UnixNano()

    def After(self, other: GoTime) -> bool:
        return self.UnixNano() > other.UnixNano()

    def Equal(self, other: GoTime) -> bool:
        return self.UnixNano() == other.UnixNano()

    def Year(self) -> int:
        return self.dt.year

    def Day(self) -> int:
        return self.dt.day

    def Hour(self) -> int:
        return self.dt.hour

    def Minute(self) -> int:
        return self.dt.minute

    def Second(self) -> int:
        return self.dt.second

    def YearDay(self) -> int:
        return self.dt.timetuple().tm_yday

    def Weekday(self) -> str:
        return _LONG_DAYS[self.dt.weekday()]

    def MarshalJSON(self) -> str:
        s = go_format(self.dt, "2006-01-02T15:04:05.999999999Z07:00", self.nanos)
        return s


def load_location(name: str) -> _dt.tzinfo:
    """time.LoadLocation: "" and "UTC" are UTC, "Local" the host zone."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        tz = _dt.datetime.now().astimezone().tzinfo
        return tz if tz is not None else UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None


def as_time(v: Any) -> GoTime:
    if isinstance(v, GoTime):
        return v
    if isinstance(v, _dt.datetime):
        return GoTime(v)
    from promethean.template.exec import ArgTypeError

    raise ArgTypeError("time.Time", v)
