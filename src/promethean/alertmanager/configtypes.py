"""Value types of alertmanager.yml: durations, URLs, host:port, regexps and matcher lists.

Each type validates the way Alertmanager's YAML decoding does and reports
upstream's message (``unsupported scheme "ftp" for URL``, ``address h:
missing port in address``...), so operators recognise the error; and each
renders back as upstream re-marshals it, which is what ``/api/v2/status``
shows. URL types that may hold a token are :class:`Secret` and never echo
their value, not even in an error.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Annotated, Any

from pydantic import BeforeValidator, GetCoreSchemaHandler, PlainSerializer
from pydantic_core import core_schema

from promethean.alertmanager.matchers import (
    MatcherParseError,
    anchored_regexp_error,
    matcher_string,
    parse_matchers,
    sort_matchers,
)
from promethean.config import Secret
from promethean.config.fields import Duration, GoDuration
from promethean.model.matchers import Matcher

__all__ = [
    "URL",
    "Duration",
    "GoDuration",
    "HostPort",
    "LabelName",
    "MaskedURL",
    "Matchers",
    "Regexp",
    "SecretURL",
    "check_url",
    "masked_url",
    "split_host_port",
]

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


def is_label_name(name: str) -> bool:
    """The classic label charset Alertmanager 0.25 checks names against."""
    return _LABEL_NAME.match(name) is not None


# -- durations ---------------------------------------------------------------------------


# -- URLs --------------------------------------------------------------------------------


def check_url(text: str) -> str:
    """Upstream's ``parseURL``: http or https with a host. Errors never contain ``text``."""
    try:
        parts = urllib.parse.urlsplit(text)
    except ValueError:
        raise ValueError("invalid URL") from None
    if parts.scheme not in ("http", "https"):
        scheme = parts.scheme if re.fullmatch(r"[a-zA-Z][a-zA-Z0-9+.-]*", parts.scheme) else ""
        raise ValueError(f'unsupported scheme "{scheme}" for URL')
    if not parts.netloc or (not parts.hostname and not parts.netloc.startswith("[")):
        raise ValueError("missing host for URL")
    if any(ch in text for ch in " \t\r\n\x00"):
        raise ValueError("invalid URL: contains whitespace or control characters")
    return text


def _url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a URL string")
    return check_url(value)


URL = Annotated[str, BeforeValidator(_url)]
"""An http(s) URL with a host, shown as written."""


def _secret_url(value: Any) -> Secret:
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str):
        raise ValueError("must be a URL string")
    if value == "<secret>":  # a config rendered by the API, read back (as upstream allows)
        return Secret(value)
    return Secret(check_url(value))


SecretURL = Annotated[Secret, BeforeValidator(_secret_url)]
"""An http(s) URL that may embed a token: validated like :data:`URL`, shown as ``<secret>``."""


def masked_url(value: Secret) -> str:
    """``scheme://host:port/<secret>``: the URL with userinfo, path, query and fragment hidden.

    The webhook ``url`` is a plain URL in Alertmanager 0.25, so amtool 0.25
    (``amtool config routes``) refuses the bare ``<secret>`` that 0.27+ accepts
    there. This form still parses as an http(s) URL with a host, and the parts
    that carry tokens (``user:pass@``, path, query) are gone.
    """
    text = value.reveal()
    if text == "<secret>":
        return text
    parts = urllib.parse.urlsplit(text)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}/<secret>"


MaskedURL = Annotated[
    Secret,
    BeforeValidator(_secret_url),
    PlainSerializer(masked_url, when_used="always"),
]
"""A :data:`SecretURL` shown as ``scheme://host:port/<secret>`` (see :func:`masked_url`)."""


# -- host:port ---------------------------------------------------------------------------


def split_host_port(addr: str) -> tuple[str, str]:
    """Go's ``net.SplitHostPort`` with its error texts."""

    def fail(why: str) -> ValueError:
        return ValueError(f"address {addr}: {why}")

    if addr.startswith("["):
        end = addr.find("]")
        if end < 0:
            raise fail("missing ']' in address")
        if end + 1 == len(addr):
            raise fail("missing port in address")
        if addr[end + 1] != ":":
            raise fail("missing port in address" if ":" not in addr[end:] else "too many colons")
        host, port = addr[1:end], addr[end + 2 :]
        if "[" in host or "]" in port or "[" in port:
            raise fail("unexpected '[' in address")
        return host, port
    colon = addr.rfind(":")
    if colon < 0:
        raise fail("missing port in address")
    host, port = addr[:colon], addr[colon + 1 :]
    if ":" in host:
        raise fail("too many colons in address")
    if "]" in host or "]" in port:
        raise fail("unexpected ']' in address")
    return host, port


def _host_port(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a host:port string")
    if value == "":
        return value
    _host, port = split_host_port(value)
    if port == "":
        raise ValueError(f'address "{value}": port cannot be empty')
    return value


HostPort = Annotated[str, BeforeValidator(_host_port)]
"""``host:port`` (``smtp_smarthost``); empty means unset."""


# -- label names, regexps, matchers ------------------------------------------------------


def _label_name(value: Any) -> str:
    if not isinstance(value, str) or not is_label_name(value):
        raise ValueError(f'invalid label name "{value}"')
    return value


LabelName = Annotated[str, BeforeValidator(_label_name)]


def _regexp(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    err = anchored_regexp_error(value)
    if err is not None:
        raise ValueError(err)
    return value


Regexp = Annotated[str, BeforeValidator(_regexp)]
"""A regex as written (``match_re`` values); compiled anchored, ``^(?:...)$``."""


class _MatcherLine(tuple[Matcher, ...]):
    """One string of a ``matchers:`` list; it may hold several (``{a="b",c="d"}``)."""

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> _MatcherLine:
            if not isinstance(value, str):
                raise ValueError("matcher must be a string")
            try:
                return cls(parse_matchers(value))
            except MatcherParseError as exc:
                raise ValueError(str(exc)) from None

        return core_schema.no_info_plain_validator_function(validate)


class Matchers(tuple[Matcher, ...]):
    """A ``matchers:`` list, parsed and sorted as upstream; renders one matcher per string."""

    __slots__ = ()

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def flatten(lines: list[_MatcherLine]) -> Matchers:
            return cls(sort_matchers(m for line in lines for m in line))

        inner = core_schema.no_info_after_validator_function(
            flatten, handler.generate_schema(list[_MatcherLine])
        )
        return core_schema.no_info_before_validator_function(
            lambda v: [matcher_string(m) for m in v] if isinstance(v, Matchers) else v,
            inner,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda v: [matcher_string(m) for m in v], when_used="always"
            ),
        )
