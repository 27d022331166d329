"""Discord: one embed per notification, colour by status, as upstream's ``discord`` integration."""

from __future__ import annotations

from collections.abc import Sequence

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.receivers.base import (
    HTTPIntegration,
    NotifyContext,
    NotifyError,
    Renderer,
    json_bytes,
    truncate_runes,
)

__all__ = ["DiscordIntegration"]

_COLORS = {"firing": 0x992D22, "resolved": 0x2ECC71}


class DiscordIntegration(HTTPIntegration):
    kind = "discord"

    def url(self) -> str:
        if self.cfg.webhook_url is not None:
            return str(self.cfg.webhook_url.reveal())
        try:
            with open(str(self.cfg.webhook_url_file), encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError:
            raise NotifyError("read webhook_url_file: unreadable", False) from None

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        r = Renderer(ctx, alerts)
        title, _ = truncate_runes(r.text(self.cfg.title), 256)
        description, _ = truncate_runes(r.text(self.cfg.message), 4096)
        body = {
            "embeds": [
                {
                    "title": title,
                    "description": description,
                    "color": _COLORS.get(r.data.Status, 0x95A5A6),
                }
            ]
        }
        url = self.url()
        self.check_url(url)
        await self.post(url, json_bytes(body))
