"""API v2 of the Alertmanager, answering as the Go Alertmanager 0.25 does.

Clients (amtool, Prometheus, Grafana, UIs) parse these bodies, so shapes,
status codes and messages follow the observed reference: go-swagger errors
``{"code":N,"message":...}`` for decoding and schema failures, a bare JSON
string for semantic ones, empty 200 bodies where upstream sends them.

Beyond upstream:

* W1: there is no API v1. Its paths answer 410 as Alertmanager 0.27+ does, so
  the v1 endpoints that took ``text/plain`` and form bodies (cross-site
  "simple" requests from any web page) do not exist. Every mutating v2
  request must carry ``Content-Type: application/json`` (415 otherwise).
* M1: every mutation (alerts posted, silence created, updated or expired) is
  an audit log line (logger ``promethean.alertmanager.audit``) with the client
  address and the authenticated user, never a secret.
* Request bodies are bounded (413 beyond ``max_body``).
"""

from __future__ import annotations

import functools
import json
import logging
import platform
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2
from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from promethean import __version__
from promethean.alertmanager.alerts import (
    Alert,
    AlertStore,
    fingerprints,
    posted_alert,
    validate_alert,
)
from promethean.alertmanager.matchers import MatcherParseError, parse_matcher
from promethean.alertmanager.silences import (
    Silence,
    SilenceError,
    SilenceMatcher,
    SilenceNotFound,
    Silences,
    sort_for_api,
)
from promethean.alertmanager.timefmt import format_api_time, parse_api_time
from promethean.logs import kv
from promethean.model.labels import Labels
from promethean.model.matchers import Matcher
from promethean.web import client_identity, dumps, mount_under_prefix, plain_error, read_body

__all__ = [
    "ActiveConfig",
    "AlertmanagerAPI",
    "GroupsSource",
    "RouteHit",
    "build_app",
]

log = logging.getLogger("promethean.alertmanager.api")
audit = logging.getLogger("promethean.alertmanager.audit")

_UUID = re2.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_CONTROL = re2.compile(r"[\x00-\x1f\x7f]")
_URI_SCHEME = re2.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_V1_GONE = (
    "The Alertmanager v1 API was deprecated in version 0.16.0 and is removed as of "
    "version 0.27.0 - please use the equivalent route in the v2 API"
)
API_VERSION = "0.25.0"
_CORS_SIMPLE_METHODS = ("GET", "POST", "HEAD")
_CORS_ALLOWED_HEADERS = ("origin", "accept", "content-type", "x-requested-with")


@dataclass(frozen=True, slots=True)
class RouteHit:
    """One route an alert matched: its receiver, route id and the alert's group labels."""

    receiver: str
    route_id: str
    group_labels: Labels


def _no_routes(_labels: Labels) -> list[RouteHit]:
    return []


def _no_inhibition(_labels: Labels, _now: float) -> list[str]:
    return []


@dataclass(frozen=True)
class ActiveConfig:
    """What the API needs from the loaded configuration; swapped whole on reload.

    ``original`` is the config rendered with every secret as ``<secret>``;
    ``routes_for`` matches labels against the routing tree; ``inhibited_by``
    names the fingerprints of the firing alerts that inhibit a label set.
    """

    original: str = ""
    receivers: tuple[str, ...] = ()
    resolve_timeout: float = 300.0
    routes_for: Callable[[Labels], list[RouteHit]] = _no_routes
    inhibited_by: Callable[[Labels, float], list[str]] = _no_inhibition


@dataclass
class APIOptions:
    route_prefix: str = ""
    max_body: int = 32 << 20
    external_url: str = ""
    reject_cross_site: bool = False
    flags: dict[str, str] = field(default_factory=dict)


_Handler = Callable[[web.Request, str], Awaitable[web.Response]]

GroupsSource = Callable[[], Iterable[tuple[str, Mapping[str, str], Iterable[Alert]]]]
"""Every aggregation group as ``(receiver, group labels, alerts)``."""


