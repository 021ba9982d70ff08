"""TF-IDF features over normalised tokens: word 1-2-grams and within-word character n-grams.

These are the features of scikit-learn's ``TfidfVectorizer(analyzer="char_wb")`` plus a word
vectoriser, computed a faster way. Character n-grams never cross a word boundary, so the
n-grams of a text are the union of the n-grams of its words: each distinct word is turned
into an array of feature ids once and cached, and a batch becomes one CSR matrix built
from those arrays in NumPy. Python touches each word once per text, never each n-gram.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

_EMPTY = np.zeros(0, dtype=np.int32)


def char_ngrams(word: str, low: int, high: int) -> list[str]:
    """Character n-grams of ``word`` padded with one space each side (``char_wb`` style)."""
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if size < n:
            break
        grams.extend(padded[i : i + n] for i in range(size - n + 1))
    return grams


class TextFeaturizer:
    """Word and character n-gram TF-IDF with sublinear term frequency and L2-normalised blocks.

    Parameters follow the scikit-learn convention: stored unchanged, learned state ends in
    ``_``. The word block and the character block are normalised separately and weighted,
    as a ``FeatureUnion`` of two ``TfidfVectorizer`` would be.
    """

    def __init__(
        self,
        char_range: tuple[int, int] = (2, 5),
        word_bigrams: bool = True,
        min_df_word: int = 2,
        min_df_char: int = 3,
        max_word_features: int = 150_000,
        max_char_features: int = 300_000,
        char_weight: float = 1.0,
        cache_size: int = 300_000,
    ) -> None:
        self.char_range = char_range
        self.word_bigrams = word_bigrams
        self.min_df_word = min_df_word
        self.min_df_char = min_df_char
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.char_weight = char_weight
        self.cache_size = cache_size

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, docs: Sequence[Sequence[str]]) -> TextFeaturizer:
        """Learn vocabularies and IDF weights from tokenised documents."""
        word_df: dict[str, int] = {}
        char_df: dict[str, int] = {}
        word_grams_cache: dict[str, list[str]] = {}
        low, high = self.char_range
        for words in docs:
            for gram in set(self._word_grams(words)):
                word_df[gram] = word_df.get(gram, 0) + 1
            seen: set[str] = set()
            for word in set(words):
                grams = word_grams_cache.get(word)
                if grams is None:
                    grams = char_ngrams(word, low, high)
                    word_grams_cache[word] = grams
                seen.update(grams)
            for gram in seen:
                char_df[gram] = char_df.get(gram, 0) + 1
        n_docs = max(len(docs), 1)
        self.word_vocab_, self.word_idf_ = _select(word_df, self.min_df_word, self.max_word_features, n_docs)
        self.char_vocab_, self.char_idf_ = _select(char_df, self.min_df_char, self.max_char_features, n_docs)
        self.n_word_features_ = len(self.word_vocab_)
        self.n_features_ = self.n_word_features_ + len(self.char_vocab_)
        self._cache: dict[str, NDArray[np.int32]] = {}
        return self

    # -- transforming ------------------------------------------------------------------------

    def transform(self, docs: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """TF-IDF matrix (n_docs x n_features), word block first, then characters."""
        return self._transform(docs, with_tokens=False)[0]

    def transform_with_tokens(
        self, docs: Sequence[Sequence[str]]
    ) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """The document matrix, plus one row per token holding that token's share of it.

        A token's row carries its unigram and its character n-grams weighted exactly as
        in its document's row (IDF and the document's normalisation), so a head's weights
        times a token row is that token's contribution to the head's decision: the basis
        of explanation spans. (Repeated n-grams are counted linearly here, not sublinearly.)
        """
        documents, tokens = self._transform(docs, with_tokens=True)
        assert tokens is not None
        return documents, tokens

    def _transform(
        self, docs: Sequence[Sequence[str]], *, with_tokens: bool
    ) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
        word_vocab = self.word_vocab_
        offset = self.n_word_features_
        cache = self._cache
        n_docs = len(docs)
        word_rows: list[int] = []
        word_cols: list[int] = []
        char_parts: list[NDArray[np.int32]] = []
        char_lengths = np.zeros(n_docs, dtype=np.int64)
        for row, words in enumerate(docs):
            for gram in self._word_grams(words):
                col = word_vocab.get(gram)
                if col is not None:
                    word_rows.append(row)
                    word_cols.append(col)
            total = 0
            for word in words:
                ids = cache.get(word)
                if ids is None:
                    ids = self._char_ids(word)
                char_parts.append(ids)
                total += ids.size
            char_lengths[row] = total
        words_matrix = sp.csr_matrix(
            (np.ones(len(word_cols), dtype=np.float32), (word_rows, word_cols)),
            shape=(n_docs, offset),
        )
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(char_lengths, out=indptr[1:])
        indices = np.concatenate(char_parts) if char_parts else _EMPTY
        chars_matrix = sp.csr_matrix(
            (np.ones(indices.size, dtype=np.float32), indices, indptr),
            shape=(n_docs, self.n_features_ - offset),
        )
        chars_matrix.sum_duplicates()
        word_scale = _tfidf(words_matrix, self.word_idf_, 1.0)
        char_scale = _tfidf(chars_matrix, self.char_idf_, self.char_weight)
        documents = sp.hstack([words_matrix, chars_matrix], format="csr", dtype=np.float32)
        if not with_tokens:
            return documents, None
        return documents, self._token_matrix(docs, char_parts, word_scale, char_scale)

    def _token_matrix(
        self,
        docs: Sequence[Sequence[str]],
        char_parts: list[NDArray[np.int32]],
        word_scale: NDArray[np.float32],
        char_scale: NDArray[np.float32],
    ) -> sp.csr_matrix:
        word_vocab = self.word_vocab_
        offset = self.n_word_features_
        n_tokens = len(char_parts)
        token_doc = np.repeat(np.arange(len(docs)), [len(words) for words in docs])
        unigram = np.fromiter(
            (word_vocab.get(word, -1) for words in docs for word in words),
            dtype=np.int64,
            count=n_tokens,
        )
        char_counts = np.fromiter((part.size for part in char_parts), dtype=np.int64, count=n_tokens)
        has_word = unigram >= 0
        counts = char_counts + has_word
        indptr = np.zeros(n_tokens + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.empty(int(indptr[-1]), dtype=np.int64)
        data = np.empty(int(indptr[-1]), dtype=np.float32)
        word_slots = indptr[:-1][has_word]
        indices[word_slots] = unigram[has_word]
        data[word_slots] = self.word_idf_[unigram[has_word]] * word_scale[token_doc[has_word]]
        char_mask = np.ones(indices.size, dtype=bool)
        char_mask[word_slots] = False
        char_ids = np.concatenate(char_parts) if char_parts else _EMPTY
        indices[char_mask] = char_ids.astype(np.int64) + offset
        data[char_mask] = self.char_idf_[char_ids] * np.repeat(char_scale[token_doc], char_counts)
        return sp.csr_matrix((data, indices, indptr), shape=(n_tokens, self.n_features_))

    def feature_names(self) -> list[str]:
        """Feature names in column order (for inspection and tests)."""
        names = [""] * self.n_features_
        for gram, col in self.word_vocab_.items():
            names[col] = f"w:{gram}"
        for gram, col in self.char_vocab_.items():
            names[self.n_word_features_ + col] = f"c:{gram}"
        return names

    # -- helpers -----------------------------------------------------------------------------

    def _word_grams(self, words: Sequence[str]) -> list[str]:
        if not self.word_bigrams or len(words) < 2:
            return list(words)
        return [*words, *(f"{a} {b}" for a, b in zip(words, words[1:], strict=False))]

    def _char_ids(self, word: str) -> NDArray[np.int32]:
        vocab = self.char_vocab_
        low, high = self.char_range
        ids = [col for gram in char_ngrams(word, low, high) if (col := vocab.get(gram)) is not None]
        array = np.asarray(ids, dtype=np.int32) if ids else _EMPTY
        if len(self._cache) >= self.cache_size:
            self._cache.clear()
        self._cache[word] = array
        return array

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_cache"] = {}  # rebuilt lazily; keeps the bundle small
        return state


def _select(
    df: dict[str, int], min_df: int, max_features: int, n_docs: int
) -> tuple[dict[str, int], NDArray[np.float32]]:
    """Keep grams with df >= min_df, the most frequent first; smooth IDF as scikit-learn does."""
    kept = sorted((gram for gram, count in df.items() if count >= min_df), key=lambda g: (-df[g], g))
    kept = kept[:max_features]
    vocab = {gram: i for i, gram in enumerate(kept)}
    counts = np.asarray([df[g] for g in kept], dtype=np.float64)
    idf = np.log((1.0 + n_docs) / (1.0 + counts)) + 1.0
    return vocab, idf.astype(np.float32)


def _tfidf(matrix: sp.csr_matrix, idf: NDArray[np.float32], weight: float) -> NDArray[np.float32]:
    """Sublinear tf, idf weighting and row L2 normalisation, in place; returns the row scales."""
    data = matrix.data
    np.log(data, out=data)
    data += 1.0
    data *= idf[matrix.indices]
    lengths = np.diff(matrix.indptr)
    rows = np.repeat(np.arange(matrix.shape[0]), lengths)
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=matrix.shape[0]))
    scale = np.divide(weight, norms, out=np.zeros_like(norms), where=norms > 0).astype(np.float32)
    data *= np.repeat(scale, lengths)
    return scale
