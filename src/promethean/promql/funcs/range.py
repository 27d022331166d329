"""Rates, derivatives and counter functions over range vectors.

Semantics follow upstream's promql/functions.go: ``rate``/``increase``/``delta``
extrapolate towards the window edges unless the gap to an edge exceeds 1.1x the
average sample interval (then only by half an interval), and a counter is not
extrapolated below zero; ``irate``/``idelta`` use the last two samples;
``deriv``/``predict_linear`` fit a least-squares line with compensated sums,
``predict_linear`` anchoring the intercept at the evaluation time.
"""

from __future__ import annotations

import numpy as np

from promethean.model.names import promql_quote
from promethean.promql.funcs._registry import (
    FunctionError,
    Param,
    RangeResult,
    annotate,
    range_function,
)
from promethean.promql.funcs._windows import (
    F64,
    I64,
    LD,
    Lockstep,
    Windows,
    build_windows,
    gather,
    kahan_inc,
    last_index,
    nonfinite_windows,
    restrict,
    series_origin,
    unchanged_windows,
    window_sums,
)
from promethean.promql.values import EvalContext, RangeInput

__all__: list[str] = []

_COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket")


def _segment_sums(x: F64, a: I64, b: I64) -> F64:
    """Sum of ``x[a[i]:b[i]]`` for every i with ``a[i] < b[i]``, summed in order."""
    if a.size == 0:
        return np.zeros(0)
    padded = np.append(x, 0.0)
    idx = np.empty(a.size * 2, dtype=np.int64)
    idx[0::2] = a
    idx[1::2] = b
    sums: F64 = np.add.reduceat(padded, idx)[0::2]
    return sums


def _st_resets(w: Windows) -> np.ndarray:
    """Flag i: the start timestamps say the counter restarted between samples i-1 and i.

    Upstream's isStartTimestampReset: a start time after the previous sample is a
    reset; one equal to it is a reset only when the previous sample's own start time
    is known, valid and not its timestamp (a delta series, not a cumulative one of
    unknown start).
    """
    flags = np.zeros(w.vs.size, dtype=np.bool_)
    if w.st is None or w.vs.size < 2:
        return flags
    cur, cur_t = w.st[1:], w.ts[1:]
    prev, prev_t = w.st[:-1], w.ts[:-1]
    delta_like = (prev <= prev_t) & (prev != 0) & (prev != prev_t)
    flags[1:] = (cur != 0) & (cur < cur_t) & (cur >= prev_t) & ((cur > prev_t) | delta_like)
    return flags


def _st_overlaps(w: Windows) -> np.ndarray:
    """Flag i: sample i's start time lies before sample i-1 (and is not a shared start)."""
    flags = np.zeros(w.vs.size, dtype=np.bool_)
    if w.st is None or w.vs.size < 2:
        return flags
    cur, prev, prev_t = w.st[1:], w.st[:-1], w.ts[:-1]
    flags[1:] = (cur != 0) & (cur < prev_t) & (cur != prev)
    return flags


def _reset_flags(w: Windows) -> tuple[np.ndarray, I64]:
    """Flag i marks a counter reset between flat samples i-1 and i; plus its running count."""
    flags = np.zeros(w.vs.size, dtype=np.bool_)
    if w.vs.size > 1:
        flags[1:] = w.vs[1:] < w.vs[:-1]
    flags |= _st_resets(w)
    running = np.zeros(w.vs.size + 1, dtype=np.int64)
    np.cumsum(flags, out=running[1:])
    return flags, running


def _extended_first(w: Windows, arg: RangeInput) -> tuple[I64, I64, I64, np.ndarray]:
    """Window bounds of an anchored/smoothed range, per series and step.

    Returns ``(first, last, window_end, present)``: ``first`` is the sample at or
    before the range start (within the lookback) or else the first one inside,
    ``last`` the last one at or before the end (smoothed: the first at or after it,
    within the lookback), ``window_end`` one past the last sample read for the step.
    ``present`` is False where no sample lies after the range start.
    """
    steps = np.asarray(arg.step_times, dtype=np.int64)
    start = steps - int(arg.range_ms)
    lb = int(arg.lookback_ms)
    ws = w.search(start - lb, "right")
    we = w.search(steps + lb if arg.smoothed else steps, "right")
    nonempty = we > ws
    last_w = np.maximum(we - 1, ws)
    first = np.maximum(ws, np.minimum(w.search(start, "right"), last_w) - 1)
    last = np.minimum(w.search(steps, "left"), last_w) if arg.smoothed else last_w
    present = nonempty & (gather(w.ts, last) > start[None, :])
    if arg.smoothed:
        # Samples only after the range: nothing to interpolate from.
        present &= gather(w.ts, first) <= steps[None, :]
    return first, last, we, present


