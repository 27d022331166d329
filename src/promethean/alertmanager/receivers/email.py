"""Email over SMTP, as upstream's ``email.go``: STARTTLS or implicit TLS, PLAIN/LOGIN/CRAM-MD5.

Sequence: connect to ``smarthost`` (port 465: TLS from the first byte),
``EHLO hello``, ``STARTTLS`` when ``require_tls`` (refusing a server that
does not offer it), ``AUTH`` with the first mechanism the server offers that
the config has credentials for (none without ``auth_username``), ``MAIL
FROM`` the single rendered ``from`` address, ``RCPT TO`` every address of the
rendered ``to``, then the message: the configured headers (values Q-encoded
when they hold anything but printable ASCII, so a CR/LF from a label cannot
inject a header), ``Message-Id``, ``Date``, and a ``multipart/alternative``
body with the text part (if any) before the HTML part, quoted-printable.

M2: ``to`` is usually templated, so whoever posts alerts can choose it; each
rendered recipient must pass the receiver's ``allowed_destinations`` or the
whole message is refused. Passwords, secrets and the identity are never part
of an error. smtplib blocks, so the SMTP dialogue runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import email.quoprimime
import email.utils
import random
import smtplib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.configtypes import split_host_port
from promethean.alertmanager.receivers.base import (
    Integration,
    NotifyContext,
    NotifyError,
    Renderer,
)
from promethean.config.httpclient import TLSConfig, build_ssl_context

__all__ = ["EmailIntegration", "q_encode"]

_TIMEOUT = 30.0
_MAX_WORD = 75


def q_encode(value: str) -> str:
    """Go's ``mime.QEncoding.Encode("utf-8", value)``: unchanged unless it needs encoding."""
    if not any((c < " " or c > "~") and c != "\t" for c in value):
        return value
    words: list[str] = []
    current = ""
    prefix, suffix = "=?utf-8?q?", "?="
    budget = _MAX_WORD - len(prefix) - len(suffix)
    for ch in value:
        enc = ""
        for b in ch.encode("utf-8"):
            if b == 0x20:
                enc += "_"
            elif 0x21 <= b <= 0x7E and b not in (0x3D, 0x3F, 0x5F):
                enc += chr(b)
            else:
                enc += f"={b:02X}"
        if len(current) + len(enc) > budget and current:
            words.append(prefix + current + suffix)
            current = ""
        current += enc
    words.append(prefix + current + suffix)
    return " ".join(words)


def _addresses(text: str, what: str) -> list[str]:
    parsed = email.utils.getaddresses([text])
    out = [addr for _name, addr in parsed if addr]
    if not out or any("@" not in a for a in out):
        raise NotifyError(f"parse '{what}' addresses: mail: invalid address list", False)
    return out


@dataclass
class _Message:
    sender: str
    recipients: list[str]
    data: bytes


def _build(cfg: Any, r: Renderer, hostname: str) -> _Message:
    from_text = r.text(cfg.from_)
    senders = _addresses(from_text, "from")
    if len(senders) != 1:
        raise NotifyError(f'must be exactly one "from" address (got: {len(senders)})', False)
    recipients = _addresses(r.text(cfg.to), "to")
    lines: list[str] = []
    has_id = False
    for name, template in cfg.headers.items():
        if name.lower() == "message-id":
            has_id = True
        lines.append(f"{name}: {q_encode(r.text(template))}")
    if not has_id:
        lines.append(f"Message-Id: <{random.getrandbits(63)}.{time.time_ns()}@{hostname}>")
    lines.append(f"Date: {email.utils.formatdate(localtime=True)}")
    boundary = f"{random.getrandbits(128):032x}"
    lines.append(f"Content-Type: multipart/alternative;  boundary={boundary}")
    lines.append("MIME-Version: 1.0")
    parts: list[str] = []
    text = r.text(cfg.text) if cfg.text else ""
    html = r.html(cfg.html) if cfg.html else ""
    for content, ctype in ((text, "text/plain"), (html, "text/html")):
        if not content:
            continue
        encoded = email.quoprimime.body_encode(content, maxlinelen=76, eol="\r\n")
        parts.append(
            f"--{boundary}\r\nContent-Transfer-Encoding: quoted-printable\r\n"
            f"Content-Type: {ctype}; charset=UTF-8\r\n\r\n{encoded}\r\n"
        )
    body = "\r\n".join(lines) + "\r\n\r\n" + "".join(parts) + f"--{boundary}--\r\n"
    return _Message(senders[0], recipients, body.encode("utf-8"))


