"""TLS as a client sees it: versions, client certificates, SANs, curves, reload."""

from __future__ import annotations

import http.client
import ssl
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from _webtest_support import request, running_server, tls_handshake, write_atomic


@dataclass
class PKI:
    dir: Path
    ca: trustme.CA
    server: trustme.LeafCert
    client: trustme.LeafCert
    foreign_client: trustme.LeafCert

    def config(self, extra: str = "", client_auth: str | None = None, ca: bool = False) -> Path:
        lines = [
            "tls_server_config:",
            "  cert_file: server.pem",
            "  key_file: server.key",
        ]
        if client_auth:
            lines.append(f"  client_auth_type: {client_auth}")
        if ca:
            lines.append("  client_ca_file: clients-ca.pem")
        text = "\n".join(lines) + "\n" + extra
        path = self.dir / "web.yml"
        write_atomic(path, text)
        return path

    def client_context(self, cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        self.ca.configure_trust(ctx)
        if cert is not None:
            cert.configure_cert(ctx)
        return ctx


@pytest.fixture
def pki(tmp_path: Path) -> PKI:
    # RSA, so that suite tests mean something: an ECDSA certificate would fail
    # every ECDHE-RSA suite regardless of the cipher policy.
    ca = trustme.CA(key_type=trustme.KeyType.RSA)
    server = ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.RSA)
    server.cert_chain_pems[0].write_to_path(tmp_path / "server.pem")
    server.private_key_pem.write_to_path(tmp_path / "server.key")
    client_ca = trustme.CA()
    client = client_ca.issue_cert("client.example", "127.0.0.9")
    client_ca.cert_pem.write_to_path(tmp_path / "clients-ca.pem")
    foreign = trustme.CA().issue_cert("client.example")
    return PKI(tmp_path, ca, server, client, foreign)


