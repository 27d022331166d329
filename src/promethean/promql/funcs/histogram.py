"""``histogram_quantile``, ``histogram_quantiles`` and ``histogram_fraction`` on classic buckets.

Series are grouped by their labels without ``le``; at each step the buckets
present form one histogram. Steps are batched by which buckets are present
(usually all of them at every step), and each batch is computed as arrays
over its steps, looping only over the handful of buckets.

Upstream's repairs apply: buckets with the same bound are added together,
differences within a relative 1e-12 count as float noise, and a count that
falls below an earlier bucket's is raised to it (reported once per query as
the "needed to be fixed for monotonicity" info). Native histograms are not
represented yet, so the native-only functions (``histogram_count`` and kin)
return no series.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from promethean.model.labels import Labels
from promethean.model.names import promql_quote
from promethean.promql.funcs._registry import InstantArg, annotate, instant_function
from promethean.promql.funcs._windows import F64, B
from promethean.promql.printer import format_float
from promethean.promql.values import EvalContext, StepMatrix

__all__: list[str] = []

BUCKET_LABEL = "le"
_SMALL_DELTA = 1e-12
_MIN_NORMAL = 2.2250738585072014e-308
_MONOTONICITY_INFO = (
    "input to histogram_quantile needed to be fixed for monotonicity "
    "(see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"
)


def parse_go_float(text: str) -> float | None:
    """Go's ``strconv.ParseFloat(text, 64)``, or None where Go reports an error."""
    if not text or text != text.strip() or "_" in text:
        return None
    lowered = text.lower().lstrip("+-")
    try:
        value = float.fromhex(text) if lowered.startswith("0x") else float(text)
    except (ValueError, OverflowError):
        return None
    if math.isinf(value) and "inf" not in lowered:
        return None  # out of range: Go returns an error
    return value


class _Group:
    __slots__ = ("bounds", "labels", "rows")

    def __init__(self, labels: Labels) -> None:
        self.labels = labels
        self.rows: list[int] = []
        self.bounds: list[float] = []


def _groups(m: StepMatrix, ctx: EvalContext, arg_index: int) -> list[_Group]:
    groups: dict[Labels, _Group] = {}
    seen = np.asarray(m.present.any(axis=1), dtype=np.bool_).tolist()
    for i, lbls in enumerate(m.labels):
        if not seen[i]:
            continue
        raw = lbls.get(BUCKET_LABEL)
        bound = parse_go_float(raw)
        if bound is None:
            name = lbls.metric_name
            text = f'bucket label "le" is missing or has a malformed value of {promql_quote(raw)}'
            if name:
                text += f" for metric name {promql_quote(name)}"
            annotate(ctx, "warning", text, arg_index)
            continue
        key = lbls.without(BUCKET_LABEL)
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(key)
        group.rows.append(i)
        group.bounds.append(bound)
    return list(groups.values())


def _batches(m: StepMatrix, group: _Group) -> Iterator[tuple[np.ndarray, F64, F64]]:
    """(step indices, sorted coalesced bounds, counts [buckets, steps]) per presence pattern."""
    rows = np.asarray(group.rows)
    bounds = np.asarray(group.bounds, dtype=np.float64)
    present = m.present[rows]
    if present.all():
        # The usual case: every bucket at every step, one batch.
        patterns = np.ones((1, rows.size), dtype=np.bool_)
        inverse = np.zeros(present.shape[1], dtype=np.int64)
    else:
        patterns, inverse = np.unique(present.T, axis=0, return_inverse=True)
        inverse = np.asarray(inverse).reshape(-1)
    for p, pattern in enumerate(patterns):
        if not pattern.any():
            continue
        steps = np.flatnonzero(inverse == p)
        sel = np.flatnonzero(pattern)
        order = sel[np.argsort(bounds[sel], kind="stable")]
        b = bounds[order]
        counts = m.values[rows[order]][:, steps]
        starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
        if starts.size != b.size:
            counts = np.add.reduceat(counts, starts, axis=0)
            b = b[starts]
        yield steps, b, counts


def _almost_equal(a: F64, b: F64, epsilon: float) -> B:
    with np.errstate(invalid="ignore", over="ignore"):
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        tiny = (a == 0) | (b == 0) | (abs_sum < _MIN_NORMAL)
        rel = diff / np.minimum(abs_sum, np.finfo(np.float64).max)
        out = np.where(tiny, diff < epsilon * _MIN_NORMAL, rel < epsilon)
    result: B = out | (a == b) | (np.isnan(a) & np.isnan(b))
    return result


