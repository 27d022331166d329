"""The ``Secret`` type every secret config field of every component uses.

A secret must never be shown: not when config is rendered (API, UI), not in
a log line, not in an error message (SECURITY-MODEL K1, K2). Two mechanisms
guarantee that:

* ``Secret`` renders as ``<secret>`` in ``str``, ``repr``, ``format`` and in
  pydantic serialisation, so printing a config can only show the mask.
* Every secret value that is loaded is added to a process-wide registry that
  the logging filter (``promethean.logs``) consults, so a secret that leaks
  into a message through some other path (an exception from a library that
  echoes its input, say) is still masked before the line is written.

The registry is the one deliberate piece of global state here: a log filter
cannot be handed every config object that will ever be loaded.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

MASK = "<secret>"

# Secrets shorter than this are not scrubbed from free text: masking every "a"
# in a log line would destroy the line and reveal the secret by its absence.
_MIN_SCRUB_LEN = 4

_lock = threading.Lock()
_known: set[str] = set()
_known_sorted: tuple[str, ...] = ()


def register_secret(value: str) -> None:
    """Remember a secret value so that log output can be scrubbed of it."""
    global _known_sorted
    if len(value) < _MIN_SCRUB_LEN or value in _known:
        return
    with _lock:
        _known.add(value)
        # Longest first, so a secret that contains another is masked whole.
        _known_sorted = tuple(sorted(_known, key=len, reverse=True))


def scrub(text: str) -> str:
    """Replace every registered secret value in ``text`` with the mask."""
    for value in _known_sorted:
        if value in text:
            text = text.replace(value, MASK)
    return text


class Secret:
    """A string that is never shown. Use :meth:`reveal` where the value is needed."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Secret:
            if isinstance(value, Secret):
                return value
            if isinstance(value, str):
                return cls(value)
            # Deliberately does not echo the value: it is a secret.
            raise ValueError("must be a string")

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda _v: MASK, when_used="always"
            ),
        )


def read_secret_file(path: str | Path) -> Secret:
    """Read a ``*_file`` secret. Errors name the file, never its content."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"unable to read secret file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ValueError(f"secret file {path} is not valid UTF-8") from None
    # Upstream trims surrounding whitespace (a trailing newline is the norm).
    return Secret(text.strip())
