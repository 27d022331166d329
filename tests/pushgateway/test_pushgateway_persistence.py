"""Persistence: atomic snapshots, SIGKILL, the durable mode, corrupt files.

These run the real ``promethean pushgateway`` process and kill it with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    def __init__(self, data: Path, *flags: str) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stderr = data.parent / f"gw-{self.port}.log"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "promethean.cli",
                "pushgateway",
                f"--web.listen-address=127.0.0.1:{self.port}",
                f"--persistence.file={data}",
                *flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.stderr, "wb"),  # noqa: SIM115
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode}: {self.stderr.read_text()}")
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise AssertionError("gateway did not become ready")

    def put(self, path: str, body: bytes) -> int:
        r = urllib.request.Request(self.url + path, data=body, method="PUT")
        with urllib.request.urlopen(r, timeout=10) as resp:
            return int(resp.status)

    def groups(self) -> list[dict[str, object]]:
        with urllib.request.urlopen(self.url + "/api/v1/metrics", timeout=10) as resp:
            return list(json.loads(resp.read())["data"])

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


def _jobs(groups: list[dict[str, object]]) -> set[str]:
    return {g["labels"]["job"] for g in groups}  # type: ignore[index]


def test_periodic_snapshot_survives_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "pg.data"
    gw = Proc(data, "--persistence.interval=1s")
    gw.wait_ready()
    try:
        assert gw.put("/metrics/job/persist_a", b"persist_a 1\n") == 200
        deadline = time.monotonic() + 10
        while not data.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert data.exists()
        assert oct(data.stat().st_mode & 0o777) == "0o600"
        first = gw.groups()
    finally:
        gw.kill()
    gw2 = Proc(data)
    gw2.wait_ready()
    try:
        again = gw2.groups()
        assert _jobs(again) == {"persist_a"}
        assert again[0]["push_time_seconds"] == first[0]["push_time_seconds"]
    finally:
        assert gw2.stop() == 0


def test_durable_mode_loses_nothing_acknowledged(tmp_path: Path) -> None:
    data = tmp_path / "pg.data"
    gw = Proc(data, "--persistence.durable", "--persistence.interval=1h")
    gw.wait_ready()
    acked = []
    try:
        for i in range(20):
            assert gw.put(f"/metrics/job/d{i}", f'm{{n="{i}"}} {i}\n'.encode()) == 200
            acked.append(f"d{i}")
    finally:
        gw.kill()  # immediately after the last acknowledgement
    gw2 = Proc(data)
    gw2.wait_ready()
    try:
        assert _jobs(gw2.groups()) == set(acked)
    finally:
        assert gw2.stop() == 0


def test_torn_log_tail_is_dropped(tmp_path: Path) -> None:
    data = tmp_path / "pg.data"
    gw = Proc(data, "--persistence.durable")
    gw.wait_ready()
    gw.put("/metrics/job/keep", b"k 1\n")
    gw.kill()
    with open(str(data) + ".log", "ab") as f:
        f.write(b'{"op":"put","group":{"key":[["job","torn"]')
    gw2 = Proc(data, "--persistence.durable")
    gw2.wait_ready()
    try:
        assert _jobs(gw2.groups()) == {"keep"}
    finally:
        gw2.stop()
    assert "dropping a torn record" in gw2.stderr.read_text()


def test_shutdown_writes_snapshot(tmp_path: Path) -> None:
    data = tmp_path / "pg.data"
    gw = Proc(data, "--persistence.interval=1h")
    gw.wait_ready()
    gw.put("/metrics/job/at_exit", b"x 1\n")
    assert gw.stop() == 0
    gw2 = Proc(data)
    gw2.wait_ready()
    try:
        assert _jobs(gw2.groups()) == {"at_exit"}
    finally:
        gw2.stop()


@pytest.mark.parametrize("content", [b"{not json", b'{"version":1,"groups":[{"key":3}]}', b""])
def test_corrupt_file_refuses_to_start_unless_asked(tmp_path: Path, content: bytes) -> None:
    data = tmp_path / "pg.data"
    data.write_bytes(content)
    gw = Proc(data)
    assert gw.proc.wait(30) == 1
    err = gw.stderr.read_text()
    assert "is corrupt or truncated" in err and str(data) in err
    assert "Traceback" not in err
    gw2 = Proc(data, "--persistence.ignore-corrupt")
    gw2.wait_ready()
    try:
        assert gw2.groups() == []
    finally:
        gw2.stop()


def test_no_partial_snapshot_files_left(tmp_path: Path) -> None:
    data = tmp_path / "pg.data"
    gw = Proc(data, "--persistence.interval=1h")
    gw.wait_ready()
    gw.put("/metrics/job/a", b"x 1\n")
    gw.stop()
    leftovers = [p.name for p in tmp_path.iterdir() if "in_progress" in p.name]
    assert leftovers == []
    assert os.path.getsize(data) > 0


def test_durable_replay_reproduces_puts_posts_and_deletes(tmp_path: Path) -> None:
    data = tmp_path / "pg.data"
    gw = Proc(data, "--persistence.durable", "--persistence.interval=1h")
    gw.wait_ready()
    try:
        gw.put("/metrics/job/a", b'# TYPE x counter\nx{k="1"} 1\ny 2\n')
        r = urllib.request.Request(gw.url + "/metrics/job/a", data=b'x{k="2"} 5\n', method="POST")
        with urllib.request.urlopen(r, timeout=10) as resp:
            assert resp.status == 200
        gw.put("/metrics/job/b", b"z 3\n")
        r = urllib.request.Request(gw.url + "/metrics/job/b", method="DELETE")
        with urllib.request.urlopen(r, timeout=10) as resp:
            assert resp.status == 202
        before = gw.groups()
        with urllib.request.urlopen(gw.url + "/metrics", timeout=10) as resp:
            exposition = [ln for ln in resp.read().decode().splitlines() if ln[:1] in "xyz"]
    finally:
        gw.kill()
    gw2 = Proc(data)
    gw2.wait_ready()
    try:
        assert gw2.groups() == before
        with urllib.request.urlopen(gw2.url + "/metrics", timeout=10) as resp:
            again = [ln for ln in resp.read().decode().splitlines() if ln[:1] in "xyz"]
        assert again == exposition == ['x{instance="",job="a",k="2"} 5', 'y{instance="",job="a"} 2']
    finally:
        gw2.stop()
