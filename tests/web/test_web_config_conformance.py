"""Every upstream web-config test file: good ones load, bad ones fail with the right reason."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from _webtest_support import conformance_dir

from promethean.config import ConfigError
from promethean.web import validate_web_config_file

# File -> a fragment the error must contain (the problem, named).
BAD = {
    "web_config_auth_clientCAs_invalid.bad.yml": "failed to read client_ca_file (",
    "web_config_auth_clientCAs_missing.bad.yml": "RequireAndVerifyClientCert needs client_ca_file",
    "web_config_auth_client_san.bad.yaml": "client_allowed_sans ['bad'] matches none",
    "web_config_auth_user_list_invalid.bad.yml": (
        "basic_auth_users: user 'john': "
        "crypto/bcrypt: hashedSecret too short to be a bcrypted password"
    ),
    "web_config_headers_frame_options.bad.yml": (
        "http_server_config.headers: invalid value for X-Frame-Options. "
        'Expected one of: ["deny" "sameorigin"], but got: "foo"'
    ),
    "web_config_junk.yml": ":1:1: top level must be a mapping, not str",
    "web_config_noAuth.bad.yml": "client_ca_file (/dev/null) contains no PEM certificate",
    "web_config_noAuth_certPath_empty.bad.yml": "tls_server_config.cert_file: missing cert_file",
    "web_config_noAuth_certPath_invalid.bad.yml": "failed to read cert_file (",
    "web_config_noAuth_certPath_keyPath_empty.bad.yml": "client_auth_type: Invalid ClientAuth: x",
    "web_config_noAuth_certPath_keyPath_invalid.bad.yml": "failed to read cert_file (",
    "web_config_noAuth_cert_empty.bad.yml": "tls_server_config.cert_file: missing cert_file",
    "web_config_noAuth_inventedCurves.bad.yml": "curve_preferences: unknown curve: CurveP257",
    "web_config_noAuth_keyPath_empty.bad.yml": "tls_server_config.key_file: missing key_file",
    "web_config_noAuth_keyPath_invalid.bad.yml": "failed to read cert_file (",
    "web_config_noAuth_key_empty.bad.yml": "tls_server_config.key_file: missing key_file",
    "web_config_noAuth_wrongTLSVersion.bad.yml": "min_version: unknown TLS version: TLS111",
}


def _good(directory: Path) -> list[Path]:
    files = [p for p in directory.iterdir() if re.search(r"\.good\.ya?ml$", p.name)]
    files += [directory / "web_config_empty.yml"]
    files += sorted(directory.glob("web_config_rate_limiter_*.yaml"))
    return sorted(files)


def _bad(directory: Path) -> list[Path]:
    files = [p for p in directory.iterdir() if re.search(r"\.bad\.ya?ml$", p.name)]
    files += sorted(directory.glob("web_config_junk*.yml"))
    return sorted(files)


def test_every_file_is_classified() -> None:
    directory = conformance_dir()
    bad = {p.name for p in _bad(directory)}
    assert bad == set(BAD), "a conformance file has no expected error here"
    assert len(_good(directory)) >= 15


def test_good_files_load() -> None:
    for path in _good(conformance_dir()):
        state = validate_web_config_file(path)
        assert state.config is not None, path.name


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_file_rejected_with_reason(name: str) -> None:
    path = conformance_dir() / name
    with pytest.raises(ConfigError) as err:
        validate_web_config_file(path)
    message = str(err.value)
    assert message.startswith(f"{path}:"), message  # names the file and line
    assert BAD[name] in message


def test_errors_never_echo_a_password_hash_or_key() -> None:
    directory = conformance_dir()
    with pytest.raises(ConfigError) as err:
        validate_web_config_file(directory / "web_config_auth_user_list_invalid.bad.yml")
    assert "doe" not in str(err.value)


def _check(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "promethean.cli", "tool", "check", "web-config", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_web_config_command() -> None:
    directory = conformance_dir()
    good = _good(directory)
    result = _check(*good)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"{p} SUCCESS" for p in good]
    bad = _bad(directory)
    result = _check(good[0], *bad)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{good[0]} SUCCESS"]
    failed = result.stderr.splitlines()
    assert len([line for line in failed if " FAILED: " in line]) == len(bad)
    assert all(any(line.startswith(f"{p} FAILED: ") for line in failed) for p in bad)
