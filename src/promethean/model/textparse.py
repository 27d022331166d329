"""Prometheus text exposition format 0.0.4, as the Go server and expfmt accept it.

What is accepted (and why it is not stricter): leading blanks, blanks and tabs
between tokens, a trailing comma in a label set, an optional final newline,
comment lines that are neither HELP nor TYPE, unknown escape sequences kept
verbatim (the scrape-path lexer does the same), ``NaN``/``Inf``/``Infinity`` in
any case with an optional sign on Inf, integer millisecond timestamps, and
Prometheus 3.x quoted UTF-8 names: ``{"my.metric", "some.label"="v"} 1``.

What is rejected, each with line and column: a second HELP or TYPE for a
family, TYPE after the family's samples, an unknown type, a family whose lines
are not contiguous (Go merges these silently in expfmt but its registry
refuses them as "collected before"; a scrape target that emits them is broken),
duplicate or reserved (``__name__``) label names, non-float ``le``/``quantile``
labels in histograms/summaries, bad floats (Go's ParseFloat without hex or
underscores), bad timestamps, and anything after the timestamp.

``_sum``/``_count`` (and ``_bucket`` for histograms) join the family declared
with TYPE summary/histogram; every other sample name is its own family,
``untyped`` becomes :attr:`MetricType.UNKNOWN`. Families without samples are
dropped, as expfmt does.
"""

from __future__ import annotations

from promethean.model._textlex import (
    FAST_TEXT,
    FLOAT_FULL,
    NAME_FULL,
    RawSample,
    decode,
    fast_pairs,
    parse_float,
    parse_int_ts,
    scan_sample,
    unescape,
)
from promethean.model.errors import ParseError
from promethean.model.exposition import MetricFamily, MetricType, Sample
from promethean.model.labels import Labels

__all__ = ["parse_text"]

_TYPES = {
    "counter": MetricType.COUNTER,
    "gauge": MetricType.GAUGE,
    "histogram": MetricType.HISTOGRAM,
    "summary": MetricType.SUMMARY,
    "untyped": MetricType.UNKNOWN,
}
_HISTOGRAM = MetricType.HISTOGRAM
_SUMMARY = MetricType.SUMMARY


def parse_text(data: str | bytes) -> list[MetricFamily]:
    """Parse a text 0.0.4 body into families, in the order they appear."""
    text = decode(data)
    state = _TextState()
    fast = FAST_TEXT.fullmatch
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    last_name = ""
    fam = MetricFamily("")  # placeholder until the first sample names a family
    for lineno, line in enumerate(lines, 1):
        m = fast(line)
        if m is not None:
            name, lab, val, ts = m.groups()
            if name != last_name or fam is not state.cur:
                fam = state.family_for(name, lineno)
                last_name = name
            if lab is None or len(lab) == 2:
                labels = Labels.empty()
            else:
                body = lab[1:-1]
                if "\\" in body:
                    pairs = fast_pairs(body)
                    labels = state.checked_labels(pairs, line, lineno)
                else:
                    # The regex proved the shape: every '"' delimits a value.
                    parts = body.split('"')
                    names = "".join(parts[0:-1:2]).replace(",", "").split("=")
                    names.pop()
                    values = parts[1::2]
                    if len(set(names)) != len(names) or "__name__" in names or "" in values:
                        labels = state.checked_labels(
                            list(zip(names, values, strict=True)), line, lineno
                        )
                    else:
                        labels = tuple.__new__(Labels, sorted(zip(names, values, strict=True)))
                if fam.type is _HISTOGRAM or fam.type is _SUMMARY:
                    state.check_special(fam, labels, line, lineno)
            fam.samples.append(
                Sample(
                    name,
                    labels,
                    float(val),
                    None if ts is None else parse_int_ts(ts, lineno, m.start(4) + 1),
                )
            )
            continue
        stripped = line.lstrip(" \t")
        if not stripped:
            continue
        last_name = ""
        if stripped[0] == "#":
            state.comment(line, lineno)
            continue
        fam, sample = state.slow_sample(line, lineno)
        fam.samples.append(sample)
    return [f for f in state.order if f.samples]


