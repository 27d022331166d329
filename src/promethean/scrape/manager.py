"""The scrape manager: one pool per job, one loop per target, kept in step with
config reloads and service discovery.

* :meth:`ScrapeManager.apply_config` takes the ``scrape_configs`` list. A job
  whose config is unchanged keeps running untouched (its loops, caches and
  target state survive the reload); a changed job restarts its loops with the
  new settings, handing over the series cache when only the interval, timeout,
  sample limit or HTTP client changed (Go's ``reusableCache``), so no stale
  markers and no new series appear; a removed job stops without stale markers
  (as upstream: its pool's context is cancelled).
* :meth:`ScrapeManager.sync` takes ``{job: [TargetGroup]}`` from discovery.
  Each target goes through ``promethean.scrape.targets.populate_labels``;
  targets dropped by relabelling are kept (up to ``keep_dropped_targets``) for
  the targets API; targets that fail validation are logged and shown nowhere
  (as upstream). Loops are keyed by final labels and URL, so duplicate targets
  collapse into one. A target that goes away stops, and two intervals later its
  series get stale markers unless it came back.
* ``target_limit``: when a job has more active targets than the limit, every
  loop of the job fails its scrapes with upstream's error (``up`` 0, stale
  markers) until the number drops.

Accessors for the API: :meth:`active_targets`, :meth:`dropped_targets`,
:meth:`targets_api` (the ``/api/v1/targets`` data object), :meth:`metadata`
(``/api/v1/metadata``) and :meth:`target_metadata` (``/api/v1/targets/metadata``).
Self-metrics: :attr:`ScrapeManager.stats` (counters shared by all loops),
:meth:`pool_targets`, :meth:`discovered_targets`, and :meth:`collector`, a
``prometheus_client`` collector exposing them under upstream's names.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import logging
import os
import socket
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from promethean.logs import kv
from promethean.model.labels import Labels
from promethean.scrape.config import ScrapeConfig
from promethean.scrape.discovery.targetgroup import TargetGroup
from promethean.scrape.heapfreeze import HeapFreezer
from promethean.scrape.loop import USER_AGENT, LoopSettings, MetricMetadata, ScrapeLoop
from promethean.scrape.stats import ScrapeCollector, ScrapeStats
from promethean.scrape.targets import Target, targets_from_group
from promethean.tsdb.storage import Storage

__all__ = ["ActiveTarget", "DroppedTarget", "ScrapeManager", "SessionFactory"]

log = logging.getLogger("promethean.scrape")

SessionFactory = Callable[[ScrapeConfig, str], tuple[aiohttp.ClientSession, Mapping[str, Any]]]
"""Builds a job's HTTP client from its scrape config: (session, per-request options)."""

# Fields that do not change what a loop's cache holds (Go's zeroConfig).
_CACHE_NEUTRAL = {"scrape_interval", "scrape_timeout", "sample_limit"}


@dataclass(slots=True)
class ActiveTarget:
    """A scraped target as the API sees it; ``loop`` holds its live state."""

    job: str
    target: Target
    loop: ScrapeLoop

    @property
    def labels(self) -> Labels:
        return self.target.labels

    @property
    def url(self) -> str:
        return self.target.scrape_url

    def to_api(self) -> dict[str, Any]:
        h = self.loop.health
        t = self.target
        return {
            "discoveredLabels": dict(t.discovered_labels),
            "labels": dict(t.labels),
            "scrapePool": self.job,
            "scrapeUrl": t.scrape_url,
            "globalUrl": global_url(t.scrape_url),
            "lastError": h.last_error,
            "lastScrape": go_time(h.last_scrape),
            "lastScrapeDuration": h.last_scrape_duration,
            "health": h.health,
            "scrapeInterval": t.interval_text,
            "scrapeTimeout": t.timeout_text,
        }


@dataclass(frozen=True, slots=True)
class DroppedTarget:
    job: str
    discovered_labels: Labels

    def to_api(self) -> dict[str, Any]:
        return {"discoveredLabels": dict(self.discovered_labels)}


