"""The PromQL engine: evaluates a syntax tree over a storage, all steps at once.

Every node is evaluated for every step of the query in one go: an instant
vector becomes a :class:`~promethean.promql.values.StepMatrix` (series x
steps), a scalar a float64 array with one value per step, a range vector a
:class:`~promethean.promql.values.RangeInput`. An instant query is a range
query with one step. Functions live in ``promql/funcs`` (dispatched by name
through ``IMPLEMENTATIONS``); selectors, offsets and ``@``, subqueries,
aggregations, operators, name removal and limits live here.

Limits (security model D1): ``timeout`` is checked cooperatively between
nodes and inside long loops; ``max_samples`` bounds what a node holds at
once; ``max_concurrency`` admits queries through a semaphore, and the wait
counts against the timeout, as upstream. Every failure is a
:class:`QueryError` with upstream's ``errorType`` and text.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from promethean.model.labels import METRIC_NAME, Labels
from promethean.model.matchers import MatchType
from promethean.promql import ast
from promethean.promql.aggregations import aggregate
from promethean.promql.annotations import Annotations
from promethean.promql.binops import (
    COMPARISONS,
    SET_OPERATORS,
    scalar_binop,
    set_binop,
    vector_binop,
    vector_scalar_binop,
)
from promethean.promql.durations import duration_to_ms, eval_duration
from promethean.promql.errors import PromQLParseError
from promethean.promql.funcs._windows import build_windows
from promethean.promql.info import evaluate_info, info_reference_times
from promethean.promql.parser import ParserOptions, parse_expr
from promethean.promql.selectors import (
    effective_times,
    extend_window,
    select_range,
    select_smoothed_vector,
    select_vector,
    window_bounds,
)
from promethean.promql.values import EvalContext, EvalError, RangeInput, StepMatrix
from promethean.tsdb.storage import Querier, Storage

__all__ = [
    "Engine",
    "EngineOptions",
    "QueryError",
    "QueryResult",
    "Sample",
    "SeriesResult",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Value: TypeAlias = StepMatrix | F64 | str | RangeInput

#: Functions that keep ``__name__`` when the implementation does not say otherwise.
_KEEPS_NAME = frozenset(
    {
        "last_over_time",
        "first_over_time",
        "sort",
        "sort_desc",
        "sort_by_label",
        "sort_by_label_desc",
        "label_replace",
        "label_join",
        "info",
    }
)
_ENGINE_FUNCTIONS = frozenset({"absent", "absent_over_time", "info", "start_timestamp"})
#: The functions an ``anchored`` / ``smoothed`` range may feed (upstream's lists).
_ANCHORED_SAFE = ("changes", "delta", "increase", "rate", "resets")
_SMOOTHED_SAFE = ("delta", "increase", "rate")
_SORTS = frozenset({"sort", "sort_desc", "sort_by_label", "sort_by_label_desc"})
#: Removed with the name: the type-and-unit labels describe the metric, not the result.
_NAME_LABELS = (METRIC_NAME, "__type__", "__unit__")
_NAME_SET = frozenset(_NAME_LABELS)


class QueryError(Exception):
    """A failed query: ``error_type`` is the API's errorType, ``str()`` upstream's text."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class EngineOptions:
    lookback_ms: int = 300_000  # --query.lookback-delta
    max_samples: int = 50_000_000  # --query.max-samples
    timeout_s: float = 120.0  # --query.timeout
    max_concurrency: int = 20  # --query.max-concurrency
    default_subquery_step_ms: int = 60_000  # the global evaluation interval
    enable_delayed_name_removal: bool = False  # promql-delayed-name-removal
    parser_options: ParserOptions = field(default_factory=ParserOptions)


@dataclass(slots=True)
class Sample:
    labels: Labels
    t: int
    v: float


@dataclass(slots=True)
class SeriesResult:
    labels: Labels
    timestamps: I64
    values: F64


