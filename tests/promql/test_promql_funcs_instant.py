"""Instant-vector functions: math, clamp/round, time, labels, sorting, histograms, scalars."""

from __future__ import annotations

import math

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.promql.annotations import Annotations
from promethean.promql.funcs import IMPLEMENTATIONS, FunctionError, InstantFunction
from promethean.promql.funcs.sort import natural_less
from promethean.promql.values import EvalContext, StepMatrix

NAN, INF = math.nan, math.inf


def vec(rows: dict[str, list[float | None]], name: str = "m") -> StepMatrix:
    """Series keyed by a compact label string ``a=1,b=2``; None marks a missing sample."""
    labels = []
    for key in rows:
        pairs = dict(p.split("=", 1) for p in key.split(",") if p)
        if name:
            pairs["__name__"] = name
        labels.append(Labels.from_dict(pairs))
    values = np.array([[0.0 if v is None else v for v in r] for r in rows.values()])
    present = np.array([[v is not None for v in r] for r in rows.values()], dtype=np.bool_)
    n_steps = len(next(iter(rows.values()))) if rows else 1
    return StepMatrix(
        labels, values.reshape(len(rows), n_steps), present.reshape(len(rows), n_steps)
    )


def ctx(steps_ms: list[int] | None = None) -> EvalContext:
    steps = np.array(steps_ms or [0], dtype=np.int64)
    return EvalContext(
        int(steps[0]), int(steps[-1]), 0, steps, 300_000, Annotations(), lambda: None
    )


def call(name: str, *args: object, c: EvalContext | None = None) -> object:
    fn = IMPLEMENTATIONS[name]
    assert isinstance(fn, InstantFunction)
    return fn(list(args), c or ctx())  # type: ignore[arg-type]


def rows(m: object) -> dict[str, list[float | None]]:
    assert isinstance(m, StepMatrix)
    out = {}
    for lbls, vals, pres in zip(m.labels, m.values, m.present, strict=True):
        key = ",".join(f"{k}={v}" for k, v in lbls if k != "__name__")
        out[key] = [float(v) if p else None for v, p in zip(vals, pres, strict=True)]
    return out


def test_math_follows_go() -> None:
    m = vec({"a=1": [-4.0, 0.0, NAN, 2.0]})
    got = rows(call("abs", m))["a=1"]
    assert got[:2] == [4.0, 0.0] and math.isnan(got[2]) and got[3] == 2.0
    assert rows(call("sgn", vec({"a=1": [-3.0, 0.0, 5.0]})))["a=1"] == [-1.0, 0.0, 1.0]
    ln = rows(call("ln", vec({"a=1": [-1.0, 0.0, math.e]})))["a=1"]
    assert math.isnan(ln[0]) and ln[1] == -INF and ln[2] == pytest.approx(1.0)
    assert rows(call("deg", vec({"a=1": [math.pi]})))["a=1"] == [180.0]
    assert rows(call("ceil", vec({"a=1": [1.2, None]})))["a=1"] == [2.0, None]


def test_clamp_family() -> None:
    m = vec({"s=a": [-50.0], "s=b": [0.0], "s=c": [100.0]})
    assert rows(call("clamp_max", m, np.array([75.0]))) == {
        "s=a": [-50.0],
        "s=b": [0.0],
        "s=c": [75.0],
    }
    assert rows(call("clamp_min", m, np.array([-25.0]))) == {
        "s=a": [-25.0],
        "s=b": [0.0],
        "s=c": [100.0],
    }
    assert rows(call("clamp", m, np.array([-25.0]), np.array([75.0]))) == {
        "s=a": [-25.0],
        "s=b": [0.0],
        "s=c": [75.0],
    }
    # max < min: no output at all.
    assert rows(call("clamp", m, np.array([5.0]), np.array([-5.0]))) == {
        "s=a": [None],
        "s=b": [None],
        "s=c": [None],
    }
    nan = rows(call("clamp", m, np.array([0.0]), np.array([NAN])))
    assert all(math.isnan(v[0]) for v in nan.values())  # type: ignore[arg-type]


