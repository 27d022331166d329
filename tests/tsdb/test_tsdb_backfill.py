"""``promethean tool tsdb create-blocks-from openmetrics``, ``list`` and ``analyze``."""

from __future__ import annotations

from pathlib import Path

import pytest

from promethean.cli import main
from promethean.model.matchers import Matcher, MatchType
from promethean.tsdb.block import Block, list_block_dirs
from promethean.tsdb.tool import format_base2_bytes, format_go_duration

H_S = 3600
T0_S = 1_672_531_200  # 2023-01-01T00:00:00Z, a multiple of 2 h


def _om(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "in.om"
    path.write_text(body)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _select(root: Path, name: str) -> dict[str, list[tuple[int, float]]]:
    found: dict[str, list[tuple[int, float]]] = {}
    for path in list_block_dirs(root):
        with Block.open(path) as b:
            for s in b.querier(0, 2**62).select([Matcher("__name__", MatchType.EQUAL, name)]):
                key = str(s.labels)
                pairs = list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
                found[key] = found.get(key, []) + pairs
    return found


def test_unsorted_input_becomes_aligned_2h_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = ["# HELP requests_total Requests.", "# TYPE requests_total counter"]
    # series interleaved and times descending: the worst order an input can have
    for k in reversed(range(0, 5 * H_S, 900)):
        lines.append(f'requests_total{{code="200"}} {k} {T0_S + k}')
        lines.append(f'requests_total{{code="500"}} {k / 1000} {T0_S + k}.5')
    lines += ["# TYPE temp gauge", f"temp -1.5e3 {T0_S + 60}", "# EOF", ""]
    src = _om(tmp_path, "\n".join(lines))
    out_dir = tmp_path / "data"
    rc, out, err = _run(
        capsys, "tool", "tsdb", "create-blocks-from", "openmetrics", str(src), str(out_dir)
    )
    assert (rc, err) == (0, "")
    blocks = list_block_dirs(out_dir)
    assert len(blocks) == 3
    header = out.splitlines()[0].split()
    assert header[:2] == ["BLOCK", "ULID"] and header[-1] == "SIZE"
    metas = [Block.open(p) for p in blocks]
    try:
        ranges = sorted((b.min_time, b.max_time) for b in metas)
    finally:
        for b in metas:
            b.close()
    t0 = T0_S * 1000
    assert ranges == [
        (t0, t0 + 6300 * 1000 + 500 + 1),
        (t0 + 7200 * 1000, t0 + 13500 * 1000 + 500 + 1),
        (t0 + 14400 * 1000, t0 + 17100 * 1000 + 500 + 1),
    ]
    data = _select(out_dir, "requests_total")
    ok = data['requests_total{code="200"}']
    assert ok == [(t0 + k * 1000, float(k)) for k in range(0, 5 * H_S, 900)]
    err500 = data['requests_total{code="500"}']
    assert err500[:2] == [(t0 + 500, 0.0), (t0 + 900_500, 0.9)]
    assert _select(out_dir, "temp") == {"temp": [(t0 + 60_000, -1500.0)]}


def test_max_block_duration_widens_blocks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [f"m {k} {T0_S + k}" for k in range(0, 5 * H_S, 600)] + ["# EOF"]
    src = _om(tmp_path, "\n".join(lines) + "\n")
    rc, _out, err = _run(
        capsys,
        "tool", "tsdb", "create-blocks-from", "openmetrics", "--max-block-duration=12h", "-q",
        str(src), str(tmp_path / "d"),
    )  # fmt: skip
    assert (rc, err) == (0, "")
    (block,) = list_block_dirs(tmp_path / "d")  # 6h is the largest range under 12h
    with Block.open(block) as b:
        assert b.meta.stats.num_samples == 30


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("m 1\n# EOF\n", "in.om:1: expected timestamp for series m, got none"),
        ('m 1 10\nm{a="x" 2 10\n# EOF\n', "in.om:2: "),
        ("m 1 10\nm x 20\n# EOF\n", "in.om:2: expected a number as value, got 'x'"),
        ("m 1 10\n", "in.om:2: missing '# EOF' at end of input"),
        ("m 1 10\n\nm 2 20\n# EOF\n", "in.om:2: blank lines are not allowed"),
        ("m 1 10\n# EOF\nm 2 20\n", "in.om:3: unexpected text after '# EOF'"),
        (
            "# random comment\n# EOF\n",
            "in.om:1: only HELP, TYPE, UNIT and EOF comments are allowed",
        ),
        ("m 1 10\nm 2 10\n# EOF\n", "duplicate sample for timestamp 10000 with a different value"),
        ("m 1 1_0\n# EOF\n", "in.om:1: "),
    ],
)
def test_bad_input_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    src = _om(tmp_path, body)
    rc, out, err = _run(
        capsys, "tool", "tsdb", "create-blocks-from", "openmetrics", str(src), str(tmp_path / "d")
    )
    assert rc == 1 and out == ""
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err
    assert list_block_dirs(tmp_path / "d") == []


