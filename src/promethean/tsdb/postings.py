"""The postings index: label pair -> set of series ids, and the symbol table.

Matchers are answered by set algebra on roaring bitmaps, never by scanning
series: an ``=`` or literal ``=~"a|b"`` matcher is a union of a few bitmaps,
a regex is a union over the values it accepts (each value tested once, not
each series), and a matcher that accepts the empty string (``!=``, ``!~``,
``=~".*"``) subtracts the series it rejects, as upstream's
``PostingsForMatchers`` does. :func:`select_postings` works on any
:class:`PostingsSource`, so the head and the on-disk block index share it.

The symbol table interns label strings and whole ``(name, value)`` pairs, so
a million series with ``job="node"`` hold one copy of that pair.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import Protocol

from pyroaring import BitMap

from promethean.model.labels import Labels
from promethean.model.matchers import Matcher

__all__ = ["MemPostings", "PostingsSource", "Symbols", "select_postings"]


class PostingsSource(Protocol):
    """What :func:`select_postings` needs from an index."""

    def all_postings(self) -> BitMap: ...

    def postings(self, name: str, value: str) -> BitMap:
        """Series with ``name="value"`` (a bitmap the caller must not modify)."""
        ...

    def values(self, name: str) -> Iterable[str]:
        """Every value of ``name`` present in the index."""
        ...


def _union_for(src: PostingsSource, name: str, values: Iterable[str]) -> BitMap:
    maps = [src.postings(name, v) for v in values]
    maps = [m for m in maps if m]
    if not maps:
        return BitMap()
    if len(maps) == 1:
        return BitMap(maps[0])
    return BitMap.union(*maps)


def _accepted(src: PostingsSource, m: Matcher, accept: bool) -> BitMap:
    """Series whose value of ``m.name`` is non-empty and (not) accepted by ``m``."""
    if accept:
        literal = m.literal_values()
        if literal is not None:
            return _union_for(src, m.name, (v for v in literal if v != ""))
    return _union_for(src, m.name, (v for v in src.values(m.name) if m.matches(v) is accept))


def select_postings(src: PostingsSource, matchers: Sequence[Matcher]) -> BitMap:
    """Ids of the series matching every matcher (absent labels read as "")."""
    positive: list[BitMap] = []
    negative: list[BitMap] = []
    for m in matchers:
        if m.matches_empty:
            # Series without the label match; drop those with a rejected value.
            negative.append(_accepted(src, m, accept=False))
        else:
            found = _accepted(src, m, accept=True)
            if not found:
                return BitMap()
            positive.append(found)
    if positive:
        positive.sort(key=len)
        result = positive[0]
        for other in positive[1:]:
            result &= other
            if not result:
                return result
    else:
        result = BitMap(src.all_postings())
    for drop in negative:
        if drop:
            result -= drop
    return result


class Symbols:
    """Interned label strings and pairs shared by every series that uses them."""

    __slots__ = ("_pairs",)

    def __init__(self) -> None:
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}

    def intern(self, labels: Labels) -> Labels:
        pairs = self._pairs
        out: list[tuple[str, str]] = []
        for pair in labels:
            shared = pairs.get(pair)
            if shared is None:
                shared = (sys.intern(pair[0]), sys.intern(pair[1]))
                pairs[shared] = shared
            out.append(shared)
        return tuple.__new__(Labels, out)

    def forget_unused(self, in_use: Iterable[tuple[str, str]]) -> None:
        """Keep only the pairs still referenced (called after series are collected)."""
        keep = set(in_use)
        self._pairs = {p: p for p in self._pairs if p in keep}

    def __len__(self) -> int:
        return len(self._pairs)


class MemPostings:
    """A mutable in-memory index, as the head keeps it."""

    __slots__ = ("_all", "_index")

    def __init__(self) -> None:
        self._index: dict[str, dict[str, BitMap]] = {}
        self._all = BitMap()

    def add(self, ref: int, labels: Labels) -> None:
        self._all.add(ref)
        index = self._index
        for name, value in labels:
            by_value = index.get(name)
            if by_value is None:
                by_value = index[name] = {}
            bm = by_value.get(value)
            if bm is None:
                by_value[value] = BitMap((ref,))
            else:
                bm.add(ref)

    def delete(self, ref: int, labels: Labels) -> None:
        self._all.discard(ref)
        for name, value in labels:
            by_value = self._index.get(name)
            if by_value is None:
                continue
            bm = by_value.get(value)
            if bm is None:
                continue
            bm.discard(ref)
            if not bm:
                del by_value[value]
                if not by_value:
                    del self._index[name]

    def all_postings(self) -> BitMap:
        return self._all

    def postings(self, name: str, value: str) -> BitMap:
        by_value = self._index.get(name)
        if by_value is None:
            return _EMPTY
        return by_value.get(value, _EMPTY)

    def values(self, name: str) -> Iterable[str]:
        return list(self._index.get(name, ()))

    def names(self) -> list[str]:
        return sorted(self._index)

    def label_names(self, refs: BitMap | None = None) -> list[str]:
        """Names used by any series, or by any series in ``refs``."""
        if refs is None:
            return sorted(self._index)
        return sorted(
            name
            for name, by_value in self._index.items()
            if any(not bm.isdisjoint(refs) for bm in by_value.values())
        )

    def label_values(self, name: str, refs: BitMap | None = None) -> list[str]:
        by_value = self._index.get(name)
        if not by_value:
            return []
        if refs is None:
            return sorted(by_value)
        return sorted(v for v, bm in by_value.items() if not bm.isdisjoint(refs))

    def __len__(self) -> int:
        return len(self._all)


_EMPTY = BitMap()