@dataclass
class QueryResult:
    """``type`` is the API's resultType; the matching field holds the value."""

    type: Literal["vector", "matrix", "scalar", "string"]
    vector: list[Sample] = field(default_factory=list)
    matrix: list[SeriesResult] = field(default_factory=list)
    scalar: tuple[int, float] = (0, 0.0)
    string: tuple[int, str] = (0, "")
    annotations: Annotations = field(default_factory=Annotations)


def _load_implementations() -> dict[str, Callable[..., Any]]:
    try:
        from promethean.promql import funcs
    except ImportError:
        return {}
    table: dict[str, Callable[..., Any]] = getattr(funcs, "IMPLEMENTATIONS", {})
    return dict(table)


class Engine:
    """Runs queries against a storage under the configured limits; thread-safe."""

    def __init__(self, storage: Storage | None = None, options: EngineOptions | None = None):
        self.storage = storage
        self.options = options or EngineOptions()
        self._slots = threading.BoundedSemaphore(max(1, self.options.max_concurrency))
        self._impls: dict[str, Callable[..., Any]] | None = None

    @property
    def implementations(self) -> dict[str, Callable[..., Any]]:
        if self._impls is None:
            self._impls = _load_implementations()
        return self._impls

    def parse(self, text: str) -> ast.Expr:
        try:
            return parse_expr(text, self.options.parser_options)
        except PromQLParseError as err:
            raise QueryError("bad_data", str(err)) from None

    def instant_query(
        self,
        expr: str | ast.Expr,
        time_ms: int,
        storage: Storage | None = None,
        timeout_s: float | None = None,
    ) -> QueryResult:
        return self._run(expr, time_ms, time_ms, 0, storage, timeout_s, instant=True)

    def range_query(
        self,
        expr: str | ast.Expr,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        storage: Storage | None = None,
        timeout_s: float | None = None,
    ) -> QueryResult:
        if step_ms <= 0:
            raise QueryError(
                "bad_data",
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer",
            )
        if end_ms < start_ms:
            raise QueryError("bad_data", "end timestamp must not be before start time")
        return self._run(expr, start_ms, end_ms, step_ms, storage, timeout_s, instant=False)

    def _run(
        self,
        expr: str | ast.Expr,
        start: int,
        end: int,
        step: int,
        storage: Storage | None,
        timeout_s: float | None,
        instant: bool,
    ) -> QueryResult:
        text = expr if isinstance(expr, str) else ""
        tree = self.parse(expr) if isinstance(expr, str) else expr
        store = storage or self.storage
        if store is None:
            raise ValueError("no storage given")
        timeout = self.options.timeout_s if timeout_s is None else min(timeout_s, 1e9)
        deadline = time.monotonic() + timeout
        if not self._slots.acquire(timeout=max(0.0, timeout)):
            raise QueryError("timeout", "query timed out in query queue")
        try:
            ev = _Evaluator(self, store, text, start, end, step, deadline)
            return ev.run(tree, instant)
        except EvalError as err:
            raise QueryError("execution", str(err)) from None
        finally:
            self._slots.release()


class _Timeout(Exception):
    pass


def _line_col(query: str, pos: int) -> str:
    before = query[: max(0, min(pos, len(query)))]
    line = before.count("\n") + 1
    col = len(before[before.rfind("\n") + 1 :].encode("utf-8", "surrogateescape")) + 1
    return f" ({line}:{col})"


