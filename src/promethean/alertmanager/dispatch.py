"""The dispatcher: alerts flow through the routing tree into aggregation groups.

Each route an alert matches puts it in the group of that route and the
alert's ``group_by`` labels. A group notifies through :mod:`notify` with
upstream's timing:

* the first flush comes ``group_wait`` after the group was created, or at
  once when an inserted alert started more than ``group_wait`` ago;
* then the group ticks every ``group_interval`` (the next tick is set when a
  tick fires, so a flush slower than the interval is followed at once by the
  next); each tick hands the pipeline a snapshot, whose dedup decides whether
  anything is sent: new firing alerts, newly resolved ones, or unchanged
  firing alerts once ``repeat_interval`` has passed;
* after a successful flush, resolved alerts that did not change meanwhile
  leave the group; an empty group is dropped.

Timers, not polling: a group whose last flush succeeded with nothing muted
and nothing inserted since cannot send anything before its next repeat or
before one of its alerts' ``endsAt`` passes. It sleeps until the first tick
after the earlier of the two, or until an insert wakes it on its tick grid,
so holding thousands of idle groups costs no CPU (upstream's goroutines wake
every ``group_interval``). Groups with muted alerts or time intervals keep
ticking, since a silence expiring or a clock boundary changes the outcome
without any insert. The outcome is the same as ticking throughout: a skipped
tick is one whose dedup would have sent nothing.

On reload every group is dropped and rebuilt from the alert store (as
upstream restarts its dispatcher); the durable notification log keeps that
from re-sending what was already notified.

Wiring (``main.serve``): after the config and state are loaded and the web
server started, ``dispatcher = attach(am)``; before shutdown,
``await dispatcher.stop()``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from promethean.alertmanager.alerts import Alert, AlertStore
from promethean.alertmanager.config import AlertmanagerConfig
from promethean.alertmanager.notify import FlushRequest, FlushResult, Pipeline
from promethean.alertmanager.route import Route, format_label_set
from promethean.logs import kv
from promethean.model.labels import Labels

if TYPE_CHECKING:
    from promethean.alertmanager.main import Alertmanager

__all__ = ["AggregationGroup", "Dispatcher", "attach"]

log = logging.getLogger("promethean.alertmanager.dispatch")

_ROUTE_CACHE_MAX = 100_000


class AggregationGroup:
    """Alerts of one route with equal group labels, and their timer."""

    __slots__ = (
        "_dispatcher",
        "_handle",
        "_pending",
        "_task",
        "alerts",
        "base",
        "dirty",
        "has_flushed",
        "hashes",
        "key",
        "labels",
        "route",
        "settled",
        "wake_at",
    )

    def __init__(self, dispatcher: Dispatcher, route: Route, labels: dict[str, str]) -> None:
        self._dispatcher = dispatcher
        self.route = route
        self.labels = labels
        self.key = f"{route.key()}:{format_label_set(labels)}"
        self.alerts: dict[Labels, Alert] = {}
        self.hashes: dict[Labels, int] = {}
        self._handle: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending = False
        self.has_flushed = False
        self.dirty = False
        self.settled = False
        self.base = 0.0  # loop time of the last tick: the grid later ticks fall on
        self.wake_at: float | None = None  # loop time the timer is armed for

    def __repr__(self) -> str:
        return f"AggregationGroup({self.key!r}, alerts={len(self.alerts)})"

    # -- timer --------------------------------------------------------------------------

    def _arm(self, at: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self._dispatcher.loop.call_at(at, self._fire)
        self.wake_at = at

    def _disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self.wake_at = None

    def start(self) -> None:
        loop = self._dispatcher.loop
        self.base = loop.time()
        self._arm(self.base + self.route.opts.group_wait)

    def _next_tick_after(self, at: float) -> float:
        interval = self.route.opts.group_interval
        if interval <= 0:
            return at
        k = math.floor((at - self.base) / interval) + 1
        return self.base + max(k, 1) * interval

    def _wake(self, at: float) -> None:
        """Make sure the timer fires at or before ``at`` (loop time)."""
        if self.wake_at is None or at < self.wake_at:
            self._arm(at)

    # -- alerts -------------------------------------------------------------------------

    def insert(self, alert: Alert, now: float) -> None:
        labels = alert.labels
        old = self.alerts.get(labels)
        self.alerts[labels] = alert
        if old is None:
            self.hashes[labels] = alert.fingerprint_int
            changed = True
        else:
            changed = old.resolved(now) != alert.resolved(now)
        loop = self._dispatcher.loop
        if not self.has_flushed:
            if alert.starts_at + self.route.opts.group_wait < now and self._task is None:
                self._arm(loop.time())
            return
        if changed:
            self.dirty = True
            if self.settled:
                self.settled = False
                self._wake(self._next_tick_after(loop.time()))
        elif self.settled and alert.ends_at is not None and not alert.resolved(now):
            self._wake(self._next_tick_after(loop.time() + (alert.ends_at - now)))

    # -- flushing -----------------------------------------------------------------------

    def _fire(self) -> None:
        self._handle = None
        self.wake_at = None
        if self._task is not None:
            self._pending = True
            return
        loop = self._dispatcher.loop
        self.base = loop.time()
        self._arm(self.base + self.route.opts.group_interval)
        self.has_flushed = True
        self.settled = False
        self.dirty = False
        self._task = loop.create_task(self._flush())

    async def _flush(self) -> None:
        try:
            async with self._dispatcher.slots:
                await self._flush_now()
        except asyncio.CancelledError:
            self._task = None
            raise

    async def _flush_now(self) -> None:
        now = time.time()
        snapshot = list(self.alerts.items())
        req = FlushRequest(
            group_key=self.key,
            receiver=self.route.opts.receiver,
            group_labels=self.labels,
            alerts=[a for _, a in snapshot],
            hashes=[self.hashes[labels] for labels, _ in snapshot],
            opts=self.route.opts,
            now=now,
        )
        try:
            result = await self._dispatcher.pipeline.flush(req)
        except asyncio.CancelledError:
            self._task = None
            raise
        except Exception as exc:  # never let one group's bug stop the dispatcher
            log.error(
                "Flush failed", extra=kv(component="dispatcher", group=self.key, err=repr(exc))
            )
            result = FlushResult(False)
        self._task = None
        self._after(snapshot, result, now)

    def _after(self, snapshot: list[tuple[Labels, Alert]], result: FlushResult, now: float) -> None:
        if result.ok:
            for labels, alert in snapshot:
                if alert.resolved(now) and self.alerts.get(labels) is alert:
                    del self.alerts[labels]
                    del self.hashes[labels]
        if not self.alerts:
            self._disarm()
            self._dispatcher._drop(self)
            return
        loop = self._dispatcher.loop
        if self._pending:
            # A tick fired while this flush waited or ran. Unless something changed,
            # its flush would find nothing new to send: it counts as done.
            self._pending = False
            if not result.ok or result.muted or self.dirty:
                self._arm(loop.time())
                return
        if not result.ok or result.muted or self.dirty:
            return  # keep ticking
        dues = [result.repeat_due] if result.repeat_due is not None else []
        for alert in self.alerts.values():
            if alert.ends_at is not None and alert.ends_at >= now:
                dues.append(alert.ends_at)
            elif alert.resolved(now):
                return  # a resolved alert still waits to be reported: keep ticking
        self.settled = True
        self._disarm()
        if dues:
            wall_to_loop = loop.time() - time.time()
            self._arm(self._next_tick_after(min(dues) + wall_to_loop))

    def stop(self) -> None:
        self._disarm()
        if self._task is not None:
            self._task.cancel()


class Dispatcher:
    """Routes every stored alert into aggregation groups and runs their flushes."""

    def __init__(
        self,
        alerts: AlertStore,
        route: Route,
        pipeline: Pipeline,
        loop: asyncio.AbstractEventLoop | None = None,
        max_concurrent_flushes: int = 128,
    ) -> None:
        self.store = alerts
        self.route = route
        self.pipeline = pipeline
        self.loop = loop or asyncio.get_running_loop()
        self._groups: dict[tuple[Route, tuple[tuple[str, str], ...]], AggregationGroup] = {}
        self._routes: dict[Labels, list[tuple[Route, tuple[tuple[str, str], ...]]]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._closing: set[asyncio.Task[Any]] = set()
        self._queue: list[Alert] = []
        # Flushes run at most this many at a time; a flush's deadline starts when it
        # gets a slot, so a notification storm queues here, not behind the HTTP
        # client's connection limit where it would time out after being sent.
        self.slots = asyncio.Semaphore(max_concurrent_flushes)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Subscribe to the store and group every alert already in it."""
        if self._unsubscribe is None:
            self._unsubscribe = self.store.subscribe(self.insert)
        for alert in self.store.all():
            self._insert(alert)

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        tasks = self._stop_groups()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.pipeline.close()
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    def _stop_groups(self) -> list[asyncio.Task[None]]:
        tasks = [g._task for g in self._groups.values() if g._task is not None]
        for group in self._groups.values():
            group.stop()
        self._groups.clear()
        self._routes.clear()
        self._queue.clear()
        return tasks

    def reload(self, route: Route, pipeline: Pipeline) -> None:
        """Swap the routing tree and pipeline; every group is rebuilt (group_wait anew)."""
        self._stop_groups()
        old = self.pipeline
        self.route = route
        self.pipeline = pipeline
        task = self.loop.create_task(old.close())
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        self._queue.clear()
        for alert in self.store.all():
            self._insert(alert)

    # -- alerts -------------------------------------------------------------------------

    def _routes_for(self, labels: Labels) -> list[tuple[Route, tuple[tuple[str, str], ...]]]:
        hits = self._routes.get(labels)
        if hits is None:
            hits = [
                (r, tuple(sorted(r.group_labels(labels).items()))) for r in self.route.match(labels)
            ]
            if len(self._routes) >= _ROUTE_CACHE_MAX:
                self._routes.clear()
            self._routes[labels] = hits
        return hits

    def insert(self, alert: Alert) -> None:
        """Queue an alert (new or updated) for its groups; handled on the loop's next turn.

        Grouping runs after the caller (the API handler) has answered, and a batch
        of posted alerts is grouped in one callback.
        """
        if not self._queue:
            self.loop.call_soon(self._drain)
        self._queue.append(alert)

    def _drain(self) -> None:
        queue, self._queue = self._queue, []
        for alert in queue:
            self._insert(alert)

    def _insert(self, alert: Alert) -> None:
        now = time.time()
        for route, glabels in self._routes_for(alert.labels):
            gid = (route, glabels)
            group = self._groups.get(gid)
            if group is None:
                if alert.resolved(now):
                    continue  # upstream would create a group that never notifies
                group = AggregationGroup(self, route, dict(glabels))
                self._groups[gid] = group
                group.start()
            group.insert(alert, now)

    def _drop(self, group: AggregationGroup) -> None:
        gid = (group.route, tuple(sorted(group.labels.items())))
        if self._groups.get(gid) is group:
            del self._groups[gid]

    def groups(self) -> list[AggregationGroup]:
        """The current aggregation groups (for tests and introspection)."""
        return list(self._groups.values())

    def alert_groups(self) -> list[tuple[str, dict[str, str], list[Alert]]]:
        """Each group as ``(receiver, group labels, alerts)``, for ``/api/v2/alerts/groups``."""
        return [
            (g.route.opts.receiver, g.labels, list(g.alerts.values()))
            for g in self._groups.values()
        ]


def _pipeline_for(am: Alertmanager, cfg: AlertmanagerConfig) -> Pipeline:
    return Pipeline(
        cfg,
        silences=am.silences,
        inhibitor=lambda: am.inhibitor,
        nflog=am.nflog,
        external_url=lambda: am.api.options.external_url,
    )


def attach(am: Alertmanager) -> Dispatcher:
    """Start a dispatcher for a running Alertmanager (config and state loaded) on this loop.

    It follows reloads through ``am.on_reload``; call ``await dispatcher.stop()``
    at shutdown.
    """
    if am.config is None:
        raise RuntimeError("attach the dispatcher after the config is loaded")
    dispatcher = Dispatcher(am.alerts, Route.from_config(am.config), _pipeline_for(am, am.config))

    def on_reload(cfg: Any) -> None:
        dispatcher.reload(Route.from_config(cfg), _pipeline_for(am, cfg))

    am.on_reload.append(on_reload)
    dispatcher.start()
    log.debug("dispatcher started", extra=kv(component="dispatcher"))
    return dispatcher
