"""Binary operators: scalar/vector arithmetic, comparisons, vector matching, set operators.

Matching is decided once per series (a signature per row), then every
matched pair is computed for all steps at once with fancy indexing. A group
of series that share a signature on the "one" side is legal as long as no two
of them are present at the same step (they are merged into one row);
otherwise the query fails with upstream's text. ``__name__`` is never removed
here: rows that lose it get ``drop_name`` set and the engine removes it now or
at the end (3.x delayed name removal).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from promethean.model.labels import METRIC_NAME, Labels
from promethean.promql.ast import Cardinality, VectorMatching
from promethean.promql.values import EvalError, StepMatrix

__all__ = [
    "ARITHMETIC",
    "COMPARISONS",
    "SET_OPERATORS",
    "scalar_binop",
    "set_binop",
    "vector_binop",
    "vector_scalar_binop",
]

F64 = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]

ARITHMETIC: dict[str, Callable[[F64, F64], F64]] = {
    "+": np.add,
    "-": np.subtract,
    "*": np.multiply,
    "/": np.divide,
    "%": np.fmod,
    "^": np.power,
    "atan2": np.arctan2,
}
COMPARISONS: dict[str, Callable[[F64, F64], B]] = {
    "==": np.equal,
    "!=": np.not_equal,
    ">": np.greater,
    "<": np.less,
    ">=": np.greater_equal,
    "<=": np.less_equal,
}
SET_OPERATORS = frozenset({"and", "or", "unless"})


def _arith(op: str, lhs: F64, rhs: F64) -> F64:
    fn = ARITHMETIC.get(op)
    if fn is None:
        raise EvalError(f"operator {op!r} not implemented for float samples")
    with np.errstate(all="ignore"):
        return np.asarray(fn(lhs, rhs), dtype=np.float64)


def _compare(op: str, lhs: F64, rhs: F64) -> B:
    with np.errstate(invalid="ignore"):
        return np.asarray(COMPARISONS[op](lhs, rhs), dtype=np.bool_)


def scalar_binop(op: str, lhs: F64, rhs: F64) -> F64:
    """Scalar op scalar (comparisons need ``bool`` there, so they give 0/1)."""
    if op in COMPARISONS:
        return _compare(op, lhs, rhs).astype(np.float64)
    return _arith(op, lhs, rhs)


def vector_scalar_binop(
    op: str, vec: StepMatrix, scalar: F64, scalar_is_lhs: bool, return_bool: bool
) -> StepMatrix:
    s = scalar[np.newaxis, :]
    lhs, rhs = (s, vec.values) if scalar_is_lhs else (vec.values, s)
    drop = np.ones(vec.n_series, dtype=np.bool_)
    if op in COMPARISONS:
        cond = _compare(op, np.broadcast_to(lhs, vec.values.shape), rhs)
        if return_bool:
            return StepMatrix(
                list(vec.labels), cond.astype(np.float64), vec.present.copy(), drop_name=drop
            )
        keep_drop = vec.drop_name.copy() if vec.drop_name is not None else None
        return StepMatrix(list(vec.labels), vec.values, vec.present & cond, drop_name=keep_drop)
    values = _arith(op, np.broadcast_to(lhs, vec.values.shape), rhs)
    return StepMatrix(list(vec.labels), values, vec.present.copy(), drop_name=drop)


def _signature(labels: Labels, matching: VectorMatching | None) -> tuple[object, ...]:
    if matching is not None and matching.on:
        return tuple(labels.get(name) for name in matching.matching_labels)
    ignored = set(matching.matching_labels) if matching is not None else set()
    ignored.add(METRIC_NAME)
    return tuple(p for p in labels if p[0] not in ignored)


def _group(sigs: Sequence[tuple[object, ...]]) -> dict[tuple[object, ...], list[int]]:
    groups: dict[tuple[object, ...], list[int]] = {}
    for i, sig in enumerate(sigs):
        groups.setdefault(sig, []).append(i)
    return groups


def _drop_flags(sm: StepMatrix) -> B:
    if sm.drop_name is None:
        return np.zeros(sm.n_series, dtype=np.bool_)
    return sm.drop_name


def _series_list(sm: StepMatrix, rows: list[int]) -> str:
    return ", ".join(go_labels(_visible(sm, r)) for r in rows)


def go_labels(labels: Labels) -> str:
    """Upstream's ``labels.String()``: ``{__name__="x", a="b"}``, the name as a label."""
    inner = ", ".join(f"{k}={_go_quote(v)}" for k, v in labels)
    return "{" + inner + "}"


