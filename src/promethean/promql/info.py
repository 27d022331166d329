"""``info(v, {selector})``: enrich series with the data labels of their info series.

Upstream's semantics (promql/info.go, 3.x): an info series (``target_info`` unless
the selector names others through ``__name__`` matchers) belongs to a series when
they agree on the identifying labels ``instance`` and ``job`` that the series has.
At each step the newest sample of each info series in the lookback window counts
(two info series of one metric name with equally new samples are an error). Its
labels, except ``__name__`` and those the series already has, are added; with data
label matchers only the labels they name. A series without a matching info series
is kept as it is, unless a data label matcher refuses the empty value. Series that
are info series themselves (their name matches the ``__name__`` matchers) pass
through untouched.

Info series are read at the time the first selector in ``v`` reads its samples:
``offset`` and ``@`` shift it, including those of enclosing subqueries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from promethean.model.labels import METRIC_NAME, Labels
from promethean.model.matchers import Matcher, MatchType
from promethean.promql import ast
from promethean.promql.selectors import stale_mask
from promethean.promql.values import EvalError, StepMatrix
from promethean.tsdb.storage import Querier

__all__ = ["IDENTIFYING_LABELS", "evaluate_info", "info_reference_times"]

I64 = npt.NDArray[np.int64]
IDENTIFYING_LABELS = ("instance", "job")
_TARGET_INFO = "target_info"


def info_reference_times(
    expr: ast.Expr,
    steps: I64,
    at_time: Callable[[int | None, str | None], int | None],
    dur_ms: Callable[[int, ast.DurationExpr | None], int],
) -> I64:
    """When the first selector of ``expr`` reads its samples, for each step."""
    path = _path_to_selector(expr)
    ref = steps.astype(np.int64).copy()
    for node in path:
        if isinstance(node, ast.SubqueryExpr | ast.VectorSelector):
            pinned = at_time(node.timestamp_ms, node.start_or_end)
            offset = dur_ms(node.offset_ms, node.offset_expr)
            if pinned is not None:
                ref = np.full_like(ref, pinned)
            ref = ref - np.int64(offset)
    return ref


def _path_to_selector(expr: ast.Expr) -> list[ast.Expr]:
    """The subqueries leading to the first vector selector (depth first), then it."""
    stack: list[tuple[ast.Expr, list[ast.Expr]]] = [(expr, [])]
    while stack:
        node, path = stack.pop()
        if isinstance(node, ast.VectorSelector):
            return [*path, node]
        here = [*path, node] if isinstance(node, ast.SubqueryExpr) else path
        stack.extend((c, here) for c in reversed(ast.children(node)))
    return []


def _sampled(
    ts: I64, vs: npt.NDArray[np.float64], ref: I64, lookback_ms: int
) -> tuple[I64, npt.NDArray[np.bool_]]:
    """The timestamp of the sample an instant selector takes at each ``ref``, and where."""
    idx = np.searchsorted(ts, ref, side="right") - 1
    ok = idx >= 0
    safe = np.where(ok, idx, 0)
    t = ts[safe]
    ok &= t > ref - lookback_ms
    ok &= ~stale_mask(vs[safe])
    return t, ok


def evaluate_info(
    base: StepMatrix,
    selector: ast.VectorSelector | None,
    ref: I64,
    lookback_ms: int,
    querier: Callable[[int, int], Querier],
    histogram_series: Callable[[Labels], bool] | None = None,
) -> StepMatrix:
    data: dict[str, list[Matcher]] = {}
    name_matchers: list[Matcher] = []
    for m in selector.matchers if selector is not None else ():
        if m.name == METRIC_NAME:
            name_matchers.append(m)
        else:
            data.setdefault(m.name, []).append(m)
    name_matchers = _effective_name_matchers(name_matchers)
    ignored = [all(m.matches(lbl.metric_name) for m in name_matchers) for lbl in base.labels]
    id_values: dict[str, set[str]] = {}
    for lbl, skip in zip(base.labels, ignored, strict=True):
        if skip:
            continue
        for name in IDENTIFYING_LABELS:
            v = lbl.get(name)
            if v:
                id_values.setdefault(name, set()).add(v)
    infos = (
        _fetch(
            querier,
            id_values,
            [*name_matchers, *(m for ms in data.values() for m in ms)],
            ref,
            lookback_ms,
            histogram_series,
        )
        if id_values
        else []
    )
    return _combine(base, ignored, infos, data)


def _effective_name_matchers(given: list[Matcher]) -> list[Matcher]:
    """Which metrics are info metrics: ``target_info`` by default; negated matchers
    alone narrow every ``*_info`` metric; positive ones all apply."""
    if not given:
        return [Matcher(METRIC_NAME, MatchType.EQUAL, _TARGET_INFO)]
    if all(m.type in (MatchType.NOT_EQUAL, MatchType.NOT_REGEX) for m in given):
        return [Matcher(METRIC_NAME, MatchType.REGEX, ".+_info"), *given]
    return given


_Info = tuple[Labels, I64, npt.NDArray[np.bool_]]


def _fetch(
    querier: Callable[[int, int], Querier],
    id_values: dict[str, set[str]],
    matchers: list[Matcher],
    ref: I64,
    lookback_ms: int,
    histogram_series: Callable[[Labels], bool] | None,
) -> list[_Info]:
    if ref.size == 0:
        return []
    q = querier(int(ref.min()) - lookback_ms + 1, int(ref.max()))
    out: list[_Info] = []
    try:
        for s in q.select(matchers, sort=True):
            if any(s.labels.get(k) not in vals for k, vals in id_values.items()):
                continue
            if histogram_series is not None and histogram_series(s.labels):
                raise EvalError("info sample should be float")
            t, ok = _sampled(s.timestamps, s.values, ref, lookback_ms)
            if ok.any():
                out.append((s.labels, t, ok))
    finally:
        q.close()
    return out


def _signature(name: str, lbl: Labels) -> tuple[str, ...]:
    parts = [name]
    for k in IDENTIFYING_LABELS:
        v = lbl.get(k)
        if v:
            parts.extend((k, v))
    return tuple(parts)


def _winners(candidates: Sequence[int], infos: list[_Info], n_steps: int) -> I64:
    """Per step, the candidate info series with the newest sample (-1: none)."""
    best = np.full(n_steps, -1, dtype=np.int64)
    best_t = np.full(n_steps, np.iinfo(np.int64).min, dtype=np.int64)
    for j in candidates:
        lbl, t, ok = infos[j]
        tie = ok & (best >= 0) & (t == best_t)
        if tie.any():
            k = int(np.flatnonzero(tie)[0])
            other = infos[int(best[k])][0]
            raise EvalError(
                f"found duplicate series for info metric: existing {other} @ {int(best_t[k])}, "
                f"new {lbl} @ {int(t[k])}"
            )
        newer = ok & (t > best_t)
        best = np.where(newer, j, best)
        best_t = np.where(newer, t, best_t)
    return best


def _combine(
    base: StepMatrix,
    ignored: list[bool],
    infos: list[_Info],
    data_matchers: dict[str, list[Matcher]],
) -> StepMatrix:
    n_steps = base.n_steps
    by_sig: dict[tuple[str, ...], list[int]] = {}
    for j, (lbl, _, _) in enumerate(infos):
        by_sig.setdefault(_signature(lbl.metric_name, lbl), []).append(j)
    names = sorted({lbl.metric_name for lbl, _, _ in infos})
    keep_unmatched = all(m.matches("") for ms in data_matchers.values() for m in ms)
    drops = base.drop_name if base.drop_name is not None else np.zeros(base.n_series, bool)
    rows: dict[tuple[Labels, bool], int] = {}
    out_l: list[Labels] = []
    out_v: list[npt.NDArray[np.float64]] = []
    out_p: list[npt.NDArray[np.bool_]] = []
    out_d: list[bool] = []

    def emit(lbl: Labels, drop: bool, values: npt.NDArray[np.float64], mask: np.ndarray) -> None:
        key = (lbl, drop)
        k = rows.get(key)
        if k is None:
            rows[key] = len(out_l)
            out_l.append(lbl)
            out_v.append(np.where(mask, values, 0.0))
            out_p.append(mask.copy())
            out_d.append(drop)
            return
        if (out_p[k] & mask).any():
            raise EvalError("vector cannot contain metrics with the same labelset")
        out_v[k] = np.where(mask, values, out_v[k])
        out_p[k] = out_p[k] | mask

    for i, lbl in enumerate(base.labels):
        present = base.present[i]
        drop = bool(drops[i])
        if ignored[i] or not infos:
            if ignored[i] or keep_unmatched:
                emit(lbl, drop, base.values[i], present)
            continue
        winners = np.stack(
            [_winners(by_sig.get(_signature(n, lbl), ()), infos, n_steps) for n in names]
        )
        cols = np.flatnonzero(present)
        if cols.size == 0:
            continue
        combos, inverse = np.unique(winners[:, cols], axis=1, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
        for c in range(combos.shape[1]):
            chosen = [int(j) for j in combos[:, c] if j >= 0]
            mask = np.zeros(n_steps, dtype=np.bool_)
            mask[cols[inverse == c]] = True
            if not chosen:
                if keep_unmatched:
                    emit(lbl, drop, base.values[i], mask)
                continue
            emit(
                _enriched(lbl, [infos[j][0] for j in chosen], data_matchers),
                drop,
                base.values[i],
                mask,
            )
    if not out_l:
        return StepMatrix.empty(n_steps)
    return StepMatrix(
        out_l, np.vstack(out_v), np.vstack(out_p), drop_name=np.asarray(out_d, dtype=np.bool_)
    )


def _enriched(lbl: Labels, infos: list[Labels], data_matchers: dict[str, list[Matcher]]) -> Labels:
    added: dict[str, str] = {}
    for info in infos:
        for name, value in info:
            if name == METRIC_NAME:
                continue
            if data_matchers and name not in data_matchers:
                continue
            have = added.get(name, "")
            if have and have != value:
                raise EvalError(f"conflicting label: {name}")
            if lbl.get(name):
                continue
            added[name] = value
    return lbl.merge(added) if added else lbl
