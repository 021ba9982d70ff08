"""Distinct feature units in flat arrays, so that a batch is gathered by NumPy, not Python.

A *unit* is one raw token's words as feature ids: a unigram column per word (-1 when the word
is not in the vocabulary) and the character n-gram columns of all its words. Comments repeat
the same tokens endlessly, so each distinct unit is stored once, under an integer id, in
CSR-like arrays; a batch of comments is then an array of unit ids, and its features come from
two vectorised gathers. Keeping each unit as its own pair of small arrays (as before) made
Python touch every unit of every comment several times per batch: a third of scoring time.

The table can also hold, per unit, what its features add to each column of a weight matrix
before the document's normalisation (``parts``): the explanation spans of a batch are then a
gather and a scaling instead of a product over every n-gram.

Units are appended, never changed, so a ``TableView`` taken after a batch was encoded stays
valid while other threads keep appending.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

if TYPE_CHECKING:
    from moderation.model.features import TextFeaturizer

#: Kinds of unit: ordinary; one lone letter ("k", "a,": maybe part of "k u r w a"); no word.
NORMAL, SINGLE, EMPTY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class TableView:
    """The first ``size`` units of a table, frozen: safe to read while the table grows."""

    word_ptr: NDArray[np.int64]  # unit i's unigrams are words[word_ptr[i]:word_ptr[i + 1]]
    words: NDArray[np.int64]
    char_ptr: NDArray[np.int64]
    chars: NDArray[np.int32]
    lead: NDArray[np.int32]  # edge punctuation to leave out of a unit's span, each side
    trail: NDArray[np.int32]
    kind: NDArray[np.int8]  # NORMAL, SINGLE (a lone letter) or EMPTY (no word: "-", emoji)
    word_parts: NDArray[np.float32] | None  # (size, k): unigrams' weight, unnormalised
    char_parts: NDArray[np.float32] | None  # (size, k): character n-grams' weight
    weights: NDArray[np.float32] | None  # the matrix the parts were computed for

    def unigrams(self, ids: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Unigram columns of the units ``ids`` in order, and how many each unit has."""
        return _gather(self.word_ptr, self.words, ids)

    def char_columns(self, ids: NDArray[np.int64]) -> tuple[NDArray[np.int32], NDArray[np.int64]]:
        """Character n-gram columns of the units ``ids`` in order, and how many each has."""
        return _gather(self.char_ptr, self.chars, ids)