def _secret(inline: Any, path: str | None) -> str:
    if inline:
        return str(inline.reveal())
    if path:
        try:
            with open(path, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError:
            raise NotifyError("read auth file: unreadable", False) from None
    return ""


def _ssl_context(tls: TLSConfig | None) -> ssl.SSLContext:
    return build_ssl_context(tls if tls is not None else TLSConfig())


class EmailIntegration(Integration):
    kind = "email"

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        r = Renderer(ctx, alerts)
        msg = _build(self.cfg, r, socket.gethostname())
        for rcpt in msg.recipients:
            self.check_destination(rcpt)
        await asyncio.to_thread(self._send, msg)

    def _send(self, msg: _Message) -> None:
        cfg = self.cfg
        try:
            host, port = split_host_port(str(cfg.smarthost))
        except ValueError as exc:
            raise NotifyError(f"invalid smarthost: {exc}", False) from None
        tls = cfg.tls_config
        server_name = (tls.server_name if tls is not None else "") or host
        try:
            if port == "465":
                ctx = _ssl_context(tls)
                client: smtplib.SMTP = smtplib.SMTP_SSL(
                    timeout=_TIMEOUT, context=ctx, local_hostname=cfg.hello or None
                )
                client.connect(host, int(port))
                secure = True
            else:
                client = smtplib.SMTP(timeout=_TIMEOUT, local_hostname=cfg.hello or None)
                client.connect(host, int(port))
                client._host = server_name  # type: ignore[attr-defined]  # STARTTLS SNI
                secure = False
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"establish connection to server: {_smtp_text(exc)}") from None
        try:
            client.ehlo_or_helo_if_needed()
            if cfg.require_tls and not secure:
                if not client.has_extn("starttls"):
                    raise NotifyError(
                        f"'require_tls' is true (default) but \"{host}:{port}\" does not "
                        "advertise the STARTTLS extension",
                        False,
                    )
                client.starttls(context=_ssl_context(tls))
                client.ehlo()
                secure = True
            if client.has_extn("auth") and cfg.auth_username:
                self._auth(client, str(client.esmtp_features.get("auth", "")), secure, host)
            refused = client.sendmail(msg.sender, msg.recipients, msg.data)
            if refused:
                raise NotifyError(f"send RCPT: {len(refused)} recipient(s) refused")
        except NotifyError:
            raise
        except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
            raise NotifyError(_smtp_text(exc)) from None
        finally:
            try:
                client.quit()
            except (OSError, smtplib.SMTPException):
                client.close()

    def _auth(self, client: smtplib.SMTP, mechs: str, secure: bool, host: str) -> None:
        cfg = self.cfg
        user = str(cfg.auth_username)
        problems: list[str] = []
        for mech in mechs.upper().split():
            if mech == "CRAM-MD5":
                secret = _secret(cfg.auth_secret, cfg.auth_secret_file)
                if not secret:
                    problems.append("missing secret for CRAM-MD5 auth mechanism")
                    continue
                client.user, client.password = user, secret
                self._do_auth(client, "CRAM-MD5", client.auth_cram_md5)
                return
            if mech in ("PLAIN", "LOGIN"):
                password = _secret(cfg.auth_password, cfg.auth_password_file)
                if not password:
                    problems.append(f"missing password for {mech} auth mechanism")
                    continue
                if mech == "PLAIN":
                    if not secure and host not in ("localhost", "127.0.0.1", "::1"):
                        raise NotifyError("smtp auth: unencrypted connection", False)
                    identity = str(cfg.auth_identity.reveal()) if cfg.auth_identity else ""

                    response = f"{identity}\0{user}\0{password}"
                    self._do_auth(client, "PLAIN", lambda challenge=None, r=response: r)
                    return
                client.user, client.password = user, password
                self._do_auth(client, "LOGIN", client.auth_login)
                return
        raise NotifyError(
            "find auth mechanism: " + ("; ".join(problems) or f"unknown auth mechanism: {mechs}"),
            False,
        )

    @staticmethod
    def _do_auth(client: smtplib.SMTP, mech: str, obj: Any) -> None:
        try:
            client.auth(mech, obj, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as exc:
            raise NotifyError(
                f"{mech} auth: {exc.smtp_code} authentication failed", False
            ) from None


def _smtp_text(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        msg = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else ""
        return f"{exc.smtp_code} {msg}".strip()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "send RCPT: recipients refused"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or 'handshake failed'}"
    if isinstance(exc, OSError):
        return (exc.strerror or type(exc).__name__).lower()
    return type(exc).__name__
