"""CORS (security model W2) and the router's plain-text errors, as observed on Go 2.42."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _server_api_support import ApiServer, running_api
from aiohttp import web

from promethean.server.context import ServerContext

CORS = {
    "Access-Control-Allow-Headers": "Accept, Authorization, Content-Type, Origin",
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Expose-Headers": "Date",
    "Vary": "Origin",
}


def _extra(app: web.Application, ctx: ServerContext) -> None:
    """Routes other modules own, to check the API's middleware leaves them alone."""

    async def healthy(request: web.Request) -> web.Response:
        return web.Response(text="Prometheus Server is Healthy.\n")

    async def admin_off(request: web.Request) -> web.Response:
        return web.json_response(
            {"status": "error", "errorType": "unavailable", "error": "admin APIs disabled"},
            status=500,
        )

    app.router.add_get(ctx.path("/-/healthy"), healthy)
    for method in ("POST", "PUT"):
        app.router.add_route(method, ctx.path("/api/v1/admin/tsdb/snapshot"), admin_off)


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with running_api(tmp_path_factory.mktemp("cors"), extra_routes=_extra) as server:
        yield server


def _cors(headers: dict[str, str] | object) -> dict[str, str]:
    assert isinstance(headers, dict)
    return {k: v for k, v in headers.items() if k.startswith("Access-Control") or k == "Vary"}


def test_default_origin_gets_a_literal_star(api: ApiServer) -> None:
    origin = {"Origin": "https://evil.example"}
    for method in ("GET", "POST"):
        r = api.request(method, "/api/v1/query", {"query": "1"}, headers=origin)
        assert r.status == 200
        assert _cors(r.headers) == {**CORS, "Access-Control-Allow-Origin": "*"}
    r = api.request(
        "OPTIONS",
        "/api/v1/query",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert r.status == 204
    assert _cors(r.headers) == {**CORS, "Access-Control-Allow-Origin": "*"}
    assert "Access-Control-Allow-Credentials" not in r.headers


def test_no_origin_no_cors_headers(api: ApiServer) -> None:
    r = api.request("GET", "/api/v1/query", {"query": "1"})
    assert _cors(r.headers) == {}
    r = api.request("OPTIONS", "/api/v1/query")
    assert r.status == 204
    assert _cors(r.headers) == {}


def test_options_on_any_api_path_is_204(api: ApiServer) -> None:
    for path in ("/api/v1/no/such/thing", "/api/v1/admin/tsdb/snapshot"):
        r = api.request("OPTIONS", path, headers={"Origin": "https://x.example"})
        assert r.status == 204
        assert r.body == b""
        assert r.headers["Access-Control-Allow-Origin"] == "*"


def test_non_api_paths_get_no_cors(api: ApiServer) -> None:
    r = api.request("GET", "/-/healthy", headers={"Origin": "https://evil.example"})
    assert r.status == 200
    assert _cors(r.headers) == {}


def test_admin_error_with_origin_gets_cors(api: ApiServer) -> None:
    r = api.request("POST", "/api/v1/admin/tsdb/snapshot", headers={"Origin": "https://e.example"})
    assert r.status == 500
    assert _cors(r.headers) == {**CORS, "Access-Control-Allow-Origin": "*"}


def test_router_404_and_405_are_go_plain_text(api: ApiServer) -> None:
    r = api.request("GET", "/api/v1/nope")
    assert (r.status, r.body) == (404, b"404 page not found\n")
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    r = api.request("GET", "/nothing/here")
    assert (r.status, r.body) == (404, b"404 page not found\n")
    r = api.request("GET", "/api/v1/admin/tsdb/snapshot")
    assert (r.status, r.body) == (405, b"Method Not Allowed\n")
    assert r.headers["Allow"] == "OPTIONS, POST, PUT"
    r = api.request("DELETE", "/api/v1/query")
    assert r.status == 405
    assert r.headers["Allow"] == "GET, OPTIONS, POST"
    r = api.request("POST", "/-/healthy")
    assert r.headers["Allow"] == "GET, HEAD, OPTIONS"


def test_series_delete_is_not_implemented(api: ApiServer) -> None:
    r = api.request("DELETE", "/api/v1/series")
    assert r.status == 500
    assert r.text == '{"status":"error","errorType":"internal","error":"not implemented"}'


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with running_api(tmp_path_factory.mktemp("strict"), cors=r"https://a\.example") as server:
        yield server


def test_specific_origin_is_echoed(strict: ApiServer) -> None:
    origin = {"Origin": "https://a.example"}
    r = strict.request("GET", "/api/v1/query", {"query": "1"}, headers=origin)
    assert r.headers["Access-Control-Allow-Origin"] == "https://a.example"
    r = strict.request("OPTIONS", "/api/v1/query", headers=origin)
    assert r.status == 204
    assert r.headers["Access-Control-Allow-Origin"] == "https://a.example"


@pytest.mark.parametrize(
    "origin",
    [
        "https://b.example",
        "https://a.example.evil.com",
        "https://aXexample",
        "http://a.example",
        "null",
    ],
)
def test_other_origins_get_no_allow_origin_but_the_request_runs(
    strict: ApiServer, origin: str
) -> None:
    r = strict.request(
        "GET", "/api/v1/query", {"query": "1", "time": "1"}, headers={"Origin": origin}
    )
    assert r.status == 200
    assert r.text == '{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}'
    assert _cors(r.headers) == CORS


def test_route_prefix(tmp_path: Path) -> None:
    """Under --web.route-prefix=/prom/ the API answers there and only there."""
    with running_api(tmp_path, route_prefix="/prom/") as api:
        r = api.get("/prom/api/v1/query", query="1", time="1")
        assert r.text == '{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}'
        assert api.get("/api/v1/query", query="1").status == 404
        r = api.request("OPTIONS", "/prom/api/v1/x", headers={"Origin": "o"})
        assert (r.status, r.headers["Access-Control-Allow-Origin"]) == (204, "*")
