"""The group store: PUT/POST semantics, the consistency check, rendering."""

from __future__ import annotations

import pytest

from promethean.model import Labels, MetricFamily, MetricType, Sample
from promethean.pushgateway.groupkey import GroupKey, parse_group_path
from promethean.pushgateway.store import PushError, Store


def fam(
    name: str,
    mtype: MetricType = MetricType.UNKNOWN,
    help_text: str | None = None,
    samples: list[tuple[str, dict[str, str], float]] | None = None,
) -> MetricFamily:
    out = MetricFamily(name, mtype, help_text)
    for sname, labels, value in samples or [(name, {}, 1.0)]:
        out.samples.append(Sample(sname, Labels.from_dict(labels), value))
    return out


def push(
    store: Store, key: GroupKey, families: list[MetricFamily], replace_all: bool, now: float
) -> None:
    store.push(key, store.prepare_families(key, families), replace_all, now)


K1 = parse_group_path("job/j1/instance/i1")
K2 = parse_group_path("job/j2")


def test_put_replaces_group_and_post_replaces_same_names() -> None:
    store = Store()
    push(
        store,
        K1,
        [
            fam(
                "some_metric",
                MetricType.COUNTER,
                "Just an example.",
                [("some_metric", {"label": "val1"}, 42)],
            ),
            fam("another_metric", samples=[("another_metric", {}, 2398.283)]),
        ],
        replace_all=True,
        now=100.0,
    )
    push(
        store,
        K1,
        [fam("some_metric", samples=[("some_metric", {"label": "val2"}, 7)])],
        replace_all=False,
        now=101.0,
    )
    text = store.render_text()
    assert 'some_metric{instance="i1",job="j1",label="val2"} 7\n' in text
    assert "val1" not in text
    assert "# TYPE some_metric untyped\n" in text
    assert "# HELP some_metric" not in text
    assert 'another_metric{instance="i1",job="j1"} 2398.283\n' in text
    push(store, K1, [fam("third_metric")], replace_all=True, now=102.0)
    text = store.render_text()
    assert "another_metric" not in text and "some_metric" not in text
    assert 'push_time_seconds{instance="i1",job="j1"} 102\n' in text


def test_instance_added_and_url_labels_win() -> None:
    store = Store()
    push(
        store,
        K2,
        [fam("jl_metric", samples=[("jl_metric", {"job": "other", "foo": "bar"}, 1)])],
        True,
        5.0,
    )
    text = store.render_text()
    assert 'jl_metric{foo="bar",instance="",job="j2"} 1\n' in text
    assert 'push_failure_time_seconds{instance="",job="j2"} 0\n' in text


def test_type_conflict_across_groups_is_refused_and_changes_nothing() -> None:
    store = Store()
    push(store, K2, [fam("m", MetricType.GAUGE)], True, 1.0)
    before = store.render_text()
    with pytest.raises(PushError) as info:
        push(store, K1, [fam("m", MetricType.COUNTER)], True, 2.0)
    assert "pushed metrics are invalid or inconsistent with existing metrics" in str(info.value)
    assert '"m" is pushed as counter but other groups hold it as gauge' in str(info.value)
    assert store.render_text() == before  # no group was created for K1
    # The same group may change its own type.
    push(store, K2, [fam("m", MetricType.COUNTER)], True, 3.0)
    assert "# TYPE m counter" in store.render_text()


def test_refused_push_marks_failure_time_of_existing_group() -> None:
    store = Store()
    push(store, K1, [fam("a")], True, 10.0)
    push(store, K2, [fam("b", MetricType.GAUGE)], True, 10.0)
    with pytest.raises(PushError):
        push(store, K1, [fam("b", MetricType.COUNTER)], True, 11.0)
    text = store.render_text()
    assert 'push_failure_time_seconds{instance="i1",job="j1"} 11\n' in text
    assert 'push_time_seconds{instance="i1",job="j1"} 10\n' in text
    assert not store.groups[K1].last_push_successful
    assert 'a{instance="i1",job="j1"} 1\n' in text  # old content kept


def test_duplicates_and_timestamps_refused() -> None:
    store = Store()
    dup = fam("dup_metric", samples=[("dup_metric", {}, 1), ("dup_metric", {}, 2)])
    with pytest.raises(PushError, match="was collected before with the same name and label"):
        push(store, K2, [dup], True, 1.0)
    ts = fam("ts_metric")
    ts.samples[0].timestamp_ms = 1700000000000
    with pytest.raises(PushError, match="pushed metrics must not have timestamps"):
        push(store, K2, [ts], True, 1.0)
    assert store.groups == {}


def test_same_series_from_two_groups_refused() -> None:
    store = Store()
    push(store, parse_group_path("job/a"), [fam("x", samples=[("x", {"foo": "1"}, 1)])], True, 1)
    with pytest.raises(PushError, match="is already pushed in group"):
        push(store, parse_group_path("job/a/foo/1"), [fam("x", samples=[("x", {}, 2)])], True, 2)


def test_histogram_suffix_collision() -> None:
    store = Store()
    hist = fam(
        "lat",
        MetricType.HISTOGRAM,
        samples=[("lat_bucket", {"le": "+Inf"}, 1), ("lat_sum", {}, 1), ("lat_count", {}, 1)],
    )
    push(store, K1, [hist], True, 1)
    with pytest.raises(PushError, match='metric family "lat_count" collides with histogram "lat"'):
        push(store, K2, [fam("lat_count", MetricType.GAUGE)], True, 2)


def test_disabled_consistency_check_accepts_conflicts() -> None:
    store = Store(consistency_check=False)
    push(store, K2, [fam("m", MetricType.GAUGE)], True, 1.0)
    push(store, K1, [fam("m", MetricType.GAUGE)], True, 1.0)
    assert store.render_text().count("# TYPE m gauge") == 1


def test_help_is_deterministic_across_groups() -> None:
    store = Store()
    push(store, parse_group_path("job/b"), [fam("h", MetricType.GAUGE, "job b")], True, 1)
    push(store, parse_group_path("job/c"), [fam("h", MetricType.GAUGE, "job c")], True, 1)
    push(store, parse_group_path("job/a"), [fam("h", MetricType.GAUGE, None)], True, 1)
    outputs = {store.render_text() for _ in range(20)}
    assert len(outputs) == 1
    assert "# HELP h job b\n" in outputs.pop()


def test_delete_and_wipe() -> None:
    store = Store()
    push(store, K1, [fam("a")], True, 1)
    push(store, K2, [fam("a")], True, 1)
    assert store.delete(K1) is True
    assert store.delete(K1) is False
    assert 'job="j1"' not in store.render_text()
    store.wipe()
    assert store.render_text() == ""
    # Indexes were cleared too: a conflicting type is fine after a wipe.
    push(store, K1, [fam("a", MetricType.COUNTER)], True, 2)
