"""K1: a unique marker in every secret field the config schema has; none may ever be shown.

The list of secret fields is not written by hand: it is found by walking the
pydantic models of ``prometheus.yml`` for ``Secret``-typed fields, so a field
added later (a new discovery mechanism, a new auth method) is planted and
swept without touching this test. URL passwords (remote write/read URLs,
proxy URLs) are planted too. The real server then runs with that config;
every API endpoint, ``/metrics`` and ``/federate`` are read, a reload with a
broken config that also holds secrets is sent (over HTTP and SIGHUP), and a
start with a broken config is tried: no response, no error and no log line
may contain any marker.
"""

from __future__ import annotations

import json
import signal
import time
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from _server_proc_support import run_to_exit, running_server
from pydantic import BaseModel

from promethean.config import Secret
from promethean.server.config import PrometheusConfig, parse_prometheus_config

Path_ = tuple[str, ...]


def _leaves(tp: Any) -> Iterator[tuple[str, Any]]:
    """(container prefix, leaf type) of an annotation: ``list:``/``dict:`` per level."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        yield from _leaves(typing.get_args(tp)[0])
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                yield from _leaves(arg)
    elif origin in (list, tuple):
        for arg in typing.get_args(tp):
            if arg is not Ellipsis:
                for prefix, leaf in _leaves(arg):
                    yield "list:" + prefix, leaf
    elif origin is dict:
        for prefix, leaf in _leaves(typing.get_args(tp)[1]):
            yield "dict:" + prefix, leaf
    elif tp is Secret or (isinstance(tp, type) and issubclass(tp, BaseModel)):
        yield "", tp


def secret_paths(model: type[BaseModel], seen: tuple[type, ...] = ()) -> Iterator[Path_]:
    """Every path to a Secret field, e.g. ``("list:remote_write", "sigv4", "secret_key")``."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        for prefix, leaf in _leaves(field.annotation):
            if leaf is Secret:
                yield (prefix + key,)
            elif leaf not in seen:
                for rest in secret_paths(leaf, (*seen, leaf)):
                    yield (prefix + key, *rest)


# Fields a block needs besides the planted secret to be valid.
_COMPANIONS: dict[str, dict[str, Any]] = {
    "basic_auth": {"username": "sweepuser"},
    "oauth2": {"client_id": "sweepclient", "token_url": "http://127.0.0.1:9/token"},
    "sigv4": {"region": "eu-west-1", "access_key": "AKIDSWEEP"},
}
_TLS_CERT = {"cert": "-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n"}


def _leaf_value(prefixes: list[str], marker: str) -> Any:
    value: Any = marker
    for kind in reversed(prefixes):
        value = [value] if kind == "list" else {"X-Sweep-Header": value}
    return value


def _plant(node: dict[str, Any], path: Path_, marker: str) -> None:
    head, *rest = path
    *prefixes, key = head.split(":")
    if not rest:
        node[key] = _leaf_value(prefixes, marker)
        if key == "proxy_connect_header":
            node["proxy_url"] = "http://127.0.0.1:9"
        return
    child: dict[str, Any] = {}
    if key in _COMPANIONS:
        child.update(_COMPANIONS[key])
    if key == "oauth2":
        child["client_secret"] = marker + "_OAUTH"
    if key == "tls_config":
        child.update(_TLS_CERT)
    if key == "http_headers":
        node[key] = {"X-Sweep-Header": {"secrets": [marker]}}
        return
    if prefixes == ["list"]:
        child.update(_ENTRY.get(key, {}))
        node.setdefault(key, []).append(child)
    else:
        node[key] = child
    _plant(child, tuple(rest), marker)


_ENTRY: dict[str, dict[str, Any]] = {
    "http_sd_configs": {"url": "http://127.0.0.1:9/sd"},
}


def planted_config() -> tuple[dict[str, Any], list[str]]:
    """One list entry per secret path, each with its own marker; the markers."""
    doc: dict[str, Any] = {"global": {"scrape_interval": "1s"}}
    markers: list[str] = []
    for i, path in enumerate(secret_paths(PrometheusConfig)):
        marker = f"SWEEPMARK{i:03d}X"
        markers.append(marker)
        markers.append(marker + "_OAUTH")
        top, *rest = path
        kind, _, section = top.partition(":")
        if section == "scrape_configs":
            entry: dict[str, Any] = {
                "job_name": f"job{i}",
                "static_configs": [{"targets": ["127.0.0.1:9"]}],
            }
        elif section in ("remote_write", "remote_read"):
            entry = {"url": f"http://127.0.0.1:9/{section}", "name": f"{section}{i}"}
        else:
            entry = {}
        if kind == "list":
            _plant(entry, tuple(rest), marker)
            doc.setdefault(section, []).append(entry)
        else:  # alerting: a mapping holding the list
            doc.setdefault(top, {})
            _plant(doc[top], tuple(rest), marker)
    url_marker = "SWEEPURLPASSWORD"
    markers.append(url_marker)
    doc.setdefault("remote_write", []).append(
        {"url": f"http://rwuser:{url_marker}@127.0.0.1:9/write", "name": "rw-url"}
    )
    proxy_marker = "SWEEPPROXYPASSWORD"
    markers.append(proxy_marker)
    doc["scrape_configs"].append(
        {
            "job_name": "proxied",
            "proxy_url": f"http://proxyuser:{proxy_marker}@127.0.0.1:9",
            "static_configs": [{"targets": ["127.0.0.1:9"]}],
        }
    )
    return doc, markers


