"""Protobuf exposition: decoding reference bytes, round trips, and hostile input.

Reference bytes come from the protobuf library itself, using client_model's
``metrics.proto`` rebuilt at runtime from its field numbers (no protoc here),
so the decoder is checked against an independent encoder, not against itself.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

import pytest
from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    timestamp_pb2,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from promethean.model.errors import ParseError
from promethean.model.exposition import Exemplar, MetricFamily, MetricType, Sample
from promethean.model.histogram import (
    NativeHistogram,
    Span,
    bucket_index,
    bucket_upper_bound,
)
from promethean.model.labels import Labels
from promethean.model.protobuf import format_label_float, parse_protobuf, write_protobuf

_F = descriptor_pb2.FieldDescriptorProto
_OPT, _REP = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED

# (message, [(field name, number, type, label, type_name)]) — client_model metrics.proto.
_MESSAGES: list[tuple[str, list[tuple[str, int, int, int, str]]]] = [
    ("LabelPair", [("name", 1, _F.TYPE_STRING, _OPT, ""), ("value", 2, _F.TYPE_STRING, _OPT, "")]),
    ("Gauge", [("value", 1, _F.TYPE_DOUBLE, _OPT, "")]),
    (
        "Counter",
        [
            ("value", 1, _F.TYPE_DOUBLE, _OPT, ""),
            ("exemplar", 2, _F.TYPE_MESSAGE, _OPT, ".io.prometheus.client.Exemplar"),
            ("created_timestamp", 3, _F.TYPE_MESSAGE, _OPT, ".google.protobuf.Timestamp"),
        ],
    ),
    (
        "Quantile",
        [("quantile", 1, _F.TYPE_DOUBLE, _OPT, ""), ("value", 2, _F.TYPE_DOUBLE, _OPT, "")],
    ),
    (
        "Summary",
        [
            ("sample_count", 1, _F.TYPE_UINT64, _OPT, ""),
            ("sample_sum", 2, _F.TYPE_DOUBLE, _OPT, ""),
            ("quantile", 3, _F.TYPE_MESSAGE, _REP, ".io.prometheus.client.Quantile"),
            ("created_timestamp", 4, _F.TYPE_MESSAGE, _OPT, ".google.protobuf.Timestamp"),
        ],
    ),
    ("Untyped", [("value", 1, _F.TYPE_DOUBLE, _OPT, "")]),
    (
        "Histogram",
        [
            ("sample_count", 1, _F.TYPE_UINT64, _OPT, ""),
            ("sample_count_float", 4, _F.TYPE_DOUBLE, _OPT, ""),
            ("sample_sum", 2, _F.TYPE_DOUBLE, _OPT, ""),
            ("bucket", 3, _F.TYPE_MESSAGE, _REP, ".io.prometheus.client.Bucket"),
            ("created_timestamp", 15, _F.TYPE_MESSAGE, _OPT, ".google.protobuf.Timestamp"),
            ("schema", 5, _F.TYPE_SINT32, _OPT, ""),
            ("zero_threshold", 6, _F.TYPE_DOUBLE, _OPT, ""),
            ("zero_count", 7, _F.TYPE_UINT64, _OPT, ""),
            ("zero_count_float", 8, _F.TYPE_DOUBLE, _OPT, ""),
            ("negative_span", 9, _F.TYPE_MESSAGE, _REP, ".io.prometheus.client.BucketSpan"),
            ("negative_delta", 10, _F.TYPE_SINT64, _REP, ""),
            ("negative_count", 11, _F.TYPE_DOUBLE, _REP, ""),
            ("positive_span", 12, _F.TYPE_MESSAGE, _REP, ".io.prometheus.client.BucketSpan"),
            ("positive_delta", 13, _F.TYPE_SINT64, _REP, ""),
            ("positive_count", 14, _F.TYPE_DOUBLE, _REP, ""),
            ("exemplars", 16, _F.TYPE_MESSAGE, _REP, ".io.prometheus.client.Exemplar"),
        ],
    ),
    (
        "Bucket",
        [
            ("cumulative_count", 1, _F.TYPE_UINT64, _OPT, ""),
            ("cumulative_count_float", 4, _F.TYPE_DOUBLE, _OPT, ""),
            ("upper_bound", 2, _F.TYPE_DOUBLE, _OPT, ""),
            ("exemplar", 3, _F.TYPE_MESSAGE, _OPT, ".io.prometheus.client.Exemplar"),
        ],
    ),
    (
        "BucketSpan",
        [("offset", 1, _F.TYPE_SINT32, _OPT, ""), ("length", 2, _F.TYPE_UINT32, _OPT, "")],
    ),
    (
        "Exemplar",
        [
            ("label", 1, _F.TYPE_MESSAGE, _REP, ".io.prometheus.client.LabelPair"),
            ("value", 2, _F.TYPE_DOUBLE, _OPT, ""),
            ("timestamp", 3, _F.TYPE_MESSAGE, _OPT, ".google.protobuf.Timestamp"),
        ],
    ),
    (
        "Metric",
        [
            ("label", 1, _F.TYPE_MESSAGE, _REP, ".io.prometheus.client.LabelPair"),
            ("gauge", 2, _F.TYPE_MESSAGE, _OPT, ".io.prometheus.client.Gauge"),
            ("counter", 3, _F.TYPE_MESSAGE, _OPT, ".io.prometheus.client.Counter"),
            ("summary", 4, _F.TYPE_MESSAGE, _OPT, ".io.prometheus.client.Summary"),
            ("untyped", 5, _F.TYPE_MESSAGE, _OPT, ".io.prometheus.client.Untyped"),
            ("histogram", 7, _F.TYPE_MESSAGE, _OPT, ".io.prometheus.client.Histogram"),
            ("timestamp_ms", 6, _F.TYPE_INT64, _OPT, ""),
        ],
    ),
    (
        "MetricFamily",
        [
            ("name", 1, _F.TYPE_STRING, _OPT, ""),
            ("help", 2, _F.TYPE_STRING, _OPT, ""),
            ("type", 3, _F.TYPE_ENUM, _OPT, ".io.prometheus.client.MetricType"),
            ("metric", 4, _F.TYPE_MESSAGE, _REP, ".io.prometheus.client.Metric"),
            ("unit", 5, _F.TYPE_STRING, _OPT, ""),
        ],
    ),
]
_TYPES = ["COUNTER", "GAUGE", "SUMMARY", "UNTYPED", "HISTOGRAM", "GAUGE_HISTOGRAM"]


def _reference_family_class() -> Any:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="promethean_test/metrics.proto",
        package="io.prometheus.client",
        syntax="proto2",
        dependency=["google/protobuf/timestamp.proto"],
    )
    enum = fdp.enum_type.add(name="MetricType")
    for number, name in enumerate(_TYPES):
        enum.value.add(name=name, number=number)
    for msg_name, fields in _MESSAGES:
        msg = fdp.message_type.add(name=msg_name)
        for fname, number, ftype, label, type_name in fields:
            f = msg.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = type_name
            if label == _REP and ftype in (_F.TYPE_SINT64, _F.TYPE_DOUBLE):
                f.options.packed = True
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(fdp)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName("io.prometheus.client.MetricFamily")
    )


MF = _reference_family_class()


def _delimited(*messages: Any) -> bytes:
    out = b""
    for m in messages:
        body = m.SerializeToString()
        n = len(body)
        prefix = bytearray()
        while n >= 0x80:
            prefix.append((n & 0x7F) | 0x80)
            n >>= 7
        prefix.append(n)
        out += bytes(prefix) + body
    return out


def L(**kw: str) -> Labels:
    return Labels.from_dict(kw)


# --- decoding reference bytes ------------------------------------------------------


def test_counter_gauge_untyped_from_reference_bytes() -> None:
    counter = MF(name="http_requests_total", help="Requests.", type=0)
    m = counter.metric.add()
    m.label.add(name="path", value="/a")
    m.label.add(name="code", value="200")
    m.counter.value = 7
    m.counter.exemplar.label.add(name="trace_id", value="abc")
    m.counter.exemplar.value = 0.5
    m.counter.exemplar.timestamp.seconds = 1700000000
    m.counter.exemplar.timestamp.nanos = 123_000_000
    gauge = MF(name="temp_celsius", type=1)
    g = gauge.metric.add()
    g.gauge.value = -3.5
    g.timestamp_ms = 1700000000999
    untyped = MF(name="thing", help="", type=3)
    untyped.metric.add().untyped.value = math.inf

    fams = parse_protobuf(_delimited(counter, gauge, untyped))

    assert fams == [
        MetricFamily(
            "http_requests_total",
            MetricType.COUNTER,
            "Requests.",
            None,
            [
                Sample(
                    "http_requests_total",
                    L(code="200", path="/a"),
                    7.0,
                    None,
                    Exemplar(L(trace_id="abc"), 0.5, 1700000000123),
                )
            ],
        ),
        MetricFamily(
            "temp_celsius",
            MetricType.GAUGE,
            None,
            None,
            [Sample("temp_celsius", L(), -3.5, 1700000000999)],
        ),
        MetricFamily("thing", MetricType.UNKNOWN, "", None, [Sample("thing", L(), math.inf)]),
    ]


def test_summary_becomes_count_sum_and_quantiles_like_prometheus() -> None:
    fam = MF(name="rpc_seconds", help="h", type=2)
    m = fam.metric.add()
    m.label.add(name="svc", value="x")
    m.summary.sample_count = 10
    m.summary.sample_sum = 2.5
    for q, v in ((0.5, 0.2), (0.99, 0.9), (1, 1.5)):
        qq = m.summary.quantile.add()
        qq.quantile, qq.value = q, v

    [out] = parse_protobuf(_delimited(fam))

    assert out.type is MetricType.SUMMARY
    assert [(s.name, dict(s.labels), s.value) for s in out.samples] == [
        ("rpc_seconds_count", {"svc": "x"}, 10.0),
        ("rpc_seconds_sum", {"svc": "x"}, 2.5),
        ("rpc_seconds", {"svc": "x", "quantile": "0.5"}, 0.2),
        ("rpc_seconds", {"svc": "x", "quantile": "0.99"}, 0.9),
        ("rpc_seconds", {"svc": "x", "quantile": "1.0"}, 1.5),
    ]


def test_classic_histogram_adds_inf_bucket_and_formats_le_like_prometheus() -> None:
    fam = MF(name="req_duration_seconds", help="h", type=4)
    h = fam.metric.add().histogram
    h.sample_count = 6
    h.sample_sum = 12.5
    for upper, cum in ((0.005, 1), (1, 3), (1e6, 5)):
        b = h.bucket.add()
        b.upper_bound, b.cumulative_count = upper, cum
    h.bucket[1].exemplar.value = 0.7
    h.bucket[1].exemplar.label.add(name="trace_id", value="t1")

    [out] = parse_protobuf(_delimited(fam))

    assert [(s.name, s.labels.get("le"), s.value) for s in out.samples] == [
        ("req_duration_seconds_count", "", 6.0),
        ("req_duration_seconds_sum", "", 12.5),
        ("req_duration_seconds_bucket", "0.005", 1.0),
        ("req_duration_seconds_bucket", "1.0", 3.0),
        ("req_duration_seconds_bucket", "1e+06", 5.0),
        ("req_duration_seconds_bucket", "+Inf", 6.0),
    ]
    assert out.samples[3].exemplar == Exemplar(L(trace_id="t1"), 0.7, None)


def test_float_counts_override_integer_counts() -> None:
    fam = MF(name="f", type=4)
    h = fam.metric.add().histogram
    h.sample_count = 1
    h.sample_count_float = 2.5
    b = h.bucket.add()
    b.upper_bound, b.cumulative_count, b.cumulative_count_float = math.inf, 1, 2.5

    [out] = parse_protobuf(_delimited(fam))

    assert [(s.name, s.labels.get("le"), s.value) for s in out.samples] == [
        ("f_count", "", 2.5),
        ("f_sum", "", 0.0),
        ("f_bucket", "+Inf", 2.5),
    ]


def test_native_histogram_from_reference_bytes() -> None:
    fam = MF(name="latency_seconds", help="h", type=4)
    m = fam.metric.add()
    m.label.add(name="job", value="a")
    h = m.histogram
    h.sample_count = 9
    h.sample_sum = 4.25
    h.schema = 3
    h.zero_threshold = 2**-128
    h.zero_count = 1
    for offset, length in ((-2, 2), (3, 1)):
        s = h.positive_span.add()
        s.offset, s.length = offset, length
    h.positive_delta.extend([2, 1, -1])  # absolute 2, 3, 2
    ns = h.negative_span.add()
    ns.offset, ns.length = 0, 1
    h.negative_delta.extend([1])
    ex = h.exemplars.add()
    ex.value = 0.3
    ex.timestamp.seconds = 5
    ex.label.add(name="trace_id", value="n1")

    [out] = parse_protobuf(_delimited(fam))

    [sample] = out.samples
    assert sample.name == "latency_seconds"
    assert sample.labels == L(job="a")
    assert sample.value == 9.0
    assert sample.exemplar == Exemplar(L(trace_id="n1"), 0.3, 5000)
    assert sample.histogram == NativeHistogram(
        schema=3,
        zero_threshold=2**-128,
        zero_count=1.0,
        count=9.0,
        sum=4.25,
        positive_spans=(Span(-2, 2), Span(3, 1)),
        positive_buckets=(2.0, 3.0, 2.0),
        negative_spans=(Span(0, 1),),
        negative_buckets=(1.0,),
        is_gauge=False,
        is_float=False,
        exemplars=(Exemplar(L(trace_id="n1"), 0.3, 5000),),
    )
    assert [(i, c) for i, c in sample.histogram.bucket_indices()] == [
        (-2, 2.0),
        (-1, 3.0),
        (3, 2.0),
    ]


def test_empty_native_histogram_is_marked_by_the_noop_span() -> None:
    fam = MF(name="n", type=5)
    h = fam.metric.add().histogram
    h.positive_span.add(offset=0, length=0)

    [out] = parse_protobuf(_delimited(fam))

    assert out.type is MetricType.GAUGEHISTOGRAM
    [sample] = out.samples
    assert sample.histogram == NativeHistogram(is_gauge=True)


def test_histogram_with_native_and_classic_buckets_gives_both() -> None:
    fam = MF(name="both", type=4)
    h = fam.metric.add().histogram
    h.sample_count = 1
    h.sample_sum = 1
    h.schema = 0
    h.positive_span.add(offset=0, length=1)
    h.positive_delta.append(1)
    h.bucket.add(upper_bound=1, cumulative_count=1)

    [out] = parse_protobuf(_delimited(fam))

    assert [(s.name, s.histogram is not None) for s in out.samples] == [
        ("both", True),
        ("both_count", False),
        ("both_sum", False),
        ("both_bucket", False),
        ("both_bucket", False),
    ]


def test_created_timestamps_become_created_samples_on_request() -> None:
    fam = MF(name="jobs_total", type=0)
    c = fam.metric.add().counter
    c.value = 1
    c.created_timestamp.seconds = 1700000000
    c.created_timestamp.nanos = 500_000_000
    data = _delimited(fam)

    assert [s.name for s in parse_protobuf(data)[0].samples] == ["jobs_total"]
    [out] = parse_protobuf(data, created_samples=True)
    assert [(s.name, s.value) for s in out.samples] == [
        ("jobs_total", 1.0),
        ("jobs_created", 1700000000.5),
    ]
    assert write_protobuf([out]) == data


def test_our_bytes_decode_with_the_reference_decoder() -> None:
    fams = [
        MetricFamily(
            "x_total",
            MetricType.COUNTER,
            "X.",
            None,
            [Sample("x_total", L(a="1"), 3.0, 1234, Exemplar(L(t="1"), 1.0, 99))],
        ),
        MetricFamily(
            "lat",
            MetricType.HISTOGRAM,
            "Lat.",
            None,
            [
                Sample("lat_bucket", L(le="0.1"), 1.0),
                Sample("lat_bucket", L(le="+Inf"), 2.0),
                Sample("lat_count", L(), 2.0),
                Sample("lat_sum", L(), 0.35),
            ],
        ),
    ]
    data = write_protobuf(fams)
    decoded = []
    pos = 0
    while pos < len(data):
        n, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        decoded.append(MF.FromString(data[pos : pos + n]))
        pos += n
    assert decoded[0].name == "x_total"
    assert decoded[0].metric[0].counter.value == 3.0
    assert decoded[0].metric[0].timestamp_ms == 1234
    assert decoded[0].metric[0].counter.exemplar.timestamp.nanos == 99_000_000
    assert decoded[1].type == 4
    h = decoded[1].metric[0].histogram
    assert (h.sample_count, h.sample_sum) == (2, 0.35)
    assert [(b.upper_bound, b.cumulative_count) for b in h.bucket] == [(0.1, 1)]


# --- round trips -------------------------------------------------------------------


def test_round_trip_of_every_type() -> None:
    native = NativeHistogram(
        schema=-1,
        zero_threshold=0.001,
        zero_count=2.5,
        count=10.5,
        sum=-3.0,
        positive_spans=(Span(1, 2),),
        positive_buckets=(4.0, 1.5),
        negative_spans=(Span(-3, 1), Span(2, 1)),
        negative_buckets=(1.0, 1.5),
        is_gauge=False,
        is_float=True,
    )
    fams = [
        MetricFamily("c_total", MetricType.COUNTER, "C", None, [Sample("c_total", L(), 1.0)]),
        MetricFamily(
            "g",
            MetricType.GAUGE,
            None,
            "bytes",
            [Sample("g", L(x="1"), math.nan, 5), Sample("g", L(x="2"), -0.0)],
        ),
        MetricFamily(
            "s",
            MetricType.SUMMARY,
            "S",
            None,
            [
                Sample("s_count", L(), 3.0),
                Sample("s_sum", L(), 1.0),
                Sample("s", L(quantile="0.5"), 0.25),
            ],
        ),
        MetricFamily(
            "h",
            MetricType.HISTOGRAM,
            "H",
            None,
            [
                Sample("h_count", L(), 2.0),
                Sample("h_sum", L(), 3.0),
                Sample("h_bucket", L(le="1.0"), 1.0),
                Sample("h_bucket", L(le="+Inf"), 2.0),
            ],
        ),
        MetricFamily(
            "n", MetricType.HISTOGRAM, "N", None, [Sample("n", L(), 10.5, None, None, native)]
        ),
        MetricFamily("u", MetricType.UNKNOWN, None, None, [Sample("u", L(), 1e300)]),
    ]

    back = parse_protobuf(write_protobuf(fams))

    assert len(back) == len(fams)
    for got, want in zip(back, fams, strict=True):
        assert (got.name, got.type, got.help, got.unit) == (
            want.name,
            want.type,
            want.help,
            want.unit,
        )
        assert len(got.samples) == len(want.samples)
        for gs, ws in zip(got.samples, want.samples, strict=True):
            assert (gs.name, gs.labels, gs.timestamp_ms, gs.histogram) == (
                ws.name,
                ws.labels,
                ws.timestamp_ms,
                ws.histogram,
            )
            assert gs.value == ws.value or (math.isnan(gs.value) and math.isnan(ws.value))
            assert math.copysign(1, gs.value) == math.copysign(1, ws.value)


def test_writing_is_deterministic_and_reparses_to_itself() -> None:
    fam = MF(name="a", help="b", type=1)
    fam.metric.add().gauge.value = 1
    data = _delimited(fam)
    assert write_protobuf(parse_protobuf(data)) == data


# --- errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x80", "protobuf: unexpected end of data in varint at byte 0"),
        (b"\x05\x0a\x01a", "protobuf: message length 5 exceeds the 3 bytes left at byte 0"),
        (b"\x03\x0a\x05a", "protobuf: field 1 claims 5 bytes, only 1 left at byte 1"),
        (b"\x02\x18\x09\x00", "protobuf: metric family without a name at byte 1"),
        (b"\x05\x0a\x01a\x18\x09", "protobuf: metric family 'a': unknown metric type 9 at byte 1"),
        (b"\x03\x0a\x01\xff", "protobuf: string is not valid UTF-8 at byte 3"),
        (b"\x02\x0f\x00", "protobuf: field 1: unsupported wire type 7 at byte 1"),
        (b"\x01" + b"\x00", "protobuf: invalid field number 0 at byte 1"),
        (b"\x0b" + b"\xff" * 11, "protobuf: varint longer than 10 bytes at byte 1"),
    ],
)
def test_malformed_input_raises_parse_error_with_offset(data: bytes, message: str) -> None:
    with pytest.raises(ParseError) as err:
        parse_protobuf(data)
    assert str(err.value) == message


def test_inconsistent_native_histogram_is_rejected() -> None:
    fam = MF(name="bad", type=4)
    h = fam.metric.add().histogram
    h.positive_span.add(offset=0, length=3)
    h.positive_delta.extend([1, 1])
    with pytest.raises(ParseError) as err:
        parse_protobuf(_delimited(fam))
    assert str(err.value) == (
        "protobuf: histogram 'bad': positive side: spans need 3 buckets, have 2 buckets at byte 12"
    )


def test_duplicate_label_names_are_rejected() -> None:
    fam = MF(name="d", type=1)
    m = fam.metric.add()
    m.label.add(name="a", value="1")
    m.label.add(name="a", value="2")
    m.gauge.value = 1
    with pytest.raises(ParseError, match="duplicate label name 'a'"):
        parse_protobuf(_delimited(fam))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_fuzz_garbage_only_raises_parse_error(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        parse_protobuf(data)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_fuzz_mutated_valid_messages_only_raise_parse_error(data: st.DataObject) -> None:
    fam = MF(name="m", help="h", type=4)
    h = fam.metric.add().histogram
    h.sample_count, h.sample_sum, h.schema = 3, 1.5, 2
    h.positive_span.add(offset=1, length=2)
    h.positive_delta.extend([1, 1])
    h.bucket.add(upper_bound=1, cumulative_count=1).exemplar.value = 1
    raw = bytearray(_delimited(fam))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(raw) - 1))
        raw[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    with contextlib.suppress(ParseError):
        parse_protobuf(bytes(raw[:cut]))


# --- native histogram buckets -------------------------------------------------------


def test_bucket_boundaries_follow_the_exponential_schema() -> None:
    assert [bucket_upper_bound(i, 0) for i in (-1, 0, 1, 2)] == [0.5, 1.0, 2.0, 4.0]
    assert [bucket_upper_bound(i, -2) for i in (0, 1, 2)] == [1.0, 16.0, 256.0]
    assert bucket_upper_bound(1, 1) == pytest.approx(math.sqrt(2))
    assert bucket_upper_bound(1024, 0) == 1.7976931348623157e308  # last finite bucket
    assert bucket_upper_bound(1025, 0) == math.inf
    for schema in (-4, -1, 0, 3, 8):
        for value in (1e-9, 0.3, 1.0, 1.5, 2.0, 1000.0, 123456.789):
            i = bucket_index(value, schema)
            assert bucket_upper_bound(i - 1, schema) < value <= bucket_upper_bound(i, schema)


def test_buckets_iterate_negative_zero_positive_with_bounds() -> None:
    h = NativeHistogram(
        schema=0,
        zero_threshold=0.25,
        zero_count=1,
        positive_spans=(Span(0, 2),),
        positive_buckets=(3, 4),
        negative_spans=(Span(1, 1),),
        negative_buckets=(5,),
    )
    got = [(b.lower, b.upper, b.count, b.lower_inclusive, b.upper_inclusive) for b in h.buckets()]
    assert got == [
        (-2.0, -1.0, 5, True, False),
        (-0.25, 0.25, 1, True, True),
        (0.5, 1.0, 3, False, True),
        (1.0, 2.0, 4, False, True),
    ]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0.005, "0.005"),
        (1, "1.0"),
        (10, "10.0"),
        (100000, "100000.0"),
        (1e6, "1e+06"),
        (2.5e-5, "2.5e-05"),
        (0.0001, "0.0001"),
        (-1.5, "-1.5"),
        (0, "0.0"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
        (123456789.0, "1.23456789e+08"),
    ],
)
def test_label_floats_are_formatted_like_prometheus(value: float, text: str) -> None:
    assert format_label_float(value) == text


_names = st.from_regex(r"[a-z_][a-z0-9_]{0,12}", fullmatch=True).filter(lambda n: n != "__name__")
_values = st.floats(allow_nan=False, width=64)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            _names,
            st.sampled_from([MetricType.COUNTER, MetricType.GAUGE, MetricType.UNKNOWN]),
            st.none() | st.text(max_size=20),
            st.lists(
                st.tuples(
                    st.dictionaries(_names, st.text(min_size=1, max_size=8), max_size=3),
                    _values,
                    st.none() | st.integers(-(2**62), 2**62).filter(bool),
                ),
                min_size=1,
                max_size=4,
            ),
        ),
        max_size=5,
    )
)
def test_round_trip_property(spec: list[Any]) -> None:
    fams = [
        MetricFamily(
            name,
            mtype,
            help_text,
            None,
            [Sample(name, Labels.from_dict(lbls), value, ts) for lbls, value, ts in samples],
        )
        for name, mtype, help_text, samples in spec
    ]
    assert parse_protobuf(write_protobuf(fams)) == fams


def test_classic_histogram_with_infinite_and_fractional_counts_round_trips() -> None:
    fam = MetricFamily(
        "h",
        MetricType.HISTOGRAM,
        "H",
        None,
        [
            Sample("h_count", L(), 2.5),
            Sample("h_sum", L(), math.inf),
            Sample("h_bucket", L(le="1.0"), math.inf),
            Sample("h_bucket", L(le="+Inf"), 2.5),
        ],
    )
    [back] = parse_protobuf(write_protobuf([fam]))
    assert [(s.name, s.labels.get("le"), s.value) for s in back.samples] == [
        ("h_count", "", 2.5),
        ("h_sum", "", math.inf),
        ("h_bucket", "1.0", math.inf),
        ("h_bucket", "+Inf", 2.5),
    ]


def test_openmetrics_counter_keeps_its_total_name_in_protobuf() -> None:
    from promethean.model.openmetrics import parse_openmetrics

    text = "# TYPE jobs counter\n# HELP jobs J.\njobs_total 3\njobs_created 1700000000.5\n# EOF\n"
    data = write_protobuf(parse_openmetrics(text))
    [back] = parse_protobuf(data, created_samples=True)
    assert (back.name, back.type, back.help) == ("jobs_total", MetricType.COUNTER, "J.")
    assert [(s.name, s.value) for s in back.samples] == [
        ("jobs_total", 3.0),
        ("jobs_created", 1700000000.5),
    ]


def test_empty_label_values_are_kept_like_the_text_parsers() -> None:
    """An exposition's ``instance=""`` matters (honor_labels removes the target's label)."""
    from promethean.model.exposition import MetricFamily, MetricType, Sample
    from promethean.model.labels import Labels as _Labels
    from promethean.model.protobuf import parse_protobuf, write_protobuf

    fam = MetricFamily("m", MetricType.GAUGE, None, None)
    fam.samples.append(
        Sample("m", _Labels.from_pairs_keep_empty([("instance", ""), ("a", "1")]), 2.0)
    )
    (back,) = parse_protobuf(write_protobuf([fam]))
    assert tuple(back.samples[0].labels) == (("a", "1"), ("instance", ""))
