"""py3langid's ranking for many texts at once, with the same numbers as one text at a time.

py3langid reads a text by walking a byte automaton, one Python step per byte: about 40 µs
of the 60 µs it takes for a 200-character comment, and a sixth of batched scoring. Here the
texts of a batch walk the automaton together, one NumPy step per byte *position* (all texts
at that position at once), so the Python cost is paid per position, not per byte of every
text. Everything after the walk — feature counts in first-seen order, py3langid's own
``_sparse_score``, the length-scaled softmax, the ranking — is done per text exactly as
``LanguageIdentifier.rank`` does it, so the probabilities are bit for bit the same
(``tests/test_language.py`` checks that against ``rank``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import NDArray

from moderation.model import compiled

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

Ranking = list[tuple[str, float]]

#: Texts from which the walk in step pays: it costs a few NumPy calls per byte position,
#: py3langid's own walk about 0.15 µs per byte of each text.
WALK_TOGETHER: Final = 32


class BatchRanker:
    """``rank_many(texts) == [identifier.rank(t) for t in texts]`` for a py3langid
    identifier whose tables are not changed afterwards (no ``set_languages`` call)."""

    def __init__(self, identifier: LanguageIdentifier) -> None:
        from py3langid.langid import RAW_FLOOR

        self.identifier = identifier
        self._floor = float(RAW_FLOOR)
        # The automaton as arrays: next state (shared with py3langid's array.array, no
        # copy), each state's row offset, and the feature each state emits (-1: none).
        nextmove = identifier.tk_nextmove
        self._next = np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}")
        self._rowbase = np.asarray(identifier._rowbase, dtype=np.int64)
        self._output = np.asarray(identifier.tk_output, dtype=np.int32)

    def rank_many(self, texts: Sequence[str]) -> list[Ranking]:
        """Every language by probability, best first, for each text (as ``rank``)."""
        if not texts:
            return []
        identifier = self.identifier
        if len(texts) < WALK_TOGETHER:
            return [identifier.rank(text) for text in texts]
        encoded = [identifier._encode(text) for text in texts]
        if compiled.kernels is not None:
            scores = self._compiled_scores(encoded)
        else:
            scores = np.stack([self._raw_score(visits) for visits in self._visits(encoded)])
        if identifier._norm_probs:
            # Row by row what py3langid does to one text's scores: every step is elementwise
            # or a reduction along the row, so the rows come out bit for bit the same.
            scale = [1.0 / math.sqrt(len(data) or 1) for data in encoded]
            scores *= np.asarray(scale, dtype=np.float32)[:, None]
            np.exp(scores - scores.max(axis=1, keepdims=True), out=scores)
            scores /= scores.sum(axis=1, keepdims=True)
        for first, dupe in identifier._alias_pairs:
            if identifier._norm_probs:
                scores[:, first] += scores[:, dupe]
                scores[:, dupe] = 0.0
            else:
                scores[:, first] = np.maximum(scores[:, first], scores[:, dupe])
                scores[:, dupe] = self._floor
        return [self._ranking(row) for row in scores.tolist()]

    def _visits(self, encoded: Sequence[bytes]) -> list[Counter[int] | None]:
        """Feature counts of each byte string, in first-seen order (py3langid's
        ``visit_counts``), from one walk of the automaton for all of them."""
        n = len(encoded)
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=n)
        longest = int(lengths.max()) if n else 0
        if longest == 0:
            return [None] * n
        order = np.argsort(-lengths, kind="stable")  # longest first: live texts are a prefix
        ordered = lengths[order]
        data = np.frombuffer(b"".join([encoded[i] for i in order.tolist()]), dtype=np.uint8)
        padded = np.zeros((n, longest), dtype=np.int64)
        padded[np.arange(longest) < ordered[:, None]] = data
        by_position = np.ascontiguousarray(padded.T)
        live = n - np.cumsum(np.bincount(ordered, minlength=longest + 1))[:longest]
        features = self._walk(by_position, live.tolist()).T
        out: list[Counter[int] | None] = [None] * n
        for rank, (text, size) in enumerate(zip(order.tolist(), ordered.tolist(), strict=True)):
            emitted = features[rank, :size]
            found = emitted[emitted >= 0].tolist()
            out[text] = Counter(found) if found else None
        return out

    def _walk(self, by_position: NDArray[np.int64], live: list[int]) -> NDArray[np.int32]:
        """The feature emitted at each byte position of each text (position x text; -1:
        none, undefined past a text's end). ``live[p]``: how many texts reach position p."""
        nextmove, rowbase, output = self._next, self._rowbase, self._output
        state = np.zeros(by_position.shape[1], dtype=np.int64)
        features = np.empty(by_position.shape, dtype=np.int32)
        for position, count in enumerate(live):
            moved = nextmove[rowbase[state[:count]] + by_position[position, :count]]
            state[:count] = moved
            features[position, :count] = output[moved]
        return features

    def _compiled_scores(self, encoded: Sequence[bytes]) -> NDArray[np.float32]:
        """Every text's raw scores, the walk and counts done by the compiled kernel
        (``_kernels.c``: each text's features in first-seen order, as ``_visits``), the
        scores as py3langid's ``_sparse_score`` computes them from its ``Counter``."""
        kernels = compiled.kernels
        assert kernels is not None
        identifier = self.identifier
        data = b"".join(encoded)
        ends = np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)))
        features = np.empty(len(data), dtype=np.int32)
        counts = np.empty(len(data), dtype=np.int32)
        sizes = np.empty(len(encoded), dtype=np.int64)
        kernels.langid_visits(
            data, ends, self._next, self._rowbase, self._output, features, counts, sizes
        )
        table, prior = identifier.nb_ptc, identifier.nb_pc
        rows: list[NDArray[np.float32]] = []
        start = 0
        for size in sizes.tolist():
            if size:
                idx = features[start : start + size].astype(np.intp)
                values = counts[start : start + size].astype(np.float32)
                rows.append(np.log1p(values) @ table[idx] + prior)
                start += size
            else:
                rows.append(self._raw_score(None))
        return np.stack(rows)

    def _raw_score(self, visits: Counter[int] | None) -> NDArray[np.float32]:
        """py3langid's ``_raw_score`` from a text's feature counts."""
        identifier = self.identifier
        if visits:
            return np.asarray(identifier._sparse_score(visits, identifier.nb_ptc))
        fill = 0.0 if identifier._norm_probs else self._floor
        return np.full(len(identifier.nb_classes), fill, dtype=np.float32)

    def _ranking(self, scores: list[float]) -> Ranking:
        """py3langid's ``rank`` from a text's final scores: one entry per label, best first."""
        merged: dict[str, float] = {}
        for language, score in zip(self.identifier.nb_classes, scores, strict=True):
            merged.setdefault(language, score)
        return sorted(merged.items(), key=itemgetter(1), reverse=True)
