"""prometheus.yml's scrape half: defaults, inheritance from global, and upstream's errors.

The error messages in INVALID are the ones Prometheus 2.42's ``promtool check
config`` printed for the same snippets (run by hand on this machine), prefixed
by our ``file:line:col: field:``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from promethean.config import ConfigError, parse_config, render_yaml
from promethean.scrape.config import (
    ScrapeConfig,
    ScrapeSection,
    format_base2_bytes,
    load_scrape_section,
    parse_base2_bytes,
)


def section(text: str, base_dir: Path | None = None) -> ScrapeSection:
    return parse_config(ScrapeSection, text, "p.yml", {"base_dir": base_dir} if base_dir else None)


INVALID = [
    (
        "scrape_configs: [{job_name: a, scrape_interval: 5s, scrape_timeout: 10s}]",
        'scrape timeout greater than scrape interval for scrape config with job name "a"',
    ),
    ("scrape_configs: [{job_name: ''}]", "job_name is empty"),
    (
        "scrape_configs: [{job_name: a}, {job_name: a}]",
        'found multiple scrape configs with job name "a"',
    ),
    (
        "scrape_configs: [{job_name: a, static_configs: [{targets: ['http://x:1/']}]}]",
        '"http://x:1/" is not a valid hostname',
    ),
    (
        "global: {scrape_interval: 5s, scrape_timeout: 10s}",
        "global scrape timeout greater than scrape interval",
    ),
    ("scrape_configs: [{job_name: a, body_size_limit: 5XB}]", "units: unknown unit XB in 5XB"),
    ("scrape_configs: [{job_name: a, sample_limit: -1}]", "cannot unmarshal !!int `-1` into uint"),
    ("scrape_configs: [null]", "empty or null scrape config section"),
    (
        "scrape_configs: [{job_name: a, relabel_configs: [null]}]",
        "empty or null target relabeling rule in scrape config",
    ),
    (
        "scrape_configs: [{job_name: a, metric_relabel_configs: [null]}]",
        "empty or null metric relabeling rule in scrape config",
    ),
    (
        "scrape_configs: [{job_name: a, file_sd_configs: [{files: ['x.txt']}]}]",
        'path name "x.txt" is not valid for file discovery',
    ),
    (
        "scrape_configs: [{job_name: a, file_sd_configs: [{files: []}]}]",
        "file service discovery config must contain at least one path name",
    ),
    (
        "scrape_configs: [{job_name: a, http_sd_configs: [{url: 'ftp://x'}]}]",
        "URL scheme must be 'http' or 'https'",
    ),
    ("scrape_configs: [{job_name: a, http_sd_configs: [{}]}]", "URL is missing"),
    ("scrape_configs: [{job_name: a, scrape_interval: 1x}]", 'not a valid duration string: "1x"'),
    ("scrape_configs: [{job_name: a, passwd: x}]", "scrape_configs[0].passwd: unknown field"),
    ("scrape_configs: [{job_name: a, consul_sd_configs: []}]", "consul_sd_configs: unknown field"),
    (
        "scrape_configs: [{job_name: a, scrape_protocols: [Foo]}]",
        "unknown scrape protocol Foo, supported: [OpenMetricsText0.0.1, OpenMetricsText1.0.0, "
        "PrometheusProto, PrometheusText0.0.4, PrometheusText1.0.0]",
    ),
    (
        "scrape_configs: [{job_name: a, scrape_protocols: [PrometheusProto, PrometheusProto]}]",
        "duplicated protocol in scrape_protocols",
    ),
    (
        "scrape_configs: [{job_name: a, authorization: {type: basic}}]",
        'authorization type cannot be set to "basic", use "basic_auth" instead',
    ),
    (
        "scrape_configs: [{job_name: a, metric_name_validation_scheme: ascii}]",
        "unknown name validation method specified, must be either 'legacy' or 'utf8', got ascii",
    ),
    (
        "scrape_configs: [{job_name: a, metric_name_validation_scheme: legacy, "
        "relabel_configs: [{target_label: 'a.b', replacement: x}]}]",
        "\"a.b\" is invalid 'target_label' for replace action",
    ),
]


@pytest.mark.parametrize(("text", "message"), INVALID)
def test_invalid_scrape_configs(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        section(text)
    assert message in str(err.value)
    assert str(err.value).startswith("p.yml:1:")


def test_static_target_with_credentials_is_refused_and_password_not_echoed() -> None:
    with pytest.raises(ConfigError) as err:
        section(
            "scrape_configs: [{job_name: a, static_configs: [{targets: ['u:ADDR_SECRET@h:1']}]}]"
        )
    assert str(err.value) == (
        'p.yml:1:18: scrape_configs[0]: target "u:xxxxx@h:1" contains credentials '
        "(user:password@): they would be shown in the instance label and the targets API; "
        "use basic_auth instead"
    )


def test_defaults_as_upstream() -> None:
    s = section("scrape_configs: [{job_name: a}]")
    c = s.scrape_configs[0]
    assert (s.global_.scrape_interval, s.global_.scrape_timeout, s.global_.evaluation_interval) == (
        60.0,
        10.0,
        60.0,
    )
    assert (c.scrape_interval, c.scrape_timeout, c.metrics_path, c.scheme) == (
        60.0,
        10.0,
        "/metrics",
        "http",
    )
    assert c.honor_labels is False and c.honor_timestamps is True and c.enable_compression
    assert c.follow_redirects is True and c.enable_http2 is True
    assert c.scrape_protocols == (
        "OpenMetricsText1.0.0",
        "OpenMetricsText0.0.1",
        "PrometheusText1.0.0",
        "PrometheusText0.0.4",
    )
    assert c.http_client_config is c


def test_jobs_inherit_global_values_and_timeout_is_capped_to_interval() -> None:
    s = section(
        """
