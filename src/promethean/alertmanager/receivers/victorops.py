"""VictorOps (Splunk On-Call): the REST endpoint ``<api_url><api_key>/<routing_key>``.

Both key and routing key sit in the URL path; neither is ever shown.
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
    group_key_hash,
    json_bytes,
    truncate_runes,
)

__all__ = ["VictorOpsIntegration"]


class VictorOpsIntegration(HTTPIntegration):
    kind = "victorops"

    def _api_key(self) -> str:
        if self.cfg.api_key:
            return str(self.cfg.api_key.reveal())
        try:
            with open(str(self.cfg.api_key_file), encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError:
            raise NotifyError("read api_key_file: unreadable", False) from None

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        r = Renderer(ctx, alerts)
        message_type = r.text(self.cfg.message_type)
        if r.data.Status == "resolved":
            message_type = "RECOVERY"
        state, _ = truncate_runes(r.text(self.cfg.state_message), 20480)
        body: dict[str, Any] = {
            "message_type": message_type,
            "entity_id": group_key_hash(ctx.group_key),
            "entity_display_name": r.text(self.cfg.entity_display_name),
            "state_message": state,
            "monitoring_tool": r.text(self.cfg.monitoring_tool),
        }
        for k, v in self.cfg.custom_fields.items():
            body[k] = r.text(v)
        routing = r.text(str(self.cfg.routing_key.reveal()) if self.cfg.routing_key else "")
        self.check_url(str(self.cfg.api_url))
        self.check_secret(routing, "routing_key")
        url = f"{self.cfg.api_url}{self._api_key()}/{routing}"
        await self.post(url, json_bytes(body))
