"""Comments to feature units, one raw whitespace-separated token at a time, cached.

The hot path of scoring. One vectorised scan of a batch's code points cuts its comments
into raw tokens where ``str.split`` would; each raw token's unit id in a ``UnitTable`` (its
normalised feature ids, and the edge punctuation to leave out of its span) comes from a
dictionary, or for large batches from a ``TokenIndex`` over the code points, which makes no
string per token. Unit *i* of a comment is then its raw token *i*, so the offsets of every
unit of a batch come from the same scan (``EncodedBatch.bounds``). A comment whose lone letters must
be joined across tokens ("k u r w a") takes the normaliser's offset-keeping path instead,
one unit per word.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import numpy as np
from numpy.typing import NDArray

from moderation.model.features import TextFeaturizer
from moderation.model.token_index import TokenIndex
from moderation.model.unit_table import EMPTY, SINGLE, TableView, UnitTable
from moderation.text.normalize import Normalizer

_RAW: Final = re.compile(r"\S+")
#: Code points up to the last one ``str.isspace`` accepts (U+3000), flagged when they are
#: whitespace: ``str.split()`` cuts exactly there.
_SPACE: Final = np.asarray([chr(c).isspace() for c in range(0x3001)], dtype=bool)
#: Raw tokens in a batch from which they are looked up in the token index (about seven
#: average comments); below, one dictionary lookup each is cheaper.
INDEX_MIN_TOKENS: Final = 256
#: Cyrillic or Greek letters: only a comment with some may need look-alikes mapped.
_GLYPHS: Final = re.compile("[\u0370-\u03ff\u0400-\u04ff]")


@dataclass(slots=True)
class _Single:
    """A comment encoded on its own: windows, mapped look-alike letters, or joined letters."""

    units: list[int]
    parts: tuple[tuple[str, int], ...]  # (text, offset of that text in the original)
    per_word: bool  # units are normalised words (spaced letters joined), not raw tokens

    def offsets(self, view: TableView, normalizer: Normalizer) -> list[tuple[int, int]]:
        """(begin, end) in the original text of every unit, in order."""
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


@dataclass(slots=True)
class EncodedBatch:
    """The comments of a batch as unit ids, comments one after another.

    Most comments are *plain*: one part, unit *i* is raw token *i*, and the bounds of their
    raw tokens come from the same scan that counted them. The others (``singles``) were
    encoded one at a time and find their offsets the slow way.
    """

    ids: NDArray[np.int64]
    lengths: NDArray[np.int64]  # units per comment
    has_words: NDArray[np.bool_]  # a comment without any word has nothing to score
    view: TableView
    token_begin: NDArray[np.int64]  # raw tokens of the plain comments, in order
    token_end: NDArray[np.int64]
    token_counts: NDArray[np.int64]  # per comment (0 for the others)
    singles: dict[int, _Single]

    def bounds(self, normalizer: Normalizer) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """(begin, end) in the original text of every unit; -1 where units and offsets
        disagree, so that no span is better than a wrong one."""
        ids, lengths = self.ids, self.lengths
        begin = np.full(ids.size, -1, dtype=np.int64)
        end = np.full(ids.size, -1, dtype=np.int64)
        first_unit = np.cumsum(lengths) - lengths
        plain = np.ones(lengths.size, dtype=bool)
        plain[list(self.singles)] = False
        first_token = np.cumsum(self.token_counts) - self.token_counts
        unit_plain = np.repeat(plain, lengths)
        token = np.arange(ids.size) - np.repeat(first_unit - first_token, lengths)
        token = token[unit_plain]
        start, stop = self.token_begin[token], self.token_end[token]
        plain_ids = ids[unit_plain]
        b = start + self.view.lead[plain_ids]
        e = stop - self.view.trail[plain_ids]
        punctuation_only = e <= b  # a raw token of pure punctuation: point at all of it
        b[punctuation_only] = start[punctuation_only]
        e[punctuation_only] = stop[punctuation_only]
        begin[unit_plain] = b
        end[unit_plain] = e
        for doc, single in self.singles.items():
            offsets = single.offsets(self.view, normalizer)
            if len(offsets) != lengths[doc]:
                continue
            first = int(first_unit[doc])
            for i, (b_i, e_i) in enumerate(offsets):
                begin[first + i], end[first + i] = b_i, e_i
        return begin, end


@dataclass
class _Generation:
    """One table and the dictionaries that point into it (raw tokens by "maps glyphs"
    mode, and words for the per-word path); replaced whole when full."""

    table: UnitTable
    raw: tuple[dict[str, int], dict[str, int]] = field(default_factory=lambda: ({}, {}))
    index: TokenIndex = field(default_factory=TokenIndex)  # the plain raw tokens of ``raw``
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

    def encode_batch(self, batch: Sequence[Sequence[tuple[str, int]]]) -> EncodedBatch:
        """Units of each comment (its parts: the whole text, or a head and a tail window).

        The plain comments of the batch are joined and cut by one NumPy scan, and their raw
        tokens looked up in the token index (``TokenIndex``): no Python per comment, nor
        per known token.
        """
        generation = self._generation
        if len(generation.table) >= self.size:
            # Start afresh between batches only: ids handed out in this batch must stay valid.
            generation = self._generation = _Generation(UnitTable(self.featurizer, self.weights))
        plain_texts = [parts[0][0] if len(parts) == 1 else "" for parts in batch]
        glyphs = _GLYPHS.search("\n".join(plain_texts)) is not None
        if glyphs:  # a few comments may need look-alike letters mapped: they go one by one
            plain_texts = [t if not Normalizer.maps_glyphs(t) else "" for t in plain_texts]
        scan = _scan(plain_texts)
        ids = self._plain_units(generation, scan)
        counts = scan.counts
        lengths = counts.copy()
        singles: dict[int, _Single] = {}
        for doc, parts in enumerate(batch):
            if not plain_texts[doc]:
                singles[doc] = _Single(self._raw_units(generation, parts), tuple(parts), False)
        if singles:
            ids = _splice(ids, lengths, singles)
        view = generation.table.view()
        spaced, has_words = _batch_checks(view.kind[ids], lengths)
        if spaced.any():
            for doc in np.flatnonzero(spaced).tolist():
                singles[doc] = self._per_word(generation, batch[doc])
            ids = _splice(ids, lengths, singles)
            view = generation.table.view()  # the per-word path may have added units
            _, has_words = _batch_checks(view.kind[ids], lengths)
        return EncodedBatch(
            ids,
            lengths,
            has_words,
            view,
            scan.begins - scan.shift,
            scan.ends - scan.shift,
            counts,
            singles,
        )

    def _plain_units(self, generation: _Generation, scan: _Scan) -> NDArray[np.int64]:
        """Unit ids of the raw tokens of the plain comments, in order: from the token index
        (no string made), and for the tokens it does not hold, from the dictionary, which
        also stores the new ones (together, once each, in order of first appearance).
        A request's few comments go to the dictionary alone: the index's NumPy calls cost
        more than a few hundred dictionary lookups."""
        if scan.begins.size < INDEX_MIN_TOKENS:
            raws = scan.joined.split()
            if len(raws) != scan.begins.size:  # cannot happen while _SPACE matches isspace
                raise AssertionError("the whitespace scan and str.split disagree")
            return self._dict_units(generation, raws)
        index = generation.index
        ids, hashes = index.lookup(scan.codes, scan.begins, scan.ends)
        missing = np.flatnonzero(ids < 0)
        if not missing.size:
            return ids
        joined = scan.joined
        spans = zip(scan.begins[missing].tolist(), scan.ends[missing].tolist(), strict=True)
        raws = [joined[begin:end] for begin, end in spans]
        ids[missing] = self._dict_units(generation, raws)
        first: dict[str, int] = {}
        for position, raw in enumerate(raws):
            first.setdefault(raw, position)
        pick = missing[list(first.values())]
        index.add(scan.codes, scan.begins[pick], scan.ends[pick], hashes[pick], ids[pick])
        return ids

    def _dict_units(self, generation: _Generation, raws: list[str]) -> NDArray[np.int64]:
        """Unit ids of plain raw tokens from the dictionary; the new ones are stored
        together, once each, in order of first appearance."""
        cache = generation.raw[False]
        found = list(map(cache.get, raws))
        if None in found:  # C-level scan; new tokens are added together, once each
            new = list(dict.fromkeys(r for r, u in zip(raws, found, strict=True) if u is None))
            self._add_many(generation, new, False)
            found = list(map(cache.get, raws))
        return np.asarray(found, dtype=np.int64)

    def _raw_units(self, generation: _Generation, parts: Sequence[tuple[str, int]]) -> list[int]:
        """Unit ids of the raw tokens of every part of one comment, in order."""
        units: list[int] = []
        for text, _ in parts:
            mode = Normalizer.maps_glyphs(text)
            cache = generation.raw[mode]
            for raw in text.split():
                unit = cache.get(raw)
                units.append(unit if unit is not None else self._add(generation, raw, mode))
        return units

    def _add(self, generation: _Generation, raw: str, mode: bool) -> int:
        return self._add_many(generation, [raw], mode)[0]

    def _add_many(self, generation: _Generation, raws: Sequence[str], mode: bool) -> range:
        # The normaliser's cache would only duplicate ours: each raw token is normalised once.
        entries = [self.normalizer.raw(raw, mode) for raw in raws]
        units = generation.table.add_many(entries)
        generation.raw[mode].update(zip(raws, units, strict=True))
        return units

    def _per_word(self, generation: _Generation, parts: Sequence[tuple[str, int]]) -> _Single:
        known = generation.words
        units: list[int] = []
        for text, _ in parts:
            for word in self.normalizer.words(text):
                unit = known.get(word)
                if unit is None:
                    unit = known[word] = generation.table.add((word,))
                units.append(unit)
        return _Single(units, tuple(parts), True)


def _splice(
    ids: NDArray[np.int64], lengths: NDArray[np.int64], singles: dict[int, _Single]
) -> NDArray[np.int64]:
    """Put each single comment's units in its place (``lengths`` is updated in place)."""
    is_single = np.zeros(lengths.size, dtype=bool)
    is_single[list(singles)] = True
    kept = ids[~np.repeat(is_single, lengths)]
    for doc, single in singles.items():
        lengths[doc] = len(single.units)
    out = np.empty(int(lengths.sum()), dtype=np.int64)
    out[~np.repeat(is_single, lengths)] = kept
    first = np.cumsum(lengths) - lengths
    for doc, single in singles.items():
        out[first[doc] : first[doc] + lengths[doc]] = single.units
    return out


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


