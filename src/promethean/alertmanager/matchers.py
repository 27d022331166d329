"""Alertmanager's matcher syntax, as amtool, the API's ``filter`` and config ``matchers:`` read it.

Operators already have strings like ``foo="bar"``, ``foo!~"x|y"``, ``{a="b",c=~"d"}``
or ``severity=critical`` in their configs, scripts and muscle memory; they must
keep meaning exactly what Alertmanager 0.25 made of them. That parser is lenient
in particular ways that this module reproduces rather than tidies up:

* a list may be wrapped in one ``{`` and one ``}`` (each stripped once, no
  whitespace trimming first) and is split at commas outside double quotes;
* names are the classic charset plus ``:`` (``[a-zA-Z_:][a-zA-Z0-9_:]*``);
* values may be quoted or bare; ``\\n``, ``\\"`` and ``\\\\`` are escapes, any other
  backslash is kept literally, and a stray ``"`` is an error;
* whitespace around names, operators and values is ignored;
* beyond 0.25, as 0.27+ reads them: a name may be double-quoted to hold any
  UTF-8 (``{"service.name"="api"}``), and such names print quoted.

Regex values are checked the way Go compiles them (``^(?:value)$``) so that a
bad pattern is reported with Go's words (``error parsing regexp: missing
closing ): `^(?:()$```), which users of amtool will recognise. Parsed matchers
are :class:`promethean.model.matchers.Matcher` objects; :func:`matcher_string`
and :func:`matchers_string` print them as Alertmanager does (``a=~"b"``,
``{a="b",c!="d"}``), which is also the text of route keys and group keys.

One difference is deliberate and documented: the shared :class:`Matcher` runs
regexes as ``^(?s:value)$``, so ``.`` also matches a newline inside a label
value, where Go's ``^(?:value)$`` would not.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import re2

from promethean.model.matchers import Matcher, MatchType
from promethean.model.names import promql_quote

__all__ = [
    "MatcherParseError",
    "go_regexp_error",
    "matcher_string",
    "matchers_match",
    "matchers_string",
    "parse_matcher",
    "parse_matchers",
    "sort_matchers",
]

try:
    from re2 import _re2 as _re2_ext
except ImportError:  # pragma: no cover - only if the wrapper's layout changes
    _re2_ext = None


class MatcherParseError(ValueError):
    """A matcher string that cannot be used; the message is upstream's and safe to show."""


# Go's \s is [\t\n\f\r ]; ``\Z`` because Python's ``$`` also matches before a final newline.
_WS = "[\t\n\f\r ]"
_MATCHER_RE = re.compile(
    rf"^{_WS}*([a-zA-Z_:][a-zA-Z0-9_:]*){_WS}*(=~|=|!=|!~){_WS}*(.*?){_WS}*\Z", re.DOTALL
)

_QUOTED_NAME_RE = re.compile(
    rf'^{_WS}*"((?:[^"\\]|\\.)*)"{_WS}*(=~|=|!=|!~){_WS}*(.*?){_WS}*\Z', re.DOTALL
)
_CLASSIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _unescape(body: str) -> str:
    out: list[str] = []
    escaped = False
    for ch in body:
        if escaped:
            escaped = False
            out.append("\n" if ch == "n" else ch if ch in ('"', "\\") else "\\" + ch)
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out)


# RE2 (C++) reports the same problems as Go's regexp/syntax, in other words.
_GO_REGEXP_CODES = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "unexpected )": "unexpected )",
    "invalid escape sequence": "invalid escape sequence",
    "bad repetition operator": "invalid nested repetition operator",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "invalid repetition size": "invalid repeat count",
    "invalid named capture group": "invalid named capture",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
}


def _re2_options() -> Any:
    opts = re2.Options()
    opts.log_errors = False
    opts.never_capture = True
    return opts


def go_regexp_error(expr: str) -> str | None:
    """Go's ``regexp.Compile(expr)`` error text, or ``None`` when ``expr`` compiles.

    ``expr`` is the full expression Go would compile (callers pass the anchored
    ``^(?:...)$`` form so the message shows what upstream shows).
    """
    if _re2_ext is None:  # pragma: no cover
        try:
            re2.compile(expr)
        except re2.error as exc:
            return f"error parsing regexp: {exc}"
        return None
    compiled = _re2_ext.RE2(expr.encode("utf-8", "surrogatepass"), _re2_options())
    if compiled.ok():
        return None
    raw = compiled.error()
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if text.startswith("trailing \\"):
        return "error parsing regexp: trailing backslash at end of expression: ``"
    code, sep, arg = text.partition(": ")
    go_code = _GO_REGEXP_CODES.get(code)
    if go_code is None or not sep:
        return f"error parsing regexp: {text}"
    return f"error parsing regexp: {go_code}: `{arg}`"


