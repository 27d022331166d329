"""The shared HTTP client config: validation as upstream, and what goes on the wire.

Every wire test talks to a real aiohttp server on 127.0.0.1 (TLS with
certificates made by trustme), so what is asserted is what a target, a proxy
or a token endpoint actually receives.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp import web

from promethean.config import ConfigError, parse_config, render_yaml
from promethean.config.httpclient import (
    HTTPClientConfig,
    HTTPClientError,
    build_session,
    proxy_for,
    request_kwargs,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def arun(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test on a fresh event loop (fixtures still injected by name)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        asyncio.run(asyncio.wait_for(fn(*args, **kwargs), 30))  # type: ignore[arg-type]

    return wrapper


@asynccontextmanager
async def serve(handler: Handler, ssl_ctx: ssl.SSLContext | None = None) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    try:
        yield port
    finally:
        await runner.cleanup()


def cfg(text: str, base_dir: Path | None = None) -> HTTPClientConfig:
    ctx = {"base_dir": base_dir} if base_dir else None
    return parse_config(HTTPClientConfig, text, "c.yml", ctx)


def recorder() -> tuple[list[dict[str, Any]], Handler]:
    seen: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append({"headers": dict(request.headers), "url": str(request.url)})
        return web.Response(text="ok")

    return seen, handler


async def get(config: HTTPClientConfig, url: str, **kw: Any) -> tuple[int, str]:
    session = build_session(config, "test", user_agent="promethean-test")
    try:
        async with session.get(url, **request_kwargs(config), **kw) as resp:
            return resp.status, await resp.text()
    finally:
        await session.close()


# --------------------------------------------------------------------------- validation

INVALID = [
    (
        "authorization: {type: basic}",
        'authorization type cannot be set to "basic", use "basic_auth" instead',
    ),
    (
        "authorization: {type: Basic, credentials: x}",
        'authorization type cannot be set to "basic", use "basic_auth" instead',
    ),
    (
        "bearer_token: a\nauthorization: {credentials: b}",
        "authorization is not compatible with bearer_token & bearer_token_file",
    ),
    (
        "bearer_token: a\nbearer_token_file: f",
        "at most one of bearer_token & bearer_token_file must be configured",
    ),
    (
        "bearer_token: a\nbasic_auth: {username: u}",
        "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured",
    ),
    (
        "basic_auth: {username: u}\nauthorization: {credentials: b}",
        "at most one of basic_auth, oauth2 & authorization must be configured",
    ),
    (
        "basic_auth: {password: a, password_file: f}",
        "at most one of basic_auth password & password_file must be configured",
    ),
    (
        "basic_auth: {username: a, username_file: f}",
        "at most one of basic_auth username & username_file must be configured",
    ),
    (
        "authorization: {credentials: a, credentials_file: f}",
        "at most one of authorization credentials & credentials_file must be configured",
    ),
    ("oauth2: {client_secret: s, token_url: 'http://x'}", "oauth2 client_id must be configured"),
    (
        "oauth2: {client_id: i, token_url: 'http://x'}",
        "either oauth2 client_secret or client_secret_file must be configured",
    ),
    ("oauth2: {client_id: i, client_secret: s}", "oauth2 token_url must be configured"),
    (
        "oauth2: {client_id: i, client_secret: s, client_secret_file: f, token_url: 'http://x'}",
        "at most one of oauth2 client_secret & client_secret_file must be configured",
    ),
    (
        "oauth2: {client_id: i, client_secret: s, token_url: 'http://x'}\n"
        "basic_auth: {username: u}",
        "at most one of basic_auth, oauth2 & authorization must be configured",
    ),
    ("tls_config: {ca: x, ca_file: y}", "at most one of ca and ca_file must be configured"),
    (
        "tls_config: {cert_file: y}",
        "exactly one of key or key_file must be configured when a client certificate is configured",
    ),
    (
        "tls_config: {key_file: y}",
        "exactly one of cert or cert_file must be configured when a client key is configured",
    ),
    ("tls_config: {min_version: TLS14}", "unknown TLS version: TLS14"),
    ("no_proxy: localhost", "if no_proxy is configured, proxy_url must also be configured"),
    (
        "proxy_from_environment: true\nproxy_url: 'http://p:1'",
        "if proxy_from_environment is configured, proxy_url must not be configured",
    ),
    (
        "proxy_connect_header: {X: [a]}",
        "if proxy_connect_header is configured, proxy_url or proxy_from_environment must "
        "also be configured",
    ),
    (
        "http_headers: {Authorization: {values: [x]}}",
        'setting header "Authorization" is not allowed',
    ),
    ("basic_auth: {passwd: x}", "basic_auth.passwd: unknown field"),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_configs_fail_with_upstream_message(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        cfg(text)
    assert message in str(err.value)
    assert str(err.value).startswith("c.yml:")


def test_defaults_and_legacy_bearer_rendered_as_upstream() -> None:
    c = cfg("bearer_token: LEGACY_BEARER_1\nproxy_url: http://pu:PROXY_PW_1@127.0.0.1:3128\n")
    assert c.follow_redirects is True and c.enable_http2 is True
    assert c.authorization is not None and c.authorization.type == "Bearer"
    out = render_yaml(c)
    assert "bearer_token" not in out
    assert "authorization:\n  type: Bearer\n  credentials: <secret>\n" in out
    assert "proxy_url: http://pu:xxxxx@127.0.0.1:3128" in out
    assert "LEGACY_BEARER_1" not in out and "PROXY_PW_1" not in out
    assert "LEGACY_BEARER_1" not in repr(c) and "LEGACY_BEARER_1" not in str(c)


def test_every_secret_field_is_masked_when_rendered() -> None:
    c = cfg(
        """
