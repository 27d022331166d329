"""``http_sd_configs``: targets from an HTTP endpoint, fetched every ``refresh_interval``.

The endpoint answers ``200`` with ``Content-Type: application/json`` and a JSON
list of ``{"targets": [...], "labels": {...}}`` groups, as upstream documents;
anything else is an error that keeps the last good targets. Each group gets
``__meta_url`` (the endpoint, password masked) and source ``<url>:<index>``;
groups that disappear from one answer to the next are sent as empty groups so
their targets go away. Auth and TLS come from the inlined HTTP client config.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

from pydantic import Field, field_validator

from promethean.config.httpclient import HTTPClientConfig, mask_url_password
from promethean.scrape.discovery.targetgroup import ADDRESS_LABEL, TargetGroup, check_label_set
from promethean.scrape.durations import Duration

__all__ = ["HTTPSDConfig", "parse_http_groups"]

URL_LABEL = "__meta_url"
# Bound on what a discovery endpoint may send; upstream reads without a bound.
MAX_RESPONSE_BYTES = 64 << 20


class HTTPSDConfig(HTTPClientConfig):
    """One ``http_sd_configs`` entry: the URL, the refresh interval, the HTTP client fields."""

    url: str = Field("", validate_default=True)
    refresh_interval: Duration = 60.0

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value:
            raise ValueError("URL is missing")
        try:
            parts = urllib.parse.urlsplit(value)
        except ValueError:
            raise ValueError("invalid URL") from None
        if parts.scheme not in ("http", "https"):
            raise ValueError("URL scheme must be 'http' or 'https'")
        if not parts.hostname:
            raise ValueError("host is missing in URL")
        return value


def parse_http_groups(url: str, content_type: str, body: bytes) -> list[TargetGroup]:
    """Decode an answer; ValueError carries upstream's wording of what is wrong."""
    media = content_type.split(";")[0].strip().lower()
    if media != "application/json":
        raise ValueError(f'unsupported content type "{content_type}"')
    try:
        doc: Any = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"invalid JSON: {exc}") from None
    if doc is None:
        doc = []
    if not isinstance(doc, list):
        raise ValueError("response must be a JSON list of target groups")
    shown = mask_url_password(url)
    groups = []
    for i, entry in enumerate(doc):
        if not isinstance(entry, dict):
            raise ValueError(f"target group {i}: must be an object with targets and labels")
        targets = entry.get("targets") or []
        if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
            raise ValueError(f"target group {i}: targets must be a list of strings")
        raw_labels = entry.get("labels") or {}
        if not isinstance(raw_labels, dict):
            raise ValueError(f"target group {i}: labels must be an object")
        try:
            labels = check_label_set(raw_labels)
        except ValueError as exc:
            raise ValueError(f"target group {i}: {exc}") from None
        labels[URL_LABEL] = shown
        groups.append(
            TargetGroup(
                source=f"{shown}:{i}",
                targets=[{ADDRESS_LABEL: t} for t in targets],
                labels=labels,
            )
        )
    return groups
