"""The Pushgateway over real HTTP: status codes and bodies as the Go Pushgateway's."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request

from tests.pushgateway.conftest import Gateway


def req(
    gw: Gateway, method: str, path: str, body: bytes | None = None, ctype: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    r = urllib.request.Request(gw.url + path, data=body, method=method)
    if ctype:
        r.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(r, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


EXAMPLE = (
    b"# TYPE some_metric counter\n# HELP some_metric Just an example.\n"
    b'some_metric{label="val1"} 42\nanother_metric 2398.283\n'
)


def metrics(gw: Gateway) -> str:
    status, _, body = req(gw, "GET", "/metrics")
    assert status == 200
    return body.decode()


def test_put_and_scrape(gateway: Gateway) -> None:
    status, _, body = req(gateway, "PUT", "/metrics/job/j1/instance/i1", EXAMPLE)
    assert (status, body) == (200, b"")
    text = metrics(gateway)
    assert (
        "# HELP some_metric Just an example.\n# TYPE some_metric counter\n"
        'some_metric{instance="i1",job="j1",label="val1"} 42\n'
    ) in text
    assert 'another_metric{instance="i1",job="j1"} 2398.283\n' in text
    assert "# TYPE push_time_seconds gauge\n" in text
    assert "pushgateway_http_requests_total" in text


def test_post_replaces_same_name_only(gateway: Gateway) -> None:
    req(gateway, "PUT", "/metrics/job/j1/instance/i1", EXAMPLE)
    assert (
        req(gateway, "POST", "/metrics/job/j1/instance/i1", b'some_metric{label="val2"} 7\n')[0]
        == 200
    )
    text = metrics(gateway)
    assert 'some_metric{instance="i1",job="j1",label="val2"} 7\n' in text
    assert "val1" not in text and "# TYPE some_metric untyped" in text
    assert "another_metric" in text


def test_trailing_slash_and_empty_body(gateway: Gateway) -> None:
    conn = http.client.HTTPConnection(gateway.url.removeprefix("http://"))
    conn.request("PUT", "/metrics/job/", body=b"x 1\n")
    resp = conn.getresponse()
    assert (resp.status, resp.getheader("Location")) == (307, "/metrics/job")
    conn.close()
    assert req(gateway, "PUT", "/metrics/job@base64/", b"x 1\n")[0] == 404
    assert req(gateway, "PUT", "/metrics/job", b"x 1\n")[0] == 404
    assert req(gateway, "PUT", "/metrics/job/empty", b"")[0] == 200
    text = metrics(gateway)
    assert 'push_time_seconds{instance="",job="empty"}' in text


def test_delete_answers_202_even_when_absent(gateway: Gateway) -> None:
    req(gateway, "PUT", "/metrics/job/j1", b"x 1\n")
    assert req(gateway, "DELETE", "/metrics/job/j1")[0] == 202
    assert req(gateway, "DELETE", "/metrics/job/never")[0] == 202
    assert 'job="j1"' not in metrics(gateway)


def test_bad_requests(gateway: Gateway) -> None:
    status, headers, body = req(gateway, "GET", "/metrics/job/j1")
    assert status == 405 and headers["Allow"] == "DELETE, OPTIONS, POST, PUT"
    assert req(gateway, "PUT", "/metrics/job@base64/=", b"")[2] == b"job name is required"
    status, _, body = req(gateway, "PUT", "/metrics/job/j13/bad-label/x", b"x 1\n")
    assert (status, body) == (400, b'improper label name "bad-label"')
    status, _, body = req(gateway, "PUT", "/metrics/job/j1", b"this is not { valid")
    assert status == 400 and body.startswith(b"text format parsing error in line 1:")
    status, _, body = req(gateway, "PUT", "/metrics/job/j1", b"ts_metric 1 1700000000000\n")
    assert status == 400
    assert body == (
        b"pushed metrics are invalid or inconsistent with existing metrics: "
        b"pushed metrics must not have timestamps"
    )
    status, _, body = req(
        gateway,
        "PUT",
        "/metrics/job/j1",
        b"x 1\n# EOF\n",
        "application/openmetrics-text; version=1.0.0",
    )
    assert status == 400 and b"OpenMetrics pushes are not supported" in body
    assert 'job="j1"' not in metrics(gateway)  # nothing left behind by refused pushes


def test_invalid_utf8_grouping_key_cannot_poison_the_gateway(gateway: Gateway) -> None:
    status, _, body = req(gateway, "PUT", "/metrics/job/x/v@base64/-_8=", b"m 1\n")
    assert status == 400 and b"not valid UTF-8" in body
    assert req(gateway, "PUT", "/metrics/job/ok", b"m 1\n")[0] == 200
    text = metrics(gateway)
    assert 'm{instance="",job="ok"} 1\n' in text and 'job="x"' not in text


def test_type_conflict_message_names_metric(gateway: Gateway) -> None:
    req(gateway, "PUT", "/metrics/job/j3", b"# TYPE noinst_metric gauge\nnoinst_metric 1\n")
    status, _, body = req(
        gateway, "PUT", "/metrics/job/j4", b"# TYPE noinst_metric counter\nnoinst_metric 7\n"
    )
    assert status == 400
    assert b'"noinst_metric" is pushed as counter but other groups hold it as gauge' in body


def test_api_v1_metrics_and_status(gateway: Gateway) -> None:
    req(
        gateway,
        "PUT",
        "/metrics/job/apijob/instance/ai",
        b'# TYPE apim_c counter\n# HELP apim_c A counter.\napim_c{x="1"} 3\n'
        b'# TYPE apim_s summary\napim_s{quantile="0.5"} 1\napim_s_sum 2\napim_s_count 2\n',
    )
    status, headers, body = req(gateway, "GET", "/api/v1/metrics")
    assert status == 200 and headers["Access-Control-Allow-Origin"] == "*"
    doc = json.loads(body)
    assert doc["status"] == "success"
    group = doc["data"][0]
    assert group["labels"] == {"instance": "ai", "job": "apijob"}
    assert group["last_push_successful"] is True
    assert group["apim_c"]["type"] == "COUNTER" and group["apim_c"]["help"] == "A counter."
    assert group["apim_c"]["metrics"] == [
        {"labels": {"instance": "ai", "job": "apijob", "x": "1"}, "value": "3"}
    ]
    assert group["apim_s"]["metrics"] == [
        {
            "labels": {"instance": "ai", "job": "apijob"},
            "quantiles": {"0.5": "1"},
            "sum": "2",
            "count": "2",
        }
    ]
    status, _, body = req(gateway, "GET", "/api/v1/status")
    assert status == 200 and "start_time" in json.loads(body)["data"]


def test_admin_and_lifecycle_off_by_default(gateway: Gateway) -> None:
    assert req(gateway, "PUT", "/api/v1/admin/wipe")[0] == 404
    status, _, body = req(gateway, "PUT", "/-/quit")
    assert (status, body) == (403, b"Lifecycle API is not enabled.")
    status, _, body = req(gateway, "GET", "/-/quit")
    assert (status, body) == (405, b"Only POST or PUT requests allowed.")
    assert req(gateway, "GET", "/-/healthy")[:3:2] == (200, b"OK\n")
    assert req(gateway, "GET", "/-/ready")[0] == 200


def test_admin_wipe_when_enabled(admin_gateway: Gateway) -> None:
    req(admin_gateway, "PUT", "/metrics/job/a", b"x 1\n")
    status, headers, _ = req(admin_gateway, "POST", "/api/v1/admin/wipe")
    assert status == 405 and headers["Allow"] == "OPTIONS, PUT"
    assert req(admin_gateway, "PUT", "/api/v1/admin/wipe")[0] == 202
    assert json.loads(req(admin_gateway, "GET", "/api/v1/metrics")[2])["data"] == []
    assert req(admin_gateway, "PUT", "/-/quit")[2] == b"Requesting termination... Goodbye!"
    assert admin_gateway.api.quit_event.is_set()


def test_route_prefix_and_telemetry_path() -> None:
    from promethean.pushgateway.api import Options
    from tests.pushgateway.conftest import start_gateway

    gw, stop = start_gateway(Options(telemetry_path="/exposed", route_prefix="/pg"))
    try:
        assert req(gw, "PUT", "/pg/metrics/job/a", b"x 1\n")[0] == 200
        status, _, body = req(gw, "GET", "/pg/exposed")
        assert status == 200 and b'x{instance="",job="a"} 1\n' in body
        assert req(gw, "GET", "/metrics/job/a")[0] == 404
        assert req(gw, "GET", "/pg/-/healthy")[0] == 200
    finally:
        stop()
