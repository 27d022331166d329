"""The lexer: token stream and upstream's lexer error messages."""

from __future__ import annotations

import pytest

from promethean.promql.lexer import Token, describe, lex, unquote_string


def _kinds(query: str) -> list[tuple[str, str]]:
    return [(t.kind, t.val) for t in lex(query)]


def test_token_stream() -> None:
    assert _kinds('sum by (job) (rate(x{a=~"b"}[5m])) > bool 1e3 # c') == [
        ("AGGR", "sum"),
        ("KEYWORD", "by"),
        ("LEFT_PAREN", "("),
        ("IDENTIFIER", "job"),
        ("RIGHT_PAREN", ")"),
        ("LEFT_PAREN", "("),
        ("IDENTIFIER", "rate"),
        ("LEFT_PAREN", "("),
        ("IDENTIFIER", "x"),
        ("LEFT_BRACE", "{"),
        ("IDENTIFIER", "a"),
        ("OP", "=~"),
        ("STRING", '"b"'),
        ("RIGHT_BRACE", "}"),
        ("LEFT_BRACKET", "["),
        ("DURATION", "5m"),
        ("RIGHT_BRACKET", "]"),
        ("RIGHT_PAREN", ")"),
        ("RIGHT_PAREN", ")"),
        ("OP", ">"),
        ("KEYWORD", "bool"),
        ("NUMBER", "1e3"),
        ("EOF", ""),
    ]


def test_positions_and_special_words() -> None:
    toks = lex("a:b Inf and x[1h:5m]")
    assert toks[0] == Token("METRIC_IDENTIFIER", "a:b", 0)
    assert toks[1] == Token("NUMBER", "Inf", 4)
    assert toks[2] == Token("OP", "and", 8)
    assert [t.kind for t in toks[4:9]] == [
        "LEFT_BRACKET",
        "DURATION",
        "COLON",
        "DURATION",
        "RIGHT_BRACKET",
    ]


@pytest.mark.parametrize(
    ("query", "message", "pos"),
    [
        ("a )", "unexpected right parenthesis ')'", 2),
        ("(a", "unclosed left parenthesis", 2),
        ("a[5m", "unclosed left bracket", 4),
        ("a]", "unexpected right bracket ']'", 1),
        ("a[1m[", "unexpected left bracket '['", 4),
        ("a{b", "unexpected end of input inside braces", 3),
        ("a{b!c}", "unexpected character after '!' inside braces: 'c'", 3),
        ("a ! b", "unexpected character after '!': ' '", 2),
        ("a ; b", "unexpected character: ';'", 2),
        ('"x', "unterminated quoted string", 0),
        ("`x", "unterminated raw string", 0),
        ('"\\u12"', "illegal character U+0022 '\"' in escape sequence", 0),
        ('"\\ud800"', "escape sequence is an invalid Unicode code point", 0),
        ("5mm", 'bad number or duration syntax: "5mm"', 0),
        ("1x", 'bad number or duration syntax: "1x"', 0),
    ],
)
def test_lexer_errors(query: str, message: str, pos: int) -> None:
    last = lex(query)[-1]
    assert last == Token("ERROR", message, pos)


def test_describe_matches_upstream_item_desc() -> None:
    assert describe(Token("EOF", "", 0)) == "end of input"
    assert describe(Token("IDENTIFIER", "foo", 0)) == 'identifier "foo"'
    assert describe(Token("OP", "+", 0)) == "<op:+>"
    assert describe(Token("KEYWORD", "by", 0)) == "<by>"
    assert describe(Token("AGGR", "sum", 0)) == "<aggr:sum>"
    assert describe(Token("RIGHT_BRACE", "}", 0)) == '"}"'
    assert describe(Token("STRING", '"a long string"', 0)) == 'string "\\"a long st"...'


def test_unquote() -> None:
    assert unquote_string('"\\a\\b\\f\\n\\r\\t\\v\\\\\\""') == '\a\b\f\n\r\t\v\\"'
    assert unquote_string("'\\''") == "'"
    assert unquote_string('"\\xff"') == "\udcff"  # a raw byte: not UTF-8 on its own
    with pytest.raises(ValueError, match="unknown escape sequence"):
        unquote_string('"\\\'"')