class _Evaluator:
    def __init__(
        self,
        engine: Engine,
        storage: Storage,
        text: str,
        start: int,
        end: int,
        step: int,
        deadline: float,
    ) -> None:
        self.engine = engine
        self.opts = engine.options
        self.storage = storage
        self.text = text
        self.start = start
        self.end = end
        self.step = step
        self.deadline = deadline
        self.annotations = Annotations()
        self.delayed = self.opts.enable_delayed_name_removal
        self.max_samples = self.opts.max_samples
        self._queriers: list[Querier] = []

    # -- plumbing ---------------------------------------------------------------

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise QueryError("timeout", "query timed out in expression evaluation")

    def count_samples(self, n: int) -> None:
        if n > self.max_samples:
            raise EvalError(
                "query processing would load too many samples into memory in query execution"
            )

    def querier(self, mint: int, maxt: int) -> Querier:
        return self.storage.querier(mint, maxt)

    def pos(self, node: ast.Expr) -> str:
        if not self.text:
            return ""
        return _line_col(self.text, node.pos[0])

    def duration_query(self) -> dict[str, float]:
        step = self.step / 1000 if self.step else 0.0
        return {
            "step": step,
            "range": (self.end - self.start) / 1000,
            "start": self.start / 1000,
            "end": self.end / 1000,
        }

    def dur_ms(self, fixed: int, expr: ast.DurationExpr | None) -> int:
        if expr is None:
            return fixed
        try:
            return duration_to_ms(eval_duration(expr, self.duration_query()))
        except ValueError as err:
            raise EvalError(str(err)) from None

    def at_time(self, timestamp_ms: int | None, start_or_end: str | None) -> int | None:
        if start_or_end == "start":
            return self.start
        if start_or_end == "end":
            return self.end
        return timestamp_ms

    def ctx(self, steps: I64, arg_pos: list[str] | None = None) -> EvalContext:
        c = EvalContext(
            start_ms=self.start,
            end_ms=self.end,
            step_ms=self.step,
            step_times=steps,
            lookback_ms=self.opts.lookback_ms,
            annotations=self.annotations,
            check_cancelled=self.check,
            enable_experimental_functions=self.opts.parser_options.enable_experimental_functions,
        )
        c.arg_positions = [p.strip()[1:-1] for p in arg_pos or []]
        c.query = self.text
        return c

    # -- entry ------------------------------------------------------------------

    def run(self, tree: ast.Expr, instant: bool) -> QueryResult:
        if instant:
            steps = np.asarray([self.start], dtype=np.int64)
        else:
            steps = np.arange(self.start, self.end + 1, self.step, dtype=np.int64)
        t = tree.type
        if not instant and t not in (ast.ValueType.VECTOR, ast.ValueType.SCALAR):
            raise QueryError(
                "bad_data",
                f'invalid expression type "{ast.documented_type(t)}" for range query, '
                "must be Scalar or instant Vector",
            )
        value = self.eval(tree, steps)
        self.check()
        res_ann = self.annotations
        if isinstance(value, str):
            return QueryResult("string", string=(self.start, value), annotations=res_ann)
        if isinstance(value, RangeInput):
            return QueryResult("matrix", matrix=self._range_result(value), annotations=res_ann)
        if isinstance(value, np.ndarray):
            if instant:
                return QueryResult(
                    "scalar", scalar=(self.start, float(value[0])), annotations=res_ann
                )
            self.count_samples(int(steps.shape[0]))  # upstream builds a one-series matrix
            series = SeriesResult(Labels.empty(), steps.copy(), value.astype(np.float64))
            return QueryResult("matrix", matrix=[series], annotations=res_ann)
        sm = self.finish_names(value, final=True, instant=instant)
        if not instant:
            # The result matrix itself is held in memory: all its points count.
            self.count_samples(int(sm.present.sum()))
        if instant:
            cols = sm.present[:, 0] if sm.n_series else np.zeros(0, dtype=np.bool_)
            vec = [
                Sample(sm.labels[i], self.start, float(sm.values[i, 0]))
                for i in np.flatnonzero(cols)
            ]
            return QueryResult("vector", vector=vec, annotations=res_ann)
        out: list[SeriesResult] = []
        for i in range(sm.n_series):
            p = sm.present[i]
            if p.any():
                out.append(SeriesResult(sm.labels[i], steps[p], sm.values[i][p]))
        out.sort(key=lambda s: s.labels)
        return QueryResult("matrix", matrix=out, annotations=res_ann)

    def _range_result(self, ri: RangeInput) -> list[SeriesResult]:
        out = []
        if ri.anchored or ri.smoothed:
            maxt = int(ri.step_times[0])
            for lbl, ts, vs in zip(ri.labels, ri.timestamps, ri.values, strict=True):
                et, ev = extend_window(ts, vs, maxt - ri.range_ms, maxt, ri.smoothed)
                if et.size:
                    out.append(SeriesResult(lbl, et, ev))
            return out
        for lbl, ts, vs in zip(ri.labels, ri.timestamps, ri.values, strict=True):
            lo, hi = window_bounds(ts, ri.step_times[:1], ri.range_ms)
            a, b = int(lo[0]), int(hi[0])
            if b > a:
                out.append(SeriesResult(lbl, ts[a:b], vs[a:b]))
        return out

    # -- names ------------------------------------------------------------------

    def finish_names(self, sm: StepMatrix, final: bool = False, instant: bool = True) -> StepMatrix:
        """Remove ``__name__`` where flagged; equal label sets then merge or fail."""
        if sm.drop_name is None or not sm.drop_name.any():
            if sm.drop_name is not None:
                sm = StepMatrix(sm.labels, sm.values, sm.present, sm.timestamps)
            return sm
        drop = _NAME_SET
        new = tuple.__new__
        labels = [
            new(Labels, [p for p in lbl if p[0] not in drop]) if d else lbl
            for lbl, d in zip(sm.labels, sm.drop_name.tolist(), strict=True)
        ]
        groups: dict[Labels, list[int]] = {}
        for i, lbl in enumerate(labels):
            groups.setdefault(lbl, []).append(i)
        if len(groups) == len(labels):
            return StepMatrix(labels, sm.values, sm.present, sm.timestamps)
        out_l: list[Labels] = []
        vals = []
        pres = []
        cols = np.arange(sm.n_steps)
        for lbl, rows in groups.items():
            p_rows = sm.present[rows]
            counts = p_rows.sum(axis=0)
            if (counts > 1).any() and (instant or not final):
                raise EvalError("vector cannot contain metrics with the same labelset")
            first = np.argmax(p_rows, axis=0)
            out_l.append(lbl)
            vals.append(sm.values[np.asarray(rows)[first], cols])
            pres.append(counts > 0)
        return StepMatrix(out_l, np.vstack(vals), np.vstack(pres))

    def names_now(self, sm: StepMatrix) -> StepMatrix:
        """Without delayed removal, operators and functions drop the name at once."""
        if self.delayed:
            return sm
        return self.finish_names(sm)

    # -- evaluation ---------------------------------------------------------------

    def eval(self, node: ast.Expr, steps: I64) -> Value:
        self.check()
        n = int(steps.shape[0])
        if isinstance(node, ast.NumberLiteral):
            return np.full(n, node.value, dtype=np.float64)
        if isinstance(node, ast.StringLiteral):
            return node.value
        if isinstance(node, ast.ParenExpr):
            return self.eval(node.expr, steps)
        if isinstance(node, ast.UnaryExpr):
            return self.eval_unary(node, steps)
        if isinstance(node, ast.VectorSelector):
            return self.eval_vector_selector(node, steps)
        if isinstance(node, ast.MatrixSelector):
            return self.eval_matrix_selector(node, steps)
        if isinstance(node, ast.SubqueryExpr):
            return self.eval_subquery(node, steps)
        if isinstance(node, ast.BinaryExpr):
            return self.eval_binary(node, steps)
        if isinstance(node, ast.AggregateExpr):
            return self.eval_aggregate(node, steps)
        if isinstance(node, ast.Call):
            return self.eval_call(node, steps)
        if isinstance(node, ast.DurationExpr):
            return self.eval_duration_scalar(node, steps)
        raise EvalError(f"unhandled expression {type(node).__name__}")

    def eval_duration_scalar(self, node: ast.DurationExpr, steps: I64) -> F64:
        try:
            v = eval_duration(node, self.duration_query())
        except ValueError as err:
            raise EvalError(str(err)) from None
        return np.full(steps.shape[0], v, dtype=np.float64)

    def eval_unary(self, node: ast.UnaryExpr, steps: I64) -> Value:
        v = self.eval(node.expr, steps)
        if node.op != "-":
            return v
        if isinstance(v, np.ndarray):
            return -v
        if isinstance(v, StepMatrix):
            drop = np.ones(v.n_series, dtype=np.bool_)
            return self.names_now(StepMatrix(list(v.labels), -v.values, v.present, drop_name=drop))
        raise EvalError("unary minus on a non-numeric value")

    def eval_vector_selector(self, vs: ast.VectorSelector, steps: I64) -> StepMatrix:
        offset = self.dur_ms(vs.offset_ms, vs.offset_expr)
        eff = effective_times(steps, offset, self.at_time(vs.timestamp_ms, vs.start_or_end))
        if vs.smoothed:
            sm = select_smoothed_vector(self.querier, vs, eff, self.opts.lookback_ms, self.check)
        else:
            sm = select_vector(self.querier, vs, eff, self.opts.lookback_ms, self.check)
        self.count_samples(int(sm.present.sum()))
        return sm

    def eval_matrix_selector(self, ms: ast.MatrixSelector, steps: I64) -> RangeInput:
        vs = ms.vector_selector
        offset = self.dur_ms(vs.offset_ms, vs.offset_expr)
        range_ms = self.dur_ms(ms.range_ms, ms.range_expr)
        eff = effective_times(steps, offset, self.at_time(vs.timestamp_ms, vs.start_or_end))
        ri = select_range(self.querier, vs, eff, range_ms, self.check, self.opts.lookback_ms)
        if eff.size == 1 and not (vs.anchored or vs.smoothed):
            # One window, and the querier read exactly it: every sample counts.
            self.count_samples(sum(int(t.size) for t in ri.timestamps))
        else:
            self._count_range(ri)
        return ri

    def _count_range(self, ri: RangeInput) -> None:
        if not ri.labels:
            return
        w = build_windows(ri)  # cached on the input for the function that reads it
        self.count_samples(int((w.hi - w.lo).sum(axis=0).max()))

    def eval_subquery(self, sq: ast.SubqueryExpr, steps: I64) -> RangeInput:
        range_ms = self.dur_ms(sq.range_ms, sq.range_expr)
        step_ms = self.dur_ms(sq.step_ms, sq.step_expr) or self.opts.default_subquery_step_ms
        if step_ms <= 0:
            raise EvalError("subquery step must be positive")
        offset = self.dur_ms(sq.offset_ms, sq.offset_expr)
        eff = effective_times(steps, offset, self.at_time(sq.timestamp_ms, sq.start_or_end))
        lo = int(eff.min()) - range_ms
        hi = int(eff.max())
        first = -((-lo) // step_ms) * step_ms
        inner_steps = np.arange(first, hi + 1, step_ms, dtype=np.int64)
        inner = self.eval(sq.expr, inner_steps)
        if not isinstance(inner, StepMatrix):
            raise EvalError("subquery is only allowed on instant vector")
        inner = self.finish_names(inner)
        labels: list[Labels] = []
        tss: list[I64] = []
        vals: list[F64] = []
        for i in range(inner.n_series):
            p = inner.present[i]
            if p.any():
                labels.append(inner.labels[i])
                tss.append(inner_steps[p])
                vals.append(inner.values[i][p])
        ri = RangeInput(labels, tss, vals, eff, range_ms)
        self._count_range(ri)
        return ri

    def eval_binary(self, node: ast.BinaryExpr, steps: I64) -> Value:
        lhs = self.eval(node.lhs, steps)
        rhs = self.eval(node.rhs, steps)
        op = node.op
        if isinstance(lhs, np.ndarray) and isinstance(rhs, np.ndarray):
            return scalar_binop(op, lhs, rhs)
        if isinstance(lhs, StepMatrix) and isinstance(rhs, np.ndarray):
            return self.names_now(vector_scalar_binop(op, lhs, rhs, False, node.return_bool))
        if isinstance(lhs, np.ndarray) and isinstance(rhs, StepMatrix):
            return self.names_now(vector_scalar_binop(op, rhs, lhs, True, node.return_bool))
        if isinstance(lhs, StepMatrix) and isinstance(rhs, StepMatrix):
            matching = node.matching or ast.VectorMatching()
            if op in SET_OPERATORS:
                return set_binop(op, lhs, rhs, matching)
            if matching.fill_left is not None or matching.fill_right is not None:
                lhs, rhs = _apply_fill(lhs, rhs, matching)
            out = vector_binop(op, lhs, rhs, matching, node.return_bool)
            if op in COMPARISONS and not node.return_bool:
                return out
            return self.names_now(out)
        raise EvalError(f"invalid operands for binary operator {op!r}")

    def eval_aggregate(self, node: ast.AggregateExpr, steps: I64) -> StepMatrix:
        param: F64 | str | None = None
        if node.param is not None:
            p = self.eval(node.param, steps)
            if isinstance(p, RangeInput | StepMatrix):
                raise EvalError("aggregation parameter must be a scalar or string")
            param = p
        v = self.eval(node.expr, steps)
        if not isinstance(v, StepMatrix):
            raise EvalError("aggregation over a non-vector")
        keep_rows = node.op in ("topk", "bottomk", "limitk", "limit_ratio")
        if not keep_rows:
            v = self.finish_names(v)
        pos = self.pos(node.param) if node.param is not None else ""
        out = aggregate(node.op, v, node.grouping, node.without, param, self.ctx(steps), pos)
        self.count_samples(int(out.present.sum()))
        return out

    # -- functions ------------------------------------------------------------------

    def eval_call(self, node: ast.Call, steps: I64) -> Value:
        name = node.func.name
        if name in _SORTS and self.step:
            self.annotations.add_warning(
                "PromQL warning: sort is ineffective for range queries since results are "
                f"always ordered by labels{self.pos(node)}"
            )
        _check_extended_range(node)
        if name == "info":
            return self.eval_info(node, steps)
        if name == "start_timestamp":
            return self.eval_start_timestamp(node, steps)
        if name in _ENGINE_FUNCTIONS:
            return self.eval_absent(node, steps)
        impl = self.engine.implementations.get(name)
        if impl is None:
            raise EvalError(f"function {name} not implemented")
        arg_pos = [self.pos(a) for a in node.args]
        ctx = self.ctx(steps, arg_pos)
        arg_types = node.func.arg_types
        kind = getattr(impl, "kind", None)
        is_range = kind == "range" or (kind is None and ast.ValueType.MATRIX in arg_types)
        keeps = bool(getattr(impl, "keeps_name", name in _KEEPS_NAME))
        if is_range:
            matrix: RangeInput | None = None
            params: list[Any] = []
            for a in node.args:
                v = self.eval(a, steps)
                if isinstance(v, RangeInput) and matrix is None:
                    matrix = v
                elif isinstance(v, StepMatrix):
                    params.append(self.finish_names(v))
                else:
                    params.append(v)
            if matrix is None:
                raise EvalError(f"function {name} needs a range vector")
            try:
                values, present = impl(matrix, params, ctx)
            except Exception as err:
                raise _as_eval_error(err) from None
            values = np.asarray(values, dtype=np.float64)
            present = np.asarray(present, dtype=np.bool_)
            if not matrix.labels:
                return StepMatrix.empty(int(steps.shape[0]))
            rows = np.flatnonzero(present.any(axis=1))
            labels = [matrix.labels[i] for i in rows]
            drop = np.full(rows.size, not keeps, dtype=np.bool_)
            out = StepMatrix(labels, values[rows], present[rows], drop_name=drop)
            self.count_samples(int(out.present.sum()))
            return self.names_now(out)
        args: list[Any] = []
        for a in node.args:
            v = self.eval(a, steps)
            if isinstance(v, StepMatrix):
                v = self.finish_names(v)
            args.append(v)
        try:
            result = impl(args, ctx)
        except Exception as err:
            raise _as_eval_error(err) from None
        if isinstance(result, StepMatrix):
            # Upstream counts every point a function produces over all steps
            # (``vector(1)`` over 1001 steps holds 1001 samples).
            self.count_samples(int(result.present.sum()))
            if not keeps:
                result.drop_name = np.ones(result.n_series, dtype=np.bool_)
            return self.names_now(result)
        return np.asarray(result, dtype=np.float64)

    def eval_start_timestamp(self, node: ast.Call, steps: I64) -> StepMatrix:
        """The start time of each selected sample; only a selector has them (upstream)."""
        arg = node.args[0]
        while isinstance(arg, ast.ParenExpr):
            arg = arg.expr
        if not isinstance(arg, ast.VectorSelector) or arg.smoothed:
            self.eval(node.args[0], steps)  # evaluated for its errors and limits only
            return StepMatrix.empty(int(steps.shape[0]))
        offset = self.dur_ms(arg.offset_ms, arg.offset_expr)
        eff = effective_times(steps, offset, self.at_time(arg.timestamp_ms, arg.start_or_end))
        sm = select_vector(
            self.querier, arg, eff, self.opts.lookback_ms, self.check, start_timestamps=True
        )
        self.count_samples(int(sm.present.sum()))
        sm = StepMatrix(sm.labels, sm.values, sm.present, drop_name=np.ones(sm.n_series, bool))
        return self.names_now(sm)

    def eval_info(self, node: ast.Call, steps: I64) -> StepMatrix:
        base = self.eval(node.args[0], steps)
        if not isinstance(base, StepMatrix):
            raise EvalError("info needs an instant vector")
        selector = node.args[1] if len(node.args) > 1 else None
        if selector is not None and not isinstance(selector, ast.VectorSelector):
            raise EvalError("info's second argument must be a label selector")
        ref = info_reference_times(node.args[0], steps, self.at_time, self.dur_ms)
        hist = getattr(self.storage, "histogram_series", None)
        out = evaluate_info(
            base,
            selector,
            ref,
            self.opts.lookback_ms,
            self.querier,
            (lambda lbl: lbl in hist) if hist else None,
        )
        self.count_samples(int(out.present.sum()))
        return out

    def eval_absent(self, node: ast.Call, steps: I64) -> StepMatrix:
        arg = node.args[0]
        v = self.eval(arg, steps)
        n = int(steps.shape[0])
        if isinstance(v, StepMatrix):
            seen = v.present.any(axis=0) if v.n_series else np.zeros(n, dtype=np.bool_)
        elif isinstance(v, RangeInput):
            seen = np.zeros(n, dtype=np.bool_)
            for ts in v.timestamps:
                lo, hi = window_bounds(ts, v.step_times, v.range_ms)
                seen |= hi > lo
        else:
            raise EvalError("absent needs a vector")
        present = ~seen
        if not present.any():
            return StepMatrix.empty(n)
        labels = _absent_labels(arg)
        return StepMatrix([labels], np.ones((1, n)), np.asarray(present).reshape(1, n))


def _check_extended_range(node: ast.Call) -> None:
    """``anchored``/``smoothed`` ranges feed only the functions that understand them."""
    for arg in node.args:
        while isinstance(arg, ast.ParenExpr):
            arg = arg.expr
        if not isinstance(arg, ast.MatrixSelector):
            continue
        vs = arg.vector_selector
        name = node.func.name
        if vs.anchored and name not in _ANCHORED_SAFE:
            raise EvalError(
                f"anchored modifier can only be used with: {', '.join(_ANCHORED_SAFE)} "
                f"- not with {name}"
            )
        if vs.smoothed and name not in _SMOOTHED_SAFE:
            raise EvalError(
                f"smoothed modifier can only be used with: {', '.join(_SMOOTHED_SAFE)} "
                f"- not with {name}"
            )


def _as_eval_error(err: Exception) -> Exception:
    """A function's refusal (B's FunctionError, our EvalError) fails the query; bugs propagate."""
    if isinstance(err, EvalError | QueryError):
        return err
    if type(err).__name__ == "FunctionError":
        return EvalError(str(err))
    return err


def _absent_labels(arg: ast.Expr) -> Labels:
    # As upstream: only a bare selector names labels (`absent((x{a="b"}))` gives `{}`).
    if isinstance(arg, ast.MatrixSelector):
        arg = arg.vector_selector
    if not isinstance(arg, ast.VectorSelector):
        return Labels.empty()
    # Upstream's rule, order included: the first `=` matcher of a label sets it, any
    # later matcher of that label (or any other kind before it) removes it again.
    pairs: dict[str, str] = {}
    has: set[str] = set()
    for m in arg.matchers:
        if m.name == METRIC_NAME:
            continue
        if m.type is MatchType.EQUAL and m.name not in has:
            pairs[m.name] = m.value
            has.add(m.name)
        else:
            pairs.pop(m.name, None)
    return Labels.from_dict(pairs)


def _apply_fill(
    lhs: StepMatrix, rhs: StepMatrix, matching: ast.VectorMatching
) -> tuple[StepMatrix, StepMatrix]:
    """``fill_left``/``fill_right``: a missing partner counts as a series with the fill value."""
    from promethean.promql.binops import _signature

    n = lhs.n_steps

    def sig_presence(sm: StepMatrix) -> dict[tuple[object, ...], npt.NDArray[np.bool_]]:
        out: dict[tuple[object, ...], npt.NDArray[np.bool_]] = {}
        for i, lbl in enumerate(sm.labels):
            s = _signature(lbl, matching)
            prev = out.get(s)
            row = np.asarray(sm.present[i], dtype=np.bool_)
            out[s] = row if prev is None else np.asarray(prev | row, dtype=np.bool_)
        return out

    def filled(target: StepMatrix, source: StepMatrix, value: float) -> StepMatrix:
        have = sig_presence(target)
        extra_l: list[Labels] = []
        extra_p = []
        first: dict[tuple[object, ...], Labels] = {}
        need: dict[tuple[object, ...], npt.NDArray[np.bool_]] = {}
        for i, lbl in enumerate(source.labels):
            s = _signature(lbl, matching)
            miss = source.present[i] & ~have.get(s, np.zeros(n, dtype=np.bool_))
            if miss.any():
                need[s] = need[s] | miss if s in need else miss
                first.setdefault(s, lbl)
        for s, miss in need.items():
            lbl = first[s]
            if matching.on:
                lbl = lbl.only(*matching.matching_labels)
            else:
                lbl = lbl.without(METRIC_NAME, *matching.matching_labels)
            extra_l.append(lbl)
            extra_p.append(miss)
        if not extra_l:
            return target
        drop = target.drop_name if target.drop_name is not None else np.zeros(target.n_series, bool)
        return StepMatrix(
            list(target.labels) + extra_l,
            np.vstack([target.values, np.full((len(extra_l), n), value)]),
            np.vstack([target.present, np.vstack(extra_p)]),
            drop_name=np.concatenate([drop, np.zeros(len(extra_l), dtype=np.bool_)]),
        )

    fill_left, fill_right = matching.fill_left, matching.fill_right
    if matching.card is ast.Cardinality.ONE_TO_MANY:
        # Upstream swaps the operands for group_right but not the fill values: fill_left
        # then supplies the missing right-hand ("many") series and fill_right the left.
        fill_left, fill_right = fill_right, fill_left
    new_l = filled(lhs, rhs, fill_left) if fill_left is not None else lhs
    new_r = filled(rhs, lhs, fill_right) if fill_right is not None else rhs
    return new_l, new_r
