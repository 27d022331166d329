"""What every integration shares: the flush context, the error type, secret-safe texts.

A notification failure is logged and may be shown, so the text of every
:class:`NotifyError` is built here from parts that cannot hold a secret: a URL
is reduced to scheme, host and port (webhook, Slack and Discord URLs carry
their token in the path or query, and ``user:pass@`` in the userinfo), and
an exception from the HTTP client is reduced to its kind and OS reason, never
its ``str()``, which for aiohttp may embed the request URL (SECURITY-MODEL K1).
The log filter's registry of secrets is a second net, not the first.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from promethean.alertmanager.alerts import Alert
from promethean.config.httpclient import HTTPClientConfig, build_session, request_kwargs
from promethean.config.secret import scrub
from promethean.template.alertmanager_funcs import KV, Data, NotificationTemplates, build_data
from promethean.template.alertmanager_funcs import Alert as TemplateAlert
from promethean.template.gotime import GoTime

__all__ = [
    "USER_AGENT",
    "DestinationRefused",
    "HTTPIntegration",
    "Integration",
    "NotifyContext",
    "NotifyError",
    "go_time_json",
    "safe_url",
]

USER_AGENT = "Alertmanager/0.25.0"
_ZERO_TIME = "0001-01-01T00:00:00Z"


class NotifyError(Exception):
    """A failed delivery; ``str()`` is safe to log. ``retry``: worth another attempt."""

    def __init__(self, message: str, retry: bool = True) -> None:
        super().__init__(scrub(message))
        self.retry = retry


class DestinationRefused(NotifyError):
    """M2: a rendered destination is outside the receiver's ``allowed_destinations``."""

    def __init__(self, destination: str) -> None:
        super().__init__(f"destination {destination!r} is not in allowed_destinations", False)
        self.destination = destination


