"""Ordering functions: ``sort``, ``sort_desc``, ``sort_by_label``, ``sort_by_label_desc``.

Order only exists in an instant query's result; a range query's matrix is
ordered by labels whatever the expression says, so over several steps these
functions pass their input through.
"""

from __future__ import annotations

import functools
import math

from promethean.model.labels import Labels
from promethean.promql.funcs._registry import InstantArg, instant_function
from promethean.promql.values import EvalContext, StepMatrix

__all__ = ["natural_less"]


def natural_less(a: str, b: str) -> bool:
    """Natural order as upstream's natsort: digit runs compare as numbers, leading zeros skipped."""
    x, y = a.encode("utf-8", "surrogateescape"), b.encode("utf-8", "surrogateescape")
    i = j = 0
    while True:
        if i >= len(x):
            return j < len(y)
        if j >= len(y):
            return False
        cx, cy = x[i], y[j]
        if 48 <= cx <= 57 and 48 <= cy <= 57:
            i, len_x = _digit_run(x, i)
            j, len_y = _digit_run(y, j)
            if len_x != len_y:
                return len_y > len_x
            run_x, run_y = x[i : i + len_x], y[j : j + len_y]
            if run_x != run_y:
                return run_x < run_y
            i += len_x
            j += len_y
            continue
        if cx == cy:
            i += 1
            j += 1
            continue
        return cx < cy


def _digit_run(s: bytes, pos: int) -> tuple[int, int]:
    """Start (after skipped leading zeros) and length of the digit run at ``pos``.

    Mirrors the upstream scanner exactly, quirks included: zeros are skipped
    while another byte follows, and the run is then extended over digits.
    """
    length = 1
    current = s[pos]
    while pos + length < len(s):
        nxt = s[pos + length]
        if current == 48:
            pos += 1
            current = nxt
            continue
        if 48 <= nxt <= 57:
            length += 1
        else:
            break
    return pos, length


def _single_step(m: StepMatrix) -> bool:
    return m.n_steps == 1


def _take(m: StepMatrix, order: list[int]) -> StepMatrix:
    return StepMatrix(
        [m.labels[i] for i in order],
        m.values[order],
        m.present[order],
        None if m.timestamps is None else m.timestamps[order],
        None if m.drop_name is None else m.drop_name[order],
    )


def _by_value(m: StepMatrix, descending: bool) -> StepMatrix:
    if not _single_step(m):
        return m
    rows = [i for i in range(m.n_series) if m.present[i, 0]]

    def key(i: int) -> tuple[bool, float]:
        v = float(m.values[i, 0])
        return (math.isnan(v), -v if descending else v)

    return _take(m, sorted(rows, key=key))


@instant_function("sort", keeps_name=True)
def _sort(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    m = args[0]
    assert isinstance(m, StepMatrix)
    return _by_value(m, descending=False)


@instant_function("sort_desc", keeps_name=True)
def _sort_desc(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    m = args[0]
    assert isinstance(m, StepMatrix)
    return _by_value(m, descending=True)


def _by_label(args: list[InstantArg], descending: bool) -> StepMatrix:
    m = args[0]
    assert isinstance(m, StepMatrix)
    if not _single_step(m):
        return m
    names = [a for a in args[1:] if isinstance(a, str)]

    def compare(i: int, j: int) -> int:
        a, b = m.labels[i], m.labels[j]
        for name in names:
            va, vb = a.get(name), b.get(name)
            if va == vb:
                continue
            less = natural_less(va, vb)
            return (1 if less else -1) if descending else (-1 if less else 1)
        return -_label_compare(a, b) if descending else _label_compare(a, b)

    rows = [i for i in range(m.n_series) if m.present[i, 0]]
    return _take(m, sorted(rows, key=functools.cmp_to_key(compare)))


def _label_compare(a: Labels, b: Labels) -> int:
    return (a > b) - (a < b)


@instant_function("sort_by_label", keeps_name=True)
def _sort_by_label(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    return _by_label(args, descending=False)


@instant_function("sort_by_label_desc", keeps_name=True)
def _sort_by_label_desc(args: list[InstantArg], ctx: EvalContext) -> StepMatrix:
    return _by_label(args, descending=True)
