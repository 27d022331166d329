"""Errors raised by the model package's parsers.

Every exposition parser raises :class:`ParseError` for bad input and nothing
else, so callers (scrape loop, pushgateway, ``tool check metrics``) need one
``except`` clause and can always tell the user where the problem is.
"""

from __future__ import annotations


class ParseError(ValueError):
    """Bad input, with the 1-based line and column where it was found."""

    def __init__(self, message: str, line: int = 0, column: int = 0) -> None:
        self.message = message
        self.line = line
        self.column = column
        where = f"{line}:{column}: " if line else ""
        super().__init__(f"{where}{message}")
