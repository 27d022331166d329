"""Label matchers (``=``, ``!=``, ``=~``, ``!~``) with RE2 semantics.

Every user-supplied regex goes through RE2 (google-re2): linear time, so a
query or a relabel rule can never hang the process with a backtracking
pattern, and the syntax is the one Go Prometheus accepts. Patterns are
anchored as upstream does, ``^(?s:pattern)$``: the whole value must match and
``.`` matches newlines (Prometheus 3.x).

Matching runs on every series a query touches, so a compiled pattern is cached
by its text, common shapes (``.*``, ``.+``, ``a|b|c``, ``foo.*``, ``.*foo``,
``.*foo.*``, plain literals) are answered by string operations, and the rest
call the RE2 extension directly: the wrapper's ``re``-compatible match objects
cost several times more than the match itself.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import re2

from promethean.model.labels import Labels
from promethean.model.names import promql_quote, quote_name

__all__ = ["MatchType", "Matcher", "Regex", "compile_regex", "matches_labels"]

try:  # The C extension behind google-re2's Python wrapper.
    from re2 import _re2 as _re2_ext
except ImportError:  # pragma: no cover - only if the wrapper's layout changes
    _re2_ext = None


class MatchType(StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


def _options(*, capture: bool) -> Any:
    opts = re2.Options()
    opts.log_errors = False  # errors are reported to the caller, not to stderr
    opts.never_capture = not capture
    return opts


_META = frozenset("\\.+*?()|[]{}^$")


def _literal_alternatives(pattern: str) -> list[str] | None:
    """The strings ``pattern`` matches exactly if it is literals joined by ``|``.

    Only escapes of ASCII punctuation (``\\.``) count as literal; anything else
    that RE2 would interpret returns ``None`` and leaves the work to RE2.
    """
    alternatives: list[str] = []
    current: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n:
                return None
            nxt = pattern[i + 1]
            if not (nxt.isascii() and not nxt.isalnum() and nxt.isprintable() and nxt != " "):
                return None
            current.append(nxt)
            i += 2
            continue
        if ch == "|":
            alternatives.append("".join(current))
            current = []
        elif ch in _META:
            return None
        else:
            current.append(ch)
        i += 1
    alternatives.append("".join(current))
    return alternatives


def _strip_group(pattern: str) -> str:
    """``(a|b)`` or ``(?:a|b)`` -> ``a|b`` when the group spans the whole pattern."""
    for opener in ("(?:", "("):
        if pattern.startswith(opener) and pattern.endswith(")"):
            inner = pattern[len(opener) : -1]
            if "(" not in inner and ")" not in inner:
                return inner
    return pattern


def _fast_path(pattern: str) -> Callable[[str], bool] | None:
    """A string-operation matcher exactly equivalent to ``^(?s:pattern)$``, if any."""
    if pattern in (".*", "(?s:.*)", "(.*)"):
        return lambda _v: True
    if pattern in (".+", "(?s:.+)", "(.+)"):
        return lambda v: v != ""
    alternatives = _literal_alternatives(_strip_group(pattern))
    if alternatives is not None:
        if len(alternatives) == 1:
            literal = alternatives[0]
            return lambda v: v == literal
        values = frozenset(alternatives)
        return values.__contains__
    starts = pattern.startswith(".*")
    ends = pattern.endswith(".*") and not pattern.endswith("\\.*")
    core = pattern[2 if starts else 0 : len(pattern) - (2 if ends else 0)]
    if not (starts or ends) or (starts and ends and len(pattern) < 4):
        return None
    parts = _literal_alternatives(core)
    if parts is None or len(parts) != 1:
        return None
    text = parts[0]
    if starts and ends:
        return lambda v: text in v
    if starts:
        return lambda v: v.endswith(text)
    return lambda v: v.startswith(text)


def _error_text(error: Any) -> str:
    if isinstance(error, bytes):
        return error.decode("utf-8", "replace")
    return str(error)


def _compile_error(pattern: str, anchored_error: Any) -> str:
    """RE2's message for the pattern as the user wrote it, not our anchored wrapper."""
    assert _re2_ext is not None
    raw = _re2_ext.RE2(pattern.encode("utf-8", "surrogatepass"), _options(capture=False))
    return _error_text(raw.error() if not raw.ok() else anchored_error)


