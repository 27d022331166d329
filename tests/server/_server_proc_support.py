"""The real ``promethean server`` as a child process on 127.0.0.1, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http(
    method: str,
    url: str,
    params: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
    form: Sequence[tuple[str, str]] | Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    if params:
        url += "?" + urllib.parse.urlencode(params)
    data = None
    hdrs = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=30) as resp:
            return Response(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as err:
        return Response(err.code, dict(err.headers.items()), err.read())


@dataclass
class ServerProc:
    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path

    def request(self, method: str, path: str, **kwargs: object) -> Response:
        return http(method, self.url + path, **kwargs)  # type: ignore[arg-type]

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, needle: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.log():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not logged:\n{self.log()}")
            time.sleep(0.05)


def spawn(workdir: Path, args: Sequence[str]) -> tuple[subprocess.Popen[bytes], Path]:
    log_path = workdir / f"server-{len(list(workdir.glob('server-*.log')))}.log"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src")
    proc = subprocess.Popen(
        [sys.executable, "-m", "promethean.cli", "server", *args],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=log_path.open("wb"),
        env=env,
    )
    return proc, log_path


def run_to_exit(workdir: Path, args: Sequence[str], timeout: float = 30.0) -> tuple[int, str]:
    """Run the command until it exits by itself; its status and stderr."""
    proc, log_path = spawn(workdir, args)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    return code, log_path.read_text(encoding="utf-8", errors="replace")


@contextmanager
def running_server(
    workdir: Path,
    *flags: str,
    config: str | None = None,
    wait_ready: bool = True,
) -> Iterator[ServerProc]:
    """Start the server (config written to ``prometheus.yml`` when given); stop it after."""
    port = free_port()
    args = [f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.path=data"]
    if config is not None:
        (workdir / "prometheus.yml").write_text(config)
        args.append("--config.file=prometheus.yml")
    proc, log_path = spawn(workdir, [*args, *flags])
    server = ServerProc(f"http://127.0.0.1:{port}", proc, log_path, workdir)
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"server exited with {proc.returncode}:\n{server.log()}")
            try:
                if http("GET", server.url + "/-/ready").status == 200 or not wait_ready:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"server not ready:\n{server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
