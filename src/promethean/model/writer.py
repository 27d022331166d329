"""Writers for text 0.0.4 and OpenMetrics 1.0, byte-compatible with Go's expfmt.

Numbers are written the way Go writes them, so diffs against a Go exporter's
output are empty: ``strconv.FormatFloat(f, 'g', -1, 64)`` (shortest round-trip
digits, exponent form from 1e+06 up and below 1e-04: ``123456``, ``1.5e+06``,
``0.0001``, ``1e-05``), ``+Inf``/``-Inf``/``NaN``. OpenMetrics adds
``.0`` to integral values (``1.0``), as Go's OpenMetrics encoder does, and
writes timestamps as seconds.

Counters in OpenMetrics are named without ``_total`` on the metadata lines and
with it on the sample, whichever way the family was named; text 0.0.4 writes
families as given (types it lacks become ``untyped``). Names that are not
legacy Prometheus names are written quoted (``{"my.metric"} 1``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from promethean.model._textlex import LNAME_FULL, NAME_FULL, escape_label_value
from promethean.model.exposition import Exemplar, MetricFamily, MetricType, Sample

__all__ = ["format_float", "write_openmetrics", "write_text"]

_TEXT_TYPES = {
    MetricType.COUNTER: "counter",
    MetricType.GAUGE: "gauge",
    MetricType.HISTOGRAM: "histogram",
    MetricType.SUMMARY: "summary",
}


def format_float(value: float) -> str:
    """``value`` as Go's ``strconv.FormatFloat(value, 'g', -1, 64)`` with Prometheus's specials."""
    if value != value:
        return "NaN"
    if value == math.inf:
        return "+Inf"
    if value == -math.inf:
        return "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    r = repr(value)
    sign = ""
    if r[0] == "-":
        sign, r = "-", r[1:]
    mant, _, exp_s = r.partition("e")
    whole, _, frac = mant.partition(".")
    if frac == "0":
        frac = ""
    raw = (whole + frac).lstrip("0")
    # value = 0.<digits> * 10**dp
    dp = (len(raw) - len(frac) if whole == "0" else len(whole)) + int(exp_s or 0)
    digits = raw.rstrip("0") or "0"
    exp = dp - 1
    if exp < -4 or exp >= 6:  # Go's 'g' with shortest precision switches at 6
        head = digits[0]
        tail = digits[1:]
        e_sign = "-" if exp < 0 else "+"
        return f"{sign}{head}{'.' + tail if tail else ''}e{e_sign}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return f"{sign}{digits}{'0' * (dp - len(digits))}"
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def _om_float(value: float) -> str:
    s = format_float(value)
    if s[-1].isdigit() and "." not in s and "e" not in s:
        return s + ".0"
    return s


def _name(name: str) -> tuple[str, bool]:
    """A metric name as written, and whether it had to be quoted."""
    if NAME_FULL.fullmatch(name):
        return name, False
    return '"' + escape_label_value(name) + '"', True


def _pairs(labels: Iterable[tuple[str, str]]) -> list[str]:
    out = []
    for k, v in labels:
        key = k if LNAME_FULL.fullmatch(k) else '"' + escape_label_value(k) + '"'
        out.append(f'{key}="{escape_label_value(v)}"')
    return out


def _series(name: str, labels: Iterable[tuple[str, str]]) -> str:
    written, quoted = _name(name)
    parts = [written] if quoted else []
    parts.extend(_pairs(labels))
    if quoted:
        return "{" + ",".join(parts) + "}"
    if parts:
        return written + "{" + ",".join(parts) + "}"
    return written


def write_text(families: Iterable[MetricFamily]) -> str:
    """Text format 0.0.4; exemplars and units are not part of it and are left out."""
    out: list[str] = []
    for fam in families:
        name, _ = _name(fam.name)
        if fam.help:
            help_text = fam.help.replace("\\", "\\\\").replace("\n", "\\n")
            out.append(f"# HELP {name} {help_text}\n")
        out.append(f"# TYPE {name} {_TEXT_TYPES.get(fam.type, 'untyped')}\n")
        for s in fam.samples:
            line = f"{_series(s.name, s.labels)} {format_float(s.value)}"
            if s.timestamp_ms is not None:
                line += f" {s.timestamp_ms}"
            out.append(line + "\n")
    return "".join(out)


def write_openmetrics(families: Iterable[MetricFamily]) -> str:
    """OpenMetrics 1.0 text, ending with ``# EOF``."""
    out: list[str] = []
    for fam in families:
        meta = fam.name
        if fam.type is MetricType.COUNTER and meta.endswith("_total"):
            meta = meta[: -len("_total")]
        name, _ = _name(meta)
        if fam.help is not None:
            help_text = fam.help.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')
            out.append(f"# HELP {name} {help_text}\n")
        out.append(f"# TYPE {name} {fam.type.value}\n")
        if fam.unit:
            out.append(f"# UNIT {name} {fam.unit}\n")
        for s in fam.samples:
            out.append(_om_sample(fam, meta, s))
    out.append("# EOF\n")
    return "".join(out)


def _om_sample(fam: MetricFamily, meta: str, s: Sample) -> str:
    sample_name = s.name
    if fam.type is MetricType.COUNTER and sample_name == meta:
        sample_name = meta + "_total"
    line = f"{_series(sample_name, s.labels)} {_om_float(s.value)}"
    if s.timestamp_ms is not None:
        line += " " + _seconds(s.timestamp_ms)
    if s.exemplar is not None:
        line += _om_exemplar(s.exemplar)
    return line + "\n"


def _om_exemplar(ex: Exemplar) -> str:
    labels = "{" + ",".join(_pairs(ex.labels)) + "}"
    text = f" # {labels} {_om_float(ex.value)}"
    if ex.timestamp_ms is not None:
        text += " " + _seconds(ex.timestamp_ms)
    return text


def _seconds(ms: int) -> str:
    """Milliseconds as exact decimal seconds (``1.5``, ``-0.001``, ``12``)."""
    sign = "-" if ms < 0 else ""
    whole, frac = divmod(abs(ms), 1000)
    if frac == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{frac:03d}".rstrip("0")