def _go_quote(v: str) -> str:
    out = v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{out}"'


def _visible(sm: StepMatrix, row: int) -> Labels:
    lbl = sm.labels[row]
    if sm.drop_name is not None and sm.drop_name[row]:
        return lbl.without_metric_name()
    return lbl


def _merge_one_side(
    sm: StepMatrix, groups: dict[tuple[object, ...], list[int]], side: str
) -> tuple[dict[tuple[object, ...], int], F64, B]:
    """One row per signature; overlapping duplicates are upstream's many-to-many error."""
    index: dict[tuple[object, ...], int] = {}
    vals: list[F64] = []
    pres: list[B] = []
    for sig, rows in groups.items():
        if len(rows) == 1:
            v, p = sm.values[rows[0]], sm.present[rows[0]]
        else:
            p_rows = sm.present[rows]
            counts = p_rows.sum(axis=0)
            if (counts > 1).any():
                step = int(np.argmax(counts > 1))
                dup = [r for r in rows if sm.present[r, step]][:2]
                sig_text = _match_group_text(sm.labels[dup[0]], sig)
                raise EvalError(
                    f"found duplicate series for the match group {sig_text} on the {side} "
                    f"hand-side of the operation: [{_series_list(sm, dup)}];"
                    "many-to-many matching not allowed: matching labels must be unique on one side"
                )
            first = np.argmax(p_rows, axis=0)
            cols = np.arange(sm.n_steps)
            v = sm.values[np.asarray(rows)[first], cols]
            p = counts > 0
        index[sig] = len(vals)
        vals.append(v)
        pres.append(p)
    if not vals:
        return index, np.zeros((0, sm.n_steps)), np.zeros((0, sm.n_steps), dtype=np.bool_)
    return index, np.vstack(vals), np.vstack(pres)


def _match_group_text(labels: Labels, sig: tuple[object, ...]) -> str:
    if sig and isinstance(sig[0], tuple):
        return go_labels(Labels.from_pairs(sig))  # type: ignore[arg-type]
    return "{" + ", ".join(_go_quote(str(v)) for v in sig) + "}"


def _result_labels(
    many: Labels, one: Labels, matching: VectorMatching, card: Cardinality
) -> Labels:
    if card is Cardinality.ONE_TO_ONE:
        if matching.on:
            keep = set(matching.matching_labels)
            # The name survives ``on(__name__)`` only as a matching label.
            return Labels(tuple(p for p in many if p[0] in keep))
        drop = set(matching.matching_labels)
        return Labels(tuple(p for p in many if p[0] not in drop))
    if not matching.include:
        return many
    updates = {name: one.get(name) for name in matching.include}
    return many.merge(updates)


def vector_binop(
    op: str,
    lhs: StepMatrix,
    rhs: StepMatrix,
    matching: VectorMatching,
    return_bool: bool,
) -> StepMatrix:
    card = matching.card
    if card is Cardinality.MANY_TO_MANY:
        raise EvalError("many-to-many only allowed for set operators")
    is_cmp = op in COMPARISONS
    swapped = card is Cardinality.ONE_TO_MANY
    many, one = (rhs, lhs) if swapped else (lhs, rhs)
    n_steps = lhs.n_steps
    if many.n_series == 0 or one.n_series == 0:
        return StepMatrix.empty(n_steps)
    one_sigs = [_signature(lbl, matching) for lbl in one.labels]
    one_groups = _group(one_sigs)
    side = "left" if swapped else "right"
    one_index, one_vals, one_pres = _merge_one_side(one, one_groups, side)
    one_first = {sig: rows[0] for sig, rows in one_groups.items()}
    many_idx: list[int] = []
    one_idx: list[int] = []
    out_labels: list[Labels] = []
    many_drop = _drop_flags(many)
    out_drop: list[bool] = []
    drop_name = (not is_cmp) or return_bool
    for i, lbl in enumerate(many.labels):
        sig = _signature(lbl, matching)
        j = one_index.get(sig)
        if j is None:
            continue
        many_idx.append(i)
        one_idx.append(j)
        out_labels.append(_result_labels(lbl, one.labels[one_first[sig]], matching, card))
        out_drop.append(drop_name or bool(many_drop[i]))
    if not many_idx:
        return StepMatrix.empty(n_steps)
    mi = np.asarray(many_idx)
    oi = np.asarray(one_idx)
    mv, mp = many.values[mi], many.present[mi]
    ov, op_ = one_vals[oi], one_pres[oi]
    present = mp & op_
    if card is Cardinality.ONE_TO_ONE:
        _check_one_to_one(oi, present, many, mi)
    lv, rv = (ov, mv) if swapped else (mv, ov)
    if is_cmp:
        cond = _compare(op, lv, rv)
        if return_bool:
            values = cond.astype(np.float64)
        else:
            values = lv
            present = present & cond
    else:
        values = _arith(op, lv, rv)
    result = StepMatrix(out_labels, values, present, drop_name=np.asarray(out_drop, dtype=np.bool_))
    return _merge_duplicate_results(result)


