"""The ``*_over_time`` family: one aggregate per window of a range vector.

Sums, means and variances use upstream's compensated (Neumaier) summation in
sample order, walking all windows in lockstep, so extreme inputs (1e100 next
to 1, overflowing sums) give upstream's exact results. Quantiles sort each
window with NaN first, as upstream's sort does, and interpolate between the
two nearest ranks.
"""

from __future__ import annotations

import numpy as np

from promethean.promql.funcs._registry import Param, RangeResult, annotate, range_function
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
from promethean.promql.printer import format_float
from promethean.promql.values import EvalContext, RangeInput

__all__: list[str] = []

# Windows are padded into a [windows, longest] block for sorting; cap its size.
_SORT_BLOCK = 1 << 22


@range_function("count_over_time")
def _count_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    cnt = w.count
    return cnt.astype(np.float64), cnt > 0


@range_function("present_over_time", "absent_over_time")
def _present_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    """``absent_over_time``'s per-series part too: the engine turns "present nowhere" into 1."""
    w = build_windows(arg)
    present = w.count > 0
    return present.astype(np.float64), present


@range_function("last_over_time", keeps_name=True)
def _last_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    present = w.count > 0
    return np.where(present, gather(w.vs, last_index(w)), 0.0), present


@range_function("first_over_time", keeps_name=True)
def _first_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    present = w.count > 0
    return np.where(present, gather(w.vs, w.lo), 0.0), present


@range_function("ts_of_last_over_time")
def _ts_of_last_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    present = w.count > 0
    return np.where(present, gather(w.ts, last_index(w)) / 1000.0, 0.0), present


@range_function("ts_of_first_over_time")
def _ts_of_first_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    present = w.count > 0
    return np.where(present, gather(w.ts, w.lo) / 1000.0, 0.0), present


def _reduce_windows(ufunc: np.ufunc, w: Windows) -> RangeResult:
    """``ufunc.reduce`` over every non-empty window (reduceat on interleaved bounds)."""
    present = w.count > 0
    out = np.zeros(w.shape, dtype=np.float64)
    if not present.any():
        return out, present
    lo, hi = w.lo[present], w.hi[present]
    idx = np.empty(lo.size * 2, dtype=np.int64)
    idx[0::2] = lo
    idx[1::2] = hi
    padded = np.append(w.vs, 0.0)
    out[present] = ufunc.reduceat(padded, idx)[0::2]
    return out, present


@range_function("max_over_time")
def _max_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    # NaN loses against any number but stands when the window holds nothing else.
    return _reduce_windows(np.fmax, build_windows(arg))


@range_function("min_over_time")
def _min_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _reduce_windows(np.fmin, build_windows(arg))


def _ts_of_extreme(arg: RangeInput, *, want_max: bool) -> RangeResult:
    """Time of the last sample holding the window's max (min); NaN counts as "no value yet"."""
    w = build_windows(arg)
    lock = Lockstep(w)
    best = w.vs[lock.lo].copy()
    best_t = w.ts[lock.lo].copy()
    for k in range(1, lock.max_count):
        a = lock.active(k)
        idx = lock.lo[:a] + k
        cur = w.vs[idx]
        ref = best[:a]
        better = (cur >= ref) if want_max else (cur <= ref)
        take = better | np.isnan(ref)
        best[:a] = np.where(take, cur, ref)
        best_t[:a] = np.where(take, w.ts[idx], best_t[:a])
    return lock.scatter(w.shape, best_t / 1000.0)


@range_function("ts_of_max_over_time")
def _ts_of_max_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _ts_of_extreme(arg, want_max=True)


@range_function("ts_of_min_over_time")
def _ts_of_min_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _ts_of_extreme(arg, want_max=False)


