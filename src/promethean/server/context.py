"""What every part of the server's HTTP surface shares: the :class:`ServerContext`.

The server's routes are written by more than one module (the API v1 in
``server.api``; lifecycle, admin, federation and ``/metrics`` beside it).
They meet only here, so that none of them reaches into the command's wiring
(``server.main``) and each can be tested with a context built by hand.

Contract for route modules:

* A module registers its routes with ``add_*_routes(app, ctx)`` and builds
  every path with :meth:`ServerContext.path` (the ``--web.route-prefix``).
  ``server.api`` exposes ``add_api_routes(app: web.Application, ctx:
  ServerContext) -> None``; it owns CORS and the ``OPTIONS -> 204`` answer for
  *every* path under ``<prefix>api/v1/`` (the admin routes included), and the
  router's plain-text 404/405 for the whole app. It may append middlewares.
* Until :meth:`ServerContext.is_ready` is true the database is not open:
  :attr:`ServerContext.db` is ``None`` and every route except ``/-/healthy``
  and ``/-/ready`` answers ``503 Service Unavailable`` (as upstream's
  readiness wrapper does); ``server.main`` installs that guard.
* The current configuration is read through :meth:`ServerContext.config`
  each time it is needed, never cached: a reload replaces it.
* Secrets: :meth:`ServerContext.config_yaml` is the only rendering of the
  config that may leave the process (``<secret>`` for secrets, ``xxxxx`` for
  URL passwords).
"""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry

from promethean import __version__

if TYPE_CHECKING:
    from promethean.promql.engine import Engine
    from promethean.server.config import PrometheusConfig
    from promethean.tsdb.db import DB

__all__ = [
    "BuildInfo",
    "QueryLoad",
    "QueryTicket",
    "ServerContext",
    "ServerOptions",
    "WalReplayStatus",
]


@dataclass(frozen=True)
class ServerOptions:
    """The server's flags that change how requests are answered.

    ``cors_origin`` is compiled fully anchored (``^(?:...)$``) with RE2, so
    ``cors_origin.fullmatch(origin)`` or ``.match`` decide alike.
    ``cors_origin_text`` is the flag as given (``.*`` means: answer ``*``).
    ``external_url`` always ends without a slash; ``route_prefix`` always
    starts and ends with one (``/`` by default).
    """

    cors_origin: Any  # an RE2 pattern, compiled fully anchored
    cors_origin_text: str = ".*"
    enable_admin_api: bool = False
    enable_lifecycle: bool = False
    enable_remote_write_receiver: bool = False
    external_url: str = "http://localhost:9090"
    route_prefix: str = "/"
    lookback_ms: int = 300_000
    query_timeout_s: float = 120.0
    query_max_samples: int = 50_000_000
    query_max_concurrency: int = 20
    features: frozenset[str] = frozenset()
    config_file: str = "prometheus.yml"
    storage_path: str = "data/"
    storage_retention: str = "15d"


@dataclass(frozen=True)
class BuildInfo:
    """``/api/v1/status/buildinfo`` and ``prometheus_build_info``."""

    version: str = __version__
    revision: str = ""
    branch: str = ""
    build_user: str = ""
    build_date: str = ""
    go_version: str = f"python{platform.python_version()}"

    def as_json(self) -> dict[str, str]:
        """Upstream's key names (``goVersion`` keeps its name; it holds the runtime)."""
        return {
            "version": self.version,
            "revision": self.revision,
            "branch": self.branch,
            "buildUser": self.build_user,
            "buildDate": self.build_date,
            "goVersion": self.go_version,
        }


@dataclass
class WalReplayStatus:
    """``/api/v1/status/walreplay``: segments replayed so far (all 0 once done or none)."""

    min: int = 0
    max: int = 0
    current: int = 0

    def as_json(self) -> dict[str, int]:
        return {"min": self.min, "max": self.max, "current": self.current}


class QueryTicket:
    """One query's place in the pool: waiting, then running, or abandoned while waiting.

    Every transition happens once, under the load's lock, whichever side (the
    worker that picks the query up, the request that gives up on it) gets
    there first; so the counts stay right even when a client goes away.
    """

    __slots__ = ("_load", "_state")

    def __init__(self, load: QueryLoad) -> None:
        self._load = load
        self._state = "waiting"

    def start(self, queued_s: float) -> bool:
        """The worker takes the query; False when the request already gave up."""
        load = self._load
        with load._lock:
            if self._state != "waiting":
                return False
            self._state = "running"
            load.waiting -= 1
            load.executing += 1
        load.observe_queue_time(queued_s)
        return True

    def finish(self) -> None:
        load = self._load
        with load._lock:
            if self._state == "running":
                load.executing -= 1
                self._state = "done"

    def abandon(self) -> bool:
        """Give up a query that has not started; False if it is running or done."""
        load = self._load
        with load._lock:
            if self._state != "waiting":
                return False
            self._state = "abandoned"
            load.waiting -= 1
            return True