class _BadRequest(Exception):
    """An error answered as upstream would; ``body`` is the JSON value sent."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=dumps(body).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _empty(status: int = 200) -> web.Response:
    return web.Response(status=status, body=b"")


def _swagger(status: int, code: int, message: str) -> _BadRequest:
    return _BadRequest(status, {"code": code, "message": message})


def _go_json_error(exc: json.JSONDecodeError, raw: str) -> str:
    """Go's encoding/json wording for the common syntax errors."""
    if not raw[exc.pos :].strip():
        return "unexpected EOF"
    ch = raw[exc.pos]
    return f"invalid character {ch!r} looking for beginning of value"


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Metrics(Collector):
    """Gauges computed at scrape time: alerts and silences by state."""

    def __init__(self, api: AlertmanagerAPI) -> None:
        self._api = api

    def collect(self) -> Any:
        now = time.time()
        alerts = GaugeMetricFamily(
            "alertmanager_alerts", "How many alerts by state.", labels=["state"]
        )
        active = suppressed = 0
        for alert in self._api.alerts.all():
            if alert.resolved(now):
                continue
            if self._api.silences.mutes(alert.labels):
                suppressed += 1
            else:
                active += 1
        alerts.add_metric(["active"], active)
        alerts.add_metric(["suppressed"], suppressed)
        alerts.add_metric(["unprocessed"], 0)
        yield alerts
        silences = GaugeMetricFamily(
            "alertmanager_silences", "How many silences by state.", labels=["state"]
        )
        counts = {"active": 0, "pending": 0, "expired": 0}
        snow = self._api.silences.now()
        for sil in self._api.silences.all():
            counts[sil.state(snow)] += 1
        for state, n in counts.items():
            silences.add_metric([state], n)
        yield silences


