"""The scrape half of prometheus.yml: ``global``, ``scrape_configs``, ``scrape_config_files``.

Field names, defaults and validation messages are upstream's (Prometheus 3.x,
checked against 2.42's ``promtool check config`` where both have the field),
so an existing prometheus.yml loads unchanged and a broken one fails with the
message operators already search for, prefixed by ``file:line:col``.

Defaults flow as upstream: a scrape config that leaves ``scrape_interval``,
``scrape_timeout``, ``scrape_protocols``, a limit or the name validation
scheme unset takes the ``global`` value; a timeout left unset is capped to the
job's interval. :class:`ScrapeSection` applies this, so every
:class:`ScrapeConfig` it hands out is complete. A :class:`ScrapeConfig` built
alone (in code, in tests) gets the built-in global defaults.

Beyond upstream (SECURITY-MODEL K1): a static target written ``user:pass@host``
is refused at load time with an error pointing to ``basic_auth`` (Prometheus
accepts it, puts the password into the ``instance`` label and the targets API,
and then fails every scrape).

The server composes its whole config by subclassing :class:`ScrapeSection`
and adding ``rule_files``, ``alerting``, ``remote_write`` and so on;
:func:`load_scrape_section` reads a full prometheus.yml and ignores those
sections, for users of the scrape layer alone.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from promethean.config import ConfigError, ConfigModel, load_config
from promethean.config.fields import Duration
from promethean.config.httpclient import HTTPClientConfig
from promethean.model.names import NameValidationScheme
from promethean.model.negotiation import (
    DEFAULT_SCRAPE_PROTOCOLS,
    ESCAPING_SCHEMES,
    SCRAPE_PROTOCOL_HEADERS,
)
from promethean.model.relabel import RelabelConfig, check_relabel_config
from promethean.scrape.discovery.file import FileSDConfig
from promethean.scrape.discovery.http import HTTPSDConfig
from promethean.scrape.discovery.targetgroup import StaticConfig, check_label_set

__all__ = [
    "DEFAULT_GLOBAL",
    "GlobalConfig",
    "ScrapeConfig",
    "ScrapeSection",
    "format_base2_bytes",
    "load_scrape_section",
    "parse_base2_bytes",
]


# --------------------------------------------------------------------------- sizes

_BASE2_UNITS = {
    "B": 1,
    "KB": 1 << 10,
    "KiB": 1 << 10,
    "MB": 1 << 20,
    "MiB": 1 << 20,
    "GB": 1 << 30,
    "GiB": 1 << 30,
    "TB": 1 << 40,
    "TiB": 1 << 40,
    "PB": 1 << 50,
    "PiB": 1 << 50,
    "EB": 1 << 60,
    "EiB": 1 << 60,
}
_SIZE_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)([A-Za-z]*)")


def parse_base2_bytes(text: str) -> int:
    """``body_size_limit`` values: ``512KB``, ``10MiB``, ``1GB512MB`` (all base 2), ``0``."""
    if text == "0":
        return 0
    if text == "":
        raise ValueError('units: invalid ""')
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _SIZE_PART.match(text, pos)
        if match is None:
            raise ValueError(f"units: invalid {text}")
        number, unit = match.groups()
        if unit == "":
            raise ValueError(f"units: missing unit in {text}")
        if unit not in _BASE2_UNITS:
            raise ValueError(f"units: unknown unit {unit} in {text}")
        total += float(number) * _BASE2_UNITS[unit]
        pos = match.end()
    return int(total)


def format_base2_bytes(n: int) -> str:
    """The spelling upstream renders: ``1KiB``, ``1MiB512KiB``, ``0B``."""
    if n == 0:
        return "0B"
    out = []
    for unit in ("EiB", "PiB", "TiB", "GiB", "MiB", "KiB", "B"):
        size = _BASE2_UNITS[unit]
        if n >= size:
            count, n = divmod(n, size)
            out.append(f"{count}{unit}")
    return "".join(out)


def _size(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("must be a size such as 10MB")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if isinstance(value, str):
        return parse_base2_bytes(value)
    raise ValueError("must be a size such as 10MB")


ByteSize = Annotated[int, BeforeValidator(_size), PlainSerializer(format_base2_bytes)]


def _uint(value: Any) -> Any:
    # Go decodes limits into uint: a negative or non-integer value is a type error.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"cannot unmarshal {value!r} into uint")
    if value < 0:
        raise ValueError(f"cannot unmarshal !!int `{value}` into uint")
    return value


UInt = Annotated[int, BeforeValidator(_uint)]


def _protocols(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValueError("scrape_protocols must be a list")
    seen: set[str] = set()
    for proto in value:
        if proto not in SCRAPE_PROTOCOL_HEADERS:
            supported = ", ".join(sorted(SCRAPE_PROTOCOL_HEADERS))
            raise ValueError(f"unknown scrape protocol {proto}, supported: [{supported}]")
        if proto in seen:
            raise ValueError(f"duplicated protocol in scrape_protocols, got {value}")
        seen.add(proto)
    return tuple(value)


ScrapeProtocols = Annotated[tuple[str, ...] | None, BeforeValidator(_protocols)]


def _validation_scheme(value: Any) -> Any:
    if value in (None, ""):
        return None
    if value not in ("legacy", "utf8"):
        raise ValueError(
            "unknown name validation method specified, must be either 'legacy' or 'utf8', "
            f"got {value}"
        )
    return value


def _escaping_scheme(value: Any) -> Any:
    if value in (None, ""):
        return None
    if value not in ESCAPING_SCHEMES:
        raise ValueError(
            "unknown name escaping method specified, must be one of "
            f"'allow-utf-8', 'underscores', 'dots', or 'values', got {value}"
        )
    return value


# --------------------------------------------------------------------------- global


class GlobalConfig(ConfigModel):
    """``global``: defaults for every job, external labels, server-wide files."""

    scrape_interval: Duration = 60.0
    scrape_timeout: Duration = 10.0
    scrape_protocols: ScrapeProtocols = DEFAULT_SCRAPE_PROTOCOLS
    evaluation_interval: Duration = 60.0
    rule_query_offset: Duration = 0.0
    query_log_file: str = ""
    scrape_failure_log_file: str = ""
    external_labels: dict[str, str] = Field(default_factory=dict)
    body_size_limit: ByteSize = 0
    sample_limit: UInt = 0
    target_limit: UInt = 0
    label_limit: UInt = 0
    label_name_length_limit: UInt = 0
    label_value_length_limit: UInt = 0
    keep_dropped_targets: UInt = 0
    metric_name_validation_scheme: Annotated[str | None, BeforeValidator(_validation_scheme)] = (
        "utf8"
    )
    metric_name_escaping_scheme: Annotated[str | None, BeforeValidator(_escaping_scheme)] = None
    always_scrape_classic_histograms: bool = False
    convert_classic_histograms_to_nhcb: bool = False

    @field_validator("external_labels", mode="before")
    @classmethod
    def _external_labels(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("external_labels must be a mapping")
        out = check_label_set(value)
        # Upstream drops empty-valued external labels (they mean "absent").
        return {k: v for k, v in out.items() if v != ""}

    @model_validator(mode="before")
    @classmethod
    def _timeout_default(cls, data: Any) -> Any:
        # An unset (or zero) global timeout is 10s, or the interval when that is shorter.
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if data.get("scrape_interval") in (None, 0, "0", "0s"):
            data.pop("scrape_interval", None)
        for key in ("scrape_timeout", "evaluation_interval"):
            if data.get(key) in (None, 0, "0", "0s"):
                data.pop(key, None)
        return data

    @model_validator(mode="after")
    def _check(self) -> GlobalConfig:
        if "scrape_timeout" in self.model_fields_set:
            if self.scrape_timeout > self.scrape_interval:
                raise ValueError("global scrape timeout greater than scrape interval")
        elif self.scrape_timeout > self.scrape_interval:
            object.__setattr__(self, "scrape_timeout", self.scrape_interval)
        if self.scrape_protocols is None:
            object.__setattr__(self, "scrape_protocols", DEFAULT_SCRAPE_PROTOCOLS)
        if self.metric_name_validation_scheme is None:
            object.__setattr__(self, "metric_name_validation_scheme", "utf8")
        return self


DEFAULT_GLOBAL = GlobalConfig()


# --------------------------------------------------------------------------- scrape config


def _params(value: Any) -> Any:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError("params must be a mapping of names to lists of values")
    out: dict[str, list[str]] = {}
    for name, values in value.items():
        if not isinstance(values, list):
            raise ValueError(f"params.{name}: must be a list of strings")
        out[str(name)] = [v if isinstance(v, str) else str(v) for v in values]
    return out


def _relabel_list(what: str) -> Any:
    def check(value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, list) and any(item is None for item in value):
            raise ValueError(f"empty or null {what} relabeling rule in scrape config")
        return value

    return check


_RENDER_TAIL = (
    "static_configs",
    "file_sd_configs",
    "http_sd_configs",
    "relabel_configs",
    "metric_relabel_configs",
)
_OMIT_EMPTY = frozenset({*_RENDER_TAIL, "params"})

_LIMIT_FIELDS = (
    "body_size_limit",
    "sample_limit",
    "target_limit",
    "label_limit",
    "label_name_length_limit",
    "label_value_length_limit",
    "keep_dropped_targets",
)


class ScrapeConfig(HTTPClientConfig):
    """One ``scrape_configs`` entry; the HTTP client fields are inlined, as upstream.

    Durations are float seconds, ``body_size_limit`` is bytes, limits are ints
    where 0 means "no limit". :attr:`http_client_config` is the config itself
    (it *is* an :class:`HTTPClientConfig`), for ``build_session``.
    """

    job_name: str
    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    params: Annotated[dict[str, list[str]], BeforeValidator(_params)] = Field(default_factory=dict)
    scrape_interval: Duration = 60.0
    scrape_timeout: Duration = 10.0
    scrape_protocols: ScrapeProtocols = DEFAULT_SCRAPE_PROTOCOLS
    fallback_scrape_protocol: str | None = None
    always_scrape_classic_histograms: bool = False
    convert_classic_histograms_to_nhcb: bool = False
    native_histogram_bucket_limit: UInt = 0
    native_histogram_min_bucket_factor: float = 0.0
    metrics_path: str = "/metrics"
    scheme: str = "http"
    enable_compression: bool = True
    body_size_limit: ByteSize = 0
    sample_limit: UInt = 0
    target_limit: UInt = 0
    label_limit: UInt = 0
    label_name_length_limit: UInt = 0
    label_value_length_limit: UInt = 0
    keep_dropped_targets: UInt = 0
    metric_name_validation_scheme: Annotated[str | None, BeforeValidator(_validation_scheme)] = (
        "utf8"
    )
    metric_name_escaping_scheme: Annotated[str | None, BeforeValidator(_escaping_scheme)] = None
    static_configs: list[StaticConfig] = Field(default_factory=list)
    file_sd_configs: list[FileSDConfig] = Field(default_factory=list)
    http_sd_configs: list[HTTPSDConfig] = Field(default_factory=list)
    relabel_configs: Annotated[list[RelabelConfig], BeforeValidator(_relabel_list("target"))] = (
        Field(default_factory=list)
    )
    metric_relabel_configs: Annotated[
        list[RelabelConfig], BeforeValidator(_relabel_list("metric"))
    ] = Field(default_factory=list)

    @model_serializer(mode="wrap")
    def _render(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Upstream's order (job fields, client fields, discovery, relabelling), empty
        # collections left out as Go's omitempty does.
        data: dict[str, Any] = handler(self)
        client = [k for k in HTTPClientConfig.model_fields if k in data]
        tail = [k for k in _RENDER_TAIL if k in data]
        head = [k for k in data if k not in client and k not in tail]
        out = {}
        for key in (*head, *client, *tail):
            value = data[key]
            if value in ({}, []) and key in _OMIT_EMPTY:
                continue
            out[key] = value
        return out

    @property
    def http_client_config(self) -> HTTPClientConfig:
        return self

    @property
    def name_validation_scheme(self) -> NameValidationScheme:
        if self.metric_name_validation_scheme == "legacy":
            return NameValidationScheme.LEGACY
        return NameValidationScheme.UTF8

    @model_validator(mode="before")
    @classmethod
    def _zero_means_unset(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            if data is None:
                raise ValueError("empty or null scrape config section")
            return data
        data = dict(data)
        for key in ("scrape_interval", "scrape_timeout"):
            if key in data and data[key] in (None, 0, "0", "0s"):
                data.pop(key)
        for key in (
            "scrape_protocols",
            "metric_name_validation_scheme",
            "fallback_scrape_protocol",
        ):
            if key in data and data[key] in (None, ""):
                data.pop(key)
        if data.get("job_name") in (None, ""):
            raise ValueError("job_name is empty")
        for key in ("static_configs", "file_sd_configs", "http_sd_configs"):
            if key in data and data[key] is None:
                data[key] = []
        return data

    @field_validator("fallback_scrape_protocol")
    @classmethod
    def _fallback(cls, value: str | None) -> str | None:
        if value is not None and value not in SCRAPE_PROTOCOL_HEADERS:
            supported = ", ".join(sorted(SCRAPE_PROTOCOL_HEADERS))
            raise ValueError(
                f"invalid fallback_scrape_protocol: unknown scrape protocol {value}, "
                f"supported: [{supported}]"
            )
        return value

    @model_validator(mode="after")
    def _check_scrape(self) -> ScrapeConfig:
        _fill(self, DEFAULT_GLOBAL, only_unset=True)
        if not self.relabel_configs:
            for sc in self.static_configs:
                for target in sc.targets:
                    if "/" in target:
                        raise ValueError(f'"{target}" is not a valid hostname')
        for sc in self.static_configs:
            for target in sc.targets:
                _refuse_userinfo(target)
        if self.name_validation_scheme is NameValidationScheme.LEGACY:
            for rc in (*self.relabel_configs, *self.metric_relabel_configs):
                check_relabel_config(rc, NameValidationScheme.LEGACY)
        return self

    def with_global(self, global_cfg: GlobalConfig) -> ScrapeConfig:
        """This config with unset fields taken from ``global_cfg`` (upstream's Validate)."""
        copy = self.model_copy()
        _fill(copy, global_cfg, only_unset=True)
        return copy


def _refuse_userinfo(target: str) -> None:
    if "@" not in target:
        return
    userinfo = target.rsplit("@", 1)[0]
    shown = target
    if ":" in userinfo:
        user = userinfo.split(":", 1)[0]
        shown = f"{user}:xxxxx@{target.rsplit('@', 1)[1]}"
    raise ValueError(
        f'target "{shown}" contains credentials (user:password@): they would be shown in the '
        "instance label and the targets API; use basic_auth instead"
    )


def _fill(cfg: ScrapeConfig, g: GlobalConfig, *, only_unset: bool) -> None:
    """Apply global defaults to fields the job did not set; check interval vs timeout."""
    explicit = cfg.model_fields_set

    def put(name: str, value: Any) -> None:
        object.__setattr__(cfg, name, value)

    if "scrape_interval" not in explicit:
        put("scrape_interval", g.scrape_interval)
    if "scrape_timeout" in explicit:
        if cfg.scrape_timeout > cfg.scrape_interval:
            raise ValueError(
                "scrape timeout greater than scrape interval for scrape config with job name "
                f'"{cfg.job_name}"'
            )
    else:
        put("scrape_timeout", min(g.scrape_timeout, cfg.scrape_interval))
    for name in _LIMIT_FIELDS:
        if getattr(cfg, name) == 0:
            put(name, getattr(g, name))
    if "scrape_protocols" not in explicit:
        put("scrape_protocols", g.scrape_protocols)
    if "metric_name_validation_scheme" not in explicit:
        put("metric_name_validation_scheme", g.metric_name_validation_scheme)
    if "metric_name_escaping_scheme" not in explicit and g.metric_name_escaping_scheme:
        put("metric_name_escaping_scheme", g.metric_name_escaping_scheme)
    if "always_scrape_classic_histograms" not in explicit:
        put("always_scrape_classic_histograms", g.always_scrape_classic_histograms)
    if "convert_classic_histograms_to_nhcb" not in explicit:
        put("convert_classic_histograms_to_nhcb", g.convert_classic_histograms_to_nhcb)
    if (
        cfg.metric_name_validation_scheme == "legacy"
        and cfg.metric_name_escaping_scheme == "allow-utf-8"
    ):
        raise ValueError(
            "scrape config for job "
            f'"{cfg.job_name}" has metric_name_validation_scheme legacy but '
            "metric_name_escaping_scheme allow-utf-8"
        )


# --------------------------------------------------------------------------- whole section

# Upstream's patRulePath: a glob only in the last path element.
_SCRAPE_FILE_PATTERN = re.compile(r"^[^*]*(\*[^/]*)?$")


class _ScrapeConfigsFile(ConfigModel):
    scrape_configs: list[ScrapeConfig] = Field(default_factory=list)

    @field_validator("scrape_configs", mode="before")
    @classmethod
    def _null(cls, value: Any) -> Any:
        return [] if value is None else value


class ScrapeSection(ConfigModel):
    """``global`` + ``scrape_configs`` + ``scrape_config_files`` of a prometheus.yml.

    After validation every scrape config carries the global defaults, job names
    are unique across the file and the included files, and the included files
    are loaded (paths relative to the main file). Use
    :meth:`all_scrape_configs` to get them all.
    """

    global_: GlobalConfig = Field(default_factory=GlobalConfig, alias="global")
    scrape_config_files: list[str] = Field(default_factory=list)
    scrape_configs: list[ScrapeConfig] = Field(default_factory=list)

    _from_files: list[ScrapeConfig] = PrivateAttr(default_factory=list)

    @field_validator("scrape_configs", "scrape_config_files", mode="before")
    @classmethod
    def _null_list(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("scrape_configs")
    @classmethod
    def _unique(cls, value: list[ScrapeConfig]) -> list[ScrapeConfig]:
        return _unique_jobs(value)

    @field_validator("global_", mode="before")
    @classmethod
    def _null_global(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("scrape_config_files")
    @classmethod
    def _file_patterns(cls, value: list[str], info: ValidationInfo) -> list[str]:
        base = (info.context or {}).get("base_dir")
        out = []
        for pattern in value:
            if not _SCRAPE_FILE_PATTERN.match(pattern):
                raise ValueError(f'invalid scrape config file path "{pattern}"')
            if base is not None and not os.path.isabs(pattern):
                pattern = str(Path(base) / pattern)
            out.append(pattern)
        return out

    @model_validator(mode="after")
    def _apply_global(self, info: ValidationInfo) -> ScrapeSection:
        filled = [c.with_global(self.global_) for c in self.scrape_configs]
        object.__setattr__(self, "scrape_configs", filled)
        seen = {c.job_name for c in filled}
        from_files: list[ScrapeConfig] = []
        for pattern in self.scrape_config_files:
            for path in sorted(glob.glob(pattern)):
                ctx = {**(info.context or {}), "base_dir": Path(path).parent}
                try:
                    loaded = load_config(_ScrapeConfigsFile, path, ctx)
                except ConfigError as exc:
                    raise ValueError(str(exc)) from None
                for cfg in loaded.scrape_configs:
                    try:
                        cfg = cfg.with_global(self.global_)
                    except ValueError as exc:
                        raise ValueError(f"{path}: {exc}") from None
                    if cfg.job_name in seen:
                        raise ValueError(
                            f'{path}: found multiple scrape configs with job name "{cfg.job_name}"'
                        )
                    seen.add(cfg.job_name)
                    from_files.append(cfg)
        self._from_files = from_files
        return self

    def all_scrape_configs(self) -> list[ScrapeConfig]:
        """The inline scrape configs followed by those of ``scrape_config_files``."""
        return [*self.scrape_configs, *self._from_files]


def _unique_jobs(configs: list[ScrapeConfig]) -> list[ScrapeConfig]:
    seen: set[str] = set()
    for cfg in configs:
        if cfg.job_name in seen:
            raise ValueError(f'found multiple scrape configs with job name "{cfg.job_name}"')
        seen.add(cfg.job_name)
    return configs


class _WholeFile(ScrapeSection):
    """A full prometheus.yml whose non-scrape sections are accepted unread."""

    rule_files: Any = None
    alerting: Any = None
    remote_write: Any = None
    remote_read: Any = None
    storage: Any = None
    tracing: Any = None
    otlp: Any = None
    runtime: Any = None


def load_scrape_section(path: str | os.PathLike[str]) -> ScrapeSection:
    """Load a prometheus.yml's scrape half; raises ``ConfigError`` (``file:line:col: ...``)."""
    return load_config(_WholeFile, Path(path))
