"""alertmanager.yml: the whole schema, upstream's validation, defaults, and rendering.

Operators keep their existing files, so every field, default and validation
message follows Alertmanager (0.25, plus later additions such as
``msteams_configs`` and the ``*_file`` secrets). Errors name file, line and
field (``am.yml:12:15: route.routes[0].receiver: undefined receiver "nope" used
in route``): pydantic checks each block, then :func:`parse_alertmanager_config`
checks what needs the whole file (receivers and time intervals referenced by
routes, globals that integrations inherit) and points at the offending value.

Loading fills in what upstream fills in (global SMTP settings, API URLs and
keys, ``http_config``, the email headers), so consumers read one complete
config and :meth:`AlertmanagerConfig.render` shows what upstream's
``/api/v2/status`` shows, with ``<secret>`` for every secret, including the
ones upstream prints in clear (webhook URLs, ``smtp_auth_identity``,
VictorOps routing keys). The file's text itself is never served: it may
hold secrets.

Public surface: :class:`AlertmanagerConfig` (``.global_``, ``.route``,
``.inhibit_rules``, ``.receivers``, ``.templates``, ``.time_intervals``),
:func:`load_alertmanager_config`, :func:`parse_alertmanager_config`,
:class:`RouteConfig`, :class:`InhibitRuleConfig`, :class:`GlobalConfig`,
and the receiver models re-exported from ``receiverconfig``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path as FsPath
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from promethean.alertmanager.configtypes import (
    URL,
    Duration,
    HostPort,
    LabelName,
    Matchers,
    Regexp,
    SecretURL,
    is_label_name,
)
from promethean.alertmanager.matchers import new_matcher, sort_matchers
from promethean.alertmanager.receiverconfig import (
    INTEGRATION_FIELDS,
    DiscordConfig,
    EmailConfig,
    MSTeamsConfig,
    OpsGenieConfig,
    PagerdutyConfig,
    PushoverConfig,
    Receiver,
    SlackConfig,
    SNSConfig,
    TelegramConfig,
    VictorOpsConfig,
    WebexConfig,
    WebhookConfig,
    WechatConfig,
)
from promethean.alertmanager.timeinterval import Intervener, NamedTimeInterval, TimeInterval
from promethean.config import ConfigError, ConfigModel, Secret
from promethean.config.httpclient import HTTPClientConfig, TLSConfig
from promethean.config.loader import format_validation_error
from promethean.config.yamlpos import Positions, YAMLError, load_yaml
from promethean.model.matchers import Matcher, MatchType

__all__ = [
    "AlertmanagerConfig",
    "DiscordConfig",
    "EmailConfig",
    "GlobalConfig",
    "InhibitRuleConfig",
    "MSTeamsConfig",
    "OpsGenieConfig",
    "PagerdutyConfig",
    "PushoverConfig",
    "Receiver",
    "RouteConfig",
    "SNSConfig",
    "SlackConfig",
    "TelegramConfig",
    "VictorOpsConfig",
    "WebexConfig",
    "WebhookConfig",
    "WechatConfig",
    "load_alertmanager_config",
    "parse_alertmanager_config",
]


def _resolve_path(value: str | None, base: Any) -> str | None:
    if not value or base is None or os.path.isabs(value):
        return value
    return str(FsPath(base) / value)


# -- global ------------------------------------------------------------------------------


class GlobalConfig(ConfigModel):
    """``global:``; defaults as upstream's ``DefaultGlobalConfig``."""

    resolve_timeout: Duration = 300.0
    http_config: HTTPClientConfig = Field(default_factory=HTTPClientConfig)
    smtp_from: str = ""
    smtp_hello: str = "localhost"
    smtp_smarthost: HostPort = ""
    smtp_auth_username: str = ""
    smtp_auth_password: Secret | None = None
    smtp_auth_password_file: str | None = None
    smtp_auth_secret: Secret | None = None
    smtp_auth_secret_file: str | None = None
    smtp_auth_identity: Secret | None = None
    smtp_require_tls: bool = True
    smtp_tls_config: TLSConfig | None = None
    slack_api_url: SecretURL | None = None
    slack_api_url_file: str | None = None
    pagerduty_url: URL = "https://events.pagerduty.com/v2/enqueue"
    opsgenie_api_url: URL = "https://api.opsgenie.com/"
    opsgenie_api_key: Secret | None = None
    opsgenie_api_key_file: str | None = None
    wechat_api_url: URL = "https://qyapi.weixin.qq.com/cgi-bin/"
    wechat_api_secret: Secret | None = None
    wechat_api_corp_id: str = ""
    victorops_api_url: URL = "https://alert.victorops.com/integrations/generic/20131114/alert/"
    victorops_api_key: Secret | None = None
    victorops_api_key_file: str | None = None
    telegram_api_url: URL = "https://api.telegram.org"
    webex_api_url: URL = "https://webexapis.com/v1/messages"

    @model_validator(mode="after")
    def _check(self) -> GlobalConfig:
        pairs = (
            ("slack_api_url", "slack_api_url_file"),
            ("opsgenie_api_key", "opsgenie_api_key_file"),
            ("victorops_api_key", "victorops_api_key_file"),
            ("smtp_auth_password", "smtp_auth_password_file"),
            ("smtp_auth_secret", "smtp_auth_secret_file"),
        )
        for inline, file in pairs:
            if getattr(self, inline) and getattr(self, file):
                raise ValueError(f"at most one of {inline} & {file} must be configured")
        return self


