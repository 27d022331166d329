"""Go text/template grammar and output formats: (template, data, expected) tables.

Expected strings are Go's output (checked against the Go Alertmanager's
``amtool template render`` where the data allows).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from promethean.template import MISSING, Template


@dataclass
class _Point:
    X: int
    Y: str
    lower: str = "low"

    def Sum(self, a: int, b: int) -> int:
        return a + b

    def Hello(self) -> str:
        return "hi"


DATA: dict[str, Any] = {
    "S": "hello",
    "Empty": "",
    "I": 42,
    "Zero": 0,
    "F": 2.5,
    "L": ["a", "b", "c"],
    "EmptyL": [],
    "M": {"b": 2, "a": 1, "c": 3},
    "N": {"Inner": {"Deep": "deep"}},
    "P": _Point(1, "y"),
    "T": True,
    "Nil": None,
}

CASES: list[tuple[str, str]] = [
    # text, actions, trim markers, comments
    ("plain text", "plain text"),
    ("{{.S}}", "hello"),
    ("a {{- .S -}} b", "ahellob"),
    ("a  {{- /* comment */ -}}  b", "ab"),
    ("{{/* only a comment */}}", ""),
    ("x{{-3}}", "x-3"),
    ("{{ 3 -}}\n\n  y", "3y"),
    # literals
    ('{{"a\\tb"}}', "a\tb"),
    ("{{`raw\\n`}}", "raw\\n"),
    ("{{'a'}} {{'\\n'}}", "97 10"),
    ("{{0x1F}} {{0o17}} {{017}} {{0b101}} {{1_000}}", "31 15 15 5 1000"),
    (
        "{{1.0}} {{1e6}} {{0.1}} {{1e21}} {{123456.0}} {{1234567.0}} {{0.00001}}",
        "1 1e+06 0.1 1e+21 123456 1.234567e+06 1e-05",
    ),
    ("{{true}} {{false}}", "true false"),
    ("{{-5}} {{+5}} {{.5}}", "-5 5 0.5"),
    # fields, maps, methods, chains
    ("{{.N.Inner.Deep}}", "deep"),
    ("{{.P.X}} {{.P.Y}} {{.P.Hello}} {{.P.Sum 2 3}}", "1 y hi 5"),
    ("{{.M.a}}{{.M.c}}", "13"),
    ("{{.Missing}}", "<no value>"),
    ("{{.Missing.Deeper}}", "<no value>"),
    ("{{.Nil}}", "<no value>"),
    ('{{(index .N "Inner").Deep}}', "deep"),
    ("{{with $x := .N}}{{$x.Inner.Deep}}{{end}}", "deep"),
    (
        "{{$}}",
        "map[Empty: EmptyL:[] F:2.5 I:42 L:[a b c] M:map[a:1 b:2 c:3] N:map[Inner:map[Deep:deep]] Nil:<nil> P:{1 y low} S:hello T:true Zero:0]",  # noqa: E501
    ),
    # printing of composite values
    ("{{.L}} {{.M}} {{.EmptyL}}", "[a b c] map[a:1 b:2 c:3] []"),
    ("{{.P}}", "{1 y low}"),
    # variables
    ("{{$x := 1}}{{$x}}{{$x = 2}}{{$x}}", "12"),
    ("{{$x := .S}}{{with .I}}{{$x}}{{.}}{{end}}", "hello42"),
    ("{{range .L}}{{$.S}}{{end}}", "hellohellohello"),
    # if / else if / else
    ("{{if .T}}yes{{end}}", "yes"),
    ("{{if .Empty}}yes{{else}}no{{end}}", "no"),
    ("{{if .Zero}}a{{else if .EmptyL}}b{{else if .I}}c{{else}}d{{end}}", "c"),
    ("{{if .Missing}}a{{else}}b{{end}}", "b"),
    ("{{if .Nil}}a{{else}}b{{end}}", "b"),
    ("{{if .M}}a{{end}}{{if .F}}b{{end}}", "ab"),
    # with / else with
    ("{{with .S}}{{.}}{{end}}", "hello"),
    ("{{with .Empty}}x{{else}}none{{end}}", "none"),
    ("{{with .Empty}}x{{else with .I}}{{.}}{{end}}", "42"),
    # range
    ("{{range .L}}[{{.}}]{{end}}", "[a][b][c]"),
    ("{{range $i, $e := .L}}{{$i}}={{$e}} {{end}}", "0=a 1=b 2=c "),
    ("{{range $e := .L}}{{$e}}{{end}}", "abc"),
    ("{{range $k, $v := .M}}{{$k}}{{$v}}{{end}}", "a1b2c3"),
    ("{{range .M}}{{.}}{{end}}", "123"),
    ("{{range .EmptyL}}x{{else}}empty{{end}}", "empty"),
    ("{{range .Missing}}x{{else}}none{{end}}", "none"),
    ('{{range .L}}{{if eq . "b"}}{{break}}{{end}}{{.}}{{end}}', "a"),
    ('{{range .L}}{{if eq . "b"}}{{continue}}{{end}}{{.}}{{end}}', "ac"),
    ("{{range 3}}{{.}}{{end}}", "012"),
    ("{{$n := 0}}{{range .L}}{{$n = .}}{{end}}{{$n}}", "c"),
    # define / template / block
    ('{{define "in"}}<{{.}}>{{end}}{{template "in" .S}}', "<hello>"),
    ('{{define "in"}}{{.}}{{end}}{{template "in"}}', "<no value>"),
    ('{{block "b" .I}}[{{.}}]{{end}}', "[42]"),
    # pipelines and parentheses
    ('{{.S | printf "%s!"}}', "hello!"),
    ('{{"x" | printf "%s %s" "y"}}', "y x"),
    ('{{(len .L) | printf "%d"}}', "3"),
    ('{{printf "%d-%s" (len .L) (index .L 1)}}', "3-b"),
    # builtins
    ('{{len .S}} {{len .L}} {{len .M}} {{len "é"}}', "5 3 3 2"),
    ('{{index .L 1}} {{index .M "b"}} {{index "abc" 0}}', "b 2 97"),
    ('{{slice .L 1}} {{slice .L 1 2}} {{slice "hello" 1 3}}', "[b c] [b] el"),
    ('{{and 1 0 2}}|{{and 1 2}}|{{or 0 ""}}|{{or 0 "x"}}|{{not 0}}', "0|2||x|true"),
    ("{{and .Zero .Missing.X}}", "0"),
    ("{{or .I .Missing.X}}", "42"),
    (
        '{{eq "a" "b" "a"}} {{ne 1 2}} {{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1.5 2.5}}',
        "true true true true true false",
    ),
    ('{{print 1 2 "a" 3 nil}}', "1 2a3 <nil>"),
    ('{{println 1 "a"}}', "1 a\n"),
    ('{{html "<a href=\'x\'>&\\""}}', "&lt;a href=&#39;x&#39;&gt;&amp;&#34;"),
    ('{{js "<a=\\"\'\\n\\\\>é"}}', "\\u003Ca\\u003D\\\"\\'\\u000A\\\\\\u003Eé"),
    ('{{urlquery "a b&c/é~"}}', "a+b%26c%2F%C3%A9~"),
    ("{{html .Missing}}", "&lt;no value&gt;"),
    # printf verbs
    (
        '{{printf "%5.2f|%-5d|%05d|%+d|%x|%X|%o|%b|%c|%q|%U|%t" 3.14159 42 42 5 "hi" 255 8 5 65 65 65 true}}',  # noqa: E501
        " 3.14|42   |00042|+5|6869|FF|10|101|A|'A'|U+0041|true",
    ),
    (
        '{{printf "%e|%g|%G|%8.3e|%v|%v" 123456.789 0.000012345 1e21 1234.5 1.5 "s"}}',
        "1.234568e+05|1.2345e-05|1E+21|1.234e+03|1.5|s",
    ),
    ('{{printf "%s|%d" 5 "s"}}', "%!s(int=5)|%!d(string=s)"),
    ('{{printf "%d %s" 1}}', "1 %!s(MISSING)"),
    ('{{printf "%d" 1 2 "x"}}', "1%!(EXTRA int=2, string=x)"),
    ('{{printf "%q %v %%" "a\\n" .L}}', '"a\\n" [a b c] %'),
    ('{{printf "%T %T %T %T" 1 1.5 "s" true}}', "int float64 string bool"),
]


@pytest.mark.parametrize(("src", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_output_matches_go(src: str, expected: str) -> None:
    assert Template("t").parse(src).execute(DATA) == expected


def test_missingkey_options() -> None:
    assert Template("t", missingkey="zero").parse("{{.A}}").execute({}) == "<no value>"
    t = Template("t", missingkey="error").parse("{{.A}}")
    with pytest.raises(Exception, match=r'map has no entry for key "A"'):
        t.execute({})


def test_string_map_zero_value_is_empty() -> None:
    class StringMap(dict[str, str]):
        __go_zero__ = ""

    t = Template("t", missingkey="zero").parse('[{{.x}}][{{index . "y"}}]')
    assert t.execute(StringMap()) == "[][]"


def test_parsed_once_executed_many_times() -> None:
    t = Template("t").parse("{{range .}}{{.}},{{end}}")
    assert [t.execute(list(range(n))) for n in range(3)] == ["", "0,", "0,1,"]


def test_later_parse_redefines_but_empty_does_not() -> None:
    t = Template("t").parse('{{define "x"}}one{{end}}{{template "x"}}')
    t.parse('{{define "x"}}two{{end}}', "other")
    t.parse('{{define "x"}}  {{end}}', "empty")
    assert t.execute() == "two"


def test_custom_functions_and_missing_sentinel() -> None:
    t = Template("t", {"double": lambda x: x * 2}).parse("{{double 21}} {{.}}")
    assert t.execute(MISSING) == "42 <no value>"


def test_private_attributes_are_unreachable() -> None:
    t = Template("t").parse("{{.__class__}}")
    with pytest.raises(Exception, match="can't evaluate field __class__"):
        t.execute(_Point(1, "y"))
