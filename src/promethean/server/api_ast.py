"""``/api/v1/parse_query``: a syntax tree as the JSON the Prometheus 3.x UI's tree view reads.

The shape (node ``type`` names, ``matchers`` as name/value/type objects,
durations in milliseconds, ``null`` for absent parameters) is upstream's, so
its UI and tools built on it (PromLens-style explainers) work unchanged.
"""

from __future__ import annotations

from typing import Any

from promethean.model.matchers import Matcher, MatchType
from promethean.promql import ast
from promethean.promql.printer import format_expr
from promethean.server.api_json import format_sample_value

__all__ = ["ast_to_json"]


def _matchers(matchers: tuple[Matcher, ...]) -> list[dict[str, str]]:
    return [{"name": m.name, "value": m.value, "type": m.type.value} for m in matchers]


def _ordered(vs: ast.VectorSelector) -> tuple[Matcher, ...]:
    """Upstream appends the matcher for a name written outside the braces last."""
    if not vs.name:
        return vs.matchers
    for i, m in enumerate(vs.matchers):
        if m.name == "__name__" and m.type is MatchType.EQUAL and m.value == vs.name:
            return (*vs.matchers[:i], *vs.matchers[i + 1 :], m)
    return vs.matchers


def _selector(vs: ast.VectorSelector) -> dict[str, Any]:
    return {
        "name": vs.name,
        "offset": vs.offset_ms,
        "matchers": _matchers(_ordered(vs)),
        "timestamp": vs.timestamp_ms,
        "startOrEnd": vs.start_or_end,
        "anchored": vs.anchored,
        "smoothed": vs.smoothed,
    }


def ast_to_json(node: ast.Expr | None) -> Any:
    """One node and its children as plain JSON values."""
    if node is None:
        return None
    if isinstance(node, ast.AggregateExpr):
        return {
            "type": "aggregation",
            "op": node.op,
            "expr": ast_to_json(node.expr),
            "param": ast_to_json(node.param),
            "grouping": list(node.grouping),
            "without": node.without,
        }
    if isinstance(node, ast.BinaryExpr):
        matching: dict[str, Any] | None = None
        vm = node.matching
        if vm is not None:
            matching = {
                "card": vm.card.value,
                "labels": list(vm.matching_labels),
                "on": vm.on,
                "include": list(vm.include),
                "fillValues": {"lhs": vm.fill_left, "rhs": vm.fill_right},
            }
        return {
            "type": "binaryExpr",
            "op": node.op,
            "lhs": ast_to_json(node.lhs),
            "rhs": ast_to_json(node.rhs),
            "matching": matching,
            "bool": node.return_bool,
        }
    if isinstance(node, ast.Call):
        fn = node.func
        return {
            "type": "call",
            "func": {
                "name": fn.name,
                "argTypes": [t.value for t in fn.arg_types],
                "variadic": fn.variadic,
                "returnType": fn.return_type.value,
            },
            "args": [ast_to_json(a) for a in node.args],
        }
    if isinstance(node, ast.MatrixSelector):
        out: dict[str, Any] = {"type": "matrixSelector"}
        sel = _selector(node.vector_selector)
        out["name"] = sel.pop("name")
        out["range"] = node.range_ms
        out.update(sel)
        return out
    if isinstance(node, ast.SubqueryExpr):
        return {
            "type": "subquery",
            "expr": ast_to_json(node.expr),
            "range": node.range_ms,
            "offset": node.offset_ms,
            "step": node.step_ms,
            "timestamp": node.timestamp_ms,
            "startOrEnd": node.start_or_end,
        }
    if isinstance(node, ast.NumberLiteral):
        return {"type": "numberLiteral", "val": format_sample_value(node.value)}
    if isinstance(node, ast.ParenExpr):
        return {"type": "parenExpr", "expr": ast_to_json(node.expr)}
    if isinstance(node, ast.StringLiteral):
        return {"type": "stringLiteral", "val": node.value}
    if isinstance(node, ast.UnaryExpr):
        return {"type": "unaryExpr", "op": node.op, "expr": ast_to_json(node.expr)}
    if isinstance(node, ast.VectorSelector):
        return {"type": "vectorSelector", **_selector(node)}
    # A duration expression standing as a value (promql-duration-expr): its text.
    return {"type": "numberLiteral", "val": format_expr(node)}
