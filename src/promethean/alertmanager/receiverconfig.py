"""The ``receivers:`` section: one model per integration, with upstream's fields and defaults.

Defaults are upstream's (``send_resolved``, the default templates each
integration renders, ``message_type: CRITICAL``...), because they show in
``/api/v2/status`` and because a config that leaves them out must notify the
same way. Validation messages are upstream's words. Values inherited from
``global:`` (SMTP settings, API URLs and keys, ``http_config``) are filled in
by :mod:`promethean.alertmanager.config`, which sees both sections.

Beyond upstream (SECURITY-MODEL K1, M2):

* webhook ``url``, VictorOps ``routing_key`` and email ``auth_identity`` are
  :class:`Secret` (upstream prints them in clear): webhook URLs embed tokens
  (the webhook ``url`` shows as ``scheme://host:port/<secret>``, which amtool
  0.25 still parses);
* newer upstream ``*_file`` variants are accepted (webhook ``url_file``,
  Telegram ``bot_token_file``, Discord/MS Teams ``webhook_url_file``, Pushover
  ``user_key_file``/``token_file``) so secrets can stay out of the file;
* each receiver may list ``allowed_destinations``: RE2 patterns (fully
  anchored) that every rendered destination (email address, URL, channel...)
  must match, so an alert poster cannot choose where a templated field sends.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator, model_validator

from promethean.alertmanager.configtypes import (
    URL,
    GoDuration,
    HostPort,
    MaskedURL,
    SecretURL,
)
from promethean.alertmanager.matchers import anchored_regexp_error
from promethean.config import ConfigModel, Secret
from promethean.config.httpclient import HTTPClientConfig, TLSConfig
from promethean.model.matchers import compile_regex

__all__ = [
    "DiscordConfig",
    "EmailConfig",
    "MSTeamsConfig",
    "OpsGenieConfig",
    "PagerdutyConfig",
    "PushoverConfig",
    "Receiver",
    "SNSConfig",
    "SlackConfig",
    "TelegramConfig",
    "VictorOpsConfig",
    "WebexConfig",
    "WebhookConfig",
    "WechatConfig",
]


def _tmpl(name: str, arg: str = " .") -> str:
    return '{{ template "' + name + '"' + arg + " }}"


class _Notifier(ConfigModel):
    """Fields every integration has."""

    send_resolved: bool = True
    http_config: HTTPClientConfig | None = None


# -- webhook -----------------------------------------------------------------------------


class WebhookConfig(_Notifier):
    url: MaskedURL | None = None
    url_file: str | None = None
    max_alerts: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _check(self) -> WebhookConfig:
        if self.url is None and not self.url_file:
            raise ValueError("missing URL in webhook config")
        if self.url is not None and self.url_file:
            raise ValueError("at most one of url & url_file must be configured")
        return self


# -- email -------------------------------------------------------------------------------


class EmailConfig(ConfigModel):
    send_resolved: bool = False
    to: str = ""
    from_: str = Field("", alias="from")
    hello: str = ""
    smarthost: HostPort = ""
    auth_username: str = ""
    auth_password: Secret | None = None
    auth_password_file: str | None = None
    auth_secret: Secret | None = None
    auth_secret_file: str | None = None
    auth_identity: Secret | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    html: str = _tmpl("email.default.html")
    text: str = ""
    require_tls: bool | None = None
    tls_config: TLSConfig | None = None

    @model_validator(mode="after")
    def _check(self) -> EmailConfig:
        if self.to == "":
            raise ValueError("missing to address in email config")
        normalized: dict[str, str] = {}
        for name, value in self.headers.items():
            key = _go_title(name)
            if key in normalized:
                raise ValueError(f'duplicate header "{key}" in email config')
            normalized[key] = value
        object.__setattr__(self, "headers", normalized)
        return self


def _go_title(s: str) -> str:
    """Go's deprecated ``strings.Title``: upper-case the first letter of each word."""
    out = []
    prev_letter = False
    for ch in s:
        out.append(ch.upper() if not prev_letter else ch)
        prev_letter = ch.isalnum() or ch == "_" or ch == "'"
    return "".join(out)


# -- slack -------------------------------------------------------------------------------


class SlackConfirmationField(ConfigModel):
    text: str = ""
    title: str = ""
    ok_text: str = ""
    dismiss_text: str = ""

    @model_validator(mode="after")
    def _check(self) -> SlackConfirmationField:
        if self.text == "":
            raise ValueError("missing text in Slack confirmation configuration")
        return self


class SlackAction(ConfigModel):
    type: str = ""
    text: str = ""
    url: str = ""
    style: str = ""
    name: str = ""
    value: str = ""
    confirm: SlackConfirmationField | None = None

    @model_validator(mode="after")
    def _check(self) -> SlackAction:
        if self.type == "":
            raise ValueError("missing type in Slack action configuration")
        if self.text == "":
            raise ValueError("missing text in Slack action configuration")
        if self.url == "" and self.name == "":
            raise ValueError("missing name or url in Slack action configuration")
        return self


