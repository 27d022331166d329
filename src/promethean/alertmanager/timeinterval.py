"""Time intervals (``time_intervals:``/``mute_time_intervals:``) and whether a moment is inside.

Routes name intervals to mute notifications in (``mute_time_intervals``) or to
send only in (``active_time_intervals``). Existing files must mean what they
meant to Alertmanager, so the rules are upstream's, including the awkward ones:

* ``times`` are ``HH:MM`` half-open ranges ``[start, end)``, ``24:00`` allowed as
  an end; start must be before end;
* ``weekdays`` run Sunday (0) to Saturday (6): ``monday:sunday`` is an error;
* ``days_of_month`` accept negative days counted from the month's end
  (``-1`` is the last day); ranges are clamped to the month, never spill over;
* ``months`` by name or number, ``years`` by number, ``location`` an IANA zone
  name (``Local`` is the host's zone) in which all the fields are evaluated;
* every field left out matches everything; one interval matches when all its
  fields do, a named set matches when any of its intervals does.

A bare ``17:00`` in YAML 1.1 is a base-60 integer (1020) to the YAML loader;
Go's YAML reads it as the string it looks like, so such integers are turned
back into ``HH:MM`` here.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import zoneinfo
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, field_validator, model_validator

from promethean.config import ConfigModel

__all__ = [
    "DayOfMonthRange",
    "Intervener",
    "MonthRange",
    "NamedTimeInterval",
    "TimeInterval",
    "TimeRange",
    "WeekdayRange",
    "YearRange",
    "load_location",
]

_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_VALID_TIME = re.compile(r"^((([01][0-9])|(2[0-3])):[0-5][0-9])$|(^24:00$)")


@dataclass(frozen=True, slots=True)
class InclusiveRange:
    """``begin`` to ``end``, both included (weekdays, days, months, years)."""

    begin: int
    end: int

    def contains(self, value: int) -> bool:
        return self.begin <= value <= self.end


class WeekdayRange(InclusiveRange):
    __slots__ = ()


class DayOfMonthRange(InclusiveRange):
    __slots__ = ()


class MonthRange(InclusiveRange):
    __slots__ = ()


class YearRange(InclusiveRange):
    __slots__ = ()


def _scalar_text(value: Any) -> str:
    """Go's YAML decodes any scalar into a string field as its text; mimic that."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _split_range(text: str, member: Any) -> tuple[int, int]:
    text = text.lower()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 2:
            raise ValueError(f"couldn't parse range {text}, invalid format")
        return member(parts[0]), member(parts[1])
    value = member(text)
    return value, value


