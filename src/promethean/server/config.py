"""The whole ``prometheus.yml``: load it with file:line errors, render it with secrets masked.

Sections and who owns their meaning:

* ``global`` and ``scrape_configs`` (and ``scrape_config_files``): the scrape
  package's models; this module only places them in the document and loads
  the extra scrape config files.
* ``rule_files``: kept and validated as paths/globs (rules evaluation comes
  later).
* ``alerting``, ``remote_write``, ``remote_read``, ``storage``, ``runtime``:
  defined here. Senders for alerting and remote write come later, so these are
  validated and rendered only; a config that upstream accepts is accepted.

Rendering (``/api/v1/status/config``) fills in defaults as upstream does and
shows every :class:`~promethean.config.Secret` as ``<secret>`` and every URL
password as ``xxxxx`` (SECURITY-MODEL K1). Beyond upstream, nothing a user
writes into a URL's userinfo reaches a log line or an error message.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    ValidationInfo,
    field_validator,
    model_validator,
)

from promethean.config import ConfigModel, Secret, load_config, parse_config, register_secret
from promethean.config.fields import Duration
from promethean.config.httpclient import HTTPClientConfig, mask_url_password
from promethean.model.relabel import RelabelConfig
from promethean.scrape.config import ScrapeSection

__all__ = [
    "AlertingConfig",
    "AlertmanagerConfig",
    "PrometheusConfig",
    "QueueConfig",
    "RemoteReadConfig",
    "RemoteWriteConfig",
    "SigV4Config",
    "StorageConfig",
    "default_config",
    "load_prometheus_config",
    "parse_prometheus_config",
    "render_prometheus_config",
]


# --------------------------------------------------------------------------- field types


def _check_url(value: Any) -> Any:
    if not isinstance(value, str):
        raise ValueError("must be a URL string")
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError:
        raise ValueError("invalid URL") from None  # the text may hold a password
    if parts.password:
        register_secret(parts.password)
        register_secret(urllib.parse.unquote(parts.password))
    if parts.scheme not in ("http", "https"):
        raise ValueError("URL scheme must be 'http' or 'https'")
    if not parts.hostname:
        raise ValueError("URL must have a host")
    return value


RemoteURL = Annotated[
    str,
    BeforeValidator(_check_url),
    PlainSerializer(mask_url_password, when_used="always"),
]
"""A remote endpoint URL; its password (if any) renders as ``xxxxx`` and never reaches a log."""


# --------------------------------------------------------------------------- alerting


class StaticTargets(ConfigModel):
    """A ``static_configs`` entry of an Alertmanager set."""

    targets: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("targets")
    @classmethod
    def _no_userinfo(cls, value: list[str]) -> list[str]:
        for target in value:
            if "@" in target:
                raise ValueError(
                    "target address must not contain credentials ('user:pass@'); "
                    "use basic_auth instead"
                )
        return value


class AlertmanagerConfig(HTTPClientConfig):
    """One ``alerting.alertmanagers`` entry (HTTP client fields inlined, as upstream)."""

    scheme: str = "http"
    path_prefix: str = "/"
    timeout: Duration = 10.0
    api_version: str = "v2"
    static_configs: list[StaticTargets] = Field(default_factory=list)
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    alert_relabel_configs: list[RelabelConfig] = Field(default_factory=list)

    @field_validator("scheme")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if value not in ("http", "https"):
            raise ValueError(f"unsupported scheme {value!r}: must be http or https")
        return value

    @field_validator("api_version")
    @classmethod
    def _api_version(cls, value: str) -> str:
        if value == "v1":
            raise ValueError(
                "alertmanager api_version v1 is no longer supported (Alertmanager 0.27 removed it)"
            )
        if value != "v2":
            raise ValueError(
                f'expected Alertmanager api version to be one of [v2] but got "{value}"'
            )
        return value


class AlertingConfig(ConfigModel):
    alert_relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    alertmanagers: list[AlertmanagerConfig] = Field(default_factory=list)


# --------------------------------------------------------------------------- remote storage


class QueueConfig(ConfigModel):
    """``remote_write.queue_config`` with upstream's defaults."""

    capacity: int = 2_500
    max_shards: int = 200
    min_shards: int = 1
    max_samples_per_send: int = 500
    batch_send_deadline: Duration = 5.0
    min_backoff: Duration = 0.03
    max_backoff: Duration = 5.0
    retry_on_http_429: bool = False
    sample_age_limit: Duration = 0.0


class MetadataConfig(ConfigModel):
    send: bool = True
    send_interval: Duration = 60.0
    max_samples_per_send: int = 500


class SigV4Config(ConfigModel):
    region: str = ""
    access_key: str = ""
    secret_key: Secret | None = None
    profile: str = ""
    role_arn: str = ""


def _no_reserved_headers(value: dict[str, str]) -> dict[str, str]:
    reserved = {
        "authorization",
        "host",
        "content-encoding",
        "content-length",
        "content-type",
        "user-agent",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "www-authenticate",
        "retry-after",
        "x-prometheus-remote-write-version",
        "x-prometheus-remote-read-version",
    }
    for name in value:
        if name.lower() in reserved:
            raise ValueError(f"{name} is a reserved header. It must not be changed")
    return value


