"""The template package's exceptions.

``TemplateError`` is the only thing callers need to catch. Its text is Go's,
byte for byte where we know it (``template: name:3: unexpected "}" in operand``,
``template: name:1:5: executing "name" at <.Foo>: ...``), because operators grep
logs and compare with upstream; it never carries a Python traceback.

- ``TemplateParseError``: bad template source (raised by ``parse``).
- ``TemplateExecError``: a failure while executing (raised by ``execute``),
  including the resource limits that stop hostile templates.
"""

from __future__ import annotations


class TemplateError(Exception):
    """Any template failure; ``str()`` is the user-facing message."""


class TemplateParseError(TemplateError):
    pass


class TemplateExecError(TemplateError):
    pass


class FuncError(Exception):
    """Raised by template functions; the executor wraps it as ``error calling NAME: ...``."""
