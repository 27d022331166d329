"""Logging: upstream's logfmt/json shapes, and secrets never reach a line (K1)."""

from __future__ import annotations

import io
import json
import logging

import pytest

from promethean.config import Secret
from promethean.logs import kv, redact_text, setup_logging


@pytest.fixture
def stream() -> io.StringIO:
    buf = io.StringIO()
    setup_logging("debug", "logfmt", stream=buf)
    yield buf
    setup_logging("info", "logfmt")


def test_logfmt_line_shape(stream: io.StringIO) -> None:
    logging.getLogger("t").info("TLS is enabled.", extra=kv(component="web", http2=True))
    line = stream.getvalue().strip()
    assert line.startswith("ts=")
    assert ' level=info component=web msg="TLS is enabled." http2=true' in line


def test_json_format() -> None:
    buf = io.StringIO()
    setup_logging("info", "json", stream=buf)
    try:
        logging.getLogger("t").warning("careful", extra=kv(n=3))
        logging.getLogger("t").debug("hidden at info")
    finally:
        setup_logging("info", "logfmt")
    lines = buf.getvalue().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["level"] == "warn" and rec["msg"] == "careful" and rec["n"] == "3"


def test_registered_secret_is_masked_everywhere(stream: io.StringIO) -> None:
    Secret("s3cr3t-marker-xyz")
    log = logging.getLogger("t")
    log.info("connecting with s3cr3t-marker-xyz", extra=kv(token="s3cr3t-marker-xyz"))
    try:
        raise RuntimeError("server rejected password s3cr3t-marker-xyz")
    except RuntimeError:
        log.exception("remote write failed")
    out = stream.getvalue()
    assert "s3cr3t-marker-xyz" not in out
    assert out.count("<secret>") == 3
    assert "Traceback" not in out


def test_url_userinfo_is_masked(stream: io.StringIO) -> None:
    logging.getLogger("t").error("POST https://bob:pa55word@remote.example/api failed")
    out = stream.getvalue()
    assert "pa55word" not in out
    assert "https://bob:xxxxx@remote.example/api" in out
    assert redact_text("http://u:p@h/") == "http://u:xxxxx@h/"


def test_bad_level_and_format_are_named() -> None:
    with pytest.raises(ValueError, match="unrecognized log level 'verbose'"):
        setup_logging("verbose", "logfmt")
    with pytest.raises(ValueError, match="unrecognized log format 'xml'"):
        setup_logging("info", "xml")
