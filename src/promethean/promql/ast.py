"""The PromQL syntax tree: immutable nodes an engine evaluates and a printer renders.

Nodes are frozen dataclasses, so a parsed query can be cached, shared between
rule evaluations and used as a dictionary key. Source positions ride along
(``pos``) for error messages but take no part in equality: two queries that
differ only in spacing or comments parse to equal trees.

Times are integer milliseconds (``offset_ms``, ``range_ms``, ``timestamp_ms``)
as Prometheus stores them. Where the experimental duration expressions are
used (``foo[5m * 2]``, ``offset step()``), the expression is kept in a
``*_expr`` field; when it does not depend on the query's step or range the
parser also fills in the evaluated millisecond value.

``expr.type`` is upstream's ``ValueType``: what an engine gets back from
evaluating the node.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TypeAlias

from promethean.model.matchers import Matcher

__all__ = [
    "AggregateExpr",
    "BinaryExpr",
    "Call",
    "Cardinality",
    "DurationExpr",
    "DurationNode",
    "Expr",
    "Function",
    "MatrixSelector",
    "NumberLiteral",
    "ParenExpr",
    "StringLiteral",
    "SubqueryExpr",
    "UnaryExpr",
    "ValueType",
    "VectorMatching",
    "VectorSelector",
    "children",
    "documented_type",
    "walk",
]

_NO_POS = (0, 0)


class ValueType(StrEnum):
    """What evaluating a node yields (upstream's ``parser.ValueType``)."""

    NONE = "none"
    VECTOR = "vector"
    SCALAR = "scalar"
    MATRIX = "matrix"
    STRING = "string"


def documented_type(t: ValueType) -> str:
    """The name the docs (and upstream's error messages) use for a type."""
    if t is ValueType.VECTOR:
        return "instant vector"
    if t is ValueType.MATRIX:
        return "range vector"
    return t.value


def _same_float(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (math.isnan(a) and math.isnan(b))


def _float_key(v: float | None) -> object:
    return "NaN" if v is not None and math.isnan(v) else v


@dataclass(frozen=True, slots=True, eq=False)
class NumberLiteral:
    """A float; ``duration`` records that it was written as ``5m`` (value in seconds)."""

    value: float
    duration: bool = False
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return ValueType.SCALAR

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NumberLiteral):
            return NotImplemented
        return self.duration == other.duration and _same_float(self.value, other.value)

    def __hash__(self) -> int:
        return hash((_float_key(self.value), self.duration))


@dataclass(frozen=True, slots=True)
class StringLiteral:
    value: str
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return ValueType.STRING


@dataclass(frozen=True, slots=True)
class DurationExpr:
    """Arithmetic on durations (experimental): ``5m * 2``, ``-step()``, ``min_of(a, b)``.

    ``op`` is one of ``+ - * / % ^`` (``lhs`` is None for unary minus), ``step``,
    ``range``, ``start`` and ``end`` (no operands; also usable as scalar
    expressions), ``min_of``/``max_of`` (two operands), or ``""`` for a
    parenthesised literal. ``wrapped`` keeps the user's parentheses so
    the printer writes them back.
    """

    op: str
    lhs: DurationNode | None = None
    rhs: DurationNode | None = None
    wrapped: bool = False
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return ValueType.SCALAR

    @property
    def is_constant(self) -> bool:
        """True when the value does not depend on the query's step or range."""
        if self.op in ("step", "range", "start", "end"):
            return False
        return all(
            not isinstance(side, DurationExpr) or side.is_constant for side in (self.lhs, self.rhs)
        )


DurationNode: TypeAlias = NumberLiteral | DurationExpr


@dataclass(frozen=True, slots=True)
class VectorSelector:
    """``name{matchers}``; ``matchers`` includes ``__name__="name"`` when a name is given.

    Matchers are kept sorted (by their printed form) so that equal selectors
    compare equal whatever order the user wrote them in, and the printer's
    sorted output parses back to the same tree.
    """

    name: str
    matchers: tuple[Matcher, ...]
    offset_ms: int = 0
    offset_expr: DurationExpr | None = None
    timestamp_ms: int | None = None
    start_or_end: str | None = None  # "start" or "end" for ``@ start()`` / ``@ end()``
    anchored: bool = False
    smoothed: bool = False
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(frozen=True, slots=True)
class MatrixSelector:
    """``selector[range]``; offset, ``@`` and anchored/smoothed live on the inner selector."""

    vector_selector: VectorSelector
    range_ms: int
    range_expr: DurationExpr | None = None
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


@dataclass(frozen=True, slots=True)
class SubqueryExpr:
    """``expr[range:step]``; ``step_ms == 0`` means the engine's default step."""

    expr: Expr
    range_ms: int
    step_ms: int = 0
    range_expr: DurationExpr | None = None
    step_expr: DurationExpr | None = None
    offset_ms: int = 0
    offset_expr: DurationExpr | None = None
    timestamp_ms: int | None = None
    start_or_end: str | None = None
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return ValueType.MATRIX


class Cardinality(StrEnum):
    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "many-to-one"
    ONE_TO_MANY = "one-to-many"
    MANY_TO_MANY = "many-to-many"


@dataclass(frozen=True, slots=True, eq=False)
class VectorMatching:
    """How two vectors are matched: ``on``/``ignoring`` labels, grouping, fill values."""

    card: Cardinality = Cardinality.ONE_TO_ONE
    matching_labels: tuple[str, ...] = ()
    on: bool = False
    include: tuple[str, ...] = ()
    fill_left: float | None = None
    fill_right: float | None = None

    def _key(self) -> tuple[object, ...]:
        return (
            self.card,
            self.matching_labels,
            self.on,
            self.include,
            _float_key(self.fill_left),
            _float_key(self.fill_right),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VectorMatching):
            return NotImplemented
        return (
            self.card == other.card
            and self.matching_labels == other.matching_labels
            and self.on == other.on
            and self.include == other.include
            and _same_float(self.fill_left, other.fill_left)
            and _same_float(self.fill_right, other.fill_right)
        )

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True, slots=True)
class BinaryExpr:
    """``lhs op rhs``; ``matching`` is None unless both sides are instant vectors."""

    op: str
    lhs: Expr
    rhs: Expr
    matching: VectorMatching | None = None
    return_bool: bool = False
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)
    op_pos: int = field(default=0, compare=False, repr=False)
    # Computed once: asking a deep tree for its type must not walk it every time.
    type: ValueType = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        scalar = self.lhs.type is ValueType.SCALAR and self.rhs.type is ValueType.SCALAR
        object.__setattr__(self, "type", ValueType.SCALAR if scalar else ValueType.VECTOR)