@dataclass(frozen=True, slots=True)
class _Scan:
    """The texts of a batch joined by a newline, their code points, and where ``str.split()``
    cuts them: begin and end of every raw token in ``joined``, the offset of its text there,
    and how many raw tokens each text has."""

    joined: str
    codes: NDArray[np.uint32]
    begins: NDArray[np.int64]
    ends: NDArray[np.int64]
    shift: NDArray[np.int64]
    counts: NDArray[np.int64]


def _scan(texts: Sequence[str]) -> _Scan:
    """Raw tokens of ``texts``, found with one vectorised pass (see ``_Scan``)."""
    joined = "\n".join(texts)  # a separator that is whitespace: no token crosses texts
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    space = _SPACE[np.minimum(codes, len(_SPACE) - 1)] & (codes < len(_SPACE))
    edges = np.diff(np.concatenate(([True], space, [True])).view(np.int8))
    begins = np.flatnonzero(edges == -1)  # space -> token
    ends = np.flatnonzero(edges == 1)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    text_starts = np.cumsum(lengths + 1) - (lengths + 1)
    owner = np.searchsorted(text_starts, begins, side="right") - 1
    counts = np.bincount(owner, minlength=len(texts))
    return _Scan(joined, codes, begins, ends, text_starts[owner], counts)


def raw_token_bounds(
    texts: Sequence[str],
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Where ``str.split()`` cuts each text, for a whole batch in one vectorised pass: begin
    and end of every raw token (offsets into its own text, texts one after another), and
    how many raw tokens each text has."""
    scan = _scan(texts)
    return scan.begins - scan.shift, scan.ends - scan.shift, scan.counts
