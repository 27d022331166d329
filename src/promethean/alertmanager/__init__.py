"""The Alertmanager: ``promethean alertmanager``, config- and API-compatible with upstream's.

Modules, one concern each: ``config`` (alertmanager.yml), ``matchers``,
``route``, ``inhibit``, ``timeinterval``, ``check`` (configuration and
routing); ``alerts`` (the alert store), ``silences``, ``nflog``
(notification log), ``store`` (durable append-only logs), ``api`` (API v2)
and ``main`` (the command).
"""