def _gather(
    ptr: NDArray[np.int64], flat: NDArray[np.int64] | NDArray[np.int32], ids: NDArray[np.int64]
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    starts = ptr[ids]
    sizes = ptr[ids + 1] - starts
    ends = np.cumsum(sizes)
    # position k of the output reads flat[starts[unit] + (k - first output of unit)]
    shift = np.repeat(starts - (ends - sizes), sizes)
    shift += np.arange(int(ends[-1]) if ends.size else 0)
    return flat[shift], sizes


class Growing:
    """A 1-D or 2-D array with spare capacity, doubled when full (amortised O(1) append)."""

    __slots__ = ("data", "size")

    def __init__(self, dtype: type, width: int | None = None, capacity: int = 1024) -> None:
        shape = (capacity,) if width is None else (capacity, width)
        self.data: NDArray[Any] = np.zeros(shape, dtype=dtype)
        self.size = 0

    def extend(self, values: NDArray[Any]) -> None:
        end = self.size + len(values)
        if end > len(self.data):
            bigger = np.zeros((max(end, 2 * len(self.data)), *self.data.shape[1:]), self.data.dtype)
            bigger[: self.size] = self.data[: self.size]
            self.data = bigger  # readers holding the old array keep a valid copy
        self.data[self.size : end] = values
        self.size = end

    def view(self) -> NDArray[Any]:
        return self.data[: self.size]


class UnitTable:
    """Append-only store of distinct units for one featurizer; ``add`` returns a unit id.

    With ``weights`` (n_features x k), each unit's contribution to every column is computed
    once, when it is added. Thread-safe: appends take a lock; views are immutable snapshots.
    """

    def __init__(
        self, featurizer: TextFeaturizer, weights: NDArray[np.float32] | None = None
    ) -> None:
        self.featurizer = featurizer
        self.weights = weights
        self._lock = threading.Lock()
        self._word_ptr = Growing(np.int64)
        self._word_ptr.extend(np.zeros(1, dtype=np.int64))
        self._words = Growing(np.int64, capacity=4096)
        self._char_ptr = Growing(np.int64)
        self._char_ptr.extend(np.zeros(1, dtype=np.int64))
        self._chars = Growing(np.int32, capacity=32_768)
        self._lead = Growing(np.int32)
        self._trail = Growing(np.int32)
        self._kind = Growing(np.int8)
        k = 0 if weights is None else weights.shape[1]
        self._word_parts = Growing(np.float32, width=k)
        self._char_parts = Growing(np.float32, width=k)
        self._count = 0
        #: word -> a unit of that word alone, whose feature ids other tokens can copy
        self._word_units: dict[str, int] = {}

    def __len__(self) -> int:
        return self._count

    def add(
        self, words: Sequence[str], lead: int = 0, trail: int = 0, single_letter: bool = False
    ) -> int:
        """Store the unit of ``words`` (one raw token's words; may be empty) and return its id."""
        return self.add_many([(tuple(words), lead, trail, single_letter)])[0]

    def add_many(self, entries: Sequence[tuple[tuple[str, ...], int, int, bool]]) -> range:
        """Store several units at once, each given as the normaliser's (words, lead, trail,
        lone letter) of a raw token; returns their ids. A batch's new tokens are added in
        one go: NumPy's fixed cost per call would otherwise dominate a cold start."""
        if not entries:
            return range(self._count, self._count)
        units = self._units([words for words, _, _, _ in entries])
        unigrams = [unit[0] for unit in units]
        chars = [unit[1] for unit in units]
        word_sizes = np.fromiter(map(len, unigrams), dtype=np.int64, count=len(units))
        char_sizes = np.fromiter(map(len, chars), dtype=np.int64, count=len(units))
        flat_words = np.concatenate(unigrams)
        flat_chars = np.concatenate(chars).astype(np.int32)
        kinds = np.fromiter(
            (
                EMPTY if not words else SINGLE if single else NORMAL
                for words, _, _, single in entries
            ),
            dtype=np.int8,
            count=len(entries),
        )
        leads = np.fromiter((e[1] for e in entries), dtype=np.int32, count=len(entries))
        trails = np.fromiter((e[2] for e in entries), dtype=np.int32, count=len(entries))
        parts = None
        if self.weights is not None:
            parts = self._parts(flat_words, word_sizes, flat_chars, char_sizes)
        with self._lock:
            self._word_ptr.extend(self._words.size + np.cumsum(word_sizes))
            self._words.extend(flat_words)
            self._char_ptr.extend(self._chars.size + np.cumsum(char_sizes))
            self._chars.extend(flat_chars)
            self._lead.extend(leads)
            self._trail.extend(trails)
            self._kind.extend(kinds)
            if parts is not None:
                self._word_parts.extend(parts[0])
                self._char_parts.extend(parts[1])
            first = self._count
            self._count += len(entries)
            for unit_id, (words, _, _, _) in enumerate(entries, first):
                if len(words) == 1:
                    self._word_units.setdefault(words[0], unit_id)
        return range(first, first + len(entries))

    def _units(
        self, runs: Sequence[tuple[str, ...]]
    ) -> list[tuple[NDArray[np.int64], NDArray[Any]]]:
        """Feature ids of each run of words. A word already stored as a one-word unit is
        copied from the table: "debil", "debil," and "Debil!" are three raw tokens but one
        word, and its character n-grams (a dictionary lookup each) are worked out once."""
        with self._lock:
            word_ptr, words = self._word_ptr.data, self._words.data
            char_ptr, chars = self._char_ptr.data, self._chars.data
            count = self._count  # units another thread adds later are not in these arrays
        known = self._word_units
        out: list[tuple[NDArray[np.int64], NDArray[Any]]] = []
        for run in runs:
            stored = [known.get(word, count) for word in run]
            if not run or max(stored) >= count:
                out.append(self.featurizer.unit(run))
                continue
            ids = stored
            if len(ids) == 1:
                unit = ids[0]
                out.append(
                    (
                        words[word_ptr[unit] : word_ptr[unit + 1]],
                        chars[char_ptr[unit] : char_ptr[unit + 1]],
                    )
                )
            else:
                out.append(
                    (
                        np.concatenate([words[word_ptr[u] : word_ptr[u + 1]] for u in ids]),
                        np.concatenate([chars[char_ptr[u] : char_ptr[u + 1]] for u in ids]),
                    )
                )
        return out

    def view(self) -> TableView:
        """A snapshot of every unit added so far."""
        with self._lock:
            has_parts = self.weights is not None
            return TableView(
                self._word_ptr.view(),
                self._words.view(),
                self._char_ptr.view(),
                self._chars.view(),
                self._lead.view(),
                self._trail.view(),
                self._kind.view(),
                self._word_parts.view() if has_parts else None,
                self._char_parts.view() if has_parts else None,
                self.weights,
            )

    def _parts(
        self,
        unigrams: NDArray[np.int64],
        word_sizes: NDArray[np.int64],
        chars: NDArray[np.int32],
        char_sizes: NDArray[np.int64],
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Per unit: IDF-weighted sums of the weight rows of its unigrams, and of its n-grams."""
        assert self.weights is not None
        f = self.featurizer
        n_units = word_sizes.size
        if chars.size <= _SMALL_ADD:
            # The few new tokens of a single request: gathered weight rows summed per unit,
            # without scipy's fixed cost (a tenth of a millisecond per matrix).
            return (
                _sum_per_unit(word_sizes, unigrams, f.word_idf_, self.weights, 0),
                _sum_per_unit(char_sizes, chars, f.char_idf_, self.weights, f.n_word_features_),
            )
        word_unit = np.repeat(np.arange(n_units), word_sizes)
        known = unigrams >= 0
        words = sp.csr_matrix(
            (f.word_idf_[unigrams[known]], (word_unit[known], unigrams[known])),
            shape=(n_units, f.n_features_),
        )
        char_cols = chars.astype(np.int64)
        char_rows = sp.csr_matrix(
            (
                f.char_idf_[char_cols],
                (np.repeat(np.arange(n_units), char_sizes), char_cols + f.n_word_features_),
            ),
            shape=(n_units, f.n_features_),
        )
        word_part = np.asarray(words @ self.weights, dtype=np.float32)
        char_part = np.asarray(char_rows @ self.weights, dtype=np.float32)
        return word_part, char_part


#: New n-gram entries up to which unit parts are summed with NumPy alone (its temporary is
#: entries x columns); above it a sparse product keeps memory flat.
_SMALL_ADD = 20_000


def _sum_per_unit(
    sizes: NDArray[np.int64],
    columns: NDArray[np.int64] | NDArray[np.int32],
    idf: NDArray[np.float32],
    weights: NDArray[np.float32],
    offset: int,
) -> NDArray[np.float32]:
    """Per unit, the IDF-weighted sum of the weight rows of its columns (-1: not a column)."""
    out = np.zeros((sizes.size, weights.shape[1]), dtype=np.float32)
    unit = np.repeat(np.arange(sizes.size), sizes)
    known = columns >= 0
    unit, cols = unit[known], columns[known].astype(np.int64)
    if unit.size:
        rows = weights[cols + offset] * idf[cols][:, None]
        starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
        out[unit[starts]] = np.add.reduceat(rows, starts, axis=0)
    return out