def _go_atoi(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ValueError(f'strconv.Atoi: parsing "{text}": invalid syntax')
    return int(text)


def _weekday_member(text: str) -> int:
    if text in _WEEKDAYS:
        return _WEEKDAYS.index(text)
    raise ValueError(f"{text} is not a valid weekday")


def _month_member(text: str) -> int:
    if text in _MONTHS:
        return _MONTHS.index(text) + 1
    try:
        return _go_atoi(text)
    except ValueError:
        raise ValueError(f"{text} is not a valid month") from None


_day_member = _go_atoi
_year_member = _go_atoi


def _parse_weekdays(value: Any) -> WeekdayRange:
    if isinstance(value, WeekdayRange):
        return value
    text = _scalar_text(value)
    begin, end = _split_range(text, _weekday_member)
    if begin > end:
        raise ValueError("start day cannot be before end day")
    return WeekdayRange(begin, end)


def _parse_days(value: Any) -> DayOfMonthRange:
    if isinstance(value, DayOfMonthRange):
        return value
    begin, end = _split_range(_scalar_text(value), _day_member)
    for day in (begin, end):
        if day == 0 or day < -31 or day > 31:
            raise ValueError(f"{day} is not a valid day of the month: out of range")
    if begin < 0 < end:
        raise ValueError("end day must be negative if start day is negative")
    # With negative days the order depends on the month; 28 days catches what is never valid.
    check_begin = 28 + begin if begin < 0 else begin
    check_end = 28 + end if end < 0 else end
    if check_begin > check_end:
        raise ValueError(f"end day {end} is always before start day {begin}")
    return DayOfMonthRange(begin, end)


def _parse_months(value: Any) -> MonthRange:
    if isinstance(value, MonthRange):
        return value
    text = _scalar_text(value)
    begin, end = _split_range(text, _month_member)
    if begin > end:
        first = _MONTHS[begin - 1] if 1 <= begin <= 12 else str(begin)
        last = _MONTHS[end - 1] if 1 <= end <= 12 else str(end)
        raise ValueError(f"end month {last} is before start month {first}")
    # Upstream (0.25) accepts numbers outside 1..12; such a range simply never matches.
    return MonthRange(begin, end)


def _parse_years(value: Any) -> YearRange:
    if isinstance(value, YearRange):
        return value
    begin, end = _split_range(_scalar_text(value), _year_member)
    if begin > end:
        raise ValueError(f"end year {end} is before start year {begin}")
    return YearRange(begin, end)


def _render_range(names: tuple[str, ...] | None) -> Any:
    def render(r: InclusiveRange) -> str:
        def one(v: int) -> str:
            return names[v] if names is not None else str(v)

        return one(r.begin) if r.begin == r.end else f"{one(r.begin)}:{one(r.end)}"

    return render


Weekdays = Annotated[
    WeekdayRange, BeforeValidator(_parse_weekdays), PlainSerializer(_render_range(_WEEKDAYS))
]
DaysOfMonth = Annotated[
    DayOfMonthRange, BeforeValidator(_parse_days), PlainSerializer(_render_range(None))
]
Months = Annotated[MonthRange, BeforeValidator(_parse_months), PlainSerializer(_render_range(None))]
Years = Annotated[YearRange, BeforeValidator(_parse_years), PlainSerializer(_render_range(None))]


def _clock_text(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 24 * 60:
        # YAML 1.1 read an unquoted HH:MM as base 60, which is exactly minutes.
        return f"{value // 60:02d}:{value % 60:02d}"
    return _scalar_text(value)


def _parse_clock(text: str) -> int:
    if not _VALID_TIME.search(text):
        raise ValueError(f"couldn't parse timestamp {text}, invalid format")
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


class TimeRange(ConfigModel):
    """``start_time``/``end_time`` as minutes of the day; the end is excluded."""

    start_time: Annotated[str, BeforeValidator(_clock_text)] = ""
    end_time: Annotated[str, BeforeValidator(_clock_text)] = ""

    @model_validator(mode="after")
    def _check(self) -> TimeRange:
        if not self.start_time or not self.end_time:
            raise ValueError("both start and end times must be provided")
        if _parse_clock(self.start_time) >= _parse_clock(self.end_time):
            raise ValueError("start time cannot be equal or greater than end time")
        return self

    @property
    def start_minute(self) -> int:
        return _parse_clock(self.start_time)

    @property
    def end_minute(self) -> int:
        return _parse_clock(self.end_time)


@functools.lru_cache(maxsize=256)
def load_location(name: str) -> dt.tzinfo:
    """An IANA zone (``UTC``, ``Local`` and ``""`` as Go's ``time.LoadLocation``)."""
    if name in ("", "UTC"):
        return dt.UTC
    if name == "Local":
        local = dt.datetime.now().astimezone().tzinfo
        return local if local is not None else dt.UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown time zone {name}") from None


def _days_in_month(t: dt.datetime) -> int:
    first_next = (t.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return (first_next - dt.timedelta(days=1)).day


def _as_datetime(t: dt.datetime | float) -> dt.datetime:
    if isinstance(t, dt.datetime):
        return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)
    return dt.datetime.fromtimestamp(t, dt.UTC)


class TimeInterval(ConfigModel):
    """One interval: every field that is set must match (absent fields match all)."""

    times: list[TimeRange] | None = None
    weekdays: list[Weekdays] | None = None
    days_of_month: list[DaysOfMonth] | None = None
    months: list[Months] | None = None
    years: list[Years] | None = None
    location: str | None = None

    @field_validator("location")
    @classmethod
    def _check_location(cls, value: str | None) -> str | None:
        if value is not None:
            load_location(value)
        return value

    def contains(self, t: dt.datetime | float) -> bool:
        """Whether ``t`` (aware datetime, naive taken as UTC, or epoch seconds) is inside."""
        when = _as_datetime(t)
        if self.location is not None:
            when = when.astimezone(load_location(self.location))
        if self.times is not None:
            minute = when.hour * 60 + when.minute
            if not any(r.start_minute <= minute < r.end_minute for r in self.times):
                return False
        weekday = (when.weekday() + 1) % 7  # Python's Monday=0 -> Go's Sunday=0
        return (
            _any_or_unset(self.days_of_month, lambda r: _day_in(r, when))
            and _any_or_unset(self.months, lambda r: r.contains(when.month))
            and _any_or_unset(self.weekdays, lambda r: r.contains(weekday))
            and _any_or_unset(self.years, lambda r: r.contains(when.year))
        )


def _any_or_unset(ranges: Sequence[Any] | None, test: Callable[[Any], bool]) -> bool:
    return ranges is None or any(test(r) for r in ranges)


def _day_in(r: DayOfMonthRange, when: dt.datetime) -> bool:
    days = _days_in_month(when)
    begin = days + r.begin + 1 if r.begin < 0 else r.begin
    end = days + r.end + 1 if r.end < 0 else r.end
    if begin > end:
        return False
    begin = max(-days, min(begin, days))
    end = max(-days, min(end, days))
    return begin <= when.day <= end


class NamedTimeInterval(ConfigModel):
    """An entry of ``time_intervals:`` (or the deprecated ``mute_time_intervals:``)."""

    name: str = ""
    time_intervals: list[TimeInterval] | None = None

    @model_validator(mode="after")
    def _check_name(self) -> NamedTimeInterval:
        if self.name == "":
            raise ValueError("missing name in time interval")
        return self

    def contains(self, t: dt.datetime | float) -> bool:
        return any(ti.contains(t) for ti in self.time_intervals or ())


class Intervener:
    """Answers, for a route's interval names, whether now mutes or activates it.

    Built from the config's named intervals; names are checked at config load,
    so an unknown name here is a programming error and raises ``KeyError``.
    """

    def __init__(self, intervals: Mapping[str, Iterable[TimeInterval]]) -> None:
        self._intervals = {name: tuple(tis) for name, tis in intervals.items()}

    def contains(self, names: Iterable[str], t: dt.datetime | float) -> str | None:
        """The first of ``names`` whose intervals contain ``t``, or ``None``."""
        for name in names:
            if any(ti.contains(t) for ti in self._intervals[name]):
                return name
        return None

    def muted(self, route_mute: Iterable[str], route_active: Iterable[str], t: Any) -> bool:
        """Upstream's rule: muted inside any mute interval or outside all active ones."""
        if self.contains(route_mute, t) is not None:
            return True
        active = tuple(route_active)
        return bool(active) and self.contains(active, t) is None