class QueryLoad:
    """Queries waiting for and holding one of the ``--query.max-concurrency`` slots.

    The query pool updates it from the loop and its workers; ``/metrics``
    reads it (``prometheus_engine_queries``, the ``queue_time`` slice), so
    an operator sees when queries queue behind the limit (D1).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.waiting = 0
        self.executing = 0
        self.observe_queue_time: Callable[[float], None] = lambda seconds: None

    def submit(self) -> QueryTicket:
        with self._lock:
            self.waiting += 1
        return QueryTicket(self)

    @property
    def active(self) -> int:
        """Executing or waiting, as upstream's ``prometheus_engine_queries``."""
        with self._lock:
            return self.waiting + self.executing


def _rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def _no_reload() -> None:
    return None


def _no_quit() -> None:
    return None


@dataclass
class ServerContext:
    """Everything a route of the server may use; built by ``server.main``.

    Mutable fields (``db``, ``scrape_manager``, the reload status) are set by
    the command as the server starts and reloads; route handlers only read
    them. ``reload()`` raises :class:`promethean.config.ConfigError` (message
    safe to show) and keeps the running config; ``request_quit()`` starts a
    graceful stop and returns at once.
    """

    options: ServerOptions
    get_config: Callable[[], PrometheusConfig]
    engine: Engine
    flags: Mapping[str, str] = field(default_factory=dict)
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    db: DB | None = None
    scrape_manager: Any = None  # promethean.scrape.manager.ScrapeManager once running
    discovery_manager: Any = None  # promethean.scrape.discovery.DiscoveryManager
    build_info: BuildInfo = field(default_factory=BuildInfo)
    start_time: float = field(default_factory=time.time)
    reload: Callable[[], Awaitable[None]] = _no_reload
    request_quit: Callable[[], None] = _no_quit
    wal_replay: WalReplayStatus = field(default_factory=WalReplayStatus)
    query_load: QueryLoad = field(default_factory=QueryLoad)
    last_reload_success: bool = True
    last_config_time: float = field(default_factory=time.time)
    _ready: threading.Event = field(default_factory=threading.Event)

    # --- readiness --------------------------------------------------------------

    def is_ready(self) -> bool:
        """True once the TSDB is open and its WAL replayed (``/-/ready`` is 200)."""
        return self._ready.is_set()

    def set_ready(self) -> None:
        self._ready.set()

    # --- config ---------------------------------------------------------------

    def config(self) -> PrometheusConfig:
        """The running configuration (replaced by each successful reload)."""
        return self.get_config()

    def config_yaml(self) -> str:
        """The running config as ``/api/v1/status/config`` shows it: secrets masked."""
        from promethean.server.config import render_prometheus_config

        return render_prometheus_config(self.get_config())

    def external_labels(self) -> dict[str, str]:
        """``global.external_labels`` of the running config."""
        return dict(self.get_config().global_.external_labels)

    # --- paths ----------------------------------------------------------------

    def path(self, route: str) -> str:
        """``route`` (``/api/v1/query``) under ``--web.route-prefix``."""
        return self.options.route_prefix.rstrip("/") + "/" + route.lstrip("/")

    # --- status pages ---------------------------------------------------------

    def runtime_info(self) -> dict[str, Any]:
        """``/api/v1/status/runtimeinfo`` with upstream's keys (Go ones mapped to Python's)."""
        return {
            "startTime": _rfc3339(self.start_time),
            "CWD": os.getcwd(),
            "reloadConfigSuccess": self.last_reload_success,
            "lastConfigTime": datetime.fromtimestamp(int(self.last_config_time), UTC).strftime(
                "%Y-%m-%dT%H:%M:%SZ"
            ),
            "corruptionCount": self.db.stats.wal_corruptions if self.db is not None else 0,
            "goroutineCount": threading.active_count(),
            "GOMAXPROCS": os.cpu_count() or 1,
            "GOGC": os.environ.get("GOGC", ""),
            "GODEBUG": os.environ.get("GODEBUG", ""),
            "storageRetention": self.options.storage_retention,
        }

    def python_version(self) -> str:
        return sys.version.split()[0]
