"""The Pushgateway behind the foundation's HTTP layer: TLS, bcrypt basic auth, limits.

Runs the real ``promethean pushgateway`` process with a web config file whose
certificate comes from a CA made in the test (trustme), and pushes with
prometheus_client's basic_auth_handler over HTTPS.
"""

from __future__ import annotations

import base64
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
import trustme
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.exposition import basic_auth_handler, push_to_gateway

PASSWORD = "push-pass-6c1f"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def tls_gateway(tmp_path: Path) -> Iterator[tuple[str, trustme.CA, Path]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "server.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.pem\n"
        f"basic_auth_users:\n  pusher: '{hashed}'\n"
    )
    port = _free_port()
    log = tmp_path / "gw.log"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "promethean.cli",
            "pushgateway",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.config.file={tmp_path / 'web.yml'}",
            "--push.max-body-size=2000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=open(log, "wb"),  # noqa: SIM115
    )
    url = f"https://127.0.0.1:{port}"
    ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            urllib.request.urlopen(url + "/-/healthy", timeout=1, context=ctx)
        except urllib.error.HTTPError as err:
            if err.code == 401:
                break
        except OSError:
            time.sleep(0.05)
    try:
        yield url, ca, tmp_path
    finally:
        proc.kill()
        proc.wait(10)


def test_push_over_tls_with_basic_auth(
    tls_gateway: tuple[str, trustme.CA, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, _ca, tmp = tls_gateway
    # prometheus_client uses urllib's default context: point it at the test CA.
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp / "ca.pem"))
    reg = CollectorRegistry()
    Gauge("tls_pushed", "Pushed over TLS.", registry=reg).set(7)

    def handler(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ):  # type: ignore[no-untyped-def]
        return basic_auth_handler(url, method, timeout, headers, data, "pusher", PASSWORD)

    push_to_gateway(url, job="secure", registry=reg, handler=handler)

    def wrong(
        url: str, method: str, timeout: float | None, headers: list[tuple[str, str]], data: bytes
    ):  # type: ignore[no-untyped-def]
        return basic_auth_handler(url, method, timeout, headers, data, "pusher", "nope")

    with pytest.raises(urllib.error.HTTPError) as info:
        push_to_gateway(url, job="intruder", registry=reg, handler=wrong)
    assert info.value.code == 401

    ctx = ssl.create_default_context(cafile=str(tmp / "ca.pem"))
    req = urllib.request.Request(url + "/metrics")
    req.add_header(
        "Authorization", "Basic " + base64.b64encode(f"pusher:{PASSWORD}".encode()).decode()
    )
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        text = resp.read().decode()
    assert 'tls_pushed{instance="",job="secure"} 7\n' in text
    assert "intruder" not in text

    big = urllib.request.Request(url + "/metrics/job/big", data=b"x 1\n" * 1000, method="PUT")
    big.add_header("Authorization", req.get_header("Authorization"))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(big, context=ctx, timeout=10)
    assert info.value.code == 413


def test_invalid_web_config_exits_1(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text("basic_auth_users:\n  john: doe\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "promethean.cli",
            "pushgateway",
            "--web.listen-address=127.0.0.1:0",
            f"--web.config.file={tmp_path / 'web.yml'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "Unable to validate web configuration file" in proc.stderr
    assert "basic_auth_users" in proc.stderr
    assert "Traceback" not in proc.stderr