class _TextState:
    """Families seen so far and the contiguity/metadata rules between lines."""

    __slots__ = ("cur", "declared", "fams", "order", "typed")

    def __init__(self) -> None:
        self.fams: dict[str, MetricFamily] = {}
        self.order: list[MetricFamily] = []
        self.typed: set[str] = set()
        self.declared: set[str] = set()  # families with a TYPE line
        self.cur: MetricFamily | None = None

    def enter(self, name: str, lineno: int, col: int) -> MetricFamily:
        """Make ``name`` the current family, refusing to go back to an earlier one."""
        fam = self.fams.get(name)
        if fam is not None:
            if fam is not self.cur:
                raise ParseError(
                    f"metric family {name!r} appears again after other families "
                    "(its lines must be contiguous; second TYPE/HELP or samples "
                    "collected before with the same name)",
                    lineno,
                    col,
                )
            return fam
        fam = MetricFamily(name)
        self.fams[name] = fam
        self.order.append(fam)
        self.cur = fam
        return fam

    def resolve(self, name: str) -> str:
        """The family a sample name belongs to, given the TYPE lines seen so far."""
        if name in self.fams:
            return name
        for suffix in ("_sum", "_count", "_bucket"):
            if name.endswith(suffix):
                base = self.fams.get(name[: -len(suffix)])
                if base is not None and (
                    base.type is _HISTOGRAM or (base.type is _SUMMARY and suffix != "_bucket")
                ):
                    return base.name
        return name

    def family_for(self, name: str, lineno: int) -> MetricFamily:
        fam = self.enter(self.resolve(name), lineno, 1)
        self.typed.add(fam.name)
        return fam

    def checked_labels(self, pairs: list[tuple[str, str]], line: str, lineno: int) -> Labels:
        seen: set[str] = set()
        for k, _ in pairs:
            if k == "__name__":
                raise ParseError(
                    'label name "__name__" is reserved', lineno, _col_of(line, k + "=")
                )
            if k in seen:
                raise ParseError(
                    f"duplicate label name {k!r}", lineno, _col_of(line, k + "=", second=True)
                )
            seen.add(k)
        return Labels.from_pairs(pairs)

    def check_special(self, fam: MetricFamily, labels: Labels, line: str, lineno: int) -> None:
        key = "le" if fam.type is _HISTOGRAM else "quantile"
        for k, v in labels:
            if k == key and FLOAT_FULL.fullmatch(v) is None:
                raise ParseError(
                    f"expected float as value for {key!r} label, got {v!r}",
                    lineno,
                    _col_of(line, key + '="') + len(key) + 2,
                )

    def slow_sample(self, line: str, lineno: int) -> tuple[MetricFamily, Sample]:
        fam, sample, _ = self.full_sample(line, lineno)
        return fam, sample

    def full_sample(self, line: str, lineno: int) -> tuple[MetricFamily, Sample, RawSample]:
        """Tokenise and check one sample line exactly (first sight of a line)."""
        raw = scan_sample(line, lineno, om=False)
        fam = self.family_for(raw.name, lineno)
        labels = Labels.from_pairs(raw.pairs)
        if fam.type is _HISTOGRAM or fam.type is _SUMMARY:
            key = "le" if fam.type is _HISTOGRAM else "quantile"
            for k, v in raw.pairs:
                if k == key and FLOAT_FULL.fullmatch(v) is None:
                    col = (raw.label_cols or {}).get(k, 1)
                    raise ParseError(
                        f"expected float as value for {key!r} label, got {v!r}", lineno, col
                    )
        value = parse_float(raw.value, lineno, raw.value_col)
        ts = None if raw.ts is None else parse_int_ts(raw.ts, lineno, raw.ts_col)
        return fam, Sample(raw.name, labels, value, ts), raw

    def comment(self, line: str, lineno: int) -> None:
        """HELP and TYPE lines; any other ``#`` line is a comment and ignored."""
        p = line.index("#") + 1
        n = len(line)
        while p < n and line[p] in " \t":
            p += 1
        kw_start = p
        while p < n and line[p] not in " \t":
            p += 1
        keyword = line[kw_start:p]
        if keyword not in ("HELP", "TYPE"):
            return
        while p < n and line[p] in " \t":
            p += 1
        if p >= n:
            return  # "# HELP" alone is a comment, as in Go
        name_start = p
        if p < n and line[p] == '"':
            end = _closing_quote(line, p)
            if end < 0:
                raise ParseError("unterminated quoted metric name", lineno, p + 1)
            name = unescape(line[p + 1 : end])
            p = end + 1
        else:
            m = NAME_FULL.match(line, p)
            if m is None:
                raise ParseError("invalid metric name in comment", lineno, p + 1)
            name = m.group(0)
            p = m.end()
        if p < n and line[p] not in " \t":
            raise ParseError("invalid metric name in comment", lineno, p + 1)
        fam = self.enter(name, lineno, name_start + 1)
        while p < n and line[p] in " \t":
            p += 1
        if p >= n:
            return  # "# HELP name" without text is a comment, as in Go
        rest = line[p:]
        if keyword == "HELP":
            if fam.help is not None:
                raise ParseError(f"second HELP line for metric name {name!r}", lineno, kw_start + 1)
            fam.help = unescape(rest, quote=False)
            return
        if name in self.typed:
            raise ParseError(
                f"second TYPE line for metric name {name!r}, or TYPE reported after samples",
                lineno,
                kw_start + 1,
            )
        typ = _TYPES.get(rest.rstrip(" \t"))
        if typ is None:
            raise ParseError(f"unknown metric type {rest!r}", lineno, p + 1)
        fam.type = typ
        self.typed.add(name)
        self.declared.add(name)


def _closing_quote(line: str, start: int) -> int:
    p = start + 1
    n = len(line)
    while p < n:
        c = line[p]
        if c == '"':
            return p
        p += 2 if c == "\\" else 1
    return -1


def _col_of(line: str, needle: str, second: bool = False) -> int:
    """1-based column of ``needle`` in ``line`` (its second occurrence when asked)."""
    i = line.find(needle)
    if second and i >= 0:
        j = line.find(needle, i + 1)
        i = j if j >= 0 else i
    return i + 1 if i >= 0 else 1
