"""The HTTP client config every outgoing connection uses, and the client built from it.

Scraping, ``http_sd_configs``, remote write/read, the notifier and Alertmanager
receivers all take the same block as Prometheus's ``common/config``
``HTTPClientConfig``: ``basic_auth``, ``authorization``, ``oauth2``, legacy
``bearer_token``/``bearer_token_file``, ``tls_config``, the proxy fields,
``follow_redirects``, ``enable_http2`` and ``http_headers``. Upstream inlines it
into the enclosing block (a scrape config has ``basic_auth:`` at its own level),
so the model here is a base class: ``class ScrapeConfig(HTTPClientConfig)``
inherits the fields and the validation, and every builder below accepts the
subclass as is.

Why the builder does work per request rather than once: upstream re-reads
``password_file``, ``credentials_file``, ``client_secret_file`` and header files
on every request, and rebuilds TLS when the CA, cert or key file changes, so an
operator can rotate credentials without a reload. Secrets stay :class:`Secret`
objects until the moment a header is written, and every error raised here names
files and fields, never their content (SECURITY-MODEL K1, K2).

Public surface:

* models: :class:`HTTPClientConfig`, :class:`BasicAuth`, :class:`Authorization`,
  :class:`OAuth2`, :class:`TLSConfig`, :class:`HTTPHeader`, :data:`ProxyURL`;
* :func:`build_session` (an ``aiohttp.ClientSession`` that applies auth, TLS,
  proxy and headers to every request made through it), :func:`request_kwargs`
  (per-request options a session cannot hold: pass them to ``session.get``);
* :func:`build_ssl_context`, :func:`proxy_for`, :class:`OAuth2TokenSource`;
* :class:`HTTPClientError`: what a request fails with when the client side
  cannot be prepared (unreadable secret file, bad certificate, token endpoint
  refusing); an ``aiohttp.ClientError``, so callers catch one family.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ipaddress
import json
import os
import ssl
import time
import urllib.parse
import urllib.request
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

import aiohttp
from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)
from yarl import URL

from promethean.config.loader import ConfigModel
from promethean.config.secret import Secret, register_secret

__all__ = [
    "Authorization",
    "BasicAuth",
    "HTTPClientConfig",
    "HTTPClientError",
    "HTTPHeader",
    "OAuth2",
    "OAuth2TokenSource",
    "ProxyURL",
    "TLSConfig",
    "build_session",
    "build_ssl_context",
    "mask_url_password",
    "proxy_for",
    "request_kwargs",
]


class HTTPClientError(aiohttp.ClientError):
    """The client could not be prepared for a request; the message is safe to show."""


# --------------------------------------------------------------------------- helpers


def mask_url_password(url: str) -> str:
    """``http://u:pw@h`` -> ``http://u:xxxxx@h``, as upstream renders URLs with userinfo."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:xxxxx@{hostport}"))


def _to_proxy_url(value: Any) -> Any:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be a URL string")
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        # The value may carry a password: do not echo it.
        raise ValueError("invalid proxy URL") from None
    if parts.password:
        register_secret(urllib.parse.unquote(parts.password))
        register_secret(parts.password)
    return value


ProxyURL = Annotated[
    str | None,
    BeforeValidator(_to_proxy_url),
    PlainSerializer(lambda v: mask_url_password(v) if v else v, when_used="always"),
]
"""A proxy URL whose password (if any) is shown as ``xxxxx`` and kept out of logs."""


def _resolve(value: str | None, info: ValidationInfo) -> str | None:
    """Relative ``*_file`` paths are relative to the config file, as upstream's SetDirectory."""
    if not value:
        return value
    base = (info.context or {}).get("base_dir")
    if base is None or os.path.isabs(value):
        return value
    return str(Path(base) / value)