def _version_context(pki: PKI, version: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = pki.client_context()
    ctx.minimum_version = version
    ctx.maximum_version = version
    if version < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    return ctx


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_default_accepts_tls12_and_tls13_only(pki: PKI) -> None:
    with running_server(pki.config()) as srv:
        for version in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            with pytest.raises(ssl.SSLError) as err:
                tls_handshake(srv.port, _version_context(pki, version)).close()
            assert "VERSION" in str(err.value).upper() or "PROTOCOL" in str(err.value).upper()
        for version, name in (
            (ssl.TLSVersion.TLSv1_2, "TLSv1.2"),
            (ssl.TLSVersion.TLSv1_3, "TLSv1.3"),
        ):
            sock = tls_handshake(srv.port, _version_context(pki, version))
            try:
                assert sock.version() == name
                if version == ssl.TLSVersion.TLSv1_2:
                    cipher = sock.cipher()
                    assert cipher is not None and cipher[0].startswith("ECDHE-")
                    assert "GCM" in cipher[0] or "CHACHA20" in cipher[0]
            finally:
                sock.close()
        status, _, body = request(srv.port, context=pki.client_context())
        assert (status, body) == (200, b"Hello World!")


def test_default_refuses_cbc_and_rsa_key_exchange(pki: PKI) -> None:
    with running_server(pki.config()) as srv:
        for suite in (
            "ECDHE-RSA-AES128-SHA",
            "AES128-GCM-SHA256",
            "AES128-SHA",
            "ECDHE-RSA-AES128-SHA256",
        ):
            ctx = _version_context(pki, ssl.TLSVersion.TLSv1_2)
            ctx.set_ciphers(suite)
            with pytest.raises(ssl.SSLError):
                tls_handshake(srv.port, ctx).close()


def test_min_version_tls13_refuses_tls12(pki: PKI) -> None:
    path = pki.dir / "web13.yml"
    path.write_text(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
        "  min_version: TLS13\n"
    )
    with running_server(path) as srv:
        with pytest.raises(ssl.SSLError):
            tls_handshake(srv.port, _version_context(pki, ssl.TLSVersion.TLSv1_2)).close()
        tls_handshake(srv.port, _version_context(pki, ssl.TLSVersion.TLSv1_3)).close()


def test_configured_cipher_suite_is_the_only_one(pki: PKI) -> None:
    extra = "  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384]\n  max_version: TLS12\n"
    path = pki.dir / "ciphers.yml"
    path.write_text("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n" + extra)
    with running_server(path) as srv:
        sock = tls_handshake(srv.port, pki.client_context())
        try:
            assert sock.cipher()[0] == "ECDHE-RSA-AES256-GCM-SHA384"  # type: ignore[index]
        finally:
            sock.close()
        ctx = pki.client_context()
        ctx.set_ciphers("ECDHE-RSA-AES128-GCM-SHA256")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            tls_handshake(srv.port, ctx).close()


def test_curve_preferences_restrict_key_exchange(pki: PKI) -> None:
    path = pki.dir / "curves.yml"
    path.write_text(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n"
        "  curve_preferences: [CurveP521, CurveP384]\n"
    )
    with running_server(path) as srv:
        ctx = pki.client_context()
        ctx.set_ecdh_curve("prime256v1")  # client offers P-256 only (TLS 1.2 path)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        with pytest.raises(ssl.SSLError):
            tls_handshake(srv.port, ctx).close()
        ctx = pki.client_context()
        ctx.set_ecdh_curve("secp384r1")
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        tls_handshake(srv.port, ctx).close()


def _outcome(port: int, ctx: ssl.SSLContext) -> str:
    """'ok' when a request is served, 'refused' when the TLS layer rejects the client."""
    try:
        status, _, _ = request(port, context=ctx)
    except (ssl.SSLError, OSError, http.client.HTTPException):
        return "refused"
    return "ok" if status == 200 else f"status {status}"


# client_auth_type -> outcome for (no cert, cert from a foreign CA, cert from the configured CA)
CLIENT_AUTH_CASES = {
    "NoClientCert": ("ok", "ok", "ok"),
    "RequestClientCert": ("ok", "ok", "ok"),
    "RequireAnyClientCert": ("refused", "ok", "ok"),
    "VerifyClientCertIfGiven": ("ok", "refused", "ok"),
    "RequireAndVerifyClientCert": ("refused", "refused", "ok"),
}


@pytest.mark.parametrize("auth", list(CLIENT_AUTH_CASES))
def test_client_auth_types_behave_as_named(pki: PKI, auth: str) -> None:
    with running_server(pki.config(client_auth=auth, ca=auth != "NoClientCert")) as srv:
        got = tuple(
            _outcome(srv.port, pki.client_context(cert))
            for cert in (None, pki.foreign_client, pki.client)
        )
    assert got == CLIENT_AUTH_CASES[auth]


def test_request_client_cert_really_requests_one(pki: PKI) -> None:
    """RequestClientCert asks for a certificate (the client sends it) without verifying it."""
    from aiohttp import web

    def app() -> web.Application:
        async def who(request: web.Request) -> web.Response:
            ssl_object = request.transport.get_extra_info("ssl_object")  # type: ignore[union-attr]
            return web.Response(text="cert" if ssl_object.getpeercert(True) else "none")

        application = web.Application()
        application.router.add_get("/", who)
        return application

    with running_server(pki.config(client_auth="RequestClientCert"), app_factory=app) as srv:
        assert request(srv.port, context=pki.client_context(pki.foreign_client))[2] == b"cert"
        assert request(srv.port, context=pki.client_context())[2] == b"none"


@pytest.mark.parametrize("auth", ["RequireAndVerifyClientCert", "RequireAnyClientCert"])
def test_client_allowed_sans(pki: PKI, auth: str) -> None:
    allowed = "  client_allowed_sans: [127.0.0.9, other.example]\n"
    with running_server(pki.config(allowed, client_auth=auth, ca=True)) as srv:
        assert _outcome(srv.port, pki.client_context(pki.client)) == "ok"
    denied = "  client_allowed_sans: [someone-else.example]\n"
    with running_server(pki.config(denied, client_auth=auth, ca=True)) as srv:
        assert _outcome(srv.port, pki.client_context(pki.client)) == "refused"


def test_plain_http_to_tls_port_gets_400(pki: PKI) -> None:
    with running_server(pki.config()) as srv:
        status, _, body = request(srv.port)
    assert status == 400
    assert body == b"Client sent an HTTP request to an HTTPS server.\n"


def test_certificate_is_reloaded_without_restart(pki: PKI) -> None:
    with running_server(pki.config()) as srv:
        sock = tls_handshake(srv.port, pki.client_context())
        first = sock.getpeercert(binary_form=True)
        sock.close()
        renewed = pki.ca.issue_cert("localhost", "127.0.0.1", key_type=trustme.KeyType.RSA)
        write_atomic(pki.dir / "server.key", renewed.private_key_pem.bytes())
        write_atomic(pki.dir / "server.pem", renewed.cert_chain_pems[0].bytes())
        sock = tls_handshake(srv.port, pki.client_context())
        second = sock.getpeercert(binary_form=True)
        sock.close()
        assert second != first
        assert second == ssl.PEM_cert_to_DER_cert(renewed.cert_chain_pems[0].bytes().decode())
        # A broken key is refused at reload; the renewed pair keeps serving.
        write_atomic(pki.dir / "server.key", b"not a key\n")
        sock = tls_handshake(srv.port, pki.client_context())
        assert sock.getpeercert(binary_form=True) == second
        sock.close()
        assert srv.server.watcher.failures == 1


def test_without_openssl_access_such_configs_are_refused_not_weakened(
    pki: PKI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from promethean.config import ConfigError
    from promethean.web import _openssl, validate_web_config_file

    monkeypatch.setattr(_openssl, "_probed", True)
    monkeypatch.setattr(_openssl, "_lib", None)
    monkeypatch.setattr(_openssl, "_problem", "libssl could not be located")
    with pytest.raises(ConfigError, match="RequireAnyClientCert needs direct OpenSSL access"):
        validate_web_config_file(pki.config(client_auth="RequireAnyClientCert"))
    with pytest.raises(ConfigError, match="more than one curve needs direct OpenSSL access"):
        validate_web_config_file(pki.config("  curve_preferences: [X25519, CurveP256]\n"))
    # What the ssl module can do itself still works.
    validate_web_config_file(pki.config("  curve_preferences: [CurveP384]\n"))
    validate_web_config_file(pki.config(client_auth="RequireAndVerifyClientCert", ca=True))
