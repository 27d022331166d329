"""Query endpoints over real HTTP and a real TSDB: exact bodies and upstream's errors."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _server_api_support import T0, ApiServer, Response, running_api

from promethean.promql.engine import EngineOptions
from promethean.server.api import RUNNER_KEY

S0 = T0 // 1000  # T0 in seconds


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    with running_api(tmp_path_factory.mktemp("api")) as server:
        yield server


def _bad(message: str) -> str:
    return json.dumps(
        {"status": "error", "errorType": "bad_data", "error": message}, separators=(",", ":")
    )


def test_instant_vector_exact_body(api: ApiServer) -> None:
    r = api.get("/api/v1/query", query="up", time=str(S0 + 60))
    assert r.status == 200
    assert r.headers["Content-Type"] == "application/json"
    assert r.text == (
        '{"status":"success","data":{"resultType":"vector","result":['
        '{"metric":{"__name__":"up","instance":"a:9100","job":"node"},"value":[1700000060,"1"]},'
        '{"metric":{"__name__":"up","instance":"b:9090","job":"prom"},"value":[1700000060,"0"]}'
        "]}}"
    )


def test_special_values_and_fixed_point_numbers(api: ApiServer) -> None:
    r = api.get("/api/v1/query", query="special", time=str(S0))
    values = {
        item["metric"]["kind"]: item["value"][1] for item in json.loads(r.text)["data"]["result"]
    }
    assert values == {
        "nan": "NaN",
        "inf": "+Inf",
        "big": "1000000000000000000000",
        "tiny": "0.00000015",
    }
    r = api.get("/api/v1/query", query="-special", time=str(S0))
    assert '"-Inf"' in r.text


def test_fractional_time_keeps_three_digits(api: ApiServer) -> None:
    r = api.get("/api/v1/query", query="1.5", time="1795754000.5")
    assert (
        r.text
        == '{"status":"success","data":{"resultType":"scalar","result":[1795754000.500,"1.5"]}}'
    )
    r = api.get("/api/v1/query", query='"hello"', time="2026-11-27T04:33:20.049Z")
    assert r.text == (
        '{"status":"success","data":{"resultType":"string","result":[1795754000.049,"hello"]}}'
    )


def test_range_query_matrix(api: ApiServer) -> None:
    r = api.get(
        "/api/v1/query_range", query='up{job="prom"}', start=str(S0), end=str(S0 + 60), step="15s"
    )
    assert r.text == (
        '{"status":"success","data":{"resultType":"matrix","result":['
        '{"metric":{"__name__":"up","instance":"b:9090","job":"prom"},"values":['
        '[1700000000,"1"],[1700000015,"1"],[1700000030,"1"],[1700000045,"1"],[1700000060,"0"]]}'
        "]}}"
    )


def test_range_selector_in_instant_query_and_empty_matrix(api: ApiServer) -> None:
    r = api.get("/api/v1/query", query='up{job="node"}[30s]', time=str(S0 + 30))
    assert r.text == (
        '{"status":"success","data":{"resultType":"matrix","result":['
        '{"metric":{"__name__":"up","instance":"a:9100","job":"node"},'
        '"values":[[1700000015,"1"],[1700000030,"1"]]}]}}'
    )
    r = api.get("/api/v1/query", query="nothing_here[5m]", time=str(S0))
    assert r.text == '{"status":"success","data":{"resultType":"matrix","result":[]}}'


def test_post_form_wins_over_url_and_json_is_ignored(api: ApiServer) -> None:
    r = api.request(
        "POST", "/api/v1/query", params={"query": "1", "time": "10"}, form={"query": "2"}
    )
    assert r.text == '{"status":"success","data":{"resultType":"scalar","result":[10,"2"]}}'
    r = api.request(
        "POST",
        "/api/v1/query",
        body=b'{"query":"1"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 400
    assert r.text == _bad(
        'invalid parameter "query": 1:1: parse error: no expression found in input'
    )


def test_annotations_reach_the_envelope(api: ApiServer) -> None:
    r = api.get("/api/v1/query", query="rate(up[1m])", time=str(S0 + 60))
    body = json.loads(r.text)
    assert body["status"] == "success"
    assert len(body["infos"]) == 1
    assert body["infos"][0].startswith("PromQL info: metric might not be a counter")
    assert "warnings" not in body


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"query": "up{"},
            'invalid parameter "query": 1:4: parse error: unexpected end of input inside braces',
        ),
        ({}, 'invalid parameter "query": 1:1: parse error: no expression found in input'),
        (
            {"query": "foo(up)"},
            'invalid parameter "query": 1:1: parse error: unknown function with name "foo"',
        ),
        (
            {"query": '{job=~".*"}'},
            'invalid parameter "query": 1:1: parse error: '
            "vector selector must contain at least one non-empty matcher",
        ),
        (
            {"query": "up", "time": "yesterday"},
            "invalid parameter \"time\": Invalid time value for 'time': "
            'cannot parse "yesterday" to a valid timestamp',
        ),
        (
            {"query": 'up{job="a\nb"}'},
            'invalid parameter "query": 1:8: parse error: unterminated quoted string',
        ),
        (
            {"query": "up", "timeout": "abc"},
            'invalid parameter "timeout": cannot parse "abc" to a valid duration',
        ),
    ],
)
def test_instant_query_errors(api: ApiServer, params: dict[str, str], message: str) -> None:
    r = api.get("/api/v1/query", **params)
    assert r.status == 400
    assert r.headers["Content-Type"] == "application/json"
    assert r.text == _bad(message)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"start": "0", "end": "11001", "step": "1"},
            "exceeded maximum resolution of 11,000 points per timeseries. "
            "Try decreasing the query resolution (?step=XX)",
        ),
        (
            {"start": "10", "end": "5", "step": "1"},
            'invalid parameter "end": end timestamp must not be before start time',
        ),
        (
            {"start": "0", "end": "5", "step": "0"},
            'invalid parameter "step": zero or negative query resolution step widths are not '
            "accepted. Try a positive integer",
        ),
        (
            {"start": "0", "end": "5"},
            'invalid parameter "step": cannot parse "" to a valid duration',
        ),
        (
            {"end": "5", "step": "1"},
            'invalid parameter "start": cannot parse "" to a valid timestamp',
        ),
        (
            {"start": "abc", "end": "5", "step": "1"},
            'invalid parameter "start": cannot parse "abc" to a valid timestamp',
        ),
    ],
)
def test_range_query_errors(api: ApiServer, params: dict[str, str], message: str) -> None:
    r = api.get("/api/v1/query_range", query="up", **params)
    assert r.status == 400
    assert r.text == _bad(message)


def test_exactly_11000_points_is_allowed(api: ApiServer) -> None:
    r = api.get("/api/v1/query_range", query="vector(1)", start="0", end="11000", step="1")
    assert r.status == 200
    assert len(json.loads(r.text)["data"]["result"][0]["values"]) == 11001


def test_range_query_of_a_range_vector_is_bad_data(api: ApiServer) -> None:
    r = api.get("/api/v1/query_range", query="up[5m]", start="0", end="5", step="1")
    assert r.status == 400
    assert r.text == _bad(
        'invalid parameter "query": invalid expression type "range vector" for range query, '
        "must be Scalar or instant Vector"
    )


def test_execution_error_is_422(api: ApiServer) -> None:
    q = 'label_replace(label_replace(up,"job","x","",""),"instance","y","","")'
    r = api.get("/api/v1/query", query=q, time=str(S0 + 60))
    assert r.status == 422
    assert r.text == (
        '{"status":"error","errorType":"execution",'
        '"error":"vector cannot contain metrics with the same labelset"}'
    )


def test_rfc3339_and_unix_times_agree(api: ApiServer) -> None:
    a = api.get("/api/v1/query", query="time()", time="2026-11-27T04:33:20Z").text
    b = api.get("/api/v1/query", query="time()", time="1795754000").text
    c = api.get("/api/v1/query", query="time()", time="2026-11-27T06:33:20+02:00").text
    assert (
        a
        == b
        == c
        == '{"status":"success","data":{"resultType":"scalar","result":[1795754000,"1795754000"]}}'
    )


def test_query_exemplars_finds_none(api: ApiServer) -> None:
    r = api.get("/api/v1/query_exemplars", query="up", start="0", end="10")
    assert r.text == '{"status":"success","data":[]}'
    r = api.get("/api/v1/query_exemplars", query="1+1")
    assert r.status == 204
    r = api.get("/api/v1/query_exemplars", query="up", start="10", end="0")
    assert r.text == _bad("end timestamp must not be before start timestamp")


def test_format_and_parse_query(api: ApiServer) -> None:
    r = api.get("/api/v1/format_query", query='sum(rate(x{b="1",a="2"}[5m]))by(job)')
    assert r.text == '{"status":"success","data":"sum by (job) (rate(x{a=\\"2\\",b=\\"1\\"}[5m]))"}'
    r = api.get("/api/v1/format_query", query="sum(")
    assert r.status == 400
    r = api.request("POST", "/api/v1/parse_query", form={"query": 'up{job="x"} offset 1m > bool 1'})
    assert json.loads(r.text)["data"] == {
        "type": "binaryExpr",
        "op": ">",
        "lhs": {
            "type": "vectorSelector",
            "name": "up",
            "offset": 60000,
            "matchers": [
                {"name": "job", "value": "x", "type": "="},
                {"name": "__name__", "value": "up", "type": "="},
            ],
            "timestamp": None,
            "startOrEnd": None,
            "anchored": False,
            "smoothed": False,
        },
        "rhs": {"type": "numberLiteral", "val": "1"},
        "matching": None,
        "bool": True,
    }
    r = api.get("/api/v1/parse_query", query="sum by (job) (rate(x[5m:1m] @ start()))")
    agg = json.loads(r.text)["data"]
    assert agg["type"] == "aggregation" and agg["grouping"] == ["job"] and agg["param"] is None
    call = agg["expr"]
    assert call["func"] == {
        "name": "rate",
        "argTypes": ["matrix"],
        "variadic": 0,
        "returnType": "vector",
    }
    sub = call["args"][0]
    assert (sub["type"], sub["range"], sub["step"], sub["startOrEnd"]) == (
        "subquery",
        300000,
        60000,
        "start",
    )


# --- limits (D1) ------------------------------------------------------------------


def test_timeout_is_503(tmp_path: Path) -> None:
    with running_api(tmp_path, engine_options=EngineOptions(timeout_s=0.05)) as api:
        r = api.get("/api/v1/query", query="count_over_time(vector(time())[2h:1ms])")
        assert r.status == 503
        assert r.text == (
            '{"status":"error","errorType":"timeout",'
            '"error":"query timed out in expression evaluation"}'
        )


def test_per_request_timeout_is_503(api: ApiServer) -> None:
    r = api.get("/api/v1/query", query="count_over_time(vector(time())[2h:1ms])", timeout="0.001")
    assert r.status == 503
    assert json.loads(r.text)["errorType"] == "timeout"


def test_max_samples_is_422(tmp_path: Path) -> None:
    with running_api(tmp_path, engine_options=EngineOptions(max_samples=100)) as api:
        r = api.get("/api/v1/query", query="count_over_time(vector(1)[1000s:1s])")
        assert r.status == 422
        assert r.text == (
            '{"status":"error","errorType":"execution","error":'
            '"query processing would load too many samples into memory in query execution"}'
        )


def test_queries_never_block_the_event_loop_and_queue_wait_counts(tmp_path: Path) -> None:
    with running_api(tmp_path, max_concurrency=1) as api:
        release = threading.Event()
        holding = threading.Event()

        def hold() -> None:
            holding.set()
            release.wait(30)

        # Occupy the only query worker through the runner the routes use.
        runner = api.app[RUNNER_KEY]
        held = asyncio.run_coroutine_threadsafe(runner.call(hold), api.loop)
        assert holding.wait(10)
        result: dict[str, Response] = {}

        def queued_query() -> None:
            result["r"] = api.get("/api/v1/query", query="1+1", timeout="50ms")

        client = threading.Thread(target=queued_query)
        client.start()
        # The loop answers while every worker is busy.
        assert api.get("/api/v1/status/buildinfo").status == 200
        assert api.get("/api/v1/format_query", query="1+1").status == 200
        time.sleep(0.1)  # let the queued query outlive its 50ms budget in the queue
        release.set()
        held.result(10)
        client.join(30)
        assert result["r"].status == 503
        assert result["r"].text == (
            '{"status":"error","errorType":"timeout","error":"query timed out in query queue"}'
        )
