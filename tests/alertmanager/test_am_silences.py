"""Silences, alert store and notification log as units: upstream's rules with a controlled clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from promethean.alertmanager.alerts import (
    AlertStore,
    fingerprint,
    fingerprint_hex,
    fingerprints,
    posted_alert,
)
from promethean.alertmanager.nflog import NotificationLog, Receiver
from promethean.alertmanager.silences import (
    SilenceError,
    SilenceMatcher,
    SilenceNotFound,
    Silences,
    sort_for_api,
)
from promethean.alertmanager.store import DurableLog
from promethean.model.labels import Labels


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


M = [SilenceMatcher("alertname", "A")]


def test_fingerprints_match_go() -> None:
    # Values observed from the Go Alertmanager (reference sheet).
    assert (
        fingerprint_hex(
            {"alertname": "TestA", "cluster": "c1", "instance": "i1", "severity": "warning"}.items()
        )
        == "cd6d4b519f25bab3"
    )
    assert fingerprint_hex({"alertname": "Timing", "instance": "a"}.items()) == "c3451ac657c6b056"
    assert (
        fingerprint_hex({"alertname": "Crit", "severity": "critical", "cluster": "c1"}.items())
        == "587b712127851cd2"
    )
    assert fingerprint_hex(()) == "cbf29ce484222325"


def test_batch_fingerprints_equal_single_ones() -> None:
    """A posted batch is hashed column-wise (numpy); every id must equal the one-by-one id."""
    sets = [
        Labels.from_dict(
            {"alertname": "TestA", "cluster": "c1", "instance": "i1", "severity": "warning"}
        )
    ]
    sets += [
        Labels.from_dict(
            {
                "alertname": "A" * (i % 7),
                "pod": f"p-{i}" * (i % 3 + 1),
                "ns": "ümlaut" if i % 2 else "x",
            }
        )
        for i in range(40)
    ]
    sets.append(Labels.empty())
    got = fingerprints(sets)
    assert got == [fingerprint(labels) for labels in sets]
    assert f"{got[0]:016x}" == "cd6d4b519f25bab3" and f"{got[-1]:016x}" == "cbf29ce484222325"
    assert fingerprints(sets[:3]) == got[:3]  # the small-batch path
    stored = posted_alert(sets[0], {}, None, None, "", 0.0, 300.0)
    assert stored.fingerprint == "cd6d4b519f25bab3"


def test_new_silence_clamps_start_and_gets_uuid() -> None:
    clock = Clock()
    s = Silences(clock=clock)
    sid = s.set(M, clock.now - 100, clock.now + 100, "alice", "c")
    sil = s.get(sid)
    assert sil is not None
    assert sil.starts_at == clock.now
    assert sil.state(clock.now) == "active"
    assert len(sid) == 36


def test_update_rules() -> None:
    clock = Clock()
    s = Silences(clock=clock)
    sid = s.set(M, clock.now, clock.now + 100, "alice", "c")
    # active: same start, end not in the past -> in place
    assert s.set(M, clock.now, clock.now + 500, "bob", "longer", sid) == sid
    # active: changed start -> old expired, new id
    clock.now += 10
    new = s.set(M, clock.now + 5, clock.now + 500, "bob", "moved", sid)
    assert new != sid
    old = s.get(sid)
    assert old is not None and old.state(clock.now + 1) == "expired"
    # changed matchers -> new id
    other = s.set([SilenceMatcher("alertname", "B")], clock.now, clock.now + 50, "x", "y", new)
    assert other != new
    # pending: start still in the future -> in place
    pending = s.set(M, clock.now + 100, clock.now + 200, "p", "p")
    assert s.set(M, clock.now + 150, clock.now + 300, "p", "p2", pending) == pending
    # unknown id
    with pytest.raises(SilenceNotFound, match="silence not found"):
        s.set(M, clock.now, clock.now + 1, "a", "b", "00000000-0000-0000-0000-000000000000")


def test_invalid_update_leaves_old_silence_alone() -> None:
    clock = Clock()
    s = Silences(clock=clock)
    sid = s.set(M, clock.now, clock.now + 100, "alice", "c")
    with pytest.raises(SilenceError, match="must not match the empty string"):
        s.set([SilenceMatcher("alertname", "")], clock.now, clock.now + 100, "a", "b", sid)
    sil = s.get(sid)
    assert sil is not None and sil.state(clock.now) == "active"


def test_expire_and_mutes_and_gc() -> None:
    clock = Clock()
    s = Silences(retention=3600, clock=clock)
    sid = s.set(
        [SilenceMatcher("alertname", "A|B", is_regex=True)], clock.now, clock.now + 100, "a", "c"
    )
    neg = s.set([SilenceMatcher("team", "x", is_equal=False)], clock.now, clock.now + 100, "a", "c")
    assert s.mutes(Labels.from_dict({"alertname": "A", "team": "x"})) == [sid]
    assert s.mutes(Labels.from_dict({"alertname": "C"})) == [neg]
    assert sorted(s.mutes(Labels.from_dict({"alertname": "B"}))) == sorted([sid, neg])
    s.expire(sid)
    assert s.mutes(Labels.from_dict({"alertname": "A", "team": "x"})) == []
    s.expire(sid)  # already expired: no error, no change
    clock.now += 3600 + 101
    assert s.gc() == 2
    assert s.all() == []


def test_api_order() -> None:
    clock = Clock()
    s = Silences(clock=clock)
    a1 = s.set(M, clock.now, clock.now + 300, "a", "c")
    a2 = s.set(M, clock.now, clock.now + 200, "a", "c")
    p1 = s.set(M, clock.now + 50, clock.now + 300, "a", "c")
    e1 = s.set(M, clock.now, clock.now + 10, "a", "c")
    e2 = s.set(M, clock.now, clock.now + 20, "a", "c")
    clock.now += 30
    order = [x.id for x in sort_for_api(s.all(), clock.now)]
    assert order == [a2, a1, p1, e2, e1]


def test_alert_merge_and_gc() -> None:
    store = AlertStore()
    labels = {"alertname": "A"}
    first = posted_alert(labels, {}, 100.0, None, "", 100.0, 300.0)
    store.put([first], 100.0)
    # re-sent later without endsAt: start stays the earliest, end moves on
    again = posted_alert(labels, {}, 150.0, None, "", 150.0, 300.0)
    [stored] = store.put([again], 150.0)
    assert (stored.starts_at, stored.ends_at, stored.timeout) == (100.0, 450.0, True)
    # explicit resolve
    resolved = posted_alert(labels, {}, None, 200.0, "", 200.0, 300.0)
    [stored] = store.put([resolved], 200.0)
    assert (stored.starts_at, stored.ends_at) == (100.0, 200.0)
    assert store.gc(201.0) == [stored]
    assert len(store) == 0


def test_durable_log_torn_tail_and_compaction(tmp_path: Path) -> None:
    log = DurableLog(tmp_path, "x")
    assert log.load() == {}
    log.append("a", {"v": 1})
    log.append("b", {"v": 2})
    log.append("a", None)
    log.sync_blocking()
    log.close()
    wal = sorted(tmp_path.glob("x.wal.*"))[-1]
    with open(wal, "ab") as f:
        f.write(b'["c",{"v":')  # a crash mid-append
    log = DurableLog(tmp_path, "x")
    assert log.load() == {"b": {"v": 2}}
    log.append("d", {"v": 4})
    compaction = log.begin_compaction({"b": {"v": 2}, "d": {"v": 4}})
    log.append("e", {"v": 5})  # lands in the new generation
    compaction.finish_blocking()
    log.sync_blocking()
    log.close()
    assert len(list(tmp_path.glob("x.wal.*"))) == 1
    assert DurableLog(tmp_path, "x").load() == {"b": {"v": 2}, "d": {"v": 4}, "e": {"v": 5}}


def test_silences_survive_reload(tmp_path: Path) -> None:
    clock = Clock()
    s = Silences(DurableLog(tmp_path, "silences"), clock=clock)
    s.load()
    sid = s.set(M, clock.now, clock.now + 100, "alice", "kept")
    asyncio.run(s.sync())
    s.close()
    again = Silences(DurableLog(tmp_path, "silences"), clock=clock)
    assert again.load() == 1
    sil = again.get(sid)
    assert sil is not None and (sil.created_by, sil.comment) == ("alice", "kept")


def test_corrupt_snapshot_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "silences.snap").write_text("{not json")
    with pytest.raises(Exception, match=r"silences\.snap is corrupt"):
        DurableLog(tmp_path, "silences").load()


def test_nflog_query_and_expiry(tmp_path: Path) -> None:
    clock = Clock()
    nf = NotificationLog(DurableLog(tmp_path, "nflog"), retention=100, clock=clock)
    nf.load()
    r = Receiver("team-a", "webhook", 0)
    nf.log_blocking(r, '{}:{alertname="A"}', [1, 2**64 - 1], [3])
    entry = nf.query('{}:{alertname="A"}', r)
    assert entry is not None
    assert entry.firing_alerts == {1, 2**64 - 1}
    assert entry.resolved_alerts == {3}
    assert nf.query('{}:{alertname="A"}', Receiver("team-a", "webhook", 1)) is None
    nf.close()
    again = NotificationLog(DurableLog(tmp_path, "nflog"), retention=100, clock=clock)
    assert again.load() == 1
    assert again.query('{}:{alertname="A"}', r) == entry
    clock.now += 101
    assert again.query('{}:{alertname="A"}', r) is None
    assert again.gc() == 1
