"""Request parameters of the HTTP API v1, read and checked as upstream reads them.

Clients (Grafana, promtool, client libraries) send the same parameter in the
URL or in a form body; a form-body value wins over the URL's (Go's
``r.FormValue``), and repeated parameters such as ``match[]`` collect both,
body first (Go's ``r.Form``). A JSON body is not a form and is ignored.

Every failure is an :class:`ApiError` whose message is upstream's text, for
example ``invalid parameter "start": Invalid time value for 'start': cannot
parse "abc" to a valid timestamp``; nothing a client sends is echoed beyond
the parameter value it sent itself.
"""

from __future__ import annotations

import calendar
import datetime
import math
import re
import urllib.parse
from collections.abc import Sequence

from aiohttp import web

from promethean.model.durations import parse_duration_ms
from promethean.model.matchers import Matcher
from promethean.model.names import is_valid_legacy_label_name, promql_quote
from promethean.promql import PromQLParseError, parse_metric_selector
from promethean.web import read_body

__all__ = [
    "MAX_TIME_MS",
    "MIN_TIME_MS",
    "ApiError",
    "Form",
    "check_label_name",
    "parse_duration_param",
    "parse_form",
    "parse_limit",
    "parse_matcher_sets",
    "parse_time",
    "time_param",
]

#: Go's ``time.Unix(math.MinInt64/1000+62135596801, 0)`` in milliseconds: "no start given".
MIN_TIME_MS = (-9223372036854775 + 62135596801) * 1000
#: Go's ``time.Unix(math.MaxInt64/1000-62135596801, 999999999)`` in milliseconds.
MAX_TIME_MS = (9223372036854775 - 62135596801) * 1000 + 999
# The two boundary times as Go formats them; clients send them literally.
_MIN_TIME_TEXT = "-292273086-05-16T16:47:06Z"
_MAX_TIME_TEXT = "292277025-08-18T07:12:54.999999999Z"

_EMPTY_MATCH = "match[] must contain at least one non-empty matcher"
_EMPTY_SELECTOR = "vector selector must contain at least one non-empty matcher"
_FORM_BODY_LIMIT = 10 << 20  # Go's ParseForm reads at most 10 MiB of body
_INT64_MAX = (1 << 63) - 1
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})"
)
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)", re.IGNORECASE
)


class ApiError(Exception):
    """A request the API refuses: ``error_type`` picks the HTTP code, ``str()`` is the body."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def __str__(self) -> str:
        return self.message


def invalid_param(name: str, message: str) -> ApiError:
    """Upstream's ``invalidParamError``: ``invalid parameter "<name>": <message>``."""
    return ApiError("bad_data", f'invalid parameter "{name}": {message}')


class Form:
    """A request's parameters: form body first, then the URL query (Go's ``r.Form``)."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self._pairs = list(pairs)

    def get(self, name: str) -> str:
        """The first value, or "" (Go's ``FormValue``)."""
        for key, value in self._pairs:
            if key == name:
                return value
        return ""

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]

    def has(self, name: str) -> bool:
        return any(key == name for key, _ in self._pairs)


async def parse_form(request: web.Request) -> Form:
    """The request's parameters; a form body is read only for POST/PUT/PATCH."""
    pairs: list[tuple[str, str]] = []
    if request.method in ("POST", "PUT", "PATCH"):
        ctype = request.content_type
        if ctype == "application/x-www-form-urlencoded":
            body = await read_body(request, _FORM_BODY_LIMIT)
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError("bad_data", "error parsing form values: invalid UTF-8") from None
            pairs.extend(urllib.parse.parse_qsl(text, keep_blank_values=True))
    pairs.extend(request.rel_url.query.items())
    return Form(pairs)


def _go_parse_float(text: str) -> float | None:
    """Go's ``strconv.ParseFloat`` for the forms clients send (no underscores, no spaces)."""
    if not _GO_FLOAT.fullmatch(text):
        return None
    try:
        return float(text)
    except ValueError:
        return None


def parse_time(text: str) -> int:
    """Unix seconds (fractions rounded to the millisecond) or RFC3339 to milliseconds."""
    number = _go_parse_float(text)
    if number is not None:
        if not math.isfinite(number) or abs(number) > 9.2e15:
            raise ValueError(f"cannot parse {promql_quote(text)} to a valid timestamp")
        whole = math.trunc(number)
        frac = round((number - whole) * 1000)
        return int(whole) * 1000 + int(frac)
    match = _RFC3339.fullmatch(text)
    if match is not None:
        ms = _rfc3339_ms(match)
        if ms is not None:
            return ms
    if text == _MIN_TIME_TEXT:
        return MIN_TIME_MS
    if text == _MAX_TIME_TEXT:
        return MAX_TIME_MS
    raise ValueError(f"cannot parse {promql_quote(text)} to a valid timestamp")


def _rfc3339_ms(match: re.Match[str]) -> int | None:
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    frac = match.group(7) or ""
    ms = int((frac + "000")[:3])
    zone = match.group(8)
    offset = 0
    if zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        zh, zm = int(zone[1:3]), int(zone[4:6])
        if zh > 23 or zm > 59:
            return None
        offset = sign * (zh * 3600 + zm * 60)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    return seconds * 1000 + ms


def time_param(form: Form, name: str, default: int) -> int:
    """A time parameter, ``default`` when absent or empty (upstream's ``parseTimeParam``)."""
    text = form.get(name)
    if text == "":
        return default
    try:
        return parse_time(text)
    except ValueError as exc:
        raise invalid_param(name, f"Invalid time value for '{name}': {exc}") from None


def parse_duration_param(text: str) -> int:
    """Float seconds or a Prometheus duration (``5m``) to milliseconds; ValueError otherwise."""
    number = _go_parse_float(text)
    if number is not None:
        if math.isnan(number) or abs(number * 1e9) > _INT64_MAX:
            raise ValueError(
                f"cannot parse {promql_quote(text)} to a valid duration. It overflows int64"
            )
        return int(number * 1000)
    try:
        return parse_duration_ms(text)
    except ValueError:
        raise ValueError(f"cannot parse {promql_quote(text)} to a valid duration") from None


def parse_matcher_sets(values: Sequence[str], param: str | None = None) -> list[list[Matcher]]:
    """``match[]`` selectors; each must have a matcher that does not match the empty string."""
    sets: list[list[Matcher]] = []
    for text in values:
        try:
            matchers = list(parse_metric_selector(text))
            empty = all(m.matches_empty for m in matchers)
            message = _EMPTY_MATCH
        except PromQLParseError as exc:
            # The parser refuses an all-empty selector itself; upstream's API says it its way.
            message = str(exc)
            empty = message.endswith(_EMPTY_SELECTOR)
            if empty:
                message = _EMPTY_MATCH
            matchers = []
        if empty or not matchers:
            if param is None:
                raise ApiError("bad_data", message)
            raise invalid_param(param, message)
        sets.append(matchers)
    return sets


def parse_limit(form: Form) -> int:
    """``limit``: 0 (no limit) when absent; a negative or non-integer value is bad_data."""
    text = form.get("limit")
    if text == "":
        return 0
    try:
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ValueError
        limit = int(text)
    except ValueError:
        raise invalid_param(
            "limit", f"strconv.Atoi: parsing {promql_quote(text)}: invalid syntax"
        ) from None
    if limit < 0:
        raise invalid_param("limit", "limit must be non-negative")
    return limit


def check_label_name(name: str) -> None:
    if not is_valid_legacy_label_name(name):
        raise ApiError("bad_data", f"invalid label name: {promql_quote(name)}")