def anchored_regexp_error(pattern: str) -> str | None:
    """Error for a label-matching regex as Alertmanager compiles it (``^(?:pattern)$``)."""
    return go_regexp_error(f"^(?:{pattern})$")


def new_matcher(kind: MatchType, name: str, value: str) -> Matcher:
    """A :class:`Matcher`, with regex errors in Go's words (upstream's ``NewMatcher``)."""
    if kind in (MatchType.REGEX, MatchType.NOT_REGEX):
        err = anchored_regexp_error(value)
        if err is not None:
            raise MatcherParseError(err)
    try:
        return Matcher(name, kind, value)
    except ValueError as exc:  # RE2 flavours disagree: still an error, never a crash
        raise MatcherParseError(str(exc)) from None


def _split(text: str) -> list[str]:
    """Split a matcher list at commas outside double quotes, as upstream's scanner does."""
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = False
    escaped = False
    for ch in text:
        if ch == ",":
            if not inside_quotes:
                tokens.append("".join(token))
                token = []
                continue
        elif ch == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(ch)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tokens


def parse_matchers(text: str) -> list[Matcher]:
    """Parse ``a="b",c=~"d"`` or ``{a="b", c=~"d"}``; an empty list for ``""`` or ``{}``."""
    if text.startswith("{"):
        text = text[1:]
    if text.endswith("}"):
        text = text[:-1]
    return [parse_matcher(token) for token in _split(text)]


def parse_matcher(text: str) -> Matcher:
    """Parse one ``name op value``; raises :class:`MatcherParseError` with upstream's text."""
    found = _MATCHER_RE.match(text)
    if found is not None:
        name, op, raw = found.group(1), found.group(2), found.group(3)
    else:
        # Alertmanager 0.27+ also reads quoted UTF-8 names ("service.name"="x"); 0.25
        # rejected them, so accepting them changes no input that worked before.
        quoted = _QUOTED_NAME_RE.match(text)
        if quoted is None:
            raise MatcherParseError(f"bad matcher format: {text}")
        name = _unescape(quoted.group(1))
        if name == "":
            raise MatcherParseError(f"bad matcher format: {text}")
        op, raw = quoted.group(2), quoted.group(3)
    body = raw
    expect_trailing_quote = False
    if body.startswith('"'):
        body = body[1:]
        expect_trailing_quote = True
    out: list[str] = []
    escaped = False
    last = len(body) - 1
    for i, ch in enumerate(body):
        if escaped:
            escaped = False
            if ch == "n":
                out.append("\n")
            elif ch in ('"', "\\"):
                out.append(ch)
            else:  # a spurious escape: the backslash stays
                out.append("\\")
                out.append(ch)
            continue
        if ch == "\\":
            if i < last:
                escaped = True
                continue
            out.append("\\")
        elif ch == '"':
            if not expect_trailing_quote or i < last:
                raise MatcherParseError(f"matcher value contains unescaped double quote: {raw}")
            expect_trailing_quote = False
        else:
            out.append(ch)
    if expect_trailing_quote:
        raise MatcherParseError(f"matcher value contains unescaped double quote: {raw}")
    return new_matcher(MatchType(op), name, "".join(out))


def matcher_string(m: Matcher) -> str:
    """``name`` + operator + Go-quoted value: ``severity=~"warn|crit"``."""
    name = m.name if _CLASSIC_NAME_RE.fullmatch(m.name) else promql_quote(m.name)
    return f"{name}{m.type.value}{promql_quote(m.value)}"


def matchers_string(ms: Iterable[Matcher]) -> str:
    """``{a="b",c!="d"}``: how route keys and the API print a matcher list."""
    return "{" + ",".join(matcher_string(m) for m in ms) + "}"


_TYPE_ORDER = {
    MatchType.EQUAL: 0,
    MatchType.NOT_EQUAL: 1,
    MatchType.REGEX: 2,
    MatchType.NOT_REGEX: 3,
}


def sort_matchers(ms: Iterable[Matcher]) -> list[Matcher]:
    """Upstream's matcher order: by name, then value, then operator (=, !=, =~, !~)."""
    return sorted(ms, key=lambda m: (m.name, m.value, _TYPE_ORDER[m.type]))


def matchers_match(ms: Sequence[Matcher], labels: Mapping[str, str] | Any) -> bool:
    """True when every matcher accepts ``labels`` (a mapping or ``Labels``; absent reads "")."""
    get = labels.get
    return all(m.matches(get(m.name, "")) for m in ms)