class RemoteWriteConfig(HTTPClientConfig):
    """One ``remote_write`` entry; validated and rendered (sending is a later issue)."""

    url: RemoteURL
    remote_timeout: Duration = 30.0
    headers: dict[str, str] = Field(default_factory=dict)
    write_relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    name: str = ""
    send_exemplars: bool = False
    send_native_histograms: bool = False
    queue_config: QueueConfig = Field(default_factory=QueueConfig)
    metadata_config: MetadataConfig = Field(default_factory=MetadataConfig)
    sigv4: SigV4Config | None = None

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return _no_reserved_headers(value)

    @model_validator(mode="after")
    def _one_auth(self) -> RemoteWriteConfig:
        if self.sigv4 is not None and (
            self.basic_auth or self.authorization or self.oauth2 or self.basic_auth
        ):
            raise ValueError(
                "at most one of basic_auth, authorization, oauth2, & sigv4 must be configured"
            )
        return self


class RemoteReadConfig(HTTPClientConfig):
    """One ``remote_read`` entry; validated and rendered (reading is a later issue)."""

    url: RemoteURL
    remote_timeout: Duration = 60.0
    headers: dict[str, str] = Field(default_factory=dict)
    read_recent: bool = False
    name: str = ""
    required_matchers: dict[str, str] = Field(default_factory=dict)
    filter_external_labels: bool = True

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return _no_reserved_headers(value)


# --------------------------------------------------------------------------- storage, runtime


class TSDBConfig(ConfigModel):
    out_of_order_time_window: Duration = 0.0

    @field_validator("out_of_order_time_window")
    @classmethod
    def _non_negative(cls, value: float) -> float:
        if value < 0:
            raise ValueError("out_of_order_time_window must not be negative")
        return value


class ExemplarsConfig(ConfigModel):
    max_exemplars: int = 100_000


class StorageConfig(ConfigModel):
    tsdb: TSDBConfig | None = None
    exemplars: ExemplarsConfig | None = None


class RuntimeConfig(ConfigModel):
    gogc: int = 75


# --------------------------------------------------------------------------- the document


def _check_glob(pattern: str, what: str) -> str:
    # Go's filepath.Match only fails on malformed character classes.
    depth = 0
    for ch in pattern:
        if ch == "[":
            depth += 1
        elif ch == "]" and depth:
            depth -= 1
    if depth:
        raise ValueError(f"invalid {what} path {pattern!r}")
    return pattern


def _resolve_path(value: str, info: ValidationInfo) -> str:
    base = (info.context or {}).get("base_dir")
    if base is None or Path(value).is_absolute():
        return value
    return str(Path(base) / value)


class PrometheusConfig(ScrapeSection):
    """The whole ``prometheus.yml``; ``global_`` and the scrape configs come from the scrape layer.

    Use :meth:`all_scrape_configs` for the jobs (inline ones and those of
    ``scrape_config_files``).
    """

    runtime: RuntimeConfig | None = None
    alerting: AlertingConfig = Field(default_factory=AlertingConfig)
    rule_files: list[str] = Field(default_factory=list)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    remote_write: list[RemoteWriteConfig] = Field(default_factory=list)
    remote_read: list[RemoteReadConfig] = Field(default_factory=list)

    @field_validator("rule_files", "remote_write", "remote_read", mode="before")
    @classmethod
    def _null_lists(cls, value: Any) -> Any:
        # `rule_files:` with no value is an empty list upstream, not an error.
        return [] if value is None else value

    @field_validator("alerting", "storage", mode="before")
    @classmethod
    def _null_sections(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("rule_files")
    @classmethod
    def _rule_globs(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return [_resolve_path(_check_glob(v, "rule file"), info) for v in value]

    @model_validator(mode="after")
    def _unique_names(self) -> PrometheusConfig:
        for section, items in (
            ("remote write", self.remote_write),
            ("remote read", self.remote_read),
        ):
            names: set[str] = set()
            for item in items:
                if item.name and item.name in names:
                    raise ValueError(
                        f'found multiple {section} configs with job name "{item.name}"'
                    )
                names.add(item.name)
        return self


def load_prometheus_config(path: str | Path) -> PrometheusConfig:
    """Read ``prometheus.yml`` (and its ``scrape_config_files``); raises ConfigError.

    The message names the file, line and column and the field; it never
    contains a secret value.
    """
    return load_config(PrometheusConfig, Path(path))


def parse_prometheus_config(text: str, file: str = "<input>") -> PrometheusConfig:
    """Validate config text (tests, the built-in default); raises ConfigError."""
    return parse_config(PrometheusConfig, text, file, context={"base_dir": Path(file).parent})


_SECTION_ORDER = (
    "global",
    "runtime",
    "alerting",
    "rule_files",
    "scrape_config_files",
    "scrape_configs",
    "storage",
    "remote_write",
    "remote_read",
)


def render_prometheus_config(cfg: PrometheusConfig) -> str:
    """The YAML ``/api/v1/status/config`` shows: defaults filled, secrets masked."""
    data = _omit_empty(cfg.model_dump(mode="json", exclude_none=True, by_alias=True))
    data = {k: data[k] for k in _SECTION_ORDER if k in data} | data
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def _omit_empty(value: Any) -> Any:
    """Drop empty strings, lists and mappings, as Go's ``omitempty`` does."""
    if isinstance(value, dict):
        out = {k: _omit_empty(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in ("", [], {})}
    if isinstance(value, list):
        return [_omit_empty(v) for v in value]
    return value


def default_config(listen_address: str = "localhost:9090") -> PrometheusConfig:
    """The built-in config used when no ``--config.file`` exists: scrape yourself every 15s."""
    return PrometheusConfig.model_validate(
        {
            "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
            "scrape_configs": [
                {"job_name": "prometheus", "static_configs": [{"targets": [listen_address]}]}
            ],
        }
    )
