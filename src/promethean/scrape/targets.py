"""From a discovered label set to a scrape target, exactly as Prometheus decides it.

Order of events (upstream's ``PopulateLabels``):

1. the target's own labels, then the group's labels where the target has none
   (so a group's ``__address__`` never overrides the target's);
2. ``job``, ``__scrape_interval__``, ``__scrape_timeout__``,
   ``__metrics_path__``, ``__scheme__`` and ``__param_<name>`` (first value)
   from the scrape config where not already set; this is ``discoveredLabels``;
3. ``relabel_configs``; a dropped target is reported with its discovered labels;
4. checks: an address must exist, contain no ``/`` and (beyond upstream) no
   ``user:password@``; interval and timeout must parse, be non-zero, and the
   timeout must not exceed the interval; a failing target is neither active
   nor dropped, only reported as an error;
5. ``__meta_*`` removed, ``instance`` defaulted to the address.

The target's public labels (API ``labels``, and what every scraped series gets)
are the result without ``__``-prefixed names; the scrape URL is built from
``__scheme__``, ``__address__``, ``__metrics_path__`` and the params, where a
``__param_<name>`` label replaces the first configured value of that param.

Prometheus 3.x no longer appends a default port (``:80``/``:443``) to a
port-less address, and neither does this module; 2.42 did.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from promethean.config.fields import format_seconds
from promethean.model.durations import parse_duration
from promethean.model.labels import Labels
from promethean.model.names import is_valid_label_value
from promethean.model.relabel import RelabelRules, relabel
from promethean.scrape.config import ScrapeConfig
from promethean.scrape.discovery.targetgroup import TargetGroup

__all__ = [
    "ADDRESS_LABEL",
    "INSTANCE_LABEL",
    "JOB_LABEL",
    "METRICS_PATH_LABEL",
    "PARAM_PREFIX",
    "SCHEME_LABEL",
    "SCRAPE_INTERVAL_LABEL",
    "SCRAPE_TIMEOUT_LABEL",
    "Target",
    "TargetError",
    "populate_labels",
    "target_relabel_rules",
    "targets_from_group",
]

ADDRESS_LABEL = "__address__"
SCHEME_LABEL = "__scheme__"
METRICS_PATH_LABEL = "__metrics_path__"
SCRAPE_INTERVAL_LABEL = "__scrape_interval__"
SCRAPE_TIMEOUT_LABEL = "__scrape_timeout__"
PARAM_PREFIX = "__param_"
META_PREFIX = "__meta_"
JOB_LABEL = "job"
INSTANCE_LABEL = "instance"


class TargetError(ValueError):
    """A discovered target that cannot be scraped; the message is upstream's wording."""


@dataclass(frozen=True, eq=False)
class Target:
    """One scrape target: what to fetch, how often, and the labels its series get.

    ``labels`` are the public labels (no ``__`` prefix); ``all_labels`` also holds
    ``__address__``, ``__scheme__``, ``__metrics_path__``, ``__param_*``, the
    interval/timeout labels and any ``__tmp`` label relabelling left;
    ``discovered_labels`` are the labels before relabelling (the targets API's
    ``discoveredLabels``). ``interval_text``/``timeout_text`` are the label
    strings as written, which the targets API shows. Two targets are the same
    target when ``key`` is equal (full label set and URL), as upstream dedups.
    """

    labels: Labels
    all_labels: Labels
    discovered_labels: Labels
    scrape_url: str
    params: dict[str, list[str]]
    interval: float
    timeout: float
    interval_text: str
    timeout_text: str
    scrape_config: ScrapeConfig = field(repr=False)

    @property
    def job(self) -> str:
        return self.scrape_config.job_name

    @property
    def key(self) -> tuple[Labels, str]:
        return (self.all_labels, self.scrape_url)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Target) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


# Compiled relabel rules per scrape config object (configs are frozen; compile once).
_RULES: dict[int, tuple[ScrapeConfig, RelabelRules]] = {}


def target_relabel_rules(cfg: ScrapeConfig) -> RelabelRules:
    """The compiled ``relabel_configs`` of ``cfg``, cached per config object."""
    cached = _RULES.get(id(cfg))
    if cached is not None and cached[0] is cfg:
        return cached[1]
    rules = RelabelRules(cfg.relabel_configs, cfg.name_validation_scheme)
    if len(_RULES) > 4096:
        _RULES.clear()
    _RULES[id(cfg)] = (cfg, rules)
    return rules


def _discovered(
    target_labels: Mapping[str, str], group_labels: Mapping[str, str], cfg: ScrapeConfig
) -> dict[str, str]:
    lb: dict[str, str] = {k: v for k, v in target_labels.items() if v != ""}
    for k, v in group_labels.items():
        if k not in target_labels and v != "":
            lb[k] = v
    defaults = (
        (JOB_LABEL, cfg.job_name),
        (SCRAPE_INTERVAL_LABEL, format_seconds(cfg.scrape_interval)),
        (SCRAPE_TIMEOUT_LABEL, format_seconds(cfg.scrape_timeout)),
        (METRICS_PATH_LABEL, cfg.metrics_path),
        (SCHEME_LABEL, cfg.scheme),
    )
    for name, value in defaults:
        if not lb.get(name) and value != "":
            lb[name] = value
    for name, values in cfg.params.items():
        pname = PARAM_PREFIX + name
        if values and not lb.get(pname) and values[0] != "":
            lb[pname] = values[0]
    return lb


