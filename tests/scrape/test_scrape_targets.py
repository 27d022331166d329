"""Target labels: from discovered labels to a target, checked against Go Prometheus.

The table in CASES is loaded twice: by :func:`targets_from_group` here and by
the real Prometheus 2.42 (Debian ``/usr/bin/prometheus``) on 127.0.0.1, whose
``/api/v1/targets`` must list exactly the same active targets (labels,
discoveredLabels, scrapeUrl, scrapeInterval, scrapeTimeout) and dropped
targets. Every address carries a port: 2.42 appended ``:80`` to port-less
addresses, 3.x (and we) do not.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from promethean.config import parse_config
from promethean.model.labels import Labels
from promethean.scrape.config import ScrapeSection
from promethean.scrape.discovery import TargetGroup
from promethean.scrape.targets import TargetError, populate_labels, targets_from_group

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

# Ports nobody listens on: the targets are listed, never reached successfully.
A1, A2, A3 = "127.0.0.1:9", "127.0.0.2:9", "127.0.0.3:9"

CASES: list[dict[str, Any]] = [
    {
        "job_name": "plain",
        "scrape_interval": "2s",
        "static_configs": [{"targets": [A1], "labels": {"env": "prod"}}],
    },
    {
        "job_name": "params",
        "scrape_interval": "3s",
        "scrape_timeout": "1500ms",
        "metrics_path": "/probe",
        "params": {"module": ["http_2xx"], "x": ["1", "2"], "empty": [""]},
        "static_configs": [{"targets": [A1, A2]}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"target_label": "__param_x", "replacement": "9"},
            {"target_label": "__address__", "replacement": A3},
        ],
    },
    {
        "job_name": "rewrite",
        "static_configs": [
            {"targets": [A1], "labels": {"__meta_role": "db", "__scheme__": "https"}},
            {"targets": [A2], "labels": {"__meta_role": "web", "__address__": "ignored:1"}},
        ],
        "relabel_configs": [
            {"source_labels": ["__meta_role"], "target_label": "role"},
            {
                "source_labels": ["role"],
                "regex": "web",
                "target_label": "__metrics_path__",
                "replacement": "/web/metrics",
            },
            {
                "source_labels": ["role"],
                "regex": "db",
                "target_label": "__scrape_interval__",
                "replacement": "30s",
            },
            {"target_label": "__tmp_hidden", "replacement": "h"},
            {
                "source_labels": ["__address__"],
                "regex": "(.*):9",
                "target_label": "instance",
                "replacement": "host-$1",
            },
        ],
    },
    {
        "job_name": "dropping",
        "static_configs": [{"targets": [A1, A2, A3], "labels": {"team": "a"}}],
        "relabel_configs": [
            {"source_labels": ["__address__"], "regex": "127.0.0.2:9", "action": "drop"},
            {
                "source_labels": ["__address__"],
                "regex": "127.0.0.3:9",
                "target_label": "job",
                "replacement": "renamed",
            },
        ],
    },
    {
        "job_name": "labelmap",
        "static_configs": [
            {
                "targets": [A1],
                "labels": {"__meta_k8s_label_app": "api", "__meta_k8s_label_tier": "be"},
            }
        ],
        "relabel_configs": [
            {"action": "labelmap", "regex": "__meta_k8s_label_(.+)"},
            {"action": "labeldrop", "regex": "tier"},
        ],
    },
]


def _section() -> ScrapeSection:
    return parse_config(ScrapeSection, yaml.safe_dump({"scrape_configs": CASES}), "cases.yml")


def _ours() -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, list[dict[str, str]]]]:
    active: dict[tuple[str, str], dict[str, Any]] = {}
    dropped: dict[str, list[dict[str, str]]] = {}
    for cfg in _section().scrape_configs:
        for i, sc in enumerate(cfg.static_configs):
            got, gone, errors = targets_from_group(sc.group(str(i)), cfg)
            assert errors == []
            for t in got:
                active[(cfg.job_name, t.scrape_url + "|" + json.dumps(t.labels.as_dict()))] = {
                    "labels": t.labels.as_dict(),
                    "discoveredLabels": t.discovered_labels.as_dict(),
                    "scrapeUrl": t.scrape_url,
                    "scrapeInterval": t.interval_text,
                    "scrapeTimeout": t.timeout_text,
                    "allLabels": t.all_labels.as_dict(),
                }
            dropped.setdefault(cfg.job_name, []).extend(d.as_dict() for d in gone)
    return active, dropped


# --------------------------------------------------------------------------- unit cases


def test_discovered_labels_and_url_as_upstream() -> None:
    cfg = _section().scrape_configs[1]
    got, dropped, errors = targets_from_group(cfg.static_configs[0].group("0"), cfg)
    assert errors == [] and dropped == []
    first = got[0]
    assert first.discovered_labels.as_dict() == {
        "__address__": A1,
        "__metrics_path__": "/probe",
        "__param_module": "http_2xx",
        "__param_x": "1",
        "__scheme__": "http",
        "__scrape_interval__": "3s",
        "__scrape_timeout__": "1s500ms",
        "job": "params",
    }
    assert first.labels.as_dict() == {"instance": A3, "job": "params"}
    # Relabelled __param_x replaces the first configured value; the empty param stays in the URL.
    assert (
        first.scrape_url == f"http://{A3}/probe?empty=&module=http_2xx&target=127.0.0.1%3A9&x=9&x=2"
    )
    assert (first.interval, first.timeout) == (3.0, 1.5)


def test_group_labels_do_not_override_target_labels_and_meta_is_removed() -> None:
    cfg = _section().scrape_configs[2]
    group = TargetGroup(
        "g", [{"__address__": A1, "env": "target"}], {"env": "group", "__meta_x": "m"}
    )
    target, dropped = populate_labels(group.targets[0], cfg, group.labels)
    assert target is not None and dropped is None
    assert target.labels.get("env") == "target"
    assert target.discovered_labels.get("__meta_x") == "m"
    assert not any(k.startswith("__meta_") for k, _ in target.all_labels)
    assert target.all_labels.get("__tmp_hidden") == "h"
    assert not target.labels.has("__tmp_hidden")


@pytest.mark.parametrize(
    ("labels", "relabel", "message"),
    [
        ({}, [], "no address"),
        ({"__address__": "h:1/x"}, [], '"h:1/x" is not a valid hostname'),
        (
            {"__address__": "u:TARGET_PW@h:1"},
            [],
            'address "u:xxxxx@h:1" contains credentials (user:password@); use basic_auth instead',
        ),
        (
            {"__address__": "h:1", "__scrape_interval__": "abc"},
            [],
            'error parsing scrape interval: not a valid duration string: "abc"',
        ),
        ({"__address__": "h:1", "__scrape_interval__": "0s"}, [], "scrape interval cannot be 0"),
        ({"__address__": "h:1", "__scrape_timeout__": "0s"}, [], "scrape timeout cannot be 0"),
        (
            {"__address__": "h:1", "__scrape_timeout__": "2m"},
            [],
            'scrape timeout cannot be greater than scrape interval ("2m" > "1m")',
        ),
        (
            {"__address__": "h:1"},
            [{"action": "labelkeep", "regex": "__address__|job"}],
            "error parsing scrape interval: empty duration string",
        ),
    ],
)
def test_refused_targets(labels: dict[str, str], relabel: list[Any], message: str) -> None:
    cfg = parse_config(
        ScrapeSection,
        yaml.safe_dump({"scrape_configs": [{"job_name": "j", "relabel_configs": relabel}]}),
    ).scrape_configs[0]
    with pytest.raises(TargetError) as err:
        populate_labels(labels, cfg)
    assert str(err.value) == message
    _active, _dropped, errors = targets_from_group(TargetGroup("src", [labels]), cfg)
    assert errors == [f"instance 0 in group src: {message}"]


def test_dropped_target_reports_discovered_labels() -> None:
    cfg = _section().scrape_configs[3]
    active, dropped, _ = targets_from_group(cfg.static_configs[0].group("0"), cfg)
    assert [t.labels.as_dict() for t in active] == [
        {"instance": A1, "job": "dropping", "team": "a"},
        {"instance": A3, "job": "renamed", "team": "a"},
    ]
    assert dropped == [
        Labels.from_dict(
            {
                "__address__": A2,
                "__metrics_path__": "/metrics",
                "__scheme__": "http",
                "__scrape_interval__": "1m",
                "__scrape_timeout__": "10s",
                "job": "dropping",
                "team": "a",
            }
        )
    ]


def test_targets_equal_by_labels_and_url() -> None:
    cfg = _section().scrape_configs[0]
    a, _ = populate_labels({"__address__": A1}, cfg, {"env": "prod"})
    b, _ = populate_labels({"__address__": A1}, cfg, {"env": "prod"})
    c, _ = populate_labels({"__address__": A2}, cfg, {"env": "prod"})
    assert a == b and hash(a) == hash(b) and a != c


# --------------------------------------------------------------------------- Go interop


def _require_prometheus() -> None:
    if Path(PROMETHEUS).exists():
        return
    reason = (
        f"{PROMETHEUS} not installed (apt-get install prometheus): Go target labels not checked"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    print(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _go_targets(tmp_path: Path) -> dict[str, Any]:
    cfg_file = tmp_path / "prometheus.yml"
    cfg_file.write_text(yaml.safe_dump({"scrape_configs": CASES}))
    port = _free_port()
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={cfg_file}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 40
        want = len(_ours()[0])
        data: dict[str, Any] = {}
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/api/v1/targets", timeout=2
                ) as r:
                    data = json.load(r)["data"]
                if len(data["activeTargets"]) >= want:
                    return data
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"Go Prometheus listed {data} before the deadline")
    finally:
        proc.terminate()
        proc.wait(10)


def test_target_labels_match_go_prometheus(tmp_path: Path) -> None:
    _require_prometheus()
    go = _go_targets(tmp_path)
    ours_active, ours_dropped = _ours()
    go_active = {
        (t["scrapePool"], t["scrapeUrl"] + "|" + json.dumps(dict(sorted(t["labels"].items())))): {
            k: t[k]
            for k in ("labels", "discoveredLabels", "scrapeUrl", "scrapeInterval", "scrapeTimeout")
        }
        for t in go["activeTargets"]
    }
    # The job label may be rewritten: Go keys its pool by job_name, so do we.
    assert set(go_active) == set(ours_active)
    for key, theirs in go_active.items():
        ours = dict(ours_active[key])
        final = ours.pop("allLabels")
        # 2.42 reused the buffer of the discovered label set for the relabelling result,
        # so a label whose value relabelling changed shows the new value in its
        # discoveredLabels. 3.x shows the labels before relabelling, as we do.
        for name, value in theirs["discoveredLabels"].items():
            if value != ours["discoveredLabels"].get(name):
                assert value == final.get(name), (key, name)
                theirs["discoveredLabels"][name] = ours["discoveredLabels"][name]
        assert ours == theirs, key
    go_dropped: dict[str, list[dict[str, str]]] = {}
    for t in go["droppedTargets"]:
        go_dropped.setdefault(t["discoveredLabels"]["job"], []).append(t["discoveredLabels"])
    assert {k: v for k, v in ours_dropped.items() if v} == go_dropped
