"""``promethean pushgateway``: flags as the Go Pushgateway's, plus the durable mode."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import urllib.parse

from promethean.config import ConfigError
from promethean.logs import kv, setup_logging
from promethean.model.durations import parse_duration
from promethean.pushgateway.api import Options, PushgatewayAPI, build_app
from promethean.pushgateway.persistence import Persistence, PersistenceError
from promethean.pushgateway.store import Store
from promethean.web import WebServer, add_web_flags, web_options

log = logging.getLogger("promethean.pushgateway")


def configure(parser: argparse.ArgumentParser) -> None:
    add_web_flags(parser, ":9091")
    add = parser.add_argument
    add("--web.telemetry-path", dest="telemetry_path", default="/metrics")
    add("--web.external-url", dest="external_url", default="")
    add("--web.route-prefix", dest="route_prefix", default="")
    add(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="enable shutdown via HTTP request (PUT or POST /-/quit)",
    )
    add(
        "--web.enable-admin-api",
        dest="enable_admin_api",
        action="store_true",
        help="enable PUT /api/v1/admin/wipe",
    )
    add(
        "--persistence.file",
        dest="persistence_file",
        default="",
        help="file to persist metrics in; empty: in memory only",
    )
    add(
        "--persistence.interval",
        dest="persistence_interval",
        default="5m",
        help="minimum interval between writes of the persistence file",
    )
    add(
        "--persistence.durable",
        dest="durable",
        action="store_true",
        help="acknowledge a change only once it is on disk (a crash loses nothing acknowledged)",
    )
    add(
        "--persistence.ignore-corrupt",
        dest="ignore_corrupt",
        action="store_true",
        help="start empty when the persistence file is corrupt instead of refusing to start",
    )
    add(
        "--push.disable-consistency-check",
        dest="no_consistency",
        action="store_true",
        help="do not check pushes for consistency with existing metrics",
    )
    add(
        "--push.max-body-size",
        dest="max_body",
        default=64 << 20,
        type=int,
        help="largest accepted push body in bytes (413 beyond it)",
    )
    add("--log.level", dest="log_level", default="info")
    add("--log.format", dest="log_format", default="logfmt")


def _flags(args: argparse.Namespace) -> dict[str, str]:
    def b(v: bool) -> str:
        return "true" if v else "false"

    return {
        "log.format": args.log_format,
        "log.level": args.log_level,
        "persistence.file": args.persistence_file,
        "persistence.interval": args.persistence_interval,
        "persistence.durable": b(args.durable),
        "push.disable-consistency-check": b(args.no_consistency),
        "web.enable-admin-api": b(args.enable_admin_api),
        "web.enable-lifecycle": b(args.enable_lifecycle),
        "web.external-url": args.external_url,
        "web.listen-address": ",".join(web_options(args).listen_addresses),
        "web.config.file": args.web_config_file,
        "web.route-prefix": args.route_prefix,
        "web.telemetry-path": args.telemetry_path,
    }


def _route_prefix(args: argparse.Namespace) -> str:
    """As upstream: --web.route-prefix, defaulting to the path of --web.external-url."""
    prefix: str = args.route_prefix or urllib.parse.urlparse(str(args.external_url)).path
    prefix = prefix.strip("/")
    return "/" + prefix if prefix else ""


async def serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM or ``/-/quit``, or until ``stop`` is set when a caller
    (``promethean stack``) owns the process's signals."""
    store = Store(consistency_check=not args.no_consistency)
    persistence: Persistence | None = None
    interval = parse_duration(args.persistence_interval)
    if args.persistence_file:
        persistence = Persistence(args.persistence_file, durable=args.durable)
        try:
            n = persistence.load(store, ignore_corrupt=args.ignore_corrupt)
        except PersistenceError as exc:
            log.error("cannot load persisted metrics", extra=kv(err=str(exc)))
            return 1
        log.info("metrics loaded", extra=kv(component="persistence", groups=n))
    api = PushgatewayAPI(
        store,
        persistence,
        Options(
            args.enable_admin_api,
            args.enable_lifecycle,
            _flags(args),
            args.max_body,
            args.telemetry_path,
            _route_prefix(args),
        ),
    )
    try:
        server = WebServer.from_options(build_app(api), web_options(args))
        await server.start()
    except ConfigError as exc:
        log.error("Unable to validate web configuration file", extra=kv(err=str(exc)))
        return 1
    except OSError as exc:
        log.error("cannot listen", extra=kv(err=str(exc)))
        return 1

    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)

    async def persist_loop() -> None:
        assert persistence is not None
        written = store.version
        while True:
            await asyncio.sleep(interval)
            if store.version != written:
                written = store.version
                await asyncio.to_thread(persistence.snapshot, store)

    tasks = [asyncio.create_task(stop.wait()), asyncio.create_task(api.quit_event.wait())]
    saver = asyncio.create_task(persist_loop()) if persistence else None
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for t in tasks:
        t.cancel()
    if saver:
        saver.cancel()
    await server.stop()
    if persistence is not None:
        await asyncio.to_thread(persistence.snapshot, store)
        persistence.close()
    log.info("see you next time!")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        setup_logging(args.log_level, args.log_format)
        parse_duration(args.persistence_interval)
    except ValueError as exc:
        print(f"promethean pushgateway: error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve(args))
