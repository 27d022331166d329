"""Series, labels, metadata, targets and status endpoints: exact JSON from a real server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from _server_api_support import T0, ApiServer, running_api


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with running_api(tmp_path_factory.mktemp("meta")) as server:
        yield server


def _data(r: Any) -> Any:
    assert r.status == 200, r.text
    return json.loads(r.text)["data"]


def test_series(api: ApiServer) -> None:
    r = api.request(
        "GET", "/api/v1/series", [("match[]", "up"), ("match[]", 'special{kind="inf"}')]
    )
    assert r.text == (
        '{"status":"success","data":['
        '{"__name__":"special","kind":"inf"},'
        '{"__name__":"up","instance":"a:9100","job":"node"},'
        '{"__name__":"up","instance":"b:9090","job":"prom"}]}'
    )


def test_series_post_and_time_range(api: ApiServer) -> None:
    r = api.request("POST", "/api/v1/series", form={"match[]": "up", "start": "0", "end": "10"})
    assert r.text == '{"status":"success","data":[]}'
    r = api.request("POST", "/api/v1/series", form={"match[]": "up", "start": str(T0 // 1000)})
    assert len(_data(r)) == 2


def test_series_errors(api: ApiServer) -> None:
    r = api.get("/api/v1/series")
    assert r.status == 400
    assert r.text == (
        '{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}'
    )
    r = api.request("GET", "/api/v1/series", [("match[]", '{job=~".*"}')])
    assert r.status == 400
    assert json.loads(r.text)["error"] == (
        'invalid parameter "match[]": match[] must contain at least one non-empty matcher'
    )
    r = api.request("GET", "/api/v1/series", [("match[]", "up{")])
    assert json.loads(r.text)["error"] == (
        'invalid parameter "match[]": 1:4: parse error: unexpected end of input inside braces'
    )


def test_series_limit_truncates_with_a_warning(api: ApiServer) -> None:
    r = api.request("GET", "/api/v1/series", [("match[]", "up"), ("limit", "1")])
    assert r.text == (
        '{"status":"success","data":[{"__name__":"up","instance":"a:9100","job":"node"}],'
        '"warnings":["results truncated due to limit"]}'
    )
    r = api.request("GET", "/api/v1/series", [("match[]", "up"), ("limit", "x")])
    assert json.loads(r.text)["error"] == (
        'invalid parameter "limit": strconv.Atoi: parsing "x": invalid syntax'
    )


def test_labels(api: ApiServer) -> None:
    assert _data(api.get("/api/v1/labels")) == ["__name__", "code", "instance", "job", "kind"]
    r = api.request("GET", "/api/v1/labels", [("match[]", "up")])
    assert r.text == '{"status":"success","data":["__name__","instance","job"]}'
    r = api.request("POST", "/api/v1/labels", form=[("match[]", "special")])
    assert _data(r) == ["__name__", "kind"]


def test_label_values(api: ApiServer) -> None:
    r = api.get("/api/v1/label/job/values")
    assert r.text == '{"status":"success","data":["node","prom"]}'
    r = api.request("GET", "/api/v1/label/__name__/values", [("match[]", '{job="prom"}')])
    assert _data(r) == ["http_requests_total", "up"]
    r = api.get("/api/v1/label/nothing/values")
    assert r.text == '{"status":"success","data":[]}'
    r = api.get("/api/v1/label/kind/values", limit="2")
    assert r.text == (
        '{"status":"success","data":["big","inf"],"warnings":["results truncated due to limit"]}'
    )
    r = api.get("/api/v1/label/bad-name/values")
    assert r.status == 400
    assert r.text == (
        '{"status":"error","errorType":"bad_data","error":"invalid label name: \\"bad-name\\""}'
    )
    r = api.get("/api/v1/label/job/values", start="abc")
    assert json.loads(r.text)["error"] == (
        "invalid parameter \"start\": Invalid time value for 'start': "
        'cannot parse "abc" to a valid timestamp'
    )


def test_boundary_times_that_clients_send(api: ApiServer) -> None:
    r = api.get(
        "/api/v1/labels",
        start="-292273086-05-16T16:47:06Z",
        end="292277025-08-18T07:12:54.999999999Z",
    )
    assert _data(r) == ["__name__", "code", "instance", "job", "kind"]


def test_rules_alerts_alertmanagers_targets_metadata(api: ApiServer) -> None:
    assert api.get("/api/v1/rules").text == '{"status":"success","data":{"groups":[]}}'
    r = api.get("/api/v1/rules", type="bogus")
    assert r.status == 400
    assert json.loads(r.text)["error"] == 'invalid parameter "type": not supported value "bogus"'
    assert api.get("/api/v1/alerts").text == '{"status":"success","data":{"alerts":[]}}'
    assert api.get("/api/v1/alertmanagers").text == (
        '{"status":"success","data":{"activeAlertmanagers":'
        '[{"url":"http://127.0.0.1:9093/api/v2/alerts"}],"droppedAlertmanagers":[]}}'
    )
    # No scrape manager in this server: upstream's answer for a server with no targets.
    assert api.get("/api/v1/targets").text == (
        '{"status":"success","data":{"activeTargets":[],"droppedTargets":[]}}'
    )
    assert api.get("/api/v1/metadata").text == '{"status":"success","data":{}}'
    assert api.get("/api/v1/targets/metadata").text == '{"status":"success","data":[]}'
    r = api.get("/api/v1/metadata", limit="x")
    assert r.text == '{"status":"error","errorType":"bad_data","error":"limit must be a number"}'


def test_status_config_masks_secrets(api: ApiServer) -> None:
    r = api.get("/api/v1/status/config")
    yaml_text = _data(r)["yaml"]
    assert "PLANTED_API_SECRET" not in r.text
    assert "password: <secret>" in yaml_text
    assert "job_name: node" in yaml_text


def test_status_flags_buildinfo_runtimeinfo_walreplay(api: ApiServer) -> None:
    assert _data(api.get("/api/v1/status/flags")) == {
        "web.enable-admin-api": "false",
        "query.max-samples": "50000000",
    }
    build = _data(api.get("/api/v1/status/buildinfo"))
    assert list(build) == ["version", "revision", "branch", "buildUser", "buildDate", "goVersion"]
    runtime = _data(api.get("/api/v1/status/runtimeinfo"))
    assert list(runtime) == [
        "startTime",
        "CWD",
        "reloadConfigSuccess",
        "lastConfigTime",
        "corruptionCount",
        "goroutineCount",
        "GOMAXPROCS",
        "GOGC",
        "GODEBUG",
        "storageRetention",
    ]
    assert runtime["reloadConfigSuccess"] is True
    assert api.get("/api/v1/status/walreplay").text == (
        '{"status":"success","data":{"min":0,"max":0,"current":0}}'
    )


def test_status_tsdb(api: ApiServer) -> None:
    data = _data(api.get("/api/v1/status/tsdb"))
    head = data["headStats"]
    assert (head["numSeries"], head["numLabelPairs"]) == (7, 12)
    assert (head["minTime"], head["maxTime"]) == (T0, T0 + 120_000)
    assert data["seriesCountByMetricName"] == [
        {"name": "special", "value": 4},
        {"name": "up", "value": 2},
        {"name": "http_requests_total", "value": 1},
    ]
    assert data["labelValueCountByLabelName"][0] == {"name": "kind", "value": 4}
    # __name__ values weighted by series: "special"*4 + "up"*2 + "http_requests_total"*1.
    assert data["memoryInBytesByLabelName"][0] == {"name": "__name__", "value": 7 * 4 + 2 * 2 + 19}
    assert data["seriesCountByLabelValuePair"][0] == {"name": "__name__=special", "value": 4}
    limited = _data(api.get("/api/v1/status/tsdb", limit="1"))
    assert limited["seriesCountByMetricName"] == [{"name": "special", "value": 4}]
    r = api.get("/api/v1/status/tsdb", limit="0")
    assert r.status == 400
