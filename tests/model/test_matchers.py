"""Label matchers: Prometheus semantics, RE2 regexes, and the fast paths agreeing with RE2."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promethean.model.labels import Labels
from promethean.model.matchers import (
    Matcher,
    MatchType,
    Regex,
    compile_regex,
    matches_labels,
)

EQ, NE, RE, NRE = MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEX, MatchType.NOT_REGEX


@pytest.mark.parametrize(
    ("kind", "pattern", "value", "expected"),
    [
        (EQ, "api", "api", True),
        (EQ, "api", "apix", False),
        (EQ, "", "", True),
        (EQ, "", "x", False),
        (NE, "api", "web", True),
        (NE, "api", "api", False),
        (NE, "", "", False),
        (NE, "", "x", True),
        (RE, "a.*", "abc", True),
        (RE, "a.*", "xabc", False),  # anchored at the start
        (RE, "b", "abc", False),  # anchored at both ends
        (RE, "abc|def", "def", True),
        (RE, "abc|def", "abcdef", False),
        (RE, "a.b", "a\nb", True),  # `.` matches newline (3.x)
        (RE, ".*", "", True),
        (RE, ".*", "multi\nline", True),
        (RE, ".+", "", False),
        (RE, ".+", "\n", True),
        (RE, "", "", True),
        (RE, "", "x", False),
        (RE, "(?i)API", "api", True),
        (RE, "[0-9]+", "123", True),
        (RE, "[0-9]+", "12a", False),
        (RE, "foo.*", "foobar", True),
        (RE, "foo.*", "barfoo", False),
        (RE, ".*foo", "barfoo", True),
        (RE, ".*foo.*", "xfooy", True),
        (RE, ".*foo.*", "fo", False),
        (RE, "a\\.b", "a.b", True),
        (RE, "a\\.b", "axb", False),
        (RE, "(a|b)", "b", True),
        (RE, "(?:a|b)", "c", False),
        (RE, "a|", "", True),
        (RE, "ü|é", "é", True),
        (NRE, "a.*", "abc", False),
        (NRE, "a.*", "b", True),
        (NRE, ".*", "", False),
        (NRE, "", "", False),
    ],
)
def test_matcher_semantics(kind: MatchType, pattern: str, value: str, expected: bool) -> None:
    assert Matcher("l", kind, pattern).matches(value) is expected


def test_absent_label_matches_as_empty_string() -> None:
    lbls = Labels.from_dict({"__name__": "up", "job": "api"})
    assert matches_labels(lbls, [Matcher("env", EQ, "")])
    assert not matches_labels(lbls, [Matcher("env", NE, "")])
    assert matches_labels(lbls, [Matcher("env", RE, "|prod")])
    assert not matches_labels(lbls, [Matcher("env", RE, ".+")])
    assert matches_labels(lbls, [Matcher("job", NE, "")])
    assert matches_labels(lbls, [])


def test_matches_labels_requires_every_matcher() -> None:
    lbls = Labels.from_dict({"__name__": "http_requests_total", "job": "api", "code": "500"})
    both = [Matcher("__name__", EQ, "http_requests_total"), Matcher("code", RE, "5..")]
    assert matches_labels(lbls, both)
    assert not matches_labels(lbls, [*both, Matcher("job", NRE, "api|web")])
    many = Labels.from_dict({f"l{i}": str(i) for i in range(20)})
    matchers = [Matcher(f"l{i}", EQ, str(i)) for i in range(10)]
    assert matches_labels(many, matchers)
    assert not matches_labels(many, [*matchers, Matcher("l3", EQ, "4")])


def test_matcher_is_immutable_hashable_and_equal_by_value() -> None:
    a = Matcher("job", RE, "api|web")
    b = Matcher("job", MatchType("=~"), "api|web")
    assert a == b and hash(a) == hash(b)
    assert {a, b} == {a}
    assert a != Matcher("job", NRE, "api|web")
    with pytest.raises(AttributeError):
        a.value = "x"  # type: ignore[misc]
    assert a.type is MatchType.REGEX
    assert Matcher("job", "!=", "x").type is MatchType.NOT_EQUAL  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("matcher", "text"),
    [
        (Matcher("job", EQ, "api"), 'job="api"'),
        (Matcher("job", NE, "api"), 'job!="api"'),
        (Matcher("job", RE, "a\\.b|c"), 'job=~"a\\\\.b|c"'),
        (Matcher("job", NRE, 'say "hi"\n'), 'job!~"say \\"hi\\"\\n"'),
        (Matcher("some.label", EQ, "v"), '"some.label"="v"'),
        (Matcher("a:b", EQ, "v"), '"a:b"="v"'),
        (Matcher("__name__", EQ, "up"), '__name__="up"'),
    ],
)
def test_matcher_prints_promql(matcher: Matcher, text: str) -> None:
    assert str(matcher) == text


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("(a", 'invalid regular expression "(a": missing ): (a'),
        ("a)", 'invalid regular expression "a)": unexpected ): a)'),
        ("[z-a]", 'invalid regular expression "[z-a]": invalid character class range: z-a'),
        ("(a)\\1", 'invalid regular expression "(a)\\\\1": invalid escape sequence: \\1'),
        ("a**", 'invalid regular expression "a**": bad repetition operator: **'),
        ("(?<=a)b", 'invalid regular expression "(?<=a)b": invalid perl operator: (?<='),
    ],
)
def test_invalid_regex_names_the_pattern(pattern: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        Matcher("job", RE, pattern)
    assert str(info.value) == message
    with pytest.raises(ValueError):
        Matcher("job", NRE, pattern)


def test_invalid_match_type_is_rejected() -> None:
    with pytest.raises(ValueError):
        Matcher("job", "==", "x")  # type: ignore[arg-type]


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    "pattern",
    ["(a+)+$", "(a|aa)+$", "(a*)*b", "(x+x+)+y", "(.*a){20}", "^(([a-z])+.)+[A-Z]([a-z])+$"],
)
def test_catastrophic_backtracking_patterns_finish(pattern: str) -> None:
    """RE2 is linear: patterns that hang backtracking engines return promptly."""
    matcher = Matcher("l", RE, pattern)
    long_input = "a" * 100_000 + "!"
    assert matcher.matches(long_input) is False
    assert Matcher("l", NRE, pattern).matches(long_input) is True


def test_compiled_patterns_are_cached() -> None:
    assert compile_regex("cache.*me") is compile_regex("cache.*me")
    assert Matcher("a", RE, "x|y")._match is not None


def test_regex_groups_and_names() -> None:
    rx = Regex("(?P<host>[^:]+):(\\d+)")
    assert rx.groups("example.org:9090") == ["example.org:9090", "example.org", "9090"]
    assert rx.groups("no port") is None
    assert rx.group_index("host") == 1
    assert rx.group_index("port") is None
    assert Regex("a(x)?b").groups("ab") == ["ab", None]
    assert Regex("(.*)").groups("ünï\ncode") == ["ünï\ncode", "ünï\ncode"]


def test_literal_values_for_index_lookups() -> None:
    assert Matcher("a", EQ, "x").literal_values() == frozenset({"x"})
    assert Matcher("a", RE, "x|y|z").literal_values() == frozenset({"x", "y", "z"})
    assert Matcher("a", RE, "(x|y\\.z)").literal_values() == frozenset({"x", "y.z"})
    assert Matcher("a", RE, "x.*").literal_values() is None
    assert Matcher("a", NE, "x").literal_values() is None
    assert Matcher("a", RE, ".*").matches_empty
    assert not Matcher("a", RE, ".+").matches_empty


_FAST_SHAPES = [
    ".*",
    ".+",
    "(.*)",
    "foo",
    "foo|bar",
    "(foo|bar|)",
    "(?:a\\.b|c)",
    "foo.*",
    ".*foo",
    ".*foo.*",
    ".*f\\.o.*",
    "fo\\.*",
    "a\\|b",
]


@settings(max_examples=150, deadline=None)
@given(
    pattern=st.sampled_from(_FAST_SHAPES),
    value=st.text(alphabet="fobar.|\n\\ü", max_size=8),
)
def test_fast_paths_agree_with_re2(pattern: str, value: str) -> None:
    rx = compile_regex(pattern)
    assert rx.matches(value) is rx._re2_matches(value)


def test_matchers_survive_pickling() -> None:
    matchers = [Matcher("job", RE, "api|web"), Matcher("code", NRE, "5.."), Matcher("a", EQ, "")]
    restored = pickle.loads(pickle.dumps(matchers))
    assert restored == matchers
    assert restored[0].matches("web") and not restored[1].matches("503")
