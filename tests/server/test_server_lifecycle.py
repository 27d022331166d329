"""/-/healthy, /-/ready, /-/reload and /-/quit exactly as upstream answers them (P3, S2)."""

from __future__ import annotations

import re
import signal
import time
from pathlib import Path

import pytest
from _server_proc_support import ServerProc, running_server

CONFIG = """
global: {scrape_interval: 1h}
scrape_configs:
  - job_name: first
    static_configs: [{targets: ["127.0.0.1:9"]}]
"""

BROKEN = """
scrape_configs:
  - job_name: first
    basic_auth: {username: u, password: RELOAD_MARKER_PW, password_file: /x}
    static_configs: [{targets: ["127.0.0.1:9"]}]
"""


def _metric(server: ServerProc, name: str) -> float:
    text = server.request("GET", "/metrics").text
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    assert match, text
    return float(match.group(1))


@pytest.fixture(scope="module")
def off(tmp_path_factory: pytest.TempPathFactory) -> ServerProc:
    with running_server(tmp_path_factory.mktemp("off"), config=CONFIG) as server:
        yield server


def test_health_and_ready(off: ServerProc) -> None:
    r = off.request("GET", "/-/healthy")
    assert (r.status, r.text) == (200, "Prometheus Server is Healthy.\n")
    assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert off.request("HEAD", "/-/healthy").status == 200
    r = off.request("GET", "/-/ready")
    assert (r.status, r.text) == (200, "Prometheus Server is Ready.\n")
    for method in ("POST", "PUT", "DELETE"):
        r = off.request(method, "/-/healthy")
        assert (r.status, r.text, r.headers["Allow"]) == (
            405,
            "Method Not Allowed\n",
            "GET, HEAD, OPTIONS",
        )


def test_lifecycle_disabled(off: ServerProc) -> None:
    for path in ("/-/reload", "/-/quit"):
        r = off.request("GET", path)
        assert (r.status, r.text) == (405, "Only POST or PUT requests allowed")
        assert "Allow" not in r.headers
        for method in ("POST", "PUT"):
            r = off.request(method, path)
            assert (r.status, r.text) == (403, "Lifecycle API is not enabled.")
            assert r.headers["Content-Type"] == "text/plain; charset=utf-8"
        r = off.request("DELETE", path)
        assert (r.status, r.text, r.headers["Allow"]) == (
            405,
            "Method Not Allowed\n",
            "GET, OPTIONS, POST, PUT",
        )
        r = off.request("OPTIONS", path)
        assert (r.status, r.body, r.headers["Allow"]) == (200, b"", "GET, OPTIONS, POST, PUT")
    assert "action=quit outcome=refused" in off.log()


def test_sighup_reloads_without_the_flag(tmp_path: Path) -> None:
    with running_server(tmp_path, config=CONFIG) as server:
        (tmp_path / "prometheus.yml").write_text(CONFIG.replace("first", "second"))
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "job_name: second" not in server.request("GET", "/api/v1/status/config").text:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)


def test_reload_keeps_old_config_on_error_then_recovers(tmp_path: Path) -> None:
    with running_server(tmp_path, "--web.enable-lifecycle", config=CONFIG) as server:
        assert _metric(server, "prometheus_config_last_reload_successful") == 1
        (tmp_path / "prometheus.yml").write_text(BROKEN)
        r = server.request("POST", "/-/reload")
        assert r.status == 500
        assert r.text.startswith(
            "failed to reload config: couldn't load configuration "
            '(--config.file="prometheus.yml"): '
        )
        assert "at most one of basic_auth password & password_file" in r.text
        assert r.text.endswith("\n")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "RELOAD_MARKER_PW" not in r.text
        assert _metric(server, "prometheus_config_last_reload_successful") == 0
        assert "job_name: first" in server.request("GET", "/api/v1/status/config").text
        assert 'msg="Error reloading config"' in server.log()
        (tmp_path / "prometheus.yml").write_text(CONFIG.replace("first", "third"))
        r = server.request("PUT", "/-/reload")
        assert (r.status, r.body) == (200, b"")
        assert _metric(server, "prometheus_config_last_reload_successful") == 1
        assert "job_name: third" in server.request("GET", "/api/v1/status/config").text
        assert "RELOAD_MARKER_PW" not in server.log()
        assert "action=reload outcome=ok method=PUT path=/-/reload remote=127.0.0.1" in server.log()


def test_quit_stops_the_process(tmp_path: Path) -> None:
    with running_server(tmp_path, "--web.enable-lifecycle", config=CONFIG) as server:
        r = server.request("POST", "/-/quit")
        assert (r.status, r.text) == (200, "Requesting termination... Goodbye!")
        assert server.proc.wait(timeout=15) == 0
        assert "action=quit outcome=ok" in server.log()