class SlackField(ConfigModel):
    title: str = ""
    value: str = ""
    short: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> SlackField:
        if self.title == "":
            raise ValueError("missing title in Slack field configuration")
        if self.value == "":
            raise ValueError("missing value in Slack field configuration")
        return self


class SlackConfig(_Notifier):
    send_resolved: bool = False
    api_url: SecretURL | None = None
    api_url_file: str | None = None
    channel: str = ""
    username: str = _tmpl("slack.default.username")
    color: str = '{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}'
    title: str = _tmpl("slack.default.title")
    title_link: str = _tmpl("slack.default.titlelink")
    pretext: str = _tmpl("slack.default.pretext")
    text: str = _tmpl("slack.default.text")
    fields: list[SlackField] = Field(default_factory=list)
    short_fields: bool = False
    footer: str = _tmpl("slack.default.footer")
    fallback: str = _tmpl("slack.default.fallback")
    callback_id: str = _tmpl("slack.default.callbackid")
    icon_emoji: str = _tmpl("slack.default.iconemoji")
    icon_url: str = _tmpl("slack.default.iconurl")
    image_url: str = ""
    thumb_url: str = ""
    link_names: bool = False
    mrkdwn_in: list[str] = Field(default_factory=list)
    actions: list[SlackAction] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> SlackConfig:
        if self.api_url is not None and self.api_url_file:
            raise ValueError("at most one of api_url & api_url_file must be configured")
        return self


# -- pagerduty ---------------------------------------------------------------------------


class PagerdutyImage(ConfigModel):
    src: str = ""
    alt: str = ""
    href: str = ""


class PagerdutyLink(ConfigModel):
    href: str = ""
    text: str = ""


class PagerdutyConfig(_Notifier):
    service_key: Secret | None = None
    service_key_file: str | None = None
    routing_key: Secret | None = None
    routing_key_file: str | None = None
    url: URL | None = None
    client: str = _tmpl("pagerduty.default.client")
    client_url: str = _tmpl("pagerduty.default.clientURL")
    description: str = '{{ template "pagerduty.default.description" .}}'
    details: dict[str, str] = Field(
        default_factory=lambda: {
            "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
            "num_firing": "{{ .Alerts.Firing | len }}",
            "num_resolved": "{{ .Alerts.Resolved | len }}",
            "resolved": '{{ template "pagerduty.default.instances" .Alerts.Resolved }}',
        }
    )
    images: list[PagerdutyImage] = Field(default_factory=list)
    links: list[PagerdutyLink] = Field(default_factory=list)
    source: str = _tmpl("pagerduty.default.client")
    severity: str = ""
    class_: str = Field("", alias="class")
    component: str = ""
    group: str = ""

    @model_validator(mode="after")
    def _check(self) -> PagerdutyConfig:
        keys = (self.routing_key, self.routing_key_file, self.service_key, self.service_key_file)
        if not any(keys):
            raise ValueError("missing service or routing key in PagerDuty config")
        if self.routing_key and self.routing_key_file:
            raise ValueError("at most one of routing_key & routing_key_file must be configured")
        if self.service_key and self.service_key_file:
            raise ValueError("at most one of service_key & service_key_file must be configured")
        return self


# -- opsgenie ----------------------------------------------------------------------------

_OPSGENIE_RESPONDER_TYPES = ("team", "teams", "user", "escalation", "schedule")


class OpsGenieResponder(ConfigModel):
    id: str = ""
    name: str = ""
    username: str = ""
    type: str = ""

    @model_validator(mode="after")
    def _check(self) -> OpsGenieResponder:
        shown = f"{{{self.id} {self.name} {self.username} {self.type}}}"
        if not (self.id or self.name or self.username):
            raise ValueError(
                f"opsGenieConfig responder {shown} has to have at least one of id, "
                "username or name specified"
            )
        if "{{" not in self.type and self.type.lower() not in _OPSGENIE_RESPONDER_TYPES:
            raise ValueError(
                f"opsGenieConfig responder {shown} type does not match valid options "
                "^(team|teams|user|escalation|schedule)$"
            )
        return self


class OpsGenieConfig(_Notifier):
    api_key: Secret | None = None
    api_key_file: str | None = None
    api_url: URL | None = None
    message: str = _tmpl("opsgenie.default.message")
    description: str = _tmpl("opsgenie.default.description")
    source: str = _tmpl("opsgenie.default.source")
    details: dict[str, str] = Field(default_factory=dict)
    entity: str = ""
    responders: list[OpsGenieResponder] = Field(default_factory=list)
    actions: str = ""
    tags: str = ""
    note: str = ""
    priority: str = ""
    update_alerts: bool = False

    @model_validator(mode="after")
    def _check(self) -> OpsGenieConfig:
        if self.api_key and self.api_key_file:
            raise ValueError("at most one of api_key & api_key_file must be configured")
        return self


