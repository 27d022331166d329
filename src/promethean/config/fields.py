"""Field types shared by every component's config schema.

Durations are held as float seconds (what the code computes with) and
rendered back in upstream's spelling, so a config shown by the API reads as
the operator wrote it. As in upstream's YAML decoding, a bare number is not a
duration: ``scrape_interval: 15`` is an error that names the value.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from promethean.model.durations import (
    format_duration_ms,
    format_go_duration,
    parse_duration_ms,
    parse_go_duration,
)

__all__ = ["Duration", "GoDuration", "format_seconds"]


def _parse_duration(value: Any) -> float:
    if isinstance(value, bool | int | float):
        text = str(value).lower() if isinstance(value, bool) else str(value)
        raise ValueError(f'not a valid duration string: "{text}"')
    if not isinstance(value, str):
        raise ValueError("must be a duration string such as 30s or 5m")
    return parse_duration_ms(value) / 1000.0


def format_seconds(seconds: float) -> str:
    """Upstream's spelling of a duration given in seconds (``1m``, ``1m30s``, ``500ms``)."""
    return format_duration_ms(round(seconds * 1000))


Duration = Annotated[
    float,
    BeforeValidator(_parse_duration),
    PlainSerializer(format_seconds, when_used="always"),
]
"""Prometheus duration (``30s``, ``4h``, ``2w1d``) in seconds; renders canonically."""

GoDuration = Annotated[
    float,
    BeforeValidator(parse_go_duration),
    PlainSerializer(format_go_duration, when_used="always"),
]
"""Go ``time.Duration`` (``1m``, ``90s``, ``1.5s``) in seconds; renders as ``1m0s``."""