def _make_monotonic(counts: F64) -> B:
    """Upstream's ensureMonotonicAndIgnoreSmallDeltas; ``counts`` is ``[..., buckets, steps]``
    (batches of histograms with the same buckets), fixed in place; returns "forced"."""
    prev = counts[..., 0, :].copy()
    forced = np.zeros(prev.shape, dtype=np.bool_)
    for i in range(1, counts.shape[-2]):
        curr = counts[..., i, :]
        same = curr == prev
        noise = ~same & _almost_equal(prev, curr, _SMALL_DELTA)
        drop = ~same & ~noise & (curr < prev)
        counts[..., i, :] = np.where(noise | drop, prev, curr)
        forced |= drop
        prev = np.where(same | noise | drop, prev, curr)
    return forced


def _bucket_quantile(q: F64, bounds: F64, counts: F64) -> tuple[F64, B]:
    """Upstream's bucketQuantile for ``counts`` ``[..., buckets, steps]`` sharing ``bounds``."""
    lead = counts.shape[:-2]
    n_steps = counts.shape[-1]
    if bounds[-1] != np.inf:
        out = np.full((*lead, n_steps), np.nan)
        forced = np.zeros((*lead, n_steps), dtype=np.bool_)
    else:
        counts = counts.copy()
        forced = _make_monotonic(counts)
        if bounds.size < 2:
            out = np.full((*lead, n_steps), np.nan)
        else:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                observations = counts[..., -1, :]
                rank = q * observations
                reached = counts[..., :-1, :] >= rank[..., None, :]
                b = np.where(reached.any(axis=-2), reached.argmax(axis=-2), bounds.size - 1)
                prev_b = np.maximum(b - 1, 0)
                start = np.where(b > 0, bounds[prev_b], 0.0)
                end = bounds[np.minimum(b, bounds.size - 1)]
                below = np.where(
                    b > 0, np.take_along_axis(counts, prev_b[..., None, :], axis=-2)[..., 0, :], 0.0
                )
                top = np.take_along_axis(
                    counts, np.minimum(b, bounds.size - 1)[..., None, :], axis=-2
                )[..., 0, :]
                count = top - below
                rank = np.where(b > 0, q * observations - below, rank)
                out = start + (end - start) * (rank / count)
                out = np.where(b == bounds.size - 1, bounds[-2], out)
                out = np.where((b == 0) & (bounds[0] <= 0), bounds[0], out)
                out = np.where(observations == 0, np.nan, out)
    bad_q = np.isnan(q) | (q < 0) | (q > 1)
    forced &= ~bad_q
    out = np.where(q < 0, -np.inf, out)
    out = np.where(q > 1, np.inf, out)
    out = np.where(np.isnan(q), np.nan, out)
    return out, forced


def _check_quantile(ctx: EvalContext, q: F64, where: np.ndarray, arg_index: int) -> None:
    bad = where & (np.isnan(q) | (q < 0) | (q > 1))
    for value in dict.fromkeys(q[bad].tolist()):
        annotate(
            ctx,
            "warning",
            f"quantile value should be between 0 and 1, got {format_float(value)}",
            arg_index,
        )


def _quantiles(
    m: StepMatrix,
    qs: list[F64],
    ctx: EvalContext,
    *,
    bucket_arg: int,
    forced_arg: int,
    label: str | None = None,
) -> StepMatrix:
    n_steps = m.n_steps
    labels: list[Labels] = []
    rows_v: list[F64] = []
    rows_p: list[B] = []
    groups = _groups(m, ctx, bucket_arg)
    # Histograms with the same buckets present at the same steps are computed together.
    batched: dict[tuple[bytes, bytes], list[tuple[int, np.ndarray, F64, F64]]] = {}
    for g, group in enumerate(groups):
        for steps, bounds, counts in _batches(m, group):
            key = (bounds.tobytes(), steps.tobytes())
            batched.setdefault(key, []).append((g, steps, bounds, counts))
    for q in qs:
        text = _openmetrics_float(float(q[0])) if label is not None and q.size else ""
        values = np.zeros((len(groups), n_steps))
        present = np.zeros((len(groups), n_steps), dtype=np.bool_)
        forced_any = np.zeros(len(groups), dtype=np.bool_)
        for items in batched.values():
            steps, bounds = items[0][1], items[0][2]
            stack = np.stack([c for _, _, _, c in items])
            out, forced = _bucket_quantile(q[steps], bounds, stack)
            rows = np.asarray([g for g, _, _, _ in items])
            values[rows[:, None], steps[None, :]] = out
            present[rows[:, None], steps[None, :]] = True
            forced_any[rows] |= forced.any(axis=-1)
        for g, group in enumerate(groups):
            if forced_any[g]:
                info = _MONOTONICITY_INFO
                if group.labels.metric_name:
                    info += f" for metric name {promql_quote(group.labels.metric_name)}"
                annotate(ctx, "info", info, forced_arg)
            lbls = group.labels if label is None else group.labels.merge({label: text})
            labels.append(lbls)
            rows_v.append(values[g])
            rows_p.append(present[g])
    if not labels:
        return StepMatrix.empty(n_steps)
    return StepMatrix(labels, np.vstack(rows_v), np.vstack(rows_p))


