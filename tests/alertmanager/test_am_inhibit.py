"""Inhibition as Alertmanager does it: equal labels, resolved sources, two-sided matches."""

from __future__ import annotations

from promethean.alertmanager.config import parse_alertmanager_config
from promethean.alertmanager.inhibit import Inhibitor
from promethean.model.labels import Labels

NOW = 1_000_000.0


def _inhibitor(rules: str) -> Inhibitor:
    cfg = parse_alertmanager_config(
        f"route: {{receiver: r}}\nreceivers: [{{name: r}}]\ninhibit_rules:\n{rules}", "am.yml"
    )
    return Inhibitor.from_config(cfg)


_CRIT_WARN = (
    '  - source_matchers: [severity="critical"]\n'
    '    target_matchers: [severity="warning"]\n'
    "    equal: [cluster]\n"
)


def test_reference_sheet_case() -> None:
    ih = _inhibitor(_CRIT_WARN)
    ih.observe("587b712127851cd2", {"alertname": "Crit", "severity": "critical", "cluster": "c1"})
    c1 = {"alertname": "TestA", "severity": "warning", "cluster": "c1"}
    c2 = {"alertname": "TestA", "severity": "warning", "cluster": "c2"}
    assert ih.inhibited_by(c1, NOW) == "587b712127851cd2"
    assert ih.inhibited_by(c2, NOW) is None
    assert ih.mutes(Labels.from_dict(c1), NOW)


def test_resolved_sources_do_not_inhibit() -> None:
    ih = _inhibitor(_CRIT_WARN)
    ih.observe("src", {"severity": "critical", "cluster": "c1"}, ends_at=NOW - 1)
    assert ih.inhibited_by({"severity": "warning", "cluster": "c1"}, NOW) is None
    ih.observe("src", {"severity": "critical", "cluster": "c1"}, ends_at=NOW + 60)
    assert ih.inhibited_by({"severity": "warning", "cluster": "c1"}, NOW) == "src"
    ih.forget("src")
    assert ih.inhibited_by({"severity": "warning", "cluster": "c1"}, NOW) is None


def test_label_missing_on_both_sides_counts_as_equal() -> None:
    ih = _inhibitor(_CRIT_WARN)
    ih.observe("src", {"severity": "critical"})
    assert ih.inhibited_by({"severity": "warning"}, NOW) == "src"
    assert ih.inhibited_by({"severity": "warning", "cluster": "c1"}, NOW) is None


def test_two_sided_matches_do_not_inhibit_each_other() -> None:
    ih = _inhibitor(
        "  - source_matchers: ['severity=~\"warning|critical\"']\n"
        "    target_matchers: ['severity=~\"warning|info\"']\n"
        "    equal: [job]\n"
    )
    warn = {"job": "j", "severity": "warning"}
    ih.observe("warn", warn)
    assert ih.inhibited_by(warn, NOW) is None  # not even by itself
    assert ih.inhibited_by({"job": "j", "severity": "info"}, NOW) == "warn"
    ih.observe("crit", {"job": "j", "severity": "critical"})
    assert ih.inhibited_by(warn, NOW) == "crit"  # a one-sided source still does


def test_legacy_match_fields() -> None:
    ih = _inhibitor(
        "  - source_match: {alertname: NodeDown}\n"
        "    target_match_re: {alertname: 'Disk.*|CPU.*'}\n"
        "    equal: [instance]\n"
    )
    ih.observe("down", {"alertname": "NodeDown", "instance": "n1"})
    assert ih.inhibited_by({"alertname": "DiskFull", "instance": "n1"}, NOW) == "down"
    assert ih.inhibited_by({"alertname": "xDiskFull", "instance": "n1"}, NOW) is None
    assert ih.inhibited_by({"alertname": "MemFull", "instance": "n1"}, NOW) is None


def test_an_alert_leaving_the_source_side_stops_inhibiting() -> None:
    ih = _inhibitor(_CRIT_WARN)
    ih.observe("a", {"severity": "critical"})
    ih.observe("a", {"severity": "info"})
    assert ih.inhibited_by({"severity": "warning"}, NOW) is None
