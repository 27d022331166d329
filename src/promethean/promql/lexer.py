"""Turns a query into tokens, with upstream's lexer states and error messages.

The lexer is a small state machine like upstream's: it tracks whether it is
inside braces (label matchers), inside brackets (ranges and subqueries, where
``:`` is a token) and how deep parentheses go. It stops at the first error and
returns an ``ERROR`` token carrying upstream's message in place of ``EOF``, so
the parser reports a syntax error found earlier in the query first, exactly as
the generated parser does. Regexes are compiled once; every token is matched
in one step, so lexing is linear in the query length.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from promethean.model.names import promql_quote

__all__ = [
    "AGGREGATORS",
    "KEYWORDS",
    "Token",
    "describe",
    "lex",
    "unquote_string",
]

# Token kinds. Plain strings keep comparisons cheap and error messages readable.
NUMBER = "NUMBER"
DURATION = "DURATION"
STRING = "STRING"
IDENTIFIER = "IDENTIFIER"
METRIC_IDENTIFIER = "METRIC_IDENTIFIER"
LEFT_PAREN = "LEFT_PAREN"
RIGHT_PAREN = "RIGHT_PAREN"
LEFT_BRACE = "LEFT_BRACE"
RIGHT_BRACE = "RIGHT_BRACE"
LEFT_BRACKET = "LEFT_BRACKET"
RIGHT_BRACKET = "RIGHT_BRACKET"
COMMA = "COMMA"
COLON = "COLON"
EQL = "EQL"
OP = "OP"  # binary, comparison, match and set operators, and "@"
AGGR = "AGGR"
KEYWORD = "KEYWORD"
EOF = "EOF"
ERROR = "ERROR"

AGGREGATORS = frozenset(
    [
        "avg",
        "bottomk",
        "count",
        "count_values",
        "group",
        "max",
        "min",
        "quantile",
        "stddev",
        "stdvar",
        "sum",
        "topk",
        "limitk",
        "limit_ratio",
    ]
)
KEYWORDS = frozenset(
    ["bool", "by", "group_left", "group_right", "ignoring", "offset", "on", "without"]
)
_WORD_OPERATORS = frozenset({"and", "or", "unless", "atan2"})

_PUNCT_STR = {
    LEFT_PAREN: "(",
    RIGHT_PAREN: ")",
    LEFT_BRACE: "{",
    RIGHT_BRACE: "}",
    LEFT_BRACKET: "[",
    RIGHT_BRACKET: "]",
    COMMA: ",",
    COLON: ":",
    EQL: "=",
}
_KIND_DESC = {
    IDENTIFIER: "identifier",
    METRIC_IDENTIFIER: "metric identifier",
    STRING: "string",
    NUMBER: "number",
    DURATION: "duration",
}


class Token(NamedTuple):
    kind: str
    val: str
    pos: int


def _token_str(tok: Token) -> str:
    kind = tok.kind
    if kind == EOF:
        return "EOF"
    if kind == ERROR:
        return tok.val
    if kind in (IDENTIFIER, METRIC_IDENTIFIER):
        return promql_quote(tok.val)
    if kind == KEYWORD:
        return f"<{tok.val}>"
    if kind == OP:
        return f"<op:{tok.val}>"
    if kind == AGGR:
        return f"<aggr:{tok.val}>"
    if len(tok.val) > 10:
        return promql_quote(tok.val[:10]) + "..."
    return promql_quote(tok.val)


def describe(tok: Token) -> str:
    """Upstream's ``Item.desc()``: how an unexpected token is named in errors."""
    if tok.kind == EOF:
        return "end of input"
    if tok.kind in _PUNCT_STR or tok.kind in (OP, AGGR, KEYWORD):
        return _token_str(tok)
    return f"{_KIND_DESC.get(tok.kind, tok.kind.lower())} {_token_str(tok)}"


_SPACE = re.compile(r"[ \t\n\r]+")
_COMMENT = re.compile(r"#[^\n]*")
# Identifiers outside braces may contain colons (recording rule names).
_WORD = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NUMBER = re.compile(
    r"0[xX][0-9a-fA-F_]+|(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9]+)?"
)
_DURATION = re.compile(r"[0-9]+(?:[nuµ]s|ms|[smhdwy])(?:[0-9]+(?:ms|[smhdwy]))*")
_ALNUM_AFTER = re.compile(r"[a-zA-Z0-9_.]")
_DQ_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"', re.DOTALL)
_SQ_STRING = re.compile(r"'(?:[^'\\\n]|\\.)*'", re.DOTALL)
_OPERATORS_2 = {"==", "!=", "<=", ">=", "=~", "!~"}
_OPERATORS_1 = {"+": "+", "-": "-", "*": "*", "/": "/", "%": "%", "^": "^", "<": "<", ">": ">"}


class _LexError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        self.message = message
        self.pos = pos