def _interp(w: Windows, a: I64, t: I64, *, is_counter: bool) -> F64:
    """The value at ``t`` on the line through samples ``a`` and ``a + 1``."""
    b = a + 1
    t1, t2 = gather(w.ts, a), gather(w.ts, b)
    y1 = gather(w.vs, a).astype(np.float64)
    y2 = gather(w.vs, b).astype(np.float64)
    if is_counter:
        # Across a reset the counter restarts from zero at the earlier sample.
        y1 = np.where(y2 < y1, 0.0, y1)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        out: F64 = y1 + (y2 - y1) * (t - t1) / np.where(t2 != t1, t2 - t1, 1)
    return out


def _extended_rate(
    arg: RangeInput, ctx: EvalContext, *, is_counter: bool, is_rate: bool
) -> RangeResult:
    """rate/increase/delta over an anchored or smoothed range (upstream's extendedRate).

    The difference between the values at the two edges of the window: the sample
    at or before each edge (anchored), or the value interpolated at the edge
    (smoothed). No extrapolation. A counter adds back what each reset lost.
    """
    w = build_windows(arg)
    first, last, _, present = _extended_first(w, arg)
    steps = np.asarray(arg.step_times, dtype=np.int64)[None, :]
    start = steps - int(arg.range_ms)
    t_first, t_last = gather(w.ts, first), gather(w.ts, last)
    left = gather(w.vs, first).astype(np.float64)
    right = gather(w.vs, last).astype(np.float64)
    if arg.smoothed:
        shape = first.shape
        starts = np.broadcast_to(start, shape)
        ends = np.broadcast_to(steps, shape)
        at_left = present & (t_first < starts)
        left = np.where(at_left, _interp(w, first, starts, is_counter=is_counter), left)
        row_start = w.starts[:-1][:, None]
        at_right = present & (last > row_start) & (t_last > ends)
        right = np.where(
            at_right,
            _interp(w, np.maximum(last - 1, 0), ends, is_counter=is_counter),
            right,
        )
    with np.errstate(invalid="ignore", over="ignore"):
        result = right - left
        if is_counter and w.vs.size:
            fi = first + (t_first <= start)
            la = last - (t_last >= steps)
            inner = present & (fi <= la)
            v_fi = gather(w.vs, fi)
            v_la = gather(w.vs, la)
            corr = np.where(inner & (v_fi < left), left, 0.0)
            prev = np.zeros(w.vs.size, dtype=np.float64)
            if w.vs.size > 1:
                prev[1:] = np.where(w.vs[1:] < w.vs[:-1], w.vs[:-1], 0.0)
            pairs = inner & (fi < la)
            if pairs.any():
                corr[pairs] += _segment_sums(prev, fi[pairs] + 1, la[pairs] + 1)
            before_right = np.where(inner, v_la, left)
            corr = corr + np.where(right < before_right, before_right, 0.0)
            result = result + corr
        if is_rate:
            result = result / (int(arg.range_ms) / 1000.0)
    return np.where(present, result, 0.0), present


