"""Basic auth, throttling, rate limits, exempt paths, headers and reload, over real HTTP."""

from __future__ import annotations

import logging
from pathlib import Path

import bcrypt
import pytest
from _webtest_support import basic, conformance_dir, request, running_server, write_atomic

from promethean.config import ConfigError
from promethean.web import WebServer
from promethean.web.basicauth import BasicAuthenticator, parse_basic_auth

UNAUTHORIZED = (401, b"Unauthorized\n")


def _hash(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


@pytest.fixture
def users_config(tmp_path: Path) -> Path:
    path = tmp_path / "web.yml"
    write_atomic(path, f"basic_auth_users:\n  alice: '{_hash('s3cret')}'\n")
    return path


def _expect_401(port: int, headers: dict[str, str]) -> None:
    status, hdrs, body = request(port, headers=headers)
    assert (status, body) == UNAUTHORIZED
    assert hdrs["WWW-Authenticate"] == "Basic"
    assert hdrs["Content-Type"] == "text/plain; charset=utf-8"
    assert hdrs["X-Content-Type-Options"] == "nosniff"
    assert hdrs["Content-Length"] == "13"


def test_identical_401_for_every_failure_and_200_for_the_right_password(
    users_config: Path,
) -> None:
    with running_server(users_config) as srv:
        _expect_401(srv.port, {})
        _expect_401(srv.port, basic("alice", "nope"))
        _expect_401(srv.port, basic("bob", "s3cret"))
        _expect_401(srv.port, {"Authorization": "Bearer s3cret"})
        _expect_401(srv.port, {"Authorization": "Basic !!notbase64"})
        _expect_401(srv.port, basic("alice", "s3cret" + "x" * 80))
        status, _, body = request(srv.port, headers=basic("alice", "s3cret"))
        assert (status, body) == (200, b"Hello World!")
        # Every path is covered, the health endpoint and unknown paths included.
        assert request(srv.port, "/-/healthy")[0] == 401
        assert request(srv.port, "/nope")[0] == 401
        assert request(srv.port, "/nope", headers=basic("alice", "s3cret"))[0] == 404


def test_cve_2022_46146_cache_poisoning_fails() -> None:
    """The upstream regression test, against the upstream users file."""
    config = conformance_dir() / "web_config_users_noTLS.good.yml"
    with running_server(config) as srv:
        alice_hash = "$2y$12$1DpfPeqF9HzHJt.EWswy1exHluGfbhnn3yXhR7Xes6m3WJqFg0Wby"
        _expect_401(srv.port, basic("alice" + alice_hash, "fakepassword"))
        fake = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"
        _expect_401(srv.port, basic("alice", fake + "fakepassword"))
        _expect_401(srv.port, basic("fakeuser", "fakepassword"))
        _expect_401(srv.port, basic("fakeuser", "fakepassword"))


def test_cached_success_admits_only_that_password(tmp_path: Path) -> None:
    import asyncio

    async def scenario() -> list[bool]:
        auth = BasicAuthenticator(max_concurrent=1)
        users = {"alice": _hash("right").encode()}
        try:
            results = [await auth.check(users, "alice", b"right")]
            results.append(auth.cached(users, "alice", b"right"))
            results.append(await auth.check(users, "alice", b"wrong"))
            results.append(await auth.check(users, "alice", b"right\x00"))
            results.append(await auth.check(users, "alic", b"eright"))
            # A changed hash for alice: the cached success no longer counts.
            changed = {"alice": _hash("other").encode()}
            results.append(auth.cached(changed, "alice", b"right"))
            results.append(await auth.check(changed, "alice", b"right"))
            results.append(await auth.check(changed, "alice", b"other"))
        finally:
            auth.close()
        return results

    assert asyncio.run(scenario()) == [True, True, False, False, False, False, False, True]


def test_parse_basic_auth_matches_go() -> None:
    assert parse_basic_auth("Basic YWxpY2U6czNjcmV0") == ("alice", b"s3cret")
    assert parse_basic_auth("basic YWxpY2U6czNjcmV0") == ("alice", b"s3cret")
    assert parse_basic_auth("Basic YWxpY2U6OmE=") == ("alice", b":a")
    assert parse_basic_auth("Basic YWxpY2U=") is None  # no colon
    assert parse_basic_auth("Bearer x") is None
    assert parse_basic_auth(None) is None


def test_user_added_or_hash_changed_takes_effect_without_restart(users_config: Path) -> None:
    with running_server(users_config) as srv:
        assert request(srv.port, headers=basic("alice", "s3cret"))[0] == 200
        assert request(srv.port, headers=basic("bob", "hunter2"))[0] == 401
        write_atomic(
            users_config,
            f"basic_auth_users:\n  alice: '{_hash('n3w')}'\n  bob: '{_hash('hunter2')}'\n",
        )
        assert request(srv.port, headers=basic("bob", "hunter2"))[0] == 200
        # alice's old password was cached; the new hash invalidates it.
        assert request(srv.port, headers=basic("alice", "s3cret"))[0] == 401
        assert request(srv.port, headers=basic("alice", "n3w"))[0] == 200


def test_invalid_config_at_reload_keeps_the_old_one(
    users_config: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with running_server(users_config) as srv, caplog.at_level(logging.ERROR, "promethean.web"):
        write_atomic(users_config, "basic_auth_users:\n  alice: plaintext\n")
        assert request(srv.port, headers=basic("alice", "s3cret"))[0] == 200
        assert request(srv.port)[0] == 401
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1  # logged once per change, not once per request
    fields = errors[0].fields  # type: ignore[attr-defined]
    assert fields["component"] == "web"
    assert "hashedSecret too short" in fields["err"]
    assert "plaintext" not in fields["err"]


def test_invalid_config_at_startup_is_a_clear_error(tmp_path: Path) -> None:
    from aiohttp import web

    bad = tmp_path / "web.yml"
    bad.write_text("tls_server_config:\n  cert_file: server.crt\n")
    with pytest.raises(ConfigError) as err:
        WebServer(web.Application(), [":0"], bad)
    assert str(err.value) == f"{bad}:1:1: tls_server_config.key_file: missing key_file"


def test_throttle_blocks_the_attacker_only(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        f"basic_auth_users:\n  alice: '{_hash('s3cret')}'\n"
        "basic_auth_throttle:\n  max_failures: 3\n  interval: 1m\n"
    )
    with running_server(path) as srv:
        for _ in range(3):
            assert request(srv.port, headers=basic("alice", "guess"), source="127.0.0.1")[0] == 401
        status, hdrs, body = request(srv.port, headers=basic("alice", "guess"), source="127.0.0.1")
        assert (status, body) == (429, b"Too Many Requests\n")
        assert 0 < int(hdrs["Retry-After"]) <= 60
        # Even the right password is refused from the throttled address...
        assert request(srv.port, headers=basic("alice", "s3cret"), source="127.0.0.1")[0] == 429
        # ...while another client is served as usual.
        assert request(srv.port, headers=basic("alice", "s3cret"), source="127.0.0.2")[0] == 200
        assert request(srv.port, headers=basic("alice", "guess"), source="127.0.0.2")[0] == 401


def test_rate_limit_answers_429_before_auth(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        f"basic_auth_users:\n  alice: '{_hash('s3cret')}'\n"
        "rate_limit:\n  interval: 1h\n  burst: 2\n"
    )
    with running_server(path) as srv:
        assert request(srv.port, headers=basic("alice", "s3cret"))[0] == 200
        assert request(srv.port)[0] == 401
        status, hdrs, body = request(srv.port, headers=basic("alice", "s3cret"))
        assert (status, body) == (429, b"Too Many Requests\n")
        assert hdrs["Content-Type"] == "text/plain; charset=utf-8"


def test_auth_exempt_paths_are_exact(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        f"basic_auth_users:\n  alice: '{_hash('s3cret')}'\nauth_exempt_paths: [/-/healthy]\n"
    )
    with running_server(path) as srv:
        assert request(srv.port, "/-/healthy")[:3:2] == (200, b"Hello World!")
        assert request(srv.port, "/-/healthy?x=1")[0] == 200
        assert request(srv.port, "/-/healthy/")[0] == 401
        assert request(srv.port, "/-/Healthy")[0] == 401
        assert request(srv.port, "/")[0] == 401


def test_security_headers_on_every_response(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(
        f"basic_auth_users:\n  alice: '{_hash('s3cret')}'\n"
        "http_server_config:\n  headers:\n"
        "    Strict-Transport-Security: max-age=31536000; includeSubDomains\n"
        "    X-Frame-Options: deny\n"
        "    X-Content-Type-Options: nosniff\n"
        "    X-XSS-Protection: 1\n"
        "    Content-Security-Policy: default-src 'self'\n"
    )
    expected = {
        "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
        "X-Frame-Options": "deny",
        "X-Content-Type-Options": "nosniff",
        "X-Xss-Protection": "1",
        "Content-Security-Policy": "default-src 'self'",
    }
    with running_server(path) as srv:
        for headers, status in (
            ({}, 401),
            (basic("alice", "s3cret"), 200),
        ):
            got_status, hdrs, _ = request(srv.port, headers=headers)
            assert got_status == status
            for name, value in expected.items():
                assert hdrs[name] == value, name
        got_status, hdrs, _ = request(srv.port, "/missing", headers=basic("alice", "s3cret"))
        assert got_status == 404
        assert hdrs["X-Frame-Options"] == "deny"


def test_no_security_headers_unless_configured() -> None:
    with running_server(None) as srv:
        status, hdrs, _ = request(srv.port)
    assert status == 200
    assert "X-Frame-Options" not in hdrs
    assert "Strict-Transport-Security" not in hdrs


def test_bad_login_flood_does_not_stall_other_requests(tmp_path: Path) -> None:
    """bcrypt runs off the event loop: an exempt request overtakes a queue of bad logins."""
    import threading
    import time

    path = tmp_path / "web.yml"
    slow = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(12)).decode()
    path.write_text(f"basic_auth_users:\n  alice: '{slow}'\nauth_exempt_paths: [/-/healthy]\n")
    finished: list[str] = []
    lock = threading.Lock()

    def bad_login(i: int) -> None:
        status = request(srv.port, headers=basic("alice", f"guess{i}"), timeout=60)[0]
        with lock:
            finished.append(f"bad-{status}")

    with running_server(path, bcrypt_concurrency=1) as srv:
        flood = [threading.Thread(target=bad_login, args=(i,)) for i in range(6)]
        for t in flood:
            t.start()
        # Wait (bounded) until the whole flood is connected and queued on bcrypt.
        for _ in range(500):
            if srv.server.connections >= 6:
                break
            time.sleep(0.01)
        status = request(srv.port, "/-/healthy")[0]
        with lock:
            finished.append(f"healthy-{status}")
        for t in flood:
            t.join(60)
    assert finished[-1] == "bad-401", finished
    assert finished.index("healthy-200") < len(finished) - 1
    assert finished.count("bad-401") == 6


def test_success_cache_is_bounded_and_unknown_users_cost_the_same() -> None:
    import asyncio

    from promethean.web.webconfig import bcrypt_cost

    async def scenario() -> tuple[list[bool], int]:
        auth = BasicAuthenticator(max_concurrent=1, cache_size=2)
        users = {u: _hash(u).encode() for u in ("a", "b", "c")}
        try:
            for user in ("a", "b", "c"):
                assert await auth.check(users, user, user.encode())
            cached = [auth.cached(users, u, u.encode()) for u in ("a", "b", "c")]
            dummy = auth._dummy_hash({"x": _hash("x").encode(), "y": users["a"]})
        finally:
            auth.close()
        return cached, bcrypt_cost(dummy)

    cached, dummy_cost = asyncio.run(scenario())
    assert cached == [False, True, True]
    assert dummy_cost == 4  # the cost the configured users have