oauth2:
  client_id: cid
  client_secret: OAUTH_SECRET_9
  token_url: http://127.0.0.1:1/token
  endpoint_params: {audience: aud1}
  proxy_url: http://u:OAUTH_PROXY_PW_9@127.0.0.1:2
tls_config: {cert: CERTPEM, key: TLS_KEY_SECRET_9}
http_headers: {X-Token: {secrets: [HEADER_SECRET_9], values: [visible]}}
proxy_url: http://127.0.0.1:3
proxy_connect_header: {Proxy-Auth-X: [CONNECT_SECRET_9]}
"""
    )
    out = render_yaml(c)
    for secret in (
        "OAUTH_SECRET_9",
        "OAUTH_PROXY_PW_9",
        "TLS_KEY_SECRET_9",
        "HEADER_SECRET_9",
        "CONNECT_SECRET_9",
    ):
        assert secret not in out
    assert "audience: aud1" in out and "visible" in out


def test_relative_files_resolve_against_config_dir(tmp_path: Path) -> None:
    c = cfg(
        "basic_auth: {username: u, password_file: pw.txt}\ntls_config: {ca_file: ca.pem}", tmp_path
    )
    assert c.basic_auth is not None and c.basic_auth.password_file == str(tmp_path / "pw.txt")
    assert c.tls_config.ca_file == str(tmp_path / "ca.pem")


# --------------------------------------------------------------------------- auth on the wire


@arun
async def test_basic_auth_password_file_is_reread_per_request(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("FIRST\n")
    seen, handler = recorder()
    c = cfg(f"basic_auth: {{username: scrapeuser, password_file: {pw}}}")
    async with serve(handler) as port:
        url = f"http://127.0.0.1:{port}/metrics"
        session = build_session(c, "job", user_agent="ua/1")
        try:
            async with session.get(url) as resp:
                assert resp.status == 200
            pw.write_text("SECOND")
            async with session.get(url) as resp:
                assert resp.status == 200
        finally:
            await session.close()
    decoded = [base64.b64decode(s["headers"]["Authorization"].split()[1]).decode() for s in seen]
    assert decoded == ["scrapeuser:FIRST", "scrapeuser:SECOND"]
    assert seen[0]["headers"]["User-Agent"] == "ua/1"


@arun
async def test_authorization_credentials_file_and_custom_type(tmp_path: Path) -> None:
    tok = tmp_path / "tok"
    tok.write_text("FILETOKEN\n")
    seen, handler = recorder()
    async with serve(handler) as port:
        url = f"http://127.0.0.1:{port}/"
        await get(cfg(f"authorization: {{credentials_file: {tok}}}"), url)
        await get(cfg("authorization: {type: Token, credentials: INLINE}"), url)
        await get(cfg("bearer_token: LEGACY"), url)
    assert [s["headers"]["Authorization"] for s in seen] == [
        "Bearer FILETOKEN",
        "Token INLINE",
        "Bearer LEGACY",
    ]


@arun
async def test_missing_secret_file_fails_the_request_without_content(tmp_path: Path) -> None:
    seen, handler = recorder()
    missing = tmp_path / "nope"
    async with serve(handler) as port:
        with pytest.raises(HTTPClientError) as err:
            await get(
                cfg(f"authorization: {{credentials_file: {missing}}}"), f"http://127.0.0.1:{port}/"
            )
    assert (
        str(err.value)
        == f"unable to read authorization credentials file {missing}: No such file or directory"
    )
    assert seen == []


@arun
async def test_http_headers_values_secrets_and_files(tmp_path: Path) -> None:
    f = tmp_path / "h"
    f.write_text("from-file\n")
    seen, handler = recorder()
    c = cfg(
        "http_headers: {X-One: {values: [v1]}, X-Two: {secrets: [s2]}, "
        f"X-Three: {{files: [{f}]}}}}"
    )
    async with serve(handler) as port:
        await get(c, f"http://127.0.0.1:{port}/")
    h = seen[0]["headers"]
    assert (h["X-One"], h["X-Two"], h["X-Three"]) == ("v1", "s2", "from-file")


@arun
async def test_follow_redirects_false_returns_the_redirect() -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/old":
            raise web.HTTPFound("/new")
        return web.Response(text="moved here")

    async with serve(handler) as port:
        assert await get(cfg(""), f"http://127.0.0.1:{port}/old") == (200, "moved here")
        status, _ = await get(cfg("follow_redirects: false"), f"http://127.0.0.1:{port}/old")
    assert status == 302


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def _server_ctx(ca: trustme.CA, *, client_ca: trustme.CA | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("target.example", "127.0.0.1").configure_cert(ctx)
    if client_ca is not None:
        client_ca.configure_trust(ctx)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


@arun
async def test_tls_trusts_ca_file_and_refuses_unknown_ca(ca: trustme.CA, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    _seen, handler = recorder()
    async with serve(handler, _server_ctx(ca)) as port:
        url = f"https://127.0.0.1:{port}/metrics"
        assert await get(cfg(f"tls_config: {{ca_file: {ca_file}}}"), url) == (200, "ok")
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await get(cfg(""), url)
        assert await get(cfg("tls_config: {insecure_skip_verify: true}"), url) == (200, "ok")
        # server_name picks the name checked against the certificate.
        good = cfg(f"tls_config: {{ca_file: {ca_file}, server_name: target.example}}")
        assert await get(good, url) == (200, "ok")
        bad = cfg(f"tls_config: {{ca_file: {ca_file}, server_name: other.example}}")
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await get(bad, url)


@arun
async def test_tls_client_certificate_and_inline_pem(ca: trustme.CA, tmp_path: Path) -> None:
    client_ca = trustme.CA()
    client = client_ca.issue_cert("scraper")
    cert_file, key_file = tmp_path / "c.pem", tmp_path / "k.pem"
    client.cert_chain_pems[0].write_to_path(str(cert_file))
    client.private_key_pem.write_to_path(str(key_file))
    ca_pem = ca.cert_pem.bytes().decode()
    _seen, handler = recorder()
    async with serve(handler, _server_ctx(ca, client_ca=client_ca)) as port:
        url = f"https://127.0.0.1:{port}/"
        with_cert = HTTPClientConfig.model_validate(
            {"tls_config": {"ca": ca_pem, "cert_file": str(cert_file), "key_file": str(key_file)}}
        )
        assert await get(with_cert, url) == (200, "ok")
        inline = HTTPClientConfig.model_validate(
            {
                "tls_config": {
                    "ca": ca_pem,
                    "cert": client.cert_chain_pems[0].bytes().decode(),
                    "key": client.private_key_pem.bytes().decode(),
                }
            }
        )
        assert await get(inline, url) == (200, "ok")
        without = HTTPClientConfig.model_validate({"tls_config": {"ca": ca_pem}})
        with pytest.raises(aiohttp.ClientError):
            await get(without, url)


@arun
async def test_tls_min_version_is_enforced(ca: trustme.CA, tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = _server_ctx(ca)
    server.maximum_version = ssl.TLSVersion.TLSv1_2
    _seen, handler = recorder()
    async with serve(handler, server) as port:
        url = f"https://127.0.0.1:{port}/"
        assert await get(cfg(f"tls_config: {{ca_file: {ca_file}, min_version: TLS12}}"), url) == (
            200,
            "ok",
        )
        with pytest.raises(aiohttp.ClientError):
            await get(cfg(f"tls_config: {{ca_file: {ca_file}, min_version: TLS13}}"), url)


# --------------------------------------------------------------------------- OAuth2


@arun
async def test_oauth2_client_credentials_token_cached_and_refetched_on_secret_change(
    tmp_path: Path,
) -> None:
    token_requests: list[dict[str, Any]] = []
    seen_auth: list[str] = []
    secret_file = tmp_path / "client_secret"
    secret_file.write_text("S1\n")

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/token":
            form = dict(await request.post())
            token_requests.append({"form": form, "auth": request.headers.get("Authorization", "")})
            n = len(token_requests)
            return web.json_response(
                {"access_token": f"tok{n}", "token_type": "bearer", "expires_in": 3600}
            )
        seen_auth.append(request.headers.get("Authorization", ""))
        return web.Response(text="ok")

    async with serve(handler) as port:
        c = cfg(
            f"""
