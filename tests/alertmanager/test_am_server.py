"""The alertmanager command: flags, SIGHUP reload, TLS + basic auth with audit users, W1 guard."""

from __future__ import annotations

import base64
import datetime as dt
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import bcrypt
import pytest
import trustme

# The harness sits beside the tests (this folder is on sys.path); the package form is
# the fallback should the folder become a package.
try:
    from am_harness import AM, ROOT, amtool_or_skip
except ImportError:
    from tests.alertmanager.am_harness import AM, ROOT, amtool_or_skip  # type: ignore[no-redef]

CONFIG = "route: {receiver: r}\nreceivers: [{name: r}]\n"


def start_fails(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "am.yml").write_text(CONFIG)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "promethean.cli",
            "alertmanager",
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            "--web.listen-address=127.0.0.1:0",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": str(ROOT / "src")},
    )


def test_cluster_flags_refused(tmp_path: Path) -> None:
    done = start_fails(tmp_path, "--cluster.listen-address=0.0.0.0:9094")
    assert done.returncode == 1
    assert "clustering is not supported" in done.stderr
    assert 'use --cluster.listen-address=""' in done.stderr
    done = start_fails(tmp_path, "--cluster.peer=other:9094")
    assert done.returncode == 1
    assert "--cluster.peer: clustering is not supported" in done.stderr


def test_bad_config_at_start_exits_1(tmp_path: Path) -> None:
    (tmp_path / "am.yml").write_text("route: {receiver: nope}\nreceivers: [{name: r}]\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "promethean.cli",
            "alertmanager",
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            "--web.listen-address=127.0.0.1:0",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PYTHONPATH": str(ROOT / "src")},
    )
    assert done.returncode == 1
    assert 'msg="Loading configuration file failed"' in done.stderr
    assert 'undefined receiver \\"nope\\" used in route' in done.stderr


def test_sighup_reloads_and_keeps_old_config_on_error(tmp_path: Path) -> None:
    am = AM(tmp_path, CONFIG).start()
    try:
        assert am.proc is not None
        am.config_path.write_text("route: {receiver: s}\nreceivers: [{name: s}]\n")
        am.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while am.get("/api/v2/receivers").json() != [{"name": "s"}]:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        am.config_path.write_text("route: [broken\n")
        am.proc.send_signal(signal.SIGHUP)
        while "Loading configuration file failed" not in am.log():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert am.get("/api/v2/receivers").json() == [{"name": "s"}]
        assert am.get("/-/ready").status == 200
    finally:
        am.stop()


def test_tls_basic_auth_audit_user_and_amtool(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    hashed = bcrypt.hashpw(b"hunter2", bcrypt.gensalt(4)).decode()
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n"
        f"  cert_file: {tmp_path / 'server.pem'}\n"
        f"  key_file: {tmp_path / 'server.pem'}\n"
        f"basic_auth_users:\n  admin: '{hashed}'\n"
    )
    am = AM(tmp_path, CONFIG, f"--web.config.file={tmp_path / 'web.yml'}")
    am.start(wait=False)
    try:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        url = f"https://127.0.0.1:{am.port}"
        auth = "Basic " + base64.b64encode(b"admin:hunter2").decode()
        req = urllib.request.Request(url + "/-/ready", headers={"Authorization": auth})
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=5) as resp:
                    assert resp.status == 200
                    break
            except (urllib.error.URLError, OSError):
                assert time.monotonic() < deadline, am.log()
                time.sleep(0.05)
        unauth = urllib.request.Request(url + "/api/v2/alerts", method="GET")
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(unauth, context=ctx, timeout=5)
        assert err.value.code == 401
        body = b'[{"labels":{"alertname":"ByAdmin"}}]'
        post = urllib.request.Request(
            url + "/api/v2/alerts",
            data=body,
            method="POST",
            headers={"Authorization": auth, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(post, context=ctx, timeout=5) as resp:
            assert resp.status == 200
        audit = [line for line in am.log().splitlines() if 'msg="alerts posted"' in line]
        assert audit and "user=admin" in audit[-1]
        assert "hunter2" not in am.log()
        amtool = amtool_or_skip()
        (tmp_path / "http.yml").write_text(
            f"basic_auth: {{username: admin, password: hunter2}}\n"
            f"tls_config: {{ca_file: {tmp_path / 'ca.pem'}}}\n"
        )
        until = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        done = subprocess.run(
            [
                amtool,
                f"--alertmanager.url={url}",
                f"--http.config.file={tmp_path / 'http.yml'}",
                "silence",
                "add",
                "alertname=ByAdmin",
                "--comment=tls",
                f"--end={until}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        created = [line for line in am.log().splitlines() if 'msg="silence created"' in line]
        assert created and "user=admin" in created[-1]
    finally:
        am.stop()


def test_reject_cross_site_guard(tmp_path: Path) -> None:
    am = AM(tmp_path, CONFIG, "--web.reject-cross-site").start()
    try:
        body = [{"labels": {"alertname": "X"}}]
        evil = am.request(
            "POST",
            "/api/v2/alerts",
            body,
            headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert evil.status == 403
        assert evil.json() == "cross-site requests may not change alerts or silences"
        same = am.request("POST", "/api/v2/alerts", body, headers={"Origin": am.url})
        assert same.status == 200
        assert am.post("/api/v2/alerts", body).status == 200  # curl: no Origin
    finally:
        am.stop()
    plain = AM(tmp_path, CONFIG).start()
    try:
        evil = plain.request(
            "POST",
            "/api/v2/alerts",
            [{"labels": {"alertname": "X"}}],
            headers={"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert evil.status == 200  # upstream-compatible default
    finally:
        plain.stop()


def test_route_prefix_from_external_url(tmp_path: Path) -> None:
    am = AM(tmp_path, CONFIG, "--web.external-url=http://am.example:9093/am/")
    am.start(wait=False)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if am.get("/am/-/ready").status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, am.log()
            time.sleep(0.05)
        assert am.get("/am/api/v2/receivers").json() == [{"name": "r"}]
        assert am.get("/api/v2/receivers").status == 404
    finally:
        am.stop()
