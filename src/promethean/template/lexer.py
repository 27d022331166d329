"""Tokenizer for Go text/template source.

Mirrors Go's ``text/template/parse`` lexer closely enough that the parser can
report the same errors at the same places: trim markers (``{{- `` and `` -}}``),
comments, the rule that a ``-`` after ``{{`` is only a trim marker when a space
follows it, and Go's number syntax. It produces the whole token list at once;
templates are small and parsed once.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

from promethean.template.gofmt import go_quote


class T(IntEnum):
    ERROR = 0
    BOOL = 1
    CHAR = 2  # printable ASCII character: ',' and friends
    CHAR_CONSTANT = 3
    ASSIGN = 4
    DECLARE = 5
    EOF = 6
    FIELD = 7
    IDENTIFIER = 8
    LEFT_DELIM = 9
    LEFT_PAREN = 10
    NUMBER = 11
    PIPE = 12
    RAW_STRING = 13
    RIGHT_DELIM = 14
    RIGHT_PAREN = 15
    SPACE = 16
    STRING = 17
    TEXT = 18
    VARIABLE = 19
    COMMENT = 20
    # keywords
    KEYWORD = 30
    BLOCK = 31
    BREAK = 32
    CONTINUE = 33
    DOT = 34
    DEFINE = 35
    ELSE = 36
    END = 37
    IF = 38
    NIL = 39
    RANGE = 40
    TEMPLATE = 41
    WITH = 42


KEYWORDS = {
    ".": T.DOT,
    "block": T.BLOCK,
    "break": T.BREAK,
    "continue": T.CONTINUE,
    "define": T.DEFINE,
    "else": T.ELSE,
    "end": T.END,
    "if": T.IF,
    "range": T.RANGE,
    "nil": T.NIL,
    "template": T.TEMPLATE,
    "with": T.WITH,
}


class Item(NamedTuple):
    typ: T
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        if self.typ == T.EOF:
            return "EOF"
        if self.typ == T.ERROR:
            return self.val
        if self.typ > T.KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


_SPACE = " \t\r\n"
_TRIM = "-"


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdigit()


def _unicode_name(c: str) -> str:
    """Go's %#U: U+0023 '#'."""
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


