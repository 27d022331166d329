"""One scrape loop per target: fetch, mutate, limit, append, report, mark stale.

Targets are untrusted (SECURITY-MODEL P1, D2), so everything here is shaped
by what a hostile target could do:

* the fetch is bounded by the scrape timeout (connect, headers and body
  together) and by ``body_size_limit`` counted on *decompressed* bytes, so a
  gzip bomb stops at the limit, not when memory runs out;
* the body is parsed and appended off the event loop (a worker thread), so a
  huge page costs its own scrape, not the schedule of every other target;
* a scrape that breaks a limit (``sample_limit``, ``label_limit``,
  ``label_name_length_limit``, ``label_value_length_limit``) or fails to
  parse appends nothing of the page: the appender is rolled back, and only
  stale markers and the synthetic series are written, as upstream does;
* with ``honor_labels: false`` a scraped label that clashes with a target
  label moves to ``exported_<name>`` (more prefixes until the name is free),
  so a target cannot speak for another job or instance.

Per-sample cost: the parser (:class:`~promethean.model.scrapeparse.ScrapeParser`)
caches each raw series line; its free ``ref`` slot holds a :class:`_Series`
with the final label set (target labels, honor_labels, metric relabelling
already applied) and the storage reference. A repeated line therefore costs no
label work at all, and a scrape is appended with one ``append_many`` call.
Staleness compares the set of references of this scrape with the last one's
(set difference in C), like Go's ``seriesPrev``/``seriesCur``.

Scheduling follows Go Prometheus: the first scrape waits for an offset derived
from a hash of the target (all its labels, ``__address__`` and the like
included, and its URL) and a per-server seed, so targets spread over the
interval; the hash is Go's (XXH64 of the labels, FNV-1a over that and the URL),
so a target is scraped at the same phase as Go Prometheus would scrape it;
scrapes then tick every interval, skipped ticks are dropped (and counted),
and a scrape timestamp within ``min(interval/100, 2ms)`` of its ideal tick is
snapped to it for better chunk compression.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import numpy as np
import numpy.typing as npt

from promethean import __version__
from promethean.logs import kv
from promethean.model.errors import ParseError
from promethean.model.hashing import labels_hash as _xx_labels_hash
from promethean.model.labels import METRIC_NAME, Labels
from promethean.model.negotiation import (
    DEFAULT_SCRAPE_PROTOCOLS,
    ExpositionFormat,
    NegotiationError,
    accept_header,
    scrape_format,
)
from promethean.model.relabel import RelabelRules
from promethean.model.scrapeparse import ScrapeParser, ScrapeResult, SeriesEntry
from promethean.scrape.stats import ScrapeStats, go_duration
from promethean.tsdb.storage import (
    STALE_NAN,
    DuplicateSampleError,
    OutOfBoundsError,
    OutOfOrderSampleError,
    SeriesLabelsError,
    SeriesRef,
    Storage,
    StorageError,
)

__all__ = [
    "REPORT_METRICS",
    "USER_AGENT",
    "LoopSettings",
    "MetricMetadata",
    "ScrapeLoop",
    "TargetHealth",
    "go_fqdn",
    "labels_hash",
    "mutate_sample_labels",
    "offset_seed",
    "scrape_offset",
    "target_hash",
]

log = logging.getLogger("promethean.scrape")

USER_AGENT = f"Prometheus/promethean-{__version__}"
EXPORTED_PREFIX = "exported_"
REPORT_METRICS = (
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
)
_PROTOBUF_CTYPE = "application/vnd.google.protobuf"
_READ_CHUNK = 1 << 16
_METADATA_KEEP_ITERATIONS = 10


@dataclass(frozen=True, slots=True)
class LoopSettings:
    """What a loop needs from its scrape config; one instance is shared by a job's loops.

    Built by :meth:`from_config` from a ``ScrapeConfig`` (or by tests directly), so
    the loop does not depend on the whole config schema.
    """

    job_name: str = ""
    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    enable_compression: bool = True
    scrape_protocols: tuple[str, ...] = DEFAULT_SCRAPE_PROTOCOLS
    fallback_scrape_protocol: str | None = None
    escaping: str | None = "allow-utf-8"
    sample_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    body_size_limit: int = 0
    metric_relabel: RelabelRules | None = None

    @classmethod
    def from_config(cls, cfg: Any) -> LoopSettings:
        """Read the fields of a ``promethean.scrape.config.ScrapeConfig`` (duck-typed)."""
        mrc = getattr(cfg, "metric_relabel_configs", None) or ()
        protocols = getattr(cfg, "scrape_protocols", None) or DEFAULT_SCRAPE_PROTOCOLS
        fallback = getattr(cfg, "fallback_scrape_protocol", None)
        escaping = getattr(cfg, "metric_name_escaping_scheme", None) or "allow-utf-8"
        return cls(
            job_name=str(getattr(cfg, "job_name", "")),
            honor_labels=bool(getattr(cfg, "honor_labels", False)),
            honor_timestamps=bool(getattr(cfg, "honor_timestamps", True)),
            track_timestamps_staleness=bool(getattr(cfg, "track_timestamps_staleness", False)),
            enable_compression=bool(getattr(cfg, "enable_compression", True)),
            scrape_protocols=tuple(str(p) for p in protocols),
            fallback_scrape_protocol=str(fallback) if fallback else None,
            escaping=str(escaping),
            sample_limit=int(getattr(cfg, "sample_limit", 0) or 0),
            label_limit=int(getattr(cfg, "label_limit", 0) or 0),
            label_name_length_limit=int(getattr(cfg, "label_name_length_limit", 0) or 0),
            label_value_length_limit=int(getattr(cfg, "label_value_length_limit", 0) or 0),
            body_size_limit=int(getattr(cfg, "body_size_limit", 0) or 0),
            metric_relabel=RelabelRules(mrc) if mrc else None,
        )


@dataclass(slots=True)
class TargetHealth:
    """The targets API's per-target state (``health``, ``lastError``, ...)."""

    health: str = "unknown"
    last_error: str = ""
    last_scrape: float | None = None  # wall-clock seconds
    last_scrape_duration: float = 0.0
    scrapes: int = 0
    failures: int = 0
    max_duration: float = 0.0
    missed_ticks: int = 0
    late_scrapes: int = 0


