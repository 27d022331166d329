"""Scrape offsets equal Go Prometheus's for the same target, interval and server.

Derivation (upstream ``scrape/target.go`` and ``scrape/manager.go``):

1. ``labels.Labels.Hash()``: XXH64 (seed 0) of ``name 0xff value 0xff`` for every
   label of the target, sorted by name. The labels are *all* the target's labels
   (``Target.labels``): ``__address__``, ``__metrics_path__``, ``__scheme__``,
   ``__scrape_interval__``, ``__scrape_timeout__`` as well as ``instance`` and ``job``.
2. ``Target.hash()``: FNV-1a 64 of ``fmt.Sprintf("%016d", labelsHash)`` followed by
   the scrape URL.
3. ``Manager.setOffsetSeed``: FNV-1a 64 of ``fqdn + externalLabels.String()``
   (``{}`` when there are none).
4. ``Target.offset(interval, seed)``, in nanoseconds: ``base = interval - now %
   interval``; ``offset = (hash ^ seed) % interval``; ``next = base + offset``,
   minus ``interval`` if over it. So the first scrape, and every later one,
   lands at ``(hash ^ seed) % interval`` past a multiple of the interval.

The numbers below follow these steps by hand for one target; the last test
runs the real Go Prometheus (Debian package) and our manager against the same
three targets and checks that both scrape each at the predicted phase.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
from aiohttp import web

from promethean.model.hashing import labels_hash, xxhash64
from promethean.model.labels import Labels
from promethean.scrape.config import ScrapeConfig
from promethean.scrape.discovery.targetgroup import TargetGroup
from promethean.scrape.loop import go_fqdn, offset_seed, scrape_offset, target_hash
from promethean.scrape.manager import ScrapeManager
from promethean.tsdb.db import DB

NODE = Labels.from_dict(
    {
        "__address__": "127.0.0.1:9100",
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
        "__scrape_interval__": "15s",
        "__scrape_timeout__": "10s",
        "instance": "127.0.0.1:9100",
        "job": "node",
    }
)
NODE_URL = "http://127.0.0.1:9100/metrics"


_P1 = 11400714785074694791
_P2 = 14029467366897019727
_P3 = 1609587929392839161
_P4 = 9650029242287828579
_P5 = 2870177450012600261
_M = (1 << 64) - 1


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * _P2) & _M
    acc = _rotl(acc, 31)
    return (acc * _P1) & _M


def _merge(acc: int, val: int) -> int:
    acc ^= _round(0, val)
    return (acc * _P1 + _P4) & _M


def promql_xxhash64(data: bytes, seed: int = 0) -> int:
    """A second, independent XXH64 (the straightforward byte-slicing form) to check
    model.hashing's unpacking fast path against on every length and seed."""
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + _P1 + _P2) & _M
        v2 = (seed + _P2) & _M
        v3 = seed & _M
        v4 = (seed - _P1) & _M
        while i + 32 <= n:
            v1 = _round(v1, int.from_bytes(data[i : i + 8], "little"))
            v2 = _round(v2, int.from_bytes(data[i + 8 : i + 16], "little"))
            v3 = _round(v3, int.from_bytes(data[i + 16 : i + 24], "little"))
            v4 = _round(v4, int.from_bytes(data[i + 24 : i + 32], "little"))
            i += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + _P5) & _M
    h = (h + n) & _M
    while i + 8 <= n:
        k1 = _round(0, int.from_bytes(data[i : i + 8], "little"))
        h ^= k1
        h = (_rotl(h, 27) * _P1 + _P4) & _M
        i += 8
    if i + 4 <= n:
        h ^= (int.from_bytes(data[i : i + 4], "little") * _P1) & _M
        h = (_rotl(h, 23) * _P2 + _P3) & _M
        i += 4
    while i < n:
        h ^= (data[i] * _P5) & _M
        h = (_rotl(h, 11) * _P1) & _M
        i += 1
    h ^= h >> 33
    h = (h * _P2) & _M
    h ^= h >> 29
    h = (h * _P3) & _M
    h ^= h >> 32
    return h


def test_xxhash64_reference_vectors() -> None:
    # From the XXH64 reference implementation / python-xxhash documentation.
    assert xxhash64(b"") == 0xEF46DB3751D8E999
    assert xxhash64(b"a") == 0xD24EC4F1A98C6E5B
    assert xxhash64(b"abc") == 0x44BC2CF5AD770999
    assert xxhash64(b"Nobody inspects the spammish repetition") == 0xFBCEA83C8A378BF1


def test_xxhash64_agrees_with_the_promql_copy_on_every_length_and_seed() -> None:
    rng = random.Random(7)
    for n in range(0, 260):
        data = bytes(rng.getrandbits(8) for _ in range(n))
        for seed in (0, 1, 2**64 - 1):
            assert xxhash64(data, seed) == promql_xxhash64(data, seed), (n, seed)