def _prefix_sums(w: Windows) -> tuple[F64, np.ndarray] | None:
    """Window sums from per-series running sums, where that is as good as upstream's.

    Exact when every value is a whole number and the running sums stay below
    2**53; otherwise accepted per window only where the worst-case rounding
    error of the difference is below 1e-10 of the result. ``None`` when the
    data has non-finite values (those need the ordered, compensated walk).
    """
    vs = w.vs
    if vs.size == 0 or not np.isfinite(vs).all():
        return None
    csum = np.zeros(vs.size + 1)
    cabs = np.zeros(vs.size + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(w.starts.size - 1):
            a, b = int(w.starts[i]), int(w.starts[i + 1])
            if b > a:
                np.cumsum(vs[a:b], out=csum[a + 1 : b + 1])
                np.cumsum(np.abs(vs[a:b]), out=cabs[a + 1 : b + 1])
    if not np.isfinite(cabs).all():
        return None  # overflow: upstream's switch to an incremental mean applies
    # Running sums restart per series: index a series' own start.
    sid = np.searchsorted(w.starts, w.lo, side="right") - 1
    base = w.starts[np.clip(sid, 0, w.starts.size - 2)]
    own = np.where(w.lo > base, csum[w.lo], 0.0)
    sums = np.where(w.hi > base, csum[w.hi], 0.0) - own
    if np.all(vs == np.floor(vs)) and float(cabs.max()) < 2.0**53:
        return sums, np.ones(sums.shape, dtype=np.bool_)
    lengths = np.diff(w.starts)[np.clip(sid, 0, w.starts.size - 2)]
    bound = lengths * 2.3e-16 * np.where(w.hi > base, cabs[w.hi], 0.0)
    ok = bound <= 1e-10 * np.abs(sums)
    return sums, ok


def _kahan_window_sums(w: Windows, lock: Lockstep) -> tuple[F64, F64]:
    s, c = np.zeros(len(lock)), np.zeros(len(lock))
    for k in range(lock.max_count):
        a = lock.active(k)
        s[:a], c[:a] = kahan_inc(w.vs[lock.lo[:a] + k], s[:a], c[:a])
    return s, c


@range_function("sum_over_time")
def _sum_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    w = build_windows(arg)
    fast = _prefix_sums(w)
    present = w.count > 0
    if fast is not None and fast[1][present].all():
        return np.where(present, fast[0], 0.0), present
    lock = Lockstep(w)
    s, c = np.zeros(len(lock)), np.zeros(len(lock))
    for k in range(lock.max_count):
        a = lock.active(k)
        s[:a], c[:a] = kahan_inc(w.vs[lock.lo[:a] + k], s[:a], c[:a])
    with np.errstate(invalid="ignore"):
        total = np.where(np.isinf(s), s, s + c)
    return lock.scatter(w.shape, total)


@range_function("avg_over_time")
def _avg_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    """Direct mean while the running sum stays finite, incremental mean after (as upstream)."""
    w = build_windows(arg)
    fast = _prefix_sums(w)
    present = w.count > 0
    if fast is not None and fast[1][present].all():
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(present, fast[0] / np.maximum(w.count, 1), 0.0), present
    lock = Lockstep(w)
    m = len(lock)
    total = w.vs[lock.lo].copy()
    comp = np.zeros(m)
    mean = np.zeros(m)
    incremental = np.zeros(m, dtype=np.bool_)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for k in range(1, lock.max_count):
            a = lock.active(k)
            f = w.vs[lock.lo[:a] + k]
            count = float(k + 1)
            inc = incremental[:a]
            new_sum, new_c = kahan_inc(f, total[:a], comp[:a])
            direct = ~inc & ~np.isinf(new_sum)
            switch = ~inc & np.isinf(new_sum)
            total[:a] = np.where(direct, new_sum, total[:a])
            comp[:a] = np.where(direct, new_c, comp[:a])
            if switch.any():
                mean[:a] = np.where(switch, total[:a] / (count - 1), mean[:a])
                comp[:a] = np.where(switch, comp[:a] / (count - 1), comp[:a])
                incremental[:a] |= switch
            upd = incremental[:a]
            if upd.any():
                q = (count - 1) / count
                new_mean, new_comp = kahan_inc(f / count, q * mean[:a], q * comp[:a])
                mean[:a] = np.where(upd, new_mean, mean[:a])
                comp[:a] = np.where(upd, new_comp, comp[:a])
        n = lock.counts.astype(np.float64)
        result = np.where(incremental, mean + comp, total / n + comp / n)
    return lock.scatter(w.shape, result)


def _welford(w: Windows, lock: Lockstep) -> F64:
    """Welford's algorithm with compensated sums, in sample order (upstream's varianceOverTime)."""
    m = len(lock)
    mean, c_mean = np.zeros(m), np.zeros(m)
    aux, c_aux = np.zeros(m), np.zeros(m)
    with np.errstate(invalid="ignore", over="ignore"):
        for k in range(lock.max_count):
            a = lock.active(k)
            f = w.vs[lock.lo[:a] + k]
            count = float(k + 1)
            delta = f - (mean[:a] + c_mean[:a])
            mean[:a], c_mean[:a] = kahan_inc(delta / count, mean[:a], c_mean[:a])
            aux[:a], c_aux[:a] = kahan_inc(
                delta * (f - (mean[:a] + c_mean[:a])), aux[:a], c_aux[:a]
            )
        variance: F64 = (aux + c_aux) / lock.counts.astype(np.float64)
    return variance


def _variance(arg: RangeInput) -> RangeResult:
    """Population variance of every window.

    Extended-precision window sums centred on each series' first value; a window
    whose values never change has variance 0 exactly, and windows with NaN or
    infinities take upstream's ordered walk (Welford with compensated sums).
    """
    w = build_windows(arg)
    present = w.count > 0
    bad = present & nonfinite_windows(w)
    fast = present & ~bad
    out = np.zeros(w.shape)
    sel = np.flatnonzero(fast.ravel())
    if sel.size:
        _, y0 = series_origin(w)
        yc = w.vs.astype(LD) - y0.astype(LD)
        sy, syy = window_sums(w, sel, [yc, yc * yc])
        n = w.count.ravel()[sel].astype(LD)
        var = np.maximum((syy - sy * sy / n) / n, LD(0))
        var = np.where(unchanged_windows(w).ravel()[sel], LD(0), var)
        out.ravel()[sel] = var.astype(np.float64)
    if bad.any():
        slow = restrict(w, bad)
        lock = Lockstep(slow)
        out.ravel()[lock.pairs] = _welford(slow, lock)
    return out, present


@range_function("stdvar_over_time")
def _stdvar_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    return _variance(arg)


@range_function("stddev_over_time")
def _stddev_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    variance, present = _variance(arg)
    with np.errstate(invalid="ignore"):
        return np.sqrt(variance), present


def _sorted_windows(vs: F64, lo: I64, counts: I64) -> F64:
    """Each window's values sorted ascending with NaN first, padded on the right."""
    width = int(counts.max()) if counts.size else 0
    cols = np.arange(width, dtype=np.int64)[None, :]
    valid = cols < counts[:, None]
    idx = np.where(valid, lo[:, None] + cols, 0)
    block = vs[idx] if vs.size else np.zeros(idx.shape)
    nans = np.isnan(block) & valid
    keyed = np.where(valid, np.where(nans, -np.inf, block), np.inf)
    keyed.sort(axis=1)
    n_nan = nans.sum(axis=1)
    keyed[cols < n_nan[:, None]] = np.nan
    return keyed


def _quantile_of_sorted(q: F64, block: F64, counts: I64) -> F64:
    """Upstream's ``quantile``: rank q*(n-1), linear between the neighbouring values."""
    n = counts.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        rank = q * (n - 1)
        floor_rank = np.floor(np.where(np.isnan(rank), 0.0, rank))
        lower = np.clip(floor_rank, 0, None)
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - floor_rank
        li = np.clip(lower, 0, np.maximum(n - 1, 0)).astype(np.int64)
        ui = np.clip(upper, 0, np.maximum(n - 1, 0)).astype(np.int64)
        rows = np.arange(block.shape[0])
        lv = block[rows, li] if block.shape[1] else np.zeros(0)
        uv = block[rows, ui] if block.shape[1] else np.zeros(0)
        result = lv * (1 - weight) + uv * weight
    result = np.where(q < 0, -np.inf, result)
    result = np.where(q > 1, np.inf, result)
    result = np.where(np.isnan(q) | (counts == 0), np.nan, result)
    return result


def _chunks(lock: Lockstep) -> list[slice]:
    """Slices of the lockstep windows whose padded sort block stays bounded."""
    if not len(lock):
        return []
    width = max(lock.max_count, 1)
    per = max(1, _SORT_BLOCK // width)
    return [slice(i, min(i + per, len(lock))) for i in range(0, len(lock), per)]


@range_function("quantile_over_time")
def _quantile_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    q_steps = np.asarray(params[0], dtype=np.float64)
    w = build_windows(arg)
    lock = Lockstep(w)
    step_of = lock.pairs % max(w.shape[1], 1)
    q = q_steps[step_of]
    bad = np.isnan(q) | (q < 0) | (q > 1)
    for value in dict.fromkeys(q[bad].tolist()):
        annotate(
            ctx, "warning", f"quantile value should be between 0 and 1, got {format_float(value)}"
        )
    out = np.empty(len(lock))
    has_nan = _nan_windows(w).ravel()[lock.pairs]
    # Windows without NaN, grouped by length and quantile: a partial sort (select the two
    # neighbouring ranks) instead of sorting every window.
    simple = ~has_nan & ~bad
    if simple.any():
        keys = np.stack([lock.counts[simple].astype(np.float64), q[simple]], axis=1)
        uniq, inverse = np.unique(keys, axis=0, return_inverse=True)
        where = np.flatnonzero(simple)
        inverse = np.asarray(inverse).reshape(-1)
        for g, (n_f, q_g) in enumerate(uniq.tolist()):
            members = where[inverse == g]
            out[members] = _quantile_by_selection(w.vs, lock.lo[members], int(n_f), q_g)
    rest = np.flatnonzero(~simple)
    if rest.size:
        lo_r, cnt_r = lock.lo[rest], lock.counts[rest]
        per = max(1, _SORT_BLOCK // max(int(cnt_r.max()), 1))
        for i in range(0, rest.size, per):
            part = slice(i, min(i + per, rest.size))
            block = _sorted_windows(w.vs, lo_r[part], cnt_r[part])
            out[rest[part]] = _quantile_of_sorted(q[rest[part]], block, cnt_r[part])
    return lock.scatter(w.shape, out)


def _nan_windows(w: Windows) -> np.ndarray:
    running = np.zeros(w.vs.size + 1, dtype=np.int64)
    np.cumsum(np.isnan(w.vs), out=running[1:])
    return (running[w.hi] - running[w.lo]) > 0


def _quantile_by_selection(vs: F64, lo: I64, n: int, q: float) -> F64:
    """Upstream's quantile of windows of ``n`` NaN-free samples, by partial sorting."""
    rank = q * (n - 1)
    lower = max(0, int(np.floor(rank)))
    upper = min(n - 1, lower + 1)
    weight = rank - np.floor(rank)
    out = np.empty(lo.size)
    cols = np.arange(n, dtype=np.int64)[None, :]
    per = max(1, _SORT_BLOCK // max(n, 1))
    for i in range(0, lo.size, per):
        block = vs[lo[i : i + per, None] + cols]
        part = np.partition(block, sorted({lower, upper}), axis=1)
        with np.errstate(invalid="ignore", over="ignore"):
            out[i : i + per] = part[:, lower] * (1 - weight) + part[:, upper] * weight
    return out


@range_function("mad_over_time")
def _mad_over_time(arg: RangeInput, params: list[Param], ctx: EvalContext) -> RangeResult:
    """Median absolute deviation from the median; NaN if any sample is NaN (as upstream now)."""
    w = build_windows(arg)
    lock = Lockstep(w)
    out = np.empty(len(lock))
    for part in _chunks(lock):
        counts = lock.counts[part]
        half = np.full(counts.shape, 0.5)
        block = _sorted_windows(w.vs, lock.lo[part], counts)
        median = _quantile_of_sorted(half, block, counts)
        width = block.shape[1]
        valid = np.arange(width)[None, :] < counts[:, None]
        with np.errstate(invalid="ignore"):
            dev = np.abs(block - median[:, None])
        flat = np.where(valid, dev, 0.0).ravel()
        starts = np.arange(counts.size, dtype=np.int64) * width
        block2 = _sorted_windows(flat, starts, counts)
        mad = _quantile_of_sorted(half, block2, counts)
        # A NaN sample makes the answer NaN (sorted first, it shows in column 0).
        out[part] = np.where(np.isnan(block[:, 0]), np.nan, mad)
    return lock.scatter(w.shape, out)