_Key = tuple[Labels, str]


@dataclass(slots=True)
class _Pool:
    job: str
    cfg: ScrapeConfig
    settings: LoopSettings
    session: aiohttp.ClientSession
    request_options: Mapping[str, Any]
    active: dict[_Key, ActiveTarget] = field(default_factory=dict)
    dropped: list[DroppedTarget] = field(default_factory=list)
    dropped_count: int = 0
    forced_error: str | None = None


class ScrapeManager:
    """See the module docstring. All methods run on one asyncio event loop."""

    def __init__(
        self,
        storage: Storage,
        *,
        offset_seed: int = 0,
        executor: Executor | None = None,
        session_factory: SessionFactory | None = None,
        skip_offset: bool = False,
        heap_freezer: HeapFreezer | None = None,
    ) -> None:
        self.storage = storage
        self.heap_freezer = heap_freezer
        self.offset_seed = offset_seed
        self._own_executor = executor is None
        self.executor = executor or ThreadPoolExecutor(
            max_workers=min(4, (os.cpu_count() or 1) + 2), thread_name_prefix="scrape"
        )
        self._session_factory = session_factory or _default_session
        self._skip_offset = skip_offset
        self._pools: dict[str, _Pool] = {}
        self._groups: dict[str, list[TargetGroup]] = {}
        self._stale_tasks: set[asyncio.Task[None]] = set()
        self._lock = asyncio.Lock()
        self.stats = ScrapeStats()

    # --- config and discovery ---------------------------------------------------

    async def apply_config(self, configs: Sequence[ScrapeConfig]) -> None:
        """Make the running jobs match ``configs`` (each a ``ScrapeConfig``)."""
        async with self._lock:
            wanted = {str(c.job_name): c for c in configs}
            for job in [j for j in self._pools if j not in wanted]:
                pool = self._pools.pop(job)
                await self._stop_pool(pool)
            for job, cfg in wanted.items():
                existing = self._pools.get(job)
                if existing is None:
                    session, opts = self._session_factory(cfg, job)
                    pool = _Pool(job, cfg, LoopSettings.from_config(cfg), session, opts)
                    self._pools[job] = pool
                    if job in self._groups:
                        await self._sync_pool(pool, self._groups[job])
                elif not _same(existing.cfg, cfg):
                    await self._reload_pool(existing, cfg)

    async def sync(self, groups: Mapping[str, Sequence[TargetGroup]]) -> None:
        """Apply discovery's latest target groups (jobs not named keep their targets)."""
        async with self._lock:
            for job, tgs in groups.items():
                self._groups[job] = list(tgs)
                pool = self._pools.get(job)
                if pool is not None:
                    await self._sync_pool(pool, self._groups[job])

    async def run(self, updates: Any) -> None:
        """Consume an async iterator of ``{job: [TargetGroup]}`` (discovery's output)."""
        async for groups in updates:
            await self.sync(groups)

    async def stop(self) -> None:
        """Stop every loop (no stale markers: a restart continues the series)."""
        async with self._lock:
            for task in list(self._stale_tasks):
                task.cancel()
            pools = list(self._pools.values())
            self._pools.clear()
            for pool in pools:
                await self._stop_pool(pool)
            if self._stale_tasks:
                await asyncio.gather(*self._stale_tasks, return_exceptions=True)
        if self._own_executor:
            self.executor.shutdown(wait=True, cancel_futures=True)

    async def _stop_pool(self, pool: _Pool) -> None:
        for t in pool.active.values():
            t.loop.disable_end_of_run_staleness()
        await asyncio.gather(*(t.loop.stop() for t in pool.active.values()))
        pool.active.clear()
        await pool.session.close()

    async def _sync_pool(self, pool: _Pool, groups: Iterable[TargetGroup]) -> None:
        found: dict[_Key, Target] = {}
        pool.dropped = []
        pool.dropped_count = 0
        keep = int(pool.cfg.keep_dropped_targets or 0)
        for tg in groups:
            active, dropped, errors = targets_from_group(tg, pool.cfg)
            for err in errors:
                log.error("Creating target failed", extra=kv(scrape_pool=pool.job, err=err))
            for labels in dropped:
                if keep == 0 or len(pool.dropped) < keep:
                    pool.dropped.append(DroppedTarget(pool.job, labels))
                pool.dropped_count += 1
            for target in active:
                found.setdefault(target.key, target)
        # Stop loops whose target went away; their series go stale later.
        gone = [pool.active.pop(k) for k in [k for k in pool.active if k not in found]]
        await asyncio.gather(*(g.loop.stop() for g in gone))
        for g in gone:
            self._spawn_staleness(g.loop)
        for key, target in found.items():
            existing = pool.active.get(key)
            if existing is not None:
                existing.target = target  # newest discovered labels for the API
                continue
            loop = self._new_loop(pool, target)
            pool.active[key] = ActiveTarget(pool.job, target, loop)
            loop.start()
        self._refresh_target_limit(pool)

    def _refresh_target_limit(self, pool: _Pool) -> None:
        limit = int(pool.cfg.target_limit or 0)
        err = None
        if limit and len(pool.active) > limit:
            self.stats.add(exceeded_target_limit=1)
            err = f"target_limit exceeded (number of targets: {len(pool.active)}, limit: {limit})"
        pool.forced_error = err
        for t in pool.active.values():
            t.loop.forced_error = err

    async def _reload_pool(self, pool: _Pool, cfg: ScrapeConfig) -> None:
        reuse = _reusable_cache(pool.cfg, cfg)
        old_session = pool.session
        pool.session, pool.request_options = self._session_factory(cfg, pool.job)
        pool.cfg = cfg
        pool.settings = LoopSettings.from_config(cfg)
        for key, t in list(pool.active.items()):
            old = t.loop
            if reuse:
                old.disable_end_of_run_staleness()
            await old.stop()
            if not reuse:
                self._spawn_staleness(old)
            new = self._new_loop(pool, t.target)
            if reuse:
                new.adopt(old)
            t.loop = new
            pool.active[key] = t
            new.start()
        self._refresh_target_limit(pool)
        await old_session.close()
        if pool.job in self._groups:
            await self._sync_pool(pool, self._groups[pool.job])

    def _new_loop(self, pool: _Pool, target: Target) -> ScrapeLoop:
        return ScrapeLoop(
            labels=target.labels,
            url=target.scrape_url,
            interval_s=target.interval,
            timeout_s=target.timeout,
            settings=pool.settings,
            session=pool.session,
            storage=self.storage,
            executor=self.executor,
            offset_seed=self.offset_seed,
            skip_offset=self._skip_offset,
            forced_error=pool.forced_error,
            request_options=pool.request_options,
            hash_labels=target.all_labels,
            stats=self.stats,
            on_series_added=self.heap_freezer.series_added if self.heap_freezer else None,
        )

    def _spawn_staleness(self, loop: ScrapeLoop) -> None:
        task = asyncio.get_running_loop().create_task(loop.end_of_run_staleness())
        self._stale_tasks.add(task)
        task.add_done_callback(self._stale_tasks.discard)

    # --- accessors ------------------------------------------------------------------

    def jobs(self) -> list[str]:
        return sorted(self._pools)

    def active_targets(self) -> dict[str, list[ActiveTarget]]:
        return {job: list(p.active.values()) for job, p in sorted(self._pools.items())}

    def dropped_targets(self) -> dict[str, list[DroppedTarget]]:
        return {job: list(p.dropped) for job, p in sorted(self._pools.items())}

    def dropped_counts(self) -> dict[str, int]:
        return {job: p.dropped_count for job, p in sorted(self._pools.items())}

    def pool_targets(self) -> dict[str, int]:
        """Active targets per job (``prometheus_target_scrape_pool_targets``)."""
        return {job: len(p.active) for job, p in sorted(list(self._pools.items()))}

    def discovered_targets(self) -> dict[str, int]:
        """Targets discovery handed over per job, before relabelling
        (``prometheus_sd_discovered_targets{name="scrape"}``)."""
        return {
            job: sum(len(tg.targets) for tg in list(groups))
            for job, groups in sorted(list(self._groups.items()))
        }

    def collector(self) -> ScrapeCollector:
        """A ``prometheus_client`` collector of this manager's self-metrics."""
        return ScrapeCollector(self)

    def targets_api(self, state: str = "any", scrape_pool: str | None = None) -> dict[str, Any]:
        """The ``data`` object of ``/api/v1/targets`` (``state``: any, active, dropped)."""
        active: list[dict[str, Any]] = []
        dropped: list[dict[str, Any]] = []
        for job, pool in sorted(self._pools.items()):
            if scrape_pool is not None and job != scrape_pool:
                continue
            if state in ("any", "active"):
                active.extend(t.to_api() for t in pool.active.values())
            if state in ("any", "dropped"):
                dropped.extend(d.to_api() for d in pool.dropped)
        return {"activeTargets": active, "droppedTargets": dropped}

    def metadata(self, metric: str | None = None, limit: int | None = None) -> dict[str, Any]:
        """``/api/v1/metadata``: family -> distinct {type, help, unit} across targets."""
        out: dict[str, list[dict[str, str]]] = {}
        seen: dict[str, set[MetricMetadata]] = {}
        for pool in self._pools.values():
            for t in pool.active.values():
                for name, m in t.loop.metadata.items():
                    if metric is not None and name != metric:
                        continue
                    known = seen.setdefault(name, set())
                    if m in known:
                        continue
                    if limit is not None and limit >= 0 and name not in out and len(out) >= limit:
                        continue
                    known.add(m)
                    out.setdefault(name, []).append(
                        {"type": m.type, "help": m.help, "unit": m.unit}
                    )
        return out

    def target_metadata(
        self, match: Callable[[Labels], bool] | None = None, metric: str | None = None
    ) -> list[dict[str, Any]]:
        """``/api/v1/targets/metadata`` rows: target labels plus one metric's metadata."""
        rows: list[dict[str, Any]] = []
        for pool in self._pools.values():
            for t in pool.active.values():
                if match is not None and not match(t.labels):
                    continue
                for name, m in sorted(t.loop.metadata.items()):
                    if metric is not None and name != metric:
                        continue
                    rows.append(
                        {
                            "target": dict(t.labels),
                            "metric": name,
                            "type": m.type,
                            "help": m.help,
                            "unit": m.unit,
                        }
                    )
        return rows


