"""Durability: SIGKILL loses no acknowledged silence change and no notification-log entry.

Upstream loses a silence created within its 15-minute maintenance interval
when killed; promethean fsyncs each change before answering.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

# The harness sits beside the tests (this folder is on sys.path); the package form is
# the fallback should the folder become a package.
try:
    from am_harness import AM, free_port
except ImportError:
    from tests.alertmanager.am_harness import AM, free_port  # type: ignore[no-redef]

CONFIG = "route: {receiver: r}\nreceivers: [{name: r}]\n"


def iso(delta: float) -> str:
    t = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=delta)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def body(i: int) -> dict[str, object]:
    return {
        "matchers": [{"name": "n", "value": str(i), "isRegex": False, "isEqual": True}],
        "startsAt": iso(-1),
        "endsAt": iso(3600),
        "createdBy": "crash-test",
        "comment": f"silence {i}",
    }


def test_sigkill_loses_no_acknowledged_silence(tmp_path: Path) -> None:
    am = AM(tmp_path, CONFIG).start()
    # Acknowledged before any writer runs: an update in place and an expiry.
    first = am.post("/api/v2/silences", body(-1)).json()["silenceID"]
    got = am.get(f"/api/v2/silence/{first}").json()
    upd = dict(body(-1), id=first, startsAt=got["startsAt"], comment="updated")
    assert am.post("/api/v2/silences", upd).json()["silenceID"] == first
    gone = am.post("/api/v2/silences", body(-2)).json()["silenceID"]
    assert am.request("DELETE", f"/api/v2/silence/{gone}").status == 200

    acked: dict[str, str] = {}
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 2000:
            try:
                resp = am.post("/api/v2/silences", body(i))
            except OSError:
                return  # the process died mid-request: not acknowledged
            if resp.status == 200:
                acked[resp.json()["silenceID"]] = str(i)
            i += 1

    threads = [threading.Thread(target=writer) for _ in range(3)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(acked) < 30 and time.monotonic() < deadline:
        time.sleep(0.01)
    am.kill()  # SIGKILL while writers are still sending
    stop.set()
    for t in threads:
        t.join(10)
    assert len(acked) >= 30

    again = AM(tmp_path, CONFIG, storage=am.storage).start()
    try:
        stored = {s["id"]: s for s in again.get("/api/v2/silences").json()}
        missing = [sid for sid in acked if sid not in stored]
        assert missing == []
        for sid, i in acked.items():
            assert stored[sid]["matchers"][0]["value"] == i
        assert stored[first]["comment"] == "updated"
        assert stored[gone]["status"]["state"] == "expired"
    finally:
        again.stop()
    # A clean shutdown compacts into one snapshot plus an empty log.
    assert (am.storage / "silences.snap").exists()
    assert len(list(am.storage.glob("silences.wal.*"))) == 1


NFLOG_WRITER = r"""
import sys
from promethean.alertmanager.nflog import NotificationLog, Receiver
from promethean.alertmanager.store import DurableLog

nf = NotificationLog(DurableLog(sys.argv[1], "nflog"))
nf.load()
i = 0
while True:
    nf.log_blocking(Receiver("r", "webhook", 0), f"{{}}:{{g=\"{i}\"}}", [i], [])
    print(i, flush=True)
    i += 1
"""


def test_sigkill_loses_no_recorded_notification(tmp_path: Path) -> None:
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.Popen(
        [sys.executable, "-c", NFLOG_WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        env={"PYTHONPATH": str(src)},
    )
    assert proc.stdout is not None
    acked = []
    for line in proc.stdout:
        acked.append(int(line))
        if len(acked) >= 200:
            break
    proc.kill()
    proc.wait(10)
    from promethean.alertmanager.nflog import NotificationLog, Receiver
    from promethean.alertmanager.store import DurableLog

    nf = NotificationLog(DurableLog(tmp_path, "nflog"))
    assert nf.load() >= len(acked)
    for i in acked:
        entry = nf.query(f'{{}}:{{g="{i}"}}', Receiver("r", "webhook", 0))
        assert entry is not None and entry.firing_alerts == {i}
    nf.close()


def test_silences_carry_over_from_the_go_alertmanager(tmp_path: Path) -> None:
    go = shutil.which("prometheus-alertmanager")
    if go is None:
        if os.environ.get("CI") == "true":
            raise AssertionError("prometheus-alertmanager (Debian package) is required in CI")
        pytest.skip("prometheus-alertmanager is not installed (Debian package)")
    (tmp_path / "am.yml").write_text(CONFIG)
    data = tmp_path / "data"
    port = free_port()
    proc = subprocess.Popen(
        [
            go,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        goam = AM(tmp_path, CONFIG)
        goam.port = port
        deadline = time.monotonic() + 20
        while True:
            try:
                if goam.get("/-/ready").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline
            time.sleep(0.05)
        matchers = [
            {"name": "alertname", "value": "A|B", "isRegex": True, "isEqual": True},
            {"name": "team", "value": "x", "isRegex": False, "isEqual": False},
        ]
        goam.post("/api/v2/silences", dict(body(1), matchers=matchers))
        goam.post(
            "/api/v2/silences",
            dict(body(2), startsAt="2099-01-01T00:00:00Z", endsAt="2099-01-02T00:00:00Z"),
        )
        expired = goam.post("/api/v2/silences", body(3)).json()["silenceID"]
        goam.request("DELETE", f"/api/v2/silence/{expired}")
        before = sorted(goam.get("/api/v2/silences").json(), key=lambda s: s["id"])
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert (data / "silences").exists()
    ours = AM(tmp_path, CONFIG, storage=data).start()
    try:
        after = sorted(ours.get("/api/v2/silences").json(), key=lambda s: s["id"])
        assert after == before
        assert "imported silences from the Go Alertmanager's snapshot" in ours.log()
    finally:
        ours.stop()