oauth2:
  client_id: my client
  client_secret_file: {secret_file}
  scopes: [read, write]
  token_url: http://127.0.0.1:{port}/token
  endpoint_params: {{audience: aud1}}
"""
        )
        session = build_session(c, "job")
        try:
            for _ in range(2):
                async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                    assert resp.status == 200
            secret_file.write_text("S2\n")
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                assert resp.status == 200
        finally:
            await session.close()
    assert seen_auth == ["Bearer tok1", "Bearer tok1", "Bearer tok2"]
    assert len(token_requests) == 2
    first = token_requests[0]
    assert first["form"] == {
        "grant_type": "client_credentials",
        "scope": "read write",
        "audience": "aud1",
    }
    assert base64.b64decode(first["auth"].split()[1]).decode() == "my+client:S1"
    assert base64.b64decode(token_requests[1]["auth"].split()[1]).decode() == "my+client:S2"


@arun
async def test_oauth2_refused_token_fails_the_request_without_the_secret() -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/token":
            return web.json_response({"error": "invalid_client"}, status=401)
        return web.Response(text="should not be reached")

    async with serve(handler) as port:
        c = cfg(
            f"oauth2: {{client_id: c, client_secret: OAUTH_LEAK_CHECK, token_url: 'http://127.0.0.1:{port}/token'}}"
        )
        with pytest.raises(HTTPClientError) as err:
            await get(c, f"http://127.0.0.1:{port}/metrics")
    assert str(err.value) == 'oauth2: cannot fetch token: 401 Unauthorized (error "invalid_client")'


@arun
async def test_oauth2_falls_back_to_credentials_in_the_body() -> None:
    forms: list[dict[str, Any]] = []

    async def handler(request: web.Request) -> web.Response:
        if request.path == "/token":
            form = dict(await request.post())
            forms.append(form)
            if "client_secret" not in form:
                return web.json_response({"error": "invalid_client"}, status=401)
            return web.json_response({"access_token": "bodytok"})
        return web.Response(text=request.headers.get("Authorization", ""))

    async with serve(handler) as port:
        c = cfg(
            f"oauth2: {{client_id: c, client_secret: s, token_url: 'http://127.0.0.1:{port}/token'}}"
        )
        assert await get(c, f"http://127.0.0.1:{port}/m") == (200, "Bearer bodytok")
    assert forms[-1] == {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"}


# --------------------------------------------------------------------------- proxies


@arun
async def test_proxy_url_carries_requests_and_no_proxy_bypasses_it() -> None:
    proxied: list[dict[str, str]] = []

    async def proxy(request: web.Request) -> web.Response:
        proxied.append(
            {"url": str(request.url), "auth": request.headers.get("Proxy-Authorization", "")}
        )
        return web.Response(text="via proxy")

    seen, direct = recorder()
    async with serve(proxy) as pport, serve(direct) as dport:
        c = cfg(f"proxy_url: http://pu:ppw@127.0.0.1:{pport}")
        # The host does not resolve: only the proxy can answer.
        assert await get(c, "http://target.invalid:9100/metrics") == (200, "via proxy")
        bypass = cfg(f"proxy_url: http://127.0.0.1:{pport}\nno_proxy: target.invalid,10.0.0.0/8")
        assert await get(bypass, f"http://127.0.0.1:{dport}/metrics") == (200, "ok")
    assert proxied[0]["url"] == "http://target.invalid:9100/metrics"
    assert base64.b64decode(proxied[0]["auth"].split()[1]).decode() == "pu:ppw"
    assert len(proxied) == 1 and len(seen) == 1


@pytest.mark.parametrize(
    ("url", "no_proxy", "proxied"),
    [
        ("http://a.example.com/", "example.com", False),
        ("http://example.com/", "example.com", False),
        ("http://example.com/", ".example.com", True),
        ("http://a.example.com/", ".example.com", False),
        ("http://10.1.2.3/", "10.0.0.0/8", False),
        ("http://11.1.2.3/", "10.0.0.0/8", True),
        ("http://host:9100/", "host:9200", True),
        ("http://host:9100/", "host:9100", False),
        ("http://anything/", "*", False),
        ("http://localhost:1/", "other", False),
        ("http://other.org/", "example.com", True),
    ],
)
def test_no_proxy_rules_as_go(url: str, no_proxy: str, proxied: bool) -> None:
    got = proxy_for(url, "http://proxy:3128", no_proxy, False)
    assert (got is not None) is proxied


def test_proxy_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://envproxy:3128")
    monkeypatch.setenv("NO_PROXY", "skip.example")
    assert proxy_for("http://t.example/", None, None, True) == "http://envproxy:3128"
    assert proxy_for("http://skip.example/", None, None, True) is None
    assert proxy_for("http://127.0.0.1:9/", None, None, True) is None
    assert proxy_for("http://t.example/", None, None, False) is None


def test_session_needs_no_network_to_build() -> None:
    async def build() -> None:
        session = build_session(cfg("basic_auth: {username: u, password: p}"), "j")
        await session.close()

    asyncio.run(build())