@dataclass(frozen=True, slots=True)
class MetricMetadata:
    """One family's metadata as the metadata APIs show it."""

    type: str
    help: str
    unit: str


# --- hashing and scheduling -------------------------------------------------------


def labels_hash(labels: Labels) -> int:
    """Go's ``labels.Labels.Hash()`` (XXH64 of ``name 0xff value 0xff ...``)."""
    return _xx_labels_hash(labels)


def target_hash(labels: Labels, url: str) -> int:
    """Go's ``Target.hash``: FNV-1a 64 of the zero-padded label hash and the URL.

    ``labels`` are all the target's labels, ``__address__``, ``__scheme__``,
    ``__metrics_path__``, ``__scrape_interval__`` ... included (Go hashes
    ``Target.labels``, not the public ``Target.Labels()``).
    """
    return _fnv1a64(f"{labels_hash(labels):016d}".encode() + url.encode())


def offset_seed(external_labels: Labels | None = None, fqdn: str | None = None) -> int:
    """Go's ``Manager.setOffsetSeed``: FNV-1a 64 of the FQDN and the external labels' ``String()``.

    Two servers with different hostnames or external labels scrape the same
    target at different phases; a server replacing a Go one on the same host,
    with the same external labels, scrapes at the same phase the Go one did.
    """
    host = fqdn if fqdn is not None else go_fqdn()
    inner = ", ".join(f"{k}={_go_quote(v)}" for k, v in (external_labels or ()))
    return _fnv1a64(f"{host}{{{inner}}}".encode())


def go_fqdn() -> str:
    """Go's ``osutil.GetFQDN``: the first name an IPv4 address of the hostname reverses to."""
    import socket

    hostname = socket.gethostname()
    try:
        infos = socket.getaddrinfo(hostname, None, socket.AF_INET)
    except OSError:
        return hostname
    for info in infos:
        try:
            name = socket.gethostbyaddr(str(info[4][0]))[0]
        except OSError:
            continue
        if name:
            return name.rstrip(".")
    return hostname