def test_round_ties_go_up_and_to_nearest() -> None:
    m = vec({"a=1": [1.5, 2.5, -1.5, 1.23456]})
    assert rows(call("round", m))["a=1"] == [2.0, 3.0, -1.0, 1.0]
    got = rows(call("round", m, np.array([0.1])))["a=1"]
    assert got[3] == pytest.approx(1.2)


def test_calendar_functions() -> None:
    t = vec({"a=1": [1136239445.0]}, name="")
    assert rows(call("year", t))["a=1"] == [2006.0]
    assert rows(call("month", t))["a=1"] == [1.0]
    assert rows(call("day_of_month", t))["a=1"] == [2.0]
    assert rows(call("day_of_year", t))["a=1"] == [2.0]
    assert rows(call("day_of_week", t))["a=1"] == [1.0]
    assert rows(call("hour", t))["a=1"] == [22.0]
    assert rows(call("minute", t))["a=1"] == [4.0]
    assert rows(call("days_in_month", vec({"a=1": [1454284800.0, 1485907200.0]})))["a=1"] == [
        29.0,
        28.0,
    ]
    assert rows(call("day_of_year", vec({"a=1": [1483191420.0]})))["a=1"] == [366.0]
    assert rows(call("year", vec({"a=1": [1230767999.0, 1230768000.0]})))["a=1"] == [2008.0, 2009.0]
    # Without an argument: the evaluation time, as one series without labels.
    now = call("day_of_week", c=ctx([0, 86_400_000]))
    assert isinstance(now, StepMatrix) and now.labels == [Labels.empty()]
    assert now.values.tolist() == [[4.0, 5.0]]


def test_time_timestamp_vector_scalar_pi() -> None:
    c = ctx([1, 3_000_000])
    assert call("time", c=c).tolist() == [0.001, 3000.0]  # type: ignore[attr-defined]
    m = vec({"a=1": [5.0, 6.0]})
    assert rows(call("timestamp", m, c=c))["a=1"] == [0.001, 3000.0]
    m.timestamps = np.array([[0, 2_940_000]], dtype=np.int64)
    assert rows(call("timestamp", m, c=c))["a=1"] == [0.0, 2940.0]
    v = call("vector", np.array([1.0, 2.0]), c=c)
    assert (
        isinstance(v, StepMatrix)
        and v.labels == [Labels.empty()]
        and v.values.tolist() == [[1.0, 2.0]]
    )
    two = vec({"a=1": [1.0, 1.0, None], "a=2": [2.0, None, None]})
    got = call("scalar", two, c=ctx([0, 1, 2]))
    assert isinstance(got, np.ndarray)
    assert math.isnan(got[0]) and got[1] == 1.0 and math.isnan(got[2])
    assert call("pi", c=c).tolist() == [math.pi, math.pi]  # type: ignore[attr-defined]


def test_label_replace() -> None:
    m = vec({"src=source-value-10": [0.0], "src=source-value-20": [1.0]})
    got = call("label_replace", m, "dst", "destination-value-$1", "src", "source-value-(.*)")
    assert rows(got) == {
        "dst=destination-value-10,src=source-value-10": [0.0],
        "dst=destination-value-20,src=source-value-20": [1.0],
    }
    # A full-string match only; a miss leaves the series alone.
    assert rows(call("label_replace", m, "dst", "v-$1", "src", "value-(.*)")) == rows(m)
    # Named groups, ${1}x, and $1x (a group named "1x", empty).
    got = call("label_replace", m, "dst", "${1}x-$1x-$$-$name", "src", "(?P<name>source)-.*-10")
    assert rows(got)["dst=sourcex--$-source,src=source-value-10"] == [0.0]
    # An empty result removes the label.
    dropped = call("label_replace", vec({"dst=x": [1.0]}), "dst", "", "dst", ".*")
    assert rows(dropped) == {"": [1.0]}
    # "." matches newlines.
    nl = call("label_replace", vec({"src=a\nb": [1.0]}), "dst", "$1", "src", "(.*)")
    assert isinstance(nl, StepMatrix) and nl.labels[0].get("dst") == "a\nb"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("dst", "value-$1", "src", "(.*"), "invalid regular expression in label_replace(): (.*"),
        (("", "", "src", "(.*)"), "invalid destination label name in label_replace(): "),
        (("src", "", "", ""), "vector cannot contain metrics with the same labelset"),
    ],
)
def test_label_replace_errors(args: tuple[str, ...], message: str) -> None:
    m = vec({"src=a": [0.0], "src=b": [1.0]})
    with pytest.raises(FunctionError) as err:
        call("label_replace", m, *args)
    assert str(err.value) == message


