"""`promethean stack`: the server scrapes itself and the Pushgateway, and the Alertmanager
runs beside them on the address the server's alerting section names."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from _server_proc_support import ROOT, free_port, http


def test_stack_wires_server_and_pushgateway(tmp_path: Path) -> None:
    server_port, gateway_port, am_port = free_port(), free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    log = (tmp_path / "stack.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promethean.cli",
            "stack",
            f"--server.port={server_port}",
            f"--pushgateway.port={gateway_port}",
            f"--alertmanager.port={am_port}",
            "--storage.tsdb.path=data",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=log,
        env=env,
    )
    url = f"http://127.0.0.1:{server_port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if http("GET", url + "/-/ready").status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, (tmp_path / "stack.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert http("GET", f"http://127.0.0.1:{gateway_port}/-/healthy").status == 200
        targets = json.loads(http("GET", url + "/api/v1/targets").body)["data"]["activeTargets"]
        assert sorted((t["scrapePool"], t["labels"]["instance"]) for t in targets) == [
            ("prometheus", f"127.0.0.1:{server_port}"),
            ("pushgateway", f"127.0.0.1:{gateway_port}"),
        ]
        yaml_text = json.loads(http("GET", url + "/api/v1/status/config").body)["data"]["yaml"]
        assert "honor_labels: true" in yaml_text
        assert f"127.0.0.1:{am_port}" in yaml_text
        am = f"http://127.0.0.1:{am_port}"
        assert http("GET", am + "/-/healthy").status == 200
        status = json.loads(http("GET", am + "/api/v2/status").body)
        assert status["cluster"]["status"] == "disabled"
        assert (tmp_path / "alertmanager" / "alertmanager.yml").exists()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        out = proc.stdout.read().decode() if proc.stdout else ""
        assert f"Prometheus server at {url}/" in out
        assert "query=up" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
