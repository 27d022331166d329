"""Content negotiation for exposition formats, both directions.

Scraper side (what Prometheus 3.x does):

* :func:`accept_header` builds the ``Accept`` header from ``scrape_protocols``:
  each protocol's media type in the configured order with falling q-values
  (``q=0.<n+1>`` down, ``n`` = number of known protocols), then ``*/*``; the
  1.0.0 text formats carry the name-escaping scheme.
* :func:`scrape_format` maps a response ``Content-Type`` to the parser to use.
  Like Prometheus 3.x (and unlike 2.x, which assumed the text format), a
  missing, unparsable or unknown Content-Type fails the scrape unless a
  ``fallback_scrape_protocol`` is configured; with one, the fallback is used
  and a warning is returned beside it.

Server side (pushgateway, federation, exporters): :func:`negotiate` picks the
format to write from a request's ``Accept`` header the way Go's
``expfmt.NegotiateIncludingOpenMetrics`` does, and returns the exact
``Content-Type`` Go writes, escaping parameter included.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS",
    "DEFAULT_SCRAPE_PROTOCOLS",
    "LEGACY_ACCEPT_HEADER",
    "SCRAPE_PROTOCOL_HEADERS",
    "ExpositionFormat",
    "Negotiated",
    "NegotiationError",
    "ScrapeFormat",
    "accept_header",
    "negotiate",
    "parse_media_type",
    "scrape_format",
]


class ExpositionFormat(enum.StrEnum):
    """Which parser or writer a body needs."""

    TEXT = "text"
    OPENMETRICS = "openmetrics"
    PROTOBUF = "protobuf"


PROMETHEUS_PROTO = "PrometheusProto"
PROMETHEUS_TEXT_0_0_4 = "PrometheusText0.0.4"
PROMETHEUS_TEXT_1_0_0 = "PrometheusText1.0.0"
OPENMETRICS_TEXT_0_0_1 = "OpenMetricsText0.0.1"
OPENMETRICS_TEXT_1_0_0 = "OpenMetricsText1.0.0"

SCRAPE_PROTOCOL_HEADERS: dict[str, str] = {
    PROMETHEUS_PROTO: (
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"
    ),
    PROMETHEUS_TEXT_0_0_4: "text/plain;version=0.0.4",
    PROMETHEUS_TEXT_1_0_0: "text/plain;version=1.0.0",
    OPENMETRICS_TEXT_0_0_1: "application/openmetrics-text;version=0.0.1",
    OPENMETRICS_TEXT_1_0_0: "application/openmetrics-text;version=1.0.0",
}
DEFAULT_SCRAPE_PROTOCOLS: tuple[str, ...] = (
    OPENMETRICS_TEXT_1_0_0,
    OPENMETRICS_TEXT_0_0_1,
    PROMETHEUS_TEXT_1_0_0,
    PROMETHEUS_TEXT_0_0_4,
)
# Used when native histograms (or created-timestamp ingestion) are on.
DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS: tuple[str, ...] = (
    PROMETHEUS_PROTO,
    *DEFAULT_SCRAPE_PROTOCOLS,
)
# What Prometheus 2.42 (before scrape_protocols existed) always sent.
LEGACY_ACCEPT_HEADER = (
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
ESCAPING_SCHEMES = ("allow-utf-8", "underscores", "dots", "values")
_ESCAPED_PROTOCOLS = (PROMETHEUS_TEXT_1_0_0, OPENMETRICS_TEXT_1_0_0)

_MEDIA_TO_FORMAT = {
    "text/plain": ExpositionFormat.TEXT,
    "application/openmetrics-text": ExpositionFormat.OPENMETRICS,
    "application/vnd.google.protobuf": ExpositionFormat.PROTOBUF,
}


class NegotiationError(ValueError):
    """A scrape that cannot go on: the response's Content-Type is unusable."""


