"""Interim ``global`` and ``scrape_configs`` models until ``promethean.scrape.config`` lands."""

from __future__ import annotations

from pydantic import Field

from promethean.config import ConfigModel
from promethean.config.httpclient import HTTPClientConfig
from promethean.model.relabel import RelabelConfig
from promethean.scrape.discovery.targetgroup import StaticConfig
from promethean.scrape.durations import Duration

__all__ = ["GlobalConfig", "ScrapeConfig", "default_scrape_config"]


class GlobalConfig(ConfigModel):
    scrape_interval: Duration = 60.0
    scrape_timeout: Duration = 10.0
    evaluation_interval: Duration = 60.0
    external_labels: dict[str, str] = Field(default_factory=dict)


class ScrapeConfig(HTTPClientConfig):
    job_name: str
    honor_labels: bool = False
    honor_timestamps: bool = True
    scrape_interval: Duration | None = None
    scrape_timeout: Duration | None = None
    metrics_path: str = "/metrics"
    scheme: str = "http"
    params: dict[str, list[str]] = Field(default_factory=dict)
    static_configs: list[StaticConfig] = Field(default_factory=list)
    relabel_configs: list[RelabelConfig] = Field(default_factory=list)
    metric_relabel_configs: list[RelabelConfig] = Field(default_factory=list)


def default_scrape_config(job: str, targets: list[str], honor_labels: bool = False) -> ScrapeConfig:
    return ScrapeConfig.model_validate(
        {"job_name": job, "honor_labels": honor_labels, "static_configs": [{"targets": targets}]}
    )
