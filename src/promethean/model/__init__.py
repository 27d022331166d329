"""The data model: labels, matchers, exposition formats and relabelling.

The bottom layer of the package: it imports nothing else from promethean.
"""

from promethean.model.exposition import Exemplar, MetricFamily, MetricType, Sample
from promethean.model.labels import METRIC_NAME, Labels
from promethean.model.matchers import Matcher, MatchType, matches_labels
from promethean.model.names import (
    NameValidationScheme,
    is_valid_label_name,
    is_valid_legacy_label_name,
    is_valid_legacy_metric_name,
    is_valid_metric_name,
    needs_quoting,
)
from promethean.model.relabel import RelabelAction, RelabelConfig, RelabelRules, relabel

__all__ = [
    "METRIC_NAME",
    "Exemplar",
    "Labels",
    "MatchType",
    "Matcher",
    "MetricFamily",
    "MetricType",
    "NameValidationScheme",
    "RelabelAction",
    "RelabelConfig",
    "RelabelRules",
    "Sample",
    "is_valid_label_name",
    "is_valid_legacy_label_name",
    "is_valid_legacy_metric_name",
    "is_valid_metric_name",
    "matches_labels",
    "needs_quoting",
    "relabel",
]
