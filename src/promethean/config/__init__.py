"""Config loading shared by every component: YAML with positions, the Secret type.

Public surface: :class:`ConfigModel` (schema base), :func:`load_config` /
:func:`parse_config` (validated models or :class:`ConfigError` with
``file:line:col``), :func:`render_yaml` (secrets masked), :class:`Secret`.
"""

from promethean.config.loader import (
    ConfigError,
    ConfigModel,
    load_config,
    parse_config,
    render_yaml,
)
from promethean.config.secret import MASK, Secret, read_secret_file, register_secret, scrub

__all__ = [
    "MASK",
    "ConfigError",
    "ConfigModel",
    "Secret",
    "load_config",
    "parse_config",
    "read_secret_file",
    "register_secret",
    "render_yaml",
    "scrub",
]