def _fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for byte in data:
        h ^= byte
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def scrape_offset(thash: int, interval_s: float, seed: int, now_s: float) -> float:
    """Seconds to wait before the first scrape, pinned to absolute time like Go's ``offset``.

    A target's scrapes land at the same phase of the interval whenever its loop
    starts, so restarts and reloads do not bunch targets together.
    """
    iv = max(1, int(interval_s * 1e9))
    now = int(now_s * 1e9)
    base = iv - now % iv
    off = (thash ^ seed) % iv
    nxt = base + off
    if nxt > iv:
        nxt -= iv
    return nxt / 1e9


def _go_seconds(value: float) -> str:
    """``strconv.FormatFloat(s, 'f', -1, 64)`` for the timeout header."""
    if value == int(value):
        return str(int(value))
    return repr(value)


# --- the sample mutation --------------------------------------------------------


def mutate_sample_labels(
    scraped: Labels,
    target: Labels,
    honor_labels: bool,
    rules: RelabelRules | None,
) -> Labels | None:
    """Target labels, honor_labels and metric relabelling, as Go's ``mutateSampleLabels``.

    ``scraped`` may hold empty values (an exposition's ``team=""``): with
    ``honor_labels: true`` such a label still counts as present and removes the
    target's label; with ``honor_labels: false`` it is absent and causes no
    ``exported_`` copy. Returns None when relabelling drops the series.
    """
    merged = dict(scraped)
    if not honor_labels:
        # The usual case, at C speed: no name in common, no empty scraped value.
        n = len(merged)
        merged.update(target)
        if len(merged) == n + len(target) and "" not in merged.values():
            out = tuple.__new__(Labels, sorted(scraped + target))
            return rules.apply(out) if rules else out
        merged = dict(scraped)
    if honor_labels:
        for name, value in target:
            if name not in merged:
                merged[name] = value
    else:
        clashes: list[tuple[str, str]] = []
        for name, value in target:
            existing = merged.get(name, "")
            if existing != "":
                clashes.append((name, existing))
            merged[name] = value
        if clashes:
            clashes.sort(key=lambda c: len(c[0]))  # stable, as Go's SortStableFunc
            for name, value in clashes:
                new = name
                while True:
                    new = EXPORTED_PREFIX + new
                    if merged.get(new, "") == "":
                        merged[new] = value
                        break
    out = Labels.from_dict(merged)
    if rules:
        return rules.apply(out)
    return out


def _verify_label_limits(lset: Labels, s: LoopSettings) -> str | None:
    """Upstream's label limit errors, verbatim (metric and names cut to 50 characters)."""
    if s.label_limit <= 0 and s.label_name_length_limit <= 0 and s.label_value_length_limit <= 0:
        return None
    met = lset.get(METRIC_NAME)[:50]
    if s.label_limit > 0 and len(lset) > s.label_limit:
        return (
            f"label_limit exceeded (metric: {met}, number of labels: {len(lset)}, "
            f"limit: {s.label_limit})"
        )
    if s.label_name_length_limit <= 0 and s.label_value_length_limit <= 0:
        return None
    for name, value in lset:
        nlen = len(name.encode())
        if 0 < s.label_name_length_limit < nlen:
            return (
                f"label_name_length_limit exceeded (metric: {met}, label name: {name[:50]}, "
                f"length: {nlen}, limit: {s.label_name_length_limit})"
            )
        vlen = len(value.encode())
        if 0 < s.label_value_length_limit < vlen:
            return (
                f"label_value_length_limit exceeded (metric: {met}, label name: {name[:50]}, "
                f"value: {_go_quote(value[:50])}, length: {vlen}, "
                f"limit: {s.label_value_length_limit})"
            )
    return None


def _go_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif not ch.isprintable():
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


# --- per-target cache ----------------------------------------------------------


class _Series:
    """What the parser's ``ref`` slot holds for one raw series line."""

    __slots__ = ("labels", "ref")

    def __init__(self, labels: Labels | None, ref: SeriesRef | None = None) -> None:
        self.labels = labels  # None: dropped by relabelling
        self.ref = ref


_DROPPED = _Series(None)


