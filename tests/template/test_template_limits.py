"""Hostile templates end in a clean TemplateExecError, quickly."""

from __future__ import annotations

import pytest

from promethean.template import Limits, Template, TemplateExecError, TemplateParseError


def test_infinite_template_recursion_is_stopped() -> None:
    t = Template("t").parse('{{define "loop"}}x{{template "loop" .}}{{end}}{{template "loop" .}}')
    with pytest.raises(TemplateExecError) as info:
        t.execute()
    assert "exceeded maximum template depth (100)" in str(info.value)


def test_huge_range_is_stopped_by_the_step_limit() -> None:
    t = Template("t", limits=Limits(max_steps=10_000)).parse("{{range 1000000000}}{{end}}")
    with pytest.raises(TemplateExecError) as info:
        t.execute()
    assert "execution exceeds the limit of 10000 steps" in str(info.value)


def test_output_limit() -> None:
    t = Template("t", limits=Limits(max_output=1000)).parse("{{range 2000}}x{{end}}")
    with pytest.raises(TemplateExecError) as info:
        t.execute()
    assert "output exceeds the limit of 1000 bytes" in str(info.value)


def test_doubling_a_string_is_stopped() -> None:
    src = '{{$x := "ab"}}{{range 100}}{{$x = printf "%s%s" $x $x}}{{end}}{{len $x}}'
    t = Template("t", limits=Limits(max_output=1 << 16)).parse(src)
    with pytest.raises(TemplateExecError) as info:
        t.execute()
    assert "result exceeds the output limit" in str(info.value)


def test_deeply_nested_parentheses_fail_cleanly() -> None:
    src = "{{" + "(" * 2000 + "1" + ")" * 2000 + "}}"
    with pytest.raises(TemplateParseError) as info:
        Template("t").parse(src)
    assert str(info.value) == "template: t:1: max expression depth exceeded"
