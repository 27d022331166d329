"""Label sets and the name rules every writer and validator shares."""

from __future__ import annotations

import pytest

from promethean.model.labels import Labels
from promethean.model.names import (
    NameValidationScheme,
    escape_label_value,
    exposition_quote,
    format_series,
    is_valid_label_name,
    is_valid_label_value,
    is_valid_legacy_label_name,
    is_valid_legacy_metric_name,
    is_valid_metric_name,
    label_name_valid,
    metric_name_valid,
    needs_quoting,
    promql_quote,
    quote_name,
)

LONE_SURROGATE = b"bad\xff".decode("utf-8", "surrogateescape")


@pytest.mark.parametrize(
    ("name", "metric", "label"),
    [
        ("up", True, True),
        ("_x", True, True),
        ("__name__", True, True),
        ("a:b", True, False),
        (":a", True, False),
        ("a1", True, True),
        ("1a", False, False),
        ("", False, False),
        ("my.metric", False, False),
        ("a-b", False, False),
        ("ünïcode", False, False),
        ("a b", False, False),
    ],
)
def test_legacy_charset(name: str, metric: bool, label: bool) -> None:
    assert is_valid_legacy_metric_name(name) is metric
    assert is_valid_legacy_label_name(name) is label
    assert metric_name_valid(name, NameValidationScheme.LEGACY) is metric
    assert label_name_valid(name, NameValidationScheme.LEGACY) is label


@pytest.mark.parametrize("name", ["up", "my.metric", "1a", "a b", "ünïcode", "🔥", '"', "\n"])
def test_utf8_names_accept_any_nonempty_valid_utf8(name: str) -> None:
    assert is_valid_metric_name(name)
    assert is_valid_label_name(name)
    assert label_name_valid(name)
    assert metric_name_valid(name)


def test_utf8_names_reject_empty_and_invalid_utf8() -> None:
    assert not is_valid_metric_name("")
    assert not is_valid_label_name("")
    assert not is_valid_metric_name(LONE_SURROGATE)
    assert not is_valid_label_name(LONE_SURROGATE)


def test_label_values_are_any_valid_utf8() -> None:
    assert is_valid_label_value("")
    assert is_valid_label_value("any thing ✓ \n")
    assert not is_valid_label_value(LONE_SURROGATE)


@pytest.mark.parametrize(
    ("name", "as_label", "as_metric"),
    [
        ("job", False, False),
        ("a:b", True, False),
        ("my.metric", True, True),
        ("", True, True),
        ("0x", True, True),
    ],
)
def test_needs_quoting(name: str, as_label: bool, as_metric: bool) -> None:
    assert needs_quoting(name) is as_label
    assert needs_quoting(name, metric_name=True) is as_metric


def test_quoting_forms() -> None:
    assert escape_label_value('a\\b"c\nd') == 'a\\\\b\\"c\\nd'
    assert exposition_quote("tab\there") == '"tab\there"'
    assert promql_quote("tab\there") == '"tab\\there"'
    assert promql_quote('x"y\\z') == '"x\\"y\\\\z"'
    assert promql_quote("\x00\x7f\u00a0é\U0001f525") == '"\\x00\\x7f\\u00a0é\U0001f525"'
    assert promql_quote("\a\b\f\n\r\v") == '"\\a\\b\\f\\n\\r\\v"'
    assert quote_name("job") == "job"
    assert quote_name("some.label") == '"some.label"'
    assert quote_name("a:b", metric_name=True) == "a:b"


def test_format_series_promql_and_exposition() -> None:
    pairs = [("some.label", "v"), ("job", 'a"b')]
    assert format_series("my.metric", pairs) == '{"my.metric", "some.label"="v", job="a\\"b"}'
    assert (
        format_series("my.metric", pairs, promql=False)
        == '{"my.metric","some.label"="v",job="a\\"b"}'
    )
    assert format_series("up", [("job", "x")]) == 'up{job="x"}'
    assert format_series("up", []) == "up"
    assert format_series("", []) == "{}"
    assert format_series("my.metric", []) == '{"my.metric"}'


def test_labels_construction_sorts_and_drops_empty_values() -> None:
    lbls = Labels.from_pairs([("b", "2"), ("a", "1"), ("c", ""), ("a", "3")])
    assert tuple(lbls) == (("a", "3"), ("b", "2"))
    assert Labels.from_dict({"z": "1", "y": ""}) == Labels.from_pairs([("z", "1")])
    assert Labels.empty() == ()
    assert isinstance(lbls, tuple)
    assert hash(lbls) == hash(Labels.from_dict({"a": "3", "b": "2"}))


def test_labels_accessors_and_edits() -> None:
    lbls = Labels.from_dict({"__name__": "up", "job": "api", "instance": "h:1"})
    assert lbls.metric_name == "up"
    assert lbls.get("job") == "api"
    assert lbls.get("nope") == ""
    assert lbls.get("nope", "d") == "d"
    assert lbls.has("job") and not lbls.has("nope")
    assert lbls.names() == ("__name__", "instance", "job")
    assert lbls.as_dict() == {"__name__": "up", "instance": "h:1", "job": "api"}
    assert lbls.with_labels(job="", env="prod").as_dict() == {
        "__name__": "up",
        "env": "prod",
        "instance": "h:1",
    }
    assert lbls.merge({"job": "web"}).get("job") == "web"
    assert lbls.without("job", "instance") == Labels.from_dict({"__name__": "up"})
    assert lbls.only("job") == Labels.from_dict({"job": "api"})
    assert lbls.without_metric_name().names() == ("instance", "job")


def test_labels_str_quotes_what_needs_quoting() -> None:
    assert str(Labels.from_dict({"__name__": "up"})) == "up"
    assert str(Labels.from_dict({"__name__": "up", "a": 'x"\n'})) == 'up{a="x\\"\\n"}'
    assert (
        str(Labels.from_dict({"__name__": "my.metric", "some.label": "v"}))
        == '{"my.metric", "some.label"="v"}'
    )
    assert str(Labels.from_dict({"a": "1", "b": "2"})) == '{a="1", b="2"}'
    assert repr(Labels.from_dict({"a": "1"})) == "Labels(a='1')"


def test_labels_keep_empty_constructor() -> None:
    lbls = Labels.from_pairs_keep_empty([("job", "a"), ("instance", ""), ("job", "b")])
    assert tuple(lbls) == (("instance", ""), ("job", "b"))
    assert isinstance(lbls, Labels)
    assert lbls.has("instance") and lbls.get("instance", "d") == ""
    assert str(lbls) == '{instance="", job="b"}'
    assert Labels.from_pairs(lbls) == Labels.from_pairs([("job", "b")])