# -- route -------------------------------------------------------------------------------


class RouteConfig(ConfigModel):
    """One node of ``route:`` as written; :mod:`promethean.alertmanager.route` builds the tree."""

    receiver: str = ""
    group_by: list[str] | None = None
    match: dict[LabelName, str] | None = None
    match_re: dict[LabelName, Regexp] | None = None
    matchers: Matchers = Field(default_factory=Matchers)
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    continue_: bool = Field(False, alias="continue")
    routes: list[RouteConfig] = Field(default_factory=list)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None

    @field_validator("group_by")
    @classmethod
    def _check_group_by(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        names = [v for v in value if v != "..."]
        for name in names:
            if not is_label_name(name):
                raise ValueError(f'invalid label name "{name}" in group_by list')
        if names and len(names) != len(value):
            raise ValueError(
                "cannot have wildcard group_by (`...`) and other other labels at the same time"
            )
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f'duplicated label "{name}" in group_by')
            seen.add(name)
        return value

    @model_validator(mode="after")
    def _check_intervals(self) -> RouteConfig:
        if self.group_interval is not None and self.group_interval == 0:
            raise ValueError("group_interval cannot be zero")
        if self.repeat_interval is not None and self.repeat_interval == 0:
            raise ValueError("repeat_interval cannot be zero")
        return self

    @property
    def group_by_all(self) -> bool:
        """``group_by: ['...']``: every label is a grouping label."""
        return self.group_by is not None and "..." in self.group_by

    @property
    def group_by_names(self) -> list[str] | None:
        """Grouping labels, or ``None`` when not set (or set to ``[]``): inherit the parent's."""
        if self.group_by is None:
            return None
        names = [v for v in self.group_by if v != "..."]
        return names or None

    def all_matchers(self) -> list[Matcher]:
        """``match``, ``match_re`` (anchored, as upstream shows them) and ``matchers``, sorted."""
        out = [new_matcher(MatchType.EQUAL, k, v) for k, v in (self.match or {}).items()]
        out += [
            new_matcher(MatchType.REGEX, k, f"^(?:{v})$") for k, v in (self.match_re or {}).items()
        ]
        out += list(self.matchers)
        return sort_matchers(out)


# -- inhibit rules -----------------------------------------------------------------------


