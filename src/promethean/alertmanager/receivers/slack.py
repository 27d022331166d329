"""Slack: one attachment per notification, as upstream's ``slack.go`` builds it.

``channel`` is templated (an alert poster can choose it), so it and the API
URL pass the receiver's M2 guard; the URL is a secret (it holds the hook
token) and only its scheme and host are ever shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.receivers.base import (
    HTTPIntegration,
    NotifyContext,
    NotifyError,
    Renderer,
    json_bytes,
    truncate_runes,
)

__all__ = ["SlackIntegration", "slack_message"]

_MAX_TITLE = 1024


def _omit_empty(d: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k in keep or v not in ("", [], None, False)}


def slack_message(cfg: Any, r: Renderer) -> dict[str, Any]:
    """The request body upstream sends for this config and template data."""
    title, _ = truncate_runes(r.text(cfg.title), _MAX_TITLE)
    attachment: dict[str, Any] = {
        "title": title,
        "title_link": r.text(cfg.title_link),
        "pretext": r.text(cfg.pretext),
        "text": r.text(cfg.text),
        "fallback": r.text(cfg.fallback),
        "callback_id": r.text(cfg.callback_id),
        "fields": [
            {
                "title": r.text(f.title),
                "value": r.text(f.value),
                "short": cfg.short_fields if f.short is None else f.short,
            }
            for f in cfg.fields
        ],
        "actions": [
            _omit_empty(
                {
                    "type": r.text(a.type),
                    "text": r.text(a.text),
                    "url": r.text(a.url),
                    "style": r.text(a.style),
                    "name": r.text(a.name),
                    "value": r.text(a.value),
                    "confirm": (
                        _omit_empty(
                            {
                                "text": r.text(a.confirm.text),
                                "title": r.text(a.confirm.title),
                                "ok_text": r.text(a.confirm.ok_text),
                                "dismiss_text": r.text(a.confirm.dismiss_text),
                            }
                        )
                        if a.confirm is not None
                        else None
                    ),
                }
            )
            for a in cfg.actions
        ],
        "image_url": r.text(cfg.image_url),
        "thumb_url": r.text(cfg.thumb_url),
        "footer": r.text(cfg.footer),
        "color": r.text(cfg.color),
        "mrkdwn_in": list(cfg.mrkdwn_in) or ["fallback", "pretext", "text"],
    }
    attachment = _omit_empty(attachment, keep=("text", "fallback", "callback_id", "footer"))
    body: dict[str, Any] = {
        "channel": r.text(cfg.channel),
        "username": r.text(cfg.username),
        "icon_emoji": r.text(cfg.icon_emoji),
        "icon_url": r.text(cfg.icon_url),
        "link_names": cfg.link_names,
    }
    body = _omit_empty(body)
    body["attachments"] = [attachment]
    return body


class SlackIntegration(HTTPIntegration):
    kind = "slack"

    def url(self) -> str:
        if self.cfg.api_url is not None:
            return str(self.cfg.api_url.reveal())
        try:
            with open(self.cfg.api_url_file, encoding="utf-8") as fh:
                return fh.read().strip()
        except (OSError, TypeError):
            raise NotifyError("read api_url_file: unreadable", False) from None

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        r = Renderer(ctx, alerts)
        body = slack_message(self.cfg, r)
        url = self.url()
        self.check_url(url)
        if body.get("channel"):
            self.check_destination(str(body["channel"]))
        await self.post(url, json_bytes(body))