def test_relabelled_series_merge_when_they_do_not_overlap() -> None:
    m = vec({"idx=1,label=a": [2.0, None], "idx=2,label=a": [None, 4.0]}, name="series")
    got = call("label_replace", m, "idx", "replaced", "idx", ".*")
    assert rows(got) == {"idx=replaced,label=a": [2.0, 4.0]}
    overlap = vec({"idx=1,label=a": [1.0], "idx=2,label=a": [2.0]})
    with pytest.raises(FunctionError, match="vector cannot contain metrics with the same labelset"):
        call("label_join", overlap, "idx", ",", "label", "label")


def test_label_join() -> None:
    m = vec({"src=a,src1=b,src2=c": [0.0]})
    assert rows(call("label_join", m, "dst", "-", "src", "src3", "src1")) == {
        "dst=a--b,src=a,src1=b,src2=c": [0.0]
    }
    assert rows(call("label_join", m, "dst", ", ")) == rows(m)
    with pytest.raises(FunctionError) as err:
        call("label_join", m, "dst", "-", "\udcff")
    assert str(err.value).startswith("invalid source label name in label_join(): ")


def test_natural_order() -> None:
    assert natural_less("a2", "a10")
    assert not natural_less("a10", "a2")
    assert natural_less("1.2.3", "1.10.0")
    assert natural_less("abc", "abd") and natural_less("ab", "abc")
    assert not natural_less("x", "x")


def test_sort_functions_order_an_instant_vector() -> None:
    m = vec({"i=a": [3.0], "i=b": [NAN], "i=c": [1.0], "i=d": [None], "i=e": [2.0]})
    assert list(rows(call("sort", m))) == ["i=c", "i=e", "i=a", "i=b"]
    assert list(rows(call("sort_desc", m))) == ["i=a", "i=e", "i=c", "i=b"]
    n = vec({"instance=10": [1.0], "instance=9": [1.0], "instance=9,job=x": [1.0]})
    assert list(rows(call("sort_by_label", n, "instance"))) == [
        "instance=9",
        "instance=9,job=x",
        "instance=10",
    ]
    assert list(rows(call("sort_by_label_desc", n, "instance"))) == [
        "instance=10",
        "instance=9,job=x",
        "instance=9",
    ]


def buckets(le_counts: dict[str, list[float]], **extra: str) -> StepMatrix:
    labels, values = [], []
    for le, counts in le_counts.items():
        labels.append(Labels.from_dict({"__name__": "h_bucket", "le": le, **extra}))
        values.append(counts)
    arr = np.array(values, dtype=np.float64)
    return StepMatrix(labels, arr, np.ones(arr.shape, dtype=np.bool_))


def test_histogram_quantile_interpolates_within_buckets() -> None:
    h = buckets({"0.1": [50.0], ".2": [70.0], "1e0": [110.0], "+Inf": [120.0]})
    got = call("histogram_quantile", np.array([0.5]), h)
    assert isinstance(got, StepMatrix)
    assert got.labels == [Labels.from_dict({"__name__": "h_bucket"})]
    # rank 60 lies in (0.1, 0.2]: 0.1 + 0.1 * (10 / 20).
    assert got.values[0, 0] == pytest.approx(0.15)
    top = call("histogram_quantile", np.array([0.99]), h)
    assert isinstance(top, StepMatrix) and top.values[0, 0] == 1.0  # highest finite bound
    negative = buckets({"-.2": [1.0], "-0.1": [2.0], "0.3": [2.0], "+Inf": [3.0]})
    low = call("histogram_quantile", np.array([0.1]), negative)
    assert isinstance(low, StepMatrix) and low.values[0, 0] == -0.2


