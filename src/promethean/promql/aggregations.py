"""Aggregation operators over all steps at once.

Rows are sorted by group once and every reduction is a ``reduceat`` over the
sorted rows, so the cost is a few numpy passes per query, whatever the number
of steps. ``topk``, ``bottomk``, ``limitk``, ``limit_ratio`` and
``count_values`` select or create series per step and loop per group.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from promethean.model.hashing import labels_hash
from promethean.model.labels import METRIC_NAME, Labels
from promethean.promql.values import EvalContext, EvalError, StepMatrix

__all__ = ["aggregate", "format_value", "group_keys", "quantile_sorted"]

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

_KEEP_LABELS = frozenset({"topk", "bottomk", "limitk", "limit_ratio"})


def group_keys(labels: list[Labels], grouping: tuple[str, ...], without: bool) -> list[Labels]:
    if without:
        drop = (*grouping, METRIC_NAME)
        return [lbl.without(*drop) for lbl in labels]
    return [lbl.only(*grouping) for lbl in labels]


def _index(keys: list[Labels]) -> tuple[list[Labels], npt.NDArray[np.intp]]:
    seen: dict[Labels, int] = {}
    g = np.empty(len(keys), dtype=np.intp)
    for i, k in enumerate(keys):
        j = seen.get(k)
        if j is None:
            j = seen[k] = len(seen)
        g[i] = j
    return list(seen), g


def aggregate(
    op: str,
    sm: StepMatrix,
    grouping: tuple[str, ...],
    without: bool,
    param: F64 | str | None,
    ctx: EvalContext,
    param_pos: str,
) -> StepMatrix:
    n_steps = sm.n_steps
    if op == "count_values":
        assert isinstance(param, str)
        return _count_values(sm, grouping, without, param)
    if op in ("topk", "bottomk", "limitk") and isinstance(param, np.ndarray):
        _param_ints(op, param)
    if op == "limit_ratio" and isinstance(param, np.ndarray) and np.isnan(param).any():
        raise EvalError("Ratio value is NaN")
    if sm.n_series == 0:
        return StepMatrix.empty(n_steps)
    keys = group_keys(sm.labels, grouping, without)
    out_labels, g = _index(keys)
    if op in _KEEP_LABELS:
        assert isinstance(param, np.ndarray)
        return _select(op, sm, g, len(out_labels), param, ctx, param_pos)
    order = np.argsort(g, kind="stable")
    gs = g[order]
    starts = np.flatnonzero(np.r_[True, gs[1:] != gs[:-1]])
    vals = sm.values[order]
    pres = sm.present[order]
    count = np.add.reduceat(pres.astype(np.float64), starts, axis=0)
    present = count > 0
    with np.errstate(all="ignore"):
        if op == "sum":
            out = _sum(vals, pres, starts)
        elif op == "avg":
            out = _avg(vals, pres, starts, count)
        elif op == "count":
            out = count
        elif op == "group":
            out = np.ones_like(count)
        elif op == "min":
            out = np.fmin.reduceat(np.where(pres, vals, np.nan), starts, axis=0)
        elif op == "max":
            out = np.fmax.reduceat(np.where(pres, vals, np.nan), starts, axis=0)
        elif op in ("stddev", "stdvar"):
            out = _variance(vals, pres, starts, count, gs)
            if op == "stddev":
                out = np.sqrt(out)
        elif op == "quantile":
            assert isinstance(param, np.ndarray)
            _warn_quantile(param, ctx, param_pos)
            out = _quantile(vals, pres, starts, param)
        else:
            raise EvalError(f"unknown aggregation {op!r}")
    return StepMatrix(out_labels, np.asarray(out, dtype=np.float64), present)


def _sum(vals: F64, pres: B, starts: npt.NDArray[np.intp]) -> F64:
    """Sums as accurate as upstream's Kahan summation.

    The plain sum is exact enough unless terms cancel; cells where the magnitudes
    dwarf the result are recomputed with ``math.fsum`` (correctly rounded).
    """
    masked = np.where(pres, vals, 0.0)
    total = np.add.reduceat(masked, starts, axis=0)
    mags = np.add.reduceat(np.abs(masked), starts, axis=0)
    suspect = np.isfinite(mags) & (mags > np.abs(total) * 1e3) & (mags > 0)
    if suspect.any():
        ends = np.r_[starts[1:], vals.shape[0]]
        for gi, col in zip(*np.nonzero(suspect), strict=True):
            block = masked[starts[gi] : ends[gi], col]
            total[gi, col] = math.fsum(block.tolist())
    return np.asarray(total, dtype=np.float64)


def _avg(vals: F64, pres: B, starts: npt.NDArray[np.intp], count: F64) -> F64:
    total = _sum(vals, pres, starts)
    mean = total / count
    overflow = np.isinf(mean) & ~np.isinf(
        np.fmax.reduceat(np.where(pres, np.abs(vals), np.nan), starts, axis=0)
    )
    if overflow.any():
        # The sum overflowed although no input is infinite: average the scaled values.
        scaled = np.add.reduceat(np.where(pres, vals / 1e300, 0.0), starts, axis=0)
        mean = np.where(overflow, scaled / count * 1e300, mean)
    return np.asarray(mean, dtype=np.float64)


def _variance(
    vals: F64, pres: B, starts: npt.NDArray[np.intp], count: F64, gs: npt.NDArray[np.intp]
) -> F64:
    mean = _sum(vals, pres, starts) / count
    row_group = np.searchsorted(starts, np.arange(vals.shape[0]), side="right") - 1
    dev = np.where(pres, vals - mean[row_group], 0.0)
    # Corrected two-pass: remove the rounding error left in the mean.
    mean = mean + np.add.reduceat(dev, starts, axis=0) / count
    dev = np.where(pres, vals - mean[row_group], 0.0)
    var = np.add.reduceat(dev * dev, starts, axis=0) / count
    lo = np.fmin.reduceat(np.where(pres, vals, np.nan), starts, axis=0)
    hi = np.fmax.reduceat(np.where(pres, vals, np.nan), starts, axis=0)
    return np.asarray(np.where((lo == hi) & np.isfinite(lo), 0.0, var), dtype=np.float64)


def _warn_quantile(q: F64, ctx: EvalContext, pos: str) -> None:
    bad = np.isnan(q) | (q < 0) | (q > 1)
    if bad.any():
        v = float(q[np.argmax(bad)])
        ctx.annotations.add_warning(
            f"PromQL warning: quantile value should be between 0 and 1, got {_go_float(v)}{pos}"
        )


def _go_float(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(v).removesuffix(".0") if v == int(v) and abs(v) < 1e21 else repr(v)


def quantile_sorted(sorted_vals: F64, n: npt.NDArray[np.intp], q: F64) -> F64:
    """Upstream's interpolated quantile of columns whose first ``n`` entries are sorted."""
    rank = np.where(np.isnan(q), 0.0, q * (n - 1))
    lower = np.clip(np.floor(rank), 0, np.maximum(n - 1, 0)).astype(np.intp)
    upper = np.clip(lower + 1, 0, np.maximum(n - 1, 0)).astype(np.intp)
    weight = rank - np.floor(rank)
    cols = np.arange(sorted_vals.shape[1])
    lo = sorted_vals[lower, cols]
    hi = sorted_vals[upper, cols]
    out = lo * (1 - weight) + hi * weight
    out = np.where(q < 0, -np.inf, out)
    out = np.where(q > 1, np.inf, out)
    return np.asarray(np.where(np.isnan(q), np.nan, out), dtype=np.float64)


