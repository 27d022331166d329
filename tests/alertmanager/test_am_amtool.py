"""The real amtool (Debian's 0.25) against ``promethean alertmanager``: what operators type."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# The harness sits beside the tests (this folder is on sys.path); the package form is
# the fallback should the folder become a package.
try:
    from am_harness import AM, amtool_or_skip
except ImportError:
    from tests.alertmanager.am_harness import AM, amtool_or_skip  # type: ignore[no-redef]

CONFIG = """
route:
  receiver: webhook
  group_by: [alertname]
  routes:
    - matchers: [team="email"]
      receiver: email
    - matchers: [team="chat"]
      receiver: chat
      group_by: [alertname, cluster]
      continue: true
    - matchers: [team="chat"]
      receiver: webhook
receivers:
  - name: webhook
    webhook_configs:
      - url: 'http://hookuser:HOOK_PASSWORD_7q@127.0.0.1:1/hooks/HOOK_PATH_TOKEN_7q?key=HOOK_KEY_7q'
  - name: email
  - name: chat
    slack_configs:
      - api_url: 'https://hooks.slack.example/services/SLACK_TOKEN_7q'
        channel: '#alerts'
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
"""


@pytest.fixture(scope="module")
def am(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AM]:
    amtool_or_skip()
    server = AM(tmp_path_factory.mktemp("am-amtool"), CONFIG).start()
    yield server
    server.stop()


def amtool(am: AM, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [amtool_or_skip(), f"--alertmanager.url={am.url}", *args],
        capture_output=True,
        text=True,
        timeout=30,
    )


def rows(output: str) -> list[list[str]]:
    return [line.split() for line in output.strip().splitlines()[1:]]


def test_alert_add_and_query(am: AM) -> None:
    add = amtool(
        am, "alert", "add", "alertname=FromAmtool", "severity=info", "--annotation=summary=hello"
    )
    assert (add.returncode, add.stdout, add.stderr) == (0, "", "")
    amtool(am, "alert", "add", "alertname=Crit", "severity=critical", "cluster=c1")
    amtool(am, "alert", "add", "alertname=Inhibited", "severity=warning", "cluster=c1")
    query = amtool(am, "alert", "query")
    assert query.returncode == 0
    assert query.stderr == ""  # no version warning either
    assert query.stdout.splitlines()[0].split() == ["Alertname", "Starts", "At", "Summary", "State"]
    listed = {r[0]: r for r in rows(query.stdout)}
    assert set(listed) >= {"FromAmtool", "Crit"}
    assert "Inhibited" not in listed
    assert listed["FromAmtool"][-2:] == ["hello", "active"]
    inhibited = amtool(am, "alert", "query", "-i")
    assert [r[0] for r in rows(inhibited.stdout)] == ["Inhibited"]
    assert rows(inhibited.stdout)[0][-1] == "suppressed"
    raw = amtool(am, "-o", "json", "alert", "query", "alertname=FromAmtool")
    [alert] = json.loads(raw.stdout)
    assert alert["labels"] == {"alertname": "FromAmtool", "severity": "info"}
    assert alert["annotations"] == {"summary": "hello"}


def test_silence_add_query_update_expire(am: AM) -> None:
    add = amtool(
        am,
        "silence",
        "add",
        "alertname=FromAmtool",
        "--comment=via amtool",
        "--duration=1h",
        "--author=carol",
    )
    assert add.returncode == 0, add.stderr
    sid = add.stdout.strip()
    assert len(sid) == 36
    missing = amtool(am, "silence", "add", "alertname=X")
    assert missing.returncode == 1
    assert "comment required by config" in missing.stderr
    query = amtool(am, "silence", "query")
    assert query.stdout.splitlines()[0].split() == [
        "ID",
        "Matchers",
        "Ends",
        "At",
        "Created",
        "By",
        "Comment",
    ]
    row = next(r for r in rows(query.stdout) if r[0] == sid)
    assert row[1] == 'alertname="FromAmtool"'
    assert row[-3:] == ["carol", "via", "amtool"]
    # the silenced alert leaves the default alert query
    assert "FromAmtool" not in amtool(am, "alert", "query").stdout
    update = amtool(am, "silence", "update", "--comment=updated by amtool", "--duration=2h", sid)
    assert update.returncode == 0, update.stderr
    assert sid in amtool(am, "silence", "query", "-q").stdout.split()
    assert am.get(f"/api/v2/silence/{sid}").json()["comment"] == "updated by amtool"
    expire = amtool(am, "silence", "expire", sid)
    assert (expire.returncode, expire.stderr) == (0, "")
    assert sid not in amtool(am, "silence", "query", "-q").stdout.split()
    assert sid in amtool(am, "silence", "query", "--expired", "-q").stdout.split()
    unknown = amtool(am, "silence", "expire", "00000000-0000-0000-0000-000000000000")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == (
        "amtool: error: [DELETE /silence/{silenceID}][500] "
        "deleteSilenceInternalServerError  silence not found"
    )


def test_silence_import(am: AM, tmp_path: Path) -> None:
    for value in ("ImportA", "ImportB"):
        assert (
            amtool(
                am, "silence", "add", f"alertname={value}", "--comment=c", "--duration=1h"
            ).returncode
            == 0
        )
    exported = amtool(am, "-o", "json", "silence", "query", "alertname=~Import.*")
    silences = json.loads(exported.stdout)
    assert len(silences) == 2
    for sil in silences:
        amtool(am, "silence", "expire", sil["id"])
    path = tmp_path / "silences.json"
    path.write_text(exported.stdout)
    imported = amtool(am, "silence", "import", str(path))
    assert imported.returncode == 0, imported.stderr
    new_ids = imported.stdout.split()
    assert len(new_ids) == 2
    active = json.loads(amtool(am, "-o", "json", "silence", "query", "alertname=~Import.*").stdout)
    assert sorted(s["id"] for s in active) == sorted(new_ids)


def test_cluster_show_and_config_show(am: AM) -> None:
    cluster = amtool(am, "cluster", "show")
    assert cluster.returncode == 0
    assert cluster.stdout.splitlines()[0].split() == ["Cluster", "Status:", "disabled"]
    shown = amtool(am, "config", "show")
    assert shown.returncode == 0
    assert "resolve_timeout: 5m" in shown.stdout


def test_config_routes_with_masked_webhook_url(am: AM) -> None:
    """amtool 0.25 parses the webhook ``url`` as a URL: the masked form must still be one."""
    shown = amtool(am, "config", "show")
    assert "url: http://127.0.0.1:1/<secret>" in shown.stdout
    assert "_7q" not in shown.stdout
    routes = amtool(am, "config", "routes")
    assert (routes.returncode, routes.stderr) == (0, "")
    assert routes.stdout.splitlines() == [
        "Routing tree:",
        ".",
        "└── default-route  receiver: webhook",
        '    ├── {team="email"}  receiver: email',
        '    ├── {team="chat"}  continue: true  receiver: chat',
        '    └── {team="chat"}  receiver: webhook',
        "",
    ]
    tested = amtool(am, "config", "routes", "test", "team=chat")
    assert (tested.returncode, tested.stdout, tested.stderr) == (0, "chat,webhook\n", "")
    verified = amtool(
        am, "config", "routes", "test", "--verify.receivers=email", "team=email", "a=b"
    )
    assert (verified.returncode, verified.stdout) == (0, "email\n")
    wrong = amtool(am, "config", "routes", "test", "--verify.receivers=chat", "team=email")
    assert wrong.returncode == 1
    assert "WARNING: Expected receivers did not match resolved receivers." in wrong.stdout
