"""``promethean tool check metrics``: parse an exposition from stdin and lint it.

Behaves like ``promtool check metrics`` (2.42): every lint problem is printed to
stderr as ``<metric family> <problem>``, sorted by family then text, and the
exit status is 3 when there are problems, 1 when the input does not parse
(``error while linting: <line>:<column>: <what>``), 0 otherwise. The lint rules
are client_golang's promlint, applied to the families the way Go's text parser
builds them (``le`` and ``quantile`` belong to histograms and summaries and
are not labels there).

Beyond promtool, it reads all three formats: ``--format`` names one, or it is
detected (protobuf when the bytes are not UTF-8 or decode as delimited
``MetricFamily`` messages, OpenMetrics when the text ends with ``# EOF``, else
text 0.0.4). ``--extended`` prints the cardinality table promtool prints.

Only the model layer and the standard library are used, so the command starts
fast and can run where nothing else of promethean is configured.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from promethean.model.errors import ParseError
from promethean.model.exposition import MetricFamily, MetricType
from promethean.model.labels import Labels

__all__ = ["Problem", "configure", "detect_format", "lint", "parse_exposition", "run"]

SUCCESS, FAILURE, LINT_PROBLEMS = 0, 1, 3
FORMATS = ("text", "openmetrics", "protobuf")


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    metric: str
    text: str

    def __str__(self) -> str:
        return f"{self.metric} {self.text}"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Pass Prometheus metrics over stdin to lint them for consistency and correctness.\n\n"
        "examples:\n\n$ cat metrics.prom | promethean tool check metrics\n\n"
        "$ curl -s http://localhost:9090/metrics | promethean tool check metrics"
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "--format",
        choices=FORMATS,
        help="exposition format of the input (default: detected)",
    )
    parser.add_argument(
        "--extended",
        action="store_true",
        help="print extended information related to the cardinality of the metrics",
    )


def run(args: argparse.Namespace) -> int:
    data = sys.stdin.buffer.read()
    fmt = args.format or detect_format(data)
    try:
        families = parse_exposition(data, fmt)
    except ParseError as exc:
        print(f"error while linting: {exc}", file=sys.stderr)
        return FAILURE
    except _Unavailable as exc:
        print(f"error while linting: {exc}", file=sys.stderr)
        return FAILURE
    problems = lint(families)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        return LINT_PROBLEMS
    if args.extended:
        sys.stdout.write(_cardinality_table(families))
    return SUCCESS


# --- parsing -----------------------------------------------------------------


class _Unavailable(Exception):
    """A parser this build does not have."""


def detect_format(data: bytes) -> str:
    """``protobuf``, ``openmetrics`` or ``text`` for a body of unknown format."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "protobuf"
    if _looks_delimited(data):
        from promethean.model.protobuf import parse_protobuf

        try:
            parse_protobuf(data)
        except ParseError:
            pass
        else:
            return "protobuf"
    if text.rstrip("\n").endswith("# EOF"):
        return "openmetrics"
    return "text"


def _looks_delimited(data: bytes) -> bool:
    """A varint length that fits, then field 1 (the family name) as a string."""
    length = shift = pos = 0
    while pos < len(data) and pos < 10:
        b = data[pos]
        pos += 1
        length |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return 0 < length <= len(data) - pos and data[pos] == 0x0A
    return False


_PARSERS = {
    "text": ("promethean.model.textparse", "parse_text"),
    "openmetrics": ("promethean.model.openmetrics", "parse_openmetrics"),
    "protobuf": ("promethean.model.protobuf", "parse_protobuf"),
}


def parse_exposition(data: bytes, fmt: str) -> list[MetricFamily]:
    """Parse with the named format's parser; ParseError on bad input."""
    module_name, func_name = _PARSERS[fmt]
    try:
        parser: Callable[[bytes], list[MetricFamily]] = getattr(
            importlib.import_module(module_name), func_name
        )
    except (ImportError, AttributeError):
        raise _Unavailable(f"the {fmt} parser is not available in this build") from None
    if fmt != "protobuf":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise ParseError("invalid UTF-8 in input", line, column) from None
    return parser(data)


# --- lint (client_golang promlint rules) ---------------------------------------

_CAMEL = re.compile(r"[a-z][A-Z]")
# Types as promlint names them (client_model's MetricType enum, lower-cased).
_TYPE_WORDS = ("counter", "gauge", "summary", "histogram", "gauge_histogram")
_UNIT_ABBREVIATIONS = (
    "s",
    "ms",
    "us",
    "ns",
    "sec",
    "b",
    "kb",
    "mb",
    "gb",
    "tb",
    "pb",
    "m",
    "h",
    "d",
)
_UNITS = {
    "amperes": "amperes",
    "bytes": "bytes",
    "celsius": "celsius",
    "grams": "grams",
    "joules": "joules",
    "kelvin": "kelvin",
    "meters": "meters",
    "metres": "metres",
    "seconds": "seconds",
    "volts": "volts",
    "minutes": "seconds",
    "hours": "seconds",
    "days": "seconds",
    "weeks": "seconds",
    "kelvins": "kelvin",
    "fahrenheit": "celsius",
    "rankine": "celsius",
    "inches": "meters",
    "yards": "meters",
    "miles": "meters",
    "bits": "bytes",
    "calories": "joules",
    "pounds": "grams",
    "ounces": "grams",
}
_UNIT_PREFIXES = (
    "pico",
    "nano",
    "micro",
    "milli",
    "centi",
    "deci",
    "deca",
    "hecto",
    "kilo",
    "kibi",
    "mega",
    "mibi",
    "giga",
    "gibi",
    "tera",
    "tebi",
    "peta",
    "pebi",
    "",
)