class InhibitRuleConfig(ConfigModel):
    """An ``inhibit_rules`` entry, new-style matchers and the deprecated maps alike."""

    source_match: dict[LabelName, str] | None = None
    source_match_re: dict[LabelName, Regexp] | None = None
    source_matchers: Matchers = Field(default_factory=Matchers)
    target_match: dict[LabelName, str] | None = None
    target_match_re: dict[LabelName, Regexp] | None = None
    target_matchers: Matchers = Field(default_factory=Matchers)
    equal: list[str] = Field(default_factory=list)

    @field_validator("equal")
    @classmethod
    def _check_equal(cls, value: list[str]) -> list[str]:
        for name in value:
            if not is_label_name(name):
                raise ValueError(f'"{name}" is not a valid label name')
        return value

    def source(self) -> list[Matcher]:
        return _combined(self.source_match, self.source_match_re, self.source_matchers)

    def target(self) -> list[Matcher]:
        return _combined(self.target_match, self.target_match_re, self.target_matchers)


def _combined(
    match: dict[str, str] | None, match_re: dict[str, str] | None, matchers: Matchers
) -> list[Matcher]:
    out = [new_matcher(MatchType.EQUAL, k, v) for k, v in (match or {}).items()]
    out += [new_matcher(MatchType.REGEX, k, f"^(?:{v})$") for k, v in (match_re or {}).items()]
    return out + list(matchers)


# -- the file ----------------------------------------------------------------------------