def _read_file_secret(path: str, what: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise HTTPClientError(f"unable to read {what} {path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise HTTPClientError(f"{what} {path} is not valid UTF-8") from None
    value = text.strip()
    register_secret(value)
    return value


def _secret_value(inline: Secret | None, path: str | None, what: str) -> str:
    if path:
        return _read_file_secret(path, what)
    return inline.reveal() if inline is not None else ""


# --------------------------------------------------------------------------- models


class BasicAuth(ConfigModel):
    """``basic_auth``: username (or file) and password (or file)."""

    username: str = ""
    username_file: str | None = None
    password: Secret | None = None
    password_file: str | None = None

    _files = field_validator("username_file", "password_file")(_resolve)

    @model_validator(mode="after")
    def _one_of_each(self) -> BasicAuth:
        if self.username and self.username_file:
            raise ValueError(
                "at most one of basic_auth username & username_file must be configured"
            )
        if self.password and self.password_file:
            raise ValueError(
                "at most one of basic_auth password & password_file must be configured"
            )
        return self


class Authorization(ConfigModel):
    """``authorization``: ``<type> <credentials>`` in the Authorization header."""

    type: str = "Bearer"
    credentials: Secret | None = None
    credentials_file: str | None = None

    _files = field_validator("credentials_file")(_resolve)

    @field_validator("type", mode="before")
    @classmethod
    def _default_type(cls, value: Any) -> Any:
        if value is None:
            return "Bearer"
        if isinstance(value, str):
            value = value.strip()
            return value or "Bearer"
        return value

    @model_validator(mode="after")
    def _check(self) -> Authorization:
        if self.type.lower() == "basic":
            raise ValueError(
                'authorization type cannot be set to "basic", use "basic_auth" instead'
            )
        if self.credentials and self.credentials_file:
            raise ValueError(
                "at most one of authorization credentials & credentials_file must be configured"
            )
        return self


_TLS_VERSIONS = {
    "TLS10": ssl.TLSVersion.TLSv1,
    "TLS11": ssl.TLSVersion.TLSv1_1,
    "TLS12": ssl.TLSVersion.TLSv1_2,
    "TLS13": ssl.TLSVersion.TLSv1_3,
}


class TLSConfig(ConfigModel):
    """``tls_config`` of a client: trust, client certificate, server name, versions."""

    ca: str | None = None
    ca_file: str | None = None
    cert: str | None = None
    cert_file: str | None = None
    key: Secret | None = None
    key_file: str | None = None
    server_name: str | None = None
    insecure_skip_verify: bool = False
    min_version: str | None = None
    max_version: str | None = None

    _files = field_validator("ca_file", "cert_file", "key_file")(_resolve)

    @field_validator("min_version", "max_version")
    @classmethod
    def _version(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if value not in _TLS_VERSIONS:
            raise ValueError(f"unknown TLS version: {value}")
        return value

    @model_validator(mode="after")
    def _check(self) -> TLSConfig:
        if self.ca and self.ca_file:
            raise ValueError("at most one of ca and ca_file must be configured")
        if self.cert and self.cert_file:
            raise ValueError("at most one of cert and cert_file must be configured")
        if self.key and self.key_file:
            raise ValueError("at most one of key and key_file must be configured")
        has_cert = bool(self.cert or self.cert_file)
        has_key = bool(self.key or self.key_file)
        if has_cert and not has_key:
            raise ValueError(
                "exactly one of key or key_file must be configured when a client certificate "
                "is configured"
            )
        if has_key and not has_cert:
            raise ValueError(
                "exactly one of cert or cert_file must be configured when a client key "
                "is configured"
            )
        if (
            self.min_version
            and self.max_version
            and _TLS_VERSIONS[self.min_version] > _TLS_VERSIONS[self.max_version]
        ):
            raise ValueError(
                "tls_config.max_version must be greater than or equal to "
                "tls_config.min_version if both are specified"
            )
        return self


class OAuth2(ConfigModel):
    """``oauth2``: the client-credentials grant against ``token_url``."""

    client_id: str = ""
    client_secret: Secret | None = None
    client_secret_file: str | None = None
    scopes: list[str] = Field(default_factory=list)
    token_url: str = ""
    endpoint_params: dict[str, str] = Field(default_factory=dict)
    tls_config: TLSConfig = Field(default_factory=TLSConfig)
    proxy_url: ProxyURL = None
    no_proxy: str | None = None
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[Secret]] | None = None

    _files = field_validator("client_secret_file")(_resolve)


# Headers a config may not set: the client or the protocol owns them (upstream's list).
_RESERVED_HEADERS = frozenset(
    h.lower()
    for h in (
        "Authorization",
        "Host",
        "Content-Encoding",
        "Content-Length",
        "Content-Type",
        "User-Agent",
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Www-Authenticate",
        "Accept-Encoding",
        "X-Prometheus-Remote-Write-Version",
        "X-Prometheus-Remote-Read-Version",
        "X-Prometheus-Scrape-Timeout-Seconds",
        "X-Amz-Date",
        "X-Amz-Security-Token",
        "X-Amz-Content-Sha256",
        "Upgrade",
        "Transfer-Encoding",
        "Te",
        "Trailer",
    )
)


class HTTPHeader(ConfigModel):
    """One ``http_headers`` entry: plain values, secret values and values read from files."""

    values: list[str] = Field(default_factory=list)
    secrets: list[Secret] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)

    @field_validator("files")
    @classmethod
    def _resolve_files(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [_resolve(v, info) or v for v in value]


def _rewrite_bearer(data: Any) -> Any:
    """Upstream turns legacy ``bearer_token[_file]`` into ``authorization`` at load time."""
    if not isinstance(data, dict):
        return data
    token = data.get("bearer_token")
    token_file = data.get("bearer_token_file")
    if "bearer_token" not in data and "bearer_token_file" not in data:
        return data
    data = dict(data)
    data.pop("bearer_token", None)
    data.pop("bearer_token_file", None)
    if not token and not token_file:
        return data
    if token and token_file:
        raise ValueError("at most one of bearer_token & bearer_token_file must be configured")
    if data.get("basic_auth") is not None or data.get("oauth2") is not None:
        raise ValueError(
            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be configured"
        )
    if data.get("authorization") is not None:
        raise ValueError("authorization is not compatible with bearer_token & bearer_token_file")
    if token:
        if not isinstance(token, str | Secret):
            raise ValueError("bearer_token must be a string")
        data["authorization"] = {"type": "Bearer", "credentials": token}
    else:
        data["authorization"] = {"type": "Bearer", "credentials_file": token_file}
    return data


class HTTPClientConfig(ConfigModel):
    """Prometheus's ``HTTPClientConfig``; subclass it to inline the fields as upstream does.

    ``bearer_token`` and ``bearer_token_file`` are accepted on input and become
    ``authorization`` (type Bearer), which is also how the rendered config shows them.
    """

    basic_auth: BasicAuth | None = None
    authorization: Authorization | None = None
    oauth2: OAuth2 | None = None
    tls_config: TLSConfig = Field(default_factory=TLSConfig)
    follow_redirects: bool = True
    enable_http2: bool = True
    proxy_url: ProxyURL = None
    no_proxy: str | None = None
    proxy_from_environment: bool = False
    proxy_connect_header: dict[str, list[Secret]] | None = None
    http_headers: dict[str, HTTPHeader] | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_bearer(cls, data: Any) -> Any:
        return _rewrite_bearer(data)

    @field_validator("http_headers")
    @classmethod
    def _headers_allowed(cls, value: dict[str, HTTPHeader] | None) -> dict[str, HTTPHeader] | None:
        for name in value or {}:
            if name.lower() in _RESERVED_HEADERS:
                raise ValueError(f'setting header "{name}" is not allowed')
        return value

    @model_validator(mode="after")
    def _check_http_client(self) -> HTTPClientConfig:
        if self.authorization is not None and (
            self.basic_auth is not None or self.oauth2 is not None
        ):
            raise ValueError("at most one of basic_auth, oauth2 & authorization must be configured")
        if self.oauth2 is not None:
            o = self.oauth2
            if self.basic_auth is not None:
                raise ValueError(
                    "at most one of basic_auth, oauth2 & authorization must be configured"
                )
            if not o.client_id:
                raise ValueError("oauth2 client_id must be configured")
            if not o.client_secret and not o.client_secret_file:
                raise ValueError(
                    "either oauth2 client_secret or client_secret_file must be configured"
                )
            if not o.token_url:
                raise ValueError("oauth2 token_url must be configured")
            if o.client_secret and o.client_secret_file:
                raise ValueError(
                    "at most one of oauth2 client_secret & client_secret_file must be configured"
                )
            _check_proxy(o.proxy_url, o.no_proxy, o.proxy_from_environment, o.proxy_connect_header)
        _check_proxy(
            self.proxy_url, self.no_proxy, self.proxy_from_environment, self.proxy_connect_header
        )
        return self


def _check_proxy(
    url: str | None, no_proxy: str | None, from_env: bool, connect_header: Mapping[str, Any] | None
) -> None:
    if connect_header and not from_env and not url:
        raise ValueError(
            "if proxy_connect_header is configured, proxy_url or proxy_from_environment must "
            "also be configured"
        )
    if from_env and url:
        raise ValueError(
            "if proxy_from_environment is configured, proxy_url must not be configured"
        )
    if from_env and no_proxy:
        raise ValueError("if proxy_from_environment is configured, no_proxy must not be configured")
    if not url and no_proxy:
        raise ValueError("if no_proxy is configured, proxy_url must also be configured")
    if url:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"invalid proxy_url: {mask_url_password(url)}")


# --------------------------------------------------------------------------- TLS


def _tls_material(tls: TLSConfig) -> tuple[str, ...]:
    """What a context depends on: inline PEM and file contents (files re-read each call)."""

    def file_text(path: str | None, what: str) -> str:
        if not path:
            return ""
        try:
            return Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise HTTPClientError(f"unable to read {what} {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise HTTPClientError(f"{what} {path} is not valid PEM text") from None

    key = tls.key.reveal() if tls.key is not None else file_text(tls.key_file, "key file")
    return (
        tls.ca or file_text(tls.ca_file, "CA file"),
        tls.cert or file_text(tls.cert_file, "cert file"),
        key,
    )


def build_ssl_context(tls: TLSConfig, material: tuple[str, ...] | None = None) -> ssl.SSLContext:
    """A client context for ``tls``; TLS 1.2 minimum unless ``min_version`` says otherwise."""
    ca, cert, key = material if material is not None else _tls_material(tls)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = _TLS_VERSIONS[tls.min_version or "TLS12"]
    if tls.max_version:
        ctx.maximum_version = _TLS_VERSIONS[tls.max_version]
    if tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.check_hostname = True
        ctx.verify_mode = ssl.CERT_REQUIRED
    if ca:
        try:
            ctx.load_verify_locations(cadata=ca)
        except (ssl.SSLError, ValueError):
            where = tls.ca_file or "inline ca"
            raise HTTPClientError(f"unable to use specified CA cert {where}") from None
    else:
        ctx.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if cert:
        _load_client_cert(ctx, tls, cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _load_client_cert(ctx: ssl.SSLContext, tls: TLSConfig, cert: str, key: str) -> None:
    # The ssl module loads certificates only from files: write them to a private
    # temporary directory that exists for the duration of the call.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="promethean-tls-") as tmp:
        cert_path = Path(tmp) / "cert.pem"
        key_path = Path(tmp) / "key.pem"
        fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(key)
        cert_path.write_text(cert, encoding="utf-8")
        try:
            ctx.load_cert_chain(str(cert_path), str(key_path))
        except (ssl.SSLError, ValueError, OSError):
            where = tls.cert_file or "inline cert"
            key_where = tls.key_file or "inline key"
            raise HTTPClientError(
                f"unable to use specified client cert ({where}) & key ({key_where})"
            ) from None


class _TLSState:
    """Keeps one context and rebuilds it when the files it came from change."""

    def __init__(self, tls: TLSConfig) -> None:
        self._tls = tls
        self._digest = b""
        self._ctx: ssl.SSLContext | None = None
        self._checked = 0.0

    def context(self) -> ssl.SSLContext:
        now = time.monotonic()
        # Reading three small files per request is cheap, but a busy scrape pool
        # makes many requests per second: once a second is rotation enough.
        if self._ctx is not None and now - self._checked < 1.0:
            return self._ctx
        material = _tls_material(self._tls)
        digest = hashlib.sha256("\0".join(material).encode()).digest()
        if self._ctx is None or digest != self._digest:
            self._ctx = build_ssl_context(self._tls, material)
            self._digest = digest
        self._checked = now
        return self._ctx


# --------------------------------------------------------------------------- proxies


def _no_proxy_match(host: str, port: int | None, no_proxy: str) -> bool:
    """Go's ``httpproxy`` NO_PROXY rules: ``*``, IPs, CIDRs, domains (``.x`` = subdomains)."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None and ip.is_loopback:
        return True
    for raw in no_proxy.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            net = None
        if net is not None and "/" in entry:
            if ip is not None and ip in net:
                return True
            continue
        try:
            entry_ip = ipaddress.ip_address(entry)
        except ValueError:
            entry_ip = None
        if entry_ip is not None:
            if ip is not None and ip == entry_ip:
                return True
            continue
        entry_port: int | None = None
        name = entry
        if ":" in entry and not entry.startswith("["):
            name, _, port_text = entry.rpartition(":")
            entry_port = int(port_text) if port_text.isdigit() else None
        if entry_port is not None and entry_port != port:
            continue
        if name.startswith("*."):
            name = name[1:]
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False


def proxy_for(
    url: URL | str,
    proxy_url: str | None,
    no_proxy: str | None,
    from_environment: bool,
) -> str | None:
    """The proxy a request to ``url`` goes through, or None for a direct connection."""
    target = URL(url) if isinstance(url, str) else url
    host = target.host or ""
    if from_environment:
        env = urllib.request.getproxies_environment()
        chosen = env.get(target.scheme) or env.get("all")
        if not chosen:
            return None
        bypass = env.get("no", "")
        if host == "localhost" or _is_loopback(host):
            return None
        if bypass and _no_proxy_match(host, target.port, bypass):
            return None
        return chosen
    if not proxy_url:
        return None
    if no_proxy and _no_proxy_match(host, target.port, no_proxy):
        return None
    return proxy_url


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- OAuth2


_EXPIRY_DELTA = 10.0  # a token is renewed this long before it expires (x/oauth2's rule)


class OAuth2TokenSource:
    """Client-credentials tokens, cached until shortly before they expire.

    A changed ``client_secret_file`` invalidates the cached token, as upstream.
    Requests go through ``session`` with its middlewares bypassed and the
    ``oauth2`` block's own TLS and proxy settings.
    """

    def __init__(self, cfg: OAuth2) -> None:
        self._cfg = cfg
        self._tls = _TLSState(cfg.tls_config)
        self._token: tuple[str, str] | None = None  # (type, access_token)
        self._expiry: float | None = None
        self._secret_used = ""
        self._style_params = False  # x/oauth2 auto-detect: header first, then params
        self._lock = asyncio.Lock()

    async def header(self, session: aiohttp.ClientSession) -> str:
        """The ``Authorization`` header value to send now."""
        secret = _secret_value(
            self._cfg.client_secret, self._cfg.client_secret_file, "oauth2 client secret file"
        )
        async with self._lock:
            if self._token is None or secret != self._secret_used or self._expired():
                await self._fetch(session, secret)
            assert self._token is not None
            return f"{self._token[0]} {self._token[1]}"

    def _expired(self) -> bool:
        return self._expiry is not None and time.monotonic() >= self._expiry - _EXPIRY_DELTA

    async def _fetch(self, session: aiohttp.ClientSession, secret: str) -> None:
        cfg = self._cfg
        form: dict[str, str] = {"grant_type": "client_credentials"}
        if cfg.scopes:
            form["scope"] = " ".join(cfg.scopes)
        for k, v in cfg.endpoint_params.items():
            form[k] = v
        proxy = proxy_for(cfg.token_url, cfg.proxy_url, cfg.no_proxy, cfg.proxy_from_environment)
        attempts = [True, False] if not self._style_params else [False]
        last_error = ""
        for in_header in attempts:
            data = dict(form)
            headers = {"Content-Type": "application/x-www-form-urlencoded"}
            if in_header:
                user = urllib.parse.quote_plus(cfg.client_id)
                pw = urllib.parse.quote_plus(secret)
                headers["Authorization"] = "Basic " + base64.b64encode(
                    f"{user}:{pw}".encode()
                ).decode("ascii")
            else:
                data["client_id"] = cfg.client_id
                data["client_secret"] = secret
            ssl_ctx: ssl.SSLContext | bool = True
            if cfg.token_url.lower().startswith("https:"):
                ssl_ctx = self._tls.context()
            try:
                async with session.post(
                    cfg.token_url,
                    data=data,
                    headers=headers,
                    ssl=ssl_ctx,
                    proxy=proxy,
                    middlewares=(),
                ) as resp:
                    body = await resp.content.read(1 << 20)
                    if resp.status < 200 or resp.status > 299:
                        status = f"{resp.status} {resp.reason or ''}".rstrip()
                        last_error = f"oauth2: cannot fetch token: {status}" + _oauth_error_code(
                            body
                        )
                        continue
                    token_type, token, expires_in = _parse_token(
                        body, resp.headers.get("Content-Type", "")
                    )
            except HTTPClientError:
                raise
            except aiohttp.ClientError as exc:
                raise HTTPClientError(
                    f"oauth2: cannot fetch token: {type(exc).__name__}: {_safe(str(exc), secret)}"
                ) from None
            except TimeoutError:
                raise HTTPClientError("oauth2: cannot fetch token: timeout") from None
            self._style_params = not in_header
            self._token = (token_type, token)
            self._expiry = time.monotonic() + expires_in if expires_in else None
            self._secret_used = secret
            register_secret(token)
            return
        raise HTTPClientError(last_error)


def _safe(text: str, secret: str) -> str:
    return text.replace(secret, "<secret>") if secret else text


def _oauth_error_code(body: bytes) -> str:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return ""
    if isinstance(doc, dict) and isinstance(doc.get("error"), str):
        code = doc["error"]
        if code.isascii() and len(code) <= 64 and code.replace("_", "").isalnum():
            return f' (error "{code}")'
    return ""


def _canonical_token_type(raw: str) -> str:
    lowered = raw.lower()
    if lowered in ("", "bearer"):
        return "Bearer"
    if lowered == "mac":
        return "MAC"
    if lowered == "basic":
        return "Basic"
    return raw


def _parse_token(body: bytes, content_type: str) -> tuple[str, str, float | None]:
    fields: dict[str, Any]
    ctype = content_type.split(";")[0].strip().lower()
    if ctype in ("application/x-www-form-urlencoded", "text/plain"):
        parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        fields = {k: v[0] for k, v in parsed.items()}
    else:
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise HTTPClientError("oauth2: cannot parse token response") from None
        if not isinstance(doc, dict):
            raise HTTPClientError("oauth2: cannot parse token response")
        fields = doc
    token = fields.get("access_token")
    if not isinstance(token, str) or not token:
        raise HTTPClientError("oauth2: server response missing access_token")
    raw_type = fields.get("token_type", "")
    expires: float | None = None
    raw_expires = fields.get("expires_in")
    if raw_expires not in (None, "", 0, "0"):
        try:
            expires = float(raw_expires)
        except (TypeError, ValueError):
            expires = None
    return _canonical_token_type(str(raw_type)), token, expires


# --------------------------------------------------------------------------- session


_Handler = Callable[[aiohttp.ClientRequest], Awaitable[aiohttp.ClientResponse]]


class _Prepare:
    """Applies one config to every request: auth, headers, proxy, TLS, server name."""

    def __init__(self, cfg: HTTPClientConfig, name: str) -> None:
        self.cfg = cfg
        self.name = name
        self.session: aiohttp.ClientSession | None = None
        self.tls = _TLSState(cfg.tls_config)
        self.oauth = OAuth2TokenSource(cfg.oauth2) if cfg.oauth2 is not None else None
        self.connect_headers = {
            k: ", ".join(s.reveal() for s in v) for k, v in (cfg.proxy_connect_header or {}).items()
        }

    async def __call__(
        self, req: aiohttp.ClientRequest, handler: _Handler
    ) -> aiohttp.ClientResponse:
        cfg = self.cfg
        headers = req.headers
        if cfg.http_headers:
            for hname, header in cfg.http_headers.items():
                values = list(header.values)
                values.extend(s.reveal() for s in header.secrets)
                values.extend(_read_file_secret(f, "header file") for f in header.files)
                if values:
                    headers.popall(hname, None)
                    for v in values:
                        headers.add(hname, v)
        if cfg.basic_auth is not None:
            ba = cfg.basic_auth
            user = ba.username
            if ba.username_file:
                user = _read_file_secret(ba.username_file, "basic auth username file")
            password = _secret_value(ba.password, ba.password_file, "basic auth password file")
            token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
            headers["Authorization"] = f"Basic {token}"
        elif cfg.authorization is not None:
            az = cfg.authorization
            cred = _secret_value(
                az.credentials, az.credentials_file, "authorization credentials file"
            )
            headers["Authorization"] = f"{az.type} {cred}"
        elif self.oauth is not None:
            assert self.session is not None
            headers["Authorization"] = await self.oauth.header(self.session)
        proxy = proxy_for(req.url, cfg.proxy_url, cfg.no_proxy, cfg.proxy_from_environment)
        if proxy is not None:
            purl = URL(proxy)
            pheaders: dict[str, str] = dict(self.connect_headers)
            if purl.user is not None or purl.password is not None:
                creds = f"{purl.user or ''}:{purl.password or ''}".encode()
                value = "Basic " + base64.b64encode(creds).decode("ascii")
                purl = purl.with_user(None)
                # Plain HTTP goes to the proxy as is; HTTPS authenticates the CONNECT.
                if req.is_ssl():
                    pheaders["Proxy-Authorization"] = value
                else:
                    headers["Proxy-Authorization"] = value
            req.update_proxy(purl, None, pheaders or None)
        elif req.proxy is not None:
            req.update_proxy(None, None, None)
        if req.url.scheme == "https" or req.url.scheme == "wss":
            req._ssl = self.tls.context()
            if cfg.tls_config.server_name:
                req.server_hostname = cfg.tls_config.server_name
        return await handler(req)


def build_session(
    cfg: HTTPClientConfig,
    name: str,
    *,
    user_agent: str | None = None,
    timeout: aiohttp.ClientTimeout | None = None,
    limit_per_host: int = 0,
    auto_decompress: bool = True,
) -> aiohttp.ClientSession:
    """An ``aiohttp.ClientSession`` configured from ``cfg``; call from a running event loop.

    Every request made with it gets, as upstream's round trippers do: the
    Authorization header (basic auth, authorization, OAuth2 bearer token; files
    re-read per request), ``http_headers``, the proxy chosen by ``proxy_url`` /
    ``no_proxy`` / ``proxy_from_environment`` (with ``proxy_connect_header``),
    and for https the TLS context of ``tls_config`` (rebuilt when its files
    change) with ``server_name``. ``name`` identifies the client (the scrape
    job) in errors. Redirects are per request in aiohttp: pass
    ``**request_kwargs(cfg)`` (``allow_redirects=cfg.follow_redirects``) to each
    call. HTTP/2 is not spoken (``enable_http2`` is accepted and ignored), which
    servers negotiate down to HTTP/1.1 transparently.

    A request whose client side cannot be prepared raises :class:`HTTPClientError`
    (an ``aiohttp.ClientError``) with a message that is safe to show.
    The caller owns the session and must ``await session.close()``.
    """
    prepare = _Prepare(cfg, name)
    headers = {"User-Agent": user_agent} if user_agent else None
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=limit_per_host, ssl=True)
    session = aiohttp.ClientSession(
        connector=connector,
        headers=headers,
        timeout=timeout if timeout is not None else aiohttp.ClientTimeout(total=None),
        auto_decompress=auto_decompress,
        middlewares=(prepare,),
        cookie_jar=aiohttp.DummyCookieJar(),
        trust_env=False,
    )
    prepare.session = session
    return session


def request_kwargs(cfg: HTTPClientConfig) -> dict[str, Any]:
    """Options aiohttp takes per request rather than per session."""
    return {"allow_redirects": cfg.follow_redirects, "max_redirects": 10}
