"""Routing tree: matches, continue, inheritance, keys and group keys, checked against amtool."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from promethean.alertmanager.config import parse_alertmanager_config
from promethean.alertmanager.route import Route, format_label_set

_TREE = """
route:
  receiver: root
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: [team="a"]
      receiver: ra
      continue: true
      group_by: ['...']
    - matchers: ['team=~"a|b"']
      receiver: rb
      group_interval: 1m
      routes:
        - matchers: [sev="crit"]
          receiver: rc
          continue: true
          mute_time_intervals: [nights]
        - match: {sev: warn}
          group_by: []
          repeat_interval: 1h
    - match_re: {service: 'api|web'}
      receiver: rd
      group_by: [service, env]
      routes:
        - matchers: ['env!="prod"', 'env=~".+"']
          receiver: re
        - matchers: ['env="prod"']
          continue: true
          receiver: rf
        - matchers: ['region=~"eu-.*"']
          receiver: rg
    - matchers: ['x="y"']
time_intervals:
  - name: nights
    time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]
receivers:
  [{name: root}, {name: ra}, {name: rb}, {name: rc}, {name: rd}, {name: re}, {name: rf}, {name: rg}]
"""

# Label sets and the receivers amtool 0.25 ``config routes test`` prints for them.
_TABLE = [
    ("team=a", "ra,rb"),
    ("team=a sev=crit", "ra,rc"),
    ("team=b sev=crit", "rc"),
    ("team=b sev=warn", "rb"),
    ("team=b", "rb"),
    ("team=c", "root"),
    ("x=y", "root"),
    ("service=api", "rd"),
    ("service=api env=dev", "re"),
    ("service=web env=prod", "rf"),
    ("service=web env=prod region=eu-west", "rf,rg"),
    ("service=webx env=dev", "root"),
    ("service=api region=eu-1", "rg"),
    ("team=a service=api env=dev", "ra,rb"),
    ("alertname=foo", "root"),
]


def _labels(spec: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in spec.split())


@pytest.fixture(scope="module")
def tree() -> Route:
    return Route.from_config(parse_alertmanager_config(_TREE, "am.yml"))


@pytest.mark.parametrize(("spec", "receivers"), _TABLE)
def test_routing_table(tree: Route, spec: str, receivers: str) -> None:
    assert ",".join(r.opts.receiver for r in tree.match(_labels(spec))) == receivers


def test_table_agrees_with_amtool(tmp_path: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("amtool (Debian package prometheus-alertmanager) is required in CI")
        pytest.skip("amtool not installed (Debian prometheus-alertmanager); interop check skipped")
    cfg = tmp_path / "am.yml"
    cfg.write_text(_TREE)
    differ = []
    for spec, expected in _TABLE:
        out = subprocess.run(
            [amtool, "config", "routes", "test", f"--config.file={cfg}", *spec.split()],
            capture_output=True,
            text=True,
        )
        if out.stdout.strip() != expected:
            differ.append((spec, out.stdout.strip()))
    assert differ == []


def test_inheritance(tree: Route) -> None:
    ra, rb, rd, _x = tree.routes
    rc, warn = rb.routes
    assert tree.opts.group_wait == 10.0 and tree.opts.group_interval == 300.0
    assert tree.opts.repeat_interval == 4 * 3600.0
    assert ra.opts.group_by_all and ra.opts.group_wait == 10.0
    assert rb.opts.group_by == frozenset({"alertname"}) and rb.opts.group_interval == 60.0
    assert rc.opts.group_interval == 60.0 and rc.opts.mute_time_intervals == ("nights",)
    # group_by: [] inherits; receiver inherited from the parent.
    assert warn.opts.group_by == frozenset({"alertname"}) and warn.opts.receiver == "rb"
    assert warn.opts.repeat_interval == 3600.0
    # Time intervals are not inherited.
    assert warn.opts.mute_time_intervals == () and rb.opts.mute_time_intervals == ()
    assert rd.routes[0].opts.group_by == frozenset({"service", "env"})


def test_keys_ids_and_group_keys(tree: Route) -> None:
    ra, rb, rd, x = tree.routes
    assert tree.key() == "{}" and tree.id() == "{}"
    assert ra.key() == '{}/{team="a"}' and ra.id() == '{}/{team="a"}/0'
    assert rb.routes[1].key() == '{}/{team=~"a|b"}/{sev="warn"}'
    assert rd.key() == '{}/{service=~"^(?:api|web)$"}'  # match_re shows anchored, as upstream
    assert rd.routes[0].key() == '{}/{service=~"^(?:api|web)$"}/{env=~".+",env!="prod"}'
    assert x.id() == '{}/{x="y"}/3'
    labels = {"alertname": "TestA", "team": "a", "instance": "i1"}
    assert tree.group_key(labels) == '{}:{alertname="TestA"}'
    assert ra.group_key(labels) == '{}/{team="a"}:{alertname="TestA", instance="i1", team="a"}'
    assert rb.group_key({"team": "b"}) == '{}/{team=~"a|b"}:{}'
    assert rd.routes[0].group_labels({"service": "api", "env": "dev", "x": "1"}) == {
        "env": "dev",
        "service": "api",
    }


def test_label_set_format_quotes_like_go() -> None:
    assert format_label_set({"b": 'q"1', "a": "x\ny"}) == '{a="x\\ny", b="q\\"1"}'
    assert format_label_set({}) == "{}"


def test_root_matches_everything_and_walk_order(tree: Route) -> None:
    assert [r.opts.receiver for r in tree.match({})] == ["root"]
    ids = [r.id() for r in tree]
    assert ids[0] == "{}" and len(ids) == 10 and len(set(ids)) == 10