# -- wechat ------------------------------------------------------------------------------


class WechatConfig(_Notifier):
    send_resolved: bool = False
    api_secret: Secret | None = None
    corp_id: str = ""
    message: str = _tmpl("wechat.default.message")
    api_url: URL | None = None
    to_user: str = _tmpl("wechat.default.to_user")
    to_party: str = _tmpl("wechat.default.to_party")
    to_tag: str = _tmpl("wechat.default.to_tag")
    agent_id: str = _tmpl("wechat.default.agent_id")
    message_type: str = "text"

    @field_validator("message_type")
    @classmethod
    def _check_type(cls, value: str) -> str:
        if value not in ("text", "markdown"):
            raise ValueError(
                f'weChat message type "{value}" does not match valid options ^(text|markdown)$'
            )
        return value


# -- pushover ----------------------------------------------------------------------------


class PushoverConfig(_Notifier):
    user_key: Secret | None = None
    user_key_file: str | None = None
    token: Secret | None = None
    token_file: str | None = None
    title: str = _tmpl("pushover.default.title")
    message: str = _tmpl("pushover.default.message")
    url: str = _tmpl("pushover.default.url")
    url_title: str = ""
    sound: str = ""
    priority: str = '{{ if eq .Status "firing" }}2{{ else }}0{{ end }}'
    retry: GoDuration = 60.0
    expire: GoDuration = 3600.0
    html: bool = False

    @model_validator(mode="after")
    def _check(self) -> PushoverConfig:
        if not self.user_key and not self.user_key_file:
            raise ValueError("missing user key in Pushover config")
        if self.user_key and self.user_key_file:
            raise ValueError("at most one of user_key & user_key_file must be configured")
        if not self.token and not self.token_file:
            raise ValueError("missing token in Pushover config")
        if self.token and self.token_file:
            raise ValueError("at most one of token & token_file must be configured")
        return self


# -- victorops ---------------------------------------------------------------------------

_VICTOROPS_RESERVED = (
    "routing_key",
    "message_type",
    "state_message",
    "entity_display_name",
    "monitoring_tool",
    "entity_id",
    "entity_state",
)


class VictorOpsConfig(_Notifier):
    api_key: Secret | None = None
    api_key_file: str | None = None
    api_url: URL | None = None
    routing_key: Secret | None = None
    message_type: str = "CRITICAL"
    state_message: str = _tmpl("victorops.default.state_message")
    entity_display_name: str = _tmpl("victorops.default.entity_display_name")
    monitoring_tool: str = _tmpl("victorops.default.monitoring_tool")
    custom_fields: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> VictorOpsConfig:
        if not self.routing_key:
            raise ValueError("missing Routing key in VictorOps config")
        for name in self.custom_fields:
            if name in _VICTOROPS_RESERVED:
                raise ValueError(
                    f"victorOps config contains custom field {name} which cannot be used as "
                    "it conflicts with the fixed/static fields"
                )
        return self


# -- sns ---------------------------------------------------------------------------------


class SigV4Config(ConfigModel):
    region: str = ""
    access_key: str = ""
    secret_key: Secret | None = None
    profile: str = ""
    role_arn: str = ""

    @model_validator(mode="after")
    def _check(self) -> SigV4Config:
        if bool(self.access_key) != bool(self.secret_key):
            raise ValueError(
                "must provide a AWS SigV4 Access key and Secret Key if credentials are specified "
                "in the SigV4 config"
            )
        return self


class SNSConfig(_Notifier):
    api_url: str = ""
    sigv4: SigV4Config = Field(default_factory=SigV4Config)
    topic_arn: str = ""
    phone_number: str = ""
    target_arn: str = ""
    subject: str = _tmpl("sns.default.subject")
    message: str = _tmpl("sns.default.message")
    attributes: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> SNSConfig:
        given = [x for x in (self.target_arn, self.topic_arn, self.phone_number) if x]
        if len(given) != 1:
            raise ValueError(
                "must provide either a Target ARN, Topic ARN, or Phone Number for SNS config"
            )
        return self


# -- telegram ----------------------------------------------------------------------------


