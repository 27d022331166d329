"""``promethean server``: the Prometheus server with upstream's flags, wired together.

Startup order and why:

1. The config is loaded first: a broken file exits with status 2 before
   anything listens (as upstream), so a unit restart loop is visible at once.
   With no ``--config.file`` given and no ``prometheus.yml`` present, a
   built-in config that scrapes the server itself is used (``make run``).
2. The web server starts next, so ``/-/healthy`` answers and ``/-/ready``
   says 503 while the TSDB opens and replays its WAL (which can take
   minutes); every other route answers ``503 Service Unavailable`` meanwhile.
3. Then the database opens in a worker thread, compaction starts in the
   background, scraping starts, and the server reports ready.

SIGHUP always reloads the config; ``/-/reload`` does only with
``--web.enable-lifecycle`` (SECURITY-MODEL P3). A reload that fails keeps the
running config, logs why and sets ``prometheus_config_last_reload_successful``
to 0 (S2). SIGTERM and SIGINT stop gracefully: web first, then scraping, then
the database is closed cleanly.

:class:`Server` is the reusable part (``promethean stack`` runs one in its
process); :func:`configure` and :func:`run` are the command.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import signal
import socket
import sys
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import re2
from aiohttp import web

from promethean.config import ConfigError
from promethean.logs import kv, setup_logging
from promethean.model.durations import parse_duration_ms
from promethean.promql.engine import Engine, EngineOptions
from promethean.promql.parser import ParserOptions
from promethean.scrape.config import parse_base2_bytes
from promethean.scrape.heapfreeze import HeapFreezer, release_free_memory
from promethean.server.admin import add_admin_routes
from promethean.server.config import PrometheusConfig, default_config, load_prometheus_config
from promethean.server.context import ServerContext, ServerOptions
from promethean.server.federate import add_federate_route
from promethean.server.lifecycle import add_lifecycle_routes
from promethean.server.selfmetrics import ServerMetrics, add_metrics_route
from promethean.web import WebServer, add_web_flags, web_options

__all__ = ["Server", "configure", "run"]

log = logging.getLogger("promethean.server")
_TRIM_INTERVAL_S = 10.0  # malloc_trim cadence: ~2 ms a call at 100k series

DEFAULT_CONFIG_FILE = "prometheus.yml"
# Answered before the TSDB is open; walreplay is how an operator watches a long replay.
_NOT_GUARDED = (
    "/-/healthy",
    "/-/ready",
    "/-/reload",
    "/-/quit",
    "/metrics",
    "/api/v1/status/walreplay",
)
_KNOWN_FEATURES = frozenset(
    {
        "promql-experimental-functions",
        "promql-duration-expr",
        "promql-extended-range-selectors",
        "promql-binop-fill-modifiers",
        "promql-delayed-name-removal",
        "remote-write-receiver",
        "exemplar-storage",
        "memory-snapshot-on-shutdown",
        "extra-scrape-metrics",
        "new-service-discovery-manager",
        "auto-gomaxprocs",
        "auto-gomemlimit",
        "concurrent-rule-eval",
        "created-timestamp-zero-ingestion",
        "native-histograms",
        "otlp-write-receiver",
    }
)


# --------------------------------------------------------------------------- flags


def configure(parser: argparse.ArgumentParser) -> None:
    """Upstream's server flags, names and defaults."""
    parser.allow_abbrev = False  # upstream refuses abbreviated flags; a typo must not pass
    parser.add_argument(
        "--config.file",
        dest="config_file",
        default=None,
        metavar="FILE",
        help=f"Prometheus configuration file path (default {DEFAULT_CONFIG_FILE}; when "
        "absent, a built-in config that scrapes this server is used)",
    )
    add_web_flags(parser, ":9090")
    web = parser.add_argument_group("server web")
    web.add_argument("--web.external-url", dest="external_url", default="", metavar="URL")
    web.add_argument("--web.route-prefix", dest="route_prefix", default="", metavar="PATH")
    web.add_argument("--web.enable-admin-api", dest="enable_admin_api", action="store_true")
    web.add_argument("--web.enable-lifecycle", dest="enable_lifecycle", action="store_true")
    web.add_argument(
        "--web.enable-remote-write-receiver",
        dest="enable_remote_write_receiver",
        action="store_true",
    )
    web.add_argument("--web.cors.origin", dest="cors_origin", default=".*", metavar="REGEX")
    storage = parser.add_argument_group("storage")
    storage.add_argument("--storage.tsdb.path", dest="tsdb_path", default="data/")
    storage.add_argument("--storage.tsdb.retention.time", dest="retention_time", default="15d")
    storage.add_argument("--storage.tsdb.retention.size", dest="retention_size", default="0B")
    storage.add_argument("--storage.tsdb.no-lockfile", dest="no_lockfile", action="store_true")
    query = parser.add_argument_group("query")
    query.add_argument("--query.timeout", dest="query_timeout", default="2m")
    query.add_argument("--query.max-samples", dest="query_max_samples", default="50000000")
    query.add_argument("--query.max-concurrency", dest="query_max_concurrency", default="20")
    query.add_argument("--query.lookback-delta", dest="query_lookback_delta", default="5m")
    parser.add_argument(
        "--enable-feature",
        dest="enable_feature",
        action="append",
        default=[],
        metavar="FEATURE",
        help="comma-separated feature names to enable",
    )
    parser.add_argument("--log.level", dest="log_level", default="info")
    parser.add_argument("--log.format", dest="log_format", default="logfmt")