def lint(families: Iterable[MetricFamily]) -> list[Problem]:
    """promlint's problems for the families, sorted by metric name then text."""
    problems: list[Problem] = []
    for fam in families:
        problems.extend(_lint_family(fam))
    problems.sort()
    return problems


def _go_name(fam: MetricFamily) -> str:
    """The family name Go's parsers would give: OpenMetrics counters keep ``_total``."""
    if fam.type in (MetricType.COUNTER, MetricType.INFO):
        names = {s.name for s in fam.samples if not s.name.endswith("_created")}
        if len(names) == 1:
            return names.pop()
    return fam.name


def _metric_label_sets(fam: MetricFamily) -> list[Labels]:
    """One label set per Go ``Metric``: histogram/summary series grouped, le/quantile dropped."""
    if fam.type in (MetricType.HISTOGRAM, MetricType.GAUGEHISTOGRAM):
        drop = "le"
    elif fam.type is MetricType.SUMMARY:
        drop = "quantile"
    else:
        return [s.labels for s in fam.samples if not s.name.endswith("_created")]
    seen: dict[Labels, None] = {}
    for s in fam.samples:
        seen.setdefault(s.labels.without(drop), None)
    return list(seen)


def _lint_family(fam: MetricFamily) -> list[Problem]:
    name = _go_name(fam)
    out: list[Problem] = []

    def add(text: str) -> None:
        out.append(Problem(name, text))

    if fam.help is None:
        add("no help text")
    unit = _metric_unit(name)
    if unit is not None and unit[0] != unit[1]:
        add(f'use base unit "{unit[1]}" instead of "{unit[0]}"')
    t = fam.type
    untyped = t is MetricType.UNKNOWN
    is_counter = t is MetricType.COUNTER
    if is_counter and not name.endswith("_total"):
        add('counter metrics should have "_total" suffix')
    elif not untyped and not is_counter and name.endswith("_total"):
        add('non-counter metrics should not have "_total" suffix')
    label_sets = _metric_label_sets(fam)
    if not untyped:
        is_hist = t in (MetricType.HISTOGRAM, MetricType.GAUGEHISTOGRAM)
        is_summary = t is MetricType.SUMMARY
        if not is_hist and name.endswith("_bucket"):
            add('non-histogram metrics should not have "_bucket" suffix')
        if not is_hist and not is_summary and name.endswith("_count"):
            add('non-histogram and non-summary metrics should not have "_count" suffix')
        if not is_hist and not is_summary and name.endswith("_sum"):
            add('non-histogram and non-summary metrics should not have "_sum" suffix')
        for labels in label_sets:
            for label_name, _ in labels:
                if not is_hist and label_name == "le":
                    add('non-histogram metrics should not have "le" label')
                if not is_summary and label_name == "quantile":
                    add('non-summary metrics should not have "quantile" label')
    lower = name.lower()
    for word in _TYPE_WORDS:
        if f"_{word}_" in lower or lower.endswith(f"_{word}"):
            add(f"metric name should not include type '{word}'")
    if ":" in name:
        add("metric names should not contain ':'")
    if _CAMEL.search(name):
        add("metric names should be written in 'snake_case' not 'camelCase'")
    for labels in label_sets:
        for label_name, _ in labels:
            if _CAMEL.search(label_name):
                add("label names should be written in 'snake_case' not 'camelCase'")
    for abbr in _UNIT_ABBREVIATIONS:
        if f"_{abbr}_" in lower or lower.endswith(f"_{abbr}"):
            add("metric names should not contain abbreviated units")
    return out


def _metric_unit(name: str) -> tuple[str, str] | None:
    """(unit as written, its base unit) for the first known unit word in the name.

    promlint walks a Go map here, so with several unit words its pick varies from
    run to run; this takes them in a fixed order.
    """
    words = set(name.split("_"))
    for unit, base in _UNITS.items():
        for prefix in _UNIT_PREFIXES:
            if prefix + unit in words:
                return prefix + unit, base
    return None


# --- --extended ----------------------------------------------------------------


def _cardinality_table(families: list[MetricFamily]) -> str:
    stats = [(_go_name(f), len(f.samples)) for f in families]
    total = sum(c for _, c in stats)
    stats.sort(key=lambda s: -s[1])
    rows = [("Metric", "Cardinality", "Percentage")]
    for name, card in stats:
        rows.append((name, str(card), f"{(card / total if total else 0) * 100:.2f}%"))
    rows.append(("Total", str(total), "100%"))
    widths = [max(4, max(len(r[i]) for r in rows) + 4) for i in range(3)]
    return "".join(
        "".join(c.ljust(wd) for c, wd in zip(r, widths, strict=True)) + "\n" for r in rows
    )
