"""Alertmanager's template data model, functions and default templates.

``Data``/``Alert``/``KV`` reproduce the types Alertmanager hands to
notification templates, with their methods (``.Alerts.Firing``,
``.CommonLabels.SortedPairs.Values``, ``.CommonLabels.Remove``), so users'
templates written for Alertmanager work unchanged. ``NotificationTemplates``
is the loaded set (defaults plus the ``templates:`` globs) that receivers use
to render their fields.
"""

from __future__ import annotations

import glob
import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from promethean.template.engine import Template
from promethean.template.errors import FuncError, TemplateError
from promethean.template.escaping import SafeHTML
from promethean.template.exec import ArgTypeError, StringSlice
from promethean.template.gofmt import MISSING
from promethean.template.gotime import GoDuration, GoTime, as_time, load_location
from promethean.template.humanize import humanize_duration
from promethean.template.regex import match_string, replace_all

ALERT_NAME = "alertname"


@dataclass(frozen=True)
class Pair:
    Name: str
    Value: str

    __go_type__ = "template.Pair"


class Pairs(list[Pair]):
    __go_type__ = "template.Pairs"

    def Names(self) -> list[str]:
        return [p.Name for p in self]

    def Values(self) -> list[str]:
        return [p.Value for p in self]


class KV(dict[str, str]):
    """A label or annotation set (Go ``map[string]string``: a missing key is ``""``)."""

    __go_type__ = "template.KV"
    __go_zero__ = ""

    def SortedPairs(self) -> Pairs:
        """Pairs sorted by name, with ``alertname`` first as upstream does."""
        keys = sorted(k for k in self if k != ALERT_NAME)
        if ALERT_NAME in self:
            keys.insert(0, ALERT_NAME)
        return Pairs(Pair(k, self[k]) for k in keys)

    def Remove(self, keys: Iterable[str]) -> KV:
        drop = set(_string_list(keys))
        return KV({k: v for k, v in self.items() if k not in drop})

    def Names(self) -> list[str]:
        return self.SortedPairs().Names()

    def Values(self) -> list[str]:
        return self.SortedPairs().Values()


@dataclass
class Alert:
    Status: str
    Labels: KV
    Annotations: KV
    StartsAt: GoTime = field(default_factory=GoTime.zero)
    EndsAt: GoTime = field(default_factory=GoTime.zero)
    GeneratorURL: str = ""
    Fingerprint: str = ""

    __go_type__ = "template.Alert"

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.Status,
            "labels": dict(self.Labels),
            "annotations": dict(self.Annotations),
            "startsAt": self.StartsAt.MarshalJSON(),
            "endsAt": self.EndsAt.MarshalJSON(),
            "generatorURL": self.GeneratorURL,
            "fingerprint": self.Fingerprint,
        }


class Alerts(list[Alert]):
    __go_type__ = "template.Alerts"

    def Firing(self) -> list[Alert]:
        return [a for a in self if a.Status == "firing"]

    def Resolved(self) -> list[Alert]:
        return [a for a in self if a.Status == "resolved"]


@dataclass
class Data:
    Receiver: str
    Status: str
    Alerts: Alerts
    GroupLabels: KV
    CommonLabels: KV
    CommonAnnotations: KV
    ExternalURL: str

    __go_type__ = "template.Data"

    def to_json(self) -> dict[str, Any]:
        """The webhook payload's shared fields, in upstream's JSON names."""
        return {
            "receiver": self.Receiver,
            "status": self.Status,
            "alerts": [a.to_json() for a in self.Alerts],
            "groupLabels": dict(self.GroupLabels),
            "commonLabels": dict(self.CommonLabels),
            "commonAnnotations": dict(self.CommonAnnotations),
            "externalURL": self.ExternalURL,
        }


_META = set("\\.+*?()|[]{}^$")


def quote_meta(s: str) -> str:
    """regexp.QuoteMeta, which upstream applies to the receiver name."""
    return "".join("\\" + c if c in _META else c for c in s)


def build_data(
    receiver: str,
    group_labels: Mapping[str, str],
    alerts: Sequence[Alert],
    external_url: str = "",
) -> Data:
    """Assemble template data as Alertmanager does (common labels and annotations)."""
    common_labels: dict[str, str] = {}
    common_annotations: dict[str, str] = {}
    if alerts:
        common_labels = dict(alerts[0].Labels)
        common_annotations = dict(alerts[0].Annotations)
        for a in alerts[1:]:
            if not common_labels and not common_annotations:
                break
            common_labels = {k: v for k, v in common_labels.items() if a.Labels.get(k) == v}
            common_annotations = {
                k: v for k, v in common_annotations.items() if a.Annotations.get(k) == v
            }
    status = "firing" if any(a.Status == "firing" for a in alerts) else "resolved"
    return Data(
        Receiver=quote_meta(receiver),
        Status=status,
        Alerts=Alerts(alerts),
        GroupLabels=KV(group_labels),
        CommonLabels=KV(common_labels),
        CommonAnnotations=KV(common_annotations),
        ExternalURL=external_url,
    )


# --- functions ------------------------------------------------------------------------------


def _string_list(v: Any) -> list[str]:
    if isinstance(v, list | tuple) and all(isinstance(x, str) for x in v):
        return list(v)
    raise ArgTypeError("[]string", v)


def title_case(text: str) -> str:
    """cases.Title(language.AmericanEnglish): first letter of each word up, the rest down."""
    out: list[str] = []
    in_word = False
    seen_letter = False
    n = len(text)
    for i, c in enumerate(text):
        joiner = (
            c in "'.:’" and in_word and i + 1 < n and (text[i + 1].isalnum() or text[i + 1] == "_")
        )
        if c.isalnum() or c == "_" or joiner:
            if not in_word:
                in_word, seen_letter = True, False
            if c.isalpha():
                out.append(c.lower() if seen_letter else c.title())
                seen_letter = True
            else:
                out.append(c)
        else:
            in_word = False
            out.append(c)
    return "".join(out)


