"""Microsoft Teams: an incoming-webhook MessageCard, as upstream's ``msteams`` integration."""

from __future__ import annotations

from collections.abc import Sequence

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.receivers.base import (
    HTTPIntegration,
    NotifyContext,
    NotifyError,
    Renderer,
    json_bytes,
)

__all__ = ["MSTeamsIntegration"]

_COLORS = {"firing": "8C1A1A", "resolved": "2DC72D"}


class MSTeamsIntegration(HTTPIntegration):
    kind = "msteams"

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
        body = {
            "@context": "http://schema.org/extensions",
            "type": "MessageCard",
            "title": r.text(self.cfg.title),
            "summary": r.text(self.cfg.summary),
            "text": r.text(self.cfg.text),
            "themeColor": _COLORS.get(r.data.Status, "808080"),
        }
        url = self.url()
        self.check_url(url)
        await self.post(url, json_bytes(body))