def _openmetrics_float(value: float) -> str:
    """Upstream's FormatOpenMetricsFloat: Go's shortest form, with ``.0`` on whole numbers."""
    text = format_float(value)
    if any(c in text for c in ".eIN"):
        return text
    return text + ".0"


def _matrix(arg: InstantArg) -> StepMatrix:
    assert isinstance(arg, StepMatrix)
    return arg


def _scalar(arg: InstantArg) -> F64:
    assert isinstance(arg, np.ndarray)
    return arg.astype(np.float64, copy=False)


@instant_function("histogram_quantile")
def _histogram_quantile(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    q, m = _scalar(args[0]), _matrix(args[1])
    # Upstream checks q at every step, with or without input series.
    _check_quantile(ctx, q, np.ones(q.shape, dtype=np.bool_), 0)
    return _quantiles(m, [q], ctx, bucket_arg=1, forced_arg=1)


@instant_function("histogram_quantiles")
def _histogram_quantiles(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    """One output series per histogram and quantile, the quantile in label ``args[1]``."""
    m = _matrix(args[0])
    label = args[1]
    assert isinstance(label, str)
    qs = [_scalar(a) for a in args[2:]]
    for i, q in enumerate(qs):
        _check_quantile(ctx, q, np.ones(q.shape, dtype=np.bool_), i + 2)
    return _quantiles(m, qs, ctx, bucket_arg=0, forced_arg=0, label=label)


def _bucket_fraction(lower: F64, upper: F64, bounds: F64, counts: F64) -> F64:
    n_steps = counts.shape[1]
    if bounds[-1] != np.inf:
        return np.full(n_steps, np.nan)
    total = counts[-1]
    rank = np.zeros(n_steps)
    lower_rank, upper_rank = np.zeros(n_steps), np.zeros(n_steps)
    lower_set = np.zeros(n_steps, dtype=np.bool_)
    upper_set = np.zeros(n_steps, dtype=np.bool_)
    done = np.zeros(n_steps, dtype=np.bool_)
    first_lower = 0.0 if bounds[0] > 0 else -np.inf
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        for i in range(bounds.size):
            lb = first_lower if i == 0 else float(bounds[i - 1])
            ub = float(bounds[i])
            bc = counts[i]

            def interpolate(
                v: F64, lb: float = lb, ub: float = ub, bc: F64 = bc, rank: F64 = rank
            ) -> F64:
                if lb == -np.inf:
                    return bc
                out: F64 = rank + (bc - rank) * (v - lb) / (ub - lb)
                return out

            hit = ~done & ~lower_set & (lb >= lower)
            lower_rank = np.where(hit, rank, lower_rank)
            lower_set |= hit
            hit = ~done & ~upper_set & (lb >= upper)
            upper_rank = np.where(hit, rank, upper_rank)
            upper_set |= hit
            done |= lower_set & upper_set
            hit = ~done & ~lower_set & (lb < lower) & (ub > lower)
            lower_rank = np.where(hit, interpolate(lower), lower_rank)
            lower_set |= hit
            hit = ~done & ~upper_set & (lb < upper) & (ub > upper)
            upper_rank = np.where(hit, interpolate(upper), upper_rank)
            upper_set |= hit
            done |= lower_set & upper_set
            rank = np.where(done, rank, bc)
        lower_rank = np.where(~lower_set | (lower_rank > total), total, lower_rank)
        upper_rank = np.where(~upper_set | (upper_rank > total), total, upper_rank)
        out = (upper_rank - lower_rank) / total
    out = np.where(lower >= upper, 0.0, out)
    return np.where((total == 0) | np.isnan(lower) | np.isnan(upper), np.nan, out)


@instant_function("histogram_fraction")
def _histogram_fraction(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    lower, upper, m = _scalar(args[0]), _scalar(args[1]), _matrix(args[2])
    n_steps = m.n_steps
    labels: list[Labels] = []
    rows_v: list[F64] = []
    rows_p: list[B] = []
    for group in _groups(m, ctx, 2):
        values = np.zeros(n_steps)
        present = np.zeros(n_steps, dtype=np.bool_)
        for steps, bounds, counts in _batches(m, group):
            values[steps] = _bucket_fraction(lower[steps], upper[steps], bounds, counts)
            present[steps] = True
        labels.append(group.labels)
        rows_v.append(values)
        rows_p.append(present)
    if not labels:
        return StepMatrix.empty(n_steps)
    return StepMatrix(labels, np.vstack(rows_v), np.vstack(rows_p))


@instant_function(
    "histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar"
)
def _native_only(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    """These read native histograms only; float samples give no output, as upstream."""
    return StepMatrix.empty(_matrix(args[0]).n_steps)
