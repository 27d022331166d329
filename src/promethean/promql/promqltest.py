"""Runs upstream's PromQL test scripts (``promqltest``) against the engine.

The language (upstream ``promql/promqltest/README.md``): ``load <interval>``
with indented ``<series> <values>`` lines, ``clear``, and ``eval instant at
<t> <query>`` / ``eval range from <a> to <b> step <s> <query>`` followed by
``expect`` lines and the expected series. The older ``eval_fail``,
``eval_warn``, ``eval_info`` and ``eval_ordered`` forms and
``expected_fail_message``/``expected_fail_regexp`` are understood too.

Every eval counts as passed or failed; nothing is skipped. Native histograms
(``{{...}}`` values, ``load_with_nhcb``) are parsed, and an eval that expects
one or selects a series that had one fails with a message saying so, until
the engine supports them. Values compare as upstream's (relative error 1e-6,
NaN equals NaN).

Differences from upstream's runner: an instant eval runs once, at its time
(upstream also re-runs it with ``@`` pinned at five other times and as a
range query); ``@st`` start-timestamp lines are read and ignored.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TextIO

import numpy as np

from promethean.model.durations import parse_duration_ms
from promethean.model.labels import METRIC_NAME, Labels
from promethean.promql import ast
from promethean.promql.engine import Engine, EngineOptions, QueryError, QueryResult, Sample
from promethean.promql.memstorage import MemStorage
from promethean.promql.parser import ALL_FEATURES, parse_expr, parse_metric_selector
from promethean.promql.printer import format_expr
from promethean.tsdb.storage import STALE_NAN

__all__ = ["EvalOutcome", "FileResult", "parse_series", "run_file", "run_script"]

_LOAD = re.compile(r"^load(?:_(with_nhcb))?\s+(.+?)$")
_EVAL_INSTANT = re.compile(
    r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$"
)
_EVAL_RANGE = re.compile(
    r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$"
)
_EXPECT = re.compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
_EXPECT_RANGE = re.compile(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
_EXPAND = re.compile(
    r"^(?P<a>[+-]?(?:[^+\-x]+?(?:[eE][+-]?\d+)?))(?:(?P<sign>[+-])(?P<b>[^x]+))?x(?P<n>\d+)$"
)
_EPSILON = 1e-6
_MIN_NORMAL = 2.2250738585072014e-308


class ScriptError(Exception):
    """A line of the script itself is malformed."""


class _Hist:
    """Stands for a native-histogram value in a series description."""


HIST = _Hist()
STALE = "stale"
SeqValue = float | None | str | _Hist


@dataclass
class _Expect:
    kind: str
    message: str | None = None
    regex: re.Pattern[str] | None = None

    def matches(self, text: str) -> bool:
        if self.regex is not None:
            return self.regex.search(text) is not None
        return self.message is None or self.message == text


@dataclass
class _Eval:
    line: int
    expr: str
    instant: bool
    start: int
    end: int = 0
    step: int = 0
    legacy: str = ""
    expects: list[_Expect] = field(default_factory=list)
    fail_message: str | None = None
    fail_regex: re.Pattern[str] | None = None
    expect_scalar: float | None = None
    expect_string: str | None = None
    expect_range: bool = False
    series: dict[Labels, tuple[int, list[SeqValue]]] = field(default_factory=dict)

    def has(self, kind: str) -> bool:
        return any(e.kind == kind for e in self.expects)

    @property
    def fail(self) -> bool:
        return self.legacy == "fail" or self.has("fail")

    @property
    def ordered(self) -> bool:
        return self.legacy == "ordered" or self.has("ordered")


@dataclass
class _Load:
    interval: int
    nhcb: bool
    series: list[tuple[Labels, list[SeqValue]]]
    # Start-timestamp offsets (ms; None: omitted) per entry of ``series``, from ``@st``
    # lines; ``default_st`` from a bare ``@st`` line applies, cycled, to the others.
    st: dict[int, list[int | None]] = field(default_factory=dict)
    default_st: list[int | None] = field(default_factory=list)


@dataclass
class EvalOutcome:
    line: int
    expr: str
    passed: bool
    reason: str = ""


@dataclass
class FileResult:
    name: str
    outcomes: list[EvalOutcome] = field(default_factory=list)
    error: str = ""

    @property
    def passed(self) -> int:
        return sum(o.passed for o in self.outcomes)

    @property
    def failed(self) -> int:
        return len(self.outcomes) - self.passed + (1 if self.error else 0)


# -- parsing -------------------------------------------------------------------


def _duration(text: str) -> int:
    try:
        return parse_duration_ms(text.strip())
    except ValueError as err:
        raise ScriptError(f"invalid duration {text!r}: {err}") from None


def _number(text: str) -> float:
    t = text.strip()
    try:
        return float(int(t, 0))
    except ValueError:
        pass
    low = t.lower().lstrip("+-")
    if low in ("inf", "nan", "infinity") or not any(c.isalpha() for c in low.replace("e", "")):
        try:
            return float(t)
        except ValueError:
            pass
    raise ScriptError(f"invalid number {text!r}")


def _split_series(line: str) -> tuple[str, str]:
    """The selector part and the values part of a series description."""
    s = line.strip()
    i = 0
    quote = ""
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c == "{":
            end = _closing_brace(s, i)
            return s[: end + 1], s[end + 1 :]
        elif c in " \t":
            return s[:i], s[i:]
        i += 1
    return s, ""


def _closing_brace(s: str, start: int) -> int:
    quote = ""
    i = start + 1
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        elif c == "}":
            return i
        i += 1
    raise ScriptError(f"unclosed brace in {s!r}")


def _labels(selector: str) -> Labels:
    sel = selector.strip()
    if sel in ("{}", ""):
        return Labels.empty()
    try:
        matchers = parse_metric_selector(sel)
    except Exception as err:
        # ``{}``-like sets whose every matcher matches "" do not parse as selectors.
        raise ScriptError(f"invalid series {selector!r}: {err}") from None
    return Labels.from_pairs((m.name, m.value) for m in matchers)


def _tokens(values: str) -> Iterator[str]:
    i = 0
    n = len(values)
    while i < n:
        while i < n and values[i] in " \t":
            i += 1
        if i >= n:
            return
        j = i
        while j < n and values[j] not in " \t":
            if values.startswith("{{", j):
                k = values.find("}}", j)
                if k < 0:
                    raise ScriptError("unclosed native histogram")
                j = k + 2
                continue
            j += 1
        yield values[i:j]
        i = j


def _expand(token: str) -> list[SeqValue]:
    if "{{" in token:
        m = re.search(r"x(\d+)$", token)
        count = int(m.group(1)) + 1 if m else 1
        return [HIST] * count
    if token == "_":
        return [None]
    if token.startswith("_x"):
        return [None] * int(token[2:])
    if token == "stale":
        return [STALE]
    # ``0x59`` is 0 repeated, never hex: the series notation has no hex numbers.
    if re.fullmatch(r".+x\d+", token) is None:
        try:
            return [_number(token)]
        except ScriptError:
            pass
    m = _EXPAND.match(token)
    if m is None:
        raise ScriptError(f"invalid value {token!r}")
    a = _number(m.group("a"))
    n = int(m.group("n"))
    if m.group("sign") is None:
        return [a] * (n + 1)
    b = _number(m.group("b"))
    if m.group("sign") == "-":
        b = -b
    out: list[SeqValue] = []
    v = a
    for _ in range(n + 1):
        out.append(v)
        v += b
    return out


def parse_series(line: str) -> tuple[Labels, list[SeqValue]]:
    """``metric{a="b"} 1+2x3 _ stale`` -> labels and values (None: missing)."""
    sel, rest = _split_series(line)
    labels = _labels(sel)
    values: list[SeqValue] = []
    for tok in _tokens(rest):
        values.extend(_expand(tok))
    return labels, values


def _lines(text: str) -> list[str]:
    out = []
    for raw in text.split("\n"):
        s = raw.strip()
        out.append("" if s.startswith("#") else s)
    return out


def _parse(text: str) -> list[tuple[int, object]]:
    lines = _lines(text)
    cmds: list[tuple[int, object]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        word = re.split(r"[\t ]+", line, maxsplit=1)[0].lower()
        if word == "clear":
            cmds.append((i + 1, "clear"))
            i += 1
        elif word.startswith("load"):
            i, load = _parse_load(lines, i)
            cmds.append((i, load))
        elif word.startswith("eval"):
            start = i
            i, ev = _parse_eval(lines, i)
            cmds.append((start + 1, ev))
        else:
            raise ScriptError(f"line {i + 1}: invalid command {line!r}")
    return cmds


def _parse_load(lines: list[str], i: int) -> tuple[int, _Load]:
    m = _LOAD.match(lines[i])
    if m is None:
        raise ScriptError(f"line {i + 1}: invalid load command")
    load = _Load(_duration(m.group(2)), m.group(1) == "with_nhcb", [])
    i += 1
    pending: tuple[Labels, list[int | None], int] | None = None
    while i < len(lines) and lines[i]:
        line = lines[i]
        first = re.split(r"[\t ]+", line.strip(), maxsplit=1)[0]
        try:
            if first.endswith("@st") and len(line.split(maxsplit=1)) > 1:
                if pending is not None:
                    raise ScriptError("@st line has no following sample line")
                rest = line.strip()[len(first) :]
                seq = _st_sequence(rest.strip())
                if first == "@st":
                    load.default_st = seq
                else:
                    pending = (_labels(first[: -len("@st")]), seq, i + 1)
                i += 1
                continue
            labels, values = parse_series(line)
        except ScriptError as err:
            raise ScriptError(f"line {i + 1}: {err}") from None
        if pending is not None:
            if pending[0] != labels:
                raise ScriptError(
                    f"line {pending[2]}: @st metric does not match the following sample line"
                )
            if len(pending[1]) != len(values):
                raise ScriptError(
                    f"line {pending[2]}: @st line has {len(pending[1])} values but sample line "
                    f"has {len(values)}"
                )
            load.st[len(load.series)] = pending[1]
            pending = None
        load.series.append((labels, values))
        i += 1
    if pending is not None:
        raise ScriptError(f"line {pending[2]}: @st line has no following sample line")
    return i, load


_ST_DURATION = re.compile(r"([+-]?)(\d+)([a-wyzA-Z]*)")


def _st_duration(text: str) -> tuple[int, str]:
    """A signed duration at the start of ``text`` (ms) and the rest (``x`` ends the unit)."""
    m = _ST_DURATION.match(text)
    if m is None:
        raise ScriptError(f"expected a duration in {text!r}")
    if not m.group(3) and int(m.group(2)) != 0:
        raise ScriptError(f"invalid duration {text!r}: missing unit")
    ms = _duration(m.group(2) + m.group(3)) if m.group(3) else 0
    return (-ms if m.group(1) == "-" else ms), text[m.end() :]


def _st_sequence(text: str) -> list[int | None]:
    """An ``@st`` line's offsets: ``_``, ``_xN``, ``*``, ``*xN``, ``d``, ``dxN``, ``d+dxN``,
    ``d-dxN`` (each ``d`` a duration, the offset of the start timestamp from the sample's)."""
    out: list[int | None] = []
    for item in text.split():
        prev = next((v for v in reversed(out) if v is not None), 0)
        if item == "_":
            out.append(None)
        elif item.startswith("_x"):
            out.extend([None] * int(item[2:]))
        elif item == "*":
            out.append(prev)
        elif item.startswith("*x"):
            out.extend([prev] * (int(item[2:]) + 1))
        else:
            base, rest = _st_duration(item)
            if not rest:
                out.append(base)
            elif rest[0] == "x":
                out.extend([base] * (int(rest[1:]) + 1))
            elif rest[0] in "+-":
                delta, rest2 = _st_duration(rest[1:])
                if rest[0] == "-":
                    delta = -delta
                if not rest2.startswith("x"):
                    raise ScriptError(f"invalid @st item {item!r}: expected x<count>")
                out.extend(base + k * delta for k in range(int(rest2[1:]) + 1))
            else:
                raise ScriptError(f"invalid @st item {item!r}")
    return out


def _parse_eval(lines: list[str], i: int) -> tuple[int, _Eval]:
    line = lines[i]
    mi = _EVAL_INSTANT.match(line)
    mr = _EVAL_RANGE.match(line)
    if mi is None and mr is None:
        raise ScriptError(f"line {i + 1}: invalid evaluation command")
    if mi is not None:
        ev = _Eval(
            i + 1, mi.group(3), True, _duration(mi.group(2) or "0s"), legacy=mi.group(1) or ""
        )
    else:
        assert mr is not None
        ev = _Eval(
            i + 1,
            mr.group(5),
            False,
            _duration(mr.group(2)),
            _duration(mr.group(3)),
            _duration(mr.group(4)),
            legacy=mr.group(1) or "",
        )
    pos = 0
    while i + 1 < len(lines) and lines[i + 1]:
        i += 1
        d = lines[i]
        if ev.fail and d.startswith("expected_fail_message"):
            ev.fail_message = d[len("expected_fail_message") :].strip()
            break
        if ev.fail and d.startswith("expected_fail_regexp"):
            ev.fail_regex = re.compile(d[len("expected_fail_regexp") :].strip())
            break
        if d.startswith("expect range vector"):
            m = _EXPECT_RANGE.match(d)
            if m is None:
                raise ScriptError(f"line {i + 1}: invalid range vector definition")
            ev.start, ev.end, ev.step = (_duration(m.group(k)) for k in (1, 2, 3))
            ev.expect_range = True
            continue
        if d.startswith("expect string"):
            ev.expect_string = _go_unquote(d[len("expect string") :].strip())
            continue
        if d.split(" ")[0] == "expect":
            m = _EXPECT.match(d.strip())
            if m is None:
                raise ScriptError(f"line {i + 1}: invalid expect statement")
            exp = _Expect(m.group(1))
            if m.group(2) == "msg":
                exp.message = m.group(3).strip()
            elif m.group(2) == "regex":
                exp.regex = re.compile(m.group(3).strip())
            ev.expects.append(exp)
            continue
        try:
            ev.expect_scalar = _number(d)
            break
        except ScriptError:
            pass
        pos += 1
        labels, vals = parse_series(d)
        ev.series[labels] = (pos, vals)
    return i + 1, ev


def _go_unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in '"`':
        body = text[1:-1]
        if text[0] == "`":
            return body
        return body.encode("latin-1", "backslashreplace").decode("unicode_escape")
    raise ScriptError("expected string literal not valid - a quoted string literal is required")


# -- running -------------------------------------------------------------------


def _load(storage: MemStorage, load: _Load) -> None:
    with_st = bool(load.st or load.default_st)
    for n, (labels, vals) in enumerate(load.series):
        ts: list[int] = []
        vs: list[float] = []
        sts: list[int] = []
        offsets = load.st.get(n)
        for k, v in enumerate(vals):
            if v is None:
                continue
            if isinstance(v, _Hist):
                storage.histogram_series.add(labels)
                continue
            t = k * load.interval
            ts.append(t)
            vs.append(STALE_NAN if v == STALE else float(v))  # type: ignore[arg-type,unused-ignore]
            off: int | None = None
            if offsets is not None:
                off = offsets[k]
            elif load.default_st:
                off = load.default_st[k % len(load.default_st)]
            sts.append(0 if off is None else t + off)
        if ts:
            storage.add_series(labels, ts, vs, sts if with_st else None)
        if load.nhcb:
            name = labels.metric_name
            for suffix in ("_bucket", "_count", "_sum"):
                if name.endswith(suffix):
                    base = labels.without("le").merge({METRIC_NAME: name[: -len(suffix)]})
                    storage.histogram_series.add(base)


def _almost_equal(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    abs_sum = abs(a) + abs(b)
    diff = abs(a - b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < _EPSILON * _MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < _EPSILON


def _touches_histograms(storage: MemStorage, expr: str) -> bool:
    if not storage.histogram_series:
        return False
    try:
        tree = parse_expr(expr, ALL_FEATURES)
    except Exception:
        return False
    q = storage.querier(-(2**62), 2**62)
    hist = storage.histogram_series
    for node in ast.walk(tree):
        if isinstance(node, ast.VectorSelector):
            from promethean.model.matchers import matches_labels

            if any(matches_labels(lbl, node.matchers) for lbl in hist):
                return True
            del q
            q = storage.querier(-(2**62), 2**62)
    return False


def _check_failure(ev: _Eval, msg: str) -> str:
    """Whether an error is the one the eval expects ("" when it is)."""
    if ev.fail_message is not None and ev.fail_message != msg:
        return f"expected error {ev.fail_message!r}, got {msg!r}"
    if ev.fail_regex is not None and not ev.fail_regex.search(msg):
        return f"expected error matching {ev.fail_regex.pattern!r}, got {msg!r}"
    for e in ev.expects:
        if e.kind == "fail" and not e.matches(msg):
            return f"expected error matching {e.message or e.regex}, got {msg!r}"
    return ""


#: Functions whose value depends on the evaluation time even with every selector pinned.
_AT_UNSAFE = frozenset(
    {
        "days_in_month",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "hour",
        "minute",
        "month",
        "year",
        "predict_linear",
        "time",
        "timestamp",
    }
)
_CONTEXT_FUNCS = re.compile(r"(start|end|range|step)\(\)")
_AT_START_END = re.compile(r"@\s*(start|end)\s*\(\s*\)")


def _at_modifier_cases(expr: str, at: int) -> list[tuple[str, int]]:
    """Upstream's extra runs of an instant eval: every selector pinned with ``@`` to the
    eval time (subqueries pinned as a whole), evaluated at other times."""
    tree = parse_expr(expr, ALL_FEATURES)
    unsafe = False

    def pin(node: ast.Expr) -> ast.Expr:
        nonlocal unsafe
        if isinstance(node, ast.VectorSelector):
            if node.timestamp_ms is None:
                return replace(node, timestamp_ms=at, start_or_end=None)
            return node
        if isinstance(node, ast.MatrixSelector):
            vs = pin(node.vector_selector)
            assert isinstance(vs, ast.VectorSelector)
            return replace(node, vector_selector=vs)
        if isinstance(node, ast.SubqueryExpr):
            if node.timestamp_ms is None:
                return replace(node, timestamp_ms=at, start_or_end=None)
            return node
        if isinstance(node, ast.Call):
            unsafe = unsafe or node.func.name in _AT_UNSAFE
            return replace(node, args=tuple(pin(a) for a in node.args))
        if isinstance(node, ast.BinaryExpr):
            return replace(node, lhs=pin(node.lhs), rhs=pin(node.rhs))
        if isinstance(node, ast.AggregateExpr):
            param = pin(node.param) if node.param is not None else None
            return replace(node, expr=pin(node.expr), param=param)
        if isinstance(node, ast.ParenExpr | ast.UnaryExpr):
            return replace(node, expr=pin(node.expr))
        return node

    pinned = format_expr(pin(tree))
    # start()/end()/range()/step() read the query's own times, like time() (an `@ start()`
    # modifier is pinned like any other).
    if unsafe or _CONTEXT_FUNCS.search(_AT_START_END.sub("", expr)):
        return []
    if at == 0:
        times = [-1000, 0, 1000]
    else:
        fifth = -(-at // 5) if at < 0 else at // 5
        times = [-10 * at, 0, fifth, at, 10 * at]
    return [(pinned, t) for t in times]


def _fmt_series(labels: Labels, points: list[tuple[int, float]]) -> str:
    text = " ".join(f"{v}@{t / 1000:g}s" for t, v in points)
    return f"{labels} {text}"


class _Runner:
    def __init__(self, options: EngineOptions) -> None:
        self.storage = MemStorage()
        self.engine = Engine(self.storage, options)

    def run(self, ev: _Eval) -> EvalOutcome:
        def fail(reason: str) -> EvalOutcome:
            return EvalOutcome(ev.line, ev.expr, False, reason)

        if any(isinstance(v, _Hist) for _, vals in ev.series.values() for v in vals):
            return fail("native histograms are not implemented (expected histogram values)")
        if _touches_histograms(self.storage, ev.expr):
            return fail("native histograms are not implemented (query selects histogram series)")
        if not ev.instant:
            return self.run_range(ev)
        at = ev.end if ev.expect_range else ev.start
        try:
            variants = _at_modifier_cases(ev.expr, at)
        except Exception:  # a query that does not parse: the run below reports the error
            variants = []
        for text, t in [(ev.expr, at), *variants]:
            problem = self.run_instant(ev, text, t)
            if problem:
                if text != ev.expr or t != at:
                    problem = f"{problem}\n  (re-run as {text} at {t / 1000:g}s)"
                return fail(problem)
        return EvalOutcome(ev.line, ev.expr, True)

    def run_range(self, ev: _Eval) -> EvalOutcome:
        def fail(reason: str) -> EvalOutcome:
            return EvalOutcome(ev.line, ev.expr, False, reason)

        try:
            res = self.engine.range_query(ev.expr, ev.start, ev.end, ev.step)
        except QueryError as err:
            if not ev.fail:
                return fail(f"error evaluating query: {err}")
            problem = _check_failure(ev, str(err))
            return fail(problem) if problem else EvalOutcome(ev.line, ev.expr, True)
        except Exception as err:  # an engine bug must not stop the script
            return fail(f"internal error: {type(err).__name__}: {err}")
        if ev.fail:
            return fail("expected an error, got none")
        problem = self.check_annotations(ev, res) or self.compare(ev, res)
        return fail(problem) if problem else EvalOutcome(ev.line, ev.expr, True)

    def run_instant(self, ev: _Eval, text: str, at: int) -> str:
        """One instant query of an instant eval, then the same as a range query around it."""
        try:
            res = self.engine.instant_query(text, at)
        except QueryError as err:
            if not ev.fail:
                return f"error evaluating query: {err}"
            return _check_failure(ev, str(err))
        except Exception as err:  # an engine bug must not stop the script
            return f"internal error: {type(err).__name__}: {err}"
        if ev.fail:
            return "expected an error, got none"
        problem = self.check_annotations(ev, res) or self.compare(ev, res)
        if problem:
            return problem
        if ev.expect_range or ev.expect_string is not None or _CONTEXT_FUNCS.search(text):
            return ""
        try:
            rng = self.engine.range_query(text, at - 60_000, at + 60_000, 60_000)
        except QueryError as err:
            return f"error evaluating query in range mode: {err}"
        except Exception as err:
            return f"internal error in range mode: {type(err).__name__}: {err}"
        if ev.ordered:
            return ""
        for prev, nxt in zip(rng.matrix, rng.matrix[1:], strict=False):
            if prev.labels > nxt.labels:
                return "matrix results should always be sorted by labels"
        vec = [
            Sample(s.labels, at, float(s.values[k]))
            for s in rng.matrix
            for k in np.flatnonzero(s.timestamps == at)[:1]
        ]
        if res.type == "scalar":
            if not vec:
                return "range mode: no point at the evaluation time"
            as_range = QueryResult("scalar", scalar=(at, vec[0].v))
        else:
            as_range = QueryResult("vector", vector=vec)
        problem = self.compare(ev, as_range)
        return f"range mode: {problem}" if problem else ""

    def check_annotations(self, ev: _Eval, res: QueryResult) -> str:
        warnings, infos = res.annotations.warnings, res.annotations.infos
        if ev.legacy == "warn" and not warnings:
            return "expected warnings, got none"
        if ev.legacy == "info" and not infos:
            return "expected info annotations, got none"
        for kind, actual in (("warn", warnings), ("info", infos)):
            exps = [e for e in ev.expects if e.kind == kind]
            if not exps:
                continue
            if not actual:
                return f"expected {kind} annotations but none were found"
            for e in exps:
                if not any(e.matches(a) for a in actual):
                    want = e.message or e.regex
                    return f"expected {kind} annotation matching {want}, found: {actual}"
            for a in actual:
                if not any(e.matches(a) for e in exps):
                    return f"unexpected {kind} annotation {a!r}"
        if ev.has("no_warn") and warnings:
            return f"unexpected warning annotations: {warnings}"
        if ev.has("no_info") and infos:
            return f"unexpected info annotations: {infos}"
        return ""

    def compare(self, ev: _Eval, res: QueryResult) -> str:
        if res.type == "string":
            if ev.expect_string != res.string[1]:
                return f'expected string "{ev.expect_string}" but got "{res.string[1]}"'
            return ""
        if res.type == "scalar":
            if ev.expect_scalar is None:
                return f"expected vector or matrix result, but got scalar {res.scalar[1]}"
            if not _almost_equal(ev.expect_scalar, res.scalar[1]):
                return f"expected scalar {ev.expect_scalar} but got {res.scalar[1]}"
            return ""
        if ev.expect_scalar is not None:
            return f"expected scalar result, but got {res.type}"
        if res.type == "vector":
            return self.compare_vector(ev, res)
        return self.compare_matrix(ev, res)

    def compare_vector(self, ev: _Eval, res: QueryResult) -> str:
        seen: set[Labels] = set()
        actual = "; ".join(f"{s.labels} {s.v}" for s in res.vector) or "(empty)"
        for pos, s in enumerate(res.vector):
            exp = ev.series.get(s.labels)
            if exp is None:
                return (
                    f"unexpected metric {s.labels} in result, has value {s.v}\n  actual: {actual}"
                )
            if ev.ordered and exp[0] != pos + 1:
                return f"expected metric {s.labels} at position {exp[0]} but was at {pos + 1}"
            want = exp[1][0] if exp[1] else None
            if not isinstance(want, float) or not _almost_equal(want, s.v):
                return f"expected {want} for {s.labels} but got {s.v}\n  actual: {actual}"
            if s.labels in seen:
                return f"duplicate series {s.labels} in result"
            seen.add(s.labels)
        for labels, (_, vals) in ev.series.items():
            if labels not in seen:
                return f"expected metric {labels} with {vals} not found\n  actual: {actual}"
        return ""

    def compare_matrix(self, ev: _Eval, res: QueryResult) -> str:
        if ev.ordered:
            return "expected ordered result, but query returned a matrix"
        got = {s.labels: s for s in res.matrix}
        for prev, nxt in zip(res.matrix, res.matrix[1:], strict=False):
            if prev.labels > nxt.labels:
                return "matrix results should always be sorted by labels"
        for s in res.matrix:
            exp = ev.series.get(s.labels)
            points = list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
            if exp is None:
                return f"unexpected metric {_fmt_series(s.labels, points)} in result"
            want: list[tuple[int, float]] = []
            for k, v in enumerate(exp[1]):
                t = ev.start + k * ev.step
                if t > ev.end:
                    return (
                        f"expected {len(exp[1])} points for {s.labels}, but query time range "
                        "cannot return this many points"
                    )
                if isinstance(v, float):
                    want.append((t, v))
            if len(want) != len(points):
                return (
                    f"expected {len(want)} float points for {s.labels}, but got "
                    f"{_fmt_series(s.labels, points)}"
                )
            for (wt, wv), (at, av) in zip(want, points, strict=True):
                if wt != at or not _almost_equal(wv, av):
                    return (
                        f"expected {wv}@{wt / 1000:g}s for {s.labels}, got "
                        f"{_fmt_series(s.labels, points)}"
                    )
        for labels in ev.series:
            if labels not in got:
                return f"expected metric {labels} not found"
        return ""


def _test_options() -> EngineOptions:
    """Upstream's test engine: all experimental syntax, delayed name removal, 1m subquery step."""
    return EngineOptions(
        lookback_ms=300_000,
        timeout_s=100.0,
        default_subquery_step_ms=60_000,
        enable_delayed_name_removal=True,
        parser_options=ALL_FEATURES,
    )


def run_script(
    text: str, name: str = "<script>", options: EngineOptions | None = None
) -> FileResult:
    result = FileResult(name)
    try:
        cmds = _parse(text)
    except ScriptError as err:
        result.error = str(err)
        return result
    runner = _Runner(options or _test_options())
    for _line, cmd in cmds:
        if cmd == "clear":
            runner.storage.clear()
        elif isinstance(cmd, _Load):
            _load(runner.storage, cmd)
        elif isinstance(cmd, _Eval):
            result.outcomes.append(runner.run(cmd))
    return result


def run_file(path: str | Path, options: EngineOptions | None = None) -> FileResult:
    p = Path(path)
    return run_script(p.read_text(encoding="utf-8"), p.name, options)


def report(result: FileResult, out: TextIO) -> None:
    """One block per failing eval: where, the query, and why (expected vs actual)."""
    if result.error:
        out.write(f"{result.name}: script error: {result.error}\n")
    for o in result.outcomes:
        if not o.passed:
            out.write(f"FAIL {result.name}:{o.line}: {o.expr}\n  {o.reason}\n")


_ = np  # numpy is used through the engine's results