def accept_header(
    protocols: tuple[str, ...] | list[str] = DEFAULT_SCRAPE_PROTOCOLS,
    escaping: str | None = "allow-utf-8",
) -> str:
    """The ``Accept`` header for ``scrape_protocols`` (Prometheus 3.x ``acceptHeader``).

    ``escaping`` is the scrape config's ``metric_name_escaping_scheme``
    (``allow-utf-8`` by default in 3.x); ``None`` leaves the parameter out.
    """
    parts = []
    weight = len(SCRAPE_PROTOCOL_HEADERS) + 1
    for proto in protocols:
        header = SCRAPE_PROTOCOL_HEADERS.get(proto)
        if header is None:
            known = ", ".join(sorted(SCRAPE_PROTOCOL_HEADERS))
            raise ValueError(f"unknown scrape protocol {proto}, supported: [{known}]")
        if escaping is not None and proto in _ESCAPED_PROTOCOLS:
            header += f";escaping={escaping}"
        parts.append(f"{header};q=0.{weight}")
        weight -= 1
    parts.append(f"*/*;q=0.{weight}")
    return ",".join(parts)


def parse_media_type(value: str) -> tuple[str, dict[str, str]]:
    """``type/subtype`` in lower case and its parameters, like Go's mime.ParseMediaType.

    Raises ValueError for a value that is not a media type.
    """
    head, *params = value.split(";")
    media = head.strip().lower()
    kind, slash, sub = media.partition("/")
    if not slash or not _is_token(kind) or not _is_token(sub):
        raise ValueError(f"mime: expected token after slash in {value!r}")
    out: dict[str, str] = {}
    for raw in params:
        raw = raw.strip()
        if not raw:
            continue
        name, eq, val = raw.partition("=")
        name = name.strip().lower()
        val = val.strip()
        if not eq or not _is_token(name):
            raise ValueError(f"mime: invalid media parameter {raw!r}")
        if len(val) >= 2 and val[0] == val[-1] == '"':
            val = val[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        elif not _is_token(val):
            raise ValueError(f"mime: invalid media parameter {raw!r}")
        if name in out:
            raise ValueError("mime: duplicate parameter name")
        out[name] = val
    return media, out


_TSPECIALS = set('()<>@,;:\\"/[]?=')


def _is_token(text: str) -> bool:
    return bool(text) and all(33 <= ord(c) < 127 and c not in _TSPECIALS for c in text)


@dataclass(frozen=True, slots=True)
class ScrapeFormat:
    """The parser for a scrape response and, when a fallback was needed, why."""

    format: ExpositionFormat
    warning: str | None = None


def scrape_format(content_type: str | None, fallback_protocol: str | None = None) -> ScrapeFormat:
    """Pick the parser for a response's Content-Type (Prometheus 3.x semantics).

    ``fallback_protocol`` is the scrape config's ``fallback_scrape_protocol``
    (a protocol name such as ``PrometheusText0.0.4``). Raises
    :class:`NegotiationError` when the scrape must fail.
    """
    fallback: ExpositionFormat | None = None
    if fallback_protocol:
        header = SCRAPE_PROTOCOL_HEADERS.get(fallback_protocol)
        if header is None:
            raise ValueError(f"unknown scrape protocol {fallback_protocol}")
        fallback = _MEDIA_TO_FORMAT[header.split(";", 1)[0]]
    fb = f"{fallback_protocol}"
    if not content_type:
        if fallback is None:
            raise NegotiationError(
                "non-compliant scrape target sending blank Content-Type and no "
                "fallback_scrape_protocol specified for target"
            )
        return ScrapeFormat(
            fallback,
            f"non-compliant scrape target sending blank Content-Type, using "
            f'fallback_scrape_protocol "{fb}"',
        )
    try:
        media, _params = parse_media_type(content_type)
    except ValueError as exc:
        if fallback is None:
            raise NegotiationError(
                f'cannot parse Content-Type "{content_type}" and no fallback_scrape_protocol '
                f"for target\n{exc}"
            ) from None
        return ScrapeFormat(
            fallback,
            f'could not parse received Content-Type "{content_type}", using '
            f'fallback_scrape_protocol "{fb}"\n{exc}',
        )
    known = _MEDIA_TO_FORMAT.get(media)
    if known is not None:
        return ScrapeFormat(known)
    if fallback is None:
        raise NegotiationError(
            f'received unsupported Content-Type "{content_type}" and no '
            f"fallback_scrape_protocol specified for target"
        )
    return ScrapeFormat(
        fallback,
        f'received unsupported Content-Type "{content_type}", using fallback_scrape_protocol '
        f'"{fb}"',
    )


# --- server side -----------------------------------------------------------------

FMT_TEXT = "text/plain; version=0.0.4; charset=utf-8"
FMT_PROTO_DELIM = (
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
)
FMT_OPENMETRICS_1_0_0 = "application/openmetrics-text; version=1.0.0; charset=utf-8"
FMT_OPENMETRICS_0_0_1 = "application/openmetrics-text; version=0.0.1; charset=utf-8"
DEFAULT_ESCAPING = "underscores"


@dataclass(frozen=True, slots=True)
class Negotiated:
    """The format to write and the exact ``Content-Type`` header to send with it."""

    format: ExpositionFormat
    content_type: str
    escaping: str


def _parse_accept(header: str) -> list[tuple[str, str, dict[str, str]]]:
    """Accept clauses in goautoneg's order: an insertion sort (what Go's sort does for
    short lists) by higher q, or a concrete type/subtype before a wildcard."""
    clauses: list[tuple[float, str, str, dict[str, str]]] = []
    for raw in header.split(","):
        media, *params = raw.split(";")
        media = media.strip()
        kind, slash, sub = media.partition("/")
        if not slash:
            if media != "*":
                continue
            kind, sub = "*", "*"
        q = 1.0
        ps: dict[str, str] = {}
        for p in params:
            k, _, v = p.partition("=")
            k, v = k.strip(), v.strip()
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
            elif k:
                ps[k] = v
        clauses.append((q, kind, sub, ps))

    def less(
        a: tuple[float, str, str, dict[str, str]], b: tuple[float, str, str, dict[str, str]]
    ) -> bool:
        return a[0] > b[0] or (a[1] != "*" and b[1] == "*") or (a[2] != "*" and b[2] == "*")

    for i in range(1, len(clauses)):
        j = i
        while j > 0 and less(clauses[j], clauses[j - 1]):
            clauses[j], clauses[j - 1] = clauses[j - 1], clauses[j]
            j -= 1
    return [(kind, sub, ps) for _q, kind, sub, ps in clauses]


def negotiate(accept: str | None, *, openmetrics: bool = True) -> Negotiated:
    """Choose what to write for a request (Go's ``expfmt.NegotiateIncludingOpenMetrics``;
    ``openmetrics=False`` gives ``expfmt.Negotiate``). Unknown or absent ⇒ text 0.0.4."""
    escaping = DEFAULT_ESCAPING
    for kind, sub, params in _parse_accept(accept or ""):
        requested = params.get("escaping", "")
        if requested in ESCAPING_SCHEMES:
            escaping = requested
        version = params.get("version", "")
        media = f"{kind}/{sub}"
        if (
            media == "application/vnd.google.protobuf"
            and params.get("proto") == "io.prometheus.client.MetricFamily"
            and params.get("encoding") == "delimited"
        ):
            return _result(ExpositionFormat.PROTOBUF, FMT_PROTO_DELIM, escaping)
        if media == "text/plain" and version in ("0.0.4", ""):
            return _result(ExpositionFormat.TEXT, FMT_TEXT, escaping)
        if (
            openmetrics
            and media == "application/openmetrics-text"
            and version in ("0.0.1", "1.0.0", "")
        ):
            fmt = FMT_OPENMETRICS_1_0_0 if version == "1.0.0" else FMT_OPENMETRICS_0_0_1
            return _result(ExpositionFormat.OPENMETRICS, fmt, escaping)
    return _result(ExpositionFormat.TEXT, FMT_TEXT, escaping)


def _result(fmt: ExpositionFormat, content_type: str, escaping: str) -> Negotiated:
    return Negotiated(fmt, f"{content_type}; escaping={escaping}", escaping)