# --- helpers -------------------------------------------------------------------------


def _default_session(
    cfg: ScrapeConfig, name: str
) -> tuple[aiohttp.ClientSession, Mapping[str, Any]]:
    from promethean.config.httpclient import build_session, request_kwargs

    session = build_session(cfg, name, user_agent=USER_AGENT, auto_decompress=False)
    return session, request_kwargs(cfg)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return False


def _reusable_cache(old: Any, new: Any) -> bool:
    """Go's ``reusableCache``: equal once interval, timeout, sample limit and HTTP are zeroed."""
    try:
        from promethean.config.httpclient import HTTPClientConfig

        neutral = set(_CACHE_NEUTRAL) | set(HTTPClientConfig.model_fields)
        a = old.model_dump(exclude=neutral)
        b = new.model_dump(exclude=neutral)
        return bool(a == b)
    except Exception:
        return False


def go_time(wall: float | None) -> str:
    """Go's RFC3339Nano in UTC (``0001-01-01T00:00:00Z`` for never)."""
    if wall is None:
        return "0001-01-01T00:00:00Z"
    dt = datetime.datetime.fromtimestamp(wall, datetime.UTC)
    frac = f"{dt.microsecond:06d}".rstrip("0")
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"


def global_url(url: str) -> str:
    """The scrape URL with a loopback host replaced by this machine's hostname (upstream)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    loopback = host == "localhost"
    with contextlib.suppress(ValueError):
        loopback = loopback or ipaddress.ip_address(host).is_loopback
    if not loopback:
        return url
    netloc = socket.gethostname()
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
