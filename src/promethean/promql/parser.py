"""PromQL text to syntax tree: a precedence-climbing recursive-descent parser.

Two phases, as upstream: the syntax phase builds the tree and reports what the
grammar rejects (in source order); the check phase then walks the finished tree
for type errors (``expected type range vector in call to function "rate", got
instant vector``) and normalises vector matching. Only the first error is
raised, so the message a user sees is the one upstream puts first.

Binary precedence, lowest first: ``or``; ``and unless``; comparisons; ``+ -``;
``* / % atan2``; ``^`` (right-associative). Unary ``-``/``+`` binds looser
than ``^`` and tighter than ``*``. Postfix modifiers (``[range]``,
``[range:step]``, ``offset``, ``@``, ``anchored``, ``smoothed``) bind tightest.

Experimental syntax is rejected unless enabled in :class:`ParserOptions`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from typing import NoReturn

from promethean.model.durations import parse_duration_ms
from promethean.model.matchers import Matcher, MatchType
from promethean.model.names import is_valid_legacy_label_name, promql_quote
from promethean.promql import lexer as lx
from promethean.promql.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    DurationExpr,
    DurationNode,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    ValueType,
    VectorMatching,
    VectorSelector,
    documented_type,
)
from promethean.promql.durations import duration_to_ms, eval_duration
from promethean.promql.errors import PromQLParseError
from promethean.promql.functions import EXPERIMENTAL_AGGREGATIONS, get_function
from promethean.promql.lexer import Token

__all__ = ["ALL_FEATURES", "ParserOptions", "parse_expr", "parse_metric_selector"]


@dataclass(frozen=True, slots=True)
class ParserOptions:
    """Experimental syntax switches (upstream's ``--enable-feature`` names in the docs)."""

    enable_experimental_functions: bool = False  # promql-experimental-functions
    enable_duration_expressions: bool = False  # promql-duration-expr
    enable_extended_range_selectors: bool = False  # promql-extended-range-selectors
    enable_binop_fill_modifiers: bool = False  # promql-binop-fill-modifiers


DEFAULT_OPTIONS = ParserOptions()
ALL_FEATURES = ParserOptions(True, True, True, True)

_BIN_PREC = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    "<=": 3,
    "<": 3,
    ">=": 3,
    ">": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "atan2": 5,
    "</": 5,
    ">/": 5,
    "^": 6,
}
_UNARY_OPERAND_PREC = 6
_COMPARISONS = frozenset({"==", "!=", "<=", "<", ">=", ">"})
_SET_OPS = frozenset({"and", "or", "unless"})
_PARAM_AGGREGATIONS = frozenset({"topk", "bottomk", "quantile", "limitk", "limit_ratio"})
_MATCH_OPS = {"=": MatchType.EQUAL, "!=": MatchType.NOT_EQUAL, "=~": MatchType.REGEX}
_MATCH_OPS["!~"] = MatchType.NOT_REGEX
# Keywords that may also name a metric when they stand where an expression starts.
_NAME_KEYWORDS = frozenset({"by", "offset", "without", "and", "or", "unless"})
_GROUP_LABEL_KINDS = frozenset({lx.IDENTIFIER, lx.METRIC_IDENTIFIER, lx.KEYWORD, lx.AGGR, lx.OP})
_DURATION_FUNCS = frozenset({"step", "range", "start", "end", "min_of", "max_of"})
_DUR_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2, "^": 3}
_OCTAL = re.compile(r"0[0-7_]+")
_TARGET_ERR = (
    "modifier must be preceded by an instant vector selector or range vector selector or a subquery"
)


def parse_expr(query: str, options: ParserOptions | None = None) -> Expr:
    """Parse and type-check a query; raises :class:`PromQLParseError`."""
    p = _Parser(query, options or DEFAULT_OPTIONS)
    if p.peek().kind == lx.EOF:
        p.fail("no expression found in input", 0)
    try:
        expr = p.expr(0)
        tok = p.peek()
        if tok.kind != lx.EOF:
            p.unexpected(tok)
        return p.check(expr)
    except RecursionError:
        # Python's stack, unlike Go's, is bounded: refuse, never crash.
        p.fail("expression nested too deeply", 0)


