"""The notification pipeline: what one flush of an aggregation group does.

Upstream's stages, in upstream's order, because operators rely on their
interplay: inhibition drops alerts a firing source inhibits; the route's
``active_time_intervals``/``mute_time_intervals`` drop the whole flush outside
(inside) them; silences drop silenced alerts. Then, for every integration of
the receiver, concurrently:

* dedup against the notification log: send when a firing alert is new, when
  every alert resolved after a firing notification, when a resolved alert is
  new to a ``send_resolved`` receiver, or when ``repeat_interval`` has passed
  since the last notification; otherwise nothing (the log is durable, so this
  holds across restarts);
* deliver, retrying with exponential backoff (0.5 s, x1.5, jittered, at most
  60 s apart) until the flush's deadline (``group_interval``, at least 10 s);
  an error the integration calls final (4xx, a refused destination) stops at
  once;
* on success, record the firing and resolved alerts in the notification log
  (fsynced before the flush counts as done).

Errors and log lines name the receiver and integration and carry only
secret-safe text (see ``receivers.base``). M2: an integration whose rendered
destination is outside the receiver's ``allowed_destinations`` is refused and
logged, never retried.

:class:`FlushResult` tells the dispatcher whether the group may sleep until
its next repeat: only when nothing was muted (a muted alert can be un-muted by
a silence expiring, which no insert announces).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from promethean.alertmanager.alerts import Alert
from promethean.alertmanager.config import AlertmanagerConfig
from promethean.alertmanager.inhibit import Inhibitor
from promethean.alertmanager.nflog import Entry, NotificationLog
from promethean.alertmanager.nflog import Receiver as LogReceiver
from promethean.alertmanager.receivers import (
    DestinationRefused,
    Integration,
    NotifyContext,
    NotifyError,
    build_integrations,
)
from promethean.alertmanager.route import RouteOpts
from promethean.alertmanager.silences import Silences
from promethean.alertmanager.timeinterval import Intervener
from promethean.logs import kv
from promethean.template import TemplateError
from promethean.template.alertmanager_funcs import NotificationTemplates

__all__ = ["FlushRequest", "FlushResult", "Pipeline", "needs_update"]

log = logging.getLogger("promethean.alertmanager.notify")

MIN_TIMEOUT = 10.0
_BACKOFF_START = 0.5
_BACKOFF_FACTOR = 1.5
_BACKOFF_MAX = 60.0


@dataclass(frozen=True)
class FlushRequest:
    """A snapshot of one group at one tick. ``hashes[i]`` identifies ``alerts[i]``."""

    group_key: str
    receiver: str
    group_labels: Mapping[str, str]
    alerts: Sequence[Alert]
    hashes: Sequence[int]
    opts: RouteOpts
    now: float


@dataclass(frozen=True)
class FlushResult:
    ok: bool
    muted: bool = False
    repeat_due: float | None = None
    """When the next repeat notification becomes due (None: nothing firing was sent)."""


def needs_update(
    entry: Entry | None,
    firing: frozenset[int],
    resolved: frozenset[int],
    repeat_interval: float,
    send_resolved: bool,
    now: float,
) -> bool:
    """Upstream's dedup decision for one integration."""
    if entry is None:
        return bool(firing)
    if not entry.firing_alerts.issuperset(firing):
        return True
    if not firing:
        # Everything resolved: tell the receiver only if it was told something fired.
        return bool(entry.firing_alerts)
    if send_resolved and not entry.resolved_alerts.issuperset(resolved):
        return True
    return entry.timestamp < now - repeat_interval