def test_exact_duplicates_and_exemplars_are_accepted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    body = (
        "# TYPE c counter\n"
        'c_total{a="1"} 1 10 # {trace_id="abc"} 1 10\n'
        'c_total{a="1"} 1 10\n'
        'c_total{a="1"} 2 20\n'
        "# EOF\n"
    )
    src = _om(tmp_path, body)
    rc, _out, err = _run(
        capsys, "tool", "tsdb", "create-blocks-from", "openmetrics", str(src), str(tmp_path / "d")
    )
    assert (rc, err) == (0, "")
    assert _select(tmp_path / "d", "c_total") == {'c_total{a="1"}': [(10_000, 1.0), (20_000, 2.0)]}


def test_list_and_analyze(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = []
    for pod in range(4):
        start = 0 if pod < 3 else 3600  # pod 3 appears halfway: churn
        lines += [f'up{{job="api",pod="p{pod}"}} 1 {T0_S + k}' for k in range(start, 7200, 60)]
    src = _om(tmp_path, "\n".join([*lines, "# EOF", ""]))
    assert (
        main(
            [
                "tool",
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "-q",
                str(src),
                str(tmp_path / "d"),
            ]
        )
        == 0
    )
    (block,) = list_block_dirs(tmp_path / "d")
    capsys.readouterr()
    rc, out, _ = _run(capsys, "tool", "tsdb", "list", str(tmp_path / "d"))
    assert rc == 0
    header, row = out.splitlines()
    assert header.split("  ")[0] == "BLOCK ULID"
    cols = row.split()
    assert cols[:7] == [
        block.name,
        str(T0_S * 1000),
        str((T0_S + 7140) * 1000 + 1),
        "1h59m0.001s",
        "420",
        "4",
        "4",
    ]
    rc, out, _ = _run(capsys, "tool", "tsdb", "list", "-r", str(tmp_path / "d"))
    assert rc == 0 and "2023-01-01 00:00:00 +0000 UTC" in out
    rc, out, _ = _run(capsys, "tool", "tsdb", "analyze", "--limit", "2", str(tmp_path / "d"))
    assert rc == 0
    assert out.splitlines()[:6] == [
        f"Block ID: {block.name}",
        "Duration: 1h59m0.001s",
        "Series: 4",
        "Label names: 3",
        "Postings (unique label pairs): 6",
        "Postings entries (total label pairs): 12",
    ]
    assert "Label pairs most involved in churning:\n0 __name__=up\n0 job=api\n" in out
    assert "Highest cardinality labels:\n4 pod\n1 __name__\n" in out
    assert "Highest cardinality metric names:\n4 up\n" in out
    rc, _, err = _run(capsys, "tool", "tsdb", "analyze", str(tmp_path / "empty"))
    assert rc == 1 and err.startswith("error: no blocks found")


def test_go_formats() -> None:
    assert format_go_duration(7_200_000) == "2h0m0s"
    assert format_go_duration(7_185_001) == "1h59m45.001s"
    assert format_go_duration(1500) == "1.5s"
    assert format_go_duration(61_000) == "1m1s"
    assert format_go_duration(0) == "0s"
    assert format_base2_bytes(2_115_388) == "2MiB17KiB828B"
    assert format_base2_bytes(1024) == "1KiB"
