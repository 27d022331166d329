"""The ``--web.config.file`` schema (exporter-toolkit's) plus promethean's additions.

Loading a web config means more than parsing YAML: upstream only finds out
that a key file is missing or a CA file is garbage when the first client
connects. Here :func:`load_web_config` reads and checks every file the config
names, so a broken config is refused at start-up or at reload (where the old
one keeps serving) with an error that names the file, the line and the field.
The material read is kept on the model, so the TLS context built from it is
exactly what was validated, even if the files change again meanwhile.

Beyond upstream (documented in docs/web.md): ``basic_auth_throttle`` and
``auth_exempt_paths``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import (
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from promethean.config import ConfigError, ConfigModel, Secret, load_config, parse_config
from promethean.model.durations import parse_go_duration
from promethean.web.tlsnames import CIPHER_SUITES, CURVES, TLS_VERSIONS, ClientAuth

__all__ = [
    "ALLOWED_HEADERS",
    "BasicAuthThrottleConfig",
    "HTTPServerConfig",
    "RateLimitConfig",
    "TLSMaterial",
    "TLSServerConfig",
    "WebConfig",
    "load_web_config",
    "parse_web_config",
]

# Header name -> allowed values (empty: any value), as exporter-toolkit.
ALLOWED_HEADERS: dict[str, tuple[str, ...]] = {
    "Strict-Transport-Security": (),
    "X-Content-Type-Options": ("nosniff",),
    "X-Frame-Options": ("deny", "sameorigin"),
    "X-XSS-Protection": (),
    "Content-Security-Policy": (),
}

# $2a$/$2b$/$2y$ (and Go's bare $2$), two-digit cost, 53 chars of salt+hash.
_BCRYPT = re.compile(rb"^\$2[abxy]?\$(\d\d)\$[./A-Za-z0-9]{53}$")
_BCRYPT_MIN_LEN = 59


def bcrypt_cost(hashed: bytes) -> int:
    """Cost of a bcrypt hash; ValueError with Go's wording for what is not one."""
    if len(hashed) < _BCRYPT_MIN_LEN:
        raise ValueError("crypto/bcrypt: hashedSecret too short to be a bcrypted password")
    match = _BCRYPT.match(hashed)
    if match is None:
        raise ValueError("crypto/bcrypt: not a valid bcrypt hash")
    cost = int(match.group(1))
    if not 4 <= cost <= 31:
        raise ValueError(f"crypto/bcrypt: cost {cost} is outside allowed range (4,31)")
    return cost


@dataclass(frozen=True)
class TLSMaterial:
    """Certificate, key and CA bytes as read and checked at load time."""

    cert_pem: bytes
    key_pem: bytes
    ca_pem: bytes | None
    # Files whose change should trigger a reload (resolved paths).
    files: tuple[Path, ...]

    def __repr__(self) -> str:  # never print key material
        return f"TLSMaterial(files={[str(f) for f in self.files]!r})"


def _field_error(field: str, message: str) -> ValidationError:
    """An error located at ``field`` (so the message points at its line), not the section."""
    detail = InitErrorDetails(
        type=PydanticCustomError("web_config", "{message}", {"message": message}),
        loc=(field,),
        input=None,
    )
    return ValidationError.from_exception_data("TLSServerConfig", [detail])


def _resolve(base: Path | None, name: str) -> Path:
    path = Path(name)
    if base is not None and not path.is_absolute():
        path = base / path
    return path