class TelegramConfig(_Notifier):
    api_url: URL | None = None
    bot_token: Secret | None = None
    bot_token_file: str | None = None
    chat_id: int = 0
    message: str = _tmpl("telegram.default.message")
    disable_notifications: bool = False
    parse_mode: str = "HTML"

    @model_validator(mode="after")
    def _check(self) -> TelegramConfig:
        if not self.bot_token and not self.bot_token_file:
            raise ValueError("missing bot_token on telegram_config")
        if self.bot_token and self.bot_token_file:
            raise ValueError("at most one of bot_token & bot_token_file must be configured")
        if self.chat_id == 0:
            raise ValueError("missing chat_id on telegram_config")
        if self.parse_mode not in ("", "Markdown", "MarkdownV2", "HTML"):
            raise ValueError(
                "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, HTML "
                "or empty string"
            )
        return self


# -- discord, webex, msteams -------------------------------------------------------------


class DiscordConfig(_Notifier):
    webhook_url: SecretURL | None = None
    webhook_url_file: str | None = None
    title: str = _tmpl("discord.default.title")
    message: str = _tmpl("discord.default.message")

    @model_validator(mode="after")
    def _check(self) -> DiscordConfig:
        if self.webhook_url is None and not self.webhook_url_file:
            raise ValueError("no discord webhook URL provided")
        if self.webhook_url is not None and self.webhook_url_file:
            raise ValueError("at most one of webhook_url & webhook_url_file must be configured")
        return self


class WebexConfig(_Notifier):
    api_url: URL | None = None
    message: str = _tmpl("webex.default.message")
    room_id: str = ""

    @model_validator(mode="after")
    def _check(self) -> WebexConfig:
        if self.room_id == "":
            raise ValueError("missing room_id on webex_config")
        if self.http_config is None or self.http_config.authorization is None:
            raise ValueError("missing webex_configs.http_config.authorization")
        return self


class MSTeamsConfig(_Notifier):
    webhook_url: SecretURL | None = None
    webhook_url_file: str | None = None
    title: str = _tmpl("msteams.default.title")
    summary: str = _tmpl("msteams.default.summary")
    text: str = _tmpl("msteams.default.text")

    @model_validator(mode="after")
    def _check(self) -> MSTeamsConfig:
        if self.webhook_url is None and not self.webhook_url_file:
            raise ValueError("one of webhook_url or webhook_url_file must be configured")
        if self.webhook_url is not None and self.webhook_url_file:
            raise ValueError("at most one of webhook_url & webhook_url_file must be configured")
        return self


# -- receiver ----------------------------------------------------------------------------

INTEGRATION_FIELDS = (
    "discord_configs",
    "email_configs",
    "pagerduty_configs",
    "slack_configs",
    "webhook_configs",
    "opsgenie_configs",
    "wechat_configs",
    "pushover_configs",
    "victorops_configs",
    "sns_configs",
    "telegram_configs",
    "webex_configs",
    "msteams_configs",
)
"""Integration lists of a receiver, in upstream's rendering order."""


class Receiver(ConfigModel):
    """A named set of integrations; ``allowed_destinations`` is promethean's M2 guard."""

    name: str = ""
    discord_configs: list[DiscordConfig] = Field(default_factory=list)
    email_configs: list[EmailConfig] = Field(default_factory=list)
    pagerduty_configs: list[PagerdutyConfig] = Field(default_factory=list)
    slack_configs: list[SlackConfig] = Field(default_factory=list)
    webhook_configs: list[WebhookConfig] = Field(default_factory=list)
    opsgenie_configs: list[OpsGenieConfig] = Field(default_factory=list)
    wechat_configs: list[WechatConfig] = Field(default_factory=list)
    pushover_configs: list[PushoverConfig] = Field(default_factory=list)
    victorops_configs: list[VictorOpsConfig] = Field(default_factory=list)
    sns_configs: list[SNSConfig] = Field(default_factory=list)
    telegram_configs: list[TelegramConfig] = Field(default_factory=list)
    webex_configs: list[WebexConfig] = Field(default_factory=list)
    msteams_configs: list[MSTeamsConfig] = Field(default_factory=list)
    allowed_destinations: list[str] = Field(default_factory=list)

    @field_validator("allowed_destinations")
    @classmethod
    def _check_patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            err = anchored_regexp_error(pattern)
            if err is not None:
                raise ValueError(f"invalid allowed_destinations pattern: {err}")
        return value

    @model_validator(mode="after")
    def _check_name(self) -> Receiver:
        if self.name == "":
            raise ValueError("missing name in receiver")
        return self

    def integrations(self) -> list[tuple[str, int, Any]]:
        """``(kind, index, config)`` for every integration, ``kind`` as ``webhook``/``email``..."""
        out: list[tuple[str, int, Any]] = []
        for field in INTEGRATION_FIELDS:
            for i, cfg in enumerate(getattr(self, field)):
                out.append((field.removesuffix("_configs"), i, cfg))
        return out

    def destination_allowed(self, destination: str) -> bool:
        """M2: whether a rendered destination may be used (always, without a list)."""
        if not self.allowed_destinations:
            return True
        return any(compile_regex(p).matches(destination) for p in self.allowed_destinations)
