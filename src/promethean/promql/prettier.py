"""Multi-line PromQL, as upstream's ``/api/v1/format_query`` and the UI's "format" button write it.

Upstream's rule, kept here so that formatted queries diff cleanly against
ones formatted by Prometheus: a node whose one-line form (``String()``) is at
most 100 bytes stays on one line; a longer one is split, and its children are
laid out the same way one level deeper (two spaces per level):

* aggregation: ``sum by (job) (`` / parameter, / expression / ``)``;
* binary operation: left side one level deeper, the operator (with ``bool``
  and the matching clause) at the node's own level, right side one level deeper;
* function call: ``name(`` / one argument per line, comma-terminated / ``)``;
* parentheses: ``(`` / expression / ``)``;
* subquery: the inner expression laid out at the same level, the
  ``[range:step]`` suffix glued to its last line;
* unary minus: the operator glued to its operand's layout;
* selectors and literals are never split.

Every piece of text comes from the one-line printer, so this module adds
layout only, never a second spelling of the syntax.
"""

from __future__ import annotations

from promethean.promql.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Expr,
    ParenExpr,
    SubqueryExpr,
    UnaryExpr,
)
from promethean.promql.printer import format_expr

__all__ = ["MAX_CHARACTERS_PER_LINE", "prettify"]

MAX_CHARACTERS_PER_LINE = 100
_INDENT = "  "


def prettify(expr: Expr, max_chars: int = MAX_CHARACTERS_PER_LINE) -> str:
    """``expr`` laid out over several lines where its one-line form is too long."""
    return _Layout(max_chars).pretty(expr, 0)


class _Layout:
    def __init__(self, max_chars: int) -> None:
        self._max = max_chars

    def _split(self, text: str) -> bool:
        # Go measures the string in bytes.
        return len(text.encode()) > self._max

    def pretty(self, node: Expr, level: int) -> str:
        pad = _INDENT * level
        text = format_expr(node)
        if isinstance(node, UnaryExpr):
            return f"{pad}{node.op}{self.pretty(node.expr, level).strip()}"
        if isinstance(node, SubqueryExpr):
            if not self._split(text):
                return text  # upstream adds no indent here
            inner = format_expr(node.expr)
            return self.pretty(node.expr, level) + text[len(inner) :]
        if not self._split(text):
            return pad + text
        if isinstance(node, AggregateExpr):
            param = f"{format_expr(node.param)}, " if node.param is not None else ""
            head = text[: len(text) - len(f"({param}{format_expr(node.expr)})")]
            out = f"{pad}{head}(\n"
            if node.param is not None:
                out += f"{self.pretty(node.param, level + 1)},\n"
            return out + f"{self.pretty(node.expr, level + 1)}\n{pad})"
        if isinstance(node, BinaryExpr):
            lhs, rhs = format_expr(node.lhs), format_expr(node.rhs)
            middle = text[len(lhs) + 1 : len(text) - len(rhs) - 1]  # "op bool on (x)"
            return (
                f"{self.pretty(node.lhs, level + 1)}\n{pad}{middle}\n"
                f"{self.pretty(node.rhs, level + 1)}"
            )
        if isinstance(node, Call):
            args = ",\n".join(self.pretty(a, level + 1) for a in node.args)
            return f"{pad}{node.func.name}(\n{args}\n{pad})"
        if isinstance(node, ParenExpr):
            return f"{pad}(\n{self.pretty(node.expr, level + 1)}\n{pad})"
        return pad + text
