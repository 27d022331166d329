"""Metric and label name rules, and the quoting that lets any name be written.

Prometheus 2.x accepted only the legacy charset; 3.x accepts any non-empty
UTF-8 name, and writes names outside the legacy charset quoted inside the
braces (``{"my.metric", "some.label"="v"}``). The text writer, the PromQL
printer and config validation all need the same answers, so they live here.

Python ``str`` cannot hold invalid UTF-8 bytes, but it can hold lone
surrogates (from ``surrogateescape`` decoding); those are what "not valid
UTF-8" means for a ``str``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum

__all__ = [
    "NameValidationScheme",
    "escape_label_value",
    "exposition_quote",
    "format_series",
    "is_valid_label_name",
    "is_valid_label_value",
    "is_valid_legacy_label_name",
    "is_valid_legacy_metric_name",
    "is_valid_metric_name",
    "is_valid_utf8",
    "label_name_valid",
    "metric_name_valid",
    "needs_quoting",
    "promql_quote",
    "quote_name",
]


class NameValidationScheme(StrEnum):
    """Which names are acceptable: Prometheus 3.x's ``utf8`` (default) or ``legacy``."""

    UTF8 = "utf8"
    LEGACY = "legacy"


# Python's ``re`` suffices for these fixed, linear patterns (no user input as pattern).
_LEGACY_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def is_valid_utf8(s: str) -> bool:
    """True unless ``s`` holds a lone surrogate (i.e. it came from invalid UTF-8)."""
    if s.isascii():
        return True
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_valid_legacy_metric_name(s: str) -> bool:
    return _LEGACY_METRIC.fullmatch(s) is not None


def is_valid_legacy_label_name(s: str) -> bool:
    """Legacy charset; ``__``-prefixed names are valid but reserved for internal use."""
    return _LEGACY_LABEL.fullmatch(s) is not None


def is_valid_metric_name(s: str) -> bool:
    """Prometheus 3.x rule: any non-empty valid UTF-8."""
    return s != "" and is_valid_utf8(s)


def is_valid_label_name(s: str) -> bool:
    """Prometheus 3.x rule: any non-empty valid UTF-8."""
    return s != "" and is_valid_utf8(s)


def is_valid_label_value(s: str) -> bool:
    return is_valid_utf8(s)


def is_reserved_label_name(s: str) -> bool:
    """Names starting with ``__`` belong to Prometheus (``__name__``, ``__meta_*``...)."""
    return s.startswith("__")


def label_name_valid(s: str, scheme: NameValidationScheme = NameValidationScheme.UTF8) -> bool:
    if scheme is NameValidationScheme.LEGACY:
        return is_valid_legacy_label_name(s)
    return is_valid_label_name(s)


def metric_name_valid(s: str, scheme: NameValidationScheme = NameValidationScheme.UTF8) -> bool:
    if scheme is NameValidationScheme.LEGACY:
        return is_valid_legacy_metric_name(s)
    return is_valid_metric_name(s)


def needs_quoting(name: str, *, metric_name: bool = False) -> bool:
    """Whether ``name`` must be written quoted (``"my.metric"``) rather than bare.

    Label names are judged by the legacy label charset (so ``a:b`` is quoted, as
    upstream's matcher printer does); metric names by the legacy metric charset,
    which also allows colons.
    """
    if metric_name:
        return not is_valid_legacy_metric_name(name)
    return not is_valid_legacy_label_name(name)


_EXPOSITION_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n"})


def escape_label_value(value: str) -> str:
    """Escape for the text exposition formats: only backslash, quote and newline."""
    if "\\" not in value and '"' not in value and "\n" not in value:
        return value
    return value.translate(_EXPOSITION_ESCAPES)


def exposition_quote(value: str) -> str:
    return f'"{escape_label_value(value)}"'


_GO_NAMED_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def promql_quote(value: str) -> str:
    """Double-quote like Go's ``strconv.Quote``, which the PromQL lexer reads back.

    Printable characters stay as they are; control and other non-printable
    characters become ``\\xNN``, ``\\uNNNN`` or ``\\UNNNNNNNN`` escapes.
    """
    if value.isascii() and value.isprintable() and "\\" not in value and '"' not in value:
        return f'"{value}"'
    out = ['"']
    for ch in value:
        named = _GO_NAMED_ESCAPES.get(ch)
        if named is not None:
            out.append(named)
        elif ch.isprintable():
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x20 or code == 0x7F:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def quote_name(name: str, *, metric_name: bool = False, promql: bool = True) -> str:
    """``name`` bare when the legacy charset allows it, otherwise quoted."""
    if not needs_quoting(name, metric_name=metric_name):
        return name
    return promql_quote(name) if promql else exposition_quote(name)


def format_series(
    metric_name: str, labels: Iterable[tuple[str, str]], *, promql: bool = True
) -> str:
    """Write a series the way 3.x does: ``name{a="1"}`` or ``{"my.metric", "a"="1"}``.

    With ``promql=True`` values use Go quoting and pairs are joined by ``", "``
    (the PromQL printer's form); otherwise exposition escaping and ``","`` (the
    text writer's form). A metric name outside the legacy charset moves inside
    the braces as the first, quoted, element.
    """
    quote = promql_quote if promql else exposition_quote
    sep = ", " if promql else ","
    parts = [f"{quote_name(k, promql=promql)}={quote(v)}" for k, v in labels]
    if metric_name and needs_quoting(metric_name, metric_name=True):
        return "{" + sep.join([quote(metric_name), *parts]) + "}"
    if not parts:
        return metric_name if metric_name else "{}"
    return metric_name + "{" + sep.join(parts) + "}"
