"""The engine's behaviour a user sees: values, labels, errors and limits."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from promethean.model.labels import Labels
from promethean.promql.engine import Engine, EngineOptions, QueryError
from promethean.promql.memstorage import MemStorage
from promethean.promql.promqltest import run_script
from promethean.tsdb.storage import STALE_NAN

M = 60_000


def _lbl(**kw: str) -> Labels:
    return Labels.from_dict(kw)


@pytest.fixture
def store() -> MemStorage:
    s = MemStorage()
    ts = np.arange(0, 11) * M
    s.add_series(_lbl(__name__="up", job="a"), ts, np.arange(11.0))
    s.add_series(_lbl(__name__="up", job="b"), ts, np.arange(11.0) * 10)
    s.add_series(_lbl(__name__="gone", job="a"), [0, M, 2 * M], [1.0, 2.0, STALE_NAN])
    return s


def _vec(engine: Engine, q: str, t: int) -> dict[Labels, float]:
    res = engine.instant_query(q, t)
    assert res.type == "vector"
    return {s.labels: s.v for s in res.vector}


def test_instant_selector_lookback_and_staleness(store: MemStorage) -> None:
    eng = Engine(store)
    assert _vec(eng, "gone", M) == {_lbl(__name__="gone", job="a"): 2.0}
    assert _vec(eng, "gone", 2 * M) == {}  # the stale marker ends the series
    # 3.x lookback window is left-open: a sample exactly 5m old is out.
    assert _vec(eng, "up", 15 * M) == {}
    assert _vec(eng, "up", 15 * M - 1) == {
        _lbl(__name__="up", job="a"): 10.0,
        _lbl(__name__="up", job="b"): 100.0,
    }


def test_offset_and_at(store: MemStorage) -> None:
    eng = Engine(store)
    assert _vec(eng, 'up{job="a"} offset 2m', 5 * M) == {_lbl(__name__="up", job="a"): 3.0}
    assert _vec(eng, 'up{job="a"} @ 120', 10 * M) == {_lbl(__name__="up", job="a"): 2.0}
    assert _vec(eng, 'up{job="a"} @ 180 offset 1m', 0) == {_lbl(__name__="up", job="a"): 2.0}


def test_range_query_matrix_sorted_with_steps(store: MemStorage) -> None:
    eng = Engine(store)
    res = eng.range_query('up{job="b"} * 2', 0, 4 * M, 2 * M)
    assert res.type == "matrix"
    assert [s.labels for s in res.matrix] == [_lbl(job="b")]
    assert res.matrix[0].timestamps.tolist() == [0, 2 * M, 4 * M]
    assert res.matrix[0].values.tolist() == [0.0, 40.0, 80.0]


def test_range_query_of_scalar_is_one_unlabelled_series(store: MemStorage) -> None:
    res = Engine(store).range_query("1 + 2", 0, 2 * M, M)
    assert [(s.labels, s.values.tolist()) for s in res.matrix] == [(Labels.empty(), [3.0] * 3)]


def test_subquery_points_align_to_absolute_step(store: MemStorage) -> None:
    res = Engine(store).instant_query('up{job="a"}[3m:2m]', 7 * M + 30_000)
    assert res.type == "matrix"
    # (7m30s - 3m, 7m30s] holds the multiples of 2m: 6m only... and 4m30s < 6m.
    assert res.matrix[0].timestamps.tolist() == [6 * M]
    assert res.matrix[0].values.tolist() == [6.0]


def test_aggregations(store: MemStorage) -> None:
    eng = Engine(store)
    assert _vec(eng, "sum(up)", 10 * M) == {Labels.empty(): 110.0}
    assert _vec(eng, "count by (job) (up)", 10 * M) == {_lbl(job="a"): 1.0, _lbl(job="b"): 1.0}
    assert _vec(eng, "topk(1, up)", 10 * M) == {_lbl(__name__="up", job="b"): 100.0}
    assert _vec(eng, "quantile(0.5, up)", 10 * M) == {Labels.empty(): 55.0}
    assert _vec(eng, 'count_values("v", up)', 10 * M) == {
        _lbl(v="10"): 1.0,
        _lbl(v="100"): 1.0,
    }


def test_vector_matching_and_set_operators(store: MemStorage) -> None:
    eng = Engine(store)
    assert _vec(eng, "up / on(job) up", 10 * M) == {_lbl(job="a"): 1.0, _lbl(job="b"): 1.0}
    assert _vec(eng, 'up and on(job) gone{job="a"}', M) == {_lbl(__name__="up", job="a"): 1.0}
    assert _vec(eng, "up > 5", 10 * M) == {
        _lbl(__name__="up", job="a"): 10.0,
        _lbl(__name__="up", job="b"): 100.0,
    }
    assert _vec(eng, "up > bool 50", 10 * M) == {_lbl(job="a"): 0.0, _lbl(job="b"): 1.0}


def test_many_to_many_error_text(store: MemStorage) -> None:
    with pytest.raises(QueryError) as err:
        Engine(store).instant_query("up * on() up", 10 * M)
    assert err.value.error_type == "execution"
    assert str(err.value) == (
        "found duplicate series for the match group {} on the right hand-side of the "
        'operation: [{__name__="up", job="a"}, {__name__="up", job="b"}];'
        "many-to-many matching not allowed: matching labels must be unique on one side"
    )


def test_duplicate_labelset_after_name_removal() -> None:
    s = MemStorage()
    s.add_series(_lbl(__name__="a", x="1"), [0], [1.0])
    s.add_series(_lbl(__name__="b", x="1"), [0], [2.0])
    with pytest.raises(QueryError, match=r"^vector cannot contain metrics with the same labelset$"):
        Engine(s).instant_query('-{__name__=~"a|b"}', 0)


def test_parse_error_is_bad_data(store: MemStorage) -> None:
    with pytest.raises(QueryError) as err:
        Engine(store).instant_query("sum(", 0)
    assert err.value.error_type == "bad_data"
    assert str(err.value).startswith("1:5: parse error:")


def test_range_query_refuses_range_vector(store: MemStorage) -> None:
    with pytest.raises(QueryError) as err:
        Engine(store).range_query("up[5m]", 0, M, M)
    assert str(err.value) == (
        'invalid expression type "range vector" for range query, must be Scalar or instant Vector'
    )


def test_max_samples_error_text(store: MemStorage) -> None:
    eng = Engine(store, EngineOptions(max_samples=1))
    with pytest.raises(QueryError) as err:
        eng.instant_query("up", 10 * M)
    assert err.value.error_type == "execution"
    assert str(err.value) == (
        "query processing would load too many samples into memory in query execution"
    )
    # The engine stays usable after a refused query.
    assert len(eng.instant_query('up{job="a"}', 10 * M).vector) == 1


def test_timeout_error_text(store: MemStorage) -> None:
    eng = Engine(store, EngineOptions(timeout_s=0.0))
    with pytest.raises(QueryError) as err:
        eng.instant_query("up", 10 * M)
    assert (err.value.error_type, str(err.value)) == (
        "timeout",
        "query timed out in expression evaluation",
    )


def test_concurrency_queue_times_out_while_full(store: MemStorage) -> None:
    eng = Engine(store, EngineOptions(max_concurrency=1, timeout_s=0.05))
    eng._slots.acquire()  # one query holds the only slot
    try:
        with pytest.raises(QueryError) as err:
            eng.instant_query("up", 10 * M)
        assert str(err.value) == "query timed out in query queue"
    finally:
        eng._slots.release()
    assert len(eng.instant_query("up", 10 * M).vector) == 2


def test_queries_from_many_threads(store: MemStorage) -> None:
    eng = Engine(store, EngineOptions(max_concurrency=2))
    results: list[float] = []

    def worker() -> None:
        results.append(eng.instant_query("sum(up)", 10 * M).vector[0].v)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert results == [110.0] * 8


def test_absent_takes_labels_from_equality_matchers(store: MemStorage) -> None:
    eng = Engine(store)
    assert _vec(eng, 'absent(nope{job="x", env=~"p.*"})', 0) == {_lbl(job="x"): 1.0}
    assert _vec(eng, "absent(up)", 0) == {}


def test_nan_is_a_sample_not_absence() -> None:
    s = MemStorage()
    s.add_series(_lbl(__name__="n"), [0], [math.nan])
    res = Engine(s).instant_query("n", 0)
    assert len(res.vector) == 1 and math.isnan(res.vector[0].v)


SCRIPT = """
load 1m
    metric{a="1"} 1+1x4 _ stale
    metric{a="2"} 0 _x3 5

