"""Engine behaviour added for 3.x conformance: extended ranges, info(), fill with
group_right, start timestamps, and the promqltest runner's re-runs.

Hand-made cases (not copies of the conformance scripts) with results worked out
from upstream's definitions, so the same semantics are checked on unseen data.
"""

from __future__ import annotations

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.promql.engine import Engine, EngineOptions, QueryError
from promethean.promql.memstorage import MemStorage
from promethean.promql.parser import ALL_FEATURES
from promethean.promql.promqltest import run_script


def _lbl(**kv: str) -> Labels:
    return Labels.from_dict(kv)


def _engine(store: MemStorage) -> Engine:
    return Engine(
        store, EngineOptions(parser_options=ALL_FEATURES, enable_delayed_name_removal=True)
    )


def _one(engine: Engine, q: str, t_ms: int) -> dict[Labels, float]:
    return {s.labels: s.v for s in engine.instant_query(q, t_ms).vector}


@pytest.fixture
def counter() -> Engine:
    # 10 at 0s, 20 at 20s, 5 (reset) at 40s, 15 at 60s.
    s = MemStorage()
    s.add_series(_lbl(__name__="c"), [0, 20_000, 40_000, 60_000], [10, 20, 5, 15])
    return _engine(s)


def test_anchored_increase_uses_the_sample_before_the_window(counter: Engine) -> None:
    # Window (30s, 70s]: anchor 20 at 20s, last 15 at 60s, one reset from 20.
    assert _one(counter, "increase(c[40s] anchored)", 70_000) == {Labels.empty(): 15 - 20 + 20}
    # delta is not a counter: no reset correction.
    assert _one(counter, "delta(c[40s] anchored)", 70_000) == {Labels.empty(): -5.0}


def test_smoothed_increase_interpolates_both_edges(counter: Engine) -> None:
    # Window (10s, 50s]: left between 10@0 and 20@20 -> 15; right between 5@40 and 15@60
    # -> 10; the reset at 40s adds back 20.
    got = _one(counter, "increase(c[40s] smoothed)", 50_000)
    assert got == {Labels.empty(): pytest.approx(10 - 15 + 20)}
    assert _one(counter, "rate(c[40s] smoothed)", 50_000)[Labels.empty()] == pytest.approx(15 / 40)


def test_smoothed_selector_interpolates_and_carries_forward(counter: Engine) -> None:
    # 10s and 30s between neighbours, 50s too, 70s after the last sample: carried.
    res = counter.range_query("c smoothed", 10_000, 70_000, 20_000)
    assert res.matrix[0].values.tolist() == [15.0, 12.5, 10.0, 15.0]
    # Exactly on a sample: that sample.
    assert _one(counter, "c smoothed", 40_000) == {_lbl(__name__="c"): 5.0}


def test_anchored_changes_and_resets_count_from_the_anchor(counter: Engine) -> None:
    assert _one(counter, "changes(c[30s] anchored)", 60_000) == {Labels.empty(): 2.0}
    assert _one(counter, "resets(c[30s] anchored)", 60_000) == {Labels.empty(): 1.0}
    assert _one(counter, "resets(c[30s])", 60_000) == {Labels.empty(): 0.0}


def test_anchored_range_vector_gets_edge_points(counter: Engine) -> None:
    res = counter.instant_query("c[30s] anchored", 50_000)
    [series] = res.matrix
    assert series.timestamps.tolist() == [20_000, 40_000, 50_000]
    assert series.values.tolist() == [20.0, 5.0, 5.0]


def test_extended_ranges_are_refused_for_other_functions(counter: Engine) -> None:
    with pytest.raises(QueryError) as err:
        counter.instant_query("max_over_time(c[1m] smoothed)", 60_000)
    assert str(err.value) == (
        "smoothed modifier can only be used with: delta, increase, rate - not with max_over_time"
    )
    assert err.value.error_type == "execution"


