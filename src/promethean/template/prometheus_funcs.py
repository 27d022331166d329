"""The rules side: Prometheus' template functions and alert-annotation expansion.

Alerting-rule annotations and labels are Go templates with a preamble that
defines ``$labels``, ``$externalLabels``, ``$externalURL`` and ``$value``.
``expand_alert_text`` does what upstream's rule evaluation does, including its
``<error expanding template: ...>`` result on failure. ``query`` runs PromQL
through a callback the rules engine supplies (this package does not import the
engine); ``externalURL``/``pathPrefix`` read the expansion's own settings.
Parsed templates are cached by text, so a rule's annotation is parsed once.
"""

from __future__ import annotations

import contextvars
import ipaddress
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from promethean.model.durations import parse_duration as _parse_prom_duration
from promethean.template.alertmanager_funcs import title_case
from promethean.template.engine import Template
from promethean.template.errors import FuncError, TemplateError
from promethean.template.escaping import SafeHTML, url_query_escape
from promethean.template.gotime import GoTime
from promethean.template.humanize import (
    humanize,
    humanize1024,
    humanize_duration,
    humanize_percentage,
    humanize_timestamp,
    to_float,
)
from promethean.template.regex import match_string, replace_all


class StringMap(dict[str, str]):
    """A Go ``map[string]string``: a missing key reads as ``""``."""

    __go_type__ = "map[string]string"
    __go_zero__ = ""


@dataclass
class Sample:
    """One element of a ``query`` result: ``.Labels`` and ``.Value``."""

    Labels: StringMap
    Value: float

    __go_type__ = "*template.sample"


QueryFunc = Callable[[str], Sequence[Sample]]


@dataclass
class _Context:
    query: QueryFunc | None = None
    external_url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


_CONTEXT: contextvars.ContextVar[_Context] = contextvars.ContextVar("template_context")


def _ctx() -> _Context:
    try:
        return _CONTEXT.get()
    except LookupError:
        return _Context()


# --- functions ------------------------------------------------------------------------------


def _query(q: str) -> list[Sample]:
    fn = _ctx().query
    if fn is None:
        raise FuncError("query is not available here")
    return list(fn(q))


def _first(v: Any) -> Any:
    if not isinstance(v, list | tuple):
        raise FuncError("first() called on a non-vector")
    if not v:
        raise FuncError("first() called on vector with no elements")
    return v[0]


def _sample(s: Any) -> Sample:
    if not isinstance(s, Sample):
        from promethean.template.exec import ArgTypeError

        raise ArgTypeError("*template.sample", s)
    return s


def _label(label: str, s: Any) -> str:
    return _sample(s).Labels.get(label, "")


def _value(s: Any) -> float:
    return _sample(s).Value


def _strvalue(s: Any) -> str:
    return _sample(s).Labels.get("__value__", "")


def _sort_by_label(label: str, v: Any) -> list[Sample]:
    return sorted(v, key=lambda s: _sample(s).Labels.get(label, ""))


def _args(*args: Any) -> dict[str, Any]:
    return {f"arg{i}": a for i, a in enumerate(args)}


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    try:
        return replace_all(pattern, repl, text)
    except FuncError as exc:
        raise FuncError(f"regexp: Compile(`{pattern}`): {exc}") from None


def _match(pattern: str, s: str) -> bool:
    return match_string(pattern, s)


def _title(text: str) -> str:
    """cases.Title(..., cases.NoLower): capitalise words, leave the rest as is."""
    titled = title_case(text)
    return "".join(t if t != o and o == t.lower() else o for o, t in zip(text, titled, strict=True))


def _to_upper(s: str) -> str:
    return s.upper()


def _to_lower(s: str) -> str:
    return s.lower()


def _safe_html(text: str) -> SafeHTML:
    return SafeHTML(text)


def split_host_port(host_port: str) -> tuple[str, str]:
    """net.SplitHostPort; ValueError when there is no port."""
    if host_port.startswith("["):
        end = host_port.find("]")
        if end < 0 or not host_port[end + 1 :].startswith(":"):
            raise ValueError("missing port in address")
        return host_port[1:end], host_port[end + 2 :]
    host, sep, port = host_port.rpartition(":")
    if not sep:
        raise ValueError("missing port in address")
    if ":" in host:
        raise ValueError("too many colons in address")
    return host, port


def _strip_port(host_port: str) -> str:
    try:
        return split_host_port(host_port)[0]
    except ValueError:
        return host_port


