"""``promethean tool query`` against promethean's API and ``promethean tool check config``."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server_api_support import T0, ApiServer, running_api

from promethean.cli import main

S0 = T0 // 1000
TOOL = [sys.executable, "-m", "promethean.cli", "tool"]


def _run(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    """The command run in-process, as ``promethean tool ...`` runs it (fast: no interpreter)."""
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main(["tool", *args])
            except SystemExit as exc:
                rc = int(exc.code or 0)
    finally:
        os.chdir(old)
    return rc, out.getvalue(), err.getvalue()


def test_the_command_line_entry_point(api: ApiServer) -> None:
    done = subprocess.run(
        [*TOOL, "query", "labels", api.url, "job"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (0, "node\nprom\n")


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with running_api(tmp_path_factory.mktemp("tools")) as server:
        yield server


def test_query_instant_promql_and_json(api: ApiServer) -> None:
    assert _run("query", "instant", f"--time={S0 + 60}", api.url, "up") == (
        0,
        'up{instance="a:9100", job="node"} => 1 @[1700000060]\n'
        'up{instance="b:9090", job="prom"} => 0 @[1700000060]\n',
        "",
    )
    rc, out, _ = _run(
        "query", "instant", "-o", "json", f"--time={S0}", api.url, 'special{kind="inf"}'
    )
    assert (rc, out) == (
        0,
        '{"resultType":"vector","result":[{"metric":{"__name__":"special","kind":"inf"},'
        '"value":[1700000000,"+Inf"]}]}\n',
    )
    assert _run("query", "instant", "--time=1.5", api.url, "2^0.5")[1] == (
        "scalar: 1.4142135623730951 @[1.5]\n"
    )


def test_query_range_series_labels(api: ApiServer) -> None:
    rc, out, _ = _run(
        "query",
        "range",
        f"--start={S0}",
        f"--end={S0 + 30}",
        "--step=15s",
        api.url,
        'up{job="prom"}',
    )
    assert (rc, out) == (
        0,
        'up{instance="b:9090", job="prom"} =>\n1 @[1700000000]\n1 @[1700000015]\n1 @[1700000030]\n',
    )
    assert _run("query", "series", "--match=special", api.url)[1] == (
        '{__name__="special", kind="big"}\n{__name__="special", kind="inf"}\n'
        '{__name__="special", kind="nan"}\n{__name__="special", kind="tiny"}\n'
    )
    assert _run("query", "labels", api.url, "job")[1] == "node\nprom\n"


def test_query_errors(api: ApiServer) -> None:
    assert _run("query", "instant", api.url, "up{") == (
        1,
        "",
        'query error: bad_data: invalid parameter "query": 1:4: parse error: '
        "unexpected end of input inside braces\n",
    )
    rc, out, err = _run("query", "instant", "http://127.0.0.1:1", "up")
    assert (
        rc == 1
        and out == ""
        and err.startswith('query error: Post "http://127.0.0.1:1/api/v1/query"')
    )


def test_check_config(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(
        "global:\n  scrape_interval: 15s\nrule_files: ['rules/*.yml']\n"
        "scrape_configs:\n  - job_name: x\n    static_configs:\n      - targets: ['a:1']\n"
    )
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "a.yml").write_text("groups: []\n")
    assert _run("check", "config", "good.yml", cwd=tmp_path) == (
        0,
        "Checking good.yml\n  SUCCESS: 1 rule files found\n"
        " SUCCESS: good.yml is valid prometheus config file syntax\n\n",
        "",
    )
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "scrape_configs:\n  - job_name: x\n    basic_auth:\n      username: u\n"
        "      password: TOOL_SECRET_MARK\n    bogus: 1\n"
    )
    rc, out, err = _run("check", "config", "good.yml", "bad.yml", cwd=tmp_path)
    assert rc == 1
    assert out.endswith("Checking bad.yml\n\n")
    assert err.startswith("  FAILED: bad.yml:6:5: ")
    assert "bogus" in err
    assert "TOOL_SECRET_MARK" not in out + err
    assert _run("check", "config", "missing.yml", cwd=tmp_path)[0] == 1
