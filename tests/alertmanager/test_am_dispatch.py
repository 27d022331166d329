"""Dispatcher timing and pipeline semantics, in process, against a real webhook sink."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from am_notify_harness import Rig, Sink, run, webhook_config

from promethean.alertmanager.silences import SilenceMatcher


def _names(req: object) -> list[tuple[str, str]]:
    body = req.json()  # type: ignore[attr-defined]
    return [(a["labels"].get("instance", ""), a["status"]) for a in body["alerts"]]


def test_group_wait_then_group_interval_batches_then_repeat() -> None:
    async def main() -> None:
        sink = await Sink().start()
        rig = Rig(webhook_config(sink.url, repeat_interval="1500ms")).start()
        try:
            rig.post({"alertname": "A", "instance": "a"})
            await sink.wait_for(1)
            rig.post({"alertname": "A", "instance": "b"})
            await sink.wait_for(2)
            reqs = await sink.wait_for(3, timeout=6)
            assert [_names(r) for r in reqs[:3]] == [
                [("a", "firing")],
                [("a", "firing"), ("b", "firing")],
                [("a", "firing"), ("b", "firing")],  # the repeat, unchanged alerts
            ]
            # group_wait came first, then ticks of group_interval; the repeat waited
            # repeat_interval after the second notification.
            assert reqs[2].at - reqs[1].at >= 1.5
            assert reqs[1].json()["groupKey"] == '{}:{alertname="A"}'
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_resolved_notified_once_then_group_dropped() -> None:
    async def main() -> None:
        sink = await Sink().start()
        rig = Rig(webhook_config(sink.url)).start()
        try:
            rig.post({"alertname": "A", "instance": "a"})
            rig.post({"alertname": "A", "instance": "b"})
            await sink.wait_for(1)
            rig.resolve({"alertname": "A", "instance": "a"})
            reqs = await sink.wait_for(2)
            body = reqs[1].json()
            assert body["status"] == "firing"
            assert _names(reqs[1]) == [("a", "resolved"), ("b", "firing")]
            assert body["alerts"][0]["endsAt"] != "0001-01-01T00:00:00Z"
            assert body["alerts"][1]["endsAt"] == "0001-01-01T00:00:00Z"
            rig.resolve({"alertname": "A", "instance": "b"})
            reqs = await sink.wait_for(3)
            assert reqs[2].json()["status"] == "resolved"
            assert _names(reqs[2]) == [("b", "resolved")]  # a was already reported resolved
            assert rig.dispatcher is not None
            for _ in range(50):
                if not rig.dispatcher.groups():
                    break
                await asyncio.sleep(0.05)
            assert rig.dispatcher.groups() == []
            await asyncio.sleep(1.2)  # two more ticks' worth: nothing else is sent
            assert len(sink.requests) == 3
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_send_resolved_false_sends_firing_only() -> None:
    async def main() -> None:
        sink = await Sink().start()
        cfg = webhook_config(sink.url).replace("/hook'", "/hook'\n        send_resolved: false")
        rig = Rig(cfg).start()
        try:
            rig.post({"alertname": "A", "instance": "a"})
            rig.post({"alertname": "A", "instance": "b"})
            await sink.wait_for(1)
            rig.resolve({"alertname": "A", "instance": "a"})
            await asyncio.sleep(1.2)
            assert len(sink.requests) == 1  # a resolved alert alone is not news here
            rig.post({"alertname": "A", "instance": "c"})
            reqs = await sink.wait_for(2)
            assert _names(reqs[1]) == [("b", "firing"), ("c", "firing")]
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_alert_started_long_ago_flushes_without_group_wait() -> None:
    async def main() -> None:
        sink = await Sink().start()
        rig = Rig(webhook_config(sink.url, group_wait="30s")).start()
        try:
            rig.post({"alertname": "Old"}, starts_at=time.time() - 60)
            reqs = await sink.wait_for(1, timeout=5)
            assert reqs[0].json()["alerts"][0]["labels"] == {"alertname": "Old"}
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_silence_mutes_until_expired() -> None:
    async def main() -> None:
        sink = await Sink().start()
        rig = Rig(webhook_config(sink.url)).start()
        try:
            now = time.time()
            sid = rig.silences.set(
                [SilenceMatcher("instance", "b", False, True)], now, now + 3600, "t", "c"
            )
            rig.post({"alertname": "A", "instance": "a"})
            rig.post({"alertname": "A", "instance": "b"})
            reqs = await sink.wait_for(1)
            assert _names(reqs[0]) == [("a", "firing")]
            await asyncio.sleep(0.8)
            assert len(sink.requests) == 1
            rig.silences.expire(sid)
            reqs = await sink.wait_for(2)
            assert _names(reqs[1]) == [("a", "firing"), ("b", "firing")]
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_inhibited_alert_is_not_sent_while_source_fires() -> None:
    async def main() -> None:
        sink = await Sink().start()
        cfg = (
            webhook_config(sink.url)
            + """
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
"""
        )
        rig = Rig(cfg).start()
        try:
            rig.post({"alertname": "Crit", "severity": "critical", "cluster": "c1"})
            rig.post({"alertname": "Warn", "severity": "warning", "cluster": "c1"})
            rig.post({"alertname": "Warn2", "severity": "warning", "cluster": "c2"})
            await sink.wait_for(2)
            await asyncio.sleep(0.7)
            names = sorted(r.json()["groupLabels"]["alertname"] for r in sink.requests)
            assert names == ["Crit", "Warn2"]
            rig.resolve({"alertname": "Crit", "severity": "critical", "cluster": "c1"})
            await sink.wait_for(4)
            names = sorted(r.json()["groupLabels"]["alertname"] for r in sink.requests[2:])
            assert names == ["Crit", "Warn"]  # Crit resolved, Warn no longer inhibited
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_mute_time_interval_mutes_route() -> None:
    async def main() -> None:
        sink = await Sink().start()
        cfg = (
            webhook_config(
                sink.url,
                extra_route="""  routes:
    - matchers: [team="night"]
      mute_time_intervals: [always]
