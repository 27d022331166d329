"""The command line: subcommand dispatch and flag errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from promethean import __version__
from promethean.cli import main


def test_no_args_prints_usage_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: promethean COMMAND" in capsys.readouterr().out


def test_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown command 'frobnicate'" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"promethean, version {__version__}"


def test_tool_group_lists_its_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tool", "check", "--help"]) == 0
    assert "web-config" in capsys.readouterr().out


def test_console_script_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "promethean.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert __version__ in out.stdout
