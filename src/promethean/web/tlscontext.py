"""Server ``SSLContext`` from a validated ``tls_server_config``.

Defaults are stricter than Go's (T1): TLS 1.2 minimum, and for TLS 1.2 only
ECDHE key exchange with AEAD ciphers, so neither RSA key exchange nor
CBC-SHA1 suites are offered unless the operator lists them. All five
``client_auth_type`` values behave as their Go names say; the two that
``ssl`` cannot express go through :mod:`promethean.web._openssl`.

Certificates and keys are loaded from the bytes read at validation time via
an anonymous in-memory file, so inline keys never touch the disk.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography import x509

from promethean.web import _openssl
from promethean.web.tlsnames import (
    CIPHER_SUITES,
    CURVES,
    DEFAULT_TLS12_CIPHERS,
    TLS_VERSIONS,
    ClientAuth,
)
from promethean.web.webconfig import TLSServerConfig, _sans

__all__ = ["TLSSetupError", "build_ssl_context", "peer_san_allowed", "peer_sans"]


class TLSSetupError(ValueError):
    """The TLS settings are valid but this process cannot serve them."""


@contextlib.contextmanager
def _memory_file(data: bytes) -> Iterator[str]:
    """A path whose content is ``data``, backed by memory where the OS allows."""
    memfd_create = getattr(os, "memfd_create", None)
    if memfd_create is not None:
        fd = memfd_create("promethean-tls", getattr(os, "MFD_CLOEXEC", 0))
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="promethean-tls-") as tmp:  # pragma: no cover
        path = Path(tmp) / "pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        yield str(path)


def _tls12_ciphers(names: Iterable[str]) -> str:
    mapped = [CIPHER_SUITES[n] for n in names]
    chosen = [m for m in mapped if m is not None]
    # Only TLS 1.3 names listed (Go ignores them): keep the default TLS 1.2 policy.
    return ":".join(dict.fromkeys(chosen or DEFAULT_TLS12_CIPHERS))


def build_ssl_context(tls: TLSServerConfig) -> ssl.SSLContext:
    """The server context for an enabled, validated TLS config; raises TLSSetupError."""
    material = tls.material
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION | ssl.OP_NO_TICKET
    if tls.prefer_server_cipher_suites:
        ctx.options |= ssl.OP_CIPHER_SERVER_PREFERENCE
    else:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    ciphers = _tls12_ciphers(tls.cipher_suites)
    if TLS_VERSIONS[tls.min_version] < ssl.TLSVersion.TLSv1_2:
        # OpenSSL 3 refuses TLS 1.0/1.1 at its default security level; the
        # operator asked for them explicitly.
        ciphers += ":@SECLEVEL=0"
    try:
        ctx.set_ciphers(ciphers)
    except ssl.SSLError:
        raise TLSSetupError(
            "none of the configured cipher_suites is supported by OpenSSL"
        ) from None
    with _memory_file(material.cert_pem) as cert_path, _memory_file(material.key_pem) as key_path:
        try:
            ctx.load_cert_chain(cert_path, key_path)
        except ssl.SSLError as exc:
            raise TLSSetupError(f"failed to load X509KeyPair: {exc.reason or 'invalid'}") from None
    if tls.curve_preferences:
        _set_curves(ctx, [CURVES[c] for c in tls.curve_preferences])
    if material.ca_pem is not None:
        try:
            ctx.load_verify_locations(cadata=material.ca_pem.decode("ascii", "replace"))
        except ssl.SSLError as exc:
            raise TLSSetupError(f"client_ca_file: {exc.reason or 'invalid'}") from None
        if _openssl.available():
            with _memory_file(material.ca_pem) as ca_path:
                _openssl.set_client_ca_names(ctx, ca_path)
    _set_client_auth(ctx, tls.client_auth)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _set_curves(ctx: ssl.SSLContext, groups: list[str]) -> None:
    if _openssl.available():
        _openssl.set_groups(ctx, groups)
        return
    if len(groups) == 1:
        legacy = {"P-256": "prime256v1", "P-384": "secp384r1", "P-521": "secp521r1"}
        ctx.set_ecdh_curve(legacy.get(groups[0], groups[0]))
        return
    raise TLSSetupError(
        "curve_preferences with more than one curve needs direct OpenSSL access, "
        f"which is unavailable here ({_openssl.unavailable_reason()})"
    )


def _set_client_auth(ctx: ssl.SSLContext, auth: ClientAuth) -> None:
    if auth is ClientAuth.NO_CLIENT_CERT:
        ctx.verify_mode = ssl.CERT_NONE
    elif auth is ClientAuth.VERIFY_CLIENT_CERT_IF_GIVEN:
        ctx.verify_mode = ssl.CERT_OPTIONAL
    elif auth is ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT:
        ctx.verify_mode = ssl.CERT_REQUIRED
    else:
        if not _openssl.available():
            raise TLSSetupError(
                f"client_auth_type {auth.value} needs direct OpenSSL access, "
                f"which is unavailable here ({_openssl.unavailable_reason()})"
            )
        ctx.verify_mode = ssl.CERT_NONE
        try:
            _openssl.request_any_client_cert(
                ctx, require=auth is ClientAuth.REQUIRE_ANY_CLIENT_CERT
            )
        except OSError as exc:
            raise TLSSetupError(f"client_auth_type {auth.value}: {exc}") from None


def peer_sans(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> list[str] | None:
    """SANs of the client's certificate, or None when it sent none."""
    der = ssl_object.getpeercert(binary_form=True)
    if not der:
        return None
    try:
        return _sans(x509.load_der_x509_certificate(der))
    except ValueError:
        return []


def peer_san_allowed(ssl_object: ssl.SSLObject | ssl.SSLSocket, allowed: frozenset[str]) -> bool:
    """``client_allowed_sans``: the client certificate must carry one of them."""
    sans = peer_sans(ssl_object)
    return bool(sans) and any(s in allowed for s in sans or ())
