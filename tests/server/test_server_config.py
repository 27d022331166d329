"""prometheus.yml: loading with file:line errors, and rendering as status/config shows it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from promethean.config import ConfigError
from promethean.server.config import (
    default_config,
    load_prometheus_config,
    parse_prometheus_config,
    render_prometheus_config,
)

FULL = """
global:
  scrape_interval: 15s
  external_labels: {site: lab}
rule_files: ["rules/*.yml"]
scrape_configs:
  - job_name: basic
    basic_auth: {username: scrapeuser, password: BASIC_PASSWORD}
    static_configs: [{targets: ["127.0.0.1:9100"]}]
  - job_name: legacy
    bearer_token: LEGACY_BEARER
    proxy_url: http://proxyuser:PROXY_PASSWORD@127.0.0.1:19994
    params: {api_key: [PARAM_VALUE]}
    static_configs: [{targets: ["127.0.0.1:9100"]}]
alerting:
  alertmanagers:
    - basic_auth: {username: am, password: AM_PASSWORD}
      static_configs: [{targets: ["127.0.0.1:9093"]}]
remote_write:
  - url: http://rwuser:URL_PASSWORD@127.0.0.1:9/write
    basic_auth: {username: rw, password: RW_PASSWORD}
    headers: {X-Custom-Header: HEADER_VALUE}
  - url: http://127.0.0.1:9/write2
    sigv4: {access_key: AKIDEXAMPLE, secret_key: SIGV4_SECRET}
remote_read:
  - url: http://127.0.0.1:9/read
    basic_auth: {username: rr, password_file: /tmp/x/secret.txt}
storage:
  tsdb: {out_of_order_time_window: 30m}
"""


def test_rendering_masks_secrets_and_url_passwords() -> None:
    text = render_prometheus_config(parse_prometheus_config(FULL, "/etc/p/prometheus.yml"))
    for secret in (
        "BASIC_PASSWORD",
        "LEGACY_BEARER",
        "PROXY_PASSWORD",
        "AM_PASSWORD",
        "URL_PASSWORD",
        "RW_PASSWORD",
        "SIGV4_SECRET",
    ):
        assert secret not in text
    doc = yaml.safe_load(text)
    basic, legacy = doc["scrape_configs"]
    assert basic["basic_auth"] == {"username": "scrapeuser", "password": "<secret>"}
    assert legacy["authorization"] == {"type": "Bearer", "credentials": "<secret>"}
    assert "bearer_token" not in legacy
    assert legacy["proxy_url"] == "http://proxyuser:xxxxx@127.0.0.1:19994"
    assert legacy["params"] == {"api_key": ["PARAM_VALUE"]}  # not a secret upstream either
    rw1, rw2 = doc["remote_write"]
    assert rw1["url"] == "http://rwuser:xxxxx@127.0.0.1:9/write"
    assert rw1["headers"] == {"X-Custom-Header": "HEADER_VALUE"}
    assert rw1["queue_config"]["capacity"] == 2500
    assert rw1["remote_timeout"] == "30s"
    assert rw2["sigv4"]["access_key"] == "AKIDEXAMPLE"
    assert rw2["sigv4"]["secret_key"] == "<secret>"
    assert doc["remote_read"][0]["basic_auth"]["password_file"] == "/tmp/x/secret.txt"
    assert doc["alerting"]["alertmanagers"][0]["basic_auth"]["password"] == "<secret>"
    assert doc["alerting"]["alertmanagers"][0]["api_version"] == "v2"
    assert doc["rule_files"] == ["/etc/p/rules/*.yml"]
    assert doc["storage"] == {"tsdb": {"out_of_order_time_window": "30m"}}
    assert list(doc) == [
        "global",
        "alerting",
        "rule_files",
        "scrape_configs",
        "storage",
        "remote_write",
        "remote_read",
    ]
    assert doc["global"]["external_labels"] == {"site": "lab"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: SECRETX,"
            " password_file: /f}\n",
            "at most one of basic_auth password & password_file must be configured",
        ),
        (
            "remote_write:\n  - url: ftp://u:SECRETX@h/w\n",
            "remote_write[0].url: URL scheme must be 'http' or 'https'",
        ),
        (
            "remote_write:\n  - url: http://h/w\n    headers: {Authorization: x}\n",
            "reserved header",
        ),
        (
            "alerting:\n  alertmanagers:\n    - api_version: v1\n",
            "alertmanager api_version v1 is no longer supported",
        ),
        ("rule_files: ['rules/[a.yml']\n", "invalid rule file path"),
        ("scrape_configs:\n  - job_name: a\n  - job_name: a\n", "multiple scrape configs"),
        (
            "scrape_configs:\n  - job_name: a\n    static_configs:\n"
            "      - targets: ['u:SECRETX@127.0.0.1:9100']\n",
            "basic_auth",
        ),
        ("remote_read:\n  - url: http://h/r\n    basic_auth: {password: [SECRETX]}\n", "string"),
        ("storage:\n  tsdb: {out_of_order_time_window: nope}\n", "not a valid duration"),
        ("unknown_section: 1\n", "unknown_section: unknown field"),
    ],
)
def test_errors_name_file_line_and_field_never_the_secret(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_prometheus_config(path)
    err = str(info.value)
    assert err.startswith(f"{path}:")
    assert message in err
    assert "SECRETX" not in err


def test_empty_sections_and_defaults(tmp_path: Path) -> None:
    path = tmp_path / "p.yml"
    path.write_text("global:\nscrape_configs:\nrule_files:\nremote_write:\nalerting:\n")
    cfg = load_prometheus_config(path)
    assert cfg.all_scrape_configs() == []
    assert cfg.global_.scrape_interval == 60.0
    assert cfg.rule_files == []


def test_scrape_config_files_are_included(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "a.yml").write_text("scrape_configs:\n  - job_name: included\n")
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_config_files: ['jobs/*.yml']\nscrape_configs:\n  - job_name: main\n")
    cfg = load_prometheus_config(path)
    assert [c.job_name for c in cfg.all_scrape_configs()] == ["main", "included"]


def test_default_config_scrapes_the_server_itself() -> None:
    cfg = default_config("localhost:9090")
    (job,) = cfg.all_scrape_configs()
    assert job.job_name == "prometheus"
    assert job.static_configs[0].targets == ["localhost:9090"]
    assert job.scrape_interval == 15.0
    assert "job_name: prometheus" in render_prometheus_config(cfg)
