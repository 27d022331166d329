"""The one error the PromQL front end raises.

Every syntax and type problem in a query surfaces as :class:`PromQLParseError`,
rendered exactly like upstream's ``ParseErr``: ``<line>:<column>: parse error:
<message>``, with a 1-based line and a 1-based *byte* column, so the HTTP API
can return it as ``bad_data`` and tools that grep upstream messages keep working.
"""

from __future__ import annotations

from promethean.model.errors import ParseError

__all__ = ["PromQLParseError"]


class PromQLParseError(ParseError):
    """A query that does not parse or type-check; ``str()`` is upstream's text."""

    def __init__(self, message: str, query: str, pos: int, line_offset: int = 0) -> None:
        line, column = _line_and_column(query, pos, line_offset)
        super().__init__(message, line, column)
        self.query = query
        self.pos = pos

    def __str__(self) -> str:
        return f"{self.line}:{self.column}: parse error: {self.message}"


def _line_and_column(query: str, pos: int, line_offset: int) -> tuple[int, int]:
    pos = max(0, min(pos, len(query)))
    before = query[:pos]
    line = line_offset + 1 + before.count("\n")
    last_break = before.rfind("\n")
    # Go counts bytes, not characters: keep the column comparable with upstream's.
    column = len(before[last_break + 1 :].encode("utf-8", "surrogateescape")) + 1
    return line, column
