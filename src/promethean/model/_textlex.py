"""Line-level tokenising shared by the text 0.0.4 and OpenMetrics parsers.

Both formats share the sample-line shape ``name{labels} value [timestamp]``;
they differ in how forgiving they are (blanks, trailing commas) and in the
rules applied afterwards. The parsers try :data:`FAST_TEXT` / :data:`FAST_OM`
first, because one C-level regex match per line is what makes them fast, and
fall back to :func:`scan_sample`, which walks the line exactly and reports the
first offending column, only when the fast shape does not match.

Every function here raises :class:`ParseError` with 1-based line and column;
nothing else escapes.
"""

from __future__ import annotations

import gc
import math
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from promethean.model.errors import ParseError

NAME_RE = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LNAME_RE = r"[a-zA-Z_][a-zA-Z0-9_]*"
# Unrolled "any char but quote/backslash, or an escape": far faster than an alternation.
_LVAL_BODY = r'[^"\\\n]*(?:\\.[^"\\\n]*)*'
_PAIR = LNAME_RE + '="' + _LVAL_BODY + '"'
_LABELS_BODY = r"(?:" + _PAIR + r"(?:," + _PAIR + r")*"
# Go's strconv.ParseFloat as expfmt uses it (no hex, no underscores); also OpenMetrics' number.
FLOAT_RE = (
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN]"
)
REAL_RE = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
INT_RE = r"[+-]?[0-9]+"

FLOAT_FULL = re.compile(FLOAT_RE)
REAL_FULL = re.compile(REAL_RE)
INT_FULL = re.compile(INT_RE)
NAME_FULL = re.compile(NAME_RE)
LNAME_FULL = re.compile(LNAME_RE)
PAIRS = re.compile("(" + LNAME_RE + ')="(' + _LVAL_BODY + ')"')

# The common sample line: legacy names, no blanks inside, single spaces.
FAST_TEXT = re.compile(
    "(" + NAME_RE + r")(\{" + _LABELS_BODY + r",?)?\})? (" + FLOAT_RE + ")(?: (" + INT_RE + "))?"
)
FAST_OM = re.compile(
    "(" + NAME_RE + r")(\{" + _LABELS_BODY + r")?\})? (" + FLOAT_RE + ")(?: (" + REAL_RE + "))?"
)

_ESCAPES = re.compile(r"\\(.)", re.DOTALL)
_ESC_MAP = {"\\": "\\", "n": "\n", '"': '"'}
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


