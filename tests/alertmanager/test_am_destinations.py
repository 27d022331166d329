"""M2: ``allowed_destinations`` guards every destination a receiver renders, per integration kind.

An alert poster who controls labels controls templated fields; with an allow-list
the rendered destination must match, else the delivery fails without retry and a
log line names the receiver and the destination (URLs as ``scheme://host:port``,
keys never). Real sinks on 127.0.0.1; the log is searched for secrets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import pytest
from am_notify_harness import Rig, Sink, run

SECRET = "DEST_SECRET_4x9"


def _refusals(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        dict(r.fields)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "Notification refused: destination not allowed"
    ]


async def _until(pred: Callable[[], Any], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def _config(receiver: str) -> str:
    return f"""
global:
  slack_api_url: 'http://127.0.0.1:1/unused'
route:
  receiver: r
  group_by: [alertname]
  group_wait: 50ms
  group_interval: 500ms
receivers:
{receiver}
"""


def _all_text(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)


def test_webhook_url_outside_the_list_is_refused_and_shown_without_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def main() -> None:
        sink = await Sink().start()
        receivers = f"""
  - name: r
    allowed_destinations: ['http://127\\.0\\.0\\.1:{sink.port}/allowed/.*']
    webhook_configs:
      - url: 'http://u:{SECRET}@127.0.0.1:{sink.port}/hooks/{SECRET}?t={SECRET}'
      - url: 'http://127.0.0.1:{sink.port}/allowed/hook'
"""
        rig = Rig(_config(receivers)).start()
        try:
            rig.post({"alertname": "A"})
            await sink.wait_for(1)
            await _until(lambda: _refusals(caplog))
        finally:
            await rig.stop()
            await sink.stop()
        assert [r.path for r in sink.requests] == ["/allowed/hook"]

    caplog.set_level(logging.INFO, logger="promethean")
    run(main)
    [refused] = _refusals(caplog)
    assert refused["receiver"] == "r" and refused["integration"] == "webhook[0]"
    assert refused["destination"].startswith("http://127.0.0.1:")
    assert refused["destination"].count("/") == 2  # scheme://host:port only
    assert SECRET not in _all_text(caplog)


def test_slack_channel_chosen_by_a_label_is_checked(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        sink = await Sink().start()
        receivers = f"""
  - name: r
    allowed_destinations: ['#ops', 'http://127\\.0\\.0\\.1:{sink.port}/slack']
    slack_configs:
      - api_url: 'http://127.0.0.1:{sink.port}/slack'
        channel: '{{{{ .CommonLabels.channel }}}}'
"""
        rig = Rig(_config(receivers)).start()
        try:
            rig.post({"alertname": "Evil", "channel": "#attacker"})
            rig.post({"alertname": "Good", "channel": "#ops"})
            await sink.wait_for(1)
            await _until(lambda: _refusals(caplog))
        finally:
            await rig.stop()
            await sink.stop()
        assert [r.json()["channel"] for r in sink.requests] == ["#ops"]

    caplog.set_level(logging.INFO, logger="promethean")
    run(main)
    assert [r["destination"] for r in _refusals(caplog)] == ["#attacker"]


def test_slack_api_url_outside_the_list_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        sink = await Sink().start()
        receivers = f"""
  - name: r
    allowed_destinations: ['#ops', 'https://hooks\\.slack\\.com/.*']
    slack_configs:
      - api_url: 'http://127.0.0.1:{sink.port}/services/{SECRET}'
        channel: '#ops'
"""
        rig = Rig(_config(receivers)).start()
        try:
            rig.post({"alertname": "A"})
            await _until(lambda: _refusals(caplog))
        finally:
            await rig.stop()
            await sink.stop()
        assert sink.requests == []

    caplog.set_level(logging.INFO, logger="promethean")
    run(main)
    [refused] = _refusals(caplog)
    assert refused["destination"].startswith("http://127.0.0.1:")
    assert SECRET not in _all_text(caplog)


def test_keys_chosen_by_labels_are_checked_and_never_shown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PagerDuty routing keys and Pushover user keys pick who is paged: destinations and secrets."""

    async def main() -> None:
        sink = await Sink().start()
        receivers = f"""
  - name: r
    allowed_destinations: ['http://127\\.0\\.0\\.1:{sink.port}/pd', 'https://api\\.pushover\\.net/.*',
                           'RKEY-[0-9]+', 'UKEY-[0-9]+']
    pagerduty_configs:
      - url: 'http://127.0.0.1:{sink.port}/pd'
        routing_key: '{{{{ .CommonLabels.rk }}}}'
    pushover_configs:
      - user_key: '{{{{ .CommonLabels.uk }}}}'
        token: 'tok'
"""
        rig = Rig(_config(receivers)).start()
        try:
            rig.post({"alertname": "Evil", "rk": f"{SECRET}-rk", "uk": f"{SECRET}-uk"})
            rig.post({"alertname": "Good", "rk": "RKEY-1", "uk": "nope"})
            await sink.wait_for(1)
            await _until(lambda: len(_refusals(caplog)) >= 3)
        finally:
            await rig.stop()
            await sink.stop()
        assert [r.json()["routing_key"] for r in sink.requests] == ["RKEY-1"]

    caplog.set_level(logging.INFO, logger="promethean")
    run(main)
    shown = sorted(r["destination"] for r in _refusals(caplog))
    assert shown == [
        "pagerduty routing_key <secret>",
        "pushover user_key <secret>",
        "pushover user_key <secret>",
    ]
    assert SECRET not in _all_text(caplog)
