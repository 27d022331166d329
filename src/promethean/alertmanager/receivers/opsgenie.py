"""OpsGenie: create an alert per group (alias = hash of the group key), close it when resolved."""

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

__all__ = ["OpsGenieIntegration", "opsgenie_request"]

_MAX_MESSAGE = 130


def opsgenie_request(cfg: Any, r: Renderer, group_key: str) -> tuple[str, dict[str, Any]]:
    """``(path below api_url, body)`` upstream sends for this group."""
    alias = group_key_hash(group_key)
    if r.data.Status == "resolved":
        return f"v2/alerts/{alias}/close?identifierType=alias", {"source": r.text(cfg.source)}
    message, _ = truncate_runes(r.text(cfg.message), _MAX_MESSAGE)
    details = dict(r.data.CommonLabels)
    for k, v in cfg.details.items():
        details[k] = r.text(v)
    body: dict[str, Any] = {
        "alias": alias,
        "message": message,
        "description": r.text(cfg.description),
        "details": details,
        "source": r.text(cfg.source),
    }
    responders = []
    for resp in cfg.responders:
        item = {
            "id": r.text(resp.id),
            "name": r.text(resp.name),
            "username": r.text(resp.username),
            "type": r.text(resp.type),
        }
        responders.append({k: v for k, v in item.items() if v})
    if responders:
        body["responders"] = responders
    tags = [t.strip() for t in r.text(cfg.tags).split(",") if t.strip()]
    if tags:
        body["tags"] = tags
    for name in ("note", "priority", "entity"):
        text = r.text(getattr(cfg, name))
        if text:
            body[name] = text
    actions = [a.strip() for a in r.text(cfg.actions).split(",") if a.strip()]
    if actions:
        body["actions"] = actions
    if not body["description"]:
        del body["description"]
    return "v2/alerts", body


class OpsGenieIntegration(HTTPIntegration):
    kind = "opsgenie"

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
        path, body = opsgenie_request(self.cfg, r, ctx.group_key)
        url = str(self.cfg.api_url or "https://api.opsgenie.com/") + path
        self.check_url(url)
        for responder in body.get("responders", ()):
            for key in ("id", "name", "username"):
                if responder.get(key):
                    self.check_destination(responder[key])
        await self.post(
            url, json_bytes(body), headers={"Authorization": f"GenieKey {self._api_key()}"}
        )
