"""PromQL: lexer, parser, syntax tree, printer and the safe query builder.

``parse_expr(text)`` gives a syntax tree (``promethean.promql.ast``) or raises
``PromQLParseError`` with upstream's message; ``format_expr(tree)`` prints the
canonical text; ``escape_label_value`` and ``build_selector`` build queries
from untrusted input that can only ever be one vector selector.
"""

from promethean.promql.ast import Expr, ValueType
from promethean.promql.errors import PromQLParseError
from promethean.promql.escape import build_selector, escape_label_value, selector
from promethean.promql.parser import (
    ALL_FEATURES,
    ParserOptions,
    parse_expr,
    parse_metric_selector,
)
from promethean.promql.printer import format_expr

__all__ = [
    "ALL_FEATURES",
    "Expr",
    "ParserOptions",
    "PromQLParseError",
    "ValueType",
    "build_selector",
    "escape_label_value",
    "format_expr",
    "parse_expr",
    "parse_metric_selector",
    "selector",
]