def _flag_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flag_table(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, str]:
    """Every flag as ``/api/v1/status/flags`` shows it: upstream name -> string value."""
    out: dict[str, str] = {}
    for action in parser._actions:  # argparse keeps no public list of its actions
        for opt in action.option_strings:
            if opt.startswith("--") and opt != "--help":
                out[opt[2:]] = _flag_value(getattr(args, action.dest, None))
    out["config.file"] = args.config_file or DEFAULT_CONFIG_FILE
    out["web.listen-address"] = ",".join(
        args.web_listen_address or [args.web_default_listen_address]
    )
    return dict(sorted(out.items()))


def _features(args: argparse.Namespace) -> frozenset[str]:
    names = {f.strip() for item in args.enable_feature for f in item.split(",") if f.strip()}
    for name in sorted(names - _KNOWN_FEATURES):
        log.warning("Unknown option for --enable-feature", extra=kv(option=name))
    return frozenset(names & _KNOWN_FEATURES)


def _external_url(args: argparse.Namespace) -> str:
    if args.external_url:
        return str(args.external_url).rstrip("/")
    listen = (args.web_listen_address or [args.web_default_listen_address])[0]
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    return f"http://{host}:{port}"


def _route_prefix(args: argparse.Namespace, external_url: str) -> str:
    prefix = args.route_prefix or urllib.parse.urlsplit(external_url).path
    prefix = prefix.strip("/")
    return f"/{prefix}/" if prefix else "/"


def _cors(pattern: str) -> Any:
    try:
        return re2.compile(f"^(?:{pattern})$")
    except re2.error as exc:
        raise ValueError(f"could not compile CORS regex string {pattern!r}: {exc}") from None


