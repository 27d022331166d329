"""``http_sd_configs``: targets from an HTTP endpoint, fetched every ``refresh_interval``.

The endpoint answers ``200`` with ``Content-Type: application/json`` and a JSON
list of ``{"targets": [...], "labels": {...}}`` groups, as upstream documents;
anything else is an error that keeps the last good targets. Each group gets
``__meta_url`` (the endpoint, password masked) and source ``<url>:<index>``;
groups that disappear from one answer to the next are sent as empty groups so
their targets go away. Auth and TLS come from the inlined HTTP client config.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
from pydantic import Field, field_validator

from promethean.config.fields import Duration
from promethean.config.httpclient import (
    HTTPClientConfig,
    build_session,
    mask_url_password,
    request_kwargs,
)
from promethean.scrape.discovery.targetgroup import ADDRESS_LABEL, TargetGroup, check_label_set

__all__ = ["HTTPDiscovery", "HTTPSDConfig", "parse_http_groups"]

_log = logging.getLogger("promethean.scrape.discovery.http")

URL_LABEL = "__meta_url"
# Upstream's check, verbatim in meaning: JSON, optionally with a UTF-8 charset.
_JSON_CONTENT_TYPE = re.compile(r"^application/json;?\s*(charset=utf-8)?$")
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
    if not _JSON_CONTENT_TYPE.match(content_type):
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


class HTTPDiscovery:
    """Polls one ``http_sd_configs`` endpoint; keeps the last good answer on errors."""

    def __init__(self, cfg: HTTPSDConfig, *, user_agent: str = "promethean") -> None:
        self.cfg = cfg
        self.user_agent = user_agent
        self._sources: list[str] = []
        self._session: aiohttp.ClientSession | None = None

    async def refresh(self) -> list[TargetGroup]:
        """Fetch once: the new groups plus empty groups for sources that went away."""
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self.cfg.refresh_interval or None)
            self._session = build_session(
                self.cfg, "http_sd", user_agent=self.user_agent, timeout=timeout
            )
        headers = {
            "Accept": "application/json",
            "X-Prometheus-Refresh-Interval-Seconds": f"{self.cfg.refresh_interval:g}",
        }
        async with self._session.get(
            self.cfg.url, headers=headers, **request_kwargs(self.cfg)
        ) as resp:
            if resp.status != 200:
                reason = f" {resp.reason}" if resp.reason else ""
                raise ValueError(f"server returned HTTP status {resp.status}{reason}")
            body = await resp.content.read(MAX_RESPONSE_BYTES + 1)
            if len(body) > MAX_RESPONSE_BYTES:
                raise ValueError(f"response larger than {MAX_RESPONSE_BYTES} bytes")
            groups = parse_http_groups(self.cfg.url, resp.headers.get("Content-Type", ""), body)
        sources = [g.source for g in groups]
        gone = [TargetGroup(source=s) for s in self._sources if s not in set(sources)]
        self._sources = sources
        return [*groups, *gone]

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def run(self, send: Callable[[list[TargetGroup]], None]) -> None:
        """Refresh now and every ``refresh_interval`` until cancelled."""
        try:
            while True:
                try:
                    send(await self.refresh())
                except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
                    reason = str(exc) or type(exc).__name__
                    _log.error(
                        "Unable to refresh target groups",
                        extra={"fields": {"url": mask_url_password(self.cfg.url), "err": reason}},
                    )
                await asyncio.sleep(self.cfg.refresh_interval or 60.0)
        finally:
            await self.close()
