"""Comments to feature units, one raw whitespace-separated token at a time, cached.

The hot path of scoring. ``str.split`` (in C) cuts a comment into raw tokens; each raw
token is looked up in a dictionary that gives its unit id in a ``UnitTable`` (its
normalised feature ids, and the edge punctuation to leave out of its span). Unit *i* of a
comment is then its raw token *i*, so the offsets of every unit of a batch come from one
vectorised scan of the texts (``unit_bounds``), and only for batches that get spans. A
comment whose lone letters must be joined across tokens ("k u r w a") takes the
normaliser's offset-keeping path instead, one unit per word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from typing import Final

import numpy as np
from numpy.typing import NDArray

from moderation.model.features import TextFeaturizer
from moderation.model.unit_table import EMPTY, SINGLE, TableView, UnitTable
from moderation.text.normalize import Normalizer

_RAW: Final = re.compile(r"\S+")
#: Code points up to the last one ``str.isspace`` accepts (U+3000), flagged when they are
#: whitespace: ``str.split()`` cuts exactly there.
_SPACE: Final = np.asarray([chr(c).isspace() for c in range(0x3001)], dtype=bool)


@dataclass(slots=True)
class Encoded:
    """A comment (or its head and tail windows) as unit ids, with a way back to its offsets."""

    units: list[int]
    parts: tuple[tuple[str, int], ...]  # (text, offset of that text in the original)
    per_word: bool  # units are normalised words (spaced letters joined), not raw tokens
    has_words: bool  # at least one unit has a word; otherwise there is nothing to score

    @property
    def raw_tokens(self) -> bool:
        """Unit *i* is raw token *i* of the comment (one part, one unit per raw token)."""
        return not self.per_word and len(self.parts) == 1

    def offsets(self, view: TableView, normalizer: Normalizer) -> list[tuple[int, int]]:
        """(begin, end) in the original text of every unit, in order, one at a time.

        The general path, for windows and joined letters; ``unit_bounds`` does the common
        case for a whole batch at once.
        """
        out: list[tuple[int, int]] = []
        position = 0
        for text, shift in self.parts:
            if self.per_word:
                out.extend((t.begin + shift, t.end + shift) for t in normalizer.tokens(text))
                continue
            for match in _RAW.finditer(text):
                unit = self.units[position]
                position += 1
                start, stop = match.span()
                begin, end = start + int(view.lead[unit]), stop - int(view.trail[unit])
                if end <= begin:  # a raw token of pure punctuation: point at all of it
                    begin, end = start, stop
                out.append((begin + shift, end + shift))
        return out


@dataclass
class _Generation:
    """One table and the dictionaries that point into it (raw tokens by "maps glyphs"
    mode, and words for the per-word path); replaced whole when full."""

    table: UnitTable
    raw: tuple[dict[str, int], dict[str, int]] = field(default_factory=lambda: ({}, {}))
    words: dict[str, int] = field(default_factory=dict)


class UnitCache:
    """Raw token -> unit id for one language model (its vocabulary), bounded in size.

    ``weights`` (n_features x k), when given, are the columns whose per-unit contributions
    the table keeps for explanation spans.
    """

    def __init__(
        self,
        normalizer: Normalizer,
        featurizer: TextFeaturizer,
        weights: NDArray[np.float32] | None = None,
        size: int = 100_000,
    ) -> None:
        self.normalizer = normalizer
        self.featurizer = featurizer
        self.weights = weights
        self.size = size
        self._generation = _Generation(UnitTable(featurizer, weights))

    def encode_batch(
        self, batch: Sequence[Sequence[tuple[str, int]]]
    ) -> tuple[list[Encoded], TableView]:
        """Units of each comment (its parts: the whole text, or a head and a tail window),
        and the table view their ids point into."""
        generation = self._generation
        if len(generation.table) >= self.size:
            # Start afresh between batches only: ids handed out in this batch must stay valid.
            generation = self._generation = _Generation(UnitTable(self.featurizer, self.weights))
        per_comment = [self._raw_units(generation, parts) for parts in batch]
        view = generation.table.view()
        lengths = np.fromiter(map(len, per_comment), dtype=np.int64, count=len(per_comment))
        kinds = view.kind[np.fromiter(chain.from_iterable(per_comment), np.int64, lengths.sum())]
        spaced, has_words = _batch_checks(kinds, lengths)
        encoded = [
            Encoded(units, tuple(parts), False, words)
            for units, parts, words in zip(per_comment, batch, has_words.tolist(), strict=True)
        ]
        for doc in np.flatnonzero(spaced).tolist():
            encoded[doc] = self._per_word(generation, batch[doc])
        if spaced.any():
            view = generation.table.view()  # the per-word path may have added units
        return encoded, view

    def _raw_units(self, generation: _Generation, parts: Sequence[tuple[str, int]]) -> list[int]:
        """Unit ids of the raw tokens of every part, in order."""
        units: list[int] = []
        for text, _ in parts:
            mode = Normalizer.maps_glyphs(text)
            cache = generation.raw[mode]
            raws = text.split()
            found = list(map(cache.get, raws))
            if None in found:  # C-level scan; the loop below runs only for new tokens
                for i, unit in enumerate(found):
                    if unit is None:
                        found[i] = self._add(generation, raws[i], mode)
            units.extend(found)  # type: ignore[arg-type]
        return units

    def _add(self, generation: _Generation, raw: str, mode: bool) -> int:
        words, lead, trail, single_letter = self.normalizer.cached_raw(raw, mode)
        unit = generation.table.add(words, lead, trail, single_letter)
        generation.raw[mode][raw] = unit
        return unit

    def _per_word(self, generation: _Generation, parts: Sequence[tuple[str, int]]) -> Encoded:
        known = generation.words
        units: list[int] = []
        for text, _ in parts:
            for word in self.normalizer.words(text):
                unit = known.get(word)
                if unit is None:
                    unit = known[word] = generation.table.add((word,))
                units.append(unit)
        return Encoded(units, tuple(parts), True, bool(units))


def _batch_checks(
    kinds: NDArray[np.int8], lengths: NDArray[np.int64]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Per comment: three or more lone letters in a row ("k u r w a", tokens without a word
    do not break a run), so its letters must be joined; and whether it has any word."""
    doc = np.repeat(np.arange(lengths.size), lengths)
    worded = kinds != EMPTY
    has_words = np.bincount(doc[worded], minlength=lengths.size) > 0
    single = kinds[worded] == SINGLE
    doc = doc[worded]
    run = single[:-2] & single[1:-1] & single[2:] & (doc[:-2] == doc[2:])
    spaced = np.zeros(lengths.size, dtype=bool)
    spaced[doc[:-2][run]] = True
    return spaced, has_words


