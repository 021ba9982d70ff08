"""Stance toward the article and sentiment: multi-class heads on the shared features.

Both heads read the same TF-IDF rows the toxicity heads read (one vectorisation per
comment), so they cost two small sparse products. Stance also reads a few *context*
features that relate the comment to its article: how close the comment is to the
article's target statement and to its title and lead, and whether it negates or
questions what it is close to. Those features name no topic, so what is learned on one
article's target carries to a new article; the comment's own words carry the cues of
agreement and dispute with the author ("zgadzam się", "bzdura", "źródła proszę").
Without an article the context block is zero and a "no context" indicator is set; the
head was trained on both forms of every comment, so it answers from the comment alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple, TypeAlias

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy.special import softmax

from moderation.errors import InvalidArticleError
from moderation.model.features import SMALL_BATCH_ENTRIES, TextFeaturizer

STANCE_LABELS: Final = ("favor", "against", "none")
SENTIMENT_LABELS: Final = ("positive", "neutral", "negative")

#: Longest article field used (characters): an over-long context is cut, not refused,
#: since the article's opening carries its claim.
CONTEXT_LIMITS: Final = {"id": 200, "title": 400, "lead": 2000, "target": 400}
ARTICLE_FIELDS: Final = tuple(CONTEXT_LIMITS)

#: Words of negation and dispute (normalised form: no diacritics) that flip what a close
#: comment says about the target; used only in interaction with closeness.
NEGATIONS: Final = frozenset(
    {
        *("nie", "nigdy", "zaden", "zadna", "zadne", "ani", "nieprawda", "mit"),
        *("bzdura", "bzdury", "klamstwo", "klamstwa", "propaganda", "manipulacja"),
        *("not", "never", "no", "nonsense", "lie", "lies", "false", "wrong", "myth"),
    }
)
_QUESTION = re.compile(r"\?")

CONTEXT_FEATURES: Final = (
    "similarity_target",
    "similarity_article",
    "negated_similarity_target",
    "negated_similarity_article",
    "question_similarity_target",
    "no_context",
)


@dataclass(frozen=True, slots=True)
class Article:
    """The article a comment is posted under, as the publishing system sends it."""

    id: str = ""
    title: str = ""
    lead: str = ""
    target: str = ""

    @property
    def empty(self) -> bool:
        return not (self.title.strip() or self.lead.strip() or self.target.strip())

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.title, self.lead, self.target)

    @classmethod
    def parse(cls, value: object) -> Article | None:
        """An ``Article`` from a request's ``article`` value (None when absent or empty).

        Unknown fields or non-string values are a client's mistake and raise
        ``InvalidArticleError``; over-long fields are cut to ``CONTEXT_LIMITS``.
        """
        if value is None:
            return None
        if isinstance(value, Article):
            return None if value.empty else value
        if not isinstance(value, Mapping):
            raise InvalidArticleError(
                f"article must be an object with {', '.join(ARTICLE_FIELDS)}, "
                f"got {type(value).__name__}"
            )
        unknown = sorted(str(k) for k in value if k not in CONTEXT_LIMITS)
        if unknown:
            raise InvalidArticleError(
                f"unknown article field(s): {', '.join(unknown)}; "
                f"allowed: {', '.join(ARTICLE_FIELDS)}"
            )
        fields: dict[str, str] = {}
        for name, limit in CONTEXT_LIMITS.items():
            raw = value.get(name)
            if raw is None:
                continue
            if not isinstance(raw, str):
                raise InvalidArticleError(
                    f"article.{name} must be a string, got {type(raw).__name__}"
                )
            try:
                raw.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidArticleError(f"article.{name} is not valid Unicode") from None
            fields[name] = raw[:limit]
        article = cls(**fields)
        return None if article.empty else article


class Rows(NamedTuple):
    """CSR rows as bare arrays (indices sorted within each row): what the cosines read.

    A scipy matrix has the same three attributes; this one is built by concatenating cached
    article rows, which for the one-comment requests of a service is several times cheaper
    than ``scipy.sparse.vstack`` (its index checks cost more than the arithmetic).
    """

    data: NDArray[np.float32]
    indices: NDArray[np.int32]
    indptr: NDArray[np.int64]

    @classmethod
    def of(cls, matrix: sp.csr_matrix) -> Rows:
        matrix.sort_indices()
        return cls(
            np.asarray(matrix.data, dtype=np.float32),
            np.asarray(matrix.indices, dtype=np.int32),
            np.asarray(matrix.indptr, dtype=np.int64),
        )

    @classmethod
    def stack(cls, blocks: Sequence[Rows]) -> Rows:
        """The rows of every block, one block after another."""
        sizes = [block.indptr[1:] - block.indptr[0] for block in blocks]
        shifts = np.cumsum([0] + [block.indptr[-1] - block.indptr[0] for block in blocks])
        indptr = np.concatenate(
            [np.zeros(1, dtype=np.int64)]
            + [size + shift for size, shift in zip(sizes, shifts, strict=False)]
        )
        return cls(
            np.concatenate([b.data[b.indptr[0] : b.indptr[-1]] for b in blocks]),
            np.concatenate([b.indices[b.indptr[0] : b.indptr[-1]] for b in blocks]),
            indptr,
        )

    @property
    def n_rows(self) -> int:
        return len(self.indptr) - 1


#: Anything with CSR arrays: a scipy matrix or ``Rows``.
_AnyRows: TypeAlias = "sp.csr_matrix | Rows"


def row_norms(matrix: _AnyRows) -> NDArray[np.float64]:
    """Euclidean norm of every row of CSR arrays, straight from their data."""
    squares = np.asarray(matrix.data, dtype=np.float64) ** 2
    indptr = matrix.indptr
    if squares.size == 0:
        return np.zeros(len(indptr) - 1)
    sums = np.add.reduceat(squares, np.minimum(indptr[:-1], squares.size - 1))
    sums[indptr[:-1] == indptr[1:]] = 0.0  # reduceat gives an empty row its next entry
    return np.asarray(np.sqrt(sums), dtype=np.float64)


def _cosines(
    comments: sp.csr_matrix,
    references: References,
    indexes: Sequence[NDArray[np.int64]],
    comment_norms: NDArray[np.float64] | None = None,
) -> list[NDArray[np.float64]]:
    """Per array of ``indexes``: the cosine of each comment with its own reference row
    (``references.rows[index[i]]``). One call serves the target and the article rows alike."""
    rows = references.rows
    if comments.nnz > SMALL_BATCH_ENTRIES:
        dots = _dense_dots(comments, rows, indexes)
    else:
        dots = [_sparse_dots(comments, rows, index) for index in indexes]
    if comment_norms is None:
        comment_norms = row_norms(comments)
    out: list[NDArray[np.float64]] = []
    for dot, index in zip(dots, indexes, strict=True):
        norms = comment_norms * references.norms[index]
        out.append(np.divide(dot, norms, out=np.zeros_like(dot), where=norms > 0))
    return out


def _dense_dots(
    comments: sp.csr_matrix, references: Rows, indexes: Sequence[NDArray[np.int64]]
) -> list[NDArray[np.float64]]:
    """Dot products of each comment with its reference rows, for large batches.

    The batch's few references are made dense over the columns any of them uses; each
    comment entry then finds its column's place with one lookup in a vocabulary-wide
    array, instead of a binary search (or a sparse product, which transposes first).
    """
    place = np.full(comments.shape[1], -1, dtype=np.int64)
    place[references.indices] = 0
    used = np.flatnonzero(place == 0)  # a scan of the vocabulary beats sorting the entries
    place[used] = np.arange(used.size)
    n_refs = references.n_rows
    dense = np.zeros(used.size * n_refs, dtype=np.float32)  # (column place, reference)
    ref_rows = np.repeat(np.arange(n_refs), np.diff(references.indptr))
    dense[place[references.indices] * n_refs + ref_rows] = references.data
    entry_rows = np.repeat(np.arange(comments.shape[0]), np.diff(comments.indptr))
    where = place[comments.indices]
    hit = np.flatnonzero(where >= 0)
    rows = entry_rows[hit]
    values = comments.data[hit]
    slots = where[hit] * n_refs
    return [
        np.asarray(
            np.bincount(rows, weights=values * dense[slots + index[rows]], minlength=len(index)),
            dtype=np.float64,
        )
        for index in indexes
    ]


def _sparse_dots(
    comments: sp.csr_matrix, references: Rows, index: NDArray[np.int64]
) -> NDArray[np.float64]:
    """Dot product of each comment with its reference row, entry by entry."""
    if comments.shape[0] == 1:
        return _one_dot(comments, references, int(index[0]))
    n_cols = comments.shape[1]
    ref_rows = np.repeat(np.arange(references.n_rows), np.diff(references.indptr))
    ref_keys = ref_rows.astype(np.int64) * n_cols + references.indices
    entry_rows = np.repeat(np.arange(comments.shape[0]), np.diff(comments.indptr))
    keys = index[entry_rows].astype(np.int64) * n_cols + comments.indices
    found = np.minimum(np.searchsorted(ref_keys, keys), max(ref_keys.size - 1, 0))
    if ref_keys.size:
        hit = ref_keys[found] == keys
        products = np.where(hit, comments.data * references.data[found], 0.0)
    else:
        products = np.zeros(keys.size)
    return np.asarray(
        np.bincount(entry_rows, weights=products, minlength=comments.shape[0]),
        dtype=np.float64,
    )


def _one_dot(comments: sp.csr_matrix, references: Rows, row: int) -> NDArray[np.float64]:
    """``_sparse_dots`` for a batch of one comment (the service's requests): a search in the
    one reference row instead of keys over every row. The same products, summed in the
    same order, so the same bits."""
    start, stop = references.indptr[row], references.indptr[row + 1]
    ref_indices = references.indices[start:stop]
    if not ref_indices.size:
        return np.zeros(1)
    found = np.minimum(np.searchsorted(ref_indices, comments.indices), ref_indices.size - 1)
    hit = ref_indices[found] == comments.indices
    products = np.where(hit, comments.data * references.data[start:stop][found], 0.0)
    return np.asarray(
        np.bincount(np.zeros(products.size, dtype=np.intp), weights=products, minlength=1),
        dtype=np.float64,
    )


class References(NamedTuple):
    """The target rows, then the article (title + lead) rows, stacked, with their norms.

    Built once per batch from its distinct articles, or once per article and kept, for the
    service's one-comment requests (stacking and norms were a third of their context cost).
    """

    rows: Rows
    norms: NDArray[np.float64]
    n_targets: int

    @classmethod
    def of(cls, targets: _AnyRows, articles: _AnyRows) -> References:
        target_rows: Rows = targets if isinstance(targets, Rows) else Rows.of(targets)
        article_rows: Rows = articles if isinstance(articles, Rows) else Rows.of(articles)
        rows = Rows.stack([target_rows, article_rows])
        return cls(rows, row_norms(rows), target_rows.n_rows)


def context_features(
    comments: sp.csr_matrix,
    references: References,
    index: NDArray[np.int64],
    has_context: NDArray[np.bool_],
    negated: NDArray[np.bool_],
    questioned: NDArray[np.bool_],
    comment_norms: NDArray[np.float64] | None = None,
) -> NDArray[np.float32]:
    """The ``CONTEXT_FEATURES`` block: one row per comment.

    ``references`` holds the TF-IDF rows of the distinct articles of the batch (target
    statement; title + lead), and ``index`` says which is each comment's. Cosines in the
    shared feature space (word and character n-grams, so inflected forms still meet).
    """
    to_target, to_article = _cosines(
        comments, references, [index, index + references.n_targets], comment_norms
    )
    negation = negated.astype(np.float64)
    out = np.column_stack(
        [
            to_target,
            to_article,
            to_target * negation,
            to_article * negation,
            to_target * questioned.astype(np.float64),
            (~has_context).astype(np.float64),
        ]
    )
    out[~has_context, :-1] = 0.0
    return np.asarray(out, dtype=np.float32)


def negation_columns(featurizer: TextFeaturizer) -> NDArray[np.int64]:
    """Feature columns of the ``NEGATIONS`` words (unigrams come first in the word block)."""
    vocab = featurizer.word_vocab_
    return np.asarray(sorted(vocab[w] for w in NEGATIONS if w in vocab), dtype=np.int64)


def cue_flags(
    documents: sp.csr_matrix, negations: NDArray[np.int64], texts: Sequence[str]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """(negated, questioned) per comment: read off the feature rows already computed."""
    # A lookup over the negation words' columns (frequent words: low column ids), not
    # np.isin, which compares every entry with every negation column in turn.
    indices = documents.indices
    table = np.zeros(int(negations.max()) + 1 if negations.size else 0, dtype=bool)
    table[negations] = True
    candidates = np.flatnonzero(indices < table.size)
    hits = candidates[table[indices[candidates]]]
    negated = np.zeros(documents.shape[0], dtype=bool)
    negated[np.searchsorted(documents.indptr, hits, side="right") - 1] = True
    questioned = np.fromiter((bool(_QUESTION.search(t)) for t in texts), bool, len(texts))
    return negated, questioned


@dataclass
class ClassHead:
    """A multinomial linear head: text weights, context weights, intercepts, temperature.

    ``temperature`` is fitted on held-out articles (temperature scaling): it keeps the
    ranking and makes the probabilities calibrated. ``context_weights`` is None for heads
    that ignore the article (sentiment).
    """

    labels: tuple[str, ...]
    weights: NDArray[np.float32]  # n_features x n_labels
    intercepts: NDArray[np.float32]
    temperature: float = 1.0
    context_weights: NDArray[np.float32] | None = None  # n_context x n_labels

    def logits(
        self, features: sp.csr_matrix, context: NDArray[np.float32] | None = None
    ) -> NDArray[np.float64]:
        raw = np.asarray(features @ self.weights, dtype=np.float64) + self.intercepts
        if self.context_weights is not None and context is not None:
            raw += context @ self.context_weights
        return raw

    def probabilities(
        self, features: sp.csr_matrix, context: NDArray[np.float32] | None = None
    ) -> NDArray[np.float64]:
        return np.asarray(
            softmax(self.logits(features, context) / self.temperature, axis=1), dtype=np.float64
        )

    @property
    def span_weights(self) -> NDArray[np.float32]:
        """Per-label evidence of each feature against the other labels (centred weights)."""
        centred = self.weights - self.weights.mean(axis=1, keepdims=True)
        return np.asarray(centred, dtype=np.float32)


def fit_temperature(logits: NDArray[np.float64], y: NDArray[np.int_]) -> float:
    """The temperature minimising the log-loss of held-out logits (1-D search, bounded)."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    def loss(log_t: float) -> float:
        scaled = log_softmax(logits / np.exp(log_t), axis=1)
        return float(-scaled[np.arange(len(y)), y].mean())

    found = minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded")
    return float(np.exp(found.x))


class ChosenLabels(NamedTuple):
    """Per row of a batch: the most probable label, the rounded probabilities of every label,
    and the key its explanation spans have in ``top_spans``' output ("stance:against")."""

    labels: list[str]
    scores: list[dict[str, float]]
    span_keys: list[str]


def chosen_labels(
    name: str, head: ClassHead | None, probabilities: NDArray[np.float64] | None
) -> ChosenLabels | None:
    """What results say of a class head (None when the bundle or readout has none). Indexes
    into per-label lists made once, not strings and tuples made per row."""
    if head is None or probabilities is None:
        return None
    labels = head.labels
    keys = [f"{name}:{label}" for label in labels]
    best = probabilities.argmax(axis=1).tolist()
    rounded = np.round(probabilities, 4).tolist()
    return ChosenLabels(
        [labels[b] for b in best],
        [dict(zip(labels, row, strict=True)) for row in rounded],
        [keys[b] for b in best],
    )


def describe(head: ClassHead | None) -> dict[str, Any]:
    """What the manifest records of a head (labels, temperature, whether it reads context)."""
    if head is None:
        return {}
    return {
        "labels": list(head.labels),
        "temperature": round(head.temperature, 4),
        "context": head.context_weights is not None,
    }
