"""Telegram: ``sendMessage`` of the Bot API with the rendered message (HTML by default).

The bot token is part of the request path, so the URL is never shown.
"""

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

__all__ = ["TelegramIntegration"]


class TelegramIntegration(HTTPIntegration):
    kind = "telegram"

    def _token(self) -> str:
        if self.cfg.bot_token:
            return str(self.cfg.bot_token.reveal())
        try:
            with open(str(self.cfg.bot_token_file), encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError:
            raise NotifyError("read bot_token_file: unreadable", False) from None

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        r = Renderer(ctx, alerts)
        text = (
            r.html(self.cfg.message) if self.cfg.parse_mode == "HTML" else r.text(self.cfg.message)
        )
        text, _ = truncate_runes(text, 4096)
        body: dict[str, object] = {"chat_id": self.cfg.chat_id, "text": text}
        if self.cfg.parse_mode:
            body["parse_mode"] = self.cfg.parse_mode
        if self.cfg.disable_notifications:
            body["disable_notification"] = True
        base = str(self.cfg.api_url or "https://api.telegram.org").rstrip("/")
        self.check_url(base)
        self.check_destination(str(self.cfg.chat_id))
        await self.post(f"{base}/bot{self._token()}/sendMessage", json_bytes(body))
