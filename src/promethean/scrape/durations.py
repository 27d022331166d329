"""The duration field type of scrape and discovery configs: Prometheus duration strings.

Values are held as float seconds (what the scrape loop computes with) and
rendered back in upstream's canonical spelling (``1m``, ``1m30s``, ``500ms``).
Plain numbers are accepted as seconds for configs built in code.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

from promethean.model.durations import format_duration_ms, parse_duration_ms

__all__ = ["Duration", "format_seconds"]


def _parse(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError(f'not a valid duration string: "{str(value).lower()}"')
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError(f'not a valid duration string: "{value}"')
        return float(value)
    if isinstance(value, str):
        return parse_duration_ms(value) / 1000.0
    raise ValueError("must be a duration string such as 30s or 1m")


def format_seconds(seconds: float) -> str:
    """Upstream's spelling of a duration given in seconds."""
    return format_duration_ms(round(seconds * 1000))


Duration = Annotated[float, BeforeValidator(_parse), PlainSerializer(format_seconds)]