def parse_metric_selector(query: str) -> tuple[Matcher, ...]:
    """Parse a series selector such as the API's ``match[]``: matchers only."""
    p = _Parser(query, DEFAULT_OPTIONS)
    tok = p.next()
    if tok.kind in (lx.IDENTIFIER, lx.METRIC_IDENTIFIER, lx.AGGR, lx.KEYWORD):
        vs = p.vector_selector(tok.val, tok.pos)
    elif tok.kind == lx.LEFT_BRACE:
        vs = p.vector_selector("", tok.pos, brace_taken=True)
    else:
        p.unexpected(tok)
    end = p.peek()
    if end.kind != lx.EOF:
        p.unexpected(end)
    p.check(vs)
    return vs.matchers


class _Parser:
    __slots__ = ("i", "last_end", "opts", "query", "toks")

    def __init__(self, query: str, opts: ParserOptions) -> None:
        self.query = query
        self.toks = lx.lex(query)
        self.i = 0
        self.opts = opts
        self.last_end = 0

    # -- token helpers -------------------------------------------------------

    def peek(self, ahead: int = 0) -> Token:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def next(self) -> Token:
        tok = self.toks[self.i]
        if tok.kind not in (lx.EOF, lx.ERROR):
            self.i += 1
            self.last_end = tok.pos + len(tok.val)
        return tok

    def fail(self, message: str, pos: int) -> NoReturn:
        raise PromQLParseError(message, self.query, pos)

    def unexpected(self, tok: Token, context: str = "", expected: str = "") -> NoReturn:
        if tok.kind == lx.ERROR:
            self.fail(tok.val, tok.pos)
        msg = "unexpected " + lx.describe(tok)
        if context:
            msg += " in " + context
        if expected:
            msg += ", expected " + expected
        self.fail(msg, tok.pos)

    def expect(self, kind: str, context: str = "", expected: str = "") -> Token:
        tok = self.next()
        if tok.kind != kind:
            self.unexpected(tok, context, expected)
        return tok

    # -- expressions ---------------------------------------------------------

    def expr(self, min_prec: int) -> Expr:
        left = self.unary()
        while True:
            tok = self.peek()
            if tok.kind != lx.OP:
                return left
            op = tok.val.lower()
            prec = _BIN_PREC.get(op)
            if prec is None or prec < min_prec:
                return left
            self.next()
            matching, return_bool = self.bin_modifiers()
            rhs = self.expr(prec if op == "^" else prec + 1)
            left = BinaryExpr(
                op,
                left,
                rhs,
                matching,
                return_bool,
                pos=(left.pos[0], rhs.pos[1]),
                op_pos=tok.pos,
            )

    def unary(self) -> Expr:
        tok = self.peek()
        if tok.kind == lx.OP and tok.val in ("-", "+"):
            self.next()
            operand = self.expr(_UNARY_OPERAND_PREC)
            pos = (tok.pos, operand.pos[1])
            if isinstance(operand, NumberLiteral):
                value = -operand.value if tok.val == "-" else operand.value
                return NumberLiteral(value, operand.duration, pos=pos)
            return UnaryExpr(tok.val, operand, pos=pos)
        return self.postfix(self.primary())

    def primary(self) -> Expr:
        tok = self.next()
        kind = tok.kind
        if kind == lx.NUMBER:
            return NumberLiteral(self.number(tok), pos=(tok.pos, self.last_end))
        if kind == lx.DURATION:
            ms = self.duration_token(tok)
            return NumberLiteral(ms / 1000.0, True, pos=(tok.pos, self.last_end))
        if kind == lx.STRING:
            return StringLiteral(lx.unquote_string(tok.val), pos=(tok.pos, self.last_end))
        if kind == lx.LEFT_PAREN:
            inner = self.expr(0)
            self.expect(lx.RIGHT_PAREN)
            return ParenExpr(inner, pos=(tok.pos, self.last_end))
        if kind == lx.LEFT_BRACE:
            return self.vector_selector("", tok.pos, brace_taken=True)
        if kind == lx.IDENTIFIER:
            if self.peek().kind == lx.LEFT_PAREN:
                if tok.val.lower() in _DURATION_FUNCS and get_function(tok.val) is None:
                    return self.duration_call(tok)
                return self.call(tok)
            return self.vector_selector(tok.val, tok.pos)
        if kind == lx.METRIC_IDENTIFIER:
            return self.vector_selector(tok.val, tok.pos)
        if kind == lx.AGGR:
            nxt = self.peek()
            if nxt.kind == lx.LEFT_PAREN or (
                nxt.kind == lx.KEYWORD and nxt.val.lower() in ("by", "without")
            ):
                return self.aggregate(tok)
            if nxt.kind in (lx.IDENTIFIER, lx.METRIC_IDENTIFIER, lx.NUMBER, lx.STRING):
                self.unexpected(nxt, "aggregation")
            return self.vector_selector(tok.val, tok.pos)
        if kind in (lx.KEYWORD, lx.OP) and tok.val.lower() in _NAME_KEYWORDS:
            return self.vector_selector(tok.val, tok.pos)
        self.unexpected(tok)

    def number(self, tok: Token) -> float:
        text = tok.val
        low = text.lower()
        if low == "inf":
            return math.inf
        if low == "nan":
            return math.nan
        try:
            if _OCTAL.fullmatch(text):
                return float(int(text, 8))
            return float(int(text, 0))
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            self.fail(
                f"error parsing number: strconv.ParseFloat: parsing {promql_quote(text)}: "
                "invalid syntax",
                tok.pos,
            )
        if math.isinf(value):
            self.fail(
                f"error parsing number: strconv.ParseFloat: parsing {promql_quote(text)}: "
                "value out of range",
                tok.pos,
            )
        return value

    def duration_token(self, tok: Token) -> int:
        try:
            ms = parse_duration_ms(tok.val)
        except ValueError as err:
            self.fail(str(err), tok.pos)
        return ms

    # -- selectors -----------------------------------------------------------

    def vector_selector(self, name: str, start: int, brace_taken: bool = False) -> VectorSelector:
        matchers: list[Matcher] = []
        if brace_taken or self.peek().kind == lx.LEFT_BRACE:
            if not brace_taken:
                self.next()
            name = self.label_matchers(matchers, name)
        if name:
            matchers.append(Matcher("__name__", MatchType.EQUAL, name))
        matchers.sort(key=str)
        return VectorSelector(name, tuple(matchers), pos=(start, self.last_end))

    def label_matchers(self, out: list[Matcher], name: str) -> str:
        """Matchers after ``{`` up to ``}``; returns the metric name (maybe quoted inside)."""
        while True:
            tok = self.next()
            if tok.kind == lx.RIGHT_BRACE:
                return name
            if tok.kind == lx.IDENTIFIER:
                label = tok.val
            elif tok.kind == lx.STRING:
                label = lx.unquote_string(tok.val)
                if not self._is_match_op(self.peek()):
                    if name:
                        out.append(Matcher("__name__", MatchType.EQUAL, label))
                    else:
                        name = label
                    label = ""
            else:
                self.unexpected(tok, "label matching", 'identifier or "}"')
            if label:
                op = self.next()
                if not self._is_match_op(op):
                    self.unexpected(op, "label matching", "label matching operator")
                val = self.next()
                if val.kind != lx.STRING:
                    self.unexpected(val, "label matching", "string")
                try:
                    out.append(Matcher(label, _MATCH_OPS[op.val], lx.unquote_string(val.val)))
                except ValueError as err:
                    self.fail(str(err), tok.pos)
            sep = self.next()
            if sep.kind == lx.RIGHT_BRACE:
                return name
            if sep.kind != lx.COMMA:
                self.unexpected(sep, "label matching", '"," or "}"')

    @staticmethod
    def _is_match_op(tok: Token) -> bool:
        return tok.kind == lx.EQL or (tok.kind == lx.OP and tok.val in _MATCH_OPS)

    # -- calls and aggregations ----------------------------------------------

    def call(self, name_tok: Token) -> Call:
        self.next()  # "("
        args = self.call_args()
        fn = get_function(name_tok.val)
        if fn is None:
            self.fail(f"unknown function with name {promql_quote(name_tok.val)}", name_tok.pos)
        if fn.experimental and not self.opts.enable_experimental_functions:
            self.fail(f"function {promql_quote(name_tok.val)} is not enabled", name_tok.pos)
        return Call(fn, tuple(args), pos=(name_tok.pos, self.last_end))

    def call_args(self) -> list[Expr]:
        """Arguments after ``(`` up to and including ``)``."""
        args: list[Expr] = []
        if self.peek().kind == lx.RIGHT_PAREN:
            self.next()
            return args
        while True:
            args.append(self.expr(0))
            tok = self.next()
            if tok.kind == lx.RIGHT_PAREN:
                return args
            if tok.kind != lx.COMMA:
                self.unexpected(tok)
            if self.peek().kind == lx.RIGHT_PAREN:
                self.fail("trailing commas not allowed in function call args", tok.pos)

    def aggregate(self, op_tok: Token) -> AggregateExpr:
        op = op_tok.val.lower()
        grouping: tuple[str, ...] | None = None
        without = False
        nxt = self.peek()
        if nxt.kind == lx.KEYWORD:
            self.next()
            without = nxt.val.lower() == "without"
            grouping = self.grouping_labels()
        body = self.next()
        if body.kind != lx.LEFT_PAREN:
            self.unexpected(body, "aggregation")
        args = self.call_args()
        nxt = self.peek()
        if grouping is None and nxt.kind == lx.KEYWORD and nxt.val.lower() in ("by", "without"):
            self.next()
            without = nxt.val.lower() == "without"
            grouping = self.grouping_labels()
        pos = (op_tok.pos, self.last_end)
        if op in EXPERIMENTAL_AGGREGATIONS and not self.opts.enable_experimental_functions:
            self.fail(
                "limitk() and limit_ratio() are experimental and must be enabled with "
                "--enable-feature=promql-experimental-functions",
                op_tok.pos,
            )
        if not args:
            self.fail("no arguments for aggregate expression provided", op_tok.pos)
        want = 2 if op in _PARAM_AGGREGATIONS or op == "count_values" else 1
        if len(args) != want:
            self.fail(
                "wrong number of arguments for aggregate expression provided, "
                f"expected {want}, got {len(args)}",
                op_tok.pos,
            )
        param = args[0] if want == 2 else None
        return AggregateExpr(op, args[-1], param, grouping or (), without, pos=pos)

    def grouping_labels(self) -> tuple[str, ...]:
        self.expect(lx.LEFT_PAREN, "grouping opts", '"("')
        labels: list[str] = []
        if self.peek().kind == lx.RIGHT_PAREN:
            self.next()
            return ()
        while True:
            tok = self.next()
            if tok.kind == lx.STRING:
                label = lx.unquote_string(tok.val)
                if not label:
                    self.unexpected(tok, "grouping opts", "label")
            elif tok.kind in _GROUP_LABEL_KINDS and is_valid_legacy_label_name(tok.val):
                label = tok.val
            else:
                self.unexpected(tok, "grouping opts", "label")
            labels.append(label)
            sep = self.next()
            if sep.kind == lx.RIGHT_PAREN:
                return tuple(labels)
            if sep.kind != lx.COMMA:
                self.unexpected(sep, "grouping opts", '"," or ")"')
            if self.peek().kind == lx.RIGHT_PAREN:
                self.next()
                return tuple(labels)

    # -- binary operator modifiers -------------------------------------------

    def bin_modifiers(self) -> tuple[VectorMatching, bool]:
        return_bool = False
        card = Cardinality.ONE_TO_ONE
        on = False
        labels: tuple[str, ...] = ()
        include: tuple[str, ...] = ()
        tok = self.peek()
        if tok.kind == lx.KEYWORD and tok.val.lower() == "bool":
            self.next()
            return_bool = True
            tok = self.peek()
        if tok.kind == lx.KEYWORD and tok.val.lower() in ("on", "ignoring"):
            self.next()
            on = tok.val.lower() == "on"
            labels = self.grouping_labels()
            tok = self.peek()
            if tok.kind == lx.KEYWORD and tok.val.lower() in ("group_left", "group_right"):
                self.next()
                left = tok.val.lower() == "group_left"
                card = Cardinality.MANY_TO_ONE if left else Cardinality.ONE_TO_MANY
                if self.peek().kind == lx.LEFT_PAREN:
                    include = self.grouping_labels()
        fill_left, fill_right = self.fill_modifiers()
        matching = VectorMatching(card, labels, on, include, fill_left, fill_right)
        return matching, return_bool

    def fill_modifiers(self) -> tuple[float | None, float | None]:
        fill_left: float | None = None
        fill_right: float | None = None
        while True:
            tok = self.peek()
            word = tok.val.lower()
            if not (
                tok.kind == lx.IDENTIFIER
                and word in ("fill", "fill_left", "fill_right")
                and self.peek(1).kind == lx.LEFT_PAREN
            ):
                return fill_left, fill_right
            if not self.opts.enable_binop_fill_modifiers:
                self.fail(f"{word} modifier is experimental and not enabled", tok.pos)
            self.next()
            self.next()
            value = self.signed_number(f"{word} modifier", "number")
            self.expect(lx.RIGHT_PAREN, f"{word} modifier", '")"')
            if word in ("fill", "fill_left"):
                if fill_left is not None:
                    self.fail("fill value for the left side may not be set multiple times", tok.pos)
                fill_left = value
            if word in ("fill", "fill_right"):
                if fill_right is not None:
                    self.fail(
                        "fill value for the right side may not be set multiple times", tok.pos
                    )
                fill_right = value

    def signed_number(self, context: str, expected: str) -> float:
        tok = self.next()
        sign = 1.0
        if tok.kind == lx.OP and tok.val in ("+", "-"):
            sign = -1.0 if tok.val == "-" else 1.0
            tok = self.next()
        if tok.kind == lx.NUMBER:
            return sign * self.number(tok)
        if tok.kind == lx.DURATION:
            return sign * self.duration_token(tok) / 1000.0
        self.unexpected(tok, context, expected)

    # -- postfix modifiers ---------------------------------------------------

    def postfix(self, expr: Expr) -> Expr:
        while True:
            tok = self.peek()
            kind = tok.kind
            if kind == lx.LEFT_BRACKET:
                expr = self.range_or_subquery(expr)
            elif kind == lx.KEYWORD and tok.val.lower() == "offset":
                self.next()
                expr = self.offset(expr, tok)
            elif kind == lx.OP and tok.val == "@":
                self.next()
                expr = self.at(expr, tok)
            elif (
                kind == lx.IDENTIFIER
                and tok.val.lower() in ("anchored", "smoothed")
                and isinstance(expr, VectorSelector | MatrixSelector)
            ):
                self.next()
                expr = self.extended_modifier(expr, tok)
            else:
                return expr

    def range_or_subquery(self, expr: Expr) -> Expr:
        lb = self.next()
        rng, rng_expr = self.bracket_duration()
        tok = self.next()
        if tok.kind == lx.COLON:
            step = 0
            step_expr = None
            if self.peek().kind != lx.RIGHT_BRACKET:
                step, step_expr = self.bracket_duration()
            self.expect(lx.RIGHT_BRACKET, "subquery selector", '"]"')
            return SubqueryExpr(
                expr,
                rng,
                step,
                rng_expr,
                step_expr,
                pos=(expr.pos[0], self.last_end),
            )
        if tok.kind != lx.RIGHT_BRACKET:
            self.unexpected(tok, "subquery or range", '":" or "]"')
        if not isinstance(expr, VectorSelector):
            self.fail("ranges only allowed for vector selectors", lb.pos)
        if rng <= 0 and rng_expr is None:
            self.fail("duration must be greater than 0", lb.pos + 1)
        if expr.offset_ms or expr.offset_expr is not None:
            self.fail("no offset modifiers allowed before range", lb.pos)
        if expr.timestamp_ms is not None or expr.start_or_end is not None:
            self.fail("no @ modifiers allowed before range", lb.pos)
        if expr.anchored or expr.smoothed:
            word = "anchored" if expr.anchored else "smoothed"
            self.fail(f"no {word} modifier allowed before range", lb.pos)
        return MatrixSelector(expr, rng, rng_expr, pos=(expr.pos[0], self.last_end))

    def bracket_duration(self) -> tuple[int, DurationExpr | None]:
        """A range or step: a literal, or (when enabled) a duration expression."""
        start = self.peek()
        node = self.duration_expr(0, "subquery or range", "number or duration")
        if isinstance(node, NumberLiteral):
            return round(node.value * 1000), None
        if not self.opts.enable_duration_expressions:
            self.fail("experimental duration expression is not enabled", start.pos)
        if node.is_constant:
            try:
                ms = duration_to_ms(eval_duration(node))
            except ValueError as err:
                self.fail(str(err), start.pos)
            if ms <= 0:
                self.fail("duration must be greater than 0", start.pos)
            return ms, node
        return 0, node

    def offset(self, expr: Expr, kw: Token) -> Expr:
        start = self.peek()
        node = self.duration_operand("offset", "number or duration")
        if isinstance(node, NumberLiteral):
            ms, dur_expr = round(node.value * 1000), None
        else:
            if not self.opts.enable_duration_expressions:
                self.fail("experimental duration expression is not enabled", start.pos)
            dur_expr = node
            ms = 0
            if node.is_constant:
                try:
                    ms = duration_to_ms(eval_duration(node))
                except ValueError as err:
                    self.fail(str(err), start.pos)
        target: VectorSelector | SubqueryExpr
        if isinstance(expr, VectorSelector | SubqueryExpr):
            target = expr
        elif isinstance(expr, MatrixSelector):
            target = expr.vector_selector
        else:
            self.fail(f"offset {_TARGET_ERR}", expr.pos[0])
        if target.offset_ms or target.offset_expr is not None:
            self.fail("offset may not be set multiple times", kw.pos)
        updated = replace(target, offset_ms=ms, offset_expr=dur_expr)
        return self._rewrap(expr, updated)

    def at(self, expr: Expr, at_tok: Token) -> Expr:
        tok = self.peek()
        timestamp: int | None = None
        start_or_end: str | None = None
        if tok.kind == lx.IDENTIFIER and tok.val.lower() in ("start", "end"):
            self.next()
            self.expect(lx.LEFT_PAREN, "@", "timestamp")
            self.expect(lx.RIGHT_PAREN, "@", "timestamp")
            start_or_end = tok.val.lower()
        else:
            ts = self.signed_number("@", "timestamp")
            if math.isnan(ts) or math.isinf(ts) or abs(ts * 1000) >= 2.0**63:
                self.fail(f"timestamp out of bounds for @ modifier: {_go_f(ts)}", tok.pos)
            timestamp = round(ts * 1000)
        target: VectorSelector | SubqueryExpr
        if isinstance(expr, VectorSelector | SubqueryExpr):
            target = expr
        elif isinstance(expr, MatrixSelector):
            target = expr.vector_selector
        else:
            self.fail(f"@ {_TARGET_ERR}", expr.pos[0])
        if target.timestamp_ms is not None or target.start_or_end is not None:
            self.fail("@ <timestamp> may not be set multiple times", at_tok.pos)
        updated = replace(target, timestamp_ms=timestamp, start_or_end=start_or_end)
        return self._rewrap(expr, updated)

    def extended_modifier(self, expr: VectorSelector | MatrixSelector, tok: Token) -> Expr:
        word = tok.val.lower()
        if not self.opts.enable_extended_range_selectors:
            self.fail(f"{word} modifier is experimental and not enabled", tok.pos)
        vs = expr.vector_selector if isinstance(expr, MatrixSelector) else expr
        if vs.anchored or vs.smoothed:
            self.fail("anchored and smoothed modifiers may be set only once", tok.pos)
        updated = replace(vs, anchored=word == "anchored", smoothed=word == "smoothed")
        return self._rewrap(expr, updated)

    def _rewrap(self, expr: Expr, updated: VectorSelector | SubqueryExpr) -> Expr:
        end = self.last_end
        if isinstance(expr, MatrixSelector) and isinstance(updated, VectorSelector):
            return replace(expr, vector_selector=updated, pos=(expr.pos[0], end))
        return replace(updated, pos=(updated.pos[0], end))

    # -- duration expressions ------------------------------------------------

    def duration_expr(self, min_prec: int, context: str, expected: str) -> DurationNode:
        left = self.duration_unary(context, expected)
        while True:
            tok = self.peek()
            prec = _DUR_PREC.get(tok.val) if tok.kind == lx.OP else None
            if prec is None or prec < min_prec:
                return left
            self.next()
            rhs = self.duration_expr(prec if tok.val == "^" else prec + 1, context, expected)
            left = DurationExpr(tok.val, left, rhs, pos=(left.pos[0], rhs.pos[1]))

    def duration_unary(self, context: str, expected: str) -> DurationNode:
        tok = self.peek()
        if tok.kind == lx.OP and tok.val in ("-", "+"):
            self.next()
            operand = self.duration_expr(_DUR_PREC["^"], context, expected)
            return _signed(tok.val, operand, tok.pos)
        return self.duration_primary(context, expected)

    def duration_operand(self, context: str, expected: str) -> DurationNode:
        """What ``offset`` takes without parentheses: one signed term, no operators."""
        tok = self.peek()
        if tok.kind == lx.OP and tok.val in ("-", "+"):
            self.next()
            return _signed(tok.val, self.duration_primary(context, expected), tok.pos)
        return self.duration_primary(context, expected)

    def duration_primary(self, context: str, expected: str) -> DurationNode:
        tok = self.next()
        if tok.kind == lx.NUMBER:
            return NumberLiteral(self.number(tok), pos=(tok.pos, self.last_end))
        if tok.kind == lx.DURATION:
            ms = self.duration_token(tok)
            return NumberLiteral(ms / 1000.0, True, pos=(tok.pos, self.last_end))
        if tok.kind == lx.LEFT_PAREN:
            inner = self.duration_expr(0, context, expected)
            self.expect(lx.RIGHT_PAREN)
            pos = (tok.pos, self.last_end)
            if isinstance(inner, DurationExpr) and not inner.wrapped:
                return replace(inner, wrapped=True, pos=pos)
            return DurationExpr("", None, inner, True, pos=pos)
        word = tok.val.lower()
        if tok.kind == lx.IDENTIFIER and self.peek().kind == lx.LEFT_PAREN:
            if word in ("step", "range", "start", "end"):
                self.next()
                self.expect(lx.RIGHT_PAREN, f"{word}()", '")"')
                return DurationExpr(word, pos=(tok.pos, self.last_end))
            if word in ("min_of", "max_of"):
                self.next()
                a = self.duration_expr(0, context, expected)
                self.expect(lx.COMMA, f"{word}()", '","')
                b = self.duration_expr(0, context, expected)
                self.expect(lx.RIGHT_PAREN, f"{word}()", '")"')
                return DurationExpr(word, a, b, pos=(tok.pos, self.last_end))
        self.unexpected(tok, context, expected)

    def duration_call(self, tok: Token) -> DurationExpr:
        """``step()``, ``range()``, ``start()``, ``end()``, ``min_of``/``max_of`` as scalars."""
        if not self.opts.enable_duration_expressions:
            self.fail("experimental duration expression is not enabled", tok.pos)
        self.i -= 1
        node = self.duration_primary("", "")
        assert isinstance(node, DurationExpr)
        return node

    # -- check phase ---------------------------------------------------------

    def check(self, node: Expr) -> Expr:
        """Type-check ``node`` (upstream's checkAST) and return it normalised."""
        if isinstance(node, VectorSelector):
            self._check_selector(node)
            return node
        if isinstance(node, NumberLiteral | StringLiteral | DurationExpr):
            return node
        if isinstance(node, MatrixSelector):
            self._check_selector(node.vector_selector)
            return node
        if isinstance(node, ParenExpr):
            inner = self.check(node.expr)
            return node if inner is node.expr else replace(node, expr=inner)
        if isinstance(node, UnaryExpr):
            inner = self.check(node.expr)
            t = inner.type
            if t not in (ValueType.SCALAR, ValueType.VECTOR):
                self.fail(
                    "unary expression only allowed on expressions of type scalar or instant "
                    f'vector, got "{documented_type(t)}"',
                    node.pos[0],
                )
            return node if inner is node.expr else replace(node, expr=inner)
        if isinstance(node, SubqueryExpr):
            inner = self.check(node.expr)
            if inner.type is not ValueType.VECTOR:
                self.fail(
                    f"subquery is only allowed on instant vector, got {inner.type} instead",
                    node.pos[0],
                )
            return node if inner is node.expr else replace(node, expr=inner)
        if isinstance(node, AggregateExpr):
            return self._check_aggregate(node)
        if isinstance(node, Call):
            return self._check_call(node)
        return self._check_binary(node)

    def _expect_type(self, node: Expr, want: ValueType, context: str) -> Expr:
        checked = self.check(node)
        if checked.type is not want:
            self.fail(
                f"expected type {documented_type(want)} in {context}, "
                f"got {documented_type(checked.type)}",
                node.pos[0],
            )
        return checked

    def _check_selector(self, vs: VectorSelector) -> None:
        if vs.name:
            for m in vs.matchers:
                if m.name == "__name__" and not (m.type is MatchType.EQUAL and m.value == vs.name):
                    self.fail(
                        "metric name must not be set twice: "
                        f"{promql_quote(vs.name)} or {promql_quote(m.value)}",
                        vs.pos[0],
                    )
            names = [m for m in vs.matchers if m.name == "__name__"]
            if len(names) > 1:
                self.fail(
                    f"metric name must not be set twice: {promql_quote(vs.name)} or "
                    f"{promql_quote(vs.name)}",
                    vs.pos[0],
                )
            return
        if not any(not m.matches_empty for m in vs.matchers):
            self.fail("vector selector must contain at least one non-empty matcher", vs.pos[0])

    def _check_aggregate(self, node: AggregateExpr) -> Expr:
        expr = self._expect_type(node.expr, ValueType.VECTOR, "aggregation expression")
        param = node.param
        if param is not None:
            want = ValueType.STRING if node.op == "count_values" else ValueType.SCALAR
            param = self._expect_type(param, want, "aggregation parameter")
        if expr is node.expr and param is node.param:
            return node
        return replace(node, expr=expr, param=param)

    def _check_call(self, node: Call) -> Expr:
        fn = node.func
        nargs = len(fn.arg_types)
        got = len(node.args)
        name = promql_quote(fn.name)
        if fn.variadic == 0:
            if nargs != got:
                self.fail(f"expected {nargs} argument(s) in call to {name}, got {got}", node.pos[0])
        else:
            least = nargs - 1
            if least > got:
                self.fail(
                    f"expected at least {least} argument(s) in call to {name}, got {got}",
                    node.pos[0],
                )
            most = least + fn.variadic
            if fn.variadic > 0 and most < got:
                self.fail(
                    f"expected at most {most} argument(s) in call to {name}, got {got}",
                    node.pos[0],
                )
        checked: list[Expr] = []
        context = f"call to function {name}"
        for i, arg in enumerate(node.args):
            idx = i
            if i >= nargs:
                if fn.variadic == 0:
                    checked.append(arg)
                    continue
                idx = nargs - 1
            if fn.name == "info" and i == 1 and isinstance(arg, VectorSelector):
                # info's label selector may match empty values: it filters data labels.
                checked.append(arg)
                continue
            checked.append(self._expect_type(arg, fn.arg_types[idx], context))
        args = tuple(checked)
        if all(a is b for a, b in zip(args, node.args, strict=True)):
            return node
        return replace(node, args=args)

    def _check_binary(self, node: BinaryExpr) -> Expr:
        # Walk the left spine iteratively: long chains (a or b or c ...) stay flat.
        spine: list[BinaryExpr] = []
        current: Expr = node
        while isinstance(current, BinaryExpr):
            spine.append(current)
            current = current.lhs
        lhs = self.check(current)
        for item in reversed(spine):
            lhs = self._check_binary_one(item, lhs)
        return lhs

    def _check_binary_one(self, node: BinaryExpr, lhs: Expr) -> Expr:
        rhs = self.check(node.rhs)
        lt, rt = lhs.type, rhs.type
        op = node.op
        vm = node.matching
        if node.return_bool and op not in _COMPARISONS:
            self.fail("bool modifier can only be used on comparison operators", node.op_pos)
        if (
            op in _COMPARISONS
            and not node.return_bool
            and lt is ValueType.SCALAR
            and rt is ValueType.SCALAR
        ):
            self.fail("comparisons between scalars must use BOOL modifier", node.op_pos)
        if vm is not None:
            if op in _SET_OPS and vm.card is Cardinality.ONE_TO_ONE:
                vm = replace(vm, card=Cardinality.MANY_TO_MANY)
            if vm.on:
                for label in vm.matching_labels:
                    if label in vm.include:
                        self.fail(
                            f"label {promql_quote(label)} must not occur in ON and GROUP "
                            "clause at once",
                            node.op_pos,
                        )
        for side, t in ((lhs, lt), (rhs, rt)):
            if t not in (ValueType.SCALAR, ValueType.VECTOR):
                self.fail(
                    "binary expression must contain only scalar and instant vector types",
                    side.pos[0],
                )
        if vm is not None and (lt is not ValueType.VECTOR or rt is not ValueType.VECTOR):
            if vm.matching_labels:
                self.fail("vector matching only allowed between instant vectors", node.pos[0])
            if vm.fill_left is not None or vm.fill_right is not None:
                self.fail("fill modifiers only allowed between instant vectors", node.op_pos)
            vm = None
        elif vm is not None and op in _SET_OPS:
            if vm.card in (Cardinality.ONE_TO_MANY, Cardinality.MANY_TO_ONE):
                self.fail(f'no grouping allowed for "{op}" operation', node.op_pos)
            if vm.card is not Cardinality.MANY_TO_MANY:
                self.fail("set operations must always be many-to-many", node.op_pos)
            if vm.fill_left is not None or vm.fill_right is not None:
                self.fail(f'no fill modifiers allowed for "{op}" operation', node.op_pos)
        if (lt is ValueType.SCALAR or rt is ValueType.SCALAR) and op in _SET_OPS:
            self.fail(f'set operator "{op}" not allowed in binary scalar expression', node.pos[0])
        if lhs is node.lhs and rhs is node.rhs and vm == node.matching:
            return node
        return replace(node, lhs=lhs, rhs=rhs, matching=vm)


def _signed(sign: str, node: DurationNode, pos: int) -> DurationNode:
    if isinstance(node, NumberLiteral):
        value = -node.value if sign == "-" else node.value
        return NumberLiteral(value, node.duration, pos=(pos, node.pos[1]))
    return DurationExpr(sign, None, node, pos=(pos, node.pos[1]))


def _go_f(value: float) -> str:
    """Go's ``%f``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"
