"""Process logging in upstream's shape: ``--log.level`` and ``--log.format``.

Lines look like Go Prometheus's go-kit output, so existing log pipelines keep
parsing them::

    ts=2026-11-27T06:30:00.123Z caller=tls.py:42 level=info component=web \
        msg="TLS is enabled." http2=true

Structured fields are passed with :func:`kv`: ``log.info("msg", extra=kv(err=e))``.

Redaction is the point of this module (SECURITY-MODEL K1/S1): a filter on the
root handler rewrites every record, message, fields and exception text alike,
masking registered secret values and URL passwords. It runs after formatting,
so nothing a library puts into a message can bypass it.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any, TextIO

from promethean.config.secret import scrub

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}
FORMATS = ("logfmt", "json")

_GO_LEVEL = {
    logging.DEBUG: "debug",
    logging.INFO: "info",
    logging.WARNING: "warn",
    logging.ERROR: "error",
    logging.CRITICAL: "error",
}

# scheme://user:password@host -> scheme://user:xxxxx@host (what upstream shows in config).
_USERINFO = re.compile(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")


def redact_text(text: str) -> str:
    """Mask registered secrets and URL passwords in free text."""
    text = scrub(text)
    if "@" in text:
        text = _USERINFO.sub(r"\g<pre>:xxxxx@", text)
    return text


def kv(**fields: Any) -> dict[str, Any]:
    """Structured fields for a log call: ``extra=kv(component="web", err=exc)``."""
    return {"fields": fields}


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    fields = getattr(record, "fields", None)
    return fields if isinstance(fields, dict) else {}


def _record_items(record: logging.LogRecord) -> list[tuple[str, str]]:
    ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    items = [
        ("ts", f"{ts}.{int(record.msecs):03d}Z"),
        ("caller", f"{record.filename}:{record.lineno}"),
        ("level", _GO_LEVEL.get(record.levelno, "info")),
    ]
    component = _fields(record).get("component") or getattr(record, "component", None)
    if component:
        items.append(("component", str(component)))
    items.append(("msg", record.getMessage()))
    for key, value in _fields(record).items():
        if key == "component":
            continue
        items.append((key, _stringify(value)))
    if record.exc_info and record.exc_info[1] is not None:
        # Only the exception's message: a traceback is not for operators' logs.
        items.append(("err", str(record.exc_info[1]) or type(record.exc_info[1]).__name__))
    return [(k, redact_text(v)) for k, v in items]


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, BaseException):
        return str(value) or type(value).__name__
    return str(value)


_LOGFMT_BARE = re.compile(r"^[^\s\"=]+$")


def _logfmt_value(value: str) -> str:
    if value and _LOGFMT_BARE.match(value):
        return value
    return json.dumps(value, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_logfmt_value(v)}" for k, v in _record_items(record))


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(dict(_record_items(record)), ensure_ascii=False)


def setup_logging(level: str = "info", fmt: str = "logfmt", stream: TextIO | None = None) -> None:
    """Configure the root logger. Raises ValueError naming a bad level or format."""
    if level not in LEVELS:
        raise ValueError(f"unrecognized log level {level!r} (one of: {', '.join(LEVELS)})")
    if fmt not in FORMATS:
        raise ValueError(f"unrecognized log format {fmt!r} (one of: {', '.join(FORMATS)})")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JSONFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(LEVELS[level])
    # aiohttp's own access logger is replaced by ours (web.accesslog).
    logging.getLogger("aiohttp.access").propagate = False
