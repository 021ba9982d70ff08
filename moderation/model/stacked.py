"""Every linear head of one language read in one pass over the shared features.

Toxicity attributes, stance and sentiment all read the same TF-IDF rows. Their weights
are stacked side by side, so a batch costs one sparse-dense product for all twelve
outputs, and one pass over the units for all their explanation spans.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final, NamedTuple

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from moderation.model.bundle import LanguageModel
from moderation.model.stance import (
    CONTEXT_FEATURES,
    SENTIMENT_LABELS,
    STANCE_LABELS,
    Article,
    ClassHead,
    References,
    Rows,
    context_features,
    cue_flags,
    negation_columns,
)
from moderation.text.normalize import Normalizer

#: Articles whose feature rows are kept (a comment stream has few articles at a time).
ARTICLE_CACHE: Final = 2048
#: The reference row of comments without an article (its cosines are masked anyway).
_NO_ROW: Final = Rows(
    np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int32), np.zeros(2, dtype=np.int64)
)
#: Labels that get no spans: there is no evidence "for" talking past the article.
QUIET_LABELS: Final = frozenset({"none", "neutral"})


@dataclass(slots=True)
class Readout:
    """What the heads say about a batch, one row per comment."""

    toxicity: NDArray[np.float64]  # calibrated, one column per attribute
    stance: NDArray[np.float64] | None  # probabilities over STANCE_LABELS
    sentiment: NDArray[np.float64] | None
    has_context: NDArray[np.bool_]


class StackedHeads:
    """The heads of one ``LanguageModel`` with their weights side by side."""

    def __init__(self, model: LanguageModel, normalizer: Normalizer) -> None:
        self.model = model
        self.normalizer = normalizer
        heads = model.heads
        blocks = [heads.weights]
        spans = [heads.weights]
        names = list(heads.attributes)
        self.class_heads: list[tuple[str, ClassHead]] = [
            (name, head)
            for name, head in (("stance", model.stance), ("sentiment", model.sentiment))
            if head is not None
        ]
        for name, head in self.class_heads:
            blocks.append(head.weights)
            spans.append(head.span_weights)
            names.extend(f"{name}:{label}" for label in head.labels)
        mixture = heads.mixture
        if mixture is not None:
            # Read in the same product; not a span column (spans explain the head itself).
            blocks.append(mixture.weights)
        self.weights = np.ascontiguousarray(np.hstack(blocks), dtype=np.float32)
        self.span_weights = np.ascontiguousarray(np.hstack(spans), dtype=np.float32)
        self.span_names: tuple[str, ...] = tuple(names)
        # The bundle's heads now read views of the stacked arrays: the weights are held once
        # (about 27 MB less for a Polish + English bundle), not once per head and again here.
        heads.weights = self.weights[:, : len(heads.attributes)]
        column = len(heads.attributes)
        for _, head in self.class_heads:
            width = len(head.labels)
            head.weights = self.weights[:, column : column + width]
            column += width
        if mixture is not None:
            heads.mixture = replace(mixture, weights=self.weights[:, column:])
        self.negations = negation_columns(model.featurizer)
        self._articles: dict[tuple[str, str, str], _ArticleRows] = {}

    @property
    def has_stance(self) -> bool:
        return self.model.stance is not None

    def read(
        self,
        documents: sp.csr_matrix | sp.csc_matrix | None,
        texts: Sequence[str],
        articles: Sequence[Article | None],
        norms: NDArray[np.float64] | None = None,
        raw: NDArray[np.float64] | None = None,
    ) -> Readout:
        """Every head's output for the batch; ``norms`` (each document row's Euclidean norm,
        known from how it was built) spares the context features a pass over the rows.

        ``raw``: ``documents @ self.weights`` when already computed (the compiled kernel,
        ``TextFeaturizer.weighted_units``); ``documents`` may then be None if no comment
        has an article (only the context features read the rows)."""
        if raw is None:
            assert documents is not None
            raw = np.asarray(documents @ self.weights, dtype=np.float64)
        heads = self.model.heads
        n_attributes = len(heads.attributes)
        decision = raw[:, :n_attributes] + heads.intercepts
        if heads.mixture is not None:
            mixed = heads.mixture.column
            width = heads.mixture.weights.shape[1]
            decision[:, mixed] = heads.mixture.combine(decision[:, mixed], raw[:, -width:])
        toxicity = heads.calibrated(decision)
        has_context = np.fromiter((a is not None for a in articles), bool, len(articles))
        readout = Readout(toxicity, None, None, has_context)
        column = n_attributes
        for name, head in self.class_heads:
            logits = raw[:, column : column + len(head.labels)] + head.intercepts
            column += len(head.labels)
            if head.context_weights is not None:
                logits += self._context(documents, texts, articles, norms) @ head.context_weights
            probabilities = _softmax(logits / head.temperature)
            if name == "stance":
                readout.stance = probabilities
            else:
                readout.sentiment = probabilities
        return readout

    def span_probabilities(self, readout: Readout) -> NDArray[np.float64]:
        """Scores that ask for spans: every attribute; stance/sentiment only for the label
        given (and never for none/neutral)."""
        parts = [readout.toxicity]
        for name, head in self.class_heads:
            probabilities = readout.stance if name == "stance" else readout.sentiment
            assert probabilities is not None
            chosen = np.zeros_like(probabilities)
            rows = np.arange(len(probabilities))
            best = probabilities.argmax(axis=1)
            chosen[rows, best] = probabilities[rows, best]
            for i, label in enumerate(head.labels):
                if label in QUIET_LABELS:
                    chosen[:, i] = 0.0
            parts.append(chosen)
        return np.hstack(parts)

    def _context(
        self,
        documents: sp.csr_matrix | sp.csc_matrix | None,
        texts: Sequence[str],
        articles: Sequence[Article | None],
        norms: NDArray[np.float64] | None = None,
    ) -> NDArray[np.float32]:
        if all(article is None for article in articles):
            # Nothing to relate to: every context feature is 0 but the "no article" one.
            block = np.zeros((len(articles), len(CONTEXT_FEATURES)), dtype=np.float32)
            block[:, -1] = 1.0
            return block
        # One row per distinct article (a batch holds few), then gathered per comment.
        slots: dict[tuple[str, str, str], int] = {}
        found: list[_ArticleRows] = []
        index = np.zeros(len(articles), dtype=np.int64)
        for position, article in enumerate(articles):
            if article is None:
                continue
            slot = slots.get(article.key)
            if slot is None:
                found.append(self._article_rows(article))
                slot = slots[article.key] = len(found)
            index[position] = slot
        if len(found) == 1:
            # The service's case (one comment, or a batch under one article): stacked once.
            references = found[0].alone
        else:
            references = References.of(
                Rows.stack([_NO_ROW, *(rows.target for rows in found)]),
                Rows.stack([_NO_ROW, *(rows.body for rows in found)]),
            )
        if documents is None:
            raise ValueError("articles need the document rows, not only their product")
        documents = documents.tocsr()  # the cosines and cues read rows (large batches: CSC)
        negated, questioned = cue_flags(documents, self.negations, texts)
        has_context = np.fromiter((a is not None for a in articles), bool, len(articles))
        return context_features(
            documents, references, index, has_context, negated, questioned, norms
        )

    def _article_rows(self, article: Article) -> _ArticleRows:
        found = self._articles.get(article.key)
        if found is None:
            words = self.normalizer.words
            rows = self.model.featurizer.transform(
                [words(article.target), words(f"{article.title} {article.lead}")]
            )
            found = _ArticleRows.of(Rows.of(rows[0]), Rows.of(rows[1]))
            if len(self._articles) >= ARTICLE_CACHE:
                self._articles.clear()
            self._articles[article.key] = found
        return found


class _ArticleRows(NamedTuple):
    """One article's feature rows, kept between batches: its target statement, its title +
    lead, and both stacked as the only article of a batch (slot 1; slot 0 is "none")."""

    target: Rows
    body: Rows
    alone: References

    @classmethod
    def of(cls, target: Rows, body: Rows) -> _ArticleRows:
        alone = References.of(Rows.stack([_NO_ROW, target]), Rows.stack([_NO_ROW, body]))
        return cls(target, body, alone)


def _softmax(logits: NDArray[np.float64]) -> NDArray[np.float64]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)


__all__ = ["SENTIMENT_LABELS", "STANCE_LABELS", "Readout", "StackedHeads"]