eval instant at 2m metric
    metric{a="1"} 3
    metric{a="2"} 0

eval range from 0 to 4m step 2m metric{a="1"} * 2
    {a="1"} 2 6 10

eval instant at 1m metric{a="9"}

eval instant at 1m nonsense(
    expect fail

eval_fail instant at 1m metric * on() metric

eval instant at 2m metric
    metric{a="1"} 999
"""


def test_promqltest_runner_counts_and_reports() -> None:
    result = run_script(SCRIPT, "inline.test")
    assert [o.passed for o in result.outcomes] == [True, True, True, True, True, False]
    assert (result.passed, result.failed) == (5, 1)
    assert "expected 999.0" in result.outcomes[-1].reason


def test_promqltest_native_histograms_fail_visibly() -> None:
    script = "load 1m\n    h {{schema:0 sum:1 count:1}}\n\neval instant at 0 h\n    h 1\n"
    result = run_script(script)
    assert result.failed == 1
    assert "native histograms are not implemented" in result.outcomes[0].reason


def test_promqltest_command_exit_codes(tmp_path: Path) -> None:
    good = tmp_path / "good.test"
    good.write_text("load 1m\n    x 1\n\neval instant at 0 x\n    x 1\n")
    bad = tmp_path / "bad.test"
    bad.write_text("load 1m\n    x 1\n\neval instant at 0 x\n    x 2\n")
    cmd = [sys.executable, "-m", "promethean.cli", "tool", "promqltest"]
    ok = subprocess.run([*cmd, str(good)], capture_output=True, text=True, timeout=60)
    assert (ok.returncode, ok.stdout.splitlines()[-1]) == (0, "1 passed, 0 failed")
    fail = subprocess.run([*cmd, str(good), str(bad)], capture_output=True, text=True, timeout=60)
    assert fail.returncode == 1
    assert fail.stdout.splitlines()[-1] == "1 passed, 1 failed"
    assert "FAIL bad.test:4: x" in fail.stdout