@dataclass(frozen=True, slots=True)
class UnaryExpr:
    op: str  # "-" or "+"
    expr: Expr
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return self.expr.type


@dataclass(frozen=True, slots=True)
class ParenExpr:
    expr: Expr
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return self.expr.type


@dataclass(frozen=True, slots=True)
class AggregateExpr:
    """``op by|without (grouping) ([param,] expr)``; ``op`` is lower case (``"sum"``)."""

    op: str
    expr: Expr
    param: Expr | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return ValueType.VECTOR


@dataclass(frozen=True, slots=True)
class Function:
    """A function's signature.

    ``variadic`` follows upstream: 0 means exactly ``arg_types``; otherwise the
    last type is optional and may appear up to ``variadic`` times (without
    limit for -1), so at least ``len(arg_types) - 1`` arguments are required.
    """

    name: str
    arg_types: tuple[ValueType, ...]
    return_type: ValueType
    variadic: int = 0
    experimental: bool = False


@dataclass(frozen=True, slots=True)
class Call:
    func: Function
    args: tuple[Expr, ...]
    pos: tuple[int, int] = field(default=_NO_POS, compare=False, repr=False)

    @property
    def type(self) -> ValueType:
        return self.func.return_type


Expr: TypeAlias = (
    AggregateExpr
    | BinaryExpr
    | Call
    | DurationExpr
    | MatrixSelector
    | NumberLiteral
    | ParenExpr
    | StringLiteral
    | SubqueryExpr
    | UnaryExpr
    | VectorSelector
)


def children(node: Expr) -> tuple[Expr, ...]:
    """Direct sub-expressions in evaluation order (duration expressions excluded)."""
    if isinstance(node, BinaryExpr):
        return (node.lhs, node.rhs)
    if isinstance(node, AggregateExpr):
        return (node.expr,) if node.param is None else (node.param, node.expr)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, ParenExpr | UnaryExpr | SubqueryExpr):
        return (node.expr,)
    if isinstance(node, MatrixSelector):
        return (node.vector_selector,)
    return ()


def walk(node: Expr) -> Iterator[Expr]:
    """Every node of the tree, parents before children."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))
