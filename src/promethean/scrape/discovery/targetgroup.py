"""Target groups: what every discovery mechanism produces, and ``static_configs``.

A group is a source (which file, which URL, which static entry), a list of
targets (each a label set holding at least ``__address__``) and labels shared
by all of them. Providers replace whole groups by source: a group with no
targets under a known source means "that source is now empty", which is how a
vanished file's targets go away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import Field, field_validator

from promethean.config import ConfigModel
from promethean.model.names import is_valid_label_name

__all__ = ["StaticConfig", "TargetGroup", "check_label_set"]

ADDRESS_LABEL = "__address__"


@dataclass(frozen=True)
class TargetGroup:
    """One discovered group; ``targets`` are label dicts with ``__address__``."""

    source: str
    targets: list[dict[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)


def check_label_set(labels: dict[Any, Any]) -> dict[str, str]:
    """Validate a label mapping read from YAML/JSON: names valid, values strings (null = "")."""
    out: dict[str, str] = {}
    for name, value in labels.items():
        if not isinstance(name, str) or not is_valid_label_name(name):
            raise ValueError(f'"{name}" is not a valid label name')
        if value is None:
            value = ""
        if not isinstance(value, str):
            if isinstance(value, bool | int | float):
                # YAML scalars decode to strings in Go's LabelSet; keep Go's spelling.
                value = _go_scalar(value)
            else:
                raise ValueError(f'label "{name}": value must be a string')
        out[name] = value
    return out


def _go_scalar(value: bool | int | float) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class StaticConfig(ConfigModel):
    """One ``static_configs`` entry: targets (addresses) and labels for all of them."""

    targets: list[str] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)

    @field_validator("targets", mode="before")
    @classmethod
    def _targets(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, list):
            return [_go_scalar(v) if isinstance(v, bool | int | float) else v for v in value]
        return value

    @field_validator("labels", mode="before")
    @classmethod
    def _labels(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValueError("labels must be a mapping of label names to values")
        return check_label_set(value)

    def group(self, source: str) -> TargetGroup:
        return TargetGroup(
            source=source,
            targets=[{ADDRESS_LABEL: t} for t in self.targets],
            labels=dict(self.labels),
        )