def test_info_adds_data_labels_of_the_matching_info_series() -> None:
    s = MemStorage()
    t = [0, 60_000]
    s.add_series(_lbl(__name__="up", instance="h1", job="db"), t, [1, 1])
    s.add_series(_lbl(__name__="up", instance="h2", job="db"), t, [0, 1])
    s.add_series(_lbl(__name__="target_info", instance="h1", job="db", region="eu"), t, [1, 1])
    s.add_series(_lbl(__name__="build_info", instance="h2", job="db", version="2"), t, [1, 1])
    e = _engine(s)
    assert _one(e, "info(up)", 60_000) == {
        _lbl(__name__="up", instance="h1", job="db", region="eu"): 1.0,
        _lbl(__name__="up", instance="h2", job="db"): 1.0,
    }
    # A data matcher refusing "" drops series without a matching info series.
    assert _one(e, 'info(up, {__name__="build_info", version=~".+"})', 60_000) == {
        _lbl(__name__="up", instance="h2", job="db", version="2"): 1.0
    }


def test_fill_left_with_group_right_supplies_the_right_hand_side() -> None:
    s = MemStorage()
    s.add_series(_lbl(__name__="one", k="a"), [0], [2])
    s.add_series(_lbl(__name__="one", k="b"), [0], [3])
    s.add_series(_lbl(__name__="many", k="a", x="1"), [0], [5])
    e = _engine(s)
    got = _one(e, "one * on(k) group_right fill_left(10) many", 0)
    assert got == {_lbl(k="a", x="1"): 10.0, _lbl(k="b"): 30.0}


def test_start_timestamps_mark_resets_and_replace_left_extrapolation() -> None:
    s = MemStorage()
    # A delta-style counter: every sample starts where the previous one was taken.
    t = np.arange(0, 300_001, 60_000)
    s.add_series(_lbl(__name__="d_total"), t, np.full(t.size, 6.0), start_timestamps=t - 60_000)
    e = _engine(s)
    # (60s, 300s]: 4 samples and 3 resets (18 counted); the first starts at 60s, not
    # inside the window, so the usual extrapolation by 60s applies.
    got = _one(e, "increase(d_total[4m])", 300_000)[Labels.empty()]
    assert got == pytest.approx(18 * 240 / 180)
    # Start inside the window: no extrapolation to the left, one sample is enough.
    s2 = MemStorage()
    s2.add_series(_lbl(__name__="c_total"), [120_000], [9.0], start_timestamps=[90_000])
    got2 = _one(_engine(s2), "increase(c_total[3m])", 150_000)[Labels.empty()]
    assert got2 == pytest.approx(9.0)
    res = _engine(s2).instant_query("start_timestamp(c_total)", 150_000)
    assert [x.v for x in res.vector] == [90.0]


def test_runner_reruns_instant_evals_pinned_and_as_range_queries() -> None:
    # `time()` would change with the evaluation time: upstream skips the re-runs for it.
    script = """
load 1m
    m 1 2 3

eval instant at 2m m + time()
    {} 123

eval instant at 2m m
    m 3
"""
    result = run_script(script)
    assert [o.passed for o in result.outcomes] == [True, True]


def test_runner_pins_selectors_and_outer_subqueries_for_its_reruns() -> None:
    from promethean.promql.promqltest import _at_modifier_cases

    cases = _at_modifier_cases("sum(rate(m[5m])) + max_over_time(x[1m:10s] offset 1m)", 120_000)
    pinned = "sum(rate(m[5m] @ 120.000)) + max_over_time(x[1m:10s] @ 120.000 offset 1m)"
    assert cases == [(pinned, t) for t in (-1_200_000, 0, 24_000, 120_000, 1_200_000)]
    assert _at_modifier_cases("m", 0) == [("m @ 0.000", t) for t in (-1000, 0, 1000)]
    assert _at_modifier_cases("m @ start()", 5000)[0][0] == "m @ 5.000"
    assert _at_modifier_cases("time() + m", 5000) == []
    assert _at_modifier_cases("m[step()]", 5000) == []