class AlertmanagerAPI:
    """Handlers for API v2, health, reload and metrics over the stores."""

    def __init__(
        self,
        alerts: AlertStore,
        silences: Silences,
        config: ActiveConfig,
        options: APIOptions | None = None,
        reload: Callable[[], Awaitable[str | None]] | None = None,
    ) -> None:
        self.alerts = alerts
        self.silences = silences
        self.config = config
        self.options = options or APIOptions()
        self._reload = reload
        self.groups_source: GroupsSource | None = None
        """The dispatcher's aggregation groups (``main`` sets it once one runs)."""
        self.started = time.time()
        self.registry = CollectorRegistry(auto_describe=True)
        self.received = Counter(
            "alertmanager_alerts_received_total",
            "The total number of received alerts.",
            ["status"],
            registry=self.registry,
        )
        self.invalid = Counter(
            "alertmanager_alerts_invalid_total",
            "The total number of received alerts that were invalid.",
            registry=self.registry,
        )
        self.registry.register(_Metrics(self))

    # -- routing table ---------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        return [
            web.route("*", "/-/healthy", self._health),
            web.route("*", "/-/ready", self._health),
            web.route("*", "/-/reload", self._reload_handler),
            web.get("/metrics", self._metrics),
            web.route("*", "/api/v1/{tail:.*}", self._v1_gone),
            web.route("*", "/api/v2/{tail:.*}", self._v2),
        ]

    # -- plain endpoints -------------------------------------------------------

    async def _health(self, request: web.Request) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return plain_error(405, "Method Not Allowed", {"Allow": "GET, HEAD, OPTIONS"})
        return web.Response(text="OK", content_type="text/plain", charset="utf-8")

    async def _reload_handler(self, request: web.Request) -> web.StreamResponse:
        if request.method != "POST":
            return plain_error(405, "Method Not Allowed", {"Allow": "OPTIONS, POST"})
        if self._reload is None:
            return _empty()
        error = await self._reload()
        if error is not None:
            return plain_error(500, f"failed to reload config: {error}")
        return _empty()

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        return web.Response(
            body=generate_latest(self.registry),
            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
        )

    async def _v1_gone(self, request: web.Request) -> web.StreamResponse:
        log.warning(
            "v1 API received a request on a removed endpoint",
            extra=kv(component="api", version="v1", path=request.path, method=request.method),
        )
        body = dumps({"status": "deprecated", "error": _V1_GONE}) + "\n"
        return web.Response(
            status=410, body=body.encode(), headers={"Content-Type": "application/json"}
        )

    # -- API v2 dispatch -------------------------------------------------------

    async def _v2(self, request: web.Request) -> web.StreamResponse:
        tail = request.match_info["tail"]
        method = request.method
        origin = request.headers.get("Origin")
        if method == "OPTIONS" and origin is not None:
            return self._preflight(request)
        handler, allowed = self._v2_handler(tail, method)
        if handler is None:
            if allowed:
                resp = _json(
                    {
                        "code": 405,
                        "message": f"method {method} is not allowed, but [{','.join(allowed)}] are",
                    },
                    405,
                )
                resp.headers["Allow"] = ",".join(allowed)
            else:
                resp = _json({"code": 404, "message": f"path {request.path} was not found"}, 404)
            return self._cors(resp, origin)
        try:
            if method in ("POST", "PUT", "DELETE"):
                self._check_cross_site(request)
            resp = await handler(request, tail)
        except _BadRequest as exc:
            resp = _json(exc.body, exc.status)
        return self._cors(resp, origin)

    def _v2_handler(self, tail: str, method: str) -> tuple[_Handler | None, list[str]]:
        table: dict[str, _Handler]
        if tail.startswith("silence/") and "/" not in tail[len("silence/") :]:
            table = {"GET": self._get_silence, "DELETE": self._delete_silence}
        else:
            tables: dict[str, dict[str, _Handler]] = {
                "status": {"GET": self._status},
                "receivers": {"GET": self._receivers},
                "alerts": {"GET": self._get_alerts, "POST": self._post_alerts},
                "alerts/groups": {"GET": self._get_groups},
                "silences": {"GET": self._get_silences, "POST": self._post_silences},
            }
            table = tables.get(tail, {})
        lookup = "GET" if method == "HEAD" else method
        return table.get(lookup), sorted(table)

    def _cors(self, resp: web.Response, origin: str | None) -> web.Response:
        if origin is not None:
            resp.headers["Access-Control-Allow-Origin"] = "*"
            resp.headers["Vary"] = "Origin"
        return resp

    def _preflight(self, request: web.Request) -> web.Response:
        """rs/cors defaults as upstream uses them: simple methods and headers only."""
        resp = web.Response(status=200)
        resp.headers["Vary"] = (
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
        )
        method = request.headers.get("Access-Control-Request-Method", "").upper()
        if method not in _CORS_SIMPLE_METHODS:
            return resp
        wanted = [
            h.strip()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        if any(h.lower() not in _CORS_ALLOWED_HEADERS for h in wanted):
            return resp
        resp.headers["Access-Control-Allow-Origin"] = "*"
        resp.headers["Access-Control-Allow-Methods"] = method
        if wanted:
            resp.headers["Access-Control-Allow-Headers"] = ", ".join(
                "-".join(p.capitalize() for p in h.split("-")) for h in wanted
            )
        return resp

    def _check_cross_site(self, request: web.Request) -> None:
        """Opt-in W1 guard: refuse mutations a browser marks as cross-site."""
        if not self.options.reject_cross_site:
            return
        site = request.headers.get("Sec-Fetch-Site", "")
        origin = request.headers.get("Origin")
        cross = site == "cross-site"
        if origin is not None and origin != "null" and not cross:
            host = origin.split("://", 1)[-1]
            cross = host != request.host
        elif origin == "null":
            cross = True
        if cross:
            raise _BadRequest(403, "cross-site requests may not change alerts or silences")

    async def _read_json(self, request: web.Request, what: str) -> Any:
        content_type = request.headers.get("Content-Type", "")
        media = content_type.split(";", 1)[0].strip().lower() or "application/octet-stream"
        if media != "application/json":
            raise _swagger(
                415,
                415,
                f'unsupported media type "{media}", only [application/json] are allowed',
            )
        raw = (await read_body(request, self.options.max_body)).decode("utf-8", "replace")
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise _swagger(
                400,
                400,
                f'parsing {what} body from "" failed, because {_go_json_error(exc, raw)}',
            ) from None

    # -- status and receivers ----------------------------------------------------

    async def _status(self, request: web.Request, _tail: str) -> web.Response:
        return _json(
            {
                "cluster": {"peers": [], "status": "disabled"},
                "config": {"original": self.config.original},
                "uptime": format_api_time(self.started),
                "versionInfo": {
                    # The API level served is Alertmanager 0.25.0's; amtool compares
                    # this field with its own version and warns on every call otherwise.
                    "branch": "promethean",
                    "buildDate": "",
                    "buildUser": "promethean",
                    "goVersion": f"python{platform.python_version()}",
                    "revision": f"promethean-{__version__}",
                    "version": API_VERSION,
                },
            }
        )

    async def _receivers(self, request: web.Request, _tail: str) -> web.Response:
        return _json([{"name": name} for name in self.config.receivers])

    # -- alerts ----------------------------------------------------------------

    async def _post_alerts(self, request: web.Request, _tail: str) -> web.Response:
        data = await self._read_json(request, "alerts")
        decoded = _decode_alerts(data)
        now = time.time()
        resolve_timeout = self.config.resolve_timeout
        label_sets = [Labels.from_dict(d["labels"]) for d in decoded]
        prepared = [
            posted_alert(
                labels,
                d.get("annotations") or {},
                d.get("startsAt"),
                d.get("endsAt"),
                d.get("generatorURL", ""),
                now,
                resolve_timeout,
                fp,
            )
            for d, labels, fp in zip(decoded, label_sets, fingerprints(label_sets), strict=True)
        ]
        valid: list[Alert] = []
        errors: list[str] = []
        firing = resolved = 0
        for alert in prepared:
            if alert.ends_at is not None and alert.ends_at > now:
                firing += 1
            else:
                resolved += 1
            problem = validate_alert(alert)
            if problem is None:
                valid.append(alert)
            else:
                errors.append(problem)
        if firing:
            self.received.labels("firing").inc(firing)
        if resolved:
            self.received.labels("resolved").inc(resolved)
        if errors:
            self.invalid.inc(len(errors))
        self.alerts.put(valid, now)
        if valid or errors:
            audit.info(
                "alerts posted",
                extra=kv(
                    component="audit",
                    **client_identity(request),
                    accepted=len(valid),
                    invalid=len(errors),
                    fingerprints=",".join(a.fingerprint for a in valid),
                ),
            )
        if errors:
            return _json("; ".join(errors), 400)
        return _empty()

    def _alert_filter(
        self, request: web.Request
    ) -> Callable[[Alert, list[str]], dict[str, Any] | None]:
        query = request.query
        matchers = _filter_matchers(query.getall("filter", []))
        flags = {
            name: _query_bool(query, name)
            for name in ("active", "silenced", "inhibited", "unprocessed")
        }
        now = time.time()
        config = self.config

        def status_of(alert: Alert, receivers: list[str]) -> dict[str, Any] | None:
            if alert.resolved(now):
                return None
            silenced_by = self.silences.mutes(alert.labels)
            inhibited_by = config.inhibited_by(alert.labels, now)
            state = "suppressed" if silenced_by or inhibited_by else "active"
            if not flags["active"] and state == "active":
                return None
            if not flags["silenced"] and silenced_by:
                return None
            if not flags["inhibited"] and inhibited_by:
                return None
            if not all(m.matches(alert.labels.get(m.name)) for m in matchers):
                return None
            return _alert_json(alert, receivers, silenced_by, inhibited_by, state)

        return status_of

    def _receiver_filter(self, request: web.Request) -> Callable[[str], bool] | None:
        pattern = request.query.get("receiver")
        if not pattern:
            return None
        try:
            regex = re2.compile(f"^(?:{pattern})$")
        except re2.error:
            raise _swagger(400, 400, f"failed to parse receiver param: {pattern}") from None
        return lambda name: regex.search(name) is not None

    async def _get_alerts(self, request: web.Request, _tail: str) -> web.Response:
        receiver_ok = self._receiver_filter(request)
        status_of = self._alert_filter(request)
        out: list[dict[str, Any]] = []
        for alert in self.alerts.all():
            receivers = [hit.receiver for hit in self.config.routes_for(alert.labels)]
            if receiver_ok is not None and not any(receiver_ok(r) for r in receivers):
                continue
            item = status_of(alert, receivers)
            if item is not None:
                out.append(item)
        out.sort(key=lambda item: str(item["fingerprint"]))
        return _json(out)

    async def _get_groups(self, request: web.Request, _tail: str) -> web.Response:
        receiver_ok = self._receiver_filter(request)
        status_of = self._alert_filter(request)
        source = self.groups_source
        if source is None:
            return _json(self._groups_from_routes(receiver_ok, status_of))
        # Upstream's Dispatcher.Groups: the real aggregation groups; an alert's
        # receivers are those of the groups listed that hold it, sorted.
        chosen: list[tuple[str, Mapping[str, str], list[Alert]]] = []
        receivers: dict[Labels, list[str]] = {}
        for receiver, labels, alerts in source():
            if receiver_ok is not None and not receiver_ok(receiver):
                continue
            kept = [a for a in alerts if status_of(a, []) is not None]
            if not kept:
                continue
            for alert in kept:
                receivers.setdefault(alert.labels, []).append(receiver)
            chosen.append((receiver, labels, kept))
        chosen.sort(key=functools.cmp_to_key(_group_order))
        out = []
        for receiver, labels, alerts in chosen:
            alerts.sort(key=functools.cmp_to_key(_alert_order))
            items = []
            for alert in alerts:
                item = status_of(alert, sorted(receivers[alert.labels]))
                if item is not None:
                    items.append(item)
            out.append({"alerts": items, "labels": dict(labels), "receiver": {"name": receiver}})
        return _json(out)

    def _groups_from_routes(
        self,
        receiver_ok: Callable[[str], bool] | None,
        status_of: Callable[[Alert, list[str]], dict[str, Any] | None],
    ) -> list[dict[str, Any]]:
        """Groups computed from the routing tree: only without a dispatcher (API tests)."""
        groups: dict[tuple[str, str, Labels], list[dict[str, Any]]] = {}
        for alert in self.alerts.all():
            hits = self.config.routes_for(alert.labels)
            receivers = [hit.receiver for hit in hits]
            for hit in hits:
                if receiver_ok is not None and not receiver_ok(hit.receiver):
                    continue
                item = status_of(alert, receivers)
                if item is None:
                    continue
                groups.setdefault((hit.route_id, hit.receiver, hit.group_labels), []).append(item)
        ordered = sorted(groups.items(), key=lambda kv_: (list(kv_[0][2]), kv_[0][1]))
        out = []
        for (_route, receiver, labels), items in ordered:
            items.sort(key=lambda item: str(item["fingerprint"]))
            out.append({"alerts": items, "labels": dict(labels), "receiver": {"name": receiver}})
        return out

    # -- silences ----------------------------------------------------------------

    async def _get_silences(self, request: web.Request, _tail: str) -> web.Response:
        matchers = _filter_matchers(request.query.getall("filter", []))
        now = self.silences.now()
        chosen = [s for s in self.silences.all() if _silence_matches_filter(s, matchers)]
        return _json([_silence_json(s, now) for s in sort_for_api(chosen, now)])

    async def _get_silence(self, request: web.Request, tail: str) -> web.Response:
        sid = _silence_id(tail)
        sil = self.silences.get(sid)
        if sil is None:
            return _empty(404)
        return _json(_silence_json(sil, self.silences.now()))

    async def _delete_silence(self, request: web.Request, tail: str) -> web.Response:
        sid = _silence_id(tail)
        try:
            self.silences.expire(sid)
        except SilenceNotFound as exc:
            log.error("Failed to expire silence", extra=kv(component="api", err=str(exc)))
            return _json(str(exc), 500)
        await self.silences.sync()
        audit.info(
            "silence expired",
            extra=kv(component="audit", **client_identity(request), id=sid),
        )
        return _empty()

    async def _post_silences(self, request: web.Request, _tail: str) -> web.Response:
        data = await self._read_json(request, "silence")
        sil = _decode_silence(data)
        now = time.time()
        if sil["startsAt"] >= sil["endsAt"]:
            return _json("Failed to create silence: start time must be before end time", 400)
        if sil["endsAt"] < now:
            return _json("Failed to create silence: end time can't be in the past", 400)
        previous = sil["id"]
        try:
            sid = self.silences.set(
                sil["matchers"],
                sil["startsAt"],
                sil["endsAt"],
                sil["createdBy"],
                sil["comment"],
                previous,
            )
        except SilenceNotFound as exc:
            return _json(str(exc), 404)
        except SilenceError as exc:
            return _json(str(exc), 400)
        await self.silences.sync()
        fields: dict[str, Any] = {
            "component": "audit",
            **client_identity(request),
            "id": sid,
            "matchers": "{" + ",".join(str(m.to_matcher()) for m in sil["matchers"]) + "}",
            "created_by": sil["createdBy"],
            "starts_at": format_api_time(sil["startsAt"]),
            "ends_at": format_api_time(sil["endsAt"]),
        }
        if previous:
            fields["previous_id"] = previous
        audit.info("silence updated" if previous else "silence created", extra=kv(**fields))
        return _json({"silenceID": sid})


# -- decoding and encoding -------------------------------------------------------


def _query_bool(query: Any, name: str) -> bool:
    raw = query.get(name)
    if raw is None or raw == "":
        return True
    value = raw.lower()
    if value in ("true", "1", "yes", "ok", "y", "on", "selected", "checked", "t", "enabled"):
        return True
    if value in ("false", "0", "no", "n", "off", "f", "disabled"):
        return False
    raise _swagger(422, 601, f'{name} in query must be of type bool: "{raw}"')


def _filter_matchers(texts: Sequence[str]) -> list[Matcher]:
    out = []
    for text in texts:
        try:
            out.append(parse_matcher(text))
        except MatcherParseError as exc:
            message = str(exc)
            if not message.startswith("bad matcher format"):
                raise _BadRequest(400, message) from None
            raise _BadRequest(400, f"bad matcher format: {text}") from None
    return out


def _silence_id(tail: str) -> str:
    sid = tail[len("silence/") :]
    if _UUID.search(sid) is None:
        raise _swagger(422, 601, f'silenceID in path must be of type uuid: "{sid}"')
    return sid


def _labelset(value: Any, field_name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _swagger(
            400,
            400,
            'parsing alerts body from "" failed, because json: cannot unmarshal '
            f"{_go_type(value)} into Go struct field {field_name} of type models.LabelSet",
        )
    for v in value.values():
        if not isinstance(v, str):
            raise _swagger(
                400,
                400,
                'parsing alerts body from "" failed, because json: cannot unmarshal '
                f"{_go_type(v)} into Go struct field {field_name} of type string",
            )
    return value


def _time_field(value: Any, where: str, what: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _swagger(
            400,
            400,
            f'parsing {what} body from "" failed, because json: cannot unmarshal '
            f"{_go_type(value)} into Go struct field {where} of type strfmt.DateTime",
        )
    try:
        return parse_api_time(value)
    except ValueError as exc:
        raise _swagger(400, 400, f'parsing {what} body from "" failed, because {exc}') from None


def _valid_uri(text: str) -> bool:
    if _CONTROL.search(text) is not None:
        return False
    return text.startswith("/") or _URI_SCHEME.search(text) is not None


def _decode_alerts(data: Any) -> list[dict[str, Any]]:
    """Type-check a PostableAlerts body as go-swagger would; returns plain dicts."""
    if not isinstance(data, list):
        raise _swagger(
            400,
            400,
            'parsing alerts body from "" failed, because json: cannot unmarshal '
            f"{_go_type(data)} into Go value of type models.PostableAlerts",
        )
    out = []
    for item in data:
        if not isinstance(item, dict):
            raise _swagger(
                400,
                400,
                'parsing alerts body from "" failed, because json: cannot unmarshal '
                f"{_go_type(item)} into Go value of type models.PostableAlert",
            )
        labels = _labelset(item.get("labels"), "Alert.labels")
        annotations = _labelset(item.get("annotations"), "PostableAlert.annotations")
        starts_at = _time_field(item.get("startsAt"), "PostableAlert.startsAt", "alerts")
        ends_at = _time_field(item.get("endsAt"), "PostableAlert.endsAt", "alerts")
        url = item.get("generatorURL")
        if url is not None and not isinstance(url, str):
            raise _swagger(
                400,
                400,
                'parsing alerts body from "" failed, because json: cannot unmarshal '
                f"{_go_type(url)} into Go struct field Alert.generatorURL of type strfmt.URI",
            )
        out.append(
            {
                "labels": labels,
                "annotations": annotations,
                "startsAt": starts_at,
                "endsAt": ends_at,
                "generatorURL": url or "",
                "_has_labels": item.get("labels") is not None,
            }
        )
    problems = []
    for i, d in enumerate(out):
        if not d["_has_labels"]:
            problems.append((602, f"{i}.labels in body is required"))
        url = str(d["generatorURL"])
        if url and not _valid_uri(url):
            problems.append((601, f'{i}.generatorURL in body must be of type uri: "{url}"'))
    if problems:
        # go-swagger serves only the first error of a composite one.
        raise _swagger(422, problems[0][0], problems[0][1])
    return out


def _decode_silence(data: Any) -> dict[str, Any]:
    """Type-check a PostableSilence body as go-swagger would."""
    if not isinstance(data, dict):
        raise _swagger(
            400,
            400,
            'parsing silence body from "" failed, because json: cannot unmarshal '
            f"{_go_type(data)} into Go value of type models.PostableSilence",
        )

    def string_field(name: str) -> str | None:
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise _swagger(
                400,
                400,
                'parsing silence body from "" failed, because json: cannot unmarshal '
                f"{_go_type(value)} into Go struct field PostableSilence.{name} of type string",
            )
        return value

    sid = string_field("id")
    comment = string_field("comment")
    created_by = string_field("createdBy")
    ends_at = _time_field(data.get("endsAt"), "PostableSilence.endsAt", "silence")
    starts_at = _time_field(data.get("startsAt"), "PostableSilence.startsAt", "silence")
    raw_matchers = data.get("matchers")
    if raw_matchers is not None and not isinstance(raw_matchers, list):
        raise _swagger(
            400,
            400,
            'parsing silence body from "" failed, because json: cannot unmarshal '
            f"{_go_type(raw_matchers)} into Go struct field PostableSilence.matchers "
            "of type models.Matchers",
        )
    problems: list[tuple[int, str]] = []
    if comment is None:
        problems.append((602, "comment in body is required"))
    if created_by is None:
        problems.append((602, "createdBy in body is required"))
    if data.get("endsAt") is None:
        problems.append((602, "endsAt in body is required"))
    matchers: list[SilenceMatcher] = []
    if raw_matchers is None:
        problems.append((602, "matchers in body is required"))
    elif not raw_matchers:
        problems.append((612, "matchers in body should have at least 1 items"))
    else:
        for i, m in enumerate(raw_matchers):
            if not isinstance(m, dict):
                raise _swagger(
                    400,
                    400,
                    'parsing silence body from "" failed, because json: cannot unmarshal '
                    f"{_go_type(m)} into Go value of type models.Matcher",
                )
            for key, kind in (("name", str), ("value", str), ("isRegex", bool), ("isEqual", bool)):
                value = m.get(key)
                if value is not None and not isinstance(value, kind):
                    go_kind = "string" if kind is str else "bool"
                    raise _swagger(
                        400,
                        400,
                        'parsing silence body from "" failed, because json: cannot unmarshal '
                        f"{_go_type(value)} into Go struct field Matcher.matchers.{key} "
                        f"of type {go_kind}",
                    )
            missing = [k for k in ("isRegex", "name", "value") if m.get(k) is None]
            for key in missing:
                problems.append((602, f"matchers.{i}.{key} in body is required"))
            if not missing:
                is_equal = m.get("isEqual")
                matchers.append(
                    SilenceMatcher(
                        m["name"], m["value"], m["isRegex"], True if is_equal is None else is_equal
                    )
                )
    if data.get("startsAt") is None:
        problems.append((602, "startsAt in body is required"))
    if problems:
        # go-swagger serves only the first error of a composite one.
        raise _swagger(422, problems[0][0], problems[0][1])
    assert starts_at is not None or data.get("startsAt") is not None
    return {
        "id": sid or "",
        "comment": comment or "",
        "createdBy": created_by or "",
        "startsAt": starts_at if starts_at is not None else float("-inf"),
        "endsAt": ends_at if ends_at is not None else float("-inf"),
        "matchers": matchers,
    }


def _alert_json(
    alert: Alert,
    receivers: list[str],
    silenced_by: list[str],
    inhibited_by: list[str],
    state: str,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "annotations": dict(alert.annotations),
        "endsAt": format_api_time(alert.ends_at if alert.ends_at is not None else 0.0),
        "fingerprint": alert.fingerprint,
        "receivers": [{"name": r} for r in receivers],
        "startsAt": format_api_time(alert.starts_at),
        "status": {"inhibitedBy": inhibited_by, "silencedBy": silenced_by, "state": state},
        "updatedAt": format_api_time(alert.updated_at),
    }
    if alert.generator_url:
        out["generatorURL"] = alert.generator_url
    out["labels"] = dict(alert.labels)
    return out


def _silence_json(sil: Silence, now: float) -> dict[str, Any]:
    return {
        "id": sil.id,
        "status": {"state": sil.state(now)},
        "updatedAt": format_api_time(sil.updated_at),
        "comment": sil.comment,
        "createdBy": sil.created_by,
        "endsAt": format_api_time(sil.ends_at),
        "matchers": [m.to_json() for m in sil.matchers],
        "startsAt": format_api_time(sil.starts_at),
    }


def _labelset_cmp(a: Mapping[str, str], b: Mapping[str, str]) -> int:
    """Go's ``LabelSet.Before`` as a comparison: fewer labels first, then by sorted names."""
    if len(a) != len(b):
        return -1 if len(a) < len(b) else 1
    for name in sorted(set(a) | set(b)):
        if name not in a:
            return -1
        if name not in b:
            return 1
        if a[name] != b[name]:
            return -1 if a[name] < b[name] else 1
    return 0


def _group_order(
    x: tuple[str, Mapping[str, str], list[Alert]], y: tuple[str, Mapping[str, str], list[Alert]]
) -> int:
    """Upstream's ``AlertGroups`` order: group labels, then receiver name."""
    by_labels = _labelset_cmp(x[1], y[1])
    if by_labels:
        return by_labels
    return (x[0] > y[0]) - (x[0] < y[0])


def _alert_order(x: Alert, y: Alert) -> int:
    """Upstream's ``AlertSlice`` order: ``job``, then ``instance`` (absent last), then labels."""
    a, b = dict(x.labels), dict(y.labels)
    for key in ("job", "instance"):
        if key not in a and key not in b:
            continue
        if key not in a:
            return 1
        if key not in b:
            return -1
        if a[key] != b[key]:
            return -1 if a[key] < b[key] else 1
    return _labelset_cmp(a, b)


def _silence_matches_filter(sil: Silence, matchers: Sequence[Matcher]) -> bool:
    """Upstream's rule: each filter matcher must accept the pattern of a same-named matcher."""
    patterns = {m.name: m.value for m in sil.matchers}
    for m in matchers:
        value = patterns.get(m.name)
        if value is None or not m.matches(value):
            return False
    return True


def build_app(api: AlertmanagerAPI) -> web.Application:
    size = max(api.options.max_body, 1 << 20)
    app = web.Application(client_max_size=size)
    app.add_routes(api.routes())
    return mount_under_prefix(
        app, api.options.route_prefix, client_max_size=size, redirect_root=True
    )
