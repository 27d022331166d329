"""Runs the discovery providers of every scrape job and publishes their targets.

Why a manager between providers and the scrape layer: providers change at
their own pace (a file every few seconds during a deploy, an HTTP endpoint
every minute), and rebuilding scrape pools on each event would churn. As
upstream, updates are merged per job and published at most once per
``debounce`` seconds (5 s upstream) as a complete
``dict[job_name, list[TargetGroup]]``.

A reload (:meth:`DiscoveryManager.apply_config`) keeps the providers and
targets of a job whose discovery config did not change, restarts the others,
and forgets removed jobs. Every job is present in each update, with an empty
list when it has no targets yet, so the scrape layer can see it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any, Protocol

from promethean.scrape.config import ScrapeConfig
from promethean.scrape.discovery.file import FileDiscovery
from promethean.scrape.discovery.http import HTTPDiscovery
from promethean.scrape.discovery.static import StaticDiscovery
from promethean.scrape.discovery.targetgroup import TargetGroup

__all__ = ["DiscoveryManager", "Provider", "providers_for"]

_log = logging.getLogger("promethean.scrape.discovery")

Update = dict[str, list[TargetGroup]]


class Provider(Protocol):
    """A discovery mechanism: sends lists of changed groups until cancelled."""

    def run(self, send: Callable[[list[TargetGroup]], None]) -> Coroutine[Any, Any, None]: ...


def providers_for(
    cfg: ScrapeConfig, *, poll_interval: float = 1.0, user_agent: str = "promethean"
) -> list[Provider]:
    """The providers a scrape config asks for (static first, then file, then HTTP)."""
    out: list[Provider] = []
    if cfg.static_configs:
        out.append(StaticDiscovery(cfg.static_configs))
    out.extend(FileDiscovery(fc, poll_interval=poll_interval) for fc in cfg.file_sd_configs)
    out.extend(HTTPDiscovery(hc, user_agent=user_agent) for hc in cfg.http_sd_configs)
    return out


def _sd_key(cfg: ScrapeConfig) -> tuple[Any, ...]:
    return (tuple(cfg.static_configs), tuple(cfg.file_sd_configs), tuple(cfg.http_sd_configs))


class _Job:
    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key
        self.tasks: list[asyncio.Task[None]] = []
        # (provider index, source) -> group; insertion order is the output order.
        self.groups: dict[tuple[int, str], TargetGroup] = {}


class DiscoveryManager:
    """Discovery for all jobs. Use from one event loop; call :meth:`stop` when done.

    Consumers either pass ``on_update`` or await :meth:`next_update`; both see
    the same complete snapshots. :meth:`snapshot` gives the current state.
    """

    def __init__(
        self,
        on_update: Callable[[Update], None] | None = None,
        *,
        debounce: float = 5.0,
        poll_interval: float = 1.0,
        user_agent: str = "promethean",
    ) -> None:
        self._on_update = on_update
        self._debounce = debounce
        self._poll_interval = poll_interval
        self._user_agent = user_agent
        self._jobs: dict[str, _Job] = {}
        self._dirty: asyncio.Event | None = None
        self._latest: Update | None = None
        self._published: asyncio.Condition | None = None
        self._version = 0
        self._consumed = 0
        self._sender: asyncio.Task[None] | None = None

    def apply_config(self, configs: Iterable[ScrapeConfig]) -> None:
        """Start, keep or restart providers so they match ``configs``."""
        self._ensure_started()
        wanted = {cfg.job_name: cfg for cfg in configs}
        for name in list(self._jobs):
            if name not in wanted:
                self._cancel(self._jobs.pop(name))
        for name, cfg in wanted.items():
            key = _sd_key(cfg)
            current = self._jobs.get(name)
            if current is not None and current.key == key:
                continue
            if current is not None:
                self._cancel(current)
            job = _Job(key)
            self._jobs[name] = job
            providers = providers_for(
                cfg, poll_interval=self._poll_interval, user_agent=self._user_agent
            )
            for index, provider in enumerate(providers):
                job.tasks.append(
                    asyncio.get_running_loop().create_task(
                        self._run_provider(name, job, index, provider),
                        name=f"discovery {name} #{index}",
                    )
                )
        self._mark_dirty()

    def snapshot(self) -> Update:
        """Every job's current groups (groups without targets left out)."""
        return {
            name: [g for g in job.groups.values() if g.targets] for name, job in self._jobs.items()
        }

    async def next_update(self, timeout: float | None = None) -> Update:
        """Wait for the next published snapshot (or return one not yet consumed)."""
        self._ensure_started()
        assert self._published is not None
        async with self._published:
            await asyncio.wait_for(
                self._published.wait_for(lambda: self._version != self._consumed), timeout
            )
            self._consumed = self._version
            assert self._latest is not None
            return self._latest

    async def stop(self) -> None:
        """Cancel every provider and the publisher; wait for them to finish."""
        tasks: list[asyncio.Task[None]] = []
        for job in self._jobs.values():
            tasks.extend(job.tasks)
            for task in job.tasks:
                task.cancel()
        self._jobs.clear()
        if self._sender is not None:
            self._sender.cancel()
            tasks.append(self._sender)
            self._sender = None
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- internals ----------------------------------------------------------------

    def _ensure_started(self) -> None:
        if self._sender is None:
            self._dirty = asyncio.Event()
            self._published = asyncio.Condition()
            self._sender = asyncio.get_running_loop().create_task(
                self._send_loop(), name="discovery sender"
            )

    def _mark_dirty(self) -> None:
        if self._dirty is not None:
            self._dirty.set()

    def _cancel(self, job: _Job) -> None:
        for task in job.tasks:
            task.cancel()

    async def _run_provider(self, name: str, job: _Job, index: int, provider: Provider) -> None:
        def send(groups: list[TargetGroup]) -> None:
            if self._jobs.get(name) is not job:
                return  # a late update from a provider that was replaced
            for group in groups:
                job.groups[(index, group.source)] = group
            self._mark_dirty()

        try:
            await provider.run(send)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a provider bug must not take discovery down
            _log.error(
                "Discovery provider stopped",
                extra={"fields": {"job": name, "err": f"{type(exc).__name__}: {exc}"}},
            )

    async def _send_loop(self) -> None:
        assert self._dirty is not None and self._published is not None
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            update = self.snapshot()
            async with self._published:
                self._latest = update
                self._version += 1
                self._published.notify_all()
            if self._on_update is not None:
                try:
                    self._on_update(update)
                except Exception as exc:
                    _log.error(
                        "Discovery update consumer failed",
                        extra={"fields": {"err": f"{type(exc).__name__}: {exc}"}},
                    )
            await asyncio.sleep(self._debounce)
