"""What the server knows about its series and targets: ``series``, ``labels``,
``label/<name>/values``, ``metadata``, ``targets``, ``targets/metadata``,
``rules``, ``alerts`` and ``alertmanagers``.

Index lookups run in the query pool (they can touch every series), never on
the event loop. Target data comes from the scrape manager's accessors; before
it runs (or in tests without one) the lists are empty, as upstream's are for
a server with no scrape configs. Rules and alerts are empty until rule
evaluation exists; their shapes are upstream's.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher, matches_labels
from promethean.promql import PromQLParseError, parse_metric_selector
from promethean.server.api_params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    ApiError,
    Form,
    check_label_name,
    invalid_param,
    parse_limit,
    parse_matcher_sets,
    time_param,
)
from promethean.web import api_success

if TYPE_CHECKING:
    from promethean.server.context import ServerContext
    from promethean.tsdb.db import DB

__all__ = [
    "alertmanagers",
    "alerts",
    "label_names_work",
    "label_values_work",
    "metadata",
    "rules",
    "series_work",
    "target_metadata",
    "targets",
]

T = TypeVar("T")

_TRUNCATED = "results truncated due to limit"


def _db(ctx: ServerContext) -> DB:
    if ctx.db is None:
        raise ApiError("unavailable", "TSDB not ready")
    return ctx.db


def _limited(items: list[T], limit: int) -> tuple[list[T], list[str]]:
    if limit > 0 and len(items) > limit:
        return items[:limit], [_TRUNCATED]
    return items, []


def _range(form: Form) -> tuple[int, int]:
    return time_param(form, "start", MIN_TIME_MS), time_param(form, "end", MAX_TIME_MS)


def series_work(ctx: ServerContext, form: Form) -> Callable[[], web.Response]:
    """Checks the request now; returns the lookup to run off the loop."""
    values = form.getall("match[]")
    if not values:
        raise ApiError("bad_data", "no match[] parameter provided")
    start, end = _range(form)
    sets = parse_matcher_sets(values, "match[]")
    limit = parse_limit(form)
    db = _db(ctx)

    def work() -> web.Response:
        found: set[Labels] = set()
        with db.querier(start, end) as q:
            for matchers in sets:
                for s in q.select(matchers):
                    found.add(s.labels)
        rows, warnings = _limited(sorted(found), limit)
        return api_success([dict(lbl) for lbl in rows], warnings=warnings)

    return work


def label_names_work(ctx: ServerContext, form: Form) -> Callable[[], web.Response]:
    start, end = _range(form)
    sets = parse_matcher_sets(form.getall("match[]"))
    limit = parse_limit(form)
    db = _db(ctx)

    def work() -> web.Response:
        with db.querier(start, end) as q:
            if sets:
                names: set[str] = set()
                for matchers in sets:
                    for s in q.select(matchers):
                        names.update(s.labels.names())
                result = sorted(names)
            else:
                result = q.label_names()
        rows, warnings = _limited(result, limit)
        return api_success(rows, warnings=warnings)

    return work


def label_values_work(ctx: ServerContext, name: str, form: Form) -> Callable[[], web.Response]:
    check_label_name(name)
    start, end = _range(form)
    sets = parse_matcher_sets(form.getall("match[]"))
    limit = parse_limit(form)
    db = _db(ctx)

    def work() -> web.Response:
        with db.querier(start, end) as q:
            if sets:
                found: set[str] = set()
                for matchers in sets:
                    found.update(q.label_values(name, matchers))
                result = sorted(found)
            else:
                result = sorted(q.label_values(name))
        rows, warnings = _limited(result, limit)
        return api_success(rows, warnings=warnings)

    return work


def _number_limit(form: Form) -> int | None:
    text = form.get("limit")
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ApiError("bad_data", "limit must be a number") from None


def targets(ctx: ServerContext, form: Form) -> web.Response:
    state = form.get("state").lower() or "any"
    pool = form.get("scrapePool") or None
    manager = ctx.scrape_manager
    if manager is None:
        return api_success({"activeTargets": [], "droppedTargets": []})
    if state not in ("any", "active", "dropped"):
        return api_success({"activeTargets": [], "droppedTargets": []})
    return api_success(manager.targets_api(state, pool))


def metadata(ctx: ServerContext, form: Form) -> web.Response:
    limit = _number_limit(form)
    metric = form.get("metric") or None
    manager = ctx.scrape_manager
    if manager is None:
        return api_success({})
    return api_success(manager.metadata(metric, limit))


def target_metadata(ctx: ServerContext, form: Form) -> web.Response:
    limit = _number_limit(form)
    match_target = form.get("match_target")
    matchers: tuple[Matcher, ...] = ()
    if match_target:
        try:
            matchers = parse_metric_selector(match_target)
        except PromQLParseError as exc:
            raise invalid_param("match_target", str(exc)) from None
    metric = form.get("metric") or None
    manager = ctx.scrape_manager
    if manager is None:
        return api_success([])

    def match(labels: Labels) -> bool:
        return matches_labels(labels, matchers)

    rows: list[dict[str, Any]] = manager.target_metadata(match if matchers else None, metric)
    if metric is not None:
        for row in rows:
            row.pop("metric", None)
    if limit is not None and limit >= 0:
        rows = rows[:limit]
    return api_success(rows)


def rules(ctx: ServerContext, form: Form) -> web.Response:
    kind = form.get("type").lower()
    if kind not in ("", "alert", "record"):
        raise invalid_param("type", f'not supported value "{kind}"')
    return api_success({"groups": []})


def alerts(ctx: ServerContext, form: Form) -> web.Response:
    return api_success({"alerts": []})


def alertmanagers(ctx: ServerContext, form: Form) -> web.Response:
    """Alertmanagers named in ``alerting`` (static targets; discovery comes with the notifier)."""
    active: list[dict[str, str]] = []
    try:
        configs = ctx.config().alerting.alertmanagers
    except Exception:  # no config loaded yet
        configs = []
    for am in configs:
        if getattr(am, "relabel_configs", None):
            continue  # relabelling decides these; shown once the notifier applies it
        endpoint = posixpath.join("/", am.path_prefix, "api", am.api_version, "alerts")
        for group in am.static_configs:
            for target in group.targets:
                active.append({"url": f"{am.scheme}://{target}{endpoint}"})
    return api_success({"activeAlertmanagers": active, "droppedAlertmanagers": []})