def _quantile(vals: F64, pres: B, starts: npt.NDArray[np.intp], q: F64) -> F64:
    ends = np.r_[starts[1:], vals.shape[0]]
    out = np.empty((starts.size, vals.shape[1]), dtype=np.float64)
    for k, (a, b) in enumerate(zip(starts, ends, strict=True)):
        block = np.where(pres[a:b], vals[a:b], np.inf)
        # Absent entries sort last (+Inf); real NaNs first, as Go's sort.Float64s.
        nan = np.isnan(block) & pres[a:b]
        block = np.where(nan, -np.inf, block)
        order = np.argsort(block, axis=0, kind="stable")
        sorted_vals = np.take_along_axis(np.where(pres[a:b], vals[a:b], np.inf), order, axis=0)
        n = pres[a:b].sum(axis=0)
        out[k] = quantile_sorted(sorted_vals, n, q)
    return out


def _param_ints(op: str, param: F64) -> npt.NDArray[np.int64]:
    if np.isnan(param).any():
        raise EvalError("Parameter value is NaN" if op != "limit_ratio" else "Ratio value is NaN")
    too_big = np.abs(param) >= 9.223372036854775807e18
    if too_big.any():
        raise EvalError(
            f"Scalar value {_go_float(float(param[np.argmax(too_big)]))} overflows int64"
        )
    return np.trunc(param).astype(np.int64)