def _read(field: str, path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ValueError(f"failed to read {field} ({path}): {reason}") from None


def _load_certs(data: bytes) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def _sans(cert: x509.Certificate) -> list[str]:
    """SAN values the way Go lists them for ``client_allowed_sans`` matching."""
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    out: list[str] = []
    out += ext.get_values_for_type(x509.DNSName)
    out += ext.get_values_for_type(x509.RFC822Name)
    out += [str(ip) for ip in ext.get_values_for_type(x509.IPAddress)]
    out += ext.get_values_for_type(x509.UniformResourceIdentifier)
    return out


def _is_pinned_client_cert(cert: x509.Certificate) -> bool:
    """A self-signed client certificate used as its own trust anchor (a pin)."""
    if cert.issuer != cert.subject or not _sans(cert):
        return False
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CLIENT_AUTH in eku


class TLSServerConfig(ConfigModel):
    """``tls_server_config``: server certificate, versions, suites, client certs."""

    cert_file: str = ""
    key_file: str = ""
    cert: str = ""
    key: Secret | None = None
    client_auth_type: str = ""
    client_ca_file: str = ""
    client_allowed_sans: list[str] | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"
    cipher_suites: list[str] = Field(default_factory=list)
    curve_preferences: list[str] = Field(default_factory=list)
    prefer_server_cipher_suites: bool = True

    _material: TLSMaterial | None = PrivateAttr(default=None)

    @field_validator("client_auth_type")
    @classmethod
    def _check_client_auth(cls, value: str) -> str:
        ClientAuth.parse(value)
        return value

    @field_validator("min_version", "max_version")
    @classmethod
    def _check_version(cls, value: str) -> str:
        if value not in TLS_VERSIONS:
            raise ValueError(f"unknown TLS version: {value}")
        return value

    @field_validator("cipher_suites")
    @classmethod
    def _check_ciphers(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in CIPHER_SUITES:
                raise ValueError(f"unknown cipher: {name}")
        return value

    @field_validator("curve_preferences")
    @classmethod
    def _check_curves(cls, value: list[str]) -> list[str]:
        for name in value:
            if name not in CURVES:
                raise ValueError(f"unknown curve: {name}")
        return value

    @property
    def enabled(self) -> bool:
        """Whether the file asks for TLS at all (any TLS field set), as upstream."""
        return bool(
            self.cert_file
            or self.cert
            or self.key_file
            or self.key
            or self.client_ca_file
            or self.client_auth_type
        )

    @property
    def client_auth(self) -> ClientAuth:
        return ClientAuth.parse(self.client_auth_type)

    @property
    def material(self) -> TLSMaterial:
        """What was read at load time; only for an enabled, validated config."""
        if self._material is None:
            raise RuntimeError("TLS config was not loaded through load_web_config")
        return self._material

    @model_validator(mode="after")
    def _load_material(self, info: ValidationInfo) -> TLSServerConfig:
        if not self.enabled:
            return self
        base = (info.context or {}).get("base_dir")
        base_dir = Path(base) if base is not None else None
        if not self.cert_file and not self.cert:
            raise _field_error("cert_file", "missing cert_file")
        if not self.key_file and not self.key:
            raise _field_error("key_file", "missing key_file")
        files: list[Path] = []

        def read(field: str, name: str) -> bytes:
            path = _resolve(base_dir, name)
            try:
                data = _read(field, path)
            except ValueError as exc:
                raise _field_error(field, str(exc)) from None
            files.append(path)
            return data

        cert_pem = read("cert_file", self.cert_file) if self.cert_file else self.cert.encode()
        if self.key_file:
            key_pem = read("key_file", self.key_file)
        else:
            assert self.key is not None
            key_pem = self.key.reveal().encode()
        try:
            _check_key_pair(cert_pem, key_pem)
        except ValueError as exc:
            raise _field_error("key_file" if self.key_file else "key", str(exc)) from None
        ca_pem: bytes | None = None
        ca_certs: list[x509.Certificate] = []
        if self.client_ca_file:
            ca_pem = read("client_ca_file", self.client_ca_file)
            ca_certs = _load_certs(ca_pem)
            if not ca_certs:
                raise _field_error(
                    "client_ca_file",
                    f"client_ca_file ({files[-1]}) contains no PEM certificate",
                )
        auth = self.client_auth
        if ca_pem is not None and auth is ClientAuth.NO_CLIENT_CERT:
            raise _field_error(
                "client_ca_file", "client CA's have been configured without a Client Auth Policy"
            )
        if auth is ClientAuth.REQUIRE_AND_VERIFY_CLIENT_CERT and ca_pem is None:
            raise _field_error(
                "client_auth_type",
                "client_auth_type RequireAndVerifyClientCert needs client_ca_file: "
                "without it no client certificate can be verified",
            )
        if self.client_allowed_sans is not None:
            if not auth.requires_cert:
                raise _field_error(
                    "client_allowed_sans",
                    "client_allowed_sans requires client_auth_type to be one of "
                    "RequireAnyClientCert or RequireAndVerifyClientCert",
                )
            try:
                _check_pins(ca_certs, self.client_allowed_sans)
            except ValueError as exc:
                raise _field_error("client_allowed_sans", str(exc)) from None
        if TLS_VERSIONS[self.min_version] > TLS_VERSIONS[self.max_version]:
            raise _field_error(
                "min_version",
                f"min_version {self.min_version} is greater than max_version {self.max_version}",
            )
        self._material = TLSMaterial(cert_pem, key_pem, ca_pem, tuple(files))
        return self


def _check_key_pair(cert_pem: bytes, key_pem: bytes) -> None:
    certs = _load_certs(cert_pem)
    if not certs:
        raise ValueError("failed to load X509KeyPair: no PEM certificate found in cert")
    try:
        # The key is the operator's own (trusted input, S2); OpenSSL checks it
        # against the certificate again when the context is built. Skipping
        # the slow RSA consistency proof keeps start-up and reloads fast.
        key = serialization.load_pem_private_key(
            key_pem, password=None, unsafe_skip_rsa_key_validation=True
        )
    except (ValueError, TypeError):
        # The library's message may quote the input; ours names only the problem.
        raise ValueError(
            "failed to load X509KeyPair: key is not an unencrypted PEM private key"
        ) from None
    except Exception:  # unsupported algorithm and the like
        raise ValueError("failed to load X509KeyPair: unsupported private key") from None
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    enc = serialization.Encoding.DER
    if key.public_key().public_bytes(enc, pub) != certs[0].public_key().public_bytes(enc, pub):
        raise ValueError("failed to load X509KeyPair: private key does not match public key")


def _check_pins(ca_certs: list[x509.Certificate], allowed: list[str]) -> None:
    """Refuse SAN lists that no pinned client certificate can ever satisfy.

    When client_ca_file holds only self-signed client certificates (each pins
    one client), a client is admitted only if one of those certificates
    carries an allowed SAN; if none does, the config locks every client out.
    """
    if not ca_certs or not all(_is_pinned_client_cert(c) for c in ca_certs):
        return
    found = sorted({san for c in ca_certs for san in _sans(c)})
    if not set(found) & set(allowed):
        raise ValueError(
            f"client_allowed_sans {allowed} matches none of the pinned client "
            f"certificates in client_ca_file (their SANs: {found})"
        )


def _canonical_header(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


class HTTPServerConfig(ConfigModel):
    """``http_server_config``: response headers and the (ignored) HTTP/2 switch."""

    http2: bool = True
    headers: dict[str, str] = Field(default_factory=dict)

    @field_validator("headers", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        # Go's YAML decoder turns any scalar into a string field (X-XSS-Protection: 1).
        if isinstance(value, dict):
            return {
                k: (str(v).lower() if isinstance(v, bool) else str(v))
                if isinstance(v, int | float | bool)
                else v
                for k, v in value.items()
            }
        return value

    @field_validator("headers")
    @classmethod
    def _check_headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, val in value.items():
            allowed = ALLOWED_HEADERS.get(name)
            if allowed is None:
                raise ValueError(f'HTTP header "{name}" can not be configured')
            if allowed and val not in allowed:
                expected = " ".join(f'"{a}"' for a in allowed)
                raise ValueError(
                    f'invalid value for {name}. Expected one of: [{expected}], but got: "{val}"'
                )
        return value

    @property
    def response_headers(self) -> tuple[tuple[str, str], ...]:
        """Headers as sent, names in Go's canonical form (``X-Xss-Protection``)."""
        return tuple((_canonical_header(k), v) for k, v in self.headers.items())


class RateLimitConfig(ConfigModel):
    """``rate_limit``: one token bucket for the whole server (429 before auth)."""

    interval: float = 0.0
    burst: int = Field(default=0, ge=0)

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        seconds = parse_go_duration(value)
        if seconds < 0:
            raise ValueError("interval must not be negative")
        return seconds


class BasicAuthThrottleConfig(ConfigModel):
    """``basic_auth_throttle`` (promethean): failed logins allowed per client address."""

    max_failures: int = Field(default=5, ge=1)
    interval: float = 60.0

    @field_validator("interval", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        seconds = parse_go_duration(value)
        if seconds <= 0:
            raise ValueError("interval must be positive")
        return seconds


class WebConfig(ConfigModel):
    """The whole web config file."""

    tls_server_config: TLSServerConfig = Field(default_factory=TLSServerConfig)
    http_server_config: HTTPServerConfig = Field(default_factory=HTTPServerConfig)
    rate_limit: RateLimitConfig = Field(default_factory=RateLimitConfig)
    basic_auth_users: dict[str, Secret] = Field(default_factory=dict)
    basic_auth_throttle: BasicAuthThrottleConfig | None = None
    auth_exempt_paths: list[str] = Field(default_factory=list)

    @field_validator("basic_auth_users")
    @classmethod
    def _check_users(cls, value: dict[str, Secret]) -> dict[str, Secret]:
        for user, hashed in value.items():
            try:
                bcrypt_cost(hashed.reveal().encode())
            except ValueError as exc:
                # Names the user, never the value (it is a password hash, or worse).
                raise ValueError(f"user {user!r}: {exc}") from None
        return value

    @field_validator("auth_exempt_paths")
    @classmethod
    def _check_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path.startswith("/"):
                raise ValueError(f"exempt path {path!r} must start with /")
        return value

    @property
    def users(self) -> dict[str, bytes]:
        """User -> bcrypt hash bytes."""
        return {u: h.reveal().encode() for u, h in self.basic_auth_users.items()}


def _default_tls(config: WebConfig) -> WebConfig:
    return config


def parse_web_config(
    text: str, file: str = "<input>", base_dir: str | Path | None = None
) -> WebConfig:
    """Validate web config text; relative paths resolve against ``base_dir``."""
    context = {"base_dir": Path(base_dir)} if base_dir is not None else None
    return parse_config(WebConfig, text, file, context)


def load_web_config(path: str | Path) -> WebConfig:
    """Read, validate and load a web config file; raises ConfigError.

    An empty file is valid and means plain HTTP without auth, as upstream.
    """
    try:
        return load_config(WebConfig, path)
    except ConfigError:
        raise
    except RecursionError:  # pathological YAML nesting
        raise ConfigError(f"{path}: config file is nested too deeply") from None
