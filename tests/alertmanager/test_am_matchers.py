"""Alertmanager matcher syntax: exact parses and errors, and agreement with the real amtool."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from promethean.alertmanager.matchers import (
    MatcherParseError,
    matcher_string,
    matchers_match,
    matchers_string,
    parse_matcher,
    parse_matchers,
    sort_matchers,
)
from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, MatchType


def _amtool() -> str:
    path = shutil.which("amtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("amtool (Debian package prometheus-alertmanager) is required in CI")
        pytest.skip("amtool not installed (Debian prometheus-alertmanager); interop check skipped")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('foo="bar"', [("foo", "=", "bar")]),
        ("foo=bar", [("foo", "=", "bar")]),
        ("  foo  !=  bar  ", [("foo", "!=", "bar")]),
        ('foo=~"b.*"', [("foo", "=~", "b.*")]),
        ('foo!~"x|y"', [("foo", "!~", "x|y")]),
        ('{a="b",c=~"d"}', [("a", "=", "b"), ("c", "=~", "d")]),
        ('{a="b", c!="d,e"}', [("a", "=", "b"), ("c", "!=", "d,e")]),
        ('foo="ba\\"r"', [("foo", "=", 'ba"r')]),
        ('foo="a\\nb"', [("foo", "=", "a\nb")]),
        ('foo="a\\\\b"', [("foo", "=", "a\\b")]),
        ('foo="a\\qb"', [("foo", "=", "a\\qb")]),
        ("foo=x\\", [("foo", "=", "x\\")]),
        ("foo=", [("foo", "=", "")]),
        ("foo:bar=x", [("foo:bar", "=", "x")]),
        ('foo="ü"', [("foo", "=", "ü")]),
        ('a="b",', [("a", "=", "b")]),
        ('{foo="bar"', [("foo", "=", "bar")]),
        ("", []),
        ("{}", []),
    ],
)
def test_parses(text: str, expected: list[tuple[str, str, str]]) -> None:
    assert [(m.name, m.type.value, m.value) for m in parse_matchers(text)] == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bad-name=x", "bad matcher format: bad-name=x"),
        ("foo", "bad matcher format: foo"),
        ("1a=x", "bad matcher format: 1a=x"),
        ('a="b",,c="d"', "bad matcher format: "),
        ('{{foo="bar"}}', 'bad matcher format: {foo="bar"}'),
        ('foo=ba"r', 'matcher value contains unescaped double quote: ba"r'),
        ('foo="bar', 'matcher value contains unescaped double quote: "bar'),
        ('foo="x\\"', 'matcher value contains unescaped double quote: "x\\"'),
        ('foo=~"("', "error parsing regexp: missing closing ): `^(?:()$`"),
        ('foo=~"[a"', "error parsing regexp: missing closing ]: `[a)$`"),
        ('foo!~"a**"', "error parsing regexp: invalid nested repetition operator: `**`"),
        ('foo=~"\\q"', "error parsing regexp: invalid escape sequence: `\\q`"),
        ('foo=~"*"', "error parsing regexp: missing argument to repetition operator: `*`"),
        ('foo=~"a{2,1}"', "error parsing regexp: invalid repeat count: `{2,1}`"),
    ],
)
def test_errors_are_upstreams(text: str, message: str) -> None:
    with pytest.raises(MatcherParseError) as info:
        parse_matchers(text)
    assert str(info.value) == message


def test_printing_and_sorting_as_upstream() -> None:
    ms = parse_matchers('z="1",a!~"x",a="2",a=~"1",b="q\\"uote"')
    assert matchers_string(sort_matchers(ms)) == '{a=~"1",a="2",a!~"x",b="q\\"uote",z="1"}'
    assert matcher_string(parse_matcher('foo="a\\nb"')) == 'foo="a\\nb"'


def test_matching_reads_absent_labels_as_empty() -> None:
    ms = parse_matchers('cluster!="c1",alertname=~"Test.*"')
    assert matchers_match(ms, Labels.from_dict({"alertname": "TestA"}))
    assert matchers_match(ms, {"alertname": "TestB", "cluster": "c2"})
    assert not matchers_match(ms, {"alertname": "TestB", "cluster": "c1"})
    assert not matchers_match(ms, {"alertname": "Other"})
    # Regexes are fully anchored, RE2 syntax.
    (m,) = parse_matchers('x=~"(?i)abc|[[:digit:]]+"')
    assert m.matches("ABC") and m.matches("42") and not m.matches("abcd")


def test_quoted_utf8_names_as_later_upstream() -> None:
    ms = parse_matchers('{"service.name"="api", a=b}')
    assert [(m.name, m.value) for m in ms] == [("service.name", "api"), ("a", "b")]
    assert matchers_string(ms) == '{"service.name"="api",a="b"}'
    with pytest.raises(MatcherParseError) as info:
        parse_matchers('""=x')
    assert str(info.value) == 'bad matcher format: ""=x'


def test_returns_shared_matcher_objects() -> None:
    (m,) = parse_matchers("a!=b")
    assert m == Matcher("a", MatchType.NOT_EQUAL, "b")


# Inputs compared with amtool 0.25 (it parses config ``matchers:`` with this parser and
# prints the parsed, sorted matchers in ``amtool config routes``).
_INTEROP_INPUTS = [
    'foo="bar"',
    "foo=bar",
    "foo = bar",
    '  foo  =~  "b.*"  ',
    '{foo="bar",baz!="qux"}',
    '{foo="bar", baz!~"q|x"}',
    'foo="ba,r"',
    'foo="ba\\"r"',
    'foo="ba\\\\r"',
    'foo="ba\\nr"',
    'foo="ba\\qr"',
    'foo=ba"r',
    'foo="bar',
    'foo=bar"',
    'foo="bar"baz"',
    "foo=",
    "foo!=",
    "bad-name=x",
    "foo",
    'foo=~"("',
    'foo=~"[a"',
    'foo!~"a**"',
    'foo=~"\\q"',
    "foo:bar=x",
    '{foo="bar"',
    'foo="bar"}',
    '{{foo="bar"}}',
    'a="b",,c="d"',
    'a="b",',
    ',a="b"',
    'foo="x\\"',
    "foo=x\\",
    'foo="ü"',
    'foo=~"\\p{Greek}"',
    'z="1",a="2",a=~"1"',
    'a=~"x",a="x",a!="x",a!~"x"',
    "foo=\tbar",
    'foo="\\"",x="y"',
    'foo=\\"a,b\\"',
]


def _amtool_parse(amtool: str, tmp: Path, text: str) -> str:
    quoted = "'" + text.replace("'", "''") + "'"
    cfg = tmp / "am.yml"
    cfg.write_text(
        "route:\n  receiver: r\n  routes:\n    - receiver: r\n"
        f"      matchers: [{quoted}]\nreceivers: [{{name: r}}]\n"
    )
    check = subprocess.run([amtool, "check-config", str(cfg)], capture_output=True, text=True)
    if check.returncode != 0:
        return "ERR " + check.stdout.split("FAILED: ", 1)[1].rstrip("\n")
    tree = subprocess.run(
        [amtool, "config", "routes", f"--config.file={cfg}"], capture_output=True, text=True
    )
    line = tree.stdout.splitlines()[3]
    return line.split("── ", 1)[1].rsplit("  receiver: r", 1)[0]


def _ours(text: str) -> str:
    try:
        return matchers_string(sort_matchers(parse_matchers(text)))
    except MatcherParseError as exc:
        return f"ERR {exc}"


def test_agrees_with_amtool(tmp_path: Path) -> None:
    amtool = _amtool()
    mismatches = []
    for text in _INTEROP_INPUTS:
        theirs, ours = _amtool_parse(amtool, tmp_path, text), _ours(text)
        if theirs != ours:
            mismatches.append((text, theirs, ours))
    assert mismatches == []
