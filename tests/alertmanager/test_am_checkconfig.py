"""``promethean tool check alertmanager-config``: amtool check-config's output and exit codes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

_GOOD = "route: {receiver: r}\nreceivers: [{name: r}]\ninhibit_rules: [{equal: [a]}]\n"


def _run(*args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promethean.cli", "tool", "check", "alertmanager-config", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        input=stdin,
        timeout=60,
    )


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.tmpl").write_text('{{ define "x" }}hi{{ end }}\n')
    (tmp_path / "t" / "b.tmpl").write_text("{{ if }\n")
    (tmp_path / "ok.yml").write_text(_GOOD + "templates: ['t/a.tmpl', 't/*.nomatch']\n")
    (tmp_path / "bad.yml").write_text("route: {receiver: nope}\nreceivers: [{name: r}]\n")
    (tmp_path / "badt.yml").write_text(
        "route: {receiver: r}\nreceivers: [{name: r}]\ntemplates: ['t/*.tmpl']\n"
    )
    return tmp_path


def test_success_report(files: Path) -> None:
    out = _run("ok.yml", cwd=files)
    assert out.returncode == 0, out.stderr
    assert out.stdout == (
        "Checking 'ok.yml'  SUCCESS\nFound:\n - global config\n - route\n"
        " - 1 inhibit rules\n - 1 receivers\n - 2 templates\n  SUCCESS\n\n"
    )
    assert out.stderr == ""


def test_failures_and_exit_code(files: Path) -> None:
    out = _run("ok.yml", "bad.yml", "badt.yml", cwd=files)
    assert out.returncode == 1
    blocks = out.stdout.split("\n\n")
    assert blocks[1] == (
        "Checking 'bad.yml'  FAILED: bad.yml:1:9: route.receiver: "
        'undefined receiver "nope" used in route'
    )
    assert blocks[2].endswith(' - 1 templates\n  FAILED: template: b.tmpl:1: unexpected "}" in if')
    assert out.stderr.endswith("error: failed to validate 2 file(s)\n")


def test_missing_file_and_stdin(files: Path) -> None:
    out = _run("ok.yml", "nonexistent.yml", cwd=files)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.endswith("error: path 'nonexistent.yml' does not exist\n")
    piped = _run(cwd=files, stdin=_GOOD)
    assert piped.returncode == 0
    assert piped.stdout.startswith("Checking '/dev/stdin'  SUCCESS\n")


def test_same_verdicts_as_amtool(files: Path) -> None:
    amtool = shutil.which("amtool")
    if amtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("amtool (Debian package prometheus-alertmanager) is required in CI")
        pytest.skip("amtool not installed (Debian prometheus-alertmanager); interop check skipped")
    for name in ("ok.yml", "bad.yml", "badt.yml"):
        theirs = subprocess.run(
            [amtool, "check-config", name], capture_output=True, text=True, cwd=files
        )
        ours = _run(name, cwd=files)
        assert ours.returncode == theirs.returncode, name
        # Same lines, except that our reasons also carry file:line:col and the field.
        for t_line, o_line in zip(
            theirs.stdout.splitlines(), ours.stdout.splitlines(), strict=True
        ):
            if "FAILED: " in t_line:
                assert o_line.endswith(t_line.split("FAILED: ", 1)[1])
            else:
                assert o_line == t_line
