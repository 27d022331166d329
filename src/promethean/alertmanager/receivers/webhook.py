"""The webhook integration: upstream's payload version 4, byte for byte in its shape.

The body is built directly (not through templates: upstream renders none for
webhooks), in upstream's key order, because receivers written against
Alertmanager parse it. ``max_alerts`` truncates the list before the common
labels are computed, as upstream does, and reports ``truncatedAlerts``.

Credentials in the URL's userinfo win over ``http_config`` authorization
(observed upstream). The URL itself is a secret here (it embeds tokens): only
its scheme, host and port ever appear in an error.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.receivers.base import (
    HTTPIntegration,
    NotifyContext,
    NotifyError,
    go_time_json,
    json_bytes,
)
from promethean.config.httpclient import HTTPClientConfig
from promethean.template.alertmanager_funcs import quote_meta

__all__ = ["WebhookIntegration", "webhook_payload"]

_ZERO = "0001-01-01T00:00:00Z"


def _alert_json(alert: Alert, now: float, fp: str) -> dict[str, Any]:
    resolved = alert.resolved(now)
    return {
        "status": "resolved" if resolved else "firing",
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": go_time_json(alert.starts_at),
        "endsAt": go_time_json(alert.ends_at) if resolved and alert.ends_at is not None else _ZERO,
        "generatorURL": alert.generator_url,
        "fingerprint": fp,
    }


def _common(maps: list[dict[str, str]]) -> dict[str, str]:
    if not maps:
        return {}
    common = dict(maps[0])
    for m in maps[1:]:
        if not common:
            break
        common = {k: v for k, v in common.items() if m.get(k) == v}
    return common


def webhook_payload(
    ctx: NotifyContext, alerts: Sequence[Alert], max_alerts: int = 0, now: float | None = None
) -> dict[str, Any]:
    """The version 4 message for ``alerts`` (in the order given)."""
    import time

    when = time.time() if now is None else now
    truncated = 0
    if max_alerts and len(alerts) > max_alerts:
        truncated = len(alerts) - max_alerts
        alerts = alerts[:max_alerts]
    items = [_alert_json(a, when, ctx.fingerprint(a)) for a in alerts]
    firing = any(item["status"] == "firing" for item in items)
    return {
        "receiver": quote_meta(ctx.receiver),
        "status": "firing" if firing else "resolved",
        "alerts": items,
        "groupLabels": dict(sorted(ctx.group_labels.items())),
        "commonLabels": _common([item["labels"] for item in items]),
        "commonAnnotations": _common([item["annotations"] for item in items]),
        "externalURL": ctx.external_url,
        "version": "4",
        "groupKey": ctx.group_key,
        "truncatedAlerts": truncated,
    }


class WebhookIntegration(HTTPIntegration):
    kind = "webhook"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http_for: dict[str, HTTPClientConfig] = {}

    def url(self) -> str:
        if self.cfg.url is not None:
            return str(self.cfg.url.reveal())
        try:
            with open(self.cfg.url_file, encoding="utf-8") as fh:
                return fh.read().strip()
        except OSError as exc:
            raise NotifyError(f"read url_file: {exc.strerror or 'unreadable'}", False) from None

    def http_config_for(self, url: str) -> HTTPClientConfig:
        got = self._http_for.get(url)
        if got is None:
            got = self._http
            try:
                has_userinfo = urllib.parse.urlsplit(url).username is not None
            except ValueError:
                has_userinfo = False
            if has_userinfo:
                got = got.model_copy(update={"basic_auth": None, "authorization": None})
                if getattr(got, "oauth2", None) is not None:
                    got = got.model_copy(update={"oauth2": None})
            self._http_for = {url: got}
        return got

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        url = self.url()
        self.check_url(url)
        body = json_bytes(webhook_payload(ctx, alerts, self.cfg.max_alerts))
        await self.post(url, body)