global:
  scrape_interval: 15s
  scrape_timeout: 12s
  body_size_limit: 10MB
  sample_limit: 500
  label_limit: 30
  scrape_protocols: [PrometheusText0.0.4]
scrape_configs:
  - job_name: inherit
  - job_name: short
    scrape_interval: 5s
  - job_name: own
    scrape_interval: 30s
    scrape_timeout: 20s
    sample_limit: 7
    body_size_limit: 1KiB
    scrape_protocols: [OpenMetricsText1.0.0]
"""
    )
    inherit, short, own = s.scrape_configs
    assert (inherit.scrape_interval, inherit.scrape_timeout) == (15.0, 12.0)
    assert (inherit.body_size_limit, inherit.sample_limit, inherit.label_limit) == (
        10 << 20,
        500,
        30,
    )
    assert inherit.scrape_protocols == ("PrometheusText0.0.4",)
    assert (short.scrape_interval, short.scrape_timeout) == (5.0, 5.0)
    assert (own.scrape_interval, own.scrape_timeout, own.sample_limit, own.body_size_limit) == (
        30.0,
        20.0,
        7,
        1024,
    )
    assert own.scrape_protocols == ("OpenMetricsText1.0.0",)


def test_standalone_scrape_config_gets_builtin_defaults() -> None:
    c = ScrapeConfig(job_name="x", scrape_interval="2s")
    assert (c.scrape_interval, c.scrape_timeout) == (2.0, 2.0)
    assert ScrapeConfig(job_name="y").scrape_timeout == 10.0


def test_rendered_config_masks_secrets_and_keeps_upstream_spelling() -> None:
    s = section(
        """
scrape_configs:
  - job_name: a
    scrape_interval: 90s
    body_size_limit: 1536KB
    basic_auth: {username: scrapeuser, password: BASIC_PASSWORD_7}
    params: {api_key: [PARAM_VISIBLE]}
    proxy_url: http://proxyuser:PROXY_PASSWORD_7@127.0.0.1:19994
    http_sd_configs:
      - url: http://127.0.0.1:1/sd
        authorization: {credentials: SD_TOKEN_7}
"""
    )
    out = render_yaml(s)
    assert "BASIC_PASSWORD_7" not in out and "SD_TOKEN_7" not in out
    assert "PROXY_PASSWORD_7" not in out
    assert "proxy_url: http://proxyuser:xxxxx@127.0.0.1:19994" in out
    assert "password: <secret>" in out and "credentials: <secret>" in out
    assert "PARAM_VISIBLE" in out  # params are not secrets upstream either
    assert "scrape_interval: 1m30s" in out and "body_size_limit: 1MiB512KiB" in out
    assert out.index("job_name: a") < out.index("basic_auth:") < out.index("http_sd_configs:")


def test_scrape_config_files_are_loaded_relative_and_checked(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "one.yml").write_text("scrape_configs: [{job_name: extra1}]\n")
    (tmp_path / "jobs" / "two.yml").write_text(
        "scrape_configs:\n  - job_name: extra2\n    file_sd_configs: [{files: [sd.json]}]\n"
    )
    main = tmp_path / "prometheus.yml"
    main.write_text(
        "global: {scrape_interval: 7s}\n"
        "rule_files: [r.yml]\n"
        "scrape_config_files: ['jobs/*.yml']\n"
        "scrape_configs: [{job_name: main}]\n"
    )
    s = load_scrape_section(main)
    jobs = [(c.job_name, c.scrape_interval) for c in s.all_scrape_configs()]
    assert jobs == [("main", 7.0), ("extra1", 7.0), ("extra2", 7.0)]
    assert s.all_scrape_configs()[2].file_sd_configs[0].files == [str(tmp_path / "jobs/sd.json")]

    (tmp_path / "jobs" / "three.yml").write_text("scrape_configs: [{job_name: main}]\n")
    with pytest.raises(ConfigError) as err:
        load_scrape_section(main)
    assert (
        f'{tmp_path / "jobs" / "three.yml"}: found multiple scrape configs with job name "main"'
        in str(err.value)
    )
    (tmp_path / "jobs" / "three.yml").write_text("scrape_configs: [{job_name: t, bogus: 1}]\n")
    with pytest.raises(ConfigError) as err:
        load_scrape_section(main)
    assert f"{tmp_path / 'jobs' / 'three.yml'}:1:32: scrape_configs[0].bogus: unknown field" in str(
        err.value
    )


def test_unknown_top_level_key_still_refused(tmp_path: Path) -> None:
    main = tmp_path / "prometheus.yml"
    main.write_text("scrape_configz: []\n")
    with pytest.raises(ConfigError) as err:
        load_scrape_section(main)
    assert str(err.value) == f"{main}:1:1: scrape_configz: unknown field"


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 0),
        ("1KB", 1024),
        ("1KiB", 1024),
        ("10MB", 10 << 20),
        ("1GB512MB", (1 << 30) + (512 << 20)),
        ("2B", 2),
    ],
)
def test_body_size_units(text: str, size: int) -> None:
    assert parse_base2_bytes(text) == size


def test_body_size_rendering() -> None:
    assert [format_base2_bytes(n) for n in (0, 1024, 1536, 10 << 20)] == [
        "0B",
        "1KiB",
        "1KiB512B",
        "10MiB",
    ]
    with pytest.raises(ValueError, match="units: missing unit in 12"):
        parse_base2_bytes("12")