def test_walk_finds_the_known_secret_fields() -> None:
    paths = set(secret_paths(PrometheusConfig))
    for expected in [
        ("list:scrape_configs", "basic_auth", "password"),
        ("list:scrape_configs", "list:http_sd_configs", "authorization", "credentials"),
        ("alerting", "list:alertmanagers", "oauth2", "client_secret"),
        ("list:remote_write", "sigv4", "secret_key"),
        ("list:remote_read", "tls_config", "key"),
    ]:
        assert expected in paths


def test_planted_config_is_valid_and_renders_masked() -> None:
    doc, markers = planted_config()
    cfg = parse_prometheus_config(yaml.safe_dump(doc))
    rendered = yaml.safe_dump(cfg.model_dump(mode="json", by_alias=True))
    from promethean.server.config import render_prometheus_config

    shown = render_prometheus_config(cfg)
    for marker in markers:
        assert marker not in shown
        assert marker not in rendered
    assert "<secret>" in shown
    assert "http://rwuser:xxxxx@127.0.0.1:9/write" in shown


API_GETS = [
    ("/api/v1/query", {"query": "up"}),
    ("/api/v1/query_range", {"query": "up", "start": "0", "end": "60", "step": "15"}),
    ("/api/v1/query_exemplars", {"query": "up", "start": "0", "end": "60"}),
    ("/api/v1/format_query", {"query": "up"}),
    ("/api/v1/parse_query", {"query": "up"}),
    ("/api/v1/series", {"match[]": "up"}),
    ("/api/v1/labels", {}),
    ("/api/v1/label/job/values", {}),
    ("/api/v1/metadata", {}),
    ("/api/v1/targets", {}),
    ("/api/v1/targets", {"state": "dropped"}),
    ("/api/v1/targets/metadata", {"match_target": '{job=~".+"}'}),
    ("/api/v1/rules", {}),
    ("/api/v1/alerts", {}),
    ("/api/v1/alertmanagers", {}),
    ("/api/v1/status/config", {}),
    ("/api/v1/status/flags", {}),
    ("/api/v1/status/runtimeinfo", {}),
    ("/api/v1/status/buildinfo", {}),
    ("/api/v1/status/tsdb", {}),
    ("/api/v1/status/walreplay", {}),
    ("/federate", {"match[]": '{job=~".+"}'}),
    ("/metrics", {}),
    ("/-/healthy", {}),
    ("/-/ready", {}),
]


def _broken(doc: dict[str, Any], marker: str) -> str:
    """A config that fails to load and holds secrets, some where the error points."""
    bad = json.loads(json.dumps(doc))
    bad["scrape_configs"][0]["basic_auth"] = {
        "username": "u",
        "password": marker,
        "password_file": "/nonexistent",
    }
    bad["remote_write"][0]["basic_auth"] = {"username": "u", "password": [marker + "_SEQ"]}
    return yaml.safe_dump(bad)


def test_no_marker_in_any_response_or_log_line(tmp_path: Path) -> None:
    doc, markers = planted_config()
    config_text = yaml.safe_dump(doc)
    bodies: list[str] = []
    with running_server(
        tmp_path, "--web.enable-lifecycle", "--log.level=debug", config=config_text
    ) as server:
        # Let scrapes, token requests and discovery fail (and log) a few times.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            targets = json.loads(server.request("GET", "/api/v1/targets").body)
            active = targets["data"]["activeTargets"]
            if active and all(t["lastError"] for t in active):
                break
            time.sleep(0.2)
        for path, params in API_GETS:
            for method in ("GET", "POST"):
                if method == "POST" and not path.startswith("/api/"):
                    continue
                r = server.request(method, path, params=params)
                bodies.append(f"{method} {path} {r.status} {r.headers} {r.text}")
        broken_marker = "SWEEPBROKENRELOAD"
        markers += [broken_marker, broken_marker + "_SEQ"]
        (tmp_path / "prometheus.yml").write_text(_broken(doc, broken_marker))
        r = server.request("POST", "/-/reload")
        assert r.status == 500
        bodies.append(r.text)
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while server.log().count("Error reloading config") < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.05)
        bodies.append(server.request("GET", "/api/v1/status/config").text)
        log = server.log()
    code, startup_log = run_to_exit(
        tmp_path, ["--config.file=prometheus.yml", "--web.listen-address=127.0.0.1:0"]
    )
    assert code == 2
    assert "Error loading config" in startup_log
    everything = "\n".join([*bodies, log, startup_log])
    leaked = sorted({m for m in markers if m in everything})
    assert leaked == [], leaked
    assert "\\u003csecret\\u003e" in everything  # status/config, JSON-escaped as Go does
