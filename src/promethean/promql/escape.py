"""Building PromQL from untrusted input without injection (security model W3).

Concatenating user input into a query lets ``"} or some_metric{zzz="`` turn one
selector into two queries. These helpers never concatenate: values are
written as complete, escaped string literals, and the builder produces the
text of exactly one vector selector from a syntax tree, so whatever the input
(quotes, backslashes, ``#``, newlines, any Unicode), it stays a label value.

    >>> selector("http_requests_total", job='api"} or up{x="')
    'http_requests_total{job="api\\\\"} or up{x=\\\\""}'
"""

from __future__ import annotations

from collections.abc import Iterable

from promethean.model.matchers import Matcher, MatchType
from promethean.model.names import is_valid_utf8
from promethean.promql.ast import VectorSelector
from promethean.promql.printer import format_expr, quote_string

__all__ = ["build_selector", "escape_label_value", "selector"]

MatcherSpec = Matcher | tuple[str, str, str]


def escape_label_value(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal that reads back as ``value``."""
    if not is_valid_utf8(value):
        raise ValueError("label value is not valid UTF-8")
    return quote_string(value)


def build_selector(metric_name: str | None, matchers: Iterable[MatcherSpec] = ()) -> str:
    """The text of one vector selector: ``metric_name`` (optional) and ``matchers``.

    Matchers are :class:`Matcher` objects or ``(label, op, value)`` tuples with
    ``op`` one of ``= != =~ !~``. Raises ``ValueError`` for an invalid regex, an
    empty or non-UTF-8 name, a ``__name__`` matcher beside ``metric_name``, or a
    selector that would match every series.
    """
    built: list[Matcher] = []
    for spec in matchers:
        m = spec if isinstance(spec, Matcher) else Matcher(spec[0], MatchType(spec[1]), spec[2])
        if not m.name or not is_valid_utf8(m.name) or not is_valid_utf8(m.value):
            raise ValueError(f"invalid label matcher: {m.name!r}")
        built.append(m)
    name = metric_name or ""
    if name:
        if not is_valid_utf8(name):
            raise ValueError("metric name is not valid UTF-8")
        if any(m.name == "__name__" for m in built):
            # PromQL refuses a name both before the braces and as a matcher.
            raise ValueError("metric name given both as name and as a __name__ matcher")
        built.append(Matcher("__name__", MatchType.EQUAL, name))
    elif not any(not m.matches_empty for m in built):
        raise ValueError("a selector needs a metric name or a matcher that rejects empty values")
    built.sort(key=str)
    return format_expr(VectorSelector(name, tuple(built)))


def selector(metric_name: str | None = None, /, **labels: str) -> str:
    """Equality matchers from keyword arguments: ``selector("up", job=user_input)``."""
    return build_selector(metric_name, [(k, "=", v) for k, v in labels.items()])
