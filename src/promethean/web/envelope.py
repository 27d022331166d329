"""JSON responses in the Prometheus API's envelope, byte for byte.

Clients (Grafana, promtool, client libraries) parse ``status``/``data`` and
``errorType``; the HTTP code follows the errorType as upstream's API does.
Output matches Go's ``encoding/json``: compact, and ``<``, ``>``, ``&``,
U+2028 and U+2029 escaped, so a body never turns into HTML by accident.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

__all__ = ["ERROR_STATUS", "api_error", "api_success", "dumps"]

ERROR_STATUS: dict[str, int] = {
    "bad_data": 400,
    "not_found": 404,
    "not_acceptable": 406,
    "execution": 422,
    "canceled": 499,
    "internal": 500,
    "timeout": 503,
    "unavailable": 503,
}

_GO_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def dumps(value: Any) -> str:
    """JSON text as Go's encoder writes it."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    # Safe outside strings too: these characters only occur inside JSON strings.
    return text.translate(_GO_ESCAPES)


def _response(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        body=dumps(body).encode(),
        status=status,
        headers={"Content-Type": "application/json"},
    )


def api_success(
    data: Any,
    *,
    warnings: list[str] | None = None,
    infos: list[str] | None = None,
    status: int = 200,
) -> web.Response:
    """``{"status":"success","data":...}`` plus warnings/infos when there are any."""
    body: dict[str, Any] = {"status": "success", "data": data}
    if warnings:
        body["warnings"] = list(warnings)
    if infos:
        body["infos"] = list(infos)
    return _response(body, status)


def api_error(
    error_type: str,
    message: str,
    *,
    status: int | None = None,
    data: Any = None,
    warnings: list[str] | None = None,
) -> web.Response:
    """``{"status":"error","errorType":...,"error":...}`` with the errorType's HTTP code.

    ``status`` overrides the map where upstream differs from it (for example
    the admin API answers ``unavailable`` with 500 when disabled).
    """
    body: dict[str, Any] = {"status": "error", "errorType": error_type, "error": message}
    if data is not None:
        body["data"] = data
    if warnings:
        body["warnings"] = list(warnings)
    return _response(body, status if status is not None else ERROR_STATUS.get(error_type, 500))
