"""Parse and execution errors carry Go's exact text (template name, line, column)."""

from __future__ import annotations

import pytest

from promethean.template import Template, TemplateExecError, TemplateParseError

PARSE_ERRORS = [
    ("{{ 3 } }}", 'template: t:1: unexpected "}" in operand'),
    ("{{ .A", "template: t:1: unclosed action"),
    ("{{ .A \n", "template: t:2: unclosed action started at t:1"),
    ("{{end}}", "template: t:1: unexpected {{end}}"),
    ("{{ nofunc 1 }}", 'template: t:1: function "nofunc" not defined'),
    ("{{ $x }}", 'template: t:1: undefined variable "$x"'),
    ("{{if}}{{end}}", "template: t:1: missing value for if"),
    ("{{range .}}{{else}}{{else}}{{end}}", "template: t:1: expected end; found {{else}}"),
    ("{{ 1 | 2 }}", "template: t:1: non executable command in pipeline stage 2"),
    ("{{break}}", "template: t:1: {{break}} outside {{range}}"),
    ("a\nb\n{{if .X}}", "template: t:3: unexpected EOF"),
    ('{{ "abc }}', "template: t:1: unterminated quoted string"),
    ("{{ 3x }}", 'template: t:1: bad number syntax: "3x"'),
    ("{{ .A.1 }}", 'template: t:1: unexpected ".1" in operand'),
    ('{{ "a".B }}', 'template: t:1: unexpected . after term "\\"a\\""'),
    ("{{/* open", "template: t:1: unclosed comment"),
    (
        '{{define "a"}}x{{end}}{{define "a"}}y{{end}}',
        'template: t:1: template: multiple definition of template "a"',
    ),
    ("{{ ( 1 }}", "template: t:1: unclosed left paren"),
    ("{{ 1 ) }}", 'template: t:1: unexpected ")" in command'),
    ("{{ # }}", 'template: t:1: unexpected "#" in command'),
    ("{{range $i, $j, $k := .}}{{end}}", "template: t:1: too many declarations in range"),
]


@pytest.mark.parametrize(("src", "message"), PARSE_ERRORS, ids=[p[0] for p in PARSE_ERRORS])
def test_parse_error_text(src: str, message: str) -> None:
    with pytest.raises(TemplateParseError) as info:
        Template("t").parse(src)
    assert str(info.value) == message


EXEC_ERRORS = [
    (
        '{{ "a" .B }}x',
        {},
        'template: t:1:3: executing "t" at <"a">: can\'t give argument to non-function "a"',
    ),
    (
        "{{ (1).A }}",
        {},
        'template: t:1:4: executing "t" at <1>: can\'t evaluate field A in type int',
    ),
    (
        '{{ index "abc" 5 }}',
        {},
        'template: t:1:3: executing "t" at <index "abc" 5>: error calling index: index out of range: 5',  # noqa: E501
    ),
    (
        "{{ len 1 2 }}",
        {},
        'template: t:1:3: executing "t" at <len>: wrong number of args for len: want 1 got 2',
    ),
    (
        "a{{ $x := 1 }}{{ $x.Foo }}",
        {},
        'template: t:1:19: executing "t" at <$x.Foo>: can\'t evaluate field Foo in type int',
    ),
    (
        "{{ eq 1 1.0 }}",
        {},
        'template: t:1:3: executing "t" at <eq 1 1.0>: error calling eq: incompatible types for comparison',  # noqa: E501
    ),
    (
        "{{ lt true false }}",
        {},
        'template: t:1:3: executing "t" at <lt true false>: error calling lt: invalid type for comparison',  # noqa: E501
    ),
    (
        '{{ slice "hello" 3 1 }}',
        {},
        'template: t:1:3: executing "t" at <slice "hello" 3 1>: error calling slice: invalid slice index: 3 > 1',  # noqa: E501
    ),
    (
        '{{ template "nope" }}',
        {},
        'template: t:1:12: executing "t" at <{{template "nope"}}>: template "nope" not defined',
    ),
    (
        "{{ .A.B }}",
        {"A": None},
        'template: t:1:5: executing "t" at <.A.B>: nil pointer evaluating interface {}.B',
    ),
    (
        "{{ range true }}{{end}}",
        {},
        'template: t:1:9: executing "t" at <true>: range can\'t iterate over true',
    ),
    ("{{ nil }}", {}, 'template: t:1:3: executing "t" at <nil>: nil is not a command'),
    (
        "\n\n  {{ printf 5 }}",
        {},
        'template: t:3:12: executing "t" at <5>: expected string; found 5',
    ),
]


@pytest.mark.parametrize(("src", "data", "message"), EXEC_ERRORS, ids=[e[0] for e in EXEC_ERRORS])
def test_exec_error_text(src: str, data: object, message: str) -> None:
    t = Template("t").parse(src)
    with pytest.raises(TemplateExecError) as info:
        t.execute(data)
    assert str(info.value) == message


def test_error_inside_defined_template_names_it_and_the_file() -> None:
    t = Template("main").parse('{{define "inner"}}\n  {{ .X.Y }}{{end}}', "lib.tmpl")
    t.parse('{{ template "inner" . }}', "main")
    with pytest.raises(TemplateExecError) as info:
        t.execute({"X": 1})
    assert str(info.value) == (
        'template: lib.tmpl:2:7: executing "inner" at <.X.Y>: can\'t evaluate field Y in type int'
    )


def test_unknown_template_name() -> None:
    with pytest.raises(TemplateExecError) as info:
        Template("t").parse("x").execute_template("other")
    assert str(info.value) == 'template: no template "other" associated with template "t"'


def test_function_exception_becomes_template_error_without_traceback() -> None:
    def boom() -> str:
        raise RuntimeError("kaput")

    t = Template("t", {"boom": boom}).parse("{{ boom }}")
    with pytest.raises(TemplateExecError) as info:
        t.execute()
    assert str(info.value) == 'template: t:1:3: executing "t" at <boom>: error calling boom: kaput'
    assert "Traceback" not in str(info.value)