def raw_token_bounds(
    texts: Sequence[str],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Where ``str.split()`` cuts each text, for a whole batch in one vectorised pass.

    Returns the begin and end of every raw token (offsets into its own text), texts one
    after another, and how many raw tokens each text has.
    """
    joined = "\n".join(texts)  # a separator that is whitespace: no token crosses texts
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    space = _SPACE[np.minimum(codes, len(_SPACE) - 1)] & (codes < len(_SPACE))
    edges = np.diff(np.concatenate(([True], space, [True])).view(np.int8))
    begins = np.flatnonzero(edges == -1)  # space -> token
    ends = np.flatnonzero(edges == 1)
    text_starts = np.zeros(len(texts), dtype=np.int64)
    if len(texts) > 1:
        np.cumsum([len(text) + 1 for text in texts[:-1]], out=text_starts[1:])
    owner = np.searchsorted(text_starts, begins, side="right") - 1
    shift = text_starts[owner]
    counts = np.bincount(owner, minlength=len(texts))
    return begins - shift, ends - shift, counts


def unit_bounds(
    encoded: Sequence[Encoded], view: TableView, ids: NDArray[np.int64], normalizer: Normalizer
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """(begin, end) in the original text of every unit of a batch (``ids``, comments in
    order); -1 where units and offsets disagree, so that no span is better than a wrong one.
    """
    lengths = np.fromiter((len(e.units) for e in encoded), dtype=np.int64, count=len(encoded))
    fast = np.fromiter((e.raw_tokens for e in encoded), dtype=bool, count=len(encoded))
    begin = np.full(ids.size, -1, dtype=np.int64)
    end = np.full(ids.size, -1, dtype=np.int64)
    first_unit = np.cumsum(lengths) - lengths
    texts = [e.parts[0][0] if ok else "" for e, ok in zip(encoded, fast, strict=True)]
    starts, stops, counts = raw_token_bounds(texts)
    fast &= counts == lengths  # always true unless split() and the scan disagree
    first_token = np.cumsum(counts) - counts
    unit_fast = np.repeat(fast, lengths)
    token = np.arange(ids.size) - np.repeat(first_unit - first_token, lengths)
    token = token[unit_fast]
    start, stop = starts[token], stops[token]
    fast_ids = ids[unit_fast]
    b = start + view.lead[fast_ids]
    e = stop - view.trail[fast_ids]
    punctuation_only = e <= b  # a raw token of pure punctuation: point at all of it
    b[punctuation_only] = start[punctuation_only]
    e[punctuation_only] = stop[punctuation_only]
    begin[unit_fast] = b
    end[unit_fast] = e
    for doc in np.flatnonzero(~fast).tolist():
        offsets = encoded[doc].offsets(view, normalizer)
        if len(offsets) != lengths[doc]:
            continue
        first = int(first_unit[doc])
        for i, (b_i, e_i) in enumerate(offsets):
            begin[first + i], end[first + i] = b_i, e_i
    return begin, end
