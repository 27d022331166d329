"""The PyPI client ``prometheus-api-client`` works against promethean's API unchanged.

The client is a test-only dependency (install it with ``.venv/bin/pip install
prometheus-api-client``); without it the test is skipped with the reason
printed, and fails in CI.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from typing import Any

import pytest
from _server_api_support import T0, ApiServer, running_api

try:
    from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
except ImportError:  # pragma: no cover - depends on the environment
    PrometheusConnect = None

S0 = T0 // 1000
UTC = datetime.UTC


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if PrometheusConnect is None:
        reason = "prometheus-api-client is not installed (pip install prometheus-api-client)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        print(f"SKIP: {reason}")
        pytest.skip(reason)
    with running_api(tmp_path_factory.mktemp("client")) as api:
        yield _connect(api)


def _connect(api: ApiServer) -> Any:
    return PrometheusConnect(url=api.url, disable_ssl=True)


def test_custom_query(prom: Any) -> None:
    result = prom.custom_query("up", params={"time": S0 + 60})
    assert result == [
        {
            "metric": {"__name__": "up", "instance": "a:9100", "job": "node"},
            "value": [S0 + 60, "1"],
        },
        {
            "metric": {"__name__": "up", "instance": "b:9090", "job": "prom"},
            "value": [S0 + 60, "0"],
        },
    ]


def test_custom_query_range(prom: Any) -> None:
    start = datetime.datetime.fromtimestamp(S0, UTC)
    end = datetime.datetime.fromtimestamp(S0 + 30, UTC)
    result = prom.custom_query_range('up{job="node"}', start_time=start, end_time=end, step="15")
    assert result == [
        {
            "metric": {"__name__": "up", "instance": "a:9100", "job": "node"},
            "values": [[S0, "1"], [S0 + 15, "1"], [S0 + 30, "1"]],
        }
    ]


def test_current_value_and_range_data(prom: Any) -> None:
    value = prom.get_current_metric_value(
        "http_requests_total", label_config={"code": "200"}, params={"time": S0 + 120}
    )
    assert value[0]["value"] == [S0 + 120, "80"]
    data = prom.get_metric_range_data(
        "http_requests_total",
        start_time=datetime.datetime.fromtimestamp(S0, UTC),
        end_time=datetime.datetime.fromtimestamp(S0 + 120, UTC),
    )
    assert data[0]["metric"]["code"] == "200"
    # The client asks for http_requests_total[120s] at the end: the window is open on the left.
    assert [v for _, v in data[0]["values"]] == [str(i * 10) for i in range(1, 9)]


def test_labels_series_metadata_targets(prom: Any) -> None:
    assert prom.get_label_names() == ["__name__", "code", "instance", "job", "kind"]
    assert prom.get_label_values("job") == ["node", "prom"]
    assert prom.all_metrics() == ["http_requests_total", "special", "up"]
    series = prom.get_series(
        datetime.datetime.fromtimestamp(S0, UTC),
        datetime.datetime.fromtimestamp(S0 + 120, UTC),
        params={"match[]": "up"},
    )
    assert series == [
        {"__name__": "up", "instance": "a:9100", "job": "node"},
        {"__name__": "up", "instance": "b:9090", "job": "prom"},
    ]
    assert prom.get_targets() == {"activeTargets": [], "droppedTargets": []}
    assert prom.get_scrape_pools() == []
    assert prom.get_metric_metadata("up") == []


def test_aggregation(prom: Any) -> None:
    result = prom.get_metric_aggregation(
        "http_requests_total",
        ["max", "min", "sum"],
        start_time=datetime.datetime.fromtimestamp(S0, UTC),
        end_time=datetime.datetime.fromtimestamp(S0 + 120, UTC),
        step="15",
    )
    assert result == {"max": 80.0, "min": 0.0, "sum": 360.0}


def test_errors_reach_the_client(prom: Any) -> None:
    with pytest.raises(PrometheusApiClientException) as info:
        prom.custom_query("up{")
    assert "unexpected end of input inside braces" in str(info.value)
