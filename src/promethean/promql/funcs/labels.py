"""``label_replace`` and ``label_join``: they rewrite series labels, never values.

Rewriting can make two series identical; like upstream, such series are
merged into one, and the query fails only where both have a sample at the
same step ("vector cannot contain metrics with the same labelset").
"""

from __future__ import annotations

import numpy as np

from promethean.model.labels import METRIC_NAME, Labels
from promethean.model.matchers import compile_regex
from promethean.model.names import label_name_valid
from promethean.model.relabel import expand, parse_template
from promethean.promql.funcs._registry import FunctionError, InstantArg, instant_function
from promethean.promql.values import EvalContext, StepMatrix

__all__ = ["merge_same_labelsets"]

DUPLICATE_LABELSET = "vector cannot contain metrics with the same labelset"


def _string(arg: InstantArg) -> str:
    assert isinstance(arg, str)
    return arg


def merge_same_labelsets(m: StepMatrix) -> StepMatrix:
    """Fold series that ended up with equal labels into one; overlapping samples are an error."""
    rows: dict[Labels, list[int]] = {}
    for i, lbls in enumerate(m.labels):
        rows.setdefault(lbls, []).append(i)
    if len(rows) == len(m.labels):
        return m
    labels: list[Labels] = []
    values = np.zeros((len(rows), m.n_steps))
    present = np.zeros((len(rows), m.n_steps), dtype=np.bool_)
    timestamps = None if m.timestamps is None else np.zeros((len(rows), m.n_steps), np.int64)
    drop = None if m.drop_name is None else np.zeros(len(rows), dtype=np.bool_)
    for out, (lbls, idx) in enumerate(rows.items()):
        if len(idx) > 1 and (m.present[idx].sum(axis=0) > 1).any():
            raise FunctionError(DUPLICATE_LABELSET)
        labels.append(lbls)
        sel = m.present[idx]
        present[out] = sel.any(axis=0)
        values[out] = np.where(sel, m.values[idx], 0.0).sum(axis=0)
        if timestamps is not None and m.timestamps is not None:
            timestamps[out] = np.where(sel, m.timestamps[idx], 0).sum(axis=0)
        if drop is not None and m.drop_name is not None:
            drop[out] = bool(m.drop_name[idx[0]])
    return StepMatrix(labels, values, present, timestamps, drop)


def _with_labels(m: StepMatrix, labels: list[Labels], dst: str, changed: list[bool]) -> StepMatrix:
    drop = m.drop_name
    if drop is not None and dst == METRIC_NAME:
        # A name set explicitly survives the delayed name removal.
        drop = drop & ~np.asarray(changed, dtype=np.bool_)
    out = StepMatrix(labels, m.values, m.present, m.timestamps, drop)
    return merge_same_labelsets(out)


@instant_function("label_replace", keeps_name=True)
def _label_replace(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    m = args[0]
    assert isinstance(m, StepMatrix)
    dst, replacement, src, pattern = (_string(a) for a in args[1:5])
    try:
        regex = compile_regex(pattern)
    except ValueError:
        raise FunctionError(f"invalid regular expression in label_replace(): {pattern}") from None
    if not label_name_valid(dst):
        raise FunctionError(f"invalid destination label name in label_replace(): {dst}")
    template = parse_template(replacement, regex)
    by_value: dict[str, str | None] = {}
    labels: list[Labels] = []
    changed: list[bool] = []
    for lbls in m.labels:
        value = lbls.get(src)
        if value not in by_value:
            groups = regex.groups(value)
            by_value[value] = None if groups is None else expand(template, groups)
        result = by_value[value]
        if result is None:
            labels.append(lbls)
            changed.append(False)
        else:
            labels.append(lbls.merge({dst: result}))
            changed.append(True)
    return _with_labels(m, labels, dst, changed)


@instant_function("label_join", keeps_name=True)
def _label_join(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    m = args[0]
    assert isinstance(m, StepMatrix)
    dst, separator = _string(args[1]), _string(args[2])
    sources = [_string(a) for a in args[3:]]
    for src in sources:
        if not label_name_valid(src):
            raise FunctionError(f"invalid source label name in label_join(): {src}")
    if not label_name_valid(dst):
        raise FunctionError(f"invalid destination label name in label_join(): {dst}")
    labels = [
        lbls.merge({dst: separator.join(lbls.get(src) for src in sources)}) for lbls in m.labels
    ]
    return _with_labels(m, labels, dst, [True] * len(labels))