def _extrapolated_rate(
    arg: RangeInput, ctx: EvalContext, *, is_counter: bool, is_rate: bool
) -> RangeResult:
    if arg.anchored or arg.smoothed:
        return _extended_rate(arg, ctx, is_counter=is_counter, is_rate=is_rate)
    w = build_windows(arg)
    cnt = w.count
    lo, last = w.lo, last_index(w)
    t0 = gather(w.ts, lo).astype(np.int64)
    t1 = gather(w.ts, last).astype(np.int64)
    v0 = gather(w.vs, lo).astype(np.float64)
    v1 = gather(w.vs, last).astype(np.float64)
    steps = np.asarray(arg.step_times, dtype=np.int64)[None, :]
    range_start = steps - int(arg.range_ms)
    # A counter whose first sample's start time lies inside the window started from zero
    # there: no extrapolation to the left, and one sample is enough (upstream with
    # start timestamps).
    from_st = np.zeros(cnt.shape, dtype=np.bool_)
    st0 = np.zeros(cnt.shape, dtype=np.int64)
    if is_counter and w.st is not None:
        st0 = gather(w.st, lo)
        from_st = (cnt >= 1) & (st0 != 0) & (st0 > range_start) & (st0 < t0)
    present = (cnt >= 2) | from_st
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        result = v1 - v0
        if is_counter and w.vs.size > 1:
            flags, running = _reset_flags(w)
            n_resets = np.where(present, running[w.hi] - running[np.minimum(lo + 1, w.hi)], 0)
            has = n_resets > 0
            if has.any():
                prev = np.zeros(w.vs.size, dtype=np.float64)
                prev[1:] = np.where(flags[1:], w.vs[:-1], 0.0)
                result[has] = result[has] + _segment_sums(prev, lo[has] + 1, w.hi[has])
            if w.st is not None:
                _warn_overlaps(arg, w, present, ctx)
        to_start = (t0 - range_start) / 1000.0
        to_end = (steps - t1) / 1000.0
        sampled = (t1 - t0) / 1000.0
        average = np.where(cnt > 1, sampled / np.maximum(cnt - 1, 1), 0.0)
        threshold = average * 1.1
        to_start = np.where(to_start >= threshold, average / 2, to_start)
        if is_counter:
            to_zero = np.where(
                (result > 0) & (v0 >= 0),
                sampled * (v0 / np.where(result > 0, result, 1.0)),
                to_start,
            )
            to_start = np.where(to_zero < to_start, to_zero, to_start)
        if from_st.any():
            to_start = np.where(from_st, 0.0, to_start)
            sampled = np.where(from_st, (t1 - st0) / 1000.0, sampled)
            result = np.where(from_st, result + v0, result)
        to_end = np.where(to_end >= threshold, average / 2, to_end)
        ok = present & (sampled != 0)
        factor = np.where(ok, (sampled + to_start + to_end) / np.where(ok, sampled, 1.0), 1.0)
        if is_rate:
            factor = factor / (int(arg.range_ms) / 1000.0)
        result = result * factor
    if is_counter:
        _warn_non_counters(arg, present, ctx)
    return np.where(present, result, 0.0), present


def _warn_overlaps(arg: RangeInput, w: Windows, present: np.ndarray, ctx: EvalContext) -> None:
    """Upstream warns once per series whose window pairs a sample with an overlapping start."""
    overlaps = _st_overlaps(w)
    if not overlaps.any():
        return
    running = np.zeros(overlaps.size + 1, dtype=np.int64)
    np.cumsum(overlaps, out=running[1:])
    hit = present & (running[w.hi] - running[np.minimum(w.lo + 1, w.hi)] > 0)
    for i in np.flatnonzero(hit.any(axis=1)):
        name = arg.labels[i].metric_name
        annotate(
            ctx,
            "warning",
            "sample has start time that overlaps with previous sample timestamp for metric "
            f"{promql_quote(name)}",
        )


def _warn_non_counters(arg: RangeInput, present: np.ndarray, ctx: EvalContext) -> None:
    if not arg.metric_names:
        return
    any_output = np.asarray(present.any(axis=1))
    for i, name in enumerate(arg.metric_names):
        if name and any_output[i] and not name.endswith(_COUNTER_SUFFIXES):
            annotate(
                ctx,
                "info",
                "metric might not be a counter, name does not end in "
                f"_total/_sum/_count/_bucket: {promql_quote(name)}",
            )


