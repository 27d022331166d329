"""JSON envelope bytes, access log hygiene, flag parsing, public surface."""

from __future__ import annotations

import argparse
import io
import json
import logging

import pytest
from _webtest_support import running_server

import promethean.web
from promethean.logs import setup_logging
from promethean.web import add_web_flags, api_error, api_success, web_options


def test_success_envelope_bytes() -> None:
    resp = api_success({"resultType": "scalar", "result": [1, "1.5"]})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json"
    assert resp.body == b'{"status":"success","data":{"resultType":"scalar","result":[1,"1.5"]}}'
    warned = api_success([], warnings=["w"], infos=["i"])
    assert warned.body == b'{"status":"success","data":[],"warnings":["w"],"infos":["i"]}'


@pytest.mark.parametrize(
    ("error_type", "status"),
    [
        ("bad_data", 400),
        ("execution", 422),
        ("canceled", 499),
        ("timeout", 503),
        ("internal", 500),
        ("unavailable", 503),
        ("not_found", 404),
    ],
)
def test_error_envelope_status(error_type: str, status: int) -> None:
    resp = api_error(error_type, "boom")
    assert resp.status == status
    assert resp.headers["Content-Type"] == "application/json"
    assert json.loads(resp.body) == {"status": "error", "errorType": error_type, "error": "boom"}  # type: ignore[arg-type]


def test_error_envelope_escapes_like_go() -> None:
    resp = api_error("bad_data", 'invalid parameter "query": <x> & y', status=400)
    assert resp.body == (
        b'{"status":"error","errorType":"bad_data",'
        b'"error":"invalid parameter \\"query\\": \\u003cx\\u003e \\u0026 y"}'
    )
    assert api_error("unavailable", "admin APIs disabled", status=500).status == 500


def test_access_log_never_shows_credentials() -> None:
    from _webtest_support import request

    stream = io.StringIO()
    setup_logging("debug", stream=stream)
    try:
        with running_server(None) as srv:
            status, _, _ = request(
                srv.port,
                "/?q=1",
                headers={"Authorization": "Basic YWxpY2U6czNjcmV0LXBhc3N3b3Jk", "User-Agent": "t"},
            )
            assert status == 200
    finally:
        logging.getLogger().handlers.clear()
    text = stream.getvalue()
    lines = [line for line in text.splitlines() if "msg=request" in line]
    assert lines, text
    assert 'path="/?q=1"' in lines[0] and "status=200" in lines[0] and "component=web" in lines[0]
    assert "YWxpY2U6" not in text
    assert "s3cret-password" not in text


def test_web_flags() -> None:
    parser = argparse.ArgumentParser()
    add_web_flags(parser, "0.0.0.0:9090")
    opts = web_options(parser.parse_args([]))
    assert opts.listen_addresses == ("0.0.0.0:9090",)
    assert (opts.max_connections, opts.read_timeout, opts.header_timeout) == (512, 300.0, 30.0)
    assert opts.config_file == ""
    opts = web_options(
        parser.parse_args(
            [
                "--web.listen-address=:1",
                "--web.listen-address=[::1]:2",
                "--web.config.file=w.yml",
                "--web.read-timeout=1m30s",
                "--web.read-header-timeout=5s",
                "--web.max-connections=7",
            ]
        )
    )
    assert opts.listen_addresses == (":1", "[::1]:2")
    assert (opts.config_file, opts.read_timeout, opts.header_timeout) == ("w.yml", 90.0, 5.0)
    assert opts.max_connections == 7


def test_public_surface() -> None:
    assert sorted(promethean.web.__all__) == [
        "ERROR_STATUS",
        "TLSSetupError",
        "WebConfig",
        "WebOptions",
        "WebServer",
        "add_web_flags",
        "api_error",
        "api_success",
        "build_ssl_context",
        "client_identity",
        "dumps",
        "load_web_config",
        "mount_under_prefix",
        "parse_web_config",
        "plain_error",
        "read_body",
        "validate_web_config_file",
        "web_options",
    ]
