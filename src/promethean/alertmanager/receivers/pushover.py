"""Pushover: the form-encoded ``messages.json`` request, as upstream sends it."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.receivers.base import (
    HTTPIntegration,
    NotifyContext,
    NotifyError,
    Renderer,
    truncate_runes,
)

__all__ = ["PushoverIntegration", "pushover_form"]

API_URL = "https://api.pushover.net/1/messages.json"


def _value(inline: Any, path: str | None, what: str) -> str:
    if inline:
        return str(inline.reveal())
    try:
        with open(str(path), encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        raise NotifyError(f"read {what}: unreadable", False) from None


def pushover_form(cfg: Any, r: Renderer) -> list[tuple[str, str]]:
    """The form fields (token and user key included) for this config and data."""
    title, _ = truncate_runes(r.text(cfg.title), 250)
    message = r.html(cfg.message) if cfg.html else r.text(cfg.message)
    message, _ = truncate_runes(message, 1024)
    if not message.strip():
        message = "(no details)"
    url, _ = truncate_runes(r.text(cfg.url), 512)
    form = [
        ("token", r.text(_value(cfg.token, cfg.token_file, "token_file"))),
        ("user", r.text(_value(cfg.user_key, cfg.user_key_file, "user_key_file"))),
        ("title", title),
    ]
    if cfg.html:
        form.append(("html", "1"))
    form.append(("message", message))
    form.append(("url", url))
    form.append(("url_title", r.text(cfg.url_title)))
    priority = r.text(cfg.priority)
    form.append(("priority", priority))
    form.append(("retry", str(int(cfg.retry))))
    form.append(("expire", str(int(cfg.expire))))
    if cfg.sound:
        form.append(("sound", r.text(cfg.sound)))
    return form


class PushoverIntegration(HTTPIntegration):
    kind = "pushover"
    api_url = API_URL

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        r = Renderer(ctx, alerts)
        form = pushover_form(self.cfg, r)
        self.check_url(self.api_url)
        self.check_secret(dict(form)["user"], "user_key")
        body = urllib.parse.urlencode(form).encode()
        await self.post(self.api_url, body, "application/x-www-form-urlencoded")
