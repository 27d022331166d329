"""``promethean tool check metrics``: exit codes, promlint findings, format detection,
and a side-by-side comparison with the real ``promtool check metrics``."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from promethean.cli import main
from promethean.model.exposition import MetricFamily, MetricType, Sample
from promethean.model.labels import Labels
from promethean.model.protobuf import write_protobuf


def _check(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    data: bytes,
    *flags: str,
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    rc = main(["tool", "check", "metrics", *flags])
    out, err = capsys.readouterr()
    return rc, out, err


CLEAN = b"""# HELP http_requests_total Requests served.
# TYPE http_requests_total counter
http_requests_total{code="200"} 10
# HELP request_duration_seconds Latency.
# TYPE request_duration_seconds histogram
request_duration_seconds_bucket{le="0.1"} 1
request_duration_seconds_bucket{le="+Inf"} 2
request_duration_seconds_sum 0.3
request_duration_seconds_count 2
"""

# Inputs for the side-by-side comparison; each avoids names with two unit words,
# for which promlint's pick depends on Go's map order.
CORPUS: dict[str, bytes] = {
    "clean": CLEAN,
    "counter_without_total": b"# HELP jobs Jobs.\n# TYPE jobs counter\njobs 1\n",
    "no_help_and_camel": (
        b'httpRequestsTotal{methodName="GET"} 1\nhttpRequestsTotal{methodName="PUT"} 1\n'
    ),
    "gauge_with_total": b"# HELP up_total x\n# TYPE up_total gauge\nup_total 1\n",
    "units": (
        b"# HELP a_milliseconds x\n# TYPE a_milliseconds gauge\na_milliseconds 1\n"
        b"# HELP b_kilobytes x\n# TYPE b_kilobytes gauge\nb_kilobytes 1\n"
        b"# HELP c_fahrenheit x\n# TYPE c_fahrenheit gauge\nc_fahrenheit 1\n"
        b"# HELP d_kelvins x\n# TYPE d_kelvins gauge\nd_kelvins 1\n"
        b"# HELP e_thermometers x\n# TYPE e_thermometers gauge\ne_thermometers 1\n"
    ),
    "abbreviations": (
        b"# HELP lat_ms x\n# TYPE lat_ms gauge\nlat_ms 1\n"
        b"# HELP size_mb_x x\n# TYPE size_mb_x gauge\nsize_mb_x 1\n"
    ),
    "reserved_suffixes_and_labels": (
        b"# HELP foo_bucket x\n# TYPE foo_bucket gauge\n"
        b'foo_bucket{le="1"} 1\nfoo_bucket{le="2",quantile="0.5"} 1\n'
        b"# HELP bar_count x\n# TYPE bar_count counter\nbar_count 1\n"
        b"# HELP baz_sum x\n# TYPE baz_sum gauge\nbaz_sum 1\n"
    ),
    "type_in_name": (
        b"# HELP a_gauge x\n# TYPE a_gauge gauge\na_gauge 1\n"
        b"# HELP b_histogram_x x\n# TYPE b_histogram_x gauge\nb_histogram_x 1\n"
        b"# HELP c_gauge_histogram x\n# TYPE c_gauge_histogram gauge\nc_gauge_histogram 1\n"
        b"# HELP d_counter x\n# TYPE d_counter counter\nd_counter 1\n"
    ),
    "colons": b"# HELP job:rate5m x\n# TYPE job:rate5m gauge\njob:rate5m 1\n",
    "summary": (
        b"# HELP rpc_seconds x\n# TYPE rpc_seconds summary\n"
        b'rpc_seconds{quantile="0.5",svcName="a"} 1\nrpc_seconds_sum{svcName="a"} 1\n'
        b'rpc_seconds_count{svcName="a"} 1\n'
    ),
    "untyped_is_exempt": b'# HELP x_total x\nx_total 1\nthing_bucket{le="1"} 1\n',
    "empty": b"",
    "parse_error": b"# TYPE foo counter\nfoo{bar=} 1\n",
    "bad_value": b"foo 1 2 3\n",
}


def test_clean_input_exits_zero_silently(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(monkeypatch, capsys, CLEAN) == (0, "", "")


def test_problems_are_printed_sorted_and_exit_three(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = b'# HELP foo_ms x\n# TYPE foo_ms counter\nfoo_ms 1\nhttp_requestsTotal{aB="1"} 2\n'
    assert _check(monkeypatch, capsys, data) == (
        3,
        "",
        'foo_ms counter metrics should have "_total" suffix\n'
        "foo_ms metric names should not contain abbreviated units\n"
        "http_requestsTotal label names should be written in 'snake_case' not 'camelCase'\n"
        "http_requestsTotal metric names should be written in 'snake_case' not 'camelCase'\n"
        "http_requestsTotal no help text\n",
    )


def test_parse_error_exits_one_with_position(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, out, err = _check(monkeypatch, capsys, b"# TYPE foo counter\nfoo{bar=} 1\n")
    assert (rc, out) == (1, "")
    assert err.startswith("error while linting: 2:")
    assert "Traceback" not in err


def test_invalid_utf8_in_text_is_a_positioned_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, _, err = _check(monkeypatch, capsys, b"foo 1\nbar\xff 2\n", "--format", "text")
    assert (rc, err) == (1, "error while linting: 2:4: invalid UTF-8 in input\n")


def test_openmetrics_is_detected_and_counters_keep_total(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = (
        b"# TYPE jobs counter\n# HELP jobs Jobs.\njobs_total 1\njobs_created 1700000000\n"
        b"# TYPE temp_fahrenheit gauge\n# HELP temp_fahrenheit T.\ntemp_fahrenheit 3\n# EOF\n"
    )
    assert _check(monkeypatch, capsys, data) == (
        3,
        "",
        'temp_fahrenheit use base unit "celsius" instead of "fahrenheit"\n',
    )


def test_protobuf_is_detected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_protobuf(
        [
            MetricFamily(
                "requests", MetricType.COUNTER, "R.", None, [Sample("requests", Labels(), 1)]
            ),
            MetricFamily(
                "ok_total", MetricType.COUNTER, "O.", None, [Sample("ok_total", Labels(), 1)]
            ),
        ]
    )
    assert _check(monkeypatch, capsys, data) == (
        3,
        "",
        'requests counter metrics should have "_total" suffix\n',
    )
    assert _check(monkeypatch, capsys, data, "--format", "protobuf")[0] == 3


def test_truncated_protobuf_is_a_parse_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_protobuf(
        [MetricFamily("a_total", MetricType.COUNTER, "A.", None, [Sample("a_total", Labels(), 1)])]
    )
    rc, _, err = _check(monkeypatch, capsys, data[:-3] + b"\xff", "--format", "protobuf")
    assert rc == 1
    assert err.startswith("error while linting: protobuf: ")


def test_extended_prints_the_cardinality_table(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _check(monkeypatch, capsys, CLEAN, "--extended") == (
        0,
        "Metric                      Cardinality    Percentage    \n"
        "request_duration_seconds    4              80.00%        \n"
        "http_requests_total         1              20.00%        \n"
        "Total                       5              100%          \n",
        "",
    )


def test_end_to_end_through_the_installed_command(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("promethean")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "promethean.cli"]
    proc = subprocess.run(
        [*cmd, "tool", "check", "metrics"],
        input=b"# HELP jobs Jobs.\n# TYPE jobs counter\njobs 1\n",
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        3,
        b"",
        b'jobs counter metrics should have "_total" suffix\n',
    )


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool is required in CI (apt-get install prometheus)")
        print("promtool not found: install the Debian 'prometheus' package to compare")
        pytest.skip("promtool not installed")
    return path


@pytest.mark.parametrize("case", sorted(CORPUS))
def test_findings_match_real_promtool(
    case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    promtool = _promtool()
    data = CORPUS[case]
    ref = subprocess.run(
        [promtool, "check", "metrics"], input=data, capture_output=True, timeout=60, check=False
    )
    rc, out, err = _check(monkeypatch, capsys, data, "--format", "text")
    assert rc == ref.returncode
    assert out == ref.stdout.decode()
    if ref.returncode != 1:  # parse error texts differ by design; the exit code does not
        assert err == ref.stderr.decode()