def _check_address(addr: str) -> None:
    if "/" in addr:
        raise TargetError(f'"{addr}" is not a valid hostname')
    if "@" in addr:
        userinfo, _, host = addr.rpartition("@")
        shown = f"{userinfo.split(':', 1)[0]}:xxxxx@{host}" if ":" in userinfo else addr
        raise TargetError(
            f'address "{shown}" contains credentials (user:password@); use basic_auth instead'
        )


def _duration(value: str, what: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise TargetError(f"error parsing scrape {what}: {exc}") from None
    if seconds == 0:
        raise TargetError(f"scrape {what} cannot be 0")
    return seconds


def _build_url(labels: Labels, params: Mapping[str, list[str]]) -> tuple[str, dict[str, list[str]]]:
    merged = {k: list(v) for k, v in params.items()}
    for name, value in labels:
        if name.startswith(PARAM_PREFIX):
            key = name[len(PARAM_PREFIX) :]
            if merged.get(key):
                merged[key][0] = value
            else:
                merged[key] = [value]
    query = urllib.parse.urlencode(
        [(k, v) for k in sorted(merged) for v in merged[k]], quote_via=urllib.parse.quote_plus
    )
    path = labels.get(METRICS_PATH_LABEL)
    # Go's URL.EscapedPath: keep what is valid in a path, escape the rest.
    path = urllib.parse.quote(path, safe="/:@!$&'()*+,;=-._~%")
    url = f"{labels.get(SCHEME_LABEL)}://{labels.get(ADDRESS_LABEL)}{path}"
    if query:
        url += "?" + query
    return url, merged


def populate_labels(
    target_labels: Mapping[str, str],
    scrape_config: ScrapeConfig,
    group_labels: Mapping[str, str] | None = None,
) -> tuple[Target | None, Labels | None]:
    """Turn one discovered target into a :class:`Target`.

    Returns ``(target, None)`` for an active target and ``(None,
    discovered_labels)`` for one that relabelling dropped. Raises
    :class:`TargetError` for a target that is refused (neither active nor
    dropped, as upstream: no address, bad interval or timeout, ...).
    """
    cfg = scrape_config
    discovered = Labels.from_dict(_discovered(target_labels, group_labels or {}, cfg))
    result = relabel(discovered, target_relabel_rules(cfg), scheme=cfg.name_validation_scheme)
    if result is None:
        return None, discovered
    lb = result.as_dict()
    addr = lb.get(ADDRESS_LABEL, "")
    if addr == "":
        raise TargetError("no address")
    _check_address(addr)
    interval_text = lb.get(SCRAPE_INTERVAL_LABEL, "")
    interval = _duration(interval_text, "interval")
    timeout_text = lb.get(SCRAPE_TIMEOUT_LABEL, "")
    timeout = _duration(timeout_text, "timeout")
    if timeout > interval:
        raise TargetError(
            f'scrape timeout cannot be greater than scrape interval ("{timeout_text}" > '
            f'"{interval_text}")'
        )
    for name in [n for n in lb if n.startswith(META_PREFIX)]:
        del lb[name]
    if not lb.get(INSTANCE_LABEL):
        lb[INSTANCE_LABEL] = addr
    for name, value in lb.items():
        if not is_valid_label_value(value):
            raise TargetError(f'invalid label value for "{name}": "{value}"')
    all_labels = Labels.from_dict(lb)
    public = Labels.from_pairs((k, v) for k, v in all_labels if not k.startswith("__"))
    url, params = _build_url(all_labels, cfg.params)
    return (
        Target(
            labels=public,
            all_labels=all_labels,
            discovered_labels=discovered,
            scrape_url=url,
            params=params,
            interval=interval,
            timeout=timeout,
            interval_text=interval_text,
            timeout_text=timeout_text,
            scrape_config=cfg,
        ),
        None,
    )


def targets_from_group(
    group: TargetGroup, scrape_config: ScrapeConfig
) -> tuple[list[Target], list[Labels], list[str]]:
    """All targets of a group: (active, dropped discovered label sets, errors).

    Errors read ``instance <i> in group <source>: <reason>`` as upstream logs them;
    they are safe to log (addresses with credentials are masked).
    """
    active: list[Target] = []
    dropped: list[Labels] = []
    errors: list[str] = []
    for i, tlabels in enumerate(group.targets):
        try:
            target, gone = populate_labels(tlabels, scrape_config, group.labels)
        except TargetError as exc:
            errors.append(f"instance {i} in group {group.source}: {exc}")
            continue
        if target is not None:
            active.append(target)
        elif gone is not None:
            dropped.append(gone)
    return active, dropped, errors
