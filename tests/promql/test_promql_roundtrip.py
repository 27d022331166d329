"""parse(print(ast)) == ast: for every query in upstream's PromQL test scripts and
for generated trees.

The conformance scripts live beside the project (``../shared/conformance``) or
at ``$PROMETHEAN_CONFORMANCE_DIR``; without them the conformance case skips,
except in CI where missing data is a failure.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from promethean.model.matchers import Matcher, MatchType
from promethean.promql import ALL_FEATURES, PromQLParseError, format_expr, parse_expr
from promethean.promql.ast import (
    AggregateExpr,
    BinaryExpr,
    Call,
    Cardinality,
    Expr,
    MatrixSelector,
    NumberLiteral,
    ParenExpr,
    StringLiteral,
    SubqueryExpr,
    UnaryExpr,
    VectorMatching,
    VectorSelector,
)
from promethean.promql.functions import FUNCTIONS

_EVAL = re.compile(
    r"^eval(?:_fail|_warn|_info|_ordered)?\s+"
    r"(?:instant\s+at\s+\S+|range\s+from\s+\S+\s+to\s+\S+\s+step\s+\S+)\s+(?P<expr>.*)$"
)


def _conformance_dir() -> Path | None:
    env = os.environ.get("PROMETHEAN_CONFORMANCE_DIR")
    root = (
        Path(env) if env else Path(__file__).resolve().parents[2] / ".." / "shared" / "conformance"
    )
    folder = root / "promqltest"
    if folder.is_dir():
        return folder
    if os.environ.get("CI") == "true":
        pytest.fail(f"conformance data missing at {folder} (required when CI=true)")
    return None


def _cases(folder: Path) -> list[tuple[str, str, str | None]]:
    """(where, query, expected failure message or "" for any failure, None when it must work)."""
    out: list[tuple[str, str, str | None]] = []
    for path in sorted(folder.glob("*.test")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = _EVAL.match(line)
            if not m:
                continue
            expect: str | None = "" if line.startswith("eval_fail") else None
            for follow in lines[i + 1 : i + 4]:
                stripped = follow.strip()
                if stripped.startswith("expect fail"):
                    msg = stripped.partition("msg:")[2].strip()
                    expect = msg
            out.append((f"{path.name}:{i + 1}", m.group("expr"), expect))
    return out


def test_every_conformance_query_round_trips() -> None:
    folder = _conformance_dir()
    if folder is None:
        print("skipping: no conformance data at ../shared/conformance/promqltest")
        pytest.skip("conformance data not present (set PROMETHEAN_CONFORMANCE_DIR)")
    cases = _cases(folder)
    assert len(cases) > 1500
    problems: list[str] = []
    for where, query, expect in cases:
        try:
            tree = parse_expr(query, ALL_FEATURES)
        except PromQLParseError as err:
            # Only a query the script expects to fail may fail, and with its message.
            if expect is None or (expect and err.message != expect):
                problems.append(f"{where}: {query!r}: {err}")
            continue
        text = format_expr(tree)
        again = parse_expr(text, ALL_FEATURES)
        if again != tree or format_expr(again) != text:
            problems.append(f"{where}: {query!r} printed as {text!r} does not round trip")
    assert problems == []


# -- generated trees ----------------------------------------------------------

_names = st.sampled_from(["up", "http_requests_total", "job:rate5m", "my.metric", "sum", "a"])
_labels = st.sampled_from(["instance", "le", "some.label", "ünï", "by"])
_values = st.text(max_size=8)


@st.composite
def _selectors(draw: st.DrawFn) -> VectorSelector:
    name = draw(st.one_of(st.just(""), _names))
    labels = draw(st.lists(_labels, max_size=3, unique=True))
    ops = [MatchType.EQUAL, MatchType.NOT_EQUAL]
    matchers = [Matcher(lb, draw(st.sampled_from(ops)), draw(_values)) for lb in labels]
    if name:
        matchers.append(Matcher("__name__", MatchType.EQUAL, name))
    else:
        matchers.append(Matcher("job", MatchType.REGEX, draw(st.sampled_from(["a.+", "x|y"]))))
    matchers.sort(key=str)
    offset = draw(st.sampled_from([0, 300_000, -60_000, 5_400_000]))
    ts = draw(st.sampled_from([None, 100_000, 1_500]))
    return VectorSelector(name, tuple(matchers), offset_ms=offset, timestamp_ms=ts)


_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).filter(lambda f: f >= 0),
    st.integers(0, 10**7).map(float),
)


def _wrap(e: Expr) -> Expr:
    return ParenExpr(e) if isinstance(e, BinaryExpr | UnaryExpr | NumberLiteral) else e


def _vector_exprs() -> st.SearchStrategy[Expr]:
    base = _selectors()

    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        binop = st.builds(
            lambda op, a, b, on, labels: BinaryExpr(
                op,
                _wrap(a),
                _wrap(b),
                VectorMatching(
                    Cardinality.MANY_TO_MANY
                    if op in ("and", "or", "unless")
                    else Cardinality.ONE_TO_ONE,
                    tuple(labels),
                    on,
                ),
            ),
            st.sampled_from(["+", "-", "*", "/", "^", "%", "and", "or", "unless", "atan2"]),
            children,
            children,
            st.booleans(),
            st.lists(st.sampled_from(["job", "instance"]), max_size=2, unique=True),
        )
        agg = st.builds(
            lambda op, e, grouping, without: AggregateExpr(
                op, e, None, tuple(grouping), without and bool(grouping)
            ),
            st.sampled_from(["sum", "avg", "max", "group", "stddev"]),
            children,
            st.lists(st.sampled_from(["job", "le", "some.label"]), max_size=2, unique=True),
            st.booleans(),
        )
        topk = st.builds(
            lambda k, e: AggregateExpr("topk", e, NumberLiteral(k)),
            st.integers(1, 10).map(float),
            children,
        )
        rate = st.builds(
            lambda vs, rng: Call(FUNCTIONS["rate"], (MatrixSelector(vs, rng),)),
            _selectors(),
            st.sampled_from([60_000, 300_000, 5_400_000, 1_500]),
        )
        sub = st.builds(
            lambda e, rng, step: Call(
                FUNCTIONS["max_over_time"], (SubqueryExpr(_wrap(e), rng, step),)
            ),
            children,
            st.sampled_from([3_600_000, 600_000]),
            st.sampled_from([0, 60_000]),
        )
        neg = st.builds(lambda e: UnaryExpr("-", _wrap(e)), children)
        cmp = st.builds(
            lambda e, n, b: BinaryExpr(">", _wrap(e), NumberLiteral(n), None, b),
            children,
            _numbers,
            st.booleans(),
        )
        return st.one_of(binop, agg, topk, rate, sub, neg, cmp)

    return st.recursive(base, extend, max_leaves=8)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_vector_exprs())
def test_generated_trees_round_trip(tree: Expr) -> None:
    text = format_expr(tree)
    assert parse_expr(text, ALL_FEATURES) == tree, text


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40))
def test_string_literals_round_trip(value: str) -> None:
    tree = StringLiteral(value)
    assert parse_expr(format_expr(tree)) == tree


@settings(max_examples=200, deadline=None)
@given(_numbers)
def test_number_literals_round_trip(value: float) -> None:
    tree = NumberLiteral(value)
    assert parse_expr(format_expr(tree)) == tree