def safe_url(url: str) -> str:
    """``scheme://host:port``: what may be shown of a URL that may embed tokens."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "<invalid URL>"
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme}://{netloc}"


def go_time_json(t: float) -> str:
    """RFC 3339 with up to nanosecond digits, trailing zeros trimmed, as Go marshals time."""
    if t <= -62135596800.0:
        return _ZERO_TIME
    whole = int(t // 1)
    frac_ns = round((t - whole) * 1e9)
    if frac_ns >= 1_000_000_000:
        whole, frac_ns = whole + 1, 0
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    if frac_ns:
        # Floats carry about microseconds here; drop the noise below that.
        frac = f"{round(frac_ns / 1000):06d}".rstrip("0")
        if frac:
            return f"{base}.{frac}Z"
    return base + "Z"


def client_error_text(exc: BaseException) -> str:
    """An aiohttp/OS error as text that never includes the request URL."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return "context deadline exceeded"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return f"dial tcp: {reason.lower()}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server closed the connection"
    if isinstance(exc, aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(exc, aiohttp.InvalidURL):
        return "invalid URL"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "stopped after 10 redirects"
    if isinstance(exc, aiohttp.ClientError) and type(exc).__name__ == "HTTPClientError":
        return str(exc)  # promethean.config.httpclient: built to be safe to show
    if isinstance(exc, OSError):
        return (exc.strerror or type(exc).__name__).lower()
    return type(exc).__name__


@dataclass
class NotifyContext:
    """One flush of one aggregation group, as every integration of its receiver sees it."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    external_url: str
    templates: NotificationTemplates
    now: float = field(default_factory=time.time)
    fingerprints: Mapping[Any, int] = field(default_factory=dict)
    """Alert fingerprints by label set, as the dispatcher computed them (saves recomputing)."""
    _data: dict[int, Data] = field(default_factory=dict, repr=False)

    def fingerprint(self, alert: Alert) -> str:
        h = self.fingerprints.get(alert.labels)
        return alert.fingerprint if h is None else f"{h:016x}"

    def data(self, alerts: Sequence[Alert]) -> Data:
        """Template data (``.Alerts``, ``.CommonLabels``...) for these alerts, built once."""
        key = id(alerts)
        got = self._data.get(key)
        if got is None:
            now = time.time()
            items = []
            for a in alerts:
                resolved = a.resolved(now)
                items.append(
                    TemplateAlert(
                        Status="resolved" if resolved else "firing",
                        Labels=KV(a.labels),
                        Annotations=KV(a.annotations),
                        StartsAt=GoTime.from_unix(a.starts_at),
                        EndsAt=(
                            GoTime.from_unix(a.ends_at)
                            if resolved and a.ends_at is not None
                            else GoTime.zero()
                        ),
                        GeneratorURL=a.generator_url,
                        Fingerprint=self.fingerprint(a),
                    )
                )
            self.templates.external_url = self.external_url
            got = build_data(self.receiver, self.group_labels, items, self.external_url)
            self._data[key] = got
        return got


class Integration(ABC):
    """One entry of a receiver's ``*_configs`` list: ``webhook[0]``."""

    kind: str = ""

    def __init__(
        self,
        cfg: Any,
        index: int,
        allowed: Callable[[str], bool] | None = None,
    ) -> None:
        self.cfg = cfg
        self.index = index
        self._allowed = allowed

    @property
    def send_resolved(self) -> bool:
        return bool(getattr(self.cfg, "send_resolved", False))

    def __str__(self) -> str:
        return f"{self.kind}[{self.index}]"

    def check_destination(self, destination: str, shown: str | None = None) -> None:
        """M2: raise :class:`DestinationRefused` (showing ``shown``) outside the allow-list."""
        if self._allowed is not None and not self._allowed(destination):
            raise DestinationRefused(destination if shown is None else shown)

    def check_url(self, url: str) -> None:
        """M2 for the URL a request goes to; a refusal shows only ``scheme://host:port``."""
        if self._allowed is not None:
            self.check_destination(url, safe_url(url))

    def check_secret(self, value: str, what: str) -> None:
        """M2 for a destination that is also a secret (routing or user key): never shown."""
        if self._allowed is not None:
            self.check_destination(value, f"{self.kind} {what} <secret>")

    @abstractmethod
    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        """Deliver; raise :class:`NotifyError` on failure."""

    async def close(self) -> None:
        return None


class HTTPIntegration(Integration):
    """An integration that POSTs over the shared HTTP client (``http_config``)."""

    def __init__(
        self,
        cfg: Any,
        index: int,
        allowed: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(cfg, index, allowed)
        self._session: aiohttp.ClientSession | None = None
        self._http: HTTPClientConfig = cfg.http_config or HTTPClientConfig()

    def http_config_for(self, url: str) -> HTTPClientConfig:
        """The client config for a URL; overridable (webhook userinfo wins over auth)."""
        return self._http

    def session(self, url: str) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = build_session(
                self.http_config_for(url),
                str(self),
                user_agent=USER_AGENT,
                limit_per_host=256,
            )
        return self._session

    async def post(
        self,
        url: str,
        body: bytes,
        content_type: str = "application/json",
        headers: Mapping[str, str] | None = None,
        ok: Callable[[int], bool] = lambda s: 200 <= s < 300,
    ) -> bytes:
        """POST and check the status as upstream's retrier: 5xx and 429 retry, 4xx does not."""
        session = self.session(url)
        hdrs = {"Content-Type": content_type}
        if headers:
            hdrs.update(headers)
        shown = safe_url(url)
        try:
            async with session.post(
                url, data=body, headers=hdrs, **request_kwargs(self.http_config_for(url))
            ) as resp:
                data = await resp.content.read(64 << 10)
                status = resp.status
        except aiohttp.ClientError as exc:
            raise NotifyError(f'Post "{shown}": {client_error_text(exc)}') from None
        except OSError as exc:
            raise NotifyError(f'Post "{shown}": {client_error_text(exc)}') from None
        if ok(status):
            return data
        retry = status >= 500 or status == 429
        snippet = data[:256].decode("utf-8", "replace").strip()
        detail = f": {_strip_url(snippet, url)}" if snippet else ""
        raise NotifyError(f'Post "{shown}": unexpected status code {status}{detail}', retry)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _strip_url(text: str, url: str) -> str:
    """Remove the URL and its secret-bearing parts from text a remote sent back."""
    parts = urllib.parse.urlsplit(url)
    for piece in (url, parts.query, parts.password or "", parts.path):
        if len(piece) >= 4:
            text = text.replace(piece, "<redacted>")
    return text


def json_bytes(value: Any) -> bytes:
    """Compact JSON as Go's encoder writes it (no spaces, UTF-8, ``<>&`` escaped)."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def truncate_runes(text: str, limit: int) -> tuple[str, bool]:
    """Upstream's ``TruncateInRunes``: at most ``limit`` characters, the last one ``…``."""
    if len(text) <= limit:
        return text, False
    if limit <= 0:
        return "", True
    return text[: limit - 1] + "…", True


def truncate_bytes(text: str, limit: int) -> tuple[str, bool]:
    """Upstream's ``TruncateInBytes``: at most ``limit`` UTF-8 bytes, ending in ``…``."""
    raw = text.encode()
    if len(raw) <= limit:
        return text, False
    cut = raw[: max(limit - 3, 0)].decode("utf-8", "ignore")
    return cut + "…", True


def group_key_hash(group_key: str) -> str:
    """Upstream's ``Key.Hash``: the SHA-256 of the group key, hex (PagerDuty, OpsGenie ids)."""
    import hashlib

    return hashlib.sha256(group_key.encode()).hexdigest()


class Renderer:
    """Renders receiver fields with the flush's template data; text and HTML flavours."""

    def __init__(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        self.ctx = ctx
        self.data = ctx.data(alerts)

    def text(self, template: str) -> str:
        return self.ctx.templates.execute_text_string(template, self.data)

    def html(self, template: str) -> str:
        return self.ctx.templates.execute_html_string(template, self.data)