def _select(
    op: str,
    sm: StepMatrix,
    g: npt.NDArray[np.intp],
    n_groups: int,
    param: F64,
    ctx: EvalContext,
    param_pos: str,
) -> StepMatrix:
    n_steps = sm.n_steps
    keep = np.zeros(sm.values.shape, dtype=np.bool_)
    rank = np.zeros(sm.values.shape, dtype=np.int64)
    if op == "limit_ratio":
        if np.isnan(param).any():
            raise EvalError("Ratio value is NaN")
        bad = (param < -1) | (param > 1)
        if bad.any():
            v = float(param[np.argmax(bad)])
            capped = max(-1.0, min(1.0, v))
            ctx.annotations.add_warning(
                "PromQL warning: ratio value should be between -1 and 1, got "
                f"{_go_float(v)}, capping to {_go_float(capped)}{param_pos}"
            )
        rr = np.clip(param, -1.0, 1.0)[np.newaxis, :]
        offsets = np.asarray([_ratio_offset(lbl) for lbl in sm.labels])[:, np.newaxis]
        keep = sm.present & (((rr >= 0) & (offsets < rr)) | ((rr < 0) & (offsets >= 1.0 + rr)))
        return StepMatrix(
            list(sm.labels), sm.values, keep, timestamps=sm.timestamps, drop_name=sm.drop_name
        )
    k = _param_ints(op, param)
    for grp in range(n_groups):
        rows = np.flatnonzero(g == grp)
        p = sm.present[rows]
        r: npt.NDArray[np.int64]
        if op == "limitk":
            r = np.cumsum(p, axis=0) - 1
        else:
            vv = sm.values[rows]
            nan = np.isnan(vv)
            key = -vv if op == "topk" else vv
            # Order: present before absent, numbers before NaN, then by value.
            order = np.lexsort((np.where(nan, 0.0, key), nan, ~p), axis=0)
            r = np.empty_like(order)
            np.put_along_axis(r, order, np.arange(rows.size)[:, np.newaxis].repeat(n_steps, 1), 0)
        rank[rows] = r
        keep[rows] = p & (r < k[np.newaxis, :])
    out_rows = np.flatnonzero(keep.any(axis=1))
    if n_steps == 1 and op != "limitk":
        out_rows = out_rows[np.lexsort((rank[out_rows, 0], g[out_rows]))]
    drop = sm.drop_name[out_rows] if sm.drop_name is not None else None
    ts = sm.timestamps[out_rows] if sm.timestamps is not None else None
    return StepMatrix(
        [sm.labels[i] for i in out_rows],
        sm.values[out_rows],
        keep[out_rows],
        timestamps=ts,
        drop_name=drop,
    )


def _ratio_offset(labels: Labels) -> float:
    # limit_ratio samples by upstream's label hash, so the same series are kept as there.
    return labels_hash(labels) / 18446744073709551615.0


def format_value(v: float) -> str:
    """Go's ``strconv.FormatFloat(v, 'f', -1, 64)``."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    text = repr(v)
    if "e" in text or "E" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    return text.removesuffix(".0")


def _count_values(
    sm: StepMatrix, grouping: tuple[str, ...], without: bool, label: str
) -> StepMatrix:
    n_steps = sm.n_steps
    if not label or not _valid_label_name(label):
        raise EvalError(f"invalid label name {_go_quote(label)}")
    counts: dict[Labels, F64] = {}
    keys = group_keys(sm.labels, grouping, without)
    cache: dict[float, str] = {}
    fmt: Callable[[float], str] = format_value
    for i, key in enumerate(keys):
        cols = np.flatnonzero(sm.present[i])
        if cols.size == 0:
            continue
        vals = sm.values[i, cols]
        for c, v in zip(cols.tolist(), vals.tolist(), strict=True):
            text = cache.get(v) if v == v else "NaN"
            if text is None:
                text = cache[v] = fmt(v)
            out = key.merge({label: text}) if key.get(label) != text else key
            row = counts.get(out)
            if row is None:
                row = counts[out] = np.zeros(n_steps)
            row[c] += 1
    if not counts:
        return StepMatrix.empty(n_steps)
    values = np.vstack(list(counts.values()))
    return StepMatrix(list(counts), values, values > 0)


def _valid_label_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _go_quote(s: str) -> str:
    out = []
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif 0xDC80 <= ord(ch) <= 0xDCFF:
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'
