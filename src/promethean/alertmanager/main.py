"""``promethean alertmanager``: flags as the Go Alertmanager's, a single instance.

Clustering (gossip between Alertmanagers) is not supported: the only
accepted ``--cluster.listen-address`` is the empty string, which is also the
default here (upstream's default, ``0.0.0.0:9094``, turns clustering on).
Any other value, or a ``--cluster.peer``, is refused at start with a message
saying so, rather than silently running unclustered.

Persistence (``--storage.path``): silences and the notification log are
written to an append-only log and fsynced before the API answers or a
notification is recorded, and compacted into snapshots every
``--data.maintenance-interval`` and at shutdown (see ``store``). Alerts live in
memory, as upstream.

Reload: SIGHUP and ``POST /-/reload`` re-read the config file; a bad file is
logged and the old config keeps running.

:class:`Alertmanager` holds the running parts so the dispatcher can be wired
in: it reads ``alerts`` (subscribe), ``silences``, ``nflog`` and ``config``,
and registers ``on_reload`` callbacks to get each newly loaded config.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from promethean.alertmanager.alerts import Alert, AlertStore
from promethean.alertmanager.api import (
    ActiveConfig,
    AlertmanagerAPI,
    APIOptions,
    RouteHit,
    build_app,
)
from promethean.alertmanager.config import AlertmanagerConfig, load_alertmanager_config
from promethean.alertmanager.dispatch import attach
from promethean.alertmanager.inhibit import Inhibitor
from promethean.alertmanager.nflog import NotificationLog
from promethean.alertmanager.route import Route
from promethean.alertmanager.silences import Silences
from promethean.alertmanager.store import DurableLog, StoreError
from promethean.alertmanager.upstream_state import UpstreamStateError, read_upstream_silences
from promethean.config import ConfigError
from promethean.logs import kv, setup_logging
from promethean.model.durations import parse_duration
from promethean.model.labels import Labels
from promethean.web import WebServer, add_web_flags, web_options

__all__ = ["Alertmanager", "configure", "load_active_config", "run"]

log = logging.getLogger("promethean.alertmanager")


def configure(parser: argparse.ArgumentParser) -> None:
    add_web_flags(parser, ":9093")
    add = parser.add_argument
    add(
        "--config.file",
        dest="config_file",
        default="alertmanager.yml",
        help="Alertmanager configuration file name",
    )
    add(
        "--storage.path",
        dest="storage_path",
        default="data/",
        help="base path for data storage (silences and notification log)",
    )
    add(
        "--data.retention",
        dest="retention",
        default="120h",
        help="how long to keep data (expired silences, notification log entries)",
    )
    add(
        "--data.maintenance-interval",
        dest="maintenance_interval",
        default="15m",
        help="interval between garbage collection and snapshotting to disk",
    )
    add(
        "--alerts.gc-interval",
        dest="gc_interval",
        default="30m",
        help="interval between alert garbage collections",
    )
    add(
        "--web.external-url",
        dest="external_url",
        default="",
        help="the URL under which the Alertmanager is externally reachable",
    )
    add(
        "--web.route-prefix",
        dest="route_prefix",
        default=None,
        help="prefix for the internal routes of web endpoints (default: path of "
        "--web.external-url)",
    )
    add(
        "--web.get-concurrency",
        dest="get_concurrency",
        type=int,
        default=0,
        help="accepted for compatibility; no effect",
    )
    add(
        "--web.timeout",
        dest="web_timeout",
        default="0",
        help="accepted for compatibility; no effect",
    )
    add(
        "--web.reject-cross-site",
        dest="reject_cross_site",
        action="store_true",
        help="refuse alert and silence changes that a browser marks as cross-site "
        "(Origin / Sec-Fetch-Site); curl and amtool are unaffected",
    )
    add(
        "--api.max-body-bytes",
        dest="max_body",
        type=int,
        default=32 << 20,
        help="largest accepted API request body (413 beyond it)",
    )
    add(
        "--cluster.listen-address",
        dest="cluster_listen",
        default="",
        help='only "" is accepted: clustering is not supported (a single instance)',
    )
    add(
        "--cluster.peer",
        dest="cluster_peers",
        action="append",
        default=[],
        help="not supported (clustering); refused when given",
    )
    add(
        "--cluster.advertise-address",
        dest="cluster_advertise",
        default="",
        help="accepted for compatibility; no effect without clustering",
    )
    add("--log.level", dest="log_level", default="info")
    add("--log.format", dest="log_format", default="logfmt")


# -- configuration ------------------------------------------------------------------


def _route_hits(route_tree: Route) -> Callable[[Labels], list[RouteHit]]:
    """Adapt the routing tree (``route.Route``) to what the API asks of it."""
    cache: dict[Labels, list[RouteHit]] = {}

    def routes_for(labels: Labels) -> list[RouteHit]:
        hits = cache.get(labels)
        if hits is None:
            hits = []
            for route in route_tree.match(labels):
                hits.append(
                    RouteHit(
                        receiver=route.opts.receiver,
                        route_id=route.id(),
                        group_labels=Labels.from_dict(route.group_labels(labels)),
                    )
                )
            if len(cache) > 100_000:
                cache.clear()
            cache[labels] = hits
        return hits

    return routes_for


def _inhibition(inhibitor: Inhibitor) -> Callable[[Labels, float], list[str]]:
    """Adapt the inhibitor to what the API asks of it: the inhibiting fingerprints."""

    def inhibited_by(labels: Labels, now: float) -> list[str]:
        found = inhibitor.inhibited_by(labels, now)
        return [] if found is None else [found]

    return inhibited_by


def load_active_config(
    path: str | Path, alerts: AlertStore | None = None
) -> tuple[ActiveConfig, AlertmanagerConfig, Inhibitor]:
    """Load and validate the config file: the API's view, the config model, the inhibitor.

    The inhibitor has observed every alert in ``alerts``. Raises
    :class:`ConfigError` with a message safe to show.
    """
    cfg = load_alertmanager_config(path, deliverable=True)
    tree = Route.from_config(cfg)
    inhibitor = Inhibitor.from_config(cfg)
    if alerts is not None:
        for alert in alerts.all():
            inhibitor.observe(alert.fingerprint, alert.labels, alert.ends_at)
    active = ActiveConfig(
        original=cfg.render(),
        receivers=tuple(r.name for r in cfg.receivers),
        resolve_timeout=float(cfg.global_.resolve_timeout),
        routes_for=_route_hits(tree),
        inhibited_by=_inhibition(inhibitor),
    )
    return active, cfg, inhibitor


# -- the running Alertmanager ---------------------------------------------------------


class Alertmanager:
    """Stores, config and API of one running instance."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.retention = parse_duration(args.retention)
        self.storage = Path(args.storage_path)
        self.alerts = AlertStore()
        self.silences = Silences(DurableLog(self.storage, "silences"), self.retention)
        self.nflog = NotificationLog(DurableLog(self.storage, "nflog"), self.retention)
        self.config: AlertmanagerConfig | None = None
        self.inhibitor = Inhibitor([])
        self.active = ActiveConfig()
        self.alerts.subscribe(self._observe)
        self.alerts.on_gc(self._forget)
        self._reload_lock = asyncio.Lock()
        self.on_reload: list[Callable[[Any], None]] = []
        self.api = AlertmanagerAPI(
            self.alerts,
            self.silences,
            self.active,
            APIOptions(
                route_prefix=_route_prefix(args),
                max_body=args.max_body,
                external_url=args.external_url,
                reject_cross_site=args.reject_cross_site,
            ),
            reload=self.reload,
        )

    def load_config(self) -> None:
        """Initial load; raises ConfigError."""
        log.info("Loading configuration file", extra=kv(file=self.args.config_file))
        self.active, self.config, self.inhibitor = load_active_config(
            self.args.config_file, self.alerts
        )
        self.api.config = self.active
        log.info("Completed loading of configuration file", extra=kv(file=self.args.config_file))

    async def reload(self) -> str | None:
        """Re-read the config; on error keep the old one and return the message."""
        async with self._reload_lock:
            file = self.args.config_file
            log.info("Loading configuration file", extra=kv(file=file))
            try:
                active, cfg, inhibitor = await asyncio.to_thread(load_active_config, file)
            except ConfigError as exc:
                log.error("Loading configuration file failed", extra=kv(file=file, err=str(exc)))
                return str(exc)
            for alert in self.alerts.all():  # on the loop: no alert slips between
                inhibitor.observe(alert.fingerprint, alert.labels, alert.ends_at)
            self.active, self.config, self.inhibitor = active, cfg, inhibitor
            self.api.config = active
            for callback in list(self.on_reload):
                callback(cfg)
            log.info("Completed loading of configuration file", extra=kv(file=file))
            return None

    def _observe(self, alert: Alert) -> None:
        self.inhibitor.observe(alert.fingerprint, alert.labels, alert.ends_at)

    def _forget(self, gone: list[Alert]) -> None:
        for alert in gone:
            self.inhibitor.forget(alert.fingerprint)

    def load_state(self) -> None:
        """Read silences and the notification log from --storage.path; raises StoreError."""
        upstream = self.storage / "silences"
        fresh = not (self.storage / "silences.snap").exists()
        n = self.silences.load()
        if fresh and upstream.is_file():
            imported = read_upstream_silences(upstream)
            self.silences.restore(imported)
            self.silences.sync_blocking()
            n += len(imported)
            log.info(
                "imported silences from the Go Alertmanager's snapshot",
                extra=kv(component="store", file=str(upstream), silences=len(imported)),
            )
        m = self.nflog.load()
        log.info("state loaded", extra=kv(component="store", silences=n, nflog_entries=m))

    async def maintenance(self) -> None:
        """Garbage-collect and snapshot silences and the notification log."""
        for owner in (self.silences, self.nflog):
            compaction = owner.begin_compaction()
            if compaction is not None:
                await compaction.finish()

    async def run_maintenance(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                await self.maintenance()
            except OSError as exc:
                log.error("Running maintenance failed", extra=kv(err=exc))
                continue
            log.debug(
                "Maintenance done",
                extra=kv(duration=f"{time.monotonic() - started:.3f}s"),
            )

    async def run_alert_gc(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self.alerts.gc(time.time())


def _route_prefix(args: argparse.Namespace) -> str:
    """As upstream: --web.route-prefix, defaulting to the path of --web.external-url."""
    prefix = args.route_prefix
    if prefix is None:
        prefix = urllib.parse.urlparse(str(args.external_url)).path
    prefix = prefix.strip("/")
    return "/" + prefix if prefix else ""


def _external_url(args: argparse.Namespace, port: int) -> str:
    if args.external_url:
        return str(args.external_url).rstrip("/")
    return f"http://{socket.gethostname()}:{port}"


def _check_flags(args: argparse.Namespace) -> str | None:
    if args.cluster_listen != "":
        return (
            f'--cluster.listen-address="{args.cluster_listen}": clustering is not supported; '
            'promethean runs a single Alertmanager instance (use --cluster.listen-address="")'
        )
    if args.cluster_peers and any(p for p in args.cluster_peers):
        return "--cluster.peer: clustering is not supported; promethean runs a single instance"
    for flag, name in (
        ("--data.retention", "retention"),
        ("--data.maintenance-interval", "maintenance_interval"),
        ("--alerts.gc-interval", "gc_interval"),
    ):
        try:
            value = parse_duration(getattr(args, name))
        except ValueError as exc:
            return f"{flag}: {exc}"
        if value <= 0 and name != "retention":
            return f"{flag}: must be positive"
    if args.external_url:
        parsed = urllib.parse.urlparse(args.external_url)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            return (
                f'failed to determine external URL: "{args.external_url}": '
                'only absolute "http" and "https" URLs are supported'
            )
    return None


async def serve(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """Run until SIGINT/SIGTERM, or until ``stop`` is set when a caller (``promethean
    stack``) owns the process's signals."""
    am = Alertmanager(args)
    try:
        am.load_config()
    except ConfigError as exc:
        log.error(
            "Loading configuration file failed", extra=kv(file=args.config_file, err=str(exc))
        )
        return 1
    try:
        am.load_state()
    except (StoreError, UpstreamStateError, OSError) as exc:
        log.error("cannot load state", extra=kv(component="store", err=str(exc)))
        return 1
    try:
        server = WebServer.from_options(build_app(am.api), web_options(args))
        await server.start()
    except ConfigError as exc:
        log.error("Unable to validate web configuration file", extra=kv(err=str(exc)))
        return 1
    except OSError as exc:
        log.error("Listen error", extra=kv(err=str(exc)))
        return 1
    port = server.addresses[0][1] if server.addresses else 9093
    am.api.options.external_url = _external_url(args, port)
    dispatcher = attach(am)
    am.api.groups_source = dispatcher.alert_groups

    loop = asyncio.get_running_loop()
    received: list[str] = []
    if stop is None:
        stop = asyncio.Event()
        stop_event = stop

        def on_stop(name: str) -> None:
            received.append(name)
            stop_event.set()

        loop.add_signal_handler(signal.SIGINT, on_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGTERM, on_stop, "SIGTERM")
        reloads: set[asyncio.Task[Any]] = set()

        def on_hup() -> None:
            task = loop.create_task(am.reload())
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)
    background = [
        loop.create_task(am.run_maintenance(parse_duration(args.maintenance_interval))),
        loop.create_task(am.run_alert_gc(parse_duration(args.gc_interval))),
    ]
    await stop.wait()
    log.info(f"Received {received[0] if received else 'signal'}, exiting gracefully...")
    for task in background:
        task.cancel()
    await asyncio.gather(*background, return_exceptions=True)
    await dispatcher.stop()
    await server.stop()
    with contextlib.suppress(OSError):
        await am.maintenance()
    am.silences.close()
    am.nflog.close()
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        setup_logging(args.log_level, args.log_format)
    except ValueError as exc:
        print(f"promethean alertmanager: error: {exc}", file=sys.stderr)
        return 2
    problem = _check_flags(args)
    if problem is not None:
        print(f"promethean alertmanager: error: {problem}", file=sys.stderr)
        return 1
    return asyncio.run(serve(args))
