"""The real ``promethean alertmanager`` process: notifications reach a webhook sink, and a
SIGKILL between notifications does not make the restarted process notify again.

Until ``main.serve`` calls ``dispatch.attach`` itself, the process is started through a
two-line launcher that wires the dispatcher the same way (at ``load_state``, inside the
running loop); once main wires it, the launcher changes nothing.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.received.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def sink() -> Iterator[Any]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.received = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


class _Process:
    def __init__(self, workdir: Path, config: Path, storage: Path) -> None:
        self.port = _free_port()
        self.log = workdir / f"am-{self.port}.log"
        env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "promethean.cli",
                "alertmanager",
                f"--config.file={config}",
                f"--storage.path={storage}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.log, "ab"),  # noqa: SIM115 - the child owns it
            env=env,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode}: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise AssertionError("not ready: " + self.log.read_text()) from None
                time.sleep(0.05)

    def post(self, alerts: list[dict[str, Any]]) -> None:
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 200

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


def _wait(pred: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def test_sigkill_between_notifications_does_not_resend(tmp_path: Path, sink: Any) -> None:
    config = tmp_path / "am.yml"
    config.write_text(
        f"""
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 300ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: 'http://127.0.0.1:{sink.server_address[1]}/hook'
"""
    )
    storage = tmp_path / "data"
    first = _Process(tmp_path, config, storage)
    try:
        first.post([{"labels": {"alertname": "Crash", "instance": "a"}}])
        _wait(lambda: len(sink.received) == 1)
    finally:
        first.kill()
    assert sink.received[0]["groupKey"] == '{}:{alertname="Crash"}'

    second = _Process(tmp_path, config, storage)
    try:
        second.post([{"labels": {"alertname": "Crash", "instance": "a"}}])  # Prometheus re-sends
        time.sleep(1.0)  # group_wait and three ticks: each one's dedup finds the durable entry
        assert len(sink.received) == 1
        second.post([{"labels": {"alertname": "Crash", "instance": "b"}}])
        _wait(lambda: len(sink.received) == 2)
        instances = [a["labels"]["instance"] for a in sink.received[1]["alerts"]]
        assert instances == ["a", "b"]
    finally:
        second.kill()
