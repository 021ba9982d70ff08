"""Comments to feature units, one raw whitespace-separated token at a time, cached.

The hot path of scoring. ``str.split`` (in C) cuts a comment into raw tokens; each raw
token is looked up in a cache that holds its normalised feature ids and the edge
punctuation to leave out of its span. Offsets are worked out only for comments that get
explanation spans. A comment whose lone letters must be joined across tokens ("k u r w a")
takes the normaliser's offset-keeping path instead, unit per word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from typing import Final, overload

from moderation.model.features import TextFeaturizer, Unit
from moderation.text.normalize import Normalizer

_RAW: Final = re.compile(r"\S+")
_NORMAL, _SINGLE, _EMPTY = 0, 1, 2
_UNIT: Final = itemgetter(0)
_KIND: Final = itemgetter(1)

#: (unit, kind, lead, trail) of one raw token
_Entry = tuple[Unit, int, int, int]


@dataclass(slots=True)
class Encoded:
    """A comment (or its windows) as feature units, with a way back to its offsets."""

    units: list[Unit]
    parts: tuple[tuple[str, int], ...]  # (text, offset of that text in the original)
    entries: list[list[_Entry]] | None  # per part; None when units are per word (slow path)
    normalizer: Normalizer

    def offsets(self, upto: int | None = None) -> Sequence[tuple[int, int]]:
        """(begin, end) in the original text of every unit, in order; with ``upto``, only
        as far as unit ``upto`` (spans rarely need the end of a long comment)."""
        if self.entries is not None and len(self.parts) == 1:
            entries = self.entries[0]
            if _EMPTY not in list(map(_KIND, entries)):  # unit i is raw token i
                return _TokenOffsets(self.parts[0], entries, upto)
        out: list[tuple[int, int]] = []
        for number, (text, shift) in enumerate(self.parts):
            if self.entries is None:
                out.extend((t.begin + shift, t.end + shift) for t in self.normalizer.tokens(text))
                continue
            for match, (_, kind, lead, trail) in zip(
                _RAW.finditer(text), self.entries[number], strict=True
            ):
                if kind == _EMPTY:
                    continue
                begin, end = match.start() + lead, match.end() - trail
                if end <= begin:  # a raw token of pure punctuation: point at all of it
                    begin, end = match.start(), match.end()
                out.append((begin + shift, end + shift))
                if upto is not None and len(out) > upto:
                    return out
        return out


class _TokenOffsets(Sequence[tuple[int, int]]):
    """Offsets of a comment whose every raw token is one unit, trimmed only when read.

    Explanations read a handful of positions, so the raw tokens are found in C
    (``finditer``) and their edge punctuation is trimmed for the positions asked for.
    """

    __slots__ = ("_entries", "_shift", "_spans")

    def __init__(self, part: tuple[str, int], entries: list[_Entry], upto: int | None) -> None:
        text, self._shift = part
        self._entries = entries
        count = len(entries) if upto is None else min(len(entries), upto + 1)
        self._spans = [match.span() for match in islice(_RAW.finditer(text), count)]

    def __len__(self) -> int:
        return len(self._spans)

    @overload
    def __getitem__(self, position: int) -> tuple[int, int]: ...
    @overload
    def __getitem__(self, position: slice) -> Sequence[tuple[int, int]]: ...
    def __getitem__(self, position: int | slice) -> tuple[int, int] | Sequence[tuple[int, int]]:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(len(self)))]
        start, stop = self._spans[position]
        _, _, lead, trail = self._entries[position]
        begin, end = start + lead, stop - trail
        if end <= begin:  # a raw token of pure punctuation: point at all of it
            begin, end = start, stop
        return begin + self._shift, end + self._shift


class UnitCache:
    """Raw token -> feature units for one language model (its vocabulary), bounded in size."""

    def __init__(
        self, normalizer: Normalizer, featurizer: TextFeaturizer, size: int = 100_000
    ) -> None:
        self.normalizer = normalizer
        self.featurizer = featurizer
        self.size = size
        self._caches: tuple[dict[str, _Entry], dict[str, _Entry]] = ({}, {})

    def encode(self, parts: Sequence[tuple[str, int]]) -> Encoded:
        """Units of the given parts of one comment (one part, or a head and a tail window)."""
        all_entries: list[list[_Entry]] = []
        for text, _ in parts:
            entries = self._entries(text)
            if entries is None:
                return self._per_word(parts)
            all_entries.append(entries)
        units: list[Unit] = []
        for entries in all_entries:
            kinds = list(map(_KIND, entries))
            if _EMPTY in kinds:
                units.extend(entry[0] for entry in entries if entry[1] != _EMPTY)
            else:
                units.extend(map(_UNIT, entries))
        return Encoded(units, tuple(parts), all_entries, self.normalizer)

    def _entries(self, text: str) -> list[_Entry] | None:
        mode = Normalizer.maps_glyphs(text)
        cache = self._caches[mode]
        raws = text.split()
        found = list(map(cache.get, raws))
        if None in found:  # C-level scan; the loop below runs only for new tokens
            for i, entry in enumerate(found):
                if entry is None:
                    found[i] = self._entry(raws[i], mode)
        entries: list[_Entry] = found  # type: ignore[assignment]
        if list(map(_KIND, entries)).count(_SINGLE) >= 3 and _has_spaced_run(entries):
            return None
        return entries

    def _entry(self, raw: str, mode: bool) -> _Entry:
        result = self.normalizer.cached_raw(raw, mode)
        kind = _EMPTY if not result.words else _SINGLE if result.single_letter else _NORMAL
        entry = (self.featurizer.unit(result.words), kind, result.lead, result.trail)
        cache = self._caches[mode]
        if len(cache) >= self.size:
            cache.clear()
        cache[raw] = entry
        return entry

    def _per_word(self, parts: Sequence[tuple[str, int]]) -> Encoded:
        units = [
            self.featurizer.word_unit(word)
            for text, _ in parts
            for word in self.normalizer.words(text)
        ]
        return Encoded(units, tuple(parts), None, self.normalizer)


def _has_spaced_run(entries: Sequence[_Entry]) -> bool:
    """Three or more single-letter tokens in a row (empty tokens do not break a run)."""
    run = 0
    for _, kind, _, _ in entries:
        if kind == _SINGLE:
            run += 1
            if run >= 3:
                return True
        elif kind == _NORMAL:
            run = 0
    return False