def _strip_domain(host_port: str) -> str:
    try:
        host, port = split_host_port(host_port)
    except ValueError:
        host, port = host_port, ""
    try:
        ipaddress.ip_address(host)
        return host_port
    except ValueError:
        pass
    host = host.split(".")[0]
    if port:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host


def _graph_link(expr: str) -> str:
    return f"/graph?g0.expr={url_query_escape(expr)}&g0.tab=0"


def _table_link(expr: str) -> str:
    return f"/graph?g0.expr={url_query_escape(expr)}&g0.tab=1"


def _external_url() -> str:
    return _ctx().external_url


def _path_prefix() -> str:
    return urllib.parse.urlsplit(_ctx().external_url).path


def _parse_duration(s: str) -> float:
    try:
        return _parse_prom_duration(s)
    except ValueError as exc:
        raise FuncError(str(exc)) from None


def _to_time(i: Any) -> GoTime:
    v = to_float(i)
    if v != v or v in (float("inf"), float("-inf")):
        raise FuncError("value is NaN or Inf")
    ns = v * 1e9
    if ns > 2**63 - 1 or ns < -(2**63):
        raise FuncError(
            f"{v} cannot be represented as a nanoseconds timestamp since it overflows int64"
        )
    return GoTime.from_unix_nano(int(ns))


FUNCS: dict[str, Any] = {
    "query": _query,
    "first": _first,
    "label": _label,
    "value": _value,
    "strvalue": _strvalue,
    "args": _args,
    "reReplaceAll": _re_replace_all,
    "safeHtml": _safe_html,
    "match": _match,
    "title": _title,
    "toUpper": _to_upper,
    "toLower": _to_lower,
    "graphLink": _graph_link,
    "tableLink": _table_link,
    "sortByLabel": _sort_by_label,
    "stripPort": _strip_port,
    "stripDomain": _strip_domain,
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizeDuration": humanize_duration,
    "humanizePercentage": humanize_percentage,
    "humanizeTimestamp": humanize_timestamp,
    "toTime": _to_time,
    "pathPrefix": _path_prefix,
    "externalURL": _external_url,
    "parseDuration": _parse_duration,
}


# --- expansion ------------------------------------------------------------------------------

ALERT_PREAMBLE = (
    "{{$labels := .Labels}}"
    "{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}"
    "{{$value := .Value}}"
)


@dataclass
class AlertTemplateData:
    """The dot of an alert annotation template (upstream's tmplData)."""

    Labels: StringMap
    ExternalLabels: StringMap
    ExternalURL: str
    Value: Any

    __go_type__ = "template.tmplData"


_parsed: dict[tuple[str, str], Template | TemplateError] = {}
_PARSED_MAX = 4096


def _template_for(name: str, text: str) -> Template:
    key = (name, text)
    t = _parsed.get(key)
    if t is None:
        try:
            t = Template(name, FUNCS, missingkey="zero").parse(text)
        except TemplateError as exc:
            t = TemplateError(f"error parsing template {name}: {exc}")
        if len(_parsed) >= _PARSED_MAX:
            _parsed.clear()
        _parsed[key] = t
    if isinstance(t, TemplateError):
        raise t
    return t


def expand(
    name: str,
    text: str,
    data: Any,
    *,
    query: QueryFunc | None = None,
    external_url: str = "",
) -> str:
    """Prometheus' Expander.Expand: parse (cached) and execute, errors worded as upstream."""
    t = _template_for(name, text)
    token = _CONTEXT.set(_Context(query=query, external_url=external_url))
    try:
        return t.execute(data)
    except TemplateError as exc:
        raise TemplateError(f"error executing template {name}: {exc}") from None
    finally:
        _CONTEXT.reset(token)


def expand_alert_text(
    text: str,
    *,
    rule_name: str,
    labels: Mapping[str, str],
    value: float,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
    query: QueryFunc | None = None,
) -> str:
    """Expand one alert label or annotation value as the rules engine does.

    Never raises for a template problem: like upstream, the result is then
    ``<error expanding template: ...>`` (the caller logs it).
    """
    data = AlertTemplateData(
        Labels=StringMap(labels),
        ExternalLabels=StringMap(external_labels or {}),
        ExternalURL=external_url,
        Value=value,
    )
    try:
        return expand(
            "__alert_" + rule_name,
            ALERT_PREAMBLE + text,
            data,
            query=query,
            external_url=external_url,
        )
    except TemplateError as exc:
        return f"<error expanding template: {exc}>"
