"""The routing tree: which routes (receivers, grouping, timing) an alert's labels select.

Routing must agree with Alertmanager exactly, or alerts page the wrong team.
The rules reproduced here (checked against ``amtool config routes test``):

* a node matches when all its matchers do; its children are tried in order,
  and the first matching child stops the search unless it has
  ``continue: true``; a node with no matching child is itself the match, but
  when only ``continue`` children matched, the node does not match itself;
* children inherit the parent's receiver, ``group_by``, ``group_wait`` (30s),
  ``group_interval`` (5m) and ``repeat_interval`` (4h); ``group_by: []``
  inherits too, ``group_by: ['...']`` groups by every label;
* ``mute_time_intervals`` and ``active_time_intervals`` are *not* inherited;
* a route's key is its parent's key, ``/``, and its sorted matchers
  (``{}/{team="email"}``); the ID adds the position among its siblings; an
  aggregation group is keyed ``<route key>:<group labels>``
  (``{}:{alertname="TestA"}``), which receivers see as ``groupKey``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from promethean.alertmanager.config import AlertmanagerConfig, RouteConfig
from promethean.alertmanager.matchers import matchers_match, matchers_string
from promethean.model.labels import Labels
from promethean.model.matchers import Matcher
from promethean.model.names import promql_quote

__all__ = ["DEFAULT_ROUTE_OPTS", "Route", "RouteOpts", "format_label_set"]


@dataclass(frozen=True)
class RouteOpts:
    """What a route decides for the alerts it matches (after inheritance)."""

    receiver: str = ""
    group_by: frozenset[str] = frozenset()
    group_by_all: bool = False
    group_wait: float = 30.0
    group_interval: float = 300.0
    repeat_interval: float = 4 * 3600.0
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


DEFAULT_ROUTE_OPTS = RouteOpts()


def format_label_set(labels: Mapping[str, str] | Labels) -> str:
    """Go's ``LabelSet.String``: ``{a="1", b="2"}``, sorted, values Go-quoted."""
    pairs = sorted(labels.items() if isinstance(labels, Mapping) else labels)
    return "{" + ", ".join(f"{k}={promql_quote(v)}" for k, v in pairs) + "}"


@dataclass(eq=False)
class Route:
    """A node of the routing tree, built from a :class:`RouteConfig`."""

    opts: RouteOpts
    matchers: tuple[Matcher, ...] = ()
    continue_: bool = False
    parent: Route | None = None
    routes: list[Route] = field(default_factory=list)
    _key: str = field(default="", repr=False)

    @classmethod
    def from_config(
        cls, cfg: RouteConfig | AlertmanagerConfig, parent: Route | None = None
    ) -> Route:
        """Build the tree (pass the whole config or its root ``route``)."""
        if isinstance(cfg, AlertmanagerConfig):
            if cfg.route is None:
                raise ValueError("config has no route")
            cfg = cfg.route
        base = parent.opts if parent is not None else DEFAULT_ROUTE_OPTS
        group_by, group_by_all = base.group_by, base.group_by_all
        names = cfg.group_by_names
        if names is not None:
            group_by, group_by_all = frozenset(names), False
        elif cfg.group_by_all:
            group_by_all = True
        opts = RouteOpts(
            receiver=cfg.receiver or base.receiver,
            group_by=group_by,
            group_by_all=group_by_all,
            group_wait=base.group_wait if cfg.group_wait is None else cfg.group_wait,
            group_interval=base.group_interval
            if cfg.group_interval is None
            else cfg.group_interval,
            repeat_interval=(
                base.repeat_interval if cfg.repeat_interval is None else cfg.repeat_interval
            ),
            mute_time_intervals=tuple(cfg.mute_time_intervals),
            active_time_intervals=tuple(cfg.active_time_intervals),
        )
        route = cls(opts=opts, matchers=tuple(cfg.all_matchers()), continue_=cfg.continue_)
        route.parent = parent
        route._key = (parent.key() + "/" if parent is not None else "") + matchers_string(
            route.matchers
        )
        route.routes = [cls.from_config(child, route) for child in cfg.routes]
        return route

    # -- identity ----------------------------------------------------------------------------

    def key(self) -> str:
        """``{}/{team="email"}``: the parent's key, ``/``, this node's matchers."""
        return self._key

    def id(self) -> str:
        """The key plus the position among siblings, unique even for identical siblings."""
        if self.parent is None:
            return self._key
        return f"{self._key}/{self.parent.routes.index(self)}"

    # -- matching ----------------------------------------------------------------------------

    def match(self, labels: Mapping[str, str] | Labels) -> list[Route]:
        """The routes that handle an alert with ``labels``, in tree order; ``[]`` if none."""
        if not matchers_match(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            matched = child.match(labels)
            found.extend(matched)
            if matched and not child.continue_:
                break
        if not found:
            found.append(self)
        return found

    def walk(self, visit: Callable[[Route], Any]) -> None:
        visit(self)
        for child in self.routes:
            child.walk(visit)

    def __iter__(self) -> Iterator[Route]:
        """Every node, depth first, this one first."""
        yield self
        for child in self.routes:
            yield from child

    # -- grouping ----------------------------------------------------------------------------

    def group_labels(self, labels: Mapping[str, str] | Labels) -> dict[str, str]:
        """The alert's labels this route groups by (all of them with ``...``)."""
        items = labels.items() if isinstance(labels, Mapping) else labels
        if self.opts.group_by_all:
            return {k: v for k, v in items if v != ""}
        return {k: v for k, v in items if k in self.opts.group_by and v != ""}

    def group_key(self, labels: Mapping[str, str] | Labels) -> str:
        """``{}/{team="email"}:{alertname="MailMe"}``: the aggregation group's identity."""
        return f"{self._key}:{format_label_set(self.group_labels(labels))}"

    def __repr__(self) -> str:
        return f"Route({self.id()!r}, receiver={self.opts.receiver!r})"