def _check_one_to_one(
    oi: npt.NDArray[np.intp], present: B, many: StepMatrix, mi: npt.NDArray[np.intp]
) -> None:
    if np.unique(oi).size == oi.size:
        return
    order = np.argsort(oi, kind="stable")
    sorted_oi = oi[order]
    starts = np.flatnonzero(np.r_[True, sorted_oi[1:] != sorted_oi[:-1]])
    counts = np.add.reduceat(present[order].astype(np.int64), starts, axis=0)
    if (counts > 1).any():
        raise EvalError(
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)"
        )


def _merge_duplicate_results(sm: StepMatrix) -> StepMatrix:
    """Rows with equal labels become one; two present at one step is upstream's error."""
    keys = list(zip(sm.labels, _drop_flags(sm).tolist(), strict=True))
    groups: dict[tuple[Labels, bool], list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    if len(groups) == len(keys):
        return sm
    labels: list[Labels] = []
    vals: list[F64] = []
    pres: list[B] = []
    drops: list[bool] = []
    cols = np.arange(sm.n_steps)
    for (lbl, drop), rows in groups.items():
        p_rows = sm.present[rows]
        counts = p_rows.sum(axis=0)
        if (counts > 1).any():
            raise EvalError(
                "multiple matches for labels: grouping labels must ensure unique matches"
            )
        first = np.argmax(p_rows, axis=0)
        labels.append(lbl)
        vals.append(sm.values[np.asarray(rows)[first], cols])
        pres.append(counts > 0)
        drops.append(drop)
    return StepMatrix(labels, np.vstack(vals), np.vstack(pres), drop_name=np.asarray(drops))


def set_binop(op: str, lhs: StepMatrix, rhs: StepMatrix, matching: VectorMatching) -> StepMatrix:
    n_steps = lhs.n_steps
    rhs_groups = _group([_signature(lbl, matching) for lbl in rhs.labels])
    sig_present: dict[tuple[object, ...], B] = {
        sig: np.asarray(rhs.present[rows].any(axis=0)) for sig, rows in rhs_groups.items()
    }
    none = np.zeros(n_steps, dtype=np.bool_)
    if op in ("and", "unless"):
        if lhs.n_series == 0:
            return lhs
        other = np.vstack([sig_present.get(_signature(lbl, matching), none) for lbl in lhs.labels])
        present = lhs.present & other if op == "and" else lhs.present & ~other
        return StepMatrix(
            list(lhs.labels),
            lhs.values,
            present,
            timestamps=lhs.timestamps,
            drop_name=lhs.drop_name,
        )
    # or: all of lhs, plus rhs series whose signature is absent on the left at that step.
    if rhs.n_series == 0:
        return lhs
    lhs_groups = _group([_signature(lbl, matching) for lbl in lhs.labels])
    lhs_sig_present = {
        sig: np.asarray(lhs.present[rows].any(axis=0)) for sig, rows in lhs_groups.items()
    }
    blocked = np.vstack(
        [lhs_sig_present.get(_signature(lbl, matching), none) for lbl in rhs.labels]
    )
    rhs_present = rhs.present & ~blocked
    drops = np.concatenate([_drop_flags(lhs), _drop_flags(rhs)])
    return StepMatrix(
        list(lhs.labels) + list(rhs.labels),
        np.vstack([lhs.values, rhs.values]),
        np.vstack([lhs.present, rhs_present]),
        drop_name=drops,
    )
