"""Go literal syntax: quoted strings, character constants and numbers.

The parser needs Go's rules, not Python's: ``"\\x41"`` and ``'\\u00e9'`` escapes,
raw back-quoted strings, leading-zero octal, ``0o``/``0b``/``0x`` prefixes,
digit-separating underscores and hex floats, plus Go's choice of whether a
constant is an int or a float64.
"""

from __future__ import annotations

import re

_SIMPLE = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}

_INVALID = "invalid syntax"


def _unescape(body: str, quote: str) -> str:
    out: list[str] = []
    i, n = 0, len(body)
    raw_bytes = bytearray()

    def flush() -> None:
        if raw_bytes:
            out.append(raw_bytes.decode("utf-8", errors="replace"))
            raw_bytes.clear()

    while i < n:
        c = body[i]
        if c != "\\":
            if c == quote or c == "\n":
                raise ValueError(_INVALID)
            flush()
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError(_INVALID)
        e = body[i + 1]
        i += 2
        if e in _SIMPLE:
            if (e == "'" and quote == '"') or (e == '"' and quote == "'"):
                raise ValueError(_INVALID)
            flush()
            out.append(_SIMPLE[e])
        elif e in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i : i + size]
            if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError(_INVALID)
            i += size
            v = int(digits, 16)
            if e == "x":
                if quote == "'":
                    flush()
                    out.append(chr(v))
                else:
                    raw_bytes.append(v)
            else:
                if v > 0x10FFFF or 0xD800 <= v < 0xE000:
                    raise ValueError(_INVALID)
                flush()
                out.append(chr(v))
        elif e in "01234567":
            digits = body[i - 1 : i + 2]
            if len(digits) != 3 or not all(d in "01234567" for d in digits):
                raise ValueError(_INVALID)
            i += 2
            v = int(digits, 8)
            if v > 255:
                raise ValueError(_INVALID)
            if quote == "'":
                flush()
                out.append(chr(v))
            else:
                raw_bytes.append(v)
        else:
            raise ValueError(_INVALID)
    flush()
    return "".join(out)


def unquote_string(s: str) -> str:
    """strconv.Unquote for a double-quoted or back-quoted string literal."""
    if len(s) >= 2 and s[0] == s[-1] == "`":
        return s[1:-1].replace("\r", "")
    if len(s) >= 2 and s[0] == s[-1] == '"':
        return _unescape(s[1:-1], '"')
    raise ValueError(_INVALID)


def unquote_char(s: str) -> str:
    """A character constant such as ``'a'`` or ``'\\n'``: exactly one character."""
    if len(s) >= 3 and s[0] == s[-1] == "'":
        v = _unescape(s[1:-1], "'")
        if len(v) == 1:
            return v
    raise ValueError(f"malformed character constant: {s}")


_OCTAL_LEGACY = re.compile(r"[+-]?0[0-7_]+")
_UNDERSCORE_FLOAT = re.compile(r"[+-]?\d+(_\d+)*(\.(\d+(_\d+)*)?)?(e[+-]?\d+)?")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _go_quote(s: str) -> str:
    from promethean.template.gofmt import go_quote

    return go_quote(s)


def parse_number(text: str) -> tuple[int | float, bool, bool]:
    """(ideal value, fits an int, is a float literal) for a number token."""
    if text.endswith("i"):
        raise ValueError(f"illegal number syntax: {_go_quote(text)}")
    ival: int | None = None
    try:
        ival = int(text.replace("_", ""), 8) if _OCTAL_LEGACY.fullmatch(text) else int(text, 0)
    except ValueError:
        ival = None
    if ival is not None:
        if ival < _INT64_MIN or ival > (1 << 64) - 1:
            raise ValueError(f"integer overflow: {_go_quote(text)}")
        if ival > _INT64_MAX:
            raise ValueError(f"{text} overflows int")
        return ival, True, False
    try:
        lower = text.lower()
        if lower.lstrip("+-").startswith("0x"):
            fval = float.fromhex(text.replace("_", ""))
        else:
            if "_" in text and not re.fullmatch(
                r"[+-]?\d+(_\d+)*(\.(\d+(_\d+)*)?)?(e[+-]?\d+)?", lower
            ):
                raise ValueError(text)
            fval = float(text.replace("_", ""))
    except (ValueError, OverflowError):
        raise ValueError(f"illegal number syntax: {_go_quote(text)}") from None
    is_int = fval.is_integer() and _INT64_MIN <= fval <= _INT64_MAX
    if any(c in text for c in ".eEpP") and not lower.lstrip("+-").startswith("0x"):
        return fval, is_int, True
    if lower.lstrip("+-").startswith("0x") and not any(c in lower for c in ".p"):
        return int(fval), True, False
    return fval, is_int, True
