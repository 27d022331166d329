"""What basic auth costs once a login is cached: requests/s without and with it.

One command: ``.venv/bin/python bench/web_auth_bench.py [--requests N] [--rounds R]``.
It starts a promethean WebServer in a separate process twice per round, once
with no web config and once with ``basic_auth_users`` (bcrypt cost 10), and
drives N requests over keep-alive connections from this process (aiohttp
client, 8 concurrent connections). The first authenticated request pays one
bcrypt; every later one hits the success cache. The best round of each is
reported with the ratio; the target is a throughput loss under 10%.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import bcrypt

CONCURRENCY = 8


def _serve(config: str) -> None:
    from aiohttp import web

    from promethean.web import WebServer

    async def hello(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/", hello)
        server = WebServer(app, ["127.0.0.1:0"], config or None)
        await server.start()
        print(server.addresses[0][1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        await server.stop()

    asyncio.run(main())


async def _drive(port: int, total: int, headers: dict[str, str]) -> float:
    url = f"http://127.0.0.1:{port}/"
    connector = aiohttp.TCPConnector(limit=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        async with session.get(url) as resp:  # warm-up (and the one bcrypt)
            assert resp.status == 200, resp.status
            await resp.read()
        remaining = total

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with session.get(url) as resp:
                    await resp.read()
                    if resp.status != 200:
                        raise RuntimeError(f"unexpected status {resp.status}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return total / (time.perf_counter() - start)


def _run(config: str, total: int, headers: dict[str, str]) -> float:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", config],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        return asyncio.run(_drive(port, total, headers))
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return 0
    password = b"bench-password"
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(10)).decode()
    token = base64.b64encode(b"alice:" + password).decode()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "web.yml"
        config.write_text(f"basic_auth_users:\n  alice: '{hashed}'\n")
        plain: list[float] = []
        authed: list[float] = []
        for _ in range(args.rounds):
            plain.append(_run("", args.requests, {}))
            authed.append(_run(str(config), args.requests, {"Authorization": f"Basic {token}"}))
    best_plain, best_auth = max(plain), max(authed)
    print(f"requests per run: {args.requests}, keep-alive connections: {CONCURRENCY}")
    for label, best, rounds in (
        ("no auth:           ", best_plain, plain),
        ("basic auth, cached:", best_auth, authed),
    ):
        shown = ", ".join(f"{r:.0f}" for r in rounds)
        print(f"{label} {best:8.0f} req/s  (rounds: {shown})")
    ratio = best_auth / best_plain
    print(f"ratio auth/no-auth: {ratio:.3f}  (throughput cost {100 * (1 - ratio):.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