def test_go_label_hash_target_hash_and_offset_step_by_step() -> None:
    raw = (
        b"__address__\xff127.0.0.1:9100\xff__metrics_path__\xff/metrics\xff"
        b"__scheme__\xffhttp\xff__scrape_interval__\xff15s\xff__scrape_timeout__\xff10s\xff"
        b"instance\xff127.0.0.1:9100\xffjob\xffnode\xff"
    )
    # Step 1: labels.Hash() = XXH64(raw).
    assert labels_hash(NODE) == xxhash64(raw) == 18240159482206059912
    # Step 2: FNV-1a over "%016d" of it (already 20 digits here) and the URL.
    thash = target_hash(NODE, NODE_URL)
    assert thash == _fnv1a(b"18240159482206059912" + NODE_URL.encode()) == 11761279096432490580
    # Step 3: the seed of a server on host "localhost" without external labels.
    seed = offset_seed(None, "localhost")
    assert seed == _fnv1a(b"localhost{}") == 16911716932341242890
    assert offset_seed(Labels.from_dict({"dc": "eu", "r": 'a"b'}), "h") == _fnv1a(
        b'h{dc="eu", r="a\\"b"}'
    )
    # Step 4: phase (hash ^ seed) % 15s = 7.568199774 s; at now = 1.7e9 s (5 s into
    # an interval) the wait is 10 s + 7.568199774 s - 15 s; 9 s later (14 s in),
    # 1 s + 7.568199774 s.
    assert (thash ^ seed) % 15_000_000_000 == 7_568_199_774
    assert scrape_offset(thash, 15.0, seed, 1_700_000_000.0) == pytest.approx(2.568199774)
    assert scrape_offset(thash, 15.0, seed, 1_700_000_009.0) == pytest.approx(8.568199774)


def test_labels_over_one_kilobyte_hash_as_one_piece() -> None:
    # Go streams label sets over 1 KiB into the digest; XXH64 streamed is XXH64 whole.
    big = Labels.from_dict({f"l{i:03d}": "v" * 20 for i in range(60)})
    raw = b"".join(k.encode() + b"\xff" + v.encode() + b"\xff" for k, v in big)
    assert len(raw) > 1024
    assert labels_hash(big) == xxhash64(raw)


def _fnv1a(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


# --- against the real Go Prometheus ------------------------------------------------

PROMETHEUS = "/usr/bin/prometheus"
INTERVAL_NS = 2_000_000_000


def _go_prometheus_or_skip() -> str:
    path = shutil.which("prometheus") or (PROMETHEUS if os.path.exists(PROMETHEUS) else None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Go Prometheus (/usr/bin/prometheus) is required in CI")
        print("SKIP REASON: /usr/bin/prometheus (Debian package prometheus) is not installed")
        pytest.skip("/usr/bin/prometheus (Debian package prometheus) is not installed")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _phase_error_ms(arrival_ns: int, predicted_ns: int) -> float:
    """How long after the predicted phase a request arrived (in [0, interval))."""
    return ((arrival_ns - predicted_ns) % INTERVAL_NS) / 1e6


def test_go_prometheus_and_ours_scrape_each_target_at_the_predicted_phase(
    tmp_path: Path,
) -> None:
    prom = _go_prometheus_or_skip()
    arrivals: dict[tuple[int, str], list[int]] = {}

    async def go() -> list[int]:
        runners: list[web.AppRunner] = []
        ports: list[int] = []
        for _ in range(3):
            app = web.Application()

            async def handler(request: web.Request) -> web.Response:
                who = "go" if "promethean" not in request.headers.get("User-Agent", "") else "us"
                port = request.url.port or 0
                arrivals.setdefault((port, who), []).append(time.time_ns())
                return web.Response(text="x 1\n", content_type="text/plain")

            app.router.add_get("/metrics", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        targets = [f"127.0.0.1:{p}" for p in ports]
        cfg_path = tmp_path / "prometheus.yml"
        cfg_path.write_text(
            "scrape_configs:\n  - job_name: off\n    scrape_interval: 2s\n"
            f"    scrape_timeout: 1s\n    static_configs: [{{targets: {targets!r}}}]\n".replace(
                "'", '"'
            )
        )
        proc = subprocess.Popen(
            [
                prom,
                f"--config.file={cfg_path}",
                f"--web.listen-address=127.0.0.1:{_free_port()}",
                f"--storage.tsdb.path={tmp_path / 'go-data'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        db = DB(tmp_path / "ours")
        mgr = ScrapeManager(db, offset_seed=offset_seed())
        try:
            cfg = ScrapeConfig.model_validate(
                {"job_name": "off", "scrape_interval": "2s", "scrape_timeout": "1s"}
            )
            await mgr.apply_config([cfg])
            group = TargetGroup("static", [{"__address__": t} for t in targets], {})
            await mgr.sync({"off": [group]})
            for _ in range(120):  # bounded: ~12 s
                await asyncio.sleep(0.1)
                if all(arrivals.get((p, w)) for p in ports for w in ("go", "us")):
                    break
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 10)
            await mgr.stop()
            db.close()
            for r in runners:
                await r.cleanup()
        return ports

    ports = asyncio.run(go())
    seed = offset_seed(None, go_fqdn())
    for port in ports:
        all_labels = Labels.from_dict(
            {
                "__address__": f"127.0.0.1:{port}",
                "__metrics_path__": "/metrics",
                "__scheme__": "http",
                "__scrape_interval__": "2s",
                "__scrape_timeout__": "1s",
                "instance": f"127.0.0.1:{port}",
                "job": "off",
            }
        )
        predicted = (target_hash(all_labels, f"http://127.0.0.1:{port}/metrics") ^ seed) % (
            INTERVAL_NS
        )
        for who in ("go", "us"):
            seen = arrivals.get((port, who), [])
            assert seen, f"{who} never scraped 127.0.0.1:{port}"
            # A request arrives a little after its tick; 150 ms of slack on a busy
            # machine still leaves a 1-in-13 chance per target of a wrong formula passing.
            errors = [_phase_error_ms(a, predicted) for a in seen]
            assert min(errors) < 150, (who, port, errors)
