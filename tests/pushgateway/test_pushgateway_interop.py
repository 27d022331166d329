"""Interop with real clients and servers.

* prometheus_client's push_to_gateway / pushadd_to_gateway / delete_from_gateway.
* The real Go Prometheus 2.42 (Debian package) scraping promethean's
  Pushgateway with honor_labels stores the same series as when it scrapes the
  Go Pushgateway 1.5.1 (Debian package) given the same pushes.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import (
    delete_from_gateway,
    push_to_gateway,
    pushadd_to_gateway,
)

from tests.pushgateway.conftest import Gateway, start_gateway


def _metrics(url: str) -> str:
    with urllib.request.urlopen(url + "/metrics", timeout=10) as resp:
        return str(resp.read().decode())


def test_prometheus_client_push_pushadd_delete(gateway: Gateway) -> None:
    host = gateway.url.removeprefix("http://")
    key = {"instance": "box1", "path": "/a/b"}
    reg = CollectorRegistry()
    Gauge("py_last_success", "Last success.", registry=reg).set(1.5)
    Counter("py_runs", "Runs.", registry=reg).inc(3)
    push_to_gateway(host, job="pyjob", registry=reg, grouping_key=key)
    text = _metrics(gateway.url)
    assert 'py_last_success{instance="box1",job="pyjob",path="/a/b"} 1.5\n' in text
    assert 'py_runs_total{instance="box1",job="pyjob",path="/a/b"} 3\n' in text

    other = CollectorRegistry()
    Gauge("py_other", "Other.", registry=other).set(2)
    pushadd_to_gateway(host, job="pyjob", registry=other, grouping_key=key)
    text = _metrics(gateway.url)
    assert "py_other{" in text and "py_last_success{" in text

    only = CollectorRegistry()
    Gauge("py_only", "Only.", registry=only).set(4)
    push_to_gateway(host, job="pyjob", registry=only, grouping_key=key)
    text = _metrics(gateway.url)
    assert "py_only{" in text and "py_other{" not in text

    delete_from_gateway(host, job="pyjob", grouping_key=key)
    assert "pyjob" not in _metrics(gateway.url)


def test_job_with_slash_uses_base64(gateway: Gateway) -> None:
    reg = CollectorRegistry()
    Gauge("slash_metric", "x", registry=reg).set(1)
    pushadd_to_gateway(gateway.url.removeprefix("http://"), job="py/job", registry=reg)
    assert 'slash_metric{instance="",job="py/job"} 1\n' in _metrics(gateway.url)


def _need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{binary} is required in CI (Debian package)")
        pytest.skip(f"{binary} not installed (apt-get install {binary}); interop test skipped")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture
def go_pushgateway(tmp_path: Path) -> Iterator[str]:
    binary = _need("prometheus-pushgateway")
    port = _free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--web.listen-address=127.0.0.1:{port}",
            f"--persistence.file={tmp_path / 'go-pg.data'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/-/ready")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait(10)


PUSHES = [
    (
        "PUT",
        "/metrics/job/j1/instance/i1",
        b"# TYPE some_metric counter\n# HELP some_metric Example.\n"
        b'some_metric{label="val1"} 42\nanother_metric 2398.283\n',
    ),
    ("PUT", "/metrics/job/j2", b'noinst_metric{job="other",foo="bar"} 5\n'),
    (
        "PUT",
        "/metrics/job@base64/YS9i/path@base64/L3Zhci90bXA",
        b'# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n',
    ),
    ("POST", "/metrics/job/j1/instance/i1", b'some_metric{label="val2"} 7\n'),
]


def _push_all(base: str) -> None:
    for method, path, body in PUSHES:
        r = urllib.request.Request(base + path, data=body, method=method)
        with urllib.request.urlopen(r, timeout=10) as resp:
            assert resp.status == 200


def test_go_prometheus_sees_the_same_series(tmp_path: Path, go_pushgateway: str) -> None:
    _need("prometheus")
    ours, stop = start_gateway()
    try:
        _push_all(go_pushgateway)
        _push_all(ours.url)
        # Each target carries a label `source` so the two scrapes can be told apart.
        result = _scrape_with_relabel(tmp_path, {"go": go_pushgateway, "ours": ours.url})
    finally:
        stop()
    assert result["go"] == result["ours"]
    assert len(result["ours"]) == 7  # some_metric{val1} was replaced before the first scrape


def _scrape_with_relabel(tmp_path: Path, targets: dict[str, str]) -> dict[str, set[str]]:
    binary = _need("prometheus")
    port = _free_port()
    jobs = "\n".join(
        f"  - job_name: scrape_{name}\n    honor_labels: true\n    scrape_interval: 1s\n"
        f"    static_configs: [{{targets: ['{urllib.parse.urlparse(url).netloc}'],"
        f" labels: {{source: {name}}}}}]"
        for name, url in targets.items()
    )
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(f"scrape_configs:\n{jobs}\n")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_http(base + "/-/ready")
        out: dict[str, set[str]] = {}
        deadline = time.monotonic() + 30
        q = urllib.parse.quote('{__name__=~"some_metric|another_metric|noinst_metric|h_.*"}')
        while time.monotonic() < deadline:
            with urllib.request.urlopen(f"{base}/api/v1/series?match[]={q}", timeout=5) as resp:
                series = json.loads(resp.read())["data"]
            out = {name: set() for name in targets}
            for s in series:
                out[s.pop("source")].add(json.dumps(s, sort_keys=True))
            if all(len(v) >= 7 for v in out.values()):
                time.sleep(1.5)  # one more scrape round so nothing is half-seen
                with urllib.request.urlopen(f"{base}/api/v1/series?match[]={q}", timeout=5) as resp:
                    series = json.loads(resp.read())["data"]
                out = {name: set() for name in targets}
                for s in series:
                    out[s.pop("source")].add(json.dumps(s, sort_keys=True))
                return out
            time.sleep(0.5)
        return out
    finally:
        proc.kill()
        proc.wait(10)