def server_options(args: argparse.Namespace) -> ServerOptions:
    """The request-facing options; ValueError names the bad flag."""

    def duration(flag: str, text: str) -> int:
        try:
            return parse_duration_ms(text)
        except ValueError as exc:
            raise ValueError(f"--{flag}: {exc}") from None

    def integer(flag: str, text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise ValueError(
                f'--{flag}: strconv.ParseInt: parsing "{text}": invalid syntax'
            ) from None

    timeout_ms = duration("query.timeout", args.query_timeout)
    lookback = duration("query.lookback-delta", args.query_lookback_delta)
    duration("storage.tsdb.retention.time", args.retention_time)
    try:
        parse_base2_bytes(args.retention_size)
    except ValueError as exc:
        raise ValueError(f"--storage.tsdb.retention.size: {exc}") from None
    concurrency = integer("query.max-concurrency", args.query_max_concurrency)
    if concurrency < 1:
        raise ValueError("--query.max-concurrency must be at least 1")
    external = _external_url(args)
    return ServerOptions(
        cors_origin=_cors(args.cors_origin),
        cors_origin_text=args.cors_origin,
        enable_admin_api=args.enable_admin_api,
        enable_lifecycle=args.enable_lifecycle,
        enable_remote_write_receiver=args.enable_remote_write_receiver,
        external_url=external,
        route_prefix=_route_prefix(args, external),
        lookback_ms=lookback,
        query_timeout_s=timeout_ms / 1000.0,
        query_max_samples=integer("query.max-samples", args.query_max_samples),
        query_max_concurrency=concurrency,
        features=_features(args),
        config_file=args.config_file or DEFAULT_CONFIG_FILE,
        storage_path=args.tsdb_path,
        storage_retention=args.retention_time,
    )


# --------------------------------------------------------------------------- the server


class StartupError(Exception):
    """The server cannot start; ``exit_code`` is upstream's for the cause."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _self_target(args: argparse.Namespace) -> str:
    listen = (args.web_listen_address or [args.web_default_listen_address])[0]
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0", "::"):
        host = "localhost"
    return f"{host}:{port}"


class Server:
    """One running server. ``await start()``, ``await wait()``, ``await stop()``.

    ``default_config_factory`` gives the config used when no config file is
    named and ``prometheus.yml`` does not exist (``promethean stack`` passes
    its own, which also scrapes the Pushgateway).
    """

    def __init__(
        self,
        args: argparse.Namespace,
        flags: dict[str, str],
        default_config_factory: Callable[[], PrometheusConfig] | None = None,
    ) -> None:
        self.args = args
        self.options = server_options(args)
        self._default_factory = default_config_factory or (
            lambda: default_config(_self_target(args))
        )
        self._config_path = self._pick_config_path()
        self._config = self._load_initial()
        parser_options = ParserOptions(
            enable_experimental_functions="promql-experimental-functions" in self.options.features,
            enable_duration_expressions="promql-duration-expr" in self.options.features,
            enable_extended_range_selectors="promql-extended-range-selectors"
            in self.options.features,
            enable_binop_fill_modifiers="promql-binop-fill-modifiers" in self.options.features,
        )
        self.engine = Engine(
            None,
            EngineOptions(
                lookback_ms=self.options.lookback_ms,
                max_samples=self.options.query_max_samples,
                timeout_s=self.options.query_timeout_s,
                max_concurrency=self.options.query_max_concurrency,
                default_subquery_step_ms=round(self._config.global_.evaluation_interval * 1000),
                enable_delayed_name_removal="promql-delayed-name-removal" in self.options.features,
                parser_options=parser_options,
            ),
        )
        self.ctx = ServerContext(
            options=self.options,
            get_config=lambda: self._config,
            engine=self.engine,
            flags=flags,
            reload=self.reload,
            request_quit=self.request_quit,
        )
        self.metrics = ServerMetrics(self.ctx)
        self._stop = asyncio.Event()
        self._reload_lock = asyncio.Lock()
        self._web: WebServer | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._heap_freezer = HeapFreezer()
        self.app = self._build_app()

    # --- config ---------------------------------------------------------------

    def _pick_config_path(self) -> Path | None:
        if self.args.config_file:
            return Path(self.args.config_file)
        if Path(DEFAULT_CONFIG_FILE).exists():
            return Path(DEFAULT_CONFIG_FILE)
        return None

    def _load_initial(self) -> PrometheusConfig:
        if self._config_path is None:
            log.info(
                "No config file found; using the built-in config that scrapes this server",
                extra=kv(config_file=DEFAULT_CONFIG_FILE),
            )
            return self._default_factory()
        try:
            cfg = load_prometheus_config(self._config_path)
        except ConfigError as exc:
            log.error(
                f"Error loading config (--config.file={self._config_path})",
                extra=kv(file=str(self._config_path.absolute()), err=str(exc)),
            )
            raise StartupError(str(exc), 2) from None
        log.info(
            "Completed loading of configuration file", extra=kv(filename=str(self._config_path))
        )
        return cfg

    @property
    def config(self) -> PrometheusConfig:
        return self._config

    async def reload(self) -> None:
        """Re-read the config file; ConfigError (safe to show) keeps the running config."""
        async with self._reload_lock:
            path = self._config_path
            if path is None and Path(DEFAULT_CONFIG_FILE).exists():
                path = Path(DEFAULT_CONFIG_FILE)
            try:
                if path is None:
                    cfg = self._default_factory()
                else:
                    cfg = await asyncio.to_thread(load_prometheus_config, path)
            except ConfigError as exc:
                self.metrics.reload_done(False)
                self.ctx.last_reload_success = False
                message = f'couldn\'t load configuration (--config.file="{path}"): {exc}'
                log.error("Error reloading config", extra=kv(err=message))
                raise ConfigError(message) from None
            self._config_path = path
            self._config = cfg
            await self._apply_scrape_config()
            self.metrics.reload_done(True)
            self.ctx.last_reload_success = True
            self.ctx.last_config_time = time.time()
            log.info(
                "Completed loading of configuration file",
                extra=kv(filename=str(path) if path else "<built-in>"),
            )

    async def _reload_logged(self) -> None:
        with contextlib.suppress(ConfigError):
            await self.reload()

    async def _apply_scrape_config(self) -> None:
        manager = self.ctx.scrape_manager
        if manager is None:
            return
        configs = self._config.all_scrape_configs()
        await manager.apply_config(configs)
        # Static targets start at once; discovery's first snapshot follows.
        await manager.sync(_static_groups(configs))
        if self.ctx.discovery_manager is not None:
            self.ctx.discovery_manager.apply_config(configs)

    # --- HTTP -----------------------------------------------------------------

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=32 << 20)
        ctx = self.ctx
        app.middlewares.append(self.metrics.middleware())
        guarded_free = {ctx.path(p) for p in _NOT_GUARDED}

        @web.middleware
        async def readiness(
            request: web.Request,
            handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        ) -> web.StreamResponse:
            if not ctx.is_ready() and request.path not in guarded_free:
                return web.Response(
                    status=503, text="Service Unavailable", content_type="text/plain"
                )
            return await handler(request)

        app.middlewares.append(readiness)
        add_lifecycle_routes(app, ctx)
        add_admin_routes(app, ctx)
        add_federate_route(app, ctx)
        add_metrics_route(app, ctx)
        api = _optional_module("promethean.server.api")
        if api is not None and hasattr(api, "add_api_routes"):
            api.add_api_routes(app, ctx)
        return app

    # --- running --------------------------------------------------------------

    @property
    def web(self) -> WebServer:
        assert self._web is not None
        return self._web

    async def start(self) -> None:
        """Listen, open the TSDB, start scraping. Raises StartupError."""
        try:
            self._web = WebServer.from_options(self.app, web_options(self.args))
            await self._web.start()
        except ConfigError as exc:
            log.error("Unable to validate web configuration file", extra=kv(err=str(exc)))
            raise StartupError(str(exc), 1) from None
        except (OSError, ValueError) as exc:
            log.error("Unable to start web listener", extra=kv(err=str(exc)))
            raise StartupError(str(exc), 1) from None
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, self._spawn_reload)
        task = loop.create_task(self._open_storage())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _spawn_reload(self) -> None:
        task = asyncio.get_running_loop().create_task(self._reload_logged())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _open_storage(self) -> None:
        from promethean.tsdb.db import DB, DBError, DBOptions

        args = self.args
        tsdb = self._config.storage.tsdb
        opts = DBOptions(
            retention_ms=parse_duration_ms(args.retention_time),
            retention_bytes=parse_base2_bytes(args.retention_size),
            no_lockfile=args.no_lockfile,
            ooo_window=round(tsdb.out_of_order_time_window * 1000) if tsdb else 0,
        )
        log.info("Starting TSDB ...", extra=kv(path=args.tsdb_path))
        segments = _wal_segments(Path(args.tsdb_path) / "wal")
        replay = self.ctx.wal_replay
        if segments:
            replay.min, replay.max, replay.current = segments[0], segments[-1], segments[0]
        try:
            db = await asyncio.to_thread(DB, args.tsdb_path, opts)
        except (DBError, OSError) as exc:
            log.error("Opening storage failed", extra=kv(err=str(exc)))
            self.exit_code = 1
            self._stop.set()
            return
        replay.current = replay.max
        # The replayed head is long lived: keep full GC collections off it.
        self._heap_freezer.freeze_now()
        self.ctx.db = db
        self.engine.storage = db
        db.start(60.0)
        trim = asyncio.get_running_loop().create_task(self._release_memory_periodically())
        self._background.add(trim)
        trim.add_done_callback(self._background.discard)
        await self._start_scraping(db)
        self.ctx.set_ready()
        log.info("Server is ready to receive web requests.")

    async def _release_memory_periodically(self) -> None:
        """Hand the scrape workers' freed heap back to the kernel every 10 s."""
        while await asyncio.to_thread(release_free_memory):
            await asyncio.sleep(_TRIM_INTERVAL_S)

    async def _start_scraping(self, db: Any) -> None:
        from promethean.scrape.discovery.manager import DiscoveryManager
        from promethean.scrape.manager import ScrapeManager

        manager = ScrapeManager(db, heap_freezer=self._heap_freezer)
        self.ctx.scrape_manager = manager
        self.ctx.registry.register(manager.collector())
        self.ctx.discovery_manager = DiscoveryManager(self._on_discovery)
        await self._apply_scrape_config()

    def _on_discovery(self, update: dict[str, list[Any]]) -> None:
        """Hand discovery's snapshot to the scrape manager (off the discovery task)."""
        manager = self.ctx.scrape_manager
        if manager is None:
            return
        static = _static_groups(self._config.all_scrape_configs())
        # Until a job's providers have reported, keep its static targets scraping.
        merged = {job: groups or static.get(job, []) for job, groups in update.items()}
        task = asyncio.get_running_loop().create_task(manager.sync(merged))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    exit_code = 0

    def request_quit(self) -> None:
        """Begin a graceful stop (``/-/quit``, signals); returns at once."""
        self._stop.set()

    async def wait(self) -> None:
        await self._stop.wait()

    async def stop(self) -> None:
        """Stop serving, scraping and close the database (in that order)."""
        log.info("Stopping server...")
        if self._web is not None:
            await self._web.stop()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self.ctx.discovery_manager is not None:
            await self.ctx.discovery_manager.stop()
        if self.ctx.scrape_manager is not None:
            await self.ctx.scrape_manager.stop()
        if self.ctx.db is not None:
            await asyncio.to_thread(self.ctx.db.close)
        log.info("See you next time!")


def _optional_module(name: str) -> Any:
    """A sibling module that lands separately (API v1, discovery); None until it exists."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


def _wal_segments(wal_dir: Path) -> list[int]:
    """Numbers of the WAL segment files, sorted (what ``status/walreplay`` reports)."""
    try:
        names = [p.name for p in wal_dir.iterdir()]
    except OSError:
        return []
    return sorted(int(n) for n in names if n.isdigit())


def _static_groups(configs: list[Any]) -> dict[str, list[Any]]:
    """Target groups of ``static_configs`` (used when no discovery manager runs)."""
    return {
        cfg.job_name: [sc.group(str(i)) for i, sc in enumerate(cfg.static_configs)]
        for cfg in configs
    }


async def serve(
    args: argparse.Namespace,
    flags: dict[str, str],
    default_config_factory: Callable[[], PrometheusConfig] | None = None,
) -> int:
    try:
        server = Server(args, flags, default_config_factory)
        await server.start()
    except StartupError as exc:
        return exc.exit_code
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.request_quit)
    await server.wait()
    await server.stop()
    return server.exit_code


def run(args: argparse.Namespace) -> int:
    try:
        setup_logging(args.log_level, args.log_format)
    except ValueError as exc:
        print(f"promethean server: error: {exc}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(add_help=False)
    configure(parser)
    try:
        server_options(args)
    except ValueError as exc:
        print(f"promethean server: error: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(serve(args, flag_table(parser, args)))
