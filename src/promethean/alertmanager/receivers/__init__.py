"""Receiver integrations: one module per kind, each upstream's request shape.

:func:`build_integrations` turns a configured receiver into its integrations
(``webhook[0]``, ``email[0]``...), each with the receiver's M2 guard
(``allowed_destinations``) applied to every destination it renders. Kinds
promethean does not deliver to (``sns``, ``wechat``) are refused when the
server loads its config; where a config was parsed without that check they
become integrations that fail without retrying, with a message saying so,
rather than vanishing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.receiverconfig import Receiver
from promethean.alertmanager.receivers.base import (
    DestinationRefused,
    Integration,
    NotifyContext,
    NotifyError,
    safe_url,
)

__all__ = [
    "DestinationRefused",
    "Integration",
    "NotifyContext",
    "NotifyError",
    "build_integrations",
    "safe_url",
]


class _Unsupported(Integration):
    def __init__(self, kind: str, cfg: Any, index: int) -> None:
        super().__init__(cfg, index)
        self.kind = kind

    async def notify(self, ctx: NotifyContext, alerts: Sequence[Alert]) -> None:
        raise NotifyError(f"{self.kind} notifications are not supported by promethean", False)


def _classes() -> dict[str, Callable[..., Integration]]:
    from promethean.alertmanager.receivers.discord import DiscordIntegration
    from promethean.alertmanager.receivers.email import EmailIntegration
    from promethean.alertmanager.receivers.msteams import MSTeamsIntegration
    from promethean.alertmanager.receivers.opsgenie import OpsGenieIntegration
    from promethean.alertmanager.receivers.pagerduty import PagerDutyIntegration
    from promethean.alertmanager.receivers.pushover import PushoverIntegration
    from promethean.alertmanager.receivers.slack import SlackIntegration
    from promethean.alertmanager.receivers.telegram import TelegramIntegration
    from promethean.alertmanager.receivers.victorops import VictorOpsIntegration
    from promethean.alertmanager.receivers.webex import WebexIntegration
    from promethean.alertmanager.receivers.webhook import WebhookIntegration

    return {
        "webhook": WebhookIntegration,
        "email": EmailIntegration,
        "slack": SlackIntegration,
        "pagerduty": PagerDutyIntegration,
        "opsgenie": OpsGenieIntegration,
        "msteams": MSTeamsIntegration,
        "telegram": TelegramIntegration,
        "discord": DiscordIntegration,
        "pushover": PushoverIntegration,
        "victorops": VictorOpsIntegration,
        "webex": WebexIntegration,
    }


def build_integrations(receiver: Receiver) -> list[Integration]:
    """The integrations of one receiver, in upstream's order, guarded by its allow-list."""
    classes = _classes()
    allowed = receiver.destination_allowed if receiver.allowed_destinations else None
    out: list[Integration] = []
    for kind, index, cfg in receiver.integrations():
        cls = classes.get(kind)
        if cls is None:
            out.append(_Unsupported(kind, cfg, index))
        else:
            out.append(cls(cfg, index, allowed))
    return out
