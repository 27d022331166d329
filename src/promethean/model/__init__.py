"""The data model: labels, matchers, exposition formats and relabelling.

The bottom layer of the package: it imports nothing else from promethean.
"""

from promethean.model.exposition import Exemplar, MetricFamily, MetricType, Sample
from promethean.model.labels import METRIC_NAME, Labels

__all__ = ["METRIC_NAME", "Exemplar", "Labels", "MetricFamily", "MetricType", "Sample"]