class Lexer:
    def __init__(self, name: str, text: str, left: str = "{{", right: str = "}}") -> None:
        self.name = name
        self.input = text
        self.left = left
        self.right = right
        self.items: list[Item] = []
        self.pos = 0
        self.start = 0
        self.line = 1
        self.paren_depth = 0
        self.inside = False

    # -- helpers ---------------------------------------------------------------------------
    def _emit(self, typ: T) -> None:
        self.items.append(Item(typ, self.start, self.input[self.start : self.pos], self.line))
        self._ignore()

    def _ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos

    def _peek(self) -> str:
        return self.input[self.pos] if self.pos < len(self.input) else ""

    def _next(self) -> str:
        if self.pos >= len(self.input):
            self.pos += 1  # so that backup() is symmetric at EOF
            return ""
        c = self.input[self.pos]
        self.pos += 1
        return c

    def _backup(self) -> None:
        self.pos -= 1

    def _error(self, msg: str) -> None:
        self.items.append(Item(T.ERROR, self.start, msg, self.line))

    def _at_right_delim(self) -> tuple[bool, bool]:
        """(delimiter here, preceded by a trim marker)."""
        rest = self.input[self.pos :]
        if (
            len(rest) >= 2
            and rest[0] in _SPACE
            and rest[1] == _TRIM
            and rest[2:].startswith(self.right)
        ):
            return True, True
        return rest.startswith(self.right), False

    # -- driver ----------------------------------------------------------------------------
    def run(self) -> list[Item]:
        state = self._lex_text
        while state is not None:
            state = state()  # type: ignore[assignment]
            if self.items and self.items[-1].typ == T.ERROR:
                break
        return self.items

    def _lex_text(self) -> object:
        x = self.input.find(self.left, self.pos)
        if x < 0:
            self.pos = len(self.input)
            if self.pos > self.start:
                self._emit(T.TEXT)
            self._emit(T.EOF)
            return None
        self.pos = x
        trim = 0
        after = self.input[x + len(self.left) :]
        if len(after) >= 2 and after[0] == _TRIM and after[1] in _SPACE:
            trim = 1
        text_end = x
        if trim:
            text_end = len(self.input[self.start : x].rstrip(_SPACE)) + self.start
        if text_end > self.start:
            self.pos = text_end
            self._emit(T.TEXT)
        self.pos = x
        self._ignore()
        return self._lex_left_delim

    def _lex_left_delim(self) -> object:
        self.pos += len(self.left)
        trim = self.input[self.pos :].startswith(_TRIM) and (
            self.input[self.pos + 1 : self.pos + 2] in tuple(_SPACE)
        )
        after = 2 if trim else 0
        if self.input[self.pos + after :].startswith("/*"):
            self.pos += after
            self._ignore()
            return self._lex_comment
        self._emit(T.LEFT_DELIM)
        self.pos += after
        self._ignore()
        self.paren_depth = 0
        return self._lex_inside

    def _lex_comment(self) -> object:
        self.pos += 2
        x = self.input.find("*/", self.pos)
        if x < 0:
            self._error("unclosed comment")
            return None
        self.pos = x + 2
        delim, trim = self._at_right_delim()
        if not delim:
            self._error("comment ends before closing delimiter")
            return None
        if trim:
            self.pos += 2
        self.pos += len(self.right)
        if trim:
            self._trim_following_space()
        self._ignore()
        return self._lex_text

    def _trim_following_space(self) -> None:
        while self.pos < len(self.input) and self.input[self.pos] in _SPACE:
            self.pos += 1

    def _lex_right_delim(self) -> object:
        _, trim = self._at_right_delim()
        if trim:
            self.pos += 2
            self._ignore()
        self.pos += len(self.right)
        self._emit(T.RIGHT_DELIM)
        if trim:
            self._trim_following_space()
            self._ignore()
        return self._lex_text

    def _lex_inside(self) -> object:
        delim, _ = self._at_right_delim()
        if delim:
            if self.paren_depth == 0:
                return self._lex_right_delim
            self._error("unclosed left paren")
            return None
        c = self._next()
        if c == "":
            self._error("unclosed action")
            return None
        if c in _SPACE:
            self._backup()
            return self._lex_space
        if c == "=":
            self._emit(T.ASSIGN)
        elif c == ":":
            if self._next() != "=":
                self._error("expected :=")
                return None
            self._emit(T.DECLARE)
        elif c == "|":
            self._emit(T.PIPE)
        elif c == '"':
            return self._lex_quote
        elif c == "`":
            return self._lex_raw_quote
        elif c == "$":
            return self._lex_variable
        elif c == "'":
            return self._lex_char
        elif c == ".":
            if self.pos < len(self.input) and not ("0" <= self.input[self.pos] <= "9"):
                return self._lex_field
            self._backup()
            return self._lex_number
        elif c in "+-" or "0" <= c <= "9":
            self._backup()
            return self._lex_number
        elif _is_alnum(c):
            self._backup()
            return self._lex_identifier
        elif c == "(":
            self._emit(T.LEFT_PAREN)
            self.paren_depth += 1
        elif c == ")":
            self._emit(T.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                self._error("unexpected right paren")
                return None
        elif ord(c) < 0x80 and c.isprintable():
            self._emit(T.CHAR)
        else:
            self._error(f"unrecognized character in action: {_unicode_name(c)}")
            return None
        return self._lex_inside

    def _lex_space(self) -> object:
        n = 0
        while self._peek() != "" and self._peek() in _SPACE:
            self._next()
            n += 1
        rest = self.input[self.pos - 1 :]
        if rest[1:2] == _TRIM and rest[2:].startswith(self.right):
            self._backup()
            if n == 1:
                return self._lex_right_delim
        self._emit(T.SPACE)
        return self._lex_inside

    def _lex_identifier(self) -> object:
        while True:
            c = self._next()
            if c != "" and _is_alnum(c):
                continue
            self._backup()
            word = self.input[self.start : self.pos]
            if not self._at_terminator():
                self._error(f"bad character {_unicode_name(self._peek())}")
                return None
            kw = KEYWORDS.get(word)
            if kw is not None and kw > T.KEYWORD:
                self._emit(kw)
            elif word.startswith("."):
                self._emit(T.FIELD)
            elif word in ("true", "false"):
                self._emit(T.BOOL)
            else:
                self._emit(T.IDENTIFIER)
            return self._lex_inside

    def _lex_field(self) -> object:
        return self._lex_field_or_variable(T.FIELD)

    def _lex_variable(self) -> object:
        if self._at_terminator():
            self._emit(T.VARIABLE)
            return self._lex_inside
        return self._lex_field_or_variable(T.VARIABLE)

    def _lex_field_or_variable(self, typ: T) -> object:
        if self._at_terminator():
            self._emit(T.DOT if typ == T.FIELD else T.VARIABLE)
            return self._lex_inside
        while True:
            c = self._next()
            if c == "" or not _is_alnum(c):
                self._backup()
                break
        if not self._at_terminator():
            self._error(f"bad character {_unicode_name(self._peek())}")
            return None
        self._emit(typ)
        return self._lex_inside

    def _at_terminator(self) -> bool:
        c = self._peek()
        if c == "" or c in _SPACE or c in ".,|:)(":
            return True
        return c == self.right[0]

    def _lex_char(self) -> object:
        while True:
            c = self._next()
            if c == "\\":
                c = self._next()
                if c not in ("", "\n"):
                    continue
            if c in ("", "\n"):
                self._error("unterminated character constant")
                return None
            if c == "'":
                break
        self._emit(T.CHAR_CONSTANT)
        return self._lex_inside

    def _lex_quote(self) -> object:
        while True:
            c = self._next()
            if c == "\\":
                c = self._next()
                if c not in ("", "\n"):
                    continue
            if c in ("", "\n"):
                self._error("unterminated quoted string")
                return None
            if c == '"':
                break
        self._emit(T.STRING)
        return self._lex_inside

    def _lex_raw_quote(self) -> object:
        x = self.input.find("`", self.pos)
        if x < 0:
            self._error("unterminated raw quoted string")
            return None
        self.pos = x + 1
        self._emit(T.RAW_STRING)
        return self._lex_inside

    def _accept(self, valid: str) -> bool:
        c = self._next()
        if c != "" and c in valid:
            return True
        self._backup()
        return False

    def _accept_run(self, valid: str) -> None:
        while self._accept(valid):
            pass

    def _scan_number(self) -> bool:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        c = self._peek()
        if c != "" and _is_alnum(c):
            self._next()
            return False
        return True

    def _lex_number(self) -> object:
        if not self._scan_number():
            self._error(f"bad number syntax: {go_quote(self.input[self.start : self.pos])}")
            return None
        self._emit(T.NUMBER)
        return self._lex_inside


def lex(name: str, text: str, left: str = "{{", right: str = "}}") -> list[Item]:
    return Lexer(name, text, left, right).run()
