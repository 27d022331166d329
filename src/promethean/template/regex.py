"""Go ``regexp`` behaviour on RE2: compile errors worded as Go's, ``ReplaceAllString``.

User patterns run on RE2 (linear time, no ReDoS) like Go's regexp; what
differs is the surface: Go's error text (``missing closing ): `a(```), Go's
``$1``/``${name}`` replacement syntax and its rule that an empty match right
after a previous match is not replaced.
"""

from __future__ import annotations

from typing import Any

import re2

from promethean.template.errors import FuncError

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False

# RE2's error code text -> Go's regexp/syntax error text.
_CODES = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
    "invalid UTF-8": "invalid UTF-8",
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class": "invalid character class",
    "invalid character class range": "invalid character class range",
}

_cache: dict[str, Any] = {}


def _error_text(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else str(exc)
    msg = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, sep, arg = msg.partition(": ")
    if code in _CODES:
        return f"error parsing regexp: {_CODES[code]}: `{arg}`" if sep else _CODES[code]
    return f"error parsing regexp: {msg}"


def compile_go(pattern: str) -> Any:
    """Compile with RE2, caching; raise FuncError with Go's message on bad syntax."""
    r = _cache.get(pattern)
    if r is None:
        try:
            r = re2.compile(pattern, _OPTIONS)
        except re2.error as exc:
            raise FuncError(_error_text(exc)) from None
        if len(_cache) > 1024:
            _cache.clear()
        _cache[pattern] = r
    return r


def _expand(template: str, m: Any, names: dict[str, int]) -> str:
    out: list[str] = []
    while template:
        before, dollar, after = template.partition("$")
        if not dollar:
            break
        out.append(before)
        template = after
        if template.startswith("$"):
            out.append("$")
            template = template[1:]
            continue
        brace = template.startswith("{")
        rest = template[1:] if brace else template
        i = 0
        while i < len(rest) and (rest[i].isalnum() or rest[i] == "_"):
            i += 1
        name = rest[:i]
        if not name or (brace and not rest[i:].startswith("}")):
            out.append("$")
            continue
        template = rest[i + 1 :] if brace else rest[i:]
        idx = int(name) if name.isdigit() else names.get(name, -1)
        if idx >= 0:
            try:
                g = m.group(idx)
            except (IndexError, ValueError):
                g = None
            if g is not None:
                out.append(g)
    out.append(template)
    return "".join(out)


def replace_all(pattern: str, repl: str, text: str) -> str:
    """regexp.MustCompile(pattern).ReplaceAllString(text, repl)."""
    r = compile_go(pattern)
    names = dict(r.groupindex)
    out: list[str] = []
    last_end = 0
    pos = 0
    end = len(text)
    while pos <= end:
        m = r.search(text, pos)
        if m is None:
            break
        a0, a1 = m.start(), m.end()
        out.append(text[last_end:a0])
        if a1 > last_end or a0 == 0:
            out.append(_expand(repl, m, names))
        last_end = a1
        pos = pos + 1 if pos + 1 > a1 else a1
    out.append(text[last_end:])
    return "".join(out)


def match_string(pattern: str, text: str) -> bool:
    return compile_go(pattern).search(text) is not None