def test_histogram_quantile_special_quantiles_and_missing_inf() -> None:
    h = buckets({"1": [1.0, 2.0], "+Inf": [2.0, 4.0]})
    c = ctx([0, 1])
    got = call("histogram_quantile", np.array([-0.1, 1.5]), h, c=c)
    assert isinstance(got, StepMatrix) and got.values.tolist() == [[-INF, INF]]
    assert c.annotations.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got -0.1",
        "PromQL warning: quantile value should be between 0 and 1, got 1.5",
    ]
    no_inf = call("histogram_quantile", np.array([0.5]), buckets({"1": [1.0], "2": [2.0]}))
    assert isinstance(no_inf, StepMatrix) and math.isnan(no_inf.values[0, 0])


def test_histogram_quantile_fixes_monotonicity_and_says_so() -> None:
    h = buckets(
        {"0.1": [10.0], "1": [5.0], "10": [25.0], "100": [20.0], "1000": [45.0], "+Inf": [40.0]}
    )
    c = ctx()
    c.arg_positions = ["1:20", "1:25"]  # type: ignore[attr-defined]
    got = call("histogram_quantile", np.array([0.5]), h, c=c)
    assert isinstance(got, StepMatrix)
    # Envelope 10 10 25 25 45 45: rank 22.5 falls in (1, 10].
    assert got.values[0, 0] == pytest.approx(1 + 9 * (12.5 / 15))
    assert c.annotations.infos == [
        "PromQL info: input to histogram_quantile needed to be fixed for monotonicity "
        "(see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"
        ' for metric name "h_bucket" (1:25)'
    ]


def test_histogram_quantile_warns_about_bad_le_labels() -> None:
    h = buckets({"Hello World": [1.0], "+Inf": [2.0]})
    c = ctx()
    call("histogram_quantile", np.array([0.5]), h, c=c)
    assert c.annotations.warnings == [
        'PromQL warning: bucket label "le" is missing or has a malformed value of "Hello World"'
        ' for metric name "h_bucket"'
    ]


def test_histogram_quantiles_and_fraction() -> None:
    h = buckets({"1": [1.0], "2": [3.0], "3": [3.0], "4": [3.0], "5": [6.0], "+Inf": [6.0]})
    got = call("histogram_quantiles", h, "q", np.array([0.0]), np.array([0.5]))
    assert isinstance(got, StepMatrix)
    assert [lbls.get("q") for lbls in got.labels] == ["0.0", "0.5"]
    assert got.values[1, 0] == pytest.approx(2.0)
    frac = call("histogram_fraction", np.array([0.0]), np.array([4.0]), h)
    assert isinstance(frac, StepMatrix) and frac.values[0, 0] == pytest.approx(0.5)
    whole = call("histogram_fraction", np.array([0.0]), np.array([6.0]), h)
    assert isinstance(whole, StepMatrix) and whole.values[0, 0] == 1.0
    mid = call("histogram_fraction", np.array([0.0]), np.array([3.5]), h)
    assert isinstance(mid, StepMatrix) and mid.values[0, 0] == pytest.approx(0.5)


def test_histogram_buckets_come_and_go_across_steps() -> None:
    labels = [Labels.from_dict({"le": le}) for le in ("1", "2", "+Inf")]
    values = np.array([[1.0, 1.0], [2.0, 0.0], [4.0, 4.0]])
    present = np.array([[True, True], [True, False], [True, True]])
    got = call(
        "histogram_quantile",
        np.array([0.5, 0.5]),
        StepMatrix(labels, values, present),
        c=ctx([0, 1]),
    )
    assert isinstance(got, StepMatrix)
    # Step 0: rank 2 in (1, 2] -> 2. Step 1 (no le=2): rank 2 lands in +Inf -> 1.
    assert got.values.tolist() == [[2.0, 1.0]]
