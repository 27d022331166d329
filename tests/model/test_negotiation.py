"""Content negotiation: the scraper's Accept header, the response Content-Type, and
the server-side choice of format, against upstream's exact strings."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from promethean.model.negotiation import (
    DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS,
    DEFAULT_SCRAPE_PROTOCOLS,
    LEGACY_ACCEPT_HEADER,
    ExpositionFormat,
    NegotiationError,
    ScrapeFormat,
    accept_header,
    negotiate,
    scrape_format,
)


def test_default_accept_header_is_prometheus_3() -> None:
    assert accept_header(DEFAULT_SCRAPE_PROTOCOLS) == (
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
        "application/openmetrics-text;version=0.0.1;q=0.5,"
        "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,"
        "text/plain;version=0.0.4;q=0.3,"
        "*/*;q=0.2"
    )


def test_proto_first_accept_header_for_native_histograms() -> None:
    assert accept_header(DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS) == (
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;"
        "encoding=delimited;q=0.6,"
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
        "application/openmetrics-text;version=0.0.1;q=0.4,"
        "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
        "text/plain;version=0.0.4;q=0.2,"
        "*/*;q=0.1"
    )


def test_custom_protocol_list_and_escaping_scheme() -> None:
    assert accept_header(["PrometheusText1.0.0", "PrometheusText0.0.4"], "underscores") == (
        "text/plain;version=1.0.0;escaping=underscores;q=0.6,text/plain;version=0.0.4;q=0.5,"
        "*/*;q=0.4"
    )
    assert accept_header(["OpenMetricsText1.0.0"], None) == (
        "application/openmetrics-text;version=1.0.0;q=0.6,*/*;q=0.5"
    )


def test_unknown_protocol_is_refused_with_the_supported_list() -> None:
    with pytest.raises(ValueError) as err:
        accept_header(["PrometheusText9"])
    assert str(err.value) == (
        "unknown scrape protocol PrometheusText9, supported: [OpenMetricsText0.0.1, "
        "OpenMetricsText1.0.0, PrometheusProto, PrometheusText0.0.4, PrometheusText1.0.0]"
    )


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        ("text/plain; version=0.0.4; charset=utf-8", ExpositionFormat.TEXT),
        ("text/plain", ExpositionFormat.TEXT),
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            ExpositionFormat.OPENMETRICS,
        ),
        ("application/openmetrics-text;version=0.0.1", ExpositionFormat.OPENMETRICS),
        (
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
            "encoding=delimited",
            ExpositionFormat.PROTOBUF,
        ),
        ("TEXT/Plain; Version=0.0.4", ExpositionFormat.TEXT),
    ],
)
def test_response_content_type_picks_the_parser(
    content_type: str, expected: ExpositionFormat
) -> None:
    assert scrape_format(content_type) == ScrapeFormat(expected)


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (
            None,
            "non-compliant scrape target sending blank Content-Type and no "
            "fallback_scrape_protocol specified for target",
        ),
        (
            "application/json",
            'received unsupported Content-Type "application/json" and no '
            "fallback_scrape_protocol specified for target",
        ),
        (
            "garbage",
            'cannot parse Content-Type "garbage" and no fallback_scrape_protocol for target\n'
            "mime: expected token after slash in 'garbage'",
        ),
    ],
)
def test_unusable_content_type_fails_the_scrape_without_fallback(
    content_type: str | None, message: str
) -> None:
    with pytest.raises(NegotiationError) as err:
        scrape_format(content_type)
    assert str(err.value) == message


def test_fallback_scrape_protocol_is_used_with_a_warning() -> None:
    assert scrape_format("", "PrometheusText0.0.4") == ScrapeFormat(
        ExpositionFormat.TEXT,
        "non-compliant scrape target sending blank Content-Type, using "
        'fallback_scrape_protocol "PrometheusText0.0.4"',
    )
    assert scrape_format("application/json", "OpenMetricsText1.0.0") == ScrapeFormat(
        ExpositionFormat.OPENMETRICS,
        'received unsupported Content-Type "application/json", using fallback_scrape_protocol '
        '"OpenMetricsText1.0.0"',
    )


@pytest.mark.parametrize(
    ("accept", "fmt", "content_type"),
    [
        (
            None,
            ExpositionFormat.TEXT,
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
        ),
        (
            "*/*",
            ExpositionFormat.TEXT,
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
        ),
        (
            LEGACY_ACCEPT_HEADER,
            ExpositionFormat.OPENMETRICS,
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=underscores",
        ),
        (
            accept_header(DEFAULT_SCRAPE_PROTOCOLS),
            ExpositionFormat.OPENMETRICS,
            "application/openmetrics-text; version=1.0.0; charset=utf-8; escaping=allow-utf-8",
        ),
        (
            accept_header(DEFAULT_PROTO_FIRST_SCRAPE_PROTOCOLS),
            ExpositionFormat.PROTOBUF,
            "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; "
            "encoding=delimited; escaping=underscores",
        ),
        (
            "application/openmetrics-text",
            ExpositionFormat.OPENMETRICS,
            "application/openmetrics-text; version=0.0.1; charset=utf-8; escaping=underscores",
        ),
        (
            "text/plain;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5",
            ExpositionFormat.TEXT,
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
        ),
        (
            "text/plain;version=0.0.4;escaping=dots",
            ExpositionFormat.TEXT,
            "text/plain; version=0.0.4; charset=utf-8; escaping=dots",
        ),
        (
            "text/plain;version=0.0.4;escaping=bogus",
            ExpositionFormat.TEXT,
            "text/plain; version=0.0.4; charset=utf-8; escaping=underscores",
        ),
    ],
)
def test_server_side_negotiation_matches_expfmt(
    accept: str | None, fmt: ExpositionFormat, content_type: str
) -> None:
    got = negotiate(accept)
    assert (got.format, got.content_type) == (fmt, content_type)


def test_without_openmetrics_the_server_falls_back_to_text() -> None:
    got = negotiate("application/openmetrics-text;version=1.0.0", openmetrics=False)
    assert got.format is ExpositionFormat.TEXT


def test_our_accept_header_against_a_real_prometheus_client_exporter() -> None:
    registry = CollectorRegistry()
    Counter("jobs", "Jobs done.", registry=registry).inc()
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    try:
        port = server.server_address[1]
        for protocols, expected in (
            (DEFAULT_SCRAPE_PROTOCOLS, ExpositionFormat.OPENMETRICS),
            (("PrometheusText0.0.4",), ExpositionFormat.TEXT),
        ):
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/metrics",
                headers={"Accept": accept_header(protocols)},
            )
            with urllib.request.urlopen(req, timeout=5) as resp:
                body = resp.read().decode()
                chosen = scrape_format(resp.headers.get("Content-Type"))
            assert chosen.format is expected
            assert body.endswith("# EOF\n") == (expected is ExpositionFormat.OPENMETRICS)
    finally:
        server.shutdown()
        thread.join(timeout=5)