def lex(query: str) -> list[Token]:
    """All tokens up to ``EOF``, or up to an ``ERROR`` token that replaces it."""
    out: list[Token] = []
    try:
        _lex_into(query, out)
    except _LexError as err:
        out.append(Token(ERROR, err.message, err.pos))
        return out
    out.append(Token(EOF, "", len(query)))
    return out


def _lex_into(s: str, out: list[Token]) -> None:
    n = len(s)
    i = 0
    paren_depth = 0
    bracket_open = False
    got_colon = False
    append = out.append
    while True:
        m = _SPACE.match(s, i)
        if m:
            i = m.end()
        if i >= n:
            if paren_depth:
                raise _LexError("unclosed left parenthesis", i)
            if bracket_open:
                raise _LexError("unclosed left bracket", i)
            return
        c = s[i]
        if c == "#":
            i = _COMMENT.match(s, i).end()  # type: ignore[union-attr]
            continue
        if c.isascii() and (c.isalpha() or c == "_" or (c == ":" and not bracket_open)):
            word = _WORD.match(s, i).group()  # type: ignore[union-attr]
            lower = word.lower()
            if lower in KEYWORDS:
                append(Token(KEYWORD, word, i))
            elif lower in AGGREGATORS:
                append(Token(AGGR, word, i))
            elif lower in _WORD_OPERATORS:
                append(Token(OP, word, i))
            elif lower in ("inf", "nan"):
                append(Token(NUMBER, word, i))
            elif ":" in word:
                append(Token(METRIC_IDENTIFIER, word, i))
            else:
                append(Token(IDENTIFIER, word, i))
            i += len(word)
            continue
        if c.isdigit() or (c == "." and i + 1 < n and s[i + 1].isdigit()):
            i = _lex_number_or_duration(s, i, append)
            continue
        if c == '"' or c == "'":
            i = _lex_string(s, i, append)
            continue
        if c == "`":
            end = s.find("`", i + 1)
            if end < 0:
                raise _LexError("unterminated raw string", i)
            append(Token(STRING, s[i : end + 1], i))
            i = end + 1
            continue
        two = s[i : i + 2]
        if two in _OPERATORS_2 and two not in ("=~", "!~"):
            append(Token(OP, two, i))
            i += 2
            continue
        if c == "=":
            if two == "=~":
                raise _LexError(f"unexpected character after '=': {_go_char(s[i + 1])}", i)
            append(Token(EQL, "=", i))
            i += 1
            continue
        if c == "!":
            nxt = s[i + 1] if i + 1 < n else ""
            raise _LexError(f"unexpected character after '!': {_go_char(nxt)}", i)
        if two in ("</", ">/"):
            append(Token(OP, two, i))
            i += 2
            continue
        op = _OPERATORS_1.get(c)
        if op is not None:
            append(Token(OP, op, i))
            i += 1
            continue
        if c == ",":
            append(Token(COMMA, c, i))
        elif c == "@":
            append(Token(OP, "@", i))
        elif c == "(":
            paren_depth += 1
            append(Token(LEFT_PAREN, c, i))
        elif c == ")":
            paren_depth -= 1
            if paren_depth < 0:
                raise _LexError("unexpected right parenthesis ')'", i)
            append(Token(RIGHT_PAREN, c, i))
        elif c == "{":
            append(Token(LEFT_BRACE, c, i))
            i = _lex_inside_braces(s, i + 1, append)
            continue
        elif c == "[":
            if bracket_open:
                raise _LexError("unexpected left bracket '['", i)
            bracket_open = True
            got_colon = False
            append(Token(LEFT_BRACKET, c, i))
        elif c == "]":
            if not bracket_open:
                raise _LexError("unexpected right bracket ']'", i)
            bracket_open = False
            append(Token(RIGHT_BRACKET, c, i))
        elif c == ":":
            if got_colon:
                raise _LexError("unexpected colon ':'", i)
            got_colon = True
            append(Token(COLON, c, i))
        else:
            raise _LexError(f"unexpected character: {_go_char(c)}", i)
        i += 1


def _lex_number_or_duration(s: str, i: int, append: object) -> int:
    emit = append  # typed loosely to keep the hot loop free of attribute lookups
    m = _NUMBER.match(s, i)
    end = m.end() if m else i
    nxt = s[end] if end < len(s) else ""
    if not nxt or not (_ALNUM_AFTER.match(nxt) or nxt == "µ"):
        emit(Token(NUMBER, s[i:end], i))  # type: ignore[operator]
        return end
    d = _DURATION.match(s, i)
    if d:
        dend = d.end()
        after = s[dend] if dend < len(s) else ""
        if not after or not (_ALNUM_AFTER.match(after) and after != "."):
            emit(Token(DURATION, s[i:dend], i))  # type: ignore[operator]
            return dend
        end = dend
    raise _LexError(f"bad number or duration syntax: {promql_quote(s[i : end + 1])}", i)