class Pipeline:
    """The stages for every receiver of one loaded config; rebuilt on reload."""

    def __init__(
        self,
        config: AlertmanagerConfig,
        *,
        silences: Silences,
        inhibitor: Callable[[], Inhibitor],
        nflog: NotificationLog,
        external_url: Callable[[], str] = lambda: "",
        integrations: Mapping[str, list[Integration]] | None = None,
    ) -> None:
        self.silences = silences
        self._inhibitor = inhibitor
        self.nflog = nflog
        self._external_url = external_url
        self.receivers: dict[str, list[Integration]] = (
            dict(integrations)
            if integrations is not None
            else {r.name: build_integrations(r) for r in config.receivers}
        )
        self.intervener: Intervener = config.intervener()
        try:
            self.templates = NotificationTemplates.from_globs(config.templates)
        except TemplateError as exc:
            log.error("Loading templates failed", extra=kv(component="notify", err=str(exc)))
            self.templates = NotificationTemplates()

    async def close(self) -> None:
        for integrations in self.receivers.values():
            for integ in integrations:
                await integ.close()

    async def flush(self, req: FlushRequest) -> FlushResult:
        """Run the stages for one group snapshot; never raises for a delivery problem."""
        now = req.now
        opts = req.opts
        inhibitor = self._inhibitor()
        muted = False
        alerts: list[Alert] = []
        hashes: list[int] = []
        for alert, h in zip(req.alerts, req.hashes, strict=True):
            if inhibitor.inhibited_by(alert.labels, now) is not None:
                muted = True
                continue
            alerts.append(alert)
            hashes.append(h)
        if opts.mute_time_intervals or opts.active_time_intervals:
            muted = True  # a boundary can change the outcome without any insert
            if self.intervener.muted(opts.mute_time_intervals, opts.active_time_intervals, now):
                return FlushResult(True, True)
        if alerts and self.silences.all():
            kept: list[Alert] = []
            kept_hashes: list[int] = []
            for alert, h in zip(alerts, hashes, strict=True):
                if self.silences.mutes(alert.labels, now):
                    muted = True
                    continue
                kept.append(alert)
                kept_hashes.append(h)
            alerts, hashes = kept, kept_hashes
        if not alerts:
            return FlushResult(True, muted)
        integrations = self.receivers.get(req.receiver, [])
        if not integrations:
            return FlushResult(True, muted)
        ctx = NotifyContext(
            receiver=req.receiver,
            group_key=req.group_key,
            group_labels=req.group_labels,
            external_url=self._external_url(),
            templates=self.templates,
            now=now,
            fingerprints={a.labels: h for a, h in zip(alerts, hashes, strict=True)},
        )
        firing = frozenset(h for a, h in zip(alerts, hashes, strict=True) if not a.resolved(now))
        resolved = frozenset(hashes) - firing
        timeout = max(opts.group_interval, MIN_TIMEOUT)
        if len(integrations) == 1:
            results = [
                await self._one(integrations[0], ctx, req, alerts, firing, resolved, timeout)
            ]
        else:
            results = list(
                await asyncio.gather(
                    *(
                        self._one(i, ctx, req, alerts, firing, resolved, timeout)
                        for i in integrations
                    )
                )
            )
        ok = all(r[0] for r in results)
        dues = [r[1] for r in results if r[1] is not None]
        return FlushResult(ok, muted, min(dues) if dues else None)

    async def _one(
        self,
        integ: Integration,
        ctx: NotifyContext,
        req: FlushRequest,
        alerts: list[Alert],
        firing: frozenset[int],
        resolved: frozenset[int],
        timeout: float,
    ) -> tuple[bool, float | None]:
        repeat = req.opts.repeat_interval
        who = LogReceiver(req.receiver, integ.kind, integ.index)
        entry = self.nflog.query(req.group_key, who)
        if not needs_update(entry, firing, resolved, repeat, integ.send_resolved, req.now):
            due = entry.timestamp + repeat if entry is not None and firing else None
            return True, due
        if integ.send_resolved:
            sent = alerts
        elif firing:
            sent = [a for a in alerts if not a.resolved(req.now)]
        else:
            sent = []  # only resolved alerts: logged as notified, nothing delivered
        if sent and not await self._deliver(integ, ctx, req, sent, timeout):
            return False, None
        recorded = await self.nflog.log(who, req.group_key, firing, resolved, 2 * repeat)
        return True, recorded.timestamp + repeat if firing else None

    async def _deliver(
        self,
        integ: Integration,
        ctx: NotifyContext,
        req: FlushRequest,
        alerts: list[Alert],
        timeout: float,
    ) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        name = f"{req.receiver}/{integ}"
        fields = {"component": "dispatcher", "receiver": req.receiver, "integration": str(integ)}
        interval = _BACKOFF_START
        attempt = 0
        last = ""
        while True:
            attempt += 1
            started = time.monotonic()
            try:
                async with asyncio.timeout_at(deadline):
                    await integ.notify(ctx, alerts)
            except DestinationRefused as exc:
                log.error(
                    "Notification refused: destination not allowed",
                    extra=kv(**fields, destination=exc.destination, group_key=req.group_key),
                )
                return False
            except NotifyError as exc:
                text = str(exc)
                if not exc.retry:
                    self._failed(name, fields, alerts, "unrecoverable error", attempt, text)
                    return False
                if text != last:
                    log.warning(
                        "Notify attempt failed, will retry later",
                        extra=kv(**fields, attempts=attempt, err=text),
                    )
                last = text
            except TimeoutError:
                self._failed(name, fields, alerts, "", attempt, last or "context deadline exceeded")
                return False
            except TemplateError as exc:
                self._failed(name, fields, alerts, "unrecoverable error", attempt, str(exc))
                return False
            except Exception as exc:  # a bug must not kill the group; its text may hold data
                self._failed(
                    name, fields, alerts, "unrecoverable error", attempt, type(exc).__name__
                )
                return False
            else:
                log.debug(
                    "Notify success",
                    extra=kv(**fields, attempts=attempt, duration=time.monotonic() - started),
                )
                return True
            wait = interval * random.uniform(0.5, 1.5)
            interval = min(interval * _BACKOFF_FACTOR, _BACKOFF_MAX)
            if loop.time() + wait >= deadline:
                self._failed(name, fields, alerts, "", attempt, last)
                return False
            await asyncio.sleep(wait)

    @staticmethod
    def _failed(
        name: str, fields: dict[str, str], alerts: list[Alert], why: str, attempt: int, err: str
    ) -> None:
        reason = f" due to {why}" if why else ""
        log.error(
            "Notify for alerts failed",
            extra=kv(
                **fields,
                num_alerts=len(alerts),
                err=f"{name}: notify retry canceled{reason} after {attempt} attempts: {err}",
            ),
        )
