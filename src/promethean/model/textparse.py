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

import re
import sys
from collections.abc import Callable, Iterable
from itertools import islice, pairwise, repeat
from operator import getitem, itemgetter
from typing import cast

from promethean.model._textlex import (
    FAST_TEXT,
    FLOAT_FULL,
    LNAME_RE,
    NAME_FULL,
    NAME_RE,
    RawSample,
    decode,
    fast_pairs,
    gc_paused,
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
# A plain series line with its label values cut out: ``a``, ``a{}``, ``a{b="",c="",}``.
_SKEL_PAIR = LNAME_RE + '=""'
_SKELETON = re.compile(
    "(" + NAME_RE + r")(?:\{(?:" + _SKEL_PAIR + "(?:," + _SKEL_PAIR + r")*,?)?\})?"
)
_SKEL_NAMES = re.compile("(" + LNAME_RE + ')=""')


def parse_text(data: str | bytes) -> list[MetricFamily]:
    """Parse a text 0.0.4 body into families, in the order they appear."""
    text = decode(data)
    with gc_paused():
        try:
            return _parse_fast(text)
        except (_Careful, ParseError):
            # Something unusual, or an error: the careful parser judges the body line
            # by line, so the error it raises is the first one, at its exact position.
            return _parse_careful(text)


class _Careful(Exception):
    """The bulk value check saw something only a per-line parse may judge."""


class _Schema:
    """What the label names of a series line say, once per distinct line shape.

    A line's shape (its "skeleton") is the series text with every label value
    cut out: ``a{b="",c=""}``. Lines of one shape share the metric name, the
    label names, the order that sorts them and where ``le``/``quantile`` is,
    so all of that is worked out and validated once per shape, not per line.
    ``fam`` and ``spec`` remember the family the name last resolved to and the
    position of that family's special label, so a run of lines of the same
    family costs no family lookup.
    """

    __slots__ = ("fam", "get", "index", "name", "pairs", "spec")

    def __init__(self, name: str, raw_names: list[str], pairs: dict[str, _Pairs]) -> None:
        self.name = name
        order = sorted(range(len(raw_names)), key=raw_names.__getitem__)
        names = [raw_names[i] for i in order]
        for n in names:
            if n not in pairs:
                pairs[n] = _Pairs(n)
        self.pairs = tuple(pairs[n] for n in names)
        # Where each name's value is in the line split at its quotes.
        self.index = {n: 2 * i + 1 for i, n in enumerate(raw_names)}
        # The quote-split line -> its values in name order, with one C-level call.
        getter: object
        if len(order) > 1:
            getter = itemgetter(*[2 * i + 1 for i in order])
        else:  # itemgetter of one index returns the item, not a tuple: slice instead
            getter = itemgetter(cast(int, slice(1, 2 * len(order), 2)))
        self.get = cast(Callable[[list[str]], Iterable[str]], getter)
        self.fam: MetricFamily | None = None
        self.spec = -1

    @staticmethod
    def get_none(parts: list[str]) -> Iterable[str]:
        """The value getter before any shape is current (never called)."""
        return ()


class _Pairs(dict[str, tuple[str, str]]):
    """One label name's ``(name, value)`` pairs by value, so each distinct pair is built once.

    A body repeats few distinct pairs many times (327k pairs, 8k distinct in
    the benchmark payload); sharing them saves the allocation and, above all,
    keeps them from multiplying the objects the garbage collector must walk.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, value: str) -> tuple[str, str]:
        pair = self[value] = (self.name, value)
        return pair


def _schema(skeleton: str, pairs: dict[str, _Pairs]) -> _Schema | None:
    """The shape of a plain series line, or None when only the careful parser may judge it."""
    m = _SKELETON.fullmatch(skeleton)
    if m is None:
        return None
    raw_names = _SKEL_NAMES.findall(skeleton)
    if len(set(raw_names)) != len(raw_names) or "__name__" in raw_names:
        return None
    return _Schema(sys.intern(m.group(1)), [sys.intern(n) for n in raw_names], pairs)


def _parse_fast(text: str) -> list[MetricFamily]:
    """Whole-body parse where a plain line costs a few C-level string operations.

    A plain line is ``name{labels} value`` with one space, no backslash and a
    valid shape (:class:`_Schema`): it is cut at its last space and at its
    quotes, and its values are zipped onto the shape's sorted names. Values
    are converted at the end, in bulk, and the ``Sample`` objects built with
    one ``map``. Any other line (comments, timestamps, blanks, escapes, quoted
    names) takes the careful per-line path. Raises :class:`_Careful` or
    :class:`ParseError` when the careful parser must judge the whole body.
    """
    escapes = "\\" in text
    state = _TextState()
    shapes: dict[str, _Schema | None] = {}
    pairs: dict[str, _Pairs] = {}
    blocks, lines = _blocks(text, shapes, pairs)
    blocks_get = blocks.get
    good_specials: set[str] = set()
    # (first sample index, name) where the sample name changes: names are filled in per run.
    name_runs: list[tuple[int, str]] = []
    labelsets: list[Labels] = []
    values: list[str] = []
    timestamps: dict[int, int] = {}
    runs: list[tuple[MetricFamily, int]] = []
    runs_append = name_runs.append
    labels_append = labelsets.append
    values_append = values.append
    shapes_get = shapes.get
    new_labels = tuple.__new__
    labels_type = Labels
    last: _Schema | None = None
    sch: _Schema | None = None
    sch_pairs: tuple[_Pairs, ...] = ()
    sch_get: Callable[[list[str]], Iterable[str]] = _Schema.get_none
    last_evens: list[str] = []
    fam: MetricFamily | None = None
    spec = -1
    numbered = enumerate(lines, 1)
    for lineno, line in numbered:
        block = blocks_get(lineno)
        if block is not None:
            # The rest of a block of one shape, already cut into columns (see _blocks);
            # the block's first line, just parsed, set its family and name.
            bsch, blabels, bvalues = block
            if fam is not None and (fam.type is _HISTOGRAM or fam.type is _SUMMARY):
                bnames = [p.name for p in bsch.pairs]
                special = "le" if fam.type is _HISTOGRAM else "quantile"
                if special in bnames:
                    col = bnames.index(special)
                    for v in {lab[col][1] for lab in blabels} - good_specials:
                        if FLOAT_FULL.fullmatch(v) is None:
                            raise _Careful
            labelsets += blabels
            values += bvalues
            next(islice(numbered, len(bvalues) - 2, None), None)
            continue
        key, _, value = line.rpartition(" ")
        parts = key.split('"')
        evens = parts[::2]
        if evens != last_evens:
            sch = shapes_get('""'.join(evens))
            last_evens = evens
        if sch is not None and not (escapes and "\\" in key):
            if sch is not last:
                if fam is None or sch.fam is not fam or fam is not state.cur:
                    new = state.family_for(sch.name, lineno)
                    if new is not fam:
                        fam = new
                        runs.append((fam, len(labelsets)))
                    sch.fam = fam
                    sch.spec = -1
                    if fam.type is _HISTOGRAM:
                        sch.spec = sch.index.get("le", -1)
                    elif fam.type is _SUMMARY:
                        sch.spec = sch.index.get("quantile", -1)
                last = sch
                spec = sch.spec
                sch_pairs = sch.pairs
                sch_get = sch.get
                runs_append((len(labelsets), sch.name))
            if spec >= 0 and parts[spec] not in good_specials:
                if FLOAT_FULL.fullmatch(parts[spec]) is None:
                    raise _Careful
                good_specials.add(parts[spec])
            labels_append(new_labels(labels_type, map(getitem, sch_pairs, sch_get(parts))))
            values_append(value)
            continue
        skeleton = '""'.join(parts[::2])
        if skeleton not in shapes:
            # First line of its shape: judged by the careful path below, like any
            # line whose shape is not plain; later lines of a plain shape are fast.
            shapes[skeleton] = _schema(skeleton, pairs)
        last = None
        last_evens = []
        stripped = line.lstrip(" \t")
        if not stripped:
            continue
        if stripped[0] == "#":
            state.comment(line, lineno)
            continue
        new, sample, _ = state.full_sample(line, lineno)
        if new is not fam:
            fam = new
            runs.append((fam, len(labelsets)))
        if sample.timestamp_ms is not None:
            timestamps[len(labelsets)] = sample.timestamp_ms
        runs_append((len(labelsets), sample.name))
        labels_append(sample.labels)
        values_append(repr(sample.value))
    names: list[str] = []
    runs_append((len(labelsets), ""))
    for (start, name), (end, _) in pairwise(name_runs):
        names += repeat(name, end - start)
    samples = list(map(Sample, names, labelsets, bulk_floats(values)))
    for n, ts in timestamps.items():
        samples[n].timestamp_ms = ts
    # Families are contiguous, so each one owns one slice of the sample list.
    ends = [start for _, start in runs[1:]]
    ends.append(len(samples))
    for (run_fam, start), end in zip(runs, ends, strict=False):
        run_fam.samples = samples[start:end]
    return [f for f in state.order if f.samples]


def _blocks(
    text: str, shapes: dict[str, _Schema | None], pairs: dict[str, _Pairs]
) -> tuple[dict[int, tuple[_Schema, list[Labels], list[str]]], list[str]]:
    """The runs of lines between comments that all have one shape, cut as columns.

    Most of a body is such runs (a counter's or gauge's series). Split at its
    quotes, a run of ``L`` lines of ``n`` labels is ``2n`` columns: label values,
    the separators between them (each must be the shape's own text) and the
    joints ``} value\\nname{first=`` (each must be exactly that, with a bare
    value; so all the run's newlines are in joints, none in a label value).
    Proving all that and building the labels are a few C-level calls for the
    whole run. The result maps the line number of each run's second
    line to the run's shape and its labels and values from that line on; the
    first line goes the ordinary way, which sets the family. Also returns the
    body's lines (as ``split`` and without the final newline's empty line),
    with the runs' later lines left empty rather than cut out.
    """
    out: dict[int, tuple[_Schema, list[Labels], list[str]]] = {}
    lines: list[str] = []
    pieces = text.split("\n#")
    last = len(pieces) - 1
    for k, piece in enumerate(pieces):
        data = piece
        if k > 0 or piece.startswith("#"):
            comment, nl, data = piece.partition("\n")
            lines.append("#" + comment if k > 0 else comment)
            if not nl:
                continue
        if k == last:
            if not data:
                break  # the body's final newline
            if data.endswith("\n"):
                data = data[:-1]
        count = data.count("\n") + 1
        cut = None if count < 8 or "\\" in data else _columns(data, count, shapes, pairs)
        if cut is None:
            lines += data.split("\n")
            continue
        out[len(lines) + 2] = cut
        # The run's later lines are never read: the parse skips them.
        lines.append(data[: data.find("\n")])
        lines += repeat("", count - 1)
    return out, lines


def _columns(
    data: str, count: int, shapes: dict[str, _Schema | None], pairs: dict[str, _Pairs]
) -> tuple[_Schema, list[Labels], list[str]] | None:
    """One run's labels and values from its second line on, or None if not of one shape."""
    first = data[: data.find("\n")]
    head = first.rpartition(" ")[0].split('"')
    width = len(head) - 1  # parts per line: 2 per label
    if width < 2 or data.count('"') != width * count:
        return None
    skeleton = '""'.join(head[::2])
    if skeleton not in shapes:
        shapes[skeleton] = _schema(skeleton, pairs)
    sch = shapes[skeleton]
    if sch is None or skeleton.endswith(",}"):
        return None
    parts = data.split('"')
    if parts[0] != head[0]:
        return None
    for j in range(2, width, 2):
        if parts[j::width].count(head[j]) != count:
            return None
    # Joined at a quote (which no part holds), each boundary between two joints is
    # marked, so one split proves every joint is exactly ``} value\\nname{first=``.
    tail = head[-1] + " "
    joints = '"'.join(parts[width::width])
    if not joints.startswith(tail):
        return None
    vals = joints[len(tail) :].split("\n" + head[0] + '"' + tail)
    if len(vals) != count:
        return None
    flat = " ".join(vals)
    if flat.count(" ") != count - 1 or '"' in flat or "\t" in flat or "\n" in flat:
        return None
    cols = [map(p.__getitem__, parts[sch.index[p.name] + width :: width]) for p in sch.pairs]
    labels = list(map(tuple.__new__, repeat(Labels), zip(*cols, strict=True)))
    return sch, labels, vals[1:]


def bulk_floats(vals: list[str]) -> list[float]:
    """All values at C speed, after one pass proving Python's float() agrees with Go's.

    float() also takes underscores, non-ASCII digits, surrounding whitespace and
    signed NaN; none of those can hide in values that are printable ASCII with
    no ``_`` and no ``+n``/``-n``. Raises :class:`_Careful` otherwise.
    """
    joined = " ".join(vals)
    if (
        not joined.isascii()
        or not joined.isprintable()
        or "_" in joined
        or "+n" in joined
        or "-n" in joined
        or "+N" in joined
        or "-N" in joined
    ):
        raise _Careful
    try:
        return list(map(float, vals))
    except ValueError:
        raise _Careful from None


def _parse_careful(text: str) -> list[MetricFamily]:
    """Line by line, each checked exactly: the reference the fast path must agree with."""
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
                pairs = fast_pairs(lab[1:-1])
                labels = state.checked_labels(pairs, line, lineno)
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
        return Labels.from_pairs_keep_empty(pairs)

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
        labels = Labels.from_pairs_keep_empty(raw.pairs)
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
