"""Relabelling: the ``relabel_configs`` rules that rewrite, keep or drop label sets.

Semantics follow Go Prometheus exactly, because users move configs between
the two and shard with ``hashmod`` across mixed fleets:

* Rules run in order on a working set that behaves like Go's
  ``labels.Builder`` (including the order ``labelmap`` visits labels: the
  unchanged input labels sorted by name, then the ones set since, in the order
  they were first set), so label-name collisions resolve the same way.
* ``regex`` is anchored as ``^(?s:regex)$`` and run by RE2; ``replacement``
  and templated ``target_label`` expand ``$1``/``${1}``/``$name``/``${name}``/
  ``$$`` with Go's ``regexp.Expand`` rules.
* ``hashmod`` is md5 of the joined values, last 8 bytes as a big-endian
  unsigned 64-bit integer, modulo ``modulus``.
* Validation rejects every combination upstream rejects, with its message.

Relabelling runs per scraped series when ``metric_relabel_configs`` exist, so
each rule is compiled once (regex, template, action) into a closure kept on
the frozen config object, and an untouched label set is returned as is.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator, model_validator

from promethean.model.labels import Labels
from promethean.model.matchers import Regex, compile_regex
from promethean.model.names import NameValidationScheme, label_name_valid, promql_quote

__all__ = [
    "DEFAULT_REGEX",
    "DEFAULT_REPLACEMENT",
    "DEFAULT_SEPARATOR",
    "RelabelAction",
    "RelabelConfig",
    "RelabelRules",
    "check_relabel_config",
    "expand",
    "load_relabel_configs",
    "parse_template",
    "relabel",
]

DEFAULT_SEPARATOR = ";"
DEFAULT_REGEX = "(.*)"
DEFAULT_REPLACEMENT = "$1"
_MAX_UINT64 = 2**64 - 1


class RelabelAction(StrEnum):
    REPLACE = "replace"
    KEEP = "keep"
    DROP = "drop"
    KEEPEQUAL = "keepequal"
    DROPEQUAL = "dropequal"
    HASHMOD = "hashmod"
    LABELMAP = "labelmap"
    LABELDROP = "labeldrop"
    LABELKEEP = "labelkeep"
    LOWERCASE = "lowercase"
    UPPERCASE = "uppercase"


_NEEDS_TARGET = frozenset(
    {
        RelabelAction.REPLACE,
        RelabelAction.HASHMOD,
        RelabelAction.LOWERCASE,
        RelabelAction.UPPERCASE,
        RelabelAction.KEEPEQUAL,
        RelabelAction.DROPEQUAL,
    }
)
_FIXED_TARGET = frozenset(
    {
        RelabelAction.LOWERCASE,
        RelabelAction.UPPERCASE,
        RelabelAction.KEEPEQUAL,
        RelabelAction.DROPEQUAL,
    }
)

# Legacy-charset target with $var / ${var} references (upstream's relabelTarget).
_LEGACY_TEMPLATED_NAME = r"(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+"


class RelabelConfig(BaseModel):
    """One ``relabel_config`` entry; field names and defaults as in prometheus.yml."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source_labels: tuple[str, ...] | None = None
    separator: str = DEFAULT_SEPARATOR
    regex: str = DEFAULT_REGEX
    modulus: int = 0
    target_label: str = ""
    replacement: str = DEFAULT_REPLACEMENT
    action: RelabelAction = RelabelAction.REPLACE

    _step: Callable[[_Builder, Callable[[str], bool]], bool] = PrivateAttr()

    @field_validator("separator", "regex", "target_label", "replacement", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        # YAML `regex:` with no value is Go's zero value: the empty string.
        return "" if value is None else value

    @field_validator("modulus", mode="before")
    @classmethod
    def _null_modulus(cls, value: Any) -> Any:
        return 0 if value is None else value

    @field_validator("modulus")
    @classmethod
    def _uint64(cls, value: int) -> int:
        if not 0 <= value <= _MAX_UINT64:
            raise ValueError(f"modulus {value} is not an unsigned 64-bit integer")
        return value

    @field_validator("action", mode="before")
    @classmethod
    def _action(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("relabel action cannot be empty")
        if isinstance(value, str):
            try:
                return RelabelAction(value.lower())
            except ValueError:
                raise ValueError(f"unknown relabel action {promql_quote(value)}") from None
        return value

    @field_validator("source_labels")
    @classmethod
    def _source_names(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for name in value or ():
            if not label_name_valid(name):
                raise ValueError(f"{promql_quote(name)} is not a valid label name")
        return value

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, value: str) -> str:
        compile_regex(value)  # raises ValueError naming the pattern
        return value

    @model_validator(mode="after")
    def _combination(self) -> RelabelConfig:
        check_relabel_config(self)
        return self

    def model_post_init(self, context: Any, /) -> None:
        self._step = _compile(self)

    def __eq__(self, other: object) -> bool:
        # By configured values only: the compiled closure differs per instance.
        if not isinstance(other, RelabelConfig):
            return NotImplemented
        return self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash(tuple(self.__dict__.values()))

    def __getstate__(self) -> dict[Any, Any]:
        # The compiled closure does not pickle; it is rebuilt on load.
        state = dict(super().__getstate__())
        state["__pydantic_private__"] = None
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        super().__setstate__(state)
        object.__setattr__(self, "__pydantic_private__", {"_step": _compile(self)})

    @property
    def regex_is_default(self) -> bool:
        """Unset ``regex`` (upstream tells it apart from an explicit ``(.*)``)."""
        return "regex" not in self.model_fields_set


def check_relabel_config(
    cfg: RelabelConfig, scheme: NameValidationScheme = NameValidationScheme.UTF8
) -> None:
    """Raise ValueError for a combination upstream rejects.

    The model runs this with Prometheus 3.x's UTF-8 name rules; a scrape config
    using ``metric_name_validation_scheme: legacy`` calls it again with
    ``NameValidationScheme.LEGACY``.
    """
    action = cfg.action
    target = cfg.target_label

    def valid(name: str) -> bool:
        return label_name_valid(name, scheme)

    def valid_templated(name: str) -> bool:
        if scheme is NameValidationScheme.LEGACY:
            return compile_regex(_LEGACY_TEMPLATED_NAME).matches(name)
        return label_name_valid(name, scheme)

    bad_target = f"{promql_quote(target)} is invalid 'target_label' for {action} action"
    if action is RelabelAction.HASHMOD and cfg.modulus == 0:
        raise ValueError("relabel configuration for hashmod requires non-zero modulus")
    if action in _NEEDS_TARGET and target == "":
        raise ValueError(f"relabel configuration for {action} action requires 'target_label' value")
    if action is RelabelAction.REPLACE:
        if "$" not in target and not valid(target):
            raise ValueError(bad_target)
        if "$" in target and not valid_templated(target):
            raise ValueError(bad_target)
    if action in _FIXED_TARGET:
        if not valid(target):
            raise ValueError(bad_target)
        if cfg.replacement != DEFAULT_REPLACEMENT:
            raise ValueError(f"'replacement' can not be set for {action} action")
    if action is RelabelAction.LABELMAP and not valid_templated(cfg.replacement):
        raise ValueError(
            f"{promql_quote(cfg.replacement)} is invalid 'replacement' for {action} action"
        )
    if action is RelabelAction.HASHMOD and not valid(target):
        raise ValueError(bad_target)
    if action in (RelabelAction.KEEPEQUAL, RelabelAction.DROPEQUAL) and (
        not cfg.regex_is_default
        or cfg.modulus != 0
        or cfg.separator != DEFAULT_SEPARATOR
        or cfg.replacement != DEFAULT_REPLACEMENT
    ):
        raise ValueError(
            f"{action} action requires only 'source_labels' and `target_label`, and no other fields"
        )
    if action in (RelabelAction.LABELDROP, RelabelAction.LABELKEEP) and (
        cfg.source_labels is not None
        or target != ""
        or cfg.modulus != 0
        or cfg.separator != DEFAULT_SEPARATOR
        or cfg.replacement != DEFAULT_REPLACEMENT
    ):
        raise ValueError(f"{action} action requires only 'regex', and no other fields")


def relabel(
    labels: Labels,
    configs: Sequence[RelabelConfig] | RelabelRules,
    *,
    scheme: NameValidationScheme = NameValidationScheme.UTF8,
) -> Labels | None:
    """Apply ``configs`` in order; ``None`` means the label set was dropped.

    ``scheme`` decides which label names a templated ``target_label`` may
    produce (an invalid result skips that assignment, as upstream does). On
    hot paths pass a :class:`RelabelRules` built once.
    """
    if isinstance(configs, RelabelRules):
        steps = configs.steps
    else:
        steps = tuple(_step_of(cfg) for cfg in configs)
    if not steps:
        return labels
    valid = _UTF8_VALID if scheme is NameValidationScheme.UTF8 else _LEGACY_VALID
    builder = _Builder(labels)
    for step in steps:
        if not step(builder, valid):
            return None
    return builder.labels()


class RelabelRules:
    """A compiled, reusable list of rules: build once per scrape config, apply per series."""

    __slots__ = ("configs", "scheme", "steps")

    def __init__(
        self,
        configs: Iterable[RelabelConfig],
        scheme: NameValidationScheme = NameValidationScheme.UTF8,
    ) -> None:
        self.configs = tuple(configs)
        self.scheme = scheme
        self.steps = tuple(_step_of(cfg) for cfg in self.configs)

    def apply(self, labels: Labels) -> Labels | None:
        return relabel(labels, self, scheme=self.scheme)

    def __len__(self) -> int:
        return len(self.steps)

    def __bool__(self) -> bool:
        return bool(self.steps)


def _step_of(cfg: RelabelConfig) -> _Step:
    # Reading the private slot directly: pydantic's attribute hook costs ~2 us per access.
    private = cfg.__pydantic_private__
    step: _Step = private["_step"] if private else cfg._step
    return step


def _utf8_valid(name: str) -> bool:
    return label_name_valid(name, NameValidationScheme.UTF8)


def _legacy_valid(name: str) -> bool:
    return label_name_valid(name, NameValidationScheme.LEGACY)


_UTF8_VALID: Callable[[str], bool] = _utf8_valid
_LEGACY_VALID: Callable[[str], bool] = _legacy_valid


class _Builder:
    """Go's ``labels.Builder``: the input, the labels set since, the labels deleted."""

    __slots__ = ("_base", "_base_map", "added", "deleted")

    def __init__(self, base: Labels) -> None:
        self._base = base
        self._base_map: dict[str, str] | None = None
        self.added: dict[str, str] = {}
        self.deleted: set[str] = set()

    def get(self, name: str) -> str:
        value = self.added.get(name)
        if value is not None:
            return value
        if name in self.deleted:
            return ""
        base_map = self._base_map
        if base_map is None:
            base_map = self._base_map = dict(self._base)
        return base_map.get(name, "")

    def set(self, name: str, value: str) -> None:
        if value == "":
            self.delete(name)
        else:
            self.added[name] = value

    def delete(self, name: str) -> None:
        self.added.pop(name, None)
        self.deleted.add(name)

    def snapshot(self) -> list[tuple[str, str]]:
        """Current labels in the order Go's ``Builder.Range`` visits them."""
        added, deleted = self.added, self.deleted
        if not added and not deleted:
            return list(self._base)
        out = [p for p in self._base if p[0] not in deleted and p[0] not in added]
        out.extend(added.items())
        return out

    def labels(self) -> Labels:
        if not self.added and not self.deleted:
            return self._base
        merged = {k: v for k, v in self._base if k not in self.deleted}
        merged.update(self.added)
        return Labels.from_dict(merged)


# --- replacement templates (Go's regexp.Expand) ---------------------------------

_Template = tuple[str | int, ...]  # literal text, or the index of a group to insert


def _template_name(text: str, start: int) -> tuple[str, int] | None:
    """The group name after a ``$`` at ``start``, and where the reference ends."""
    pos = start
    brace = pos < len(text) and text[pos] == "{"
    if brace:
        pos += 1
    begin = pos
    while pos < len(text):
        ch = text[pos]
        if ch == "_" or ch.isalpha() or ch.isdecimal():
            pos += 1
        else:
            break
    if pos == begin:
        return None
    name = text[begin:pos]
    if brace:
        if pos >= len(text) or text[pos] != "}":
            return None
        pos += 1
    return name, pos


def _group_number(name: str) -> int:
    """Go's rule: ASCII digits without a leading zero, below 1e8; else -1 (a name)."""
    num = 0
    for ch in name:
        if not "0" <= ch <= "9" or num >= 100_000_000:
            return -1
        num = num * 10 + ord(ch) - 48
    if name[0] == "0" and len(name) > 1:
        return -1
    return num


def parse_template(template: str, regex: Regex) -> _Template:
    parts: list[str | int] = []
    literal: list[str] = []
    pos = 0
    while True:
        dollar = template.find("$", pos)
        if dollar < 0:
            literal.append(template[pos:])
            break
        literal.append(template[pos:dollar])
        pos = dollar + 1
        if pos < len(template) and template[pos] == "$":
            literal.append("$")
            pos += 1
            continue
        found = _template_name(template, pos)
        if found is None:
            literal.append("$")  # malformed reference: the $ stays as text
            continue
        name, pos = found
        num = _group_number(name)
        index = (num if num <= regex.group_count else None) if num >= 0 else regex.group_index(name)
        if index is not None:
            parts.append("".join(literal))
            literal = []
            parts.append(index)
    parts.append("".join(literal))
    return tuple(p for p in parts if p != "")


def expand(template: _Template, groups: list[str | None]) -> str:
    out: list[str] = []
    for part in template:
        if isinstance(part, str):
            out.append(part)
        else:
            value = groups[part]
            if value:
                out.append(value)
    return "".join(out)


# --- case mapping as Go's strings.ToLower / ToUpper (one rune to one rune) ----


def _go_lower(value: str) -> str:
    if value.isascii():
        return value.lower()
    return "".join(_rune_lower(ch) for ch in value)


def _go_upper(value: str) -> str:
    if value.isascii():
        return value.upper()
    return "".join(_rune_upper(ch) for ch in value)


def _rune_lower(ch: str) -> str:
    low = ch.lower()
    if len(low) == 1:
        return low
    return "i" if ch == "\u0130" else ch  # İ has a one-rune simple mapping


def _rune_upper(ch: str) -> str:
    up = ch.upper()
    if len(up) == 1:
        return up
    title = ch.title()  # e.g. ᾳ -> ᾼ: the simple mapping where Python's full one expands
    return title if len(title) == 1 else ch


# --- compiling one rule into a closure ------------------------------------------

_Step = Callable[[_Builder, Callable[[str], bool]], bool]


def _source_value(cfg: RelabelConfig) -> Callable[[_Builder], str]:
    names = cfg.source_labels or ()
    if not names:
        return lambda _b: ""
    if len(names) == 1:
        only = names[0]
        return lambda b: b.get(only)
    sep = cfg.separator
    return lambda b: sep.join([b.get(n) for n in names])


def _compile(cfg: RelabelConfig) -> _Step:
    action = cfg.action
    value_of = _source_value(cfg)
    regex = compile_regex(cfg.regex)
    matches = regex.matches
    target = cfg.target_label

    if action is RelabelAction.DROP:
        return lambda b, _v: not matches(value_of(b))
    if action is RelabelAction.KEEP:
        return lambda b, _v: matches(value_of(b))
    if action is RelabelAction.DROPEQUAL:
        return lambda b, _v: b.get(target) != value_of(b)
    if action is RelabelAction.KEEPEQUAL:
        return lambda b, _v: b.get(target) == value_of(b)
    if action is RelabelAction.LOWERCASE:
        return lambda b, _v: _set_true(b, target, _go_lower(value_of(b)))
    if action is RelabelAction.UPPERCASE:
        return lambda b, _v: _set_true(b, target, _go_upper(value_of(b)))
    if action is RelabelAction.HASHMOD:
        modulus = cfg.modulus

        def hashmod(b: _Builder, _v: Callable[[str], bool]) -> bool:
            digest = hashlib.md5(value_of(b).encode("utf-8", "surrogatepass")).digest()
            b.set(target, str(int.from_bytes(digest[8:], "big") % modulus))
            return True

        return hashmod
    if action is RelabelAction.REPLACE:
        return _compile_replace(cfg, regex, value_of)
    replacement = parse_template(cfg.replacement, regex)
    if action is RelabelAction.LABELMAP:

        def labelmap(b: _Builder, _v: Callable[[str], bool]) -> bool:
            for name, value in b.snapshot():
                if matches(name):
                    groups = regex.groups(name)
                    if groups is not None:
                        b.set(expand(replacement, groups), value)
            return True

        return labelmap
    if action is RelabelAction.LABELDROP:

        def labeldrop(b: _Builder, _v: Callable[[str], bool]) -> bool:
            for name, _value in b.snapshot():
                if matches(name):
                    b.delete(name)
            return True

        return labeldrop

    def labelkeep(b: _Builder, _v: Callable[[str], bool]) -> bool:
        for name, _value in b.snapshot():
            if not matches(name):
                b.delete(name)
        return True

    return labelkeep


def _set_true(b: _Builder, name: str, value: str) -> bool:
    b.set(name, value)
    return True


def _compile_replace(
    cfg: RelabelConfig, regex: Regex, value_of: Callable[[_Builder], str]
) -> _Step:
    target_template = parse_template(cfg.target_label, regex)
    templated_target = "$" in cfg.target_label
    fixed_target = cfg.target_label
    replacement = parse_template(cfg.replacement, regex)
    literal_replacement = "$" not in cfg.replacement
    default_regex = cfg.regex_is_default and cfg.regex == DEFAULT_REGEX

    def replace(b: _Builder, valid: Callable[[str], bool]) -> bool:
        value = value_of(b)
        if value == "" and default_regex and not templated_target and literal_replacement:
            b.set(fixed_target, cfg.replacement)
            return True
        groups = regex.groups(value)
        if groups is None:
            return True
        target = expand(target_template, groups) if templated_target else fixed_target
        if not valid(target):
            return True
        result = expand(replacement, groups)
        if result == "":
            b.delete(target)
        else:
            b.set(target, result)
        return True

    return replace


def load_relabel_configs(items: Iterable[Any]) -> list[RelabelConfig]:
    """Validate a list of mappings (as read from YAML) into configs."""
    return [RelabelConfig.model_validate(item) for item in items]


# The names other modules imported before these were public.
_parse_template = parse_template
_expand = expand
