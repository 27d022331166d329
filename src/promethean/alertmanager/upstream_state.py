"""Reading the Go Alertmanager's ``silences`` snapshot, so swapping the binary keeps silences.

Upstream stores silences in ``<storage.path>/silences`` as a sequence of
length-delimited protobuf ``silencepb.MeshSilence`` records::

    MeshSilence { Silence silence = 1; Timestamp expires_at = 2; }
    Silence     { string id = 1; repeated Matcher matchers = 2;
                  Timestamp starts_at = 3, ends_at = 4, updated_at = 5;
                  string created_by = 8; string comment = 9; }
    Matcher     { Type type = 1 (EQUAL, REGEXP, NOT_EQUAL, NOT_REGEXP);
                  string name = 2; string pattern = 3; }
    Timestamp   { int64 seconds = 1; int32 nanos = 2; }

On first start over such a directory (no promethean snapshot yet) the
silences are imported once; the file itself is left in place. The
notification log is not imported: at worst each active group is notified once
more after the switch.
"""

from __future__ import annotations

from pathlib import Path

from promethean.alertmanager.silences import Silence, SilenceMatcher
from promethean.model._pbwire import (
    WireError,
    as_int,
    as_span,
    as_str,
    iter_fields,
    read_varint,
    to_int64,
)

__all__ = ["UpstreamStateError", "parse_upstream_silences", "read_upstream_silences"]

# Matcher.Type -> (is_regex, is_equal)
_TYPES = {0: (False, True), 1: (True, True), 2: (False, False), 3: (True, False)}


class UpstreamStateError(ValueError):
    """An upstream state file that cannot be read; the message names the problem."""


def _timestamp(buf: bytes, start: int, end: int) -> float:
    seconds = nanos = 0
    for number, wire, value in iter_fields(buf, start, end):
        if number == 1:
            seconds = to_int64(as_int(wire, value, start))
        elif number == 2:
            nanos = to_int64(as_int(wire, value, start))
    return seconds + nanos / 1e9


def _matcher(buf: bytes, start: int, end: int) -> SilenceMatcher:
    kind, name, pattern = 0, "", ""
    for number, wire, value in iter_fields(buf, start, end):
        if number == 1:
            kind = as_int(wire, value, start)
        elif number == 2:
            name = as_str(buf, wire, value, start)
        elif number == 3:
            pattern = as_str(buf, wire, value, start)
    if kind not in _TYPES:
        raise WireError(f"unknown matcher type {kind}", start)
    is_regex, is_equal = _TYPES[kind]
    return SilenceMatcher(name, pattern, is_regex, is_equal)


def _silence(buf: bytes, start: int, end: int) -> Silence:
    sid, created_by, comment = "", "", ""
    matchers: list[SilenceMatcher] = []
    times = {3: 0.0, 4: 0.0, 5: 0.0}
    for number, wire, value in iter_fields(buf, start, end):
        if number == 1:
            sid = as_str(buf, wire, value, start)
        elif number == 2:
            matchers.append(_matcher(buf, *as_span(wire, value, start)))
        elif number in times:
            times[number] = _timestamp(buf, *as_span(wire, value, start))
        elif number == 8:
            created_by = as_str(buf, wire, value, start)
        elif number == 9:
            comment = as_str(buf, wire, value, start)
    if not sid:
        raise WireError("silence without id", start)
    return Silence(sid, tuple(matchers), times[3], times[4], times[5], created_by, comment)


def parse_upstream_silences(data: bytes) -> list[Silence]:
    """Decode a whole upstream ``silences`` file; raises :class:`UpstreamStateError`."""
    out: list[Silence] = []
    pos, end = 0, len(data)
    try:
        while pos < end:
            length, pos = read_varint(data, pos, end)
            if length > end - pos:
                raise WireError(f"record claims {length} bytes, only {end - pos} left", pos)
            for number, wire, value in iter_fields(data, pos, pos + length):
                if number == 1:
                    out.append(_silence(data, *as_span(wire, value, pos)))
            pos += length
    except WireError as exc:
        raise UpstreamStateError(f"byte {exc.offset}: {exc.message}") from None
    return out


def read_upstream_silences(path: str | Path) -> list[Silence]:
    """The silences of an upstream snapshot file; raises :class:`UpstreamStateError`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise UpstreamStateError(f"cannot read {path}: {exc.strerror}") from None
    try:
        return parse_upstream_silences(data)
    except UpstreamStateError as exc:
        raise UpstreamStateError(f"{path}: {exc}") from None
