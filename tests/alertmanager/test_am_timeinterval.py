"""Time intervals: upstream's parsing rules and errors, and which moments are inside."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from promethean.alertmanager.config import parse_alertmanager_config
from promethean.alertmanager.timeinterval import Intervener, TimeInterval

UTC = dt.UTC


def _ti(**fields: object) -> TimeInterval:
    return TimeInterval.model_validate(fields)


def _at(y: int, mo: int, d: int, h: int = 12, mi: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, tzinfo=UTC)


def test_times_are_half_open() -> None:
    ti = _ti(times=[{"start_time": "09:00", "end_time": "17:00"}])
    assert ti.contains(_at(2024, 5, 1, 9, 0))
    assert ti.contains(_at(2024, 5, 1, 16, 59))
    assert not ti.contains(_at(2024, 5, 1, 17, 0))
    assert not ti.contains(_at(2024, 5, 1, 8, 59))
    whole = _ti(times=[{"start_time": "00:00", "end_time": "24:00"}])
    assert whole.contains(_at(2024, 5, 1, 23, 59))


def test_weekdays_sunday_is_zero() -> None:
    weekend = _ti(weekdays=["saturday", "Sunday"])
    assert weekend.contains(_at(2024, 6, 1))  # a Saturday
    assert weekend.contains(_at(2024, 6, 2))  # a Sunday
    assert not weekend.contains(_at(2024, 6, 3))  # a Monday
    workdays = _ti(weekdays=["monday:friday"])
    assert workdays.contains(_at(2024, 6, 3)) and not workdays.contains(_at(2024, 6, 2))


def test_negative_days_of_month_count_from_the_end() -> None:
    last3 = _ti(days_of_month=["-3:-1"])
    assert last3.contains(_at(2024, 2, 27)) and last3.contains(_at(2024, 2, 29))  # leap year
    assert not last3.contains(_at(2024, 2, 26))
    assert last3.contains(_at(2023, 2, 26)) and not last3.contains(_at(2023, 2, 25))
    # Clamped to the month: 30:31 in a 30-day month is just the 30th.
    end = _ti(days_of_month=["30:31"])
    assert end.contains(_at(2024, 4, 30)) and not end.contains(_at(2024, 5, 1))
    assert _ti(days_of_month=[7]).contains(_at(2024, 5, 7))


def test_months_years_and_combination() -> None:
    ti = _ti(
        months=["january:march", "may"],
        years=["2020:2030"],
        weekdays=["monday"],
        times=[{"start_time": "08:00", "end_time": "09:00"}],
    )
    assert ti.contains(_at(2024, 5, 6, 8, 30))  # Monday 6 May 2024
    assert not ti.contains(_at(2024, 4, 1, 8, 30))  # April
    assert not ti.contains(_at(2031, 5, 5, 8, 30))  # year
    assert not ti.contains(_at(2024, 5, 6, 9, 0))  # time
    assert _ti().contains(_at(1999, 1, 1))  # nothing set: always


def test_location_moves_the_clock() -> None:
    berlin = _ti(location="Europe/Berlin", times=[{"start_time": "09:00", "end_time": "10:00"}])
    assert berlin.contains(_at(2024, 1, 15, 8, 30))  # 09:30 CET
    assert berlin.contains(_at(2024, 7, 15, 7, 30))  # 09:30 CEST
    assert not berlin.contains(_at(2024, 7, 15, 8, 30))
    # Epoch seconds and naive datetimes (taken as UTC) are accepted too.
    assert berlin.contains(_at(2024, 1, 15, 8, 30).timestamp())
    assert berlin.contains(dt.datetime(2024, 1, 15, 8, 30))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"times": [{"start_time": "17:00", "end_time": "09:00"}]}, "start time cannot be equal"),
        ({"times": [{"start_time": "9:00", "end_time": "17:00"}]}, "couldn't parse timestamp 9:00"),
        ({"times": [{"start_time": "09:00"}]}, "both start and end times must be provided"),
        ({"weekdays": ["monday:sunday"]}, "start day cannot be before end day"),
        ({"weekdays": ["funday"]}, "funday is not a valid weekday"),
        ({"weekdays": ["a:b:c"]}, "couldn't parse range a:b:c, invalid format"),
        ({"days_of_month": ["0"]}, "0 is not a valid day of the month: out of range"),
        ({"days_of_month": ["-3:5"]}, "end day must be negative if start day is negative"),
        ({"days_of_month": ["10:2"]}, "end day 2 is always before start day 10"),
        ({"days_of_month": ["x"]}, 'strconv.Atoi: parsing "x": invalid syntax'),
        ({"months": ["march:january"]}, "end month january is before start month march"),
        ({"months": ["Smarch"]}, "smarch is not a valid month"),
        ({"years": ["2030:2020"]}, "end year 2020 is before start year 2030"),
        ({"location": "Mars/Olympus"}, "unknown time zone Mars/Olympus"),
    ],
)
def test_errors_are_upstreams(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError) as info:
        TimeInterval.model_validate(fields)
    assert message in str(info.value)


def test_unquoted_clock_times_in_yaml() -> None:
    # YAML 1.1 reads 17:00 as the base-60 integer 1020; Go reads the text. Both mean 17:00.
    cfg = parse_alertmanager_config(
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        "time_intervals:\n  - name: work\n    time_intervals:\n"
        "      - times: [{start_time: 09:00, end_time: 17:00}]\n",
        "am.yml",
    )
    (ti,) = cfg.named_time_intervals()["work"]
    assert ti.times is not None
    assert (ti.times[0].start_time, ti.times[0].end_time) == ("09:00", "17:00")


def test_intervener_mute_and_active() -> None:
    cfg = parse_alertmanager_config(
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        "mute_time_intervals:\n  - name: weekend\n"
        "    time_intervals: [{weekdays: [saturday, sunday]}]\n"
        "time_intervals:\n  - name: office\n"
        "    time_intervals: [{times: [{start_time: '09:00', end_time: '17:00'}]}]\n",
        "am.yml",
    )
    iv: Intervener = cfg.intervener()
    saturday_noon, monday_noon, monday_night = _at(2024, 6, 1), _at(2024, 6, 3), _at(2024, 6, 3, 22)
    assert iv.contains(["weekend", "office"], saturday_noon) == "weekend"
    assert iv.muted(["weekend"], [], saturday_noon)
    assert not iv.muted(["weekend"], [], monday_noon)
    assert not iv.muted([], ["office"], monday_noon)
    assert iv.muted([], ["office"], monday_night)
    assert not iv.muted([], [], monday_night)
