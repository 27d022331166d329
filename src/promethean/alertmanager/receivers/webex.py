"""Webex: a markdown message to a room through the messages API."""

from __future__ import annotations

from collections.abc import Sequence

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.receivers.base import (
    HTTPIntegration,
    NotifyContext,
    Renderer,
    json_bytes,
    truncate_bytes,
)

__all__ = ["WebexIntegration"]


class WebexIntegration(HTTPIntegration):
    kind = "webex"

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        r = Renderer(ctx, alerts)
        message, _ = truncate_bytes(r.text(self.cfg.message), 7439)
        room = r.text(self.cfg.room_id)
        self.check_url(str(self.cfg.api_url))
        self.check_destination(room)
        body = {"roomId": room, "markdown": message}
        await self.post(str(self.cfg.api_url), json_bytes(body))
