"""Loading config files into pydantic models with errors operators can act on.

Every component's config goes through :func:`load_config`: it yields either a
validated model or a :class:`ConfigError` whose message names the file, the
line and column, the dotted field path and what was wrong. Messages never echo
a submitted value for fields that may hold secrets: pydantic's ``input`` is
never included.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from promethean.config.yamlpos import Positions, YAMLError, load_yaml

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A config file that cannot be used; the message is safe to show and log."""


class ConfigModel(BaseModel):
    """Base of every config schema: unknown fields are errors, as upstream."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _message(err: Any) -> str:
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "field is required"
    msg = str(err.get("msg", "invalid value"))
    # pydantic prefixes custom errors with "Value error, "; drop the noise.
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return msg


def _strip_union_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # pydantic inserts type names ("function-plain[...]", "str") into locations
    # of union members; they are not part of the document.
    return tuple(p for p in loc if isinstance(p, int) or ("[" not in p and p not in {"str", "int"}))


def format_validation_error(exc: ValidationError, positions: Positions) -> str:
    lines = []
    for err in exc.errors(include_input=False, include_url=False):
        loc = _strip_union_tags(tuple(err["loc"]))
        where = positions.locate(loc)
        field = _dotted(loc)
        lines.append(f"{where}: {field + ': ' if field else ''}{_message(err)}")
    return "\n".join(lines)


def parse_config(
    model: type[M], text: str, file: str = "<input>", context: dict[str, Any] | None = None
) -> M:
    """Validate YAML text against ``model``; raises :class:`ConfigError`."""
    try:
        data, positions = load_yaml(text, file)
    except YAMLError as exc:
        raise ConfigError(str(exc)) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{file}:1:1: top level must be a mapping, not {type(data).__name__}")
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, positions)) from None


def load_config(model: type[M], path: str | FsPath, context: dict[str, Any] | None = None) -> M:
    """Read and validate a config file. ``context["base_dir"]`` is its directory."""
    path = FsPath(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: config file is not valid UTF-8") from None
    ctx = {"base_dir": path.parent, **(context or {})}
    return parse_config(model, text, str(path), ctx)


def render_yaml(model: BaseModel) -> str:
    """Render a config back to YAML: everything round-trips but secrets, which show as <secret>."""
    data = model.model_dump(mode="json", exclude_none=True, by_alias=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
