"""Go text/template for promethean: notification templates and rule annotations.

Users' Alertmanager and Prometheus templates must keep working unchanged, so
this is a re-implementation of Go's template language and its formatting
rules, plus the two function sets upstream adds (Alertmanager's and the rules
engine's). Public surface:

- ``Template``, ``Limits``: parse once, execute many times, with bounds.
- ``TemplateError`` (``TemplateParseError``, ``TemplateExecError``).
- ``FuncError``: raise it from a custom function to report ``error calling``.
- ``GoTime``, ``GoDuration``: Go's ``time.Time``/``time.Duration`` behaviour.
- ``MISSING``: Go's "no value".

Alertmanager's data model and functions live in ``alertmanager_funcs``, the
rules side in ``prometheus_funcs``.
"""

from promethean.template.engine import Template
from promethean.template.errors import (
    FuncError,
    TemplateError,
    TemplateExecError,
    TemplateParseError,
)
from promethean.template.exec import Limits
from promethean.template.gofmt import MISSING
from promethean.template.gotime import GoDuration, GoTime

__all__ = [
    "MISSING",
    "FuncError",
    "GoDuration",
    "GoTime",
    "Limits",
    "Template",
    "TemplateError",
    "TemplateExecError",
    "TemplateParseError",
]