class _MuteTimeInterval(NamedTimeInterval):
    @model_validator(mode="before")
    @classmethod
    def _check_mute_name(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("name"):
            raise ValueError("missing name in mute time interval")
        return data


class AlertmanagerConfig(ConfigModel):
    """A loaded alertmanager.yml with upstream's defaults and inherited globals filled in."""

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    route: RouteConfig | None = None
    inhibit_rules: list[InhibitRuleConfig] = Field(default_factory=list)
    receivers: list[Receiver] = Field(default_factory=list)
    templates: list[str] = Field(default_factory=list)
    mute_time_intervals: list[_MuteTimeInterval] = Field(default_factory=list)
    time_intervals: list[NamedTimeInterval] = Field(default_factory=list)

    @field_validator("global_", mode="before")
    @classmethod
    def _empty_global(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("templates")
    @classmethod
    def _resolve_templates(cls, value: list[str], info: Any) -> list[str]:
        base = (info.context or {}).get("base_dir")
        return [_resolve_path(v, base) or v for v in value]

    # -- lookups used by the dispatcher, the API and the checker ---------------------------

    def receiver(self, name: str) -> Receiver | None:
        for r in self.receivers:
            if r.name == name:
                return r
        return None

    def named_time_intervals(self) -> dict[str, list[TimeInterval]]:
        """Both lists, merged by name (names are unique across them)."""
        out: dict[str, list[TimeInterval]] = {}
        for ti in [*self.mute_time_intervals, *self.time_intervals]:
            out[ti.name] = list(ti.time_intervals or ())
        return out

    def intervener(self) -> Intervener:
        return Intervener(self.named_time_intervals())

    def render(self) -> str:
        """YAML as upstream's status API shows it: defaults filled, every secret ``<secret>``."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True)
        data = _prune(data, keep=("templates",))
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _prune(value: Any, keep: tuple[str, ...] = ()) -> Any:
    """Drop what Go's ``omitempty`` drops: empty strings, lists and maps (except ``keep``)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            v = _prune(v)
            if k not in keep and (v == "" or v == [] or v == {}):
                continue
            out[k] = v
        if "insecure_skip_verify" in out and out["insecure_skip_verify"] is False:
            del out["insecure_skip_verify"]
        if out.get("proxy_from_environment") is False:
            del out["proxy_from_environment"]
        return out
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


# -- whole-file checks and inheritance ---------------------------------------------------

_Path = tuple[int | str, ...]


class _Failure(Exception):
    def __init__(self, path: _Path, message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _walk_routes(route: RouteConfig, path: _Path) -> Iterator[tuple[RouteConfig, _Path]]:
    yield route, path
    for i, child in enumerate(route.routes):
        yield from _walk_routes(child, (*path, "routes", i))


def _dotted(path: _Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else ("." if out else "") + part
    return out


def _fill_receiver(rcv: Receiver, g: GlobalConfig, path: _Path) -> Receiver:
    """Upstream's inheritance of global settings into each integration, with its errors."""
    updates: dict[str, Any] = {}

    def fill(field: str, fn: Any) -> None:
        items = getattr(rcv, field)
        updates[field] = [fn(cfg, (*path, field, i)) for i, cfg in enumerate(items)]

    def http(cfg: Any) -> dict[str, Any]:
        return {"http_config": g.http_config} if cfg.http_config is None else {}

    def email(cfg: EmailConfig, at: _Path) -> EmailConfig:
        u: dict[str, Any] = {}
        if cfg.tls_config is None and g.smtp_tls_config is not None:
            u["tls_config"] = g.smtp_tls_config
        if cfg.smarthost == "":
            if g.smtp_smarthost == "":
                raise _Failure(at, "no global SMTP smarthost set")
            u["smarthost"] = g.smtp_smarthost
        if cfg.from_ == "":
            if g.smtp_from == "":
                raise _Failure(at, "no global SMTP from set")
            u["from_"] = g.smtp_from
        if cfg.hello == "":
            u["hello"] = g.smtp_hello
        if cfg.auth_username == "":
            u["auth_username"] = g.smtp_auth_username
        if cfg.auth_password is None and not cfg.auth_password_file:
            u["auth_password"] = g.smtp_auth_password
            u["auth_password_file"] = g.smtp_auth_password_file
        if cfg.auth_secret is None and not cfg.auth_secret_file:
            u["auth_secret"] = g.smtp_auth_secret
            u["auth_secret_file"] = g.smtp_auth_secret_file
        if cfg.auth_identity is None:
            u["auth_identity"] = g.smtp_auth_identity
        if cfg.require_tls is None:
            u["require_tls"] = g.smtp_require_tls
        headers = dict(cfg.headers)
        headers.setdefault("From", u.get("from_", cfg.from_))
        headers.setdefault("Subject", '{{ template "email.default.subject" . }}')
        headers.setdefault("To", cfg.to)
        u["headers"] = dict(sorted(headers.items()))
        return cfg.model_copy(update=u)

    def slack(cfg: SlackConfig, at: _Path) -> SlackConfig:
        u = http(cfg)
        if cfg.api_url is None and not cfg.api_url_file:
            if g.slack_api_url is None and not g.slack_api_url_file:
                raise _Failure(at, "no global Slack API URL set either inline or in a file")
            u["api_url"] = g.slack_api_url
            u["api_url_file"] = g.slack_api_url_file
        return cfg.model_copy(update=u)

    def pagerduty(cfg: PagerdutyConfig, at: _Path) -> PagerdutyConfig:
        u = http(cfg)
        if cfg.url is None:
            u["url"] = g.pagerduty_url
        return cfg.model_copy(update=u)

    def opsgenie(cfg: OpsGenieConfig, at: _Path) -> OpsGenieConfig:
        u = http(cfg)
        api_url = cfg.api_url or g.opsgenie_api_url
        u["api_url"] = api_url if api_url.endswith("/") else api_url + "/"
        if cfg.api_key is None and not cfg.api_key_file:
            if g.opsgenie_api_key is None and not g.opsgenie_api_key_file:
                raise _Failure(at, "no global OpsGenie API Key set either inline or in a file")
            u["api_key"] = g.opsgenie_api_key
            u["api_key_file"] = g.opsgenie_api_key_file
        return cfg.model_copy(update=u)

    def wechat(cfg: WechatConfig, at: _Path) -> WechatConfig:
        u = http(cfg)
        api_url = cfg.api_url or g.wechat_api_url
        if cfg.api_secret is None:
            if g.wechat_api_secret is None:
                raise _Failure(at, "no global Wechat ApiSecret set")
            u["api_secret"] = g.wechat_api_secret
        if cfg.corp_id == "":
            if g.wechat_api_corp_id == "":
                raise _Failure(at, "no global Wechat CorpID set")
            u["corp_id"] = g.wechat_api_corp_id
        u["api_url"] = api_url if api_url.endswith("/") else api_url + "/"
        return cfg.model_copy(update=u)

    def victorops(cfg: VictorOpsConfig, at: _Path) -> VictorOpsConfig:
        u = http(cfg)
        api_url = cfg.api_url or g.victorops_api_url
        u["api_url"] = api_url if api_url.endswith("/") else api_url + "/"
        if cfg.api_key is None and not cfg.api_key_file:
            if g.victorops_api_key is None and not g.victorops_api_key_file:
                raise _Failure(at, "no global VictorOps API Key set")
            u["api_key"] = g.victorops_api_key
            u["api_key_file"] = g.victorops_api_key_file
        return cfg.model_copy(update=u)

    def telegram(cfg: TelegramConfig, at: _Path) -> TelegramConfig:
        u = http(cfg)
        if cfg.api_url is None:
            u["api_url"] = g.telegram_api_url
        return cfg.model_copy(update=u)

    def webex(cfg: WebexConfig, at: _Path) -> WebexConfig:
        u = http(cfg)
        if cfg.api_url is None:
            u["api_url"] = g.webex_api_url
        return cfg.model_copy(update=u)

    def plain(cfg: Any, at: _Path) -> Any:
        return cfg.model_copy(update=http(cfg))

    fill("discord_configs", plain)
    fill("email_configs", email)
    fill("pagerduty_configs", pagerduty)
    fill("slack_configs", slack)
    fill("webhook_configs", plain)
    fill("opsgenie_configs", opsgenie)
    fill("wechat_configs", wechat)
    fill("pushover_configs", plain)
    fill("victorops_configs", victorops)
    fill("sns_configs", plain)
    fill("telegram_configs", telegram)
    fill("webex_configs", webex)
    fill("msteams_configs", plain)
    assert set(updates) == set(INTEGRATION_FIELDS)
    return rcv.model_copy(update=updates)


def _resolve_files(rcv: Receiver, base: Any) -> Receiver:
    """Relative ``*_file`` paths of integrations are relative to the config file."""
    if base is None:
        return rcv
    updates: dict[str, Any] = {}
    for field in INTEGRATION_FIELDS:
        items = []
        for cfg in getattr(rcv, field):
            u = {
                name: _resolve_path(getattr(cfg, name), base)
                for name in type(cfg).model_fields
                if name.endswith("_file") and getattr(cfg, name)
            }
            items.append(cfg.model_copy(update=u) if u else cfg)
        updates[field] = items
    return rcv.model_copy(update=updates)


def _check_and_fill(cfg: AlertmanagerConfig, base: Any) -> AlertmanagerConfig:
    if cfg.route is None:
        raise _Failure((), "no routes provided")
    root = cfg.route
    if root.continue_:
        raise _Failure(("route", "continue"), "cannot have continue in root route")
    g = cfg.global_
    names: set[str] = set()
    receivers = []
    for i, rcv in enumerate(cfg.receivers):
        at: _Path = ("receivers", i)
        if rcv.name in names:
            raise _Failure((*at, "name"), f'notification config name "{rcv.name}" is not unique')
        receivers.append(_fill_receiver(_resolve_files(rcv, base), g, at))
        names.add(rcv.name)
    if root.receiver == "":
        raise _Failure(("route",), "root route must specify a default receiver")
    if root.match or root.match_re or root.matchers:
        raise _Failure(("route",), "root route must not have any matchers")
    if root.mute_time_intervals:
        raise _Failure(
            ("route", "mute_time_intervals"), "root route must not have any mute time intervals"
        )
    if root.active_time_intervals:
        raise _Failure(
            ("route", "active_time_intervals"),
            "root route must not have any active time intervals",
        )
    nodes = list(_walk_routes(root, ("route",)))
    # Upstream checks children before their parent; report the deepest first likewise.
    for node, path in sorted(nodes, key=lambda np: -len(np[1])):
        if node.receiver and node.receiver not in names:
            raise _Failure(
                (*path, "receiver"), f'undefined receiver "{node.receiver}" used in route'
            )
    intervals: set[str] = set()
    for i, mt in enumerate(cfg.mute_time_intervals):
        if mt.name in intervals:
            raise _Failure(
                ("mute_time_intervals", i, "name"), f'mute time interval "{mt.name}" is not unique'
            )
        intervals.add(mt.name)
    for i, ti in enumerate(cfg.time_intervals):
        if ti.name in intervals:
            raise _Failure(
                ("time_intervals", i, "name"), f'time interval "{ti.name}" is not unique'
            )
        intervals.add(ti.name)
    for node, path in sorted(nodes, key=lambda np: -len(np[1])):
        for field in ("active_time_intervals", "mute_time_intervals"):
            for j, name in enumerate(getattr(node, field)):
                if name not in intervals:
                    raise _Failure(
                        (*path, field, j), f'undefined time interval "{name}" used in route'
                    )
    return cfg.model_copy(update={"receivers": receivers})


# Integrations the config accepts (amtool does) but promethean cannot deliver to.
UNSUPPORTED_INTEGRATIONS = {"sns_configs": "SNS", "wechat_configs": "WeChat"}


def parse_alertmanager_config(
    text: str,
    file: str = "<input>",
    base_dir: str | FsPath | None = None,
    *,
    deliverable: bool = False,
) -> AlertmanagerConfig:
    """Validate alertmanager.yml text; raises :class:`ConfigError` (``file:line:col: ...``).

    ``deliverable`` (the running Alertmanager) also refuses integrations
    promethean cannot deliver to (:data:`UNSUPPORTED_INTEGRATIONS`), naming the
    receiver, instead of accepting a config whose notifications would fail at
    every flush. ``check alertmanager-config`` leaves it off: its verdict is amtool's.
    """
    try:
        data, positions = load_yaml(text, file)
    except YAMLError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        raise ConfigError(f"{file}: no route provided in config")
    if not isinstance(data, dict):
        raise ConfigError(f"{file}:1:1: top level must be a mapping, not {type(data).__name__}")
    context = {"base_dir": base_dir}
    try:
        cfg = AlertmanagerConfig.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, positions)) from None
    try:
        cfg = _check_and_fill(cfg, base_dir)
        if deliverable:
            _refuse_unsupported(cfg)
    except _Failure as failure:
        raise ConfigError(_located(positions, failure)) from None
    return cfg


def _refuse_unsupported(cfg: AlertmanagerConfig) -> None:
    for i, receiver in enumerate(cfg.receivers):
        for field, name in UNSUPPORTED_INTEGRATIONS.items():
            if getattr(receiver, field, None):
                raise _Failure(
                    ("receivers", i, field),
                    f'receiver "{receiver.name}": {name} notifications are not supported by '
                    "promethean; remove this integration or route its alerts to another receiver",
                )


def _located(positions: Positions, failure: _Failure) -> str:
    where = positions.locate(failure.path)
    field = _dotted(failure.path)
    return f"{where}: {field + ': ' if field else ''}{failure.message}"


def load_alertmanager_config(
    path: str | FsPath, *, deliverable: bool = False
) -> AlertmanagerConfig:
    """Read and validate a config file; relative paths in it are relative to its directory."""
    path = FsPath(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not valid UTF-8") from None
    return parse_alertmanager_config(text, str(path), path.parent, deliverable=deliverable)