@range_function("rate")
def _rate(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _extrapolated_rate(arg, ctx, is_counter=True, is_rate=True)


@range_function("increase")
def _increase(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _extrapolated_rate(arg, ctx, is_counter=True, is_rate=False)


@range_function("delta")
def _delta(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _extrapolated_rate(arg, ctx, is_counter=False, is_rate=False)


def _instant_value(arg: RangeInput, *, is_rate: bool) -> RangeResult:
    w = build_windows(arg)
    present = w.count >= 2
    last = last_index(w)
    prev = np.maximum(last - 1, 0)
    v1 = gather(w.vs, last).astype(np.float64)
    v0 = gather(w.vs, prev).astype(np.float64)
    interval = (gather(w.ts, last) - gather(w.ts, prev)).astype(np.int64)
    present &= interval != 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if is_rate:
            # After a counter reset the last value is the increase since the reset.
            reset = v1 < v0
            if w.st is not None:
                reset |= gather(_st_resets(w), last) & (last > prev)
            result = np.where(reset, v1, v1 - v0)
            result = result / (np.where(present, interval, 1) / 1000.0)
        else:
            result = v1 - v0
    return np.where(present, result, 0.0), present


@range_function("irate")
def _irate(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _instant_value(arg, is_rate=True)


@range_function("idelta")
def _idelta(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _instant_value(arg, is_rate=False)


def _pair_changes(w: Windows, flags: np.ndarray) -> RangeResult:
    """Count the flagged sample pairs (i-1, i) with both samples inside each window."""
    running = np.zeros(flags.size + 1, dtype=np.int64)
    np.cumsum(flags, out=running[1:])
    present = w.count >= 1
    first_pair = np.minimum(w.lo + 1, w.hi)
    counts = (running[w.hi] - running[first_pair]).astype(np.float64)
    return np.where(present, counts, 0.0), present


def _anchored_pairs(w: Windows, arg: RangeInput, flags: np.ndarray) -> RangeResult | None:
    """changes/resets over an anchored range: counted from the sample at or before the start."""
    if not arg.anchored:
        return None
    first, _, we, present = _extended_first(w, arg)
    running = np.zeros(flags.size + 1, dtype=np.int64)
    np.cumsum(flags, out=running[1:])
    counts = (running[we] - running[np.minimum(first + 1, we)]).astype(np.float64)
    return np.where(present, counts, 0.0), present


@range_function("resets")
def _resets(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    flags, _ = _reset_flags(w)
    return _anchored_pairs(w, arg, flags) or _pair_changes(w, flags)


@range_function("changes")
def _changes(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    flags = np.zeros(w.vs.size, dtype=np.bool_)
    if w.vs.size > 1:
        a, b = w.vs[:-1], w.vs[1:]
        flags[1:] = (a != b) & ~(np.isnan(a) & np.isnan(b))
    return _anchored_pairs(w, arg, flags) or _pair_changes(w, flags)


def _linear_regression(w: Windows, lock: Lockstep, intercept_ms: I64) -> tuple[F64, F64]:
    """Slope and intercept (at ``intercept_ms``, per window) of a least-squares fit.

    Compensated sums in sample order, like upstream, so results match to the
    last bit; a constant series has slope 0 exactly (NaN if that constant is
    infinite).
    """
    m = len(lock)
    n = lock.counts.astype(np.float64)
    sum_x, c_x = np.zeros(m), np.zeros(m)
    sum_y, c_y = np.zeros(m), np.zeros(m)
    sum_xy, c_xy = np.zeros(m), np.zeros(m)
    sum_x2, c_x2 = np.zeros(m), np.zeros(m)
    init_y = w.vs[lock.lo]
    const_y = np.ones(m, dtype=np.bool_)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(lock.max_count):
            a = lock.active(k)
            idx = lock.lo[:a] + k
            y = w.vs[idx]
            if k:
                const_y[:a] &= y == init_y[:a]
            x = (w.ts[idx] - intercept_ms[:a]) / 1e3
            sum_x[:a], c_x[:a] = kahan_inc(x, sum_x[:a], c_x[:a])
            sum_y[:a], c_y[:a] = kahan_inc(y, sum_y[:a], c_y[:a])
            sum_xy[:a], c_xy[:a] = kahan_inc(x * y, sum_xy[:a], c_xy[:a])
            sum_x2[:a], c_x2[:a] = kahan_inc(x * x, sum_x2[:a], c_x2[:a])
        sum_x += c_x
        sum_y += c_y
        sum_xy += c_xy
        sum_x2 += c_x2
        cov_xy = sum_xy - sum_x * sum_y / n
        var_x = sum_x2 - sum_x * sum_x / n
        with np.errstate(divide="ignore"):
            slope = cov_xy / var_x
        intercept = sum_y / n - slope * sum_x / n
    inf_y = np.isinf(init_y)
    slope = np.where(const_y, np.where(inf_y, np.nan, 0.0), slope)
    intercept = np.where(const_y, np.where(inf_y, np.nan, init_y), intercept)
    return slope, intercept


def _eval_times(arg: RangeInput, ctx: EvalContext) -> I64:
    """The evaluation time of each step (before offset and ``@``), for predict_linear."""
    steps = np.asarray(ctx.step_times, dtype=np.int64)
    if steps.shape == np.shape(arg.step_times):
        return steps
    return np.asarray(arg.step_times, dtype=np.int64)


def _fit(w: Windows, intercept_at: I64 | None) -> tuple[F64, F64, np.ndarray]:
    """Least-squares slope (and intercept at ``intercept_at`` ms, per step) of every
    window with two or more samples, plus where that is.

    Sums come from :func:`window_sums` in extended precision, centred on each
    series' first sample; a window whose values never change has slope 0 exactly,
    and windows with NaN or infinities take upstream's ordered compensated walk.
    """
    shape = w.shape
    eligible = w.count >= 2
    bad = eligible & nonfinite_windows(w)
    fast = eligible & ~bad
    slope = np.zeros(shape)
    intercept = np.zeros(shape)
    sel = np.flatnonzero(fast.ravel())
    if sel.size:
        t0, y0 = series_origin(w)
        x = ((w.ts - t0) / 1e3).astype(LD)
        yc = w.vs.astype(LD) - y0.astype(LD)
        sx, sy, sxy, sxx = window_sums(w, sel, [x, yc, x * yc, x * x])
        n = w.count.ravel()[sel].astype(LD)
        lo = w.lo.ravel()[sel]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            fit_slope = (sxy - sx * sy / n) / (sxx - sx * sx / n)
            const = unchanged_windows(w).ravel()[sel]
            fit_slope = np.where(const, LD(0), fit_slope)
            slope.ravel()[sel] = fit_slope.astype(np.float64)
            if intercept_at is not None:
                at = np.broadcast_to(intercept_at[None, :], shape).ravel()[sel]
                at_rel = ((at - t0[lo]) / 1e3).astype(LD)
                icpt = sy / n - fit_slope * (sx / n - at_rel) + y0[lo].astype(LD)
                icpt = np.where(const, w.vs[lo].astype(LD), icpt)
                intercept.ravel()[sel] = icpt.astype(np.float64)
    if bad.any():
        slow = restrict(w, bad)
        lock = Lockstep(slow, min_count=2)
        if intercept_at is None:
            at_ms = slow.ts[lock.lo]
        else:
            at_ms = intercept_at[lock.pairs % max(shape[1], 1)]
        s_slow, i_slow = _linear_regression(slow, lock, at_ms)
        slope.ravel()[lock.pairs] = s_slow
        intercept.ravel()[lock.pairs] = i_slow
    return slope, intercept, eligible


@range_function("deriv")
def _deriv(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    slope, _, present = _fit(w, None)
    return slope, present


@range_function("predict_linear")
def _predict_linear(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    duration = np.asarray(params[0], dtype=np.float64)
    slope, intercept, present = _fit(w, _eval_times(arg, ctx))
    with np.errstate(invalid="ignore", over="ignore"):
        predicted = slope * duration[None, :] + intercept
    return np.where(present, predicted, 0.0), present


def _go_fixed(value: float) -> str:
    """Go's ``%f``."""
    if np.isnan(value):
        return "NaN"
    if np.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.6f}"


@range_function("double_exponential_smoothing")
def _double_exponential_smoothing(
    arg: RangeInput, params: list[Param], ctx: EvalContext
) -> RangeResult:
    w = build_windows(arg)
    sf_steps = np.asarray(params[0], dtype=np.float64)
    tf_steps = np.asarray(params[1], dtype=np.float64)
    called = (w.count >= 1).any(axis=0)
    # Upstream checks the factors only where the function runs (a non-empty window).
    for factors, what, short in ((sf_steps, "smoothing", "sf"), (tf_steps, "trend", "tf")):
        bad = called & ~((factors > 0) & (factors < 1))
        if bad.any():
            got = float(factors[int(np.flatnonzero(bad)[0])])
            raise FunctionError(
                f"invalid {what} factor. Expected: 0 < {short} < 1, got: {_go_fixed(got)}"
            )
    lock = Lockstep(w, min_count=2)
    step_of = lock.pairs % max(w.shape[1], 1)
    sf, tf = sf_steps[step_of], tf_steps[step_of]
    first = w.vs[lock.lo]
    s1 = first.copy()
    s0 = np.zeros(len(lock))
    b = w.vs[lock.lo + 1] - first
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(1, lock.max_count):
            a = lock.active(k)
            x = sf[:a] * w.vs[lock.lo[:a] + k]
            if k > 1:
                b[:a] = tf[:a] * (s1[:a] - s0[:a]) + (1 - tf[:a]) * b[:a]
            y = (1 - sf[:a]) * (s1[:a] + b[:a])
            s0[:a] = s1[:a]
            s1[:a] = x + y
    return lock.scatter(w.shape, s1)
