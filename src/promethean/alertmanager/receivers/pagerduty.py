"""PagerDuty: Events API v2 (``routing_key``) and v1 (``service_key``), as upstream.

The incident/dedup key is the SHA-256 of the group key, so PagerDuty folds
every notification of a group into one incident and resolves it with the
group. Keys are secrets: never part of an error or a log line.
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

__all__ = ["PagerDutyIntegration", "pagerduty_message"]

V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
V2_DEFAULT = "https://events.pagerduty.com/v2/enqueue"
_MAX_SUMMARY = 1024


def _key(inline: Any, path: str | None) -> str:
    if inline:
        return str(inline.reveal())
    try:
        with open(str(path), encoding="utf-8") as fh:
            return fh.read().strip()
    except OSError:
        raise NotifyError("read key file: unreadable", False) from None


def pagerduty_message(cfg: Any, r: Renderer, group_key: str) -> tuple[bool, dict[str, Any]]:
    """``(is_v1, body)`` for this config and template data (keys included)."""
    key = group_key_hash(group_key)
    firing = r.data.Status == "firing"
    details = {k: r.text(v) for k, v in cfg.details.items()}
    if cfg.service_key or cfg.service_key_file:
        description, _ = truncate_runes(r.text(cfg.description), _MAX_SUMMARY)
        msg: dict[str, Any] = {
            "service_key": r.text(_key(cfg.service_key, cfg.service_key_file)),
            "incident_key": key,
            "event_type": "trigger" if firing else "resolve",
            "description": description,
        }
        if firing:
            msg["client"] = r.text(cfg.client)
            msg["client_url"] = r.text(cfg.client_url)
        if details:
            msg["details"] = details
        return True, {k: v for k, v in msg.items() if v not in ("", None)}
    summary, _ = truncate_runes(r.text(cfg.description), _MAX_SUMMARY)
    payload: dict[str, Any] = {
        "summary": summary,
        "source": r.text(cfg.source),
        "severity": r.text(cfg.severity) or "error",
    }
    for name, value in (("class", cfg.class_), ("component", cfg.component), ("group", cfg.group)):
        text = r.text(value)
        if text:
            payload[name] = text
    if details:
        payload["custom_details"] = details
    msg = {
        "routing_key": r.text(_key(cfg.routing_key, cfg.routing_key_file)),
        "dedup_key": key,
        "event_action": "trigger" if firing else "resolve",
        "payload": payload,
        "client": r.text(cfg.client),
        "client_url": r.text(cfg.client_url),
    }
    images = [
        {
            k: v
            for k, v in {"src": r.text(i.src), "alt": r.text(i.alt), "href": r.text(i.href)}.items()
            if v
        }
        for i in cfg.images
    ]
    links = [{"href": r.text(x.href), "text": r.text(x.text)} for x in cfg.links]
    if images:
        msg["images"] = images
    if links:
        msg["links"] = links
    return False, {k: v for k, v in msg.items() if v != ""}


class PagerDutyIntegration(HTTPIntegration):
    kind = "pagerduty"

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        r = Renderer(ctx, alerts)
        v1, body = pagerduty_message(self.cfg, r, ctx.group_key)
        url = str(self.cfg.url or V2_DEFAULT)
        if v1 and url == V2_DEFAULT:
            url = V1_URL
        self.check_url(url)
        if v1:
            self.check_secret(str(body.get("service_key", "")), "service_key")
        else:
            self.check_secret(str(body.get("routing_key", "")), "routing_key")
        await self.post(url, json_bytes(body))