def _to_upper(s: str) -> str:
    return s.upper()


def _to_lower(s: str) -> str:
    return s.lower()


def _title(text: str) -> str:
    return title_case(text)


def _trim_space(s: str) -> str:
    return s.strip(" \t\n\v\f\r\x85\xa0")


def _join(sep: str, s: StringSlice) -> str:
    return sep.join(_string_list(s))


def _match(pattern: str, s: str) -> bool:
    return match_string(pattern, s)


def _safe_html(text: str) -> SafeHTML:
    return SafeHTML(text)


def _safe_url(text: str) -> str:
    return text


def _url_unescape(s: str) -> str:
    """url.QueryUnescape, with Go's error for a bad escape."""
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "%":
            h = s[i + 1 : i + 3]
            if len(h) < 2 or not all(x in "0123456789abcdefABCDEF" for x in h):
                bad = s[i : i + 3]
                raise FuncError(f'invalid URL escape "{bad}"')
            out.append(int(h, 16))
            i += 3
        elif c == "+":
            out.append(0x20)
            i += 1
        else:
            out += c.encode("utf-8")
            i += 1
    return out.decode("utf-8", "replace")


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    try:
        return replace_all(pattern, repl, text)
    except FuncError as exc:
        raise FuncError(f"regexp: Compile(`{pattern}`): {exc}") from None


def _string_slice(*s: str) -> list[str]:
    return list(s)


def _date(fmt: str, t: Any) -> str:
    return as_time(t).Format(fmt)


def _tz(name: str, t: Any) -> GoTime:
    try:
        loc = load_location(name)
    except ValueError as exc:
        raise FuncError(str(exc)) from None
    return as_time(t).In(loc)


def _since(t: Any) -> GoDuration:
    return GoDuration(time.time_ns() - as_time(t).UnixNano())


def _json_default(v: Any) -> Any:
    if isinstance(v, GoTime):
        return v.MarshalJSON()
    to_json = getattr(v, "to_json", None)
    if callable(to_json):
        return to_json()
    if v is MISSING:
        return None
    fields = getattr(v, "__dataclass_fields__", None)
    if fields is not None:
        return {f: getattr(v, f) for f in fields}
    raise TypeError(f"json: unsupported type: {type(v).__name__}")


def _to_json(v: Any) -> str:
    try:
        if isinstance(v, float) and v != v:
            raise ValueError("json: unsupported value: NaN")
        return json.dumps(v, default=_json_default, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise FuncError(str(exc)) from None


FUNCS: dict[str, Any] = {
    "toUpper": _to_upper,
    "toLower": _to_lower,
    "title": _title,
    "trimSpace": _trim_space,
    "join": _join,
    "match": _match,
    "safeHtml": _safe_html,
    "safeUrl": _safe_url,
    "urlUnescape": _url_unescape,
    "reReplaceAll": _re_replace_all,
    "stringSlice": _string_slice,
    "date": _date,
    "tz": _tz,
    "since": _since,
    "humanizeDuration": humanize_duration,
    "toJson": _to_json,
}


def default_template_text() -> str:
    """The shipped ``default.tmpl`` (upstream's default notification templates)."""
    return (resources.files("promethean.template") / "default.tmpl").read_text("utf-8")


class NotificationTemplates:
    """Alertmanager's template set: defaults, then user files; text and HTML flavours.

    ``execute_text_string``/``execute_html_string`` render one receiver field
    (which may call any named template), caching the parse of each distinct
    field text, so a notification costs only execution.
    """

    _CACHE_MAX = 512

    def __init__(self, external_url: str = "") -> None:
        self.external_url = external_url
        self._text = Template("", FUNCS, missingkey="zero")
        self._html = Template("", FUNCS, missingkey="zero", html=True)
        default = default_template_text()
        self._text.parse(default, "default.tmpl")
        self._html.parse(default, "default.tmpl")
        self._cache: dict[tuple[bool, str], Template] = {}

    @classmethod
    def from_globs(cls, patterns: Iterable[str], external_url: str = "") -> NotificationTemplates:
        """Load ``templates:`` globs; a pattern matching nothing is allowed, as upstream."""
        t = cls(external_url)
        for pattern in patterns:
            for path in sorted(glob.glob(pattern)):
                t.parse_file(path)
        return t

    def parse_file(self, path: str) -> None:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise TemplateError(f"open {path}: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise TemplateError(f"read {path}: invalid UTF-8") from None
        self.parse(text, os.path.basename(path))

    def parse(self, text: str, name: str) -> None:
        self._text.parse(text, name)
        self._html.parse(text, name)
        self._cache.clear()

    def data(self, receiver: str, group_labels: Mapping[str, str], alerts: Sequence[Alert]) -> Data:
        return build_data(receiver, group_labels, alerts, self.external_url)

    def _prepared(self, text: str, html: bool) -> Template:
        key = (html, text)
        t = self._cache.get(key)
        if t is None:
            t = (self._html if html else self._text).new("")
            t.parse(text, "")
            if len(self._cache) >= self._CACHE_MAX:
                self._cache.clear()
            self._cache[key] = t
        return t

    def execute_text_string(self, text: str, data: Any) -> str:
        if text == "":
            return ""
        return self._prepared(text, False).execute(data)

    def execute_html_string(self, text: str, data: Any) -> str:
        if text == "":
            return ""
        return self._prepared(text, True).execute(data)

    def defined_templates(self) -> list[str]:
        return self._text.defined_templates()
