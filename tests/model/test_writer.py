"""Writers: Go-compatible output, and write -> parse gives the families back."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promethean.model.exposition import Exemplar, MetricFamily, MetricType, Sample
from promethean.model.labels import Labels
from promethean.model.openmetrics import parse_openmetrics
from promethean.model.textparse import parse_text
from promethean.model.writer import format_float, write_openmetrics, write_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.0, "0"),
        (-0.0, "-0"),
        (0.5, "0.5"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (1e6, "1e+06"),
        (0.0001, "0.0001"),
        (1e-05, "1e-05"),
        (1.520430000123e09, "1.520430000123e+09"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
        (5e-324, "5e-324"),
    ],
)
def test_floats_as_go_writes_them(value: float, text: str) -> None:
    assert format_float(value) == text


def test_text_output() -> None:
    fam = MetricFamily(
        "http_requests_total",
        MetricType.COUNTER,
        "Requests.\nAll \\ of them.",
        samples=[
            Sample(
                "http_requests_total",
                Labels.from_dict({"code": "200", "path": 'a"b\\c\nd'}),
                1027.0,
                1395066363000,
            )
        ],
    )
    assert write_text([fam]) == (
        "# HELP http_requests_total Requests.\\nAll \\\\ of them.\n"
        "# TYPE http_requests_total counter\n"
        'http_requests_total{code="200",path="a\\"b\\\\c\\nd"} 1027 1395066363000\n'
    )


def test_openmetrics_output() -> None:
    fams = [
        MetricFamily(
            "rpc_total",
            MetricType.COUNTER,
            'Say "hi"',
            samples=[
                Sample(
                    "rpc_total",
                    Labels.empty(),
                    1.0,
                    1500,
                    Exemplar(Labels.from_dict({"trace_id": "abc"}), 0.5, 1000),
                )
            ],
        ),
        MetricFamily(
            "my.gauge",
            MetricType.GAUGE,
            unit=None,
            samples=[Sample("my.gauge", Labels.from_dict({"a.b": "c"}), 2.5e6)],
        ),
    ]
    assert write_openmetrics(fams) == (
        '# HELP rpc Say \\"hi\\"\n'
        "# TYPE rpc counter\n"
        'rpc_total 1.0 1.5 # {trace_id="abc"} 0.5 1\n'
        '# TYPE "my.gauge" gauge\n'
        '{"my.gauge","a.b"="c"} 2.5e+06\n'
        "# EOF\n"
    )


_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda n: not n.endswith(("_total", "_bucket", "_sum", "_count", "_created", "_info"))
)
_label_names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(
    lambda n: n not in ("le", "quantile")
)
_label_values = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8
)
_labelsets = st.dictionaries(_label_names, _label_values, max_size=3).map(Labels.from_dict)
_floats = st.floats(allow_nan=False)
_ts = st.one_of(st.none(), st.integers(min_value=-(10**15), max_value=10**15))


def _same(a: list[MetricFamily], b: list[MetricFamily]) -> None:
    assert [(f.name, f.type, f.help, f.unit) for f in a] == [
        (f.name, f.type, f.help, f.unit) for f in b
    ]
    for fa, fb in zip(a, b, strict=True):
        assert fa.samples == fb.samples


@st.composite
def _simple_families(draw: st.DrawFn, om: bool) -> list[MetricFamily]:
    """Counter/gauge/unknown families in each format's canonical naming."""
    names = draw(st.lists(_names, min_size=1, max_size=4, unique=True))
    fams = []
    for name in names:
        typ = draw(st.sampled_from([MetricType.COUNTER, MetricType.GAUGE, MetricType.UNKNOWN]))
        help_text = draw(st.one_of(st.none(), st.text(min_size=1, max_size=10)))
        if help_text is not None and not om:
            help_text = help_text.strip(" \t") or None
        sample_name = name + "_total" if (om and typ is MetricType.COUNTER) else name
        labelsets = draw(st.lists(_labelsets, min_size=1, max_size=3, unique=True))
        ts = draw(_ts) if not om else None
        samples = []
        for labels in labelsets:
            value = draw(_floats)
            if om and typ is MetricType.COUNTER:
                value = abs(value)
            samples.append(Sample(sample_name, labels, value, ts))
        fams.append(MetricFamily(name, typ, help_text, samples=samples))
    return fams


@settings(max_examples=200, deadline=None)
@given(_simple_families(om=False))
def test_text_roundtrip(fams: list[MetricFamily]) -> None:
    _same(parse_text(write_text(fams)), fams)


@settings(max_examples=200, deadline=None)
@given(_simple_families(om=True))
def test_openmetrics_roundtrip(fams: list[MetricFamily]) -> None:
    _same(parse_openmetrics(write_openmetrics(fams)), fams)


def test_histogram_roundtrip_both_formats() -> None:
    base = Labels.from_dict({"path": "/"})
    buckets = [("0.5", 1.0), ("1", 3.0), ("+Inf", 4.0)]
    samples = [Sample("h_bucket", base.with_labels(le=le), v, None) for le, v in buckets] + [
        Sample("h_count", base, 4.0),
        Sample("h_sum", base, 2.5),
    ]
    fam = MetricFamily("h", MetricType.HISTOGRAM, "Latency.", samples=samples)
    _same(parse_text(write_text([fam])), [fam])
    _same(parse_openmetrics(write_openmetrics([fam])), [fam])


def test_empty_label_values_round_trip() -> None:
    labels = Labels.from_pairs_keep_empty([("instance", ""), ("job", "a")])
    fam = MetricFamily("up", MetricType.GAUGE, samples=[Sample("up", labels, 1.0)])
    text = write_text([fam])
    assert text == '# TYPE up gauge\nup{instance="",job="a"} 1\n'
    _same(parse_text(text), [fam])
    om = write_openmetrics([fam])
    assert om == '# TYPE up gauge\nup{instance="",job="a"} 1.0\n# EOF\n'
    _same(parse_openmetrics(om), [fam])