def _lex_string(s: str, i: int, append: object) -> int:
    quote = s[i]
    pattern = _DQ_STRING if quote == '"' else _SQ_STRING
    m = pattern.match(s, i)
    if m is None:
        raise _LexError("unterminated quoted string", i)
    raw = m.group()
    if "\\" in raw:
        try:
            unquote_string(raw)
        except ValueError as err:
            raise _LexError(str(err), i) from None
    append(Token(STRING, raw, i))  # type: ignore[operator]
    return m.end()


def _lex_inside_braces(s: str, i: int, append: object) -> int:
    emit = append
    n = len(s)
    while True:
        m = _SPACE.match(s, i)
        if m:
            i = m.end()
        if i >= n:
            raise _LexError("unexpected end of input inside braces", i)
        c = s[i]
        if c.isascii() and (c.isalpha() or c == "_"):
            word = _LABEL.match(s, i).group()  # type: ignore[union-attr]
            emit(Token(IDENTIFIER, word, i))  # type: ignore[operator]
            i += len(word)
            continue
        if c == '"' or c == "'":
            i = _lex_string(s, i, append)
            continue
        if c == "`":
            end = s.find("`", i + 1)
            if end < 0:
                raise _LexError("unterminated raw string", i)
            emit(Token(STRING, s[i : end + 1], i))  # type: ignore[operator]
            i = end + 1
            continue
        if c == ",":
            emit(Token(COMMA, c, i))  # type: ignore[operator]
        elif c == "=":
            if s.startswith("=~", i):
                emit(Token(OP, "=~", i))  # type: ignore[operator]
                i += 1
            else:
                emit(Token(EQL, "=", i))  # type: ignore[operator]
        elif c == "!":
            two = s[i : i + 2]
            if two in ("!=", "!~"):
                emit(Token(OP, two, i))  # type: ignore[operator]
                i += 1
            else:
                nxt = s[i + 1] if i + 1 < n else ""
                raise _LexError(f"unexpected character after '!' inside braces: {_go_char(nxt)}", i)
        elif c == "{":
            raise _LexError("unexpected left brace '{'", i)
        elif c == "}":
            emit(Token(RIGHT_BRACE, c, i))  # type: ignore[operator]
            return i + 1
        else:
            raise _LexError(f"unexpected character inside braces: {_go_char(c)}", i)
        i += 1


def _go_char(c: str) -> str:
    """Go's ``%q`` of a rune: single-quoted, escaped like ``strconv.QuoteRune``."""
    if c == "":
        return "U+FFFFFFFF"
    if c == "'":
        return "'\\''"
    if c == '"':
        return "'\"'"
    inner = promql_quote(c)[1:-1]
    return f"'{inner}'"


_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
}
_HEX_LEN = {"x": 2, "u": 4, "U": 8}
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def unquote_string(raw: str) -> str:
    """The value of a string token (quotes included), with Go's escapes decoded.

    Double- and single-quoted strings accept Go's escapes (only the enclosing
    quote may be escaped); backtick strings are raw. Raises ``ValueError``
    with upstream's lexer message for a bad escape.
    """
    quote = raw[0]
    body = raw[1:-1]
    if quote == "`":
        return body
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    n = len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        if i + 1 >= n:
            raise ValueError("escape sequence not terminated")
        e = body[i + 1]
        i += 2
        simple = _SIMPLE_ESCAPES.get(e)
        if simple is not None:
            out.append(simple)
        elif e == quote:
            out.append(e)
        elif e in _HEX_LEN:
            width = _HEX_LEN[e]
            digits = body[i : i + width]
            for d in digits:
                if d not in _HEX_DIGITS:
                    raise ValueError(f"illegal character {_go_unicode(d)} in escape sequence")
            if len(digits) < width:
                # Upstream reads on into the closing quote.
                raise ValueError(f"illegal character {_go_unicode(quote)} in escape sequence")
            code = int(digits, 16)
            i += width
            if e == "x":
                out.append(_byte(code))
            elif code > 0x10FFFF or 0xD800 <= code < 0xE000:
                raise ValueError("escape sequence is an invalid Unicode code point")
            else:
                out.append(chr(code))
        elif "0" <= e <= "7":
            digits = body[i - 1 : i + 2]
            for d in digits:
                if not "0" <= d <= "7":
                    raise ValueError(f"illegal character {_go_unicode(d)} in escape sequence")
            if len(digits) < 3:
                raise ValueError(f"illegal character {_go_unicode(quote)} in escape sequence")
            code = int(digits, 8)
            if code > 255:
                raise ValueError("escape sequence is an invalid Unicode code point")
            out.append(_byte(code))
            i += 2
        else:
            raise ValueError(f"unknown escape sequence {_go_unicode(e)}")
    return "".join(out)


def _byte(code: int) -> str:
    """A raw byte from ``\\x``/octal escapes; above 0x7f it is not valid UTF-8 on its
    own, so it becomes the ``surrogateescape`` stand-in, as the model expects."""
    return chr(code) if code < 0x80 else chr(0xDC00 + code)


def _go_unicode(c: str) -> str:
    """Go's ``%#U``-ish rendering used in escape errors: ``U+0071 'q'``."""
    return f"U+{ord(c):04X} {_go_char(c)}"