""",
            )
            + """
time_intervals:
  - name: always
    time_intervals:
      - weekdays: ['sunday:saturday']
"""
        )
        rig = Rig(cfg).start()
        try:
            rig.post({"alertname": "Muted", "team": "night"})
            rig.post({"alertname": "Loud", "team": "day"})
            reqs = await sink.wait_for(1)
            await asyncio.sleep(0.8)
            assert [r.json()["groupLabels"]["alertname"] for r in reqs] == ["Loud"]
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_retries_5xx_until_success_and_stops_on_4xx(caplog: object) -> None:
    async def main() -> None:
        sink = await Sink(statuses=[500, 503]).start()
        rig = Rig(webhook_config(sink.url)).start()
        try:
            rig.post({"alertname": "A"})
            reqs = await sink.wait_for(3, timeout=10)
            await asyncio.sleep(0.8)
            assert len(sink.requests) == 3  # two failures, one success, no duplicate after
            assert reqs[0].body == reqs[2].body
        finally:
            await rig.stop()
            await sink.stop()

    run(main)


def test_no_resend_after_restart_within_repeat_interval(tmp_path: Path) -> None:
    async def main() -> None:
        sink = await Sink().start()
        cfg = webhook_config(sink.url)
        rig = Rig(cfg, storage=tmp_path).start()
        rig.post({"alertname": "A", "instance": "a"})
        await sink.wait_for(1)
        await rig.stop()  # the log was fsynced when the notification was recorded
        again = Rig(cfg, storage=tmp_path).start()
        try:
            again.post({"alertname": "A", "instance": "a"})
            await asyncio.sleep(1.2)  # group_wait and a tick: dedup finds the entry
            assert len(sink.requests) == 1
            again.post({"alertname": "A", "instance": "b"})
            reqs = await sink.wait_for(2)
            assert _names(reqs[1]) == [("a", "firing"), ("b", "firing")]
        finally:
            await again.stop()
            await sink.stop()

    run(main)


def test_idle_groups_sleep_until_their_repeat() -> None:
    """Settled groups arm no timer before their repeat: idle groups cost nothing."""

    async def main() -> None:
        sink = await Sink().start()
        cfg = webhook_config(sink.url, group_wait="0s", group_interval="100ms")
        cfg = cfg.replace("group_by: [alertname]", "group_by: [alertname, g]")
        rig = Rig(cfg).start()
        try:
            for i in range(300):
                rig.post({"alertname": "Idle", "g": str(i)})
            await sink.wait_for(300)
            assert rig.dispatcher is not None
            for _ in range(100):
                groups = rig.dispatcher.groups()
                if all(g.settled for g in groups):
                    break
                await asyncio.sleep(0.05)
            loop_now = asyncio.get_running_loop().time()
            groups = rig.dispatcher.groups()
            assert len(groups) == 300
            assert all(g.settled for g in groups)
            # The earliest wake is the alerts' endsAt (resolve_timeout 5m), not the next tick.
            assert min(g.wake_at or float("inf") for g in groups) > loop_now + 200
            await asyncio.sleep(0.3)
            assert len(sink.requests) == 300
            # A new alert wakes its group on the tick grid.
            rig.post({"alertname": "Idle", "g": "7", "x": "new"})
            reqs = await sink.wait_for(301)
            assert len(reqs[300].json()["alerts"]) == 2
        finally:
            await rig.stop()
            await sink.stop()

    run(main)
