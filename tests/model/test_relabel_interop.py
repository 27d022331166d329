"""Relabelling checked against the real Go implementation.

The reference is Prometheus 2.42 as packaged by Debian (``/usr/bin/prometheus``
and ``/usr/bin/promtool``, package ``prometheus``). One prometheus.yml with a
job per relabel action (hashmod included) is loaded by the real server on
127.0.0.1; for every target it reports, our ``relabel()`` of its
``discoveredLabels`` must give its ``labels`` (after the scrape layer's own
steps: ``__``-prefixed labels removed, ``instance`` defaulted to the address),
and the targets Go dropped are exactly the ones we drop. ``promtool check
config`` then shows that configs we reject are rejected by Go with the same
message.

2.42 predates two 3.x changes, so this file uses the legacy name rules
(``scheme=LEGACY``) and keeps newlines out of values (2.x's ``.`` does not
match them).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from promethean.model.labels import Labels
from promethean.model.names import NameValidationScheme
from promethean.model.relabel import RelabelConfig, check_relabel_config, relabel

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
LEGACY = NameValidationScheme.LEGACY


def _require(binary: str) -> None:
    if Path(binary).exists():
        return
    reason = f"{binary} not installed (apt-get install prometheus): Go interop not checked"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    print(reason)
    pytest.skip(reason)


def _targets(prefix: str, count: int, labels: dict[str, str]) -> list[dict[str, Any]]:
    base = {"prefix": prefix}
    return [
        {
            "targets": [f"127.0.0.{1 + i % 3}:{20000 + 100 * (ord(prefix) - 96) + i}"],
            "labels": {**base, **labels, "n": str(i)},
        }
        for i in range(count)
    ]


JOBS: list[dict[str, Any]] = [
    {
        "job_name": "replace",
        "static_configs": [
            *_targets("r", 2, {"env": "Prod", "team": "core", "ver": "1.2.3"}),
            *_targets("s", 1, {"env": "dev", "ver": "10"}),
        ],
        "relabel_configs": [
            {
                "source_labels": ["__address__"],
                "regex": "([^:]+):(\\d+)",
                "target_label": "host",
                "replacement": "$1",
            },
            {
                "source_labels": ["__address__"],
                "regex": "(?P<h>[^:]+):(?P<p>\\d+)",
                "target_label": "hostport",
                "replacement": "${p}@${h}-$$-$2x-${2}x-$nope-$",
            },
            {
                "source_labels": ["env"],
                "regex": "(P)rod",
                "target_label": "tag_$1",
                "replacement": "y",
            },
            {
                "source_labels": ["ver"],
                "regex": "(\\d+).*",
                "target_label": "v$1",
                "replacement": "z",
            },
            {"source_labels": ["ver"], "regex": "(\\d)\\..*", "target_label": "${1}bad"},
            {"target_label": "static", "replacement": "fixed"},
            {"source_labels": ["team"], "target_label": "team_copy"},
            {"source_labels": ["env", "team"], "separator": "/", "target_label": "joined"},
            {"source_labels": ["missing"], "target_label": "env"},
            {
                "source_labels": ["team"],
                "regex": "nomatch",
                "target_label": "n",
                "replacement": "x",
            },
            {
                "source_labels": ["ver"],
                "regex": "1(.*)",
                "target_label": "ver",
                "replacement": "$1",
            },
        ],
    },
    {
        "job_name": "keepdrop",
        "static_configs": _targets("k", 6, {"tier": "web"}),
        "relabel_configs": [
            {"source_labels": ["n"], "regex": "[0-4]", "action": "keep"},
            {"source_labels": ["n", "tier"], "separator": ":", "regex": "3:web", "action": "drop"},
            {"source_labels": ["__address__"], "regex": "127\\.0\\.0\\.2:.*", "action": "Drop"},
        ],
    },
    {
        "job_name": "equal",
        "static_configs": [
            *_targets("e", 2, {"a": "x", "b": "x", "c": "x"}),
            *_targets("f", 2, {"a": "x", "b": "y", "c": "x"}),
            *_targets("g", 2, {"a": "x", "b": "x", "c": "z"}),
        ],
        "relabel_configs": [
            {"source_labels": ["a"], "target_label": "b", "action": "keepequal"},
            {"source_labels": ["a"], "target_label": "c", "action": "dropequal"},
        ],
    },
    {
        "job_name": "hashmod",
        "static_configs": _targets("h", 24, {"svc": "api"}),
        "relabel_configs": [
            {
                "source_labels": ["__address__"],
                "modulus": 7,
                "target_label": "shard",
                "action": "hashmod",
            },
            {
                "source_labels": ["svc", "n"],
                "modulus": 18446744073709551615,
                "target_label": "bighash",
                "action": "hashmod",
            },
            {"source_labels": ["shard"], "regex": "[0-2]", "action": "keep"},
        ],
    },
    {
        "job_name": "labelmap",
        "static_configs": _targets("m", 2, {"src_alpha": "1", "src_beta": "2", "other": "o"}),
        "relabel_configs": [
            {"action": "labelmap", "regex": "src_(.+)", "replacement": "mapped_$1"},
            {"action": "labelmap", "regex": "(o)(ther)", "replacement": "${2}_${1}"},
            {"action": "labelmap", "regex": "prefix"},
        ],
    },
    {
        "job_name": "labeldropkeep",
        "static_configs": _targets("d", 2, {"tmp_a": "1", "tmp_b": "2", "keep_me": "k", "zz": "z"}),
        "relabel_configs": [
            {"action": "labeldrop", "regex": "tmp_.*"},
            {"action": "labelkeep", "regex": "__.*|job|n|keep_.*|prefix"},
        ],
    },
    {
        "job_name": "case",
        "static_configs": _targets("c", 2, {"mixed": "MiXeD-Ünï", "name": "Straße"}),
        "relabel_configs": [
            {"source_labels": ["mixed"], "target_label": "lower", "action": "lowercase"},
            {"source_labels": ["mixed", "name"], "target_label": "upper", "action": "uppercase"},
            {"source_labels": ["absent"], "target_label": "mixed", "action": "lowercase"},
        ],
    },
]
TOTAL_TARGETS = sum(len(job["static_configs"]) for job in JOBS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.load(resp)


@pytest.fixture(scope="module")
def go_targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _require(PROMETHEUS)
    workdir = tmp_path_factory.mktemp("go-prometheus")
    config = {"global": {"scrape_interval": "1h", "scrape_timeout": "10s"}, "scrape_configs": JOBS}
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config, allow_unicode=True))
    port = _free_port()
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "prometheus.log").open("wb"),
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/targets"
        deadline = time.monotonic() + 60
        data: dict[str, Any] = {}
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log = (workdir / "prometheus.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"prometheus exited with {proc.returncode}: {log}")
            try:
                data = _get_json(url)["data"]
            except OSError:
                data = {}
            seen = len(data.get("activeTargets", [])) + len(data.get("droppedTargets", []))
            if seen >= TOTAL_TARGETS:
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"Go prometheus did not list {TOTAL_TARGETS} targets in 60s: {data}")
        yield data
    finally:
        proc.kill()  # our own child, by its PID
        proc.wait(timeout=10)


def _configs(job: str) -> list[RelabelConfig]:
    for spec in JOBS:
        if spec["job_name"] == job:
            # Through YAML, as a user's file would arrive.
            raw = yaml.safe_load(yaml.safe_dump(spec["relabel_configs"], allow_unicode=True))
            return [RelabelConfig.model_validate(item) for item in raw]
    raise KeyError(job)


def _as_target_labels(result: Labels) -> dict[str, str]:
    """The scrape layer's steps after relabelling, as in Go's PopulateLabels."""
    out = {k: v for k, v in result if not k.startswith("__")}
    out.setdefault("instance", result.get("__address__"))
    return out


def _discovered() -> list[tuple[str, Labels]]:
    """Each configured target's labels before relabelling, built as Go builds them.

    Not read from the API: 2.42's ``discoveredLabels`` can show values written
    by relabelling (its builder reused the input's storage, fixed upstream
    later), so the reference input is rebuilt from the config.
    """
    out = []
    for job in JOBS:
        for group in job["static_configs"]:
            for address in group["targets"]:
                defaults = {
                    "job": job["job_name"],
                    "__address__": address,
                    "__metrics_path__": "/metrics",
                    "__scheme__": "http",
                    "__scrape_interval__": "1h",
                    "__scrape_timeout__": "10s",
                }
                out.append((job["job_name"], Labels.from_dict({**group["labels"], **defaults})))
    return out


def test_active_targets_match_go(go_targets: dict[str, Any]) -> None:
    addresses = [(job, d.get("__address__")) for job, d in _discovered()]
    assert len(set(addresses)) == len(addresses), "target keys must be unique"
    go_active = {
        (t["scrapePool"], t["labels"]["instance"]): t["labels"] for t in go_targets["activeTargets"]
    }
    assert go_active, "Go kept no targets"
    assert len(go_active) == len(go_targets["activeTargets"])
    ours = {}
    for job, discovered in _discovered():
        result = relabel(discovered, _configs(job), scheme=LEGACY)
        if result is not None:
            ours[(job, discovered.get("__address__"))] = _as_target_labels(result)
    assert sorted(ours) == sorted(go_active)
    for key, labels in ours.items():
        assert labels == go_active[key], key


def test_dropped_targets_match_go(go_targets: dict[str, Any]) -> None:
    dropped = go_targets["droppedTargets"]
    assert dropped, "Go dropped no targets"
    go_dropped = sorted(
        (t["discoveredLabels"]["job"], t["discoveredLabels"]["__address__"]) for t in dropped
    )
    ours = sorted(
        (job, discovered.get("__address__"))
        for job, discovered in _discovered()
        if relabel(discovered, _configs(job), scheme=LEGACY) is None
    )
    assert ours == go_dropped


def test_every_job_and_action_was_exercised(go_targets: dict[str, Any]) -> None:
    pools = {t["scrapePool"] for t in go_targets["activeTargets"]}
    assert pools == {job["job_name"] for job in JOBS}
    actions = {str(c.action) for job in JOBS for c in _configs(job["job_name"])}
    assert len(actions) == 11
    shards = {t["labels"]["shard"] for t in go_targets["activeTargets"] if "shard" in t["labels"]}
    assert shards == {"0", "1", "2"}


BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"action": "hashmod", "target_label": "x"}, "requires non-zero modulus"),
    ({"source_labels": ["a"]}, "relabel configuration for replace action requires 'target_label'"),
    ({"target_label": "1x"}, "\"1x\" is invalid 'target_label' for replace action"),
    ({"target_label": "a-$1"}, "\"a-$1\" is invalid 'target_label' for replace action"),
    ({"action": "lowercase", "target_label": "a.b"}, "\"a.b\" is invalid 'target_label'"),
    ({"action": "uppercase", "target_label": "x", "replacement": "y"}, "'replacement' can not"),
    ({"action": "labelmap", "replacement": "a-$1"}, "\"a-$1\" is invalid 'replacement'"),
    ({"action": "hashmod", "modulus": 2, "target_label": "$1"}, "\"$1\" is invalid 'target_label'"),
    (
        {"action": "keepequal", "target_label": "x", "regex": "(.*)"},
        "keepequal action requires only 'source_labels' and `target_label`, and no other fields",
    ),
    (
        {"action": "dropequal", "target_label": "x", "separator": ","},
        "dropequal action requires only 'source_labels' and `target_label`",
    ),
    (
        {"action": "labeldrop", "source_labels": []},
        "labeldrop action requires only 'regex', and no other fields",
    ),
    ({"action": "labelkeep", "target_label": "x"}, "labelkeep action requires only 'regex'"),
    ({"action": "keepequal"}, "keepequal action requires 'target_label' value"),
    ({"action": "explode"}, 'unknown relabel action "explode"'),
]


@pytest.mark.parametrize(("item", "message"), BAD_CONFIGS)
def test_configs_go_rejects_we_reject_with_the_same_message(
    item: dict[str, Any], message: str, tmp_path: Path
) -> None:
    _require(PROMTOOL)
    config = {"scrape_configs": [{"job_name": "j", "relabel_configs": [item]}]}
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    go = subprocess.run(
        [PROMTOOL, "check", "config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert go.returncode != 0
    assert message in go.stdout + go.stderr
    with pytest.raises(ValueError) as info:
        check_relabel_config(RelabelConfig.model_validate(item), LEGACY)
    assert message in str(info.value)