class _ScrapeFailed(Exception):
    """A scrape error whose message is what the targets API shows as lastError."""


class _BodySizeLimit(_ScrapeFailed):
    def __init__(self) -> None:
        super().__init__("body size limit exceeded")


@dataclass(slots=True)
class _Outcome:
    total: int = 0
    added: int = 0
    series_added: int = 0
    error: str | None = None


@dataclass(slots=True)
class _Report:
    refs: list[SeriesRef | None] = field(default_factory=lambda: [None] * len(REPORT_METRICS))


class ScrapeLoop:
    """Scrapes one target every ``interval_s`` into ``storage`` until stopped.

    ``labels`` are the target's final labels, ``url`` its scrape URL (without
    credentials; the session adds them). ``session`` is the job's HTTP client
    (``promethean.config.httpclient.build_session``) and ``request_options`` its
    per-request options (``request_kwargs``: redirects). ``executor`` runs parsing
    and appending; None runs them on the event loop (tests, tiny setups).
    ``hash_labels`` are all the target's labels (``Target.all_labels``), which
    Go's offset hash covers; ``stats`` collects the self-metrics (the manager
    shares one :class:`~promethean.scrape.stats.ScrapeStats` among its loops);
    ``on_series_added`` hears, in the worker, how many series a scrape created
    (the server freezes the heap then: :mod:`promethean.scrape.heapfreeze`).
    """

    def __init__(
        self,
        *,
        labels: Labels,
        url: str,
        interval_s: float,
        timeout_s: float,
        settings: LoopSettings,
        session: aiohttp.ClientSession,
        storage: Storage,
        executor: Executor | None = None,
        offset_seed: int = 0,
        skip_offset: bool = False,
        parser: ScrapeParser | None = None,
        forced_error: str | None = None,
        request_options: Mapping[str, Any] | None = None,
        wall_clock: Callable[[], float] = time.time,
        hash_labels: Labels | None = None,
        stats: ScrapeStats | None = None,
        on_series_added: Callable[[int], object] | None = None,
    ) -> None:
        self.labels = labels
        self.url = url
        self.interval_s = interval_s
        self.timeout_s = min(timeout_s, interval_s) if interval_s > 0 else timeout_s
        self.settings = settings
        self.session = session
        self.storage = storage
        self.executor = executor
        self.offset_seed = offset_seed
        self.skip_offset = skip_offset
        self.parser = parser or ScrapeParser(max_age=2)
        self.forced_error = forced_error
        self.request_options = dict(request_options or {})
        self.health = TargetHealth()
        self.metadata: dict[str, MetricMetadata] = {}
        self._meta_seen: dict[str, int] = {}
        self._iter = 0
        self._wall = wall_clock
        self._prev: dict[SeriesRef, Labels] = {}
        self._report = _Report()
        self._report_labels = tuple(
            Labels.from_pairs([*labels, (METRIC_NAME, name)]) for name in REPORT_METRICS
        )
        self._headers = {
            "Accept": accept_header(settings.scrape_protocols, settings.escaping),
            "Accept-Encoding": "gzip" if settings.enable_compression else "identity",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Scrape-Timeout-Seconds": _go_seconds(self.timeout_s),
        }
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._stale_on_stop = True
        self._last_scrape_wall: float | None = None
        # Go hashes all target labels; a loop built from public labels only still spreads.
        self._hash = target_hash(hash_labels if hash_labels is not None else labels, url)
        self.stats = stats if stats is not None else ScrapeStats()
        self._on_series_added = on_series_added
        self._interval_label = go_duration(interval_s)
        self._last_start: float | None = None

    # --- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"scrape {self.settings.job_name} {self.url}"
            )

    def adopt(self, old: ScrapeLoop) -> None:
        """Take over ``old``'s series cache, staleness state, metadata and health (a reload
        that changed nothing the cache depends on: no stale markers, no new series)."""
        self.parser = old.parser
        self._prev = old._prev
        self._report = old._report
        self.metadata = old.metadata
        self._meta_seen = old._meta_seen
        self._iter = old._iter
        self.health = old.health
        self._last_scrape_wall = old._last_scrape_wall

    def disable_end_of_run_staleness(self) -> None:
        """The series live on in a successor loop (a reload): no stale markers at the end."""
        self._stale_on_stop = False

    async def stop(self) -> None:
        """Stop scraping; an in-flight scrape finishes first (it is bounded by the timeout).

        End-of-run stale markers are written later by :meth:`end_of_run_staleness`,
        which the owner runs in the background (and cancels on shutdown).
        """
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def end_of_run_staleness(self) -> None:
        """Go's ``endOfRunStaleness``: wait two intervals plus 10%, then mark all series stale.

        If the target came back meanwhile, its new loop has written newer samples
        and these markers are refused as out of order, which is what we want.
        """
        if not self._stale_on_stop or self._last_scrape_wall is None:
            return
        loop = asyncio.get_running_loop()
        await asyncio.sleep(self.interval_s)
        stale_at = self._wall()
        await asyncio.sleep(self.interval_s * 1.1)
        if not self._stale_on_stop:
            return
        ts = int(stale_at * 1000)
        await self._off_loop(loop, self._append_end_stale, ts)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        if not self.skip_offset:
            delay = scrape_offset(self._hash, self.interval_s, self.offset_seed, self._wall())
            if await self._wait(delay):
                return
        mono0 = loop.time()
        wall0 = self._wall()
        tick = 0
        tolerance = min(self.interval_s / 100, 0.002)
        while not self._stopping.is_set():
            now_wall = self._wall()
            ideal = wall0 + tick * self.interval_s
            scrape_wall = ideal if abs(now_wall - ideal) <= tolerance else now_wall
            if now_wall - ideal > self.interval_s / 10:
                self.health.late_scrapes += 1
            started = loop.time()
            if self._last_start is not None:
                self.stats.observe_interval(self._interval_label, started - self._last_start)
            self._last_start = started
            await self.scrape_once(scrape_wall)
            # Next tick on the original grid; ticks that already passed are dropped.
            elapsed = loop.time() - mono0
            nxt = math.floor(elapsed / self.interval_s) + 1
            if nxt > tick + 1:
                self.health.missed_ticks += nxt - tick - 1
            tick = nxt
            if await self._wait(mono0 + tick * self.interval_s - loop.time()):
                return

    async def _wait(self, delay: float) -> bool:
        """Sleep up to ``delay``; True if the loop was stopped meanwhile."""
        if delay <= 0:
            return self._stopping.is_set()
        try:
            await asyncio.wait_for(self._stopping.wait(), delay)
        except TimeoutError:
            return False
        return True

    # --- one scrape ----------------------------------------------------------------

    async def scrape_once(self, scrape_wall: float | None = None) -> None:
        """Fetch, ingest and report one scrape stamped ``scrape_wall`` (default: now)."""
        loop = asyncio.get_running_loop()
        if scrape_wall is None:
            scrape_wall = self._wall()
        start = time.monotonic()
        ts = int(scrape_wall * 1000)
        body: bytes | None = None
        ctype = ""
        err: str | None = self.forced_error
        if err is None:
            try:
                body, ctype = await self._fetch()
            except _BodySizeLimit as exc:
                err = str(exc)
                self.stats.add(exceeded_body_size_limit=1)
            except _ScrapeFailed as exc:
                err = str(exc)
        outcome = await self._off_loop(loop, self._ingest, body, ctype, ts, err, start)
        duration = time.monotonic() - start
        self._last_scrape_wall = scrape_wall
        h = self.health
        h.scrapes += 1
        h.last_scrape = scrape_wall
        h.last_scrape_duration = duration
        h.last_error = outcome.error or ""
        h.health = "down" if outcome.error else "up"
        h.max_duration = max(h.max_duration, duration)
        if outcome.error:
            h.failures += 1
            log.debug(
                "Scrape failed",
                extra=kv(scrape_pool=self.settings.job_name, target=self.url, err=outcome.error),
            )

    async def _off_loop(self, loop: asyncio.AbstractEventLoop, fn: Any, *args: Any) -> Any:
        if self.executor is None:
            return fn(*args)
        return await loop.run_in_executor(self.executor, fn, *args)

    async def _fetch(self) -> tuple[bytes, str]:
        try:
            async with asyncio.timeout(self.timeout_s):
                async with self.session.get(
                    self.url, headers=self._headers, auto_decompress=False, **self.request_options
                ) as resp:
                    if resp.status != 200:
                        raise _ScrapeFailed(_status_text(resp.status, resp.reason))
                    gz = resp.headers.get("Content-Encoding", "").lower() == "gzip"
                    body = await self._read_body(resp, gz)
                    return body, resp.headers.get("Content-Type", "")
        except TimeoutError:
            raise _ScrapeFailed(f'Get "{self.url}": context deadline exceeded') from None
        except _ScrapeFailed:
            raise
        except aiohttp.ClientConnectorError as exc:
            code = exc.os_error.errno
            reason = os.strerror(code) if code else (exc.os_error.strerror or "failed")
            raise _ScrapeFailed(
                f'Get "{self.url}": dial tcp {exc.host}:{exc.port}: connect: {reason.lower()}'
            ) from None
        except aiohttp.ClientError as exc:
            raise _ScrapeFailed(f'Get "{self.url}": {_client_error_text(exc)}') from None
        except OSError as exc:
            raise _ScrapeFailed(f'Get "{self.url}": {exc.strerror or exc}') from None

    async def _read_body(self, resp: aiohttp.ClientResponse, gz: bool) -> bytes:
        """Read at most ``body_size_limit`` bytes, counted after decompression."""
        limit = self.settings.body_size_limit or (1 << 62)
        parts: list[bytes] = []
        size = 0
        if not gz:
            async for chunk in resp.content.iter_chunked(_READ_CHUNK):
                size += len(chunk)
                if size >= limit:
                    raise _BodySizeLimit()
                parts.append(chunk)
            return b"".join(parts)
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            async for chunk in resp.content.iter_chunked(_READ_CHUNK):
                data = chunk
                while data:
                    out = d.decompress(data, limit - size)
                    size += len(out)
                    parts.append(out)
                    if size >= limit:
                        raise _BodySizeLimit()
                    if d.eof:
                        # Another gzip member may follow (Go reads multistream).
                        data = d.unused_data
                        if data:
                            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
                    else:
                        data = d.unconsumed_tail
            if not d.eof:
                raise _ScrapeFailed("unexpected EOF")
        except zlib.error:
            raise _ScrapeFailed("gzip: invalid header") from None
        return b"".join(parts)

    # --- ingestion (runs in the executor) ----------------------------------------

    def _ingest(
        self, body: bytes | None, ctype: str, ts: int, err: str | None, start: float
    ) -> _Outcome:
        """Append one scrape (or, on failure, only stale markers) plus the report series.

        On success the page and the report series go to storage in one
        ``append_many`` call (one batch is far cheaper than two); stale markers,
        rare in steady state, follow in a second call when there are any.
        """
        storage = self.storage
        outcome = _Outcome(error=err)
        app = storage.appender()
        cur: dict[SeriesRef, Labels] = {}
        reported = False
        if err is None and body:
            try:
                outcome, cur, reported = self._append_body(app, body, ctype, ts, start)
            except Exception as exc:
                log.warning(
                    "Unexpected error ingesting a scrape",
                    extra=kv(scrape_pool=self.settings.job_name, target=self.url, err=str(exc)),
                )
                outcome = _Outcome(error=f"append failed: {type(exc).__name__}")
            if outcome.error is not None:
                app.rollback()
                app = storage.appender()
                cur = {}
                reported = False
        self._append_stale(app, cur, ts)
        if outcome.error is None and body:
            self.parser.end_cycle()
        self._iter += 1
        if not reported:
            refs, labels, values = self._report_batch(outcome, start)
            new_refs, _errors = app.append_many(refs, labels, ts, values)
            self._report.refs = list(new_refs)
        app.commit()
        if outcome.series_added and self._on_series_added is not None:
            self._on_series_added(outcome.series_added)
        return outcome

    def _report_batch(
        self, outcome: _Outcome, start: float
    ) -> tuple[list[SeriesRef | None], list[Labels], npt.NDArray[np.float64]]:
        values = [
            0.0 if outcome.error else 1.0,
            max(0.0, time.monotonic() - start),
            float(outcome.total),
            float(outcome.added),
            float(outcome.series_added),
        ]
        return (
            list(self._report.refs),
            list(self._report_labels),
            np.array(values, dtype=np.float64),
        )

    def _append_body(
        self, app: Any, body: bytes, ctype: str, ts: int, start: float
    ) -> tuple[_Outcome, dict[SeriesRef, Labels], bool]:
        s = self.settings
        try:
            fmt = scrape_format(ctype or None, s.fallback_scrape_protocol)
        except NegotiationError as exc:
            return _Outcome(error=str(exc)), {}, False
        if fmt.format is ExpositionFormat.PROTOBUF:
            parse_ctype = _PROTOBUF_CTYPE
        elif fmt.format is ExpositionFormat.OPENMETRICS:
            parse_ctype = "application/openmetrics-text"
        else:
            parse_ctype = "text/plain"
        try:
            res = self.parser.parse(body, parse_ctype)
        except ParseError as exc:
            return _Outcome(error=str(exc)), {}, False
        except UnicodeDecodeError:
            return _Outcome(error="invalid UTF-8 in scrape body"), {}, False
        self._update_metadata(res)
        if res.native_histograms:
            self._skip_native_histograms(res.native_histograms)
        if res.dropped_exemplars:
            log.debug(
                "Exemplars dropped: they break OpenMetrics rules (the samples are kept)",
                extra=kv(scrape_pool=s.job_name, target=self.url),
            )
        entries = res.entries
        # Skipped native histograms were scraped (upstream counts them); they are not stored.
        total = len(entries) + res.native_histograms
        cs: list[Any] = [e.ref for e in entries]
        new_idx: list[int] = []
        if None in cs:
            for i, c in enumerate(cs):
                if c is not None:
                    continue
                e = entries[i]
                c = e.ref
                if c is None:
                    c, error = self._new_series(e)
                    if error is not None:
                        if error.startswith("label_"):
                            self.stats.add(exceeded_label_limits=1)
                        added = sum(1 for x in cs[:i] if x is not _DROPPED)
                        return _Outcome(total=i + 1, added=added, error=error), {}, False
                    e.ref = c
                    if c is not _DROPPED:
                        new_idx.append(i)
                cs[i] = c
        values = res.values
        timestamps = res.timestamps if s.honor_timestamps else {}
        if _DROPPED in cs:
            keep = [i for i, c in enumerate(cs) if c is not _DROPPED]
            kept = [cs[i] for i in keep]
            vals = np.array([values[i] for i in keep], dtype=np.float64)
            if timestamps:
                pos = {i: n for n, i in enumerate(keep)}
                timestamps = {pos[i]: t for i, t in timestamps.items() if i in pos}
            if new_idx:
                new_set = set(new_idx)
                new_idx = [n for n, i in enumerate(keep) if i in new_set]
        else:
            kept = cs
            vals = np.array(values, dtype=np.float64)
        added = len(kept)
        if s.sample_limit > 0 and added > s.sample_limit:
            self.stats.add(exceeded_sample_limit=1)
            return _Outcome(total=total, added=added, error="sample limit exceeded"), {}, False
        refs_in = [c.ref for c in kept]
        labels_in = [c.labels for c in kept]
        t: Any = ts
        if timestamps:
            t = np.full(added, ts, dtype=np.int64)
            for i, tv in timestamps.items():
                t[i] = tv
        series_added = len(new_idx)
        ok = _Outcome(total=total, added=added, series_added=series_added)
        r_refs, r_labels, r_vals = self._report_batch(ok, start)
        if isinstance(t, int):
            t_all: Any = t
        else:
            t_all = np.concatenate([t, np.full(len(r_refs), ts, dtype=np.int64)])
        refs_all, errors = app.append_many(
            refs_in + r_refs, labels_in + r_labels, t_all, np.concatenate([vals, r_vals])
        )
        refs_out = refs_all[:added]
        self._report.refs = list(refs_all[added:])
        if refs_out != refs_in:
            for c, r in zip(kept, refs_out, strict=True):
                c.ref = r
        if errors:
            errors = {i: e for i, e in errors.items() if i < added}
            self._count_append_errors(errors)
        for e in errors.values():
            if isinstance(e, SeriesLabelsError):
                return (
                    _Outcome(
                        total=total, added=added, error=f"invalid metric name or label names: {e}"
                    ),
                    {},
                    False,
                )
        if errors:
            series_added -= sum(1 for i in new_idx if i in errors)
        cur = dict(zip(refs_out, labels_in, strict=True))
        if errors or (timestamps and not s.track_timestamps_staleness):
            drop = set(errors)
            if not s.track_timestamps_staleness:
                drop.update(timestamps)
            for i in drop:
                cur.pop(refs_out[i], None)
        return _Outcome(total=total, added=added, series_added=series_added), cur, True

    def _count_append_errors(self, errors: Mapping[int, StorageError]) -> None:
        """Upstream's per-sample rejection counters (the scrape itself still succeeds)."""
        ooo = dup = oob = 0
        for e in errors.values():
            if isinstance(e, OutOfOrderSampleError):
                ooo += 1
            elif isinstance(e, DuplicateSampleError):
                dup += 1
            elif isinstance(e, OutOfBoundsError):
                oob += 1
        self.stats.add(
            sample_out_of_order=ooo, sample_duplicate_timestamp=dup, sample_out_of_bounds=oob
        )

    def _skip_native_histograms(self, n: int) -> None:
        self.stats.add(native_histograms_skipped=n)
        log.debug(
            "Native histogram samples skipped (not stored yet)",
            extra=kv(scrape_pool=self.settings.job_name, target=self.url, samples=n),
        )

    def _new_series(self, e: SeriesEntry) -> tuple[_Series, str | None]:
        s = self.settings
        lset = mutate_sample_labels(e.labels, self.labels, s.honor_labels, s.metric_relabel)
        if lset is None or len(lset) == 0:
            return _DROPPED, None
        # Parsers always set __name__; only metric relabelling can remove it.
        if s.metric_relabel is not None and not lset.has(METRIC_NAME):
            return _DROPPED, "missing metric name (__name__ label)"
        err = _verify_label_limits(lset, s)
        if err is not None:
            return _DROPPED, err
        return _Series(lset), None

    def _append_stale(self, app: Any, cur: dict[SeriesRef, Labels], ts: int) -> None:
        prev = self._prev
        self._prev = cur
        if not prev:
            return
        gone = prev.keys() - cur.keys()
        if not gone:
            return
        refs = list(gone)
        labels = [prev[r] for r in refs]
        app.append_many(refs, labels, ts, np.full(len(refs), STALE_NAN, dtype=np.float64))

    def _append_end_stale(self, ts: int) -> None:
        app = self.storage.appender()
        self._append_stale(app, {}, ts)
        app.append_many(
            list(self._report.refs),
            list(self._report_labels),
            ts,
            np.full(len(REPORT_METRICS), STALE_NAN, dtype=np.float64),
        )
        app.commit()

    # --- metadata ------------------------------------------------------------------

    def _update_metadata(self, res: ScrapeResult) -> None:
        it = self._iter
        seen = self._meta_seen
        meta = self.metadata
        for name, m in res.metadata.items():
            seen[name] = it
            entry = MetricMetadata(str(m.type), m.help or "", m.unit or "")
            if meta.get(name) != entry:
                meta[name] = entry
        if it % _METADATA_KEEP_ITERATIONS == 0:
            for name in [n for n, last in seen.items() if it - last > _METADATA_KEEP_ITERATIONS]:
                del seen[name]
                meta.pop(name, None)


def _status_text(status: int, reason: str | None) -> str:
    """Go's ``resp.Status`` in upstream's message: ``server returned HTTP status 404 Not Found``."""
    return f"server returned HTTP status {status} {reason or ''}".rstrip()


def _client_error_text(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "EOF"
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "unexpected EOF"
    if isinstance(exc, aiohttp.TooManyRedirects):
        return "stopped after 10 redirects"
    text = str(exc)
    return text or type(exc).__name__


def report_labels_for(target: Labels) -> Mapping[str, Labels]:
    """The synthetic series' label sets for a target (always exactly the target labels)."""
    return {n: Labels.from_pairs([*target, (METRIC_NAME, n)]) for n in REPORT_METRICS}