class Regex:
    """An anchored RE2 pattern: ``matches`` for filters, ``groups`` for relabel templates."""

    __slots__ = ("_captures", "_groups", "_matcher", "_named", "_pattern", "_plain", "matches")

    def __init__(self, pattern: str) -> None:
        self._pattern = pattern
        anchored = f"^(?s:{pattern})$".encode("utf-8", "surrogatepass")
        self._plain: Any
        self._captures: Any = None
        self._named: dict[str, int] | None = None
        if _re2_ext is not None:
            compiled = _re2_ext.RE2(anchored, _options(capture=False))
            if not compiled.ok():
                raise ValueError(
                    f"invalid regular expression {promql_quote(pattern)}: "
                    f"{_compile_error(pattern, compiled.error())}"
                )
            self._plain = compiled
            self._captures = _re2_ext.RE2(anchored, _options(capture=True))
            self._groups = int(self._captures.NumberOfCapturingGroups())
        else:  # pragma: no cover
            try:
                self._plain = re2.compile(anchored, _options(capture=True))
            except re2.error as exc:
                raise ValueError(
                    f"invalid regular expression {promql_quote(pattern)}: {_error_text(exc)}"
                ) from None
            self._groups = int(self._plain.groups)
        fast = _fast_path(pattern)
        self.matches: Callable[[str], bool] = fast if fast is not None else self._re2_matches

    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def group_count(self) -> int:
        """Number of capture groups (group 0, the whole match, not counted)."""
        return self._groups

    @property
    def is_match_all(self) -> bool:
        return self._pattern in (".*", "(?s:.*)", "(.*)")

    def _re2_matches(self, value: str) -> bool:
        data = value.encode("utf-8", "surrogatepass")
        if _re2_ext is None:  # pragma: no cover
            return self._plain.search(data) is not None
        spans = self._plain.Match(_re2_ext.RE2.Anchor.UNANCHORED, data, 0, len(data))
        return bool(spans[0][0] >= 0)

    def groups(self, value: str) -> list[str | None] | None:
        """Group 0 and every capture group (``None`` if it took no part), or ``None``."""
        data = value.encode("utf-8", "surrogatepass")
        if _re2_ext is None:  # pragma: no cover
            found = self._plain.search(data)
            if found is None:
                return None
            raw = [found.group(i) for i in range(self._groups + 1)]
            return [None if g is None else g.decode("utf-8", "surrogatepass") for g in raw]
        spans = self._captures.Match(_re2_ext.RE2.Anchor.UNANCHORED, data, 0, len(data))
        if spans[0][0] < 0:
            return None
        if spans[0] == (0, len(data)) and len(spans) == 1:
            return [value]
        return [
            None if start < 0 else data[start:end].decode("utf-8", "surrogatepass")
            for start, end in spans
        ]

    def group_index(self, name: str) -> int | None:
        """Index of the named group ``name``, if the pattern has one."""
        if self._named is None:
            if _re2_ext is None:  # pragma: no cover
                self._named = dict(self._plain.groupindex)
            else:
                self._named = {
                    n.decode("utf-8") if isinstance(n, bytes) else str(n): int(i)
                    for n, i in self._captures.NamedCapturingGroups()
                }
        return self._named.get(name)

    def __repr__(self) -> str:
        return f"Regex({self._pattern!r})"


@functools.lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> Regex:
    """Compile (once per distinct pattern) or raise ValueError naming the pattern."""
    return Regex(pattern)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One ``name op "value"`` condition; an absent label matches as the empty string."""

    name: str
    type: MatchType
    value: str
    _match: Callable[[str], bool] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        kind = MatchType(self.type)
        object.__setattr__(self, "type", kind)
        value = self.value
        fn: Callable[[str], bool]
        if kind is MatchType.EQUAL:
            fn = value.__eq__
        elif kind is MatchType.NOT_EQUAL:
            fn = value.__ne__
        else:
            regex_matches = compile_regex(value).matches
            if kind is MatchType.REGEX:
                fn = regex_matches
            else:

                def fn(v: str) -> bool:
                    return not regex_matches(v)

        object.__setattr__(self, "_match", fn)

    def matches(self, value: str) -> bool:
        return self._match(value)

    def __reduce__(self) -> tuple[Any, ...]:
        # The compiled function is rebuilt on load (closures do not pickle).
        return (Matcher, (self.name, self.type, self.value))

    @property
    def matches_empty(self) -> bool:
        """Whether series lacking the label are selected (index lookups need this)."""
        return self._match("")

    def literal_values(self) -> frozenset[str] | None:
        """For ``=`` and literal alternations ``=~"a|b"``: the exact values matched."""
        if self.type is MatchType.EQUAL:
            return frozenset((self.value,))
        if self.type is MatchType.REGEX:
            alternatives = _literal_alternatives(_strip_group(self.value))
            if alternatives is not None:
                return frozenset(alternatives)
        return None

    def __str__(self) -> str:
        return f"{quote_name(self.name)}{self.type.value}{promql_quote(self.value)}"


def matches_labels(labels: Labels, matchers: Sequence[Matcher]) -> bool:
    """True when every matcher accepts the label set (absent labels read as "")."""
    if len(matchers) > 3 and len(labels) > 8:
        values = dict(labels)
        return all(m._match(values.get(m.name, "")) for m in matchers)
    return all(m._match(labels.get(m.name)) for m in matchers)