_gc_lock = threading.Lock()
_gc_depth = 0
_gc_resume = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold off the cyclic garbage collector while a whole body is parsed.

    A 100k-sample body allocates about a million small acyclic objects (label
    pairs, samples); each time the collector runs it walks the whole growing
    result, which costs more than the parse itself. Nothing a parser builds
    forms a cycle, so reference counting frees everything; the collector is
    resumed (if it was on) when the last concurrent parse ends.
    """
    global _gc_depth, _gc_resume
    with _gc_lock:
        if _gc_depth == 0:
            _gc_resume = gc.isenabled()
            gc.disable()
        _gc_depth += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_resume:
                gc.enable()


def unescape(text: str, quote: bool = True) -> str:
    """Undo ``\\\\``, ``\\n`` (and ``\\"`` when ``quote``); keep other escapes verbatim.

    Prometheus's scrape-path lexers keep an unknown escape as written rather
    than rejecting the line, so a target that writes ``\\z`` still scrapes.
    """
    if "\\" not in text:
        return text

    def _one(m: re.Match[str]) -> str:
        c = m.group(1)
        if c == "\\" or c == "n" or (quote and c == '"'):
            return _ESC_MAP[c]
        return m.group(0)

    return _ESCAPES.sub(_one, text)


def escape_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def decode(data: str | bytes) -> str:
    """UTF-8 text from a body, or a ParseError naming where the bad byte is."""
    if isinstance(data, str):
        return data
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        raw = bytes(data)
        line = raw.count(b"\n", 0, start) + 1
        col = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        raise ParseError("invalid UTF-8 in input", line, col) from None
    except (TypeError, ValueError):
        raise ParseError("input must be text or bytes", 1, 1) from None


def parse_float(tok: str, lineno: int, col: int, what: str = "value") -> float:
    """A float as Go's ParseFloat accepts it (decimal, Inf/Infinity, NaN, any case)."""
    if FLOAT_FULL.fullmatch(tok) is None:
        raise ParseError(f"expected float as {what}, got {tok!r}", lineno, col)
    return float(tok)


def parse_int_ts(tok: str, lineno: int, col: int) -> int:
    """A text-format timestamp: a signed 64-bit integer of milliseconds."""
    if INT_FULL.fullmatch(tok) is None:
        raise ParseError(f"expected integer as timestamp, got {tok!r}", lineno, col)
    ts = int(tok)
    if not _INT64_MIN <= ts <= _INT64_MAX:
        raise ParseError(f"timestamp out of range: {tok!r}", lineno, col)
    return ts


def seconds_to_ms(tok: str, lineno: int, col: int) -> tuple[float, int]:
    """An OpenMetrics timestamp (seconds, real number) as (seconds, integer milliseconds).

    Plain decimals are converted digit by digit so ``1.001`` is exactly 1001 ms.
    """
    if REAL_FULL.fullmatch(tok) is None:
        raise ParseError(f"expected timestamp (seconds), got {tok!r}", lineno, col)
    secs = float(tok)
    if math.isinf(secs):
        raise ParseError(f"timestamp out of range: {tok!r}", lineno, col)
    if "e" in tok or "E" in tok:
        ms = round(secs * 1000)
    else:
        neg = tok.startswith("-")
        body = tok.lstrip("+-")
        whole, _, frac = body.partition(".")
        frac = (frac + "000")[:3]
        ms = int(whole or "0") * 1000 + int(frac)
        if neg:
            ms = -ms
    if not _INT64_MIN <= ms <= _INT64_MAX:
        raise ParseError(f"timestamp out of range: {tok!r}", lineno, col)
    return secs, ms


@dataclass(slots=True)
class RawSample:
    """One tokenised sample line, before any format-specific rule is applied."""

    name: str
    pairs: list[tuple[str, str]]
    value: str
    value_col: int
    ts: str | None
    ts_col: int
    series_end: int  # index just after the series text (name and labels)
    exemplar: tuple[list[tuple[str, str]], str, int, str | None, int] | None = None
    label_cols: dict[str, int] | None = None


class _Scanner:
    """Exact left-to-right walk over one line, for lines the fast regex did not take."""

    __slots__ = ("line", "lineno", "om", "pos")

    def __init__(self, line: str, lineno: int, om: bool) -> None:
        self.line = line
        self.lineno = lineno
        self.om = om
        self.pos = 0

    def fail(self, msg: str, pos: int | None = None) -> ParseError:
        return ParseError(msg, self.lineno, (self.pos if pos is None else pos) + 1)

    def found(self) -> str:
        if self.pos >= len(self.line):
            return "end of line"
        return repr(self.line[self.pos])

    def blanks(self) -> None:
        if self.om:
            return
        line, n, p = self.line, len(self.line), self.pos
        while p < n and line[p] in " \t":
            p += 1
        self.pos = p

    def peek(self) -> str:
        return self.line[self.pos] if self.pos < len(self.line) else ""

    def name(self, pattern: re.Pattern[str], what: str) -> str:
        m = pattern.match(self.line, self.pos)
        if m is None or m.end() == self.pos:
            raise self.fail(f"expected {what}, found {self.found()}")
        self.pos = m.end()
        return m.group(0)

    def quoted(self) -> str:
        """A double-quoted string starting at pos; returns it unescaped."""
        line, start = self.line, self.pos
        p = start + 1
        n = len(line)
        while p < n:
            c = line[p]
            if c == '"':
                self.pos = p + 1
                return unescape(line[start + 1 : p])
            if c == "\\":
                p += 2
                continue
            p += 1
        raise self.fail("unterminated quoted string", start)

    def labels(self, name: str | None) -> tuple[str | None, list[tuple[str, str]], dict[str, int]]:
        """Label set after '{' (pos at '{'); may carry the metric name as a bare string."""
        self.pos += 1
        pairs: list[tuple[str, str]] = []
        cols: dict[str, int] = {}
        first = True
        while True:
            self.blanks()
            c = self.peek()
            if c == "}":
                if pairs and self.om:
                    raise self.fail("expected label name after ',', found '}'")
                self.pos += 1
                return name, pairs, cols
            start = self.pos
            if c == '"':
                lname = self.quoted()
                self.blanks()
                if first and name is None and self.peek() in (",", "}"):
                    if not lname:
                        raise self.fail("empty metric name", start)
                    name = lname
                    first = False
                    if self.peek() == ",":
                        self.pos += 1
                    elif self.om:
                        self.pos += 1
                        return name, pairs, cols
                    continue
            else:
                lname = self.name(LNAME_FULL, "label name")
                self.blanks()
            first = False
            if self.peek() != "=":
                raise self.fail(f"expected '=' after label name, found {self.found()}")
            self.pos += 1
            self.blanks()
            if self.peek() != '"':
                raise self.fail(f"expected '\"' to open label value, found {self.found()}")
            cols[lname] = self.pos + 1
            value = self.quoted()
            if lname == "__name__" and not self.om:
                raise self.fail('label name "__name__" is reserved', start)
            if any(k == lname for k, _ in pairs):
                raise self.fail(f"duplicate label name {lname!r}", start)
            pairs.append((lname, value))
            self.blanks()
            c = self.peek()
            if c == ",":
                self.pos += 1
                if self.om and self.peek() == "}":
                    raise self.fail("expected label name after ',', found '}'")
                continue
            if c == "}":
                self.pos += 1
                return name, pairs, cols
            raise self.fail(f"expected ',' or '}}' after label value, found {self.found()}")

    def token(self) -> tuple[str, int]:
        line, n, start = self.line, len(self.line), self.pos
        p = start
        stop = " " if self.om else " \t"
        while p < n and line[p] not in stop:
            p += 1
        self.pos = p
        return line[start:p], start + 1


def scan_sample(line: str, lineno: int, om: bool) -> RawSample:
    """Tokenise one sample line exactly; raise ParseError at the first bad column."""
    sc = _Scanner(line, lineno, om)
    sc.blanks()
    name: str | None = None
    if sc.peek() != "{":
        name = sc.name(NAME_FULL, "metric name")
    pairs: list[tuple[str, str]] = []
    cols: dict[str, int] = {}
    after_name = sc.pos
    sc.blanks()
    if sc.peek() == "{":
        if om and sc.pos != after_name:
            raise sc.fail("unexpected blank before '{'", after_name)
        name, pairs, cols = sc.labels(name)
    elif name is not None and sc.pos == after_name and sc.peek() not in (" ", "\t"):
        if sc.pos >= len(line):
            raise sc.fail("expected value after metric name, found end of line")
        raise sc.fail(f"expected ' ' or '{{' after metric name, found {sc.found()}")
    if name is None:
        raise sc.fail("metric name missing in '{...}'", 0)
    series_end = sc.pos if pairs or sc.line[sc.pos - 1 : sc.pos] == "}" else after_name
    if sc.peek() != " " and not (not om and sc.peek() == "\t"):
        if sc.pos >= len(line):
            raise sc.fail("expected value after metric, found end of line")
        if om:
            raise sc.fail(f"expected ' ' before value, found {sc.found()}")
    if om:
        sc.pos += 1
    sc.blanks()
    value, vcol = sc.token()
    if not value:
        raise sc.fail(f"expected value, found {sc.found()}")
    ts: str | None = None
    tcol = 0
    exemplar = None
    if sc.pos < len(line):
        if om:
            sc.pos += 1
            if sc.peek() == "#":
                exemplar = _scan_exemplar(sc)
            else:
                ts, tcol = sc.token()
                if not ts:
                    raise sc.fail(f"expected timestamp, found {sc.found()}")
                if sc.pos < len(line):
                    sc.pos += 1
                    if sc.peek() != "#":
                        raise sc.fail(f"expected '#' for exemplar, found {sc.found()}")
                    exemplar = _scan_exemplar(sc)
        else:
            sc.blanks()
            if sc.pos < len(line):
                ts, tcol = sc.token()
                sc.blanks()
                if sc.pos < len(line):
                    raise sc.fail(f"spurious string after timestamp: {line[sc.pos :]!r}")
    return RawSample(name, pairs, value, vcol, ts, tcol, series_end, exemplar, cols)


def _scan_exemplar(
    sc: _Scanner,
) -> tuple[list[tuple[str, str]], str, int, str | None, int]:
    """`` # {labels} value [timestamp]`` with pos at '#'."""
    sc.pos += 1
    if sc.peek() != " ":
        raise sc.fail(f"expected ' ' after '#', found {sc.found()}")
    sc.pos += 1
    if sc.peek() != "{":
        raise sc.fail(f"expected '{{' to open exemplar labels, found {sc.found()}")
    _, pairs, _ = sc.labels("")
    if sc.peek() != " ":
        raise sc.fail(f"expected ' ' after exemplar labels, found {sc.found()}")
    sc.pos += 1
    value, vcol = sc.token()
    if not value:
        raise sc.fail(f"expected exemplar value, found {sc.found()}")
    ts: str | None = None
    tcol = 0
    if sc.pos < len(sc.line):
        sc.pos += 1
        ts, tcol = sc.token()
        if not ts:
            raise sc.fail(f"expected exemplar timestamp, found {sc.found()}")
        if sc.pos < len(sc.line):
            raise sc.fail(f"unexpected text after exemplar timestamp: {sc.found()}")
    return pairs, value, vcol, ts, tcol


def fast_pairs(body: str) -> list[tuple[str, str]]:
    """Label pairs from the inside of a fast-path ``{...}`` match, unescaped.

    The regex has already proven the shape, so without backslashes every ``"``
    delimits a value and plain ``str`` splitting (C speed) finds the pairs.
    """
    if "\\" in body:
        return [(k, unescape(v)) for k, v in PAIRS.findall(body)]
    parts = body.split('"')
    names = "".join(parts[0:-1:2]).replace(",", "").split("=")
    names.pop()
    return list(zip(names, parts[1::2], strict=True))
