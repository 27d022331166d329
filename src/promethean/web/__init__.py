"""The one HTTP layer every promethean server uses.

Public surface:

* :class:`WebServer`, :func:`add_web_flags`, :func:`web_options`,
  :class:`WebOptions`, :func:`validate_web_config_file`: serving an aiohttp app
  under ``--web.listen-address`` / ``--web.config.file`` and friends.
* :func:`read_body`, :func:`plain_error`: per-route body limits (413) and
  Go-style plain-text errors; :func:`client_identity` for audit log lines.
* :func:`api_success`, :func:`api_error`, :data:`ERROR_STATUS`, :func:`dumps`:
  the Prometheus JSON envelope.
* :class:`WebConfig`, :func:`load_web_config`, :func:`parse_web_config`:
  the web config schema.
* :func:`build_ssl_context`: the TLS context for a ``tls_server_config``.
"""

from promethean.web.envelope import ERROR_STATUS, api_error, api_success, dumps
from promethean.web.middleware import client_identity, plain_error, read_body
from promethean.web.server import (
    WebOptions,
    WebServer,
    add_web_flags,
    mount_under_prefix,
    validate_web_config_file,
    web_options,
)
from promethean.web.tlscontext import TLSSetupError, build_ssl_context
from promethean.web.webconfig import WebConfig, load_web_config, parse_web_config

__all__ = [
    "ERROR_STATUS",
    "TLSSetupError",
    "WebConfig",
    "WebOptions",
    "WebServer",
    "add_web_flags",
    "api_error",
    "api_success",
    "build_ssl_context",
    "client_identity",
    "dumps",
    "load_web_config",
    "mount_under_prefix",
    "parse_web_config",
    "plain_error",
    "read_body",
    "validate_web_config_file",
    "web_options",
]
