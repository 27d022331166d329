"""Relabelling: every action, Go's template expansion, and every config error."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from promethean.model.labels import Labels
from promethean.model.names import NameValidationScheme
from promethean.model.relabel import (
    RelabelAction,
    RelabelConfig,
    RelabelRules,
    check_relabel_config,
    load_relabel_configs,
    relabel,
)

LEGACY = NameValidationScheme.LEGACY


def L(**kv: str) -> Labels:
    return Labels.from_dict(kv)


def run(labels: Labels, *items: dict[str, Any], **kw: Any) -> dict[str, str] | None:
    out = relabel(labels, load_relabel_configs(items), **kw)
    return None if out is None else out.as_dict()


BASE = L(a="foo", b="bar", c="baz")

CASES: list[tuple[str, Labels, list[dict[str, Any]], dict[str, str] | None]] = [
    # replace
    (
        "replace with capture",
        BASE,
        [
            {
                "source_labels": ["a"],
                "regex": "f(.*)",
                "target_label": "d",
                "replacement": "ch${1}-ch${1}",
            }
        ],
        {"a": "foo", "b": "bar", "c": "baz", "d": "choo-choo"},
    ),
    (
        "replace joins sources with separator",
        BASE,
        [{"source_labels": ["a", "b"], "separator": "|", "target_label": "d"}],
        {"a": "foo", "b": "bar", "c": "baz", "d": "foo|bar"},
    ),
    (
        "default separator is ;",
        BASE,
        [{"source_labels": ["a", "missing", "b"], "target_label": "d"}],
        {"a": "foo", "b": "bar", "c": "baz", "d": "foo;;bar"},
    ),
    (
        "no match leaves labels alone",
        BASE,
        [{"source_labels": ["a"], "regex": "x(.*)", "target_label": "d"}],
        {"a": "foo", "b": "bar", "c": "baz"},
    ),
    (
        "regex is anchored",
        BASE,
        [{"source_labels": ["a"], "regex": "o", "target_label": "d", "replacement": "hit"}],
        {"a": "foo", "b": "bar", "c": "baz"},
    ),
    (
        "empty result deletes the target",
        BASE,
        [{"source_labels": ["missing"], "target_label": "a"}],
        {"b": "bar", "c": "baz"},
    ),
    (
        "literal replacement on empty input sets the label",
        BASE,
        [{"target_label": "d", "replacement": "fixed"}],
        {"a": "foo", "b": "bar", "c": "baz", "d": "fixed"},
    ),
    (
        "templated target label",
        BASE,
        [
            {
                "source_labels": ["a"],
                "regex": "(f)(o+)",
                "target_label": "${1}_$2",
                "replacement": "v",
            }
        ],
        {"a": "foo", "b": "bar", "c": "baz", "f_oo": "v"},
    ),
    (
        "templated target: any non-empty UTF-8 name is valid in 3.x",
        L(a="1foo"),
        [{"source_labels": ["a"], "regex": "(.*)", "target_label": "$1", "replacement": "x"}],
        {"a": "1foo", "1foo": "x"},
    ),
    (
        "templated target producing an empty name skips the assignment",
        L(a="foo"),
        [{"source_labels": ["a"], "regex": "(x)?foo", "target_label": "${1}", "replacement": "v"}],
        {"a": "foo"},
    ),
    (
        "dot matches newline",
        L(a="line1\nline2"),
        [{"source_labels": ["a"], "regex": "line1.(.*)", "target_label": "d"}],
        {"a": "line1\nline2", "d": "line2"},
    ),
    (
        "explicit null regex is the empty pattern",
        L(a="foo"),
        [{"source_labels": ["missing"], "regex": None, "target_label": "d", "replacement": "e"}],
        {"a": "foo", "d": "e"},
    ),
    # keep / drop
    (
        "keep match",
        BASE,
        [{"source_labels": ["a"], "regex": "f.*", "action": "keep"}],
        BASE.as_dict(),
    ),
    ("keep no match", BASE, [{"source_labels": ["a"], "regex": "b.*", "action": "keep"}], None),
    ("drop match", BASE, [{"source_labels": ["a"], "regex": "f.*", "action": "drop"}], None),
    (
        "drop no match",
        BASE,
        [{"source_labels": ["a"], "regex": "x", "action": "drop"}],
        BASE.as_dict(),
    ),
    (
        "keep absent matches empty",
        BASE,
        [{"source_labels": ["z"], "regex": "", "action": "keep"}],
        BASE.as_dict(),
    ),
    (
        "action is case-insensitive",
        BASE,
        [{"source_labels": ["a"], "regex": "foo", "action": "DROP"}],
        None,
    ),
    (
        "multi-source keep",
        BASE,
        [{"source_labels": ["a", "b"], "regex": "foo;bar", "action": "keep"}],
        BASE.as_dict(),
    ),
    # keepequal / dropequal
    (
        "keepequal equal",
        L(a="x", b="x"),
        [{"source_labels": ["a"], "target_label": "b", "action": "keepequal"}],
        {"a": "x", "b": "x"},
    ),
    (
        "keepequal differ",
        L(a="x", b="y"),
        [{"source_labels": ["a"], "target_label": "b", "action": "keepequal"}],
        None,
    ),
    (
        "dropequal equal",
        L(a="x", b="x"),
        [{"source_labels": ["a"], "target_label": "b", "action": "dropequal"}],
        None,
    ),
    (
        "dropequal differ",
        L(a="x", b="y"),
        [{"source_labels": ["a"], "target_label": "b", "action": "dropequal"}],
        {"a": "x", "b": "y"},
    ),
    (
        "dropequal both absent",
        L(a="x"),
        [{"source_labels": ["m"], "target_label": "n", "action": "dropequal"}],
        None,
    ),
    # hashmod (values agree with Go; see test_relabel_interop.py)
    (
        "hashmod",
        BASE,
        [{"source_labels": ["c"], "target_label": "d", "modulus": 1000, "action": "hashmod"}],
        {"a": "foo", "b": "bar", "c": "baz", "d": "976"},
    ),
    (
        "hashmod of empty input",
        L(a="x"),
        [{"source_labels": ["m"], "target_label": "d", "modulus": 1000, "action": "hashmod"}],
        {"a": "x", "d": "958"},
    ),
    # labelmap
    (
        "labelmap copies matching names",
        L(__meta_x_foo="1", __meta_x_bar="2", other="o"),
        [{"action": "labelmap", "regex": "__meta_x_(.+)"}],
        {"__meta_x_foo": "1", "__meta_x_bar": "2", "other": "o", "foo": "1", "bar": "2"},
    ),
    (
        "labelmap with template",
        L(src_a="1", b="2"),
        [{"action": "labelmap", "regex": "src_(.)", "replacement": "dst_${1}_x"}],
        {"src_a": "1", "b": "2", "dst_a_x": "1"},
    ),
    (
        "labelmap collision: later label in visiting order wins",
        L(x_a="1", y_a="2"),
        [{"action": "labelmap", "regex": "[xy]_(a)"}],
        {"x_a": "1", "y_a": "2", "a": "2"},
    ),
    (
        "labelmap visits labels set by earlier rules after the input labels",
        L(z_a="1"),
        [
            {"target_label": "b_a", "replacement": "2"},
            {"action": "labelmap", "regex": "[bz]_(a)"},
        ],
        {"z_a": "1", "b_a": "2", "a": "2"},
    ),
    # labeldrop / labelkeep
    ("labeldrop", BASE, [{"action": "labeldrop", "regex": "a|b"}], {"c": "baz"}),
    ("labeldrop is anchored", BASE, [{"action": "labeldrop", "regex": "a.+"}], BASE.as_dict()),
    ("labelkeep", BASE, [{"action": "labelkeep", "regex": "[ab]"}], {"a": "foo", "b": "bar"}),
    ("labelkeep nothing", BASE, [{"action": "labelkeep", "regex": "z"}], {}),
    # lowercase / uppercase
    (
        "lowercase",
        L(a="FoO"),
        [{"source_labels": ["a"], "target_label": "b", "action": "lowercase"}],
        {"a": "FoO", "b": "foo"},
    ),
    (
        "uppercase",
        L(a="FoO", c="x"),
        [{"source_labels": ["a", "c"], "target_label": "b", "action": "uppercase"}],
        {"a": "FoO", "c": "x", "b": "FOO;X"},
    ),
    (
        "uppercase maps rune by rune as Go",
        L(a="straße ǆ"),
        [{"source_labels": ["a"], "target_label": "a", "action": "uppercase"}],
        {"a": "STRAßE Ǆ"},
    ),
    (
        "lowercase İ is one rune",
        L(a="İSTANBUL"),
        [{"source_labels": ["a"], "target_label": "a", "action": "lowercase"}],
        {"a": "istanbul"},
    ),
    (
        "lowercase of absent deletes target",
        L(a="x", b="y"),
        [{"source_labels": ["m"], "target_label": "b", "action": "lowercase"}],
        {"a": "x"},
    ),
    # chains
    (
        "rules see earlier results",
        L(a="foo"),
        [
            {"source_labels": ["a"], "target_label": "b", "replacement": "$1-x"},
            {"source_labels": ["b"], "regex": "foo-x", "action": "drop"},
        ],
        None,
    ),
    (
        "deleted then set again",
        L(a="foo", b="bar"),
        [
            {"action": "labeldrop", "regex": "b"},
            {"source_labels": ["b"], "target_label": "c", "replacement": "was-empty-$1"},
            {"source_labels": ["a"], "target_label": "b"},
        ],
        {"a": "foo", "b": "foo", "c": "was-empty-"},
    ),
]


@pytest.mark.parametrize(
    ("labels", "items", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_relabel_actions(
    labels: Labels, items: list[dict[str, Any]], expected: dict[str, str] | None
) -> None:
    assert run(labels, *items) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$1", "foo"),
        ("${1}", "foo"),
        ("$1x", ""),  # Go: the group named `1x`, which does not exist
        ("${1}x", "foox"),
        ("$$1", "$1"),
        ("$$", "$"),
        ("$", "$"),
        ("a$", "a$"),
        ("${1", "${1"),
        ("${}", "${}"),
        ("$-", "$-"),
        ("$0", "foo:bar"),
        ("$2", "bar"),
        ("$3", ""),
        ("$02", ""),  # leading zero makes it a name
        ("$name", "bar"),
        ("${name}!", "bar!"),
        ("$name_x", ""),
        ("$nope", ""),
        ("$1:$name", "foo:bar"),
        ("$ü", ""),
        ("pre-${1}-post", "pre-foo-post"),
    ],
)
def test_replacement_expansion_follows_go(template: str, expected: str) -> None:
    item = {
        "source_labels": ["x"],
        "regex": "(.*):(?P<name>.*)",
        "target_label": "out",
        "replacement": template,
    }
    result = run(L(x="foo:bar"), item)
    assert result is not None
    assert result.get("out", "") == expected


def test_unchanged_labels_are_returned_as_is() -> None:
    cfgs = load_relabel_configs([{"source_labels": ["a"], "regex": "foo", "action": "keep"}])
    assert relabel(BASE, cfgs) is BASE
    assert relabel(BASE, []) is BASE


def test_legacy_scheme_limits_templated_targets() -> None:
    item = {"source_labels": ["a"], "regex": "(.*)", "target_label": "x_$1", "replacement": "v"}
    assert run(L(a="b.c"), item) == {"a": "b.c", "x_b.c": "v"}
    assert run(L(a="b.c"), item, scheme=LEGACY) == {"a": "b.c"}


def test_defaults_match_upstream() -> None:
    cfg = RelabelConfig(target_label="t")
    assert cfg.source_labels is None
    assert cfg.separator == ";"
    assert cfg.regex == "(.*)"
    assert cfg.replacement == "$1"
    assert cfg.action is RelabelAction.REPLACE
    assert cfg.modulus == 0
    assert cfg.regex_is_default


def test_config_from_yaml_is_frozen_and_hashable() -> None:
    doc = yaml.safe_load(
        """
        - source_labels: [__meta_kubernetes_pod_label_app]
          regex: (.+)
          target_label: app
        - action: hashmod
          source_labels: [__address__]
          modulus: 4
          target_label: __tmp_shard
        """
    )
    cfgs = load_relabel_configs(doc)
    assert cfgs[1].action is RelabelAction.HASHMOD
    assert cfgs[0].source_labels == ("__meta_kubernetes_pod_label_app",)
    with pytest.raises(ValidationError):
        cfgs[0].regex = "x"  # type: ignore[misc]
    assert hash(cfgs[0]) == hash(load_relabel_configs(doc)[0])
    assert cfgs == load_relabel_configs(doc)
    assert cfgs[0] != cfgs[1]


def _error(item: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        RelabelConfig.model_validate(item)
    errors = info.value.errors()
    assert len(errors) == 1
    loc = ".".join(str(p) for p in errors[0]["loc"])
    return f"{loc}: {errors[0]['msg']}" if loc else errors[0]["msg"]


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"action": None}, "action: Value error, relabel action cannot be empty"),
        ({"action": "explode"}, 'action: Value error, unknown relabel action "explode"'),
        ({"action": ""}, 'action: Value error, unknown relabel action ""'),
        (
            {"regex": "(a", "target_label": "x"},
            'regex: Value error, invalid regular expression "(a": missing ): (a',
        ),
        (
            {"source_labels": [""], "target_label": "x"},
            'source_labels: Value error, "" is not a valid label name',
        ),
        (
            {"modulus": -1, "action": "hashmod", "target_label": "x"},
            "modulus: Value error, modulus -1 is not an unsigned 64-bit integer",
        ),
        ({"bogus": 1}, "bogus: Extra inputs are not permitted"),
        (
            {"action": "hashmod", "target_label": "x"},
            "Value error, relabel configuration for hashmod requires non-zero modulus",
        ),
        ({}, "Value error, relabel configuration for replace action requires 'target_label' value"),
        (
            {"action": "hashmod", "modulus": 3},
            "Value error, relabel configuration for hashmod action requires 'target_label' value",
        ),
        (
            {"action": "lowercase"},
            "Value error, relabel configuration for lowercase action requires 'target_label' value",
        ),
        (
            {"action": "uppercase"},
            "Value error, relabel configuration for uppercase action requires 'target_label' value",
        ),
        (
            {"action": "keepequal"},
            "Value error, relabel configuration for keepequal action requires 'target_label' value",
        ),
        (
            {"action": "dropequal"},
            "Value error, relabel configuration for dropequal action requires 'target_label' value",
        ),
        (
            {"action": "lowercase", "target_label": "x", "replacement": "y"},
            "Value error, 'replacement' can not be set for lowercase action",
        ),
        (
            {"action": "uppercase", "target_label": "x", "replacement": "$2"},
            "Value error, 'replacement' can not be set for uppercase action",
        ),
        (
            {"action": "keepequal", "target_label": "x", "replacement": "y"},
            "Value error, 'replacement' can not be set for keepequal action",
        ),
        (
            {"action": "dropequal", "target_label": "x", "regex": "(.*)"},
            "Value error, dropequal action requires only 'source_labels' and `target_label`, "
            "and no other fields",
        ),
        (
            {"action": "keepequal", "target_label": "x", "separator": ","},
            "Value error, keepequal action requires only 'source_labels' and `target_label`, "
            "and no other fields",
        ),
        (
            {"action": "keepequal", "target_label": "x", "modulus": 2},
            "Value error, keepequal action requires only 'source_labels' and `target_label`, "
            "and no other fields",
        ),
        (
            {"action": "labeldrop", "source_labels": ["a"]},
            "Value error, labeldrop action requires only 'regex', and no other fields",
        ),
        (
            {"action": "labeldrop", "source_labels": []},
            "Value error, labeldrop action requires only 'regex', and no other fields",
        ),
        (
            {"action": "labelkeep", "target_label": "x"},
            "Value error, labelkeep action requires only 'regex', and no other fields",
        ),
        (
            {"action": "labelkeep", "replacement": "x"},
            "Value error, labelkeep action requires only 'regex', and no other fields",
        ),
        (
            {"action": "labelkeep", "separator": ","},
            "Value error, labelkeep action requires only 'regex', and no other fields",
        ),
        (
            {"action": "labeldrop", "modulus": 1},
            "Value error, labeldrop action requires only 'regex', and no other fields",
        ),
    ],
)
def test_config_errors(item: dict[str, Any], message: str) -> None:
    assert _error(item) == message


def test_labeldrop_accepts_null_source_labels() -> None:
    cfg = RelabelConfig.model_validate({"action": "labeldrop", "regex": "x", "source_labels": None})
    assert cfg.action is RelabelAction.LABELDROP


@pytest.mark.parametrize(
    ("item", "utf8_ok", "legacy_message"),
    [
        ({"target_label": "a.b"}, True, "\"a.b\" is invalid 'target_label' for replace action"),
        ({"target_label": "1x"}, True, "\"1x\" is invalid 'target_label' for replace action"),
        ({"target_label": "a-$1"}, True, "\"a-$1\" is invalid 'target_label' for replace action"),
        ({"target_label": "${1}_x$name"}, True, None),
        (
            {"action": "labelmap", "replacement": "a.$1"},
            True,
            "\"a.$1\" is invalid 'replacement' for labelmap action",
        ),
        (
            {"action": "hashmod", "modulus": 2, "target_label": "$1"},
            True,
            "\"$1\" is invalid 'target_label' for hashmod action",
        ),
        (
            {"action": "lowercase", "target_label": "a.b"},
            True,
            "\"a.b\" is invalid 'target_label' for lowercase action",
        ),
        (
            {"action": "keepequal", "target_label": "a b"},
            True,
            "\"a b\" is invalid 'target_label' for keepequal action",
        ),
    ],
)
def test_name_rules_by_scheme(
    item: dict[str, Any], utf8_ok: bool, legacy_message: str | None
) -> None:
    cfg = RelabelConfig.model_validate(item)  # 3.x default: UTF-8 names
    assert utf8_ok
    if legacy_message is None:
        check_relabel_config(cfg, LEGACY)
    else:
        with pytest.raises(ValueError) as info:
            check_relabel_config(cfg, LEGACY)
        assert str(info.value) == legacy_message


def test_large_modulus_is_uint64() -> None:
    cfg = RelabelConfig(action="hashmod", modulus=2**64 - 1, target_label="h", source_labels=("a",))
    assert relabel(L(a="baz"), [cfg]) is not None
    with pytest.raises(ValidationError):
        RelabelConfig(action="hashmod", modulus=2**64, target_label="h")


@pytest.mark.timeout(20)
def test_catastrophic_regex_in_relabel_finishes() -> None:
    cfgs = load_relabel_configs([{"source_labels": ["a"], "regex": "(a+)+$", "action": "drop"}])
    assert relabel(L(a="a" * 100_000 + "!"), cfgs) is not None


def test_compiled_rules_give_the_same_results() -> None:
    items = [
        {"source_labels": ["a"], "regex": "f(.*)", "target_label": "d"},
        {"action": "labeldrop", "regex": "b"},
    ]
    rules = RelabelRules(load_relabel_configs(items))
    assert len(rules) == 2 and rules
    assert rules.apply(BASE) == relabel(BASE, load_relabel_configs(items))
    assert rules.apply(BASE) == L(a="foo", c="baz", d="oo")
    assert not RelabelRules([])
    assert RelabelRules([]).apply(BASE) is BASE
    legacy = RelabelRules(
        load_relabel_configs(
            [{"source_labels": ["a"], "target_label": "x.$1", "replacement": "v"}]
        ),
        LEGACY,
    )
    assert legacy.apply(L(a="b")) == L(a="b")


def test_configs_survive_pickling() -> None:
    cfgs = load_relabel_configs(
        [
            {"source_labels": ["a"], "regex": "f(.*)", "target_label": "d"},
            {"action": "labeldrop", "regex": "b"},
        ]
    )
    restored = pickle.loads(pickle.dumps(cfgs))
    assert restored == cfgs
    assert relabel(BASE, restored) == L(a="foo", c="baz", d="oo")
