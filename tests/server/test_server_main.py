"""`promethean server`: flags, exit codes, readiness, the built-in config, self-metrics."""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from pathlib import Path

import aiohttp
import pytest
from _server_proc_support import free_port, run_to_exit, running_server

from promethean.cli import FlagParser
from promethean.server import main as server_main


def test_unknown_flag_lists_the_valid_ones(tmp_path: Path) -> None:
    code, err = run_to_exit(tmp_path, ["--web.enable-admin"])
    assert code == 2
    assert "unrecognized arguments: --web.enable-admin" in err
    assert "valid flags:" in err
    for flag in (
        "--config.file",
        "--web.enable-admin-api",
        "--web.enable-lifecycle",
        "--web.cors.origin",
        "--query.max-samples",
        "--storage.tsdb.retention.time",
        "--enable-feature",
    ):
        assert flag in err


def test_bad_config_exits_2_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "bad1.yml").write_text("global:\n  scrape_interval: TOPSECRET5\n")
    code, err = run_to_exit(tmp_path, ["--config.file=bad1.yml", "--web.listen-address=:0"])
    assert code == 2
    assert 'level=error msg="Error loading config (--config.file=bad1.yml)"' in err
    assert f"file={tmp_path / 'bad1.yml'}" in err
    assert "bad1.yml:2:3: global.scrape_interval: not a valid duration string" in err


def test_missing_named_config_exits_2(tmp_path: Path) -> None:
    code, err = run_to_exit(tmp_path, ["--config.file=nope.yml", "--web.listen-address=:0"])
    assert code == 2
    assert "nope.yml: cannot read config file" in err


def test_bad_web_config_exits_1(tmp_path: Path) -> None:
    (tmp_path / "web.yml").write_text("foo: 1\n")
    (tmp_path / "p.yml").write_text("")
    code, err = run_to_exit(
        tmp_path,
        [
            "--config.file=p.yml",
            "--web.config.file=web.yml",
            f"--web.listen-address=:{free_port()}",
        ],
    )
    assert code == 1
    assert 'msg="Unable to validate web configuration file"' in err


def test_bad_flag_values_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    def run(*argv: str) -> tuple[int, str]:
        parser = FlagParser(prog="promethean server")
        server_main.configure(parser)
        code = server_main.run(parser.parse_args(list(argv)))
        return code, capsys.readouterr().err.strip()

    assert run("--query.timeout=soon") == (
        2,
        'promethean server: error: --query.timeout: not a valid duration string: "soon"',
    )
    code, err = run("--web.cors.origin=(")
    assert code == 2
    assert "could not compile CORS regex" in err
    assert run("--query.max-concurrency=0") == (
        2,
        "promethean server: error: --query.max-concurrency must be at least 1",
    )


def test_builtin_config_scrapes_itself_and_flags_are_strings(tmp_path: Path) -> None:
    with running_server(tmp_path, "--web.enable-admin-api") as server:
        assert "using the built-in config" in server.log()
        flags = json.loads(server.request("GET", "/api/v1/status/flags").body)["data"]
        assert all(isinstance(v, str) for v in flags.values())
        assert flags["config.file"] == "prometheus.yml"
        assert flags["web.enable-admin-api"] == "true"
        assert flags["web.enable-lifecycle"] == "false"
        assert flags["web.cors.origin"] == ".*"
        assert flags["query.max-samples"] == "50000000"
        assert flags["query.timeout"] == "2m"
        assert flags["storage.tsdb.path"] == "data"
        assert flags["storage.tsdb.retention.time"] == "15d"
        targets = json.loads(server.request("GET", "/api/v1/targets").body)["data"]
        (target,) = targets["activeTargets"]
        assert target["scrapePool"] == "prometheus"
        assert target["scrapeUrl"] == f"{server.url.replace('127.0.0.1', '127.0.0.1')}/metrics"
        r = server.request("GET", "/api/v1/query", params={"query": "1"})
        assert r.status == 200
        metrics = server.request("GET", "/metrics").text
        for name in (
            "prometheus_tsdb_head_series",
            "prometheus_tsdb_head_samples_appended_total",
            "prometheus_target_scrapes_sample_out_of_order_total",
            "prometheus_config_last_reload_successful 1.0",
            "prometheus_config_last_reload_success_timestamp_seconds",
            "prometheus_engine_query_duration_seconds_count",
            "prometheus_build_info{",
            "prometheus_ready 1.0",
        ):
            assert name in metrics, name
        assert re.search(
            r'^prometheus_http_requests_total\{code="200",handler="/api/v1/query"\} \d',
            metrics,
            re.M,
        )


def test_routes_answer_503_until_the_tsdb_is_open(tmp_path: Path) -> None:
    parser = FlagParser(prog="promethean server")
    server_main.configure(parser)
    args = parser.parse_args(
        ["--web.listen-address=127.0.0.1:0", f"--storage.tsdb.path={tmp_path / 'data'}"]
    )

    async def scenario() -> dict[str, tuple[int, str]]:
        server = server_main.Server(args, {})
        runner = aiohttp.web.AppRunner(server.app)
        await runner.setup()
        site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        out: dict[str, tuple[int, str]] = {}
        try:
            async with aiohttp.ClientSession() as session:
                for path in ("/-/ready", "/-/healthy", "/api/v1/query?query=1", "/federate"):
                    async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                        out[path] = (resp.status, await resp.text())
        finally:
            await runner.cleanup()
        return out

    answers = asyncio.run(scenario())
    assert answers == {
        "/-/ready": (503, "Service Unavailable"),
        "/-/healthy": (200, "Prometheus Server is Healthy.\n"),
        "/api/v1/query?query=1": (503, "Service Unavailable"),
        "/federate": (503, "Service Unavailable"),
    }


def test_flag_table_uses_upstream_names() -> None:
    parser = argparse.ArgumentParser()
    server_main.configure(parser)
    args = parser.parse_args(["--enable-feature=promql-experimental-functions"])
    table = server_main.flag_table(parser, args)
    assert table["enable-feature"] == "promql-experimental-functions"
    assert table["web.listen-address"] == ":9090"
    assert table["web.max-connections"] == "512"
    assert table["storage.tsdb.no-lockfile"] == "false"
