"""TF-IDF features over normalised tokens: word 1-2-grams and within-word character n-grams.

These are the features of scikit-learn's ``TfidfVectorizer(analyzer="char_wb")`` plus a word
vectoriser, computed a faster way. Character n-grams never cross a word boundary, so the
n-grams of a text are the union of those of its words. A *unit* (one word, or all the words
of one raw whitespace-separated token) is turned into feature ids once and stored in a
``UnitTable``; a batch is then assembled from the table entirely in NumPy, bigrams included
(as integer pair keys looked up with ``searchsorted``). Python touches each unit id once per
text, never each n-gram.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from moderation.model import compiled
from moderation.model.int_table import IntTable

if TYPE_CHECKING:
    from moderation.model.unit_table import TableView


_EMPTY32 = np.zeros(0, dtype=np.int32)
_EMPTY64 = np.zeros(0, dtype=np.int64)

#: (unigram column per word, -1 when unknown; character n-gram columns of all its words)
Unit = tuple[NDArray[np.int64], NDArray[np.int32]]


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
    ) -> None:
        self.char_range = char_range
        self.word_bigrams = word_bigrams
        self.min_df_word = min_df_word
        self.min_df_char = min_df_char
        self.max_word_features = max_word_features
        self.max_char_features = max_char_features
        self.char_weight = char_weight

    # -- fitting ---------------------------------------------------------------------------

    def fit(self, docs: Sequence[Sequence[str]]) -> TextFeaturizer:
        """Learn vocabularies and IDF weights from tokenised documents."""
        unigram_df: dict[str, int] = {}
        bigram_df: dict[tuple[str, str], int] = {}
        char_df: dict[str, int] = {}
        grams_cache: dict[str, list[str]] = {}
        low, high = self.char_range
        for words in docs:
            for word in set(words):
                unigram_df[word] = unigram_df.get(word, 0) + 1
            if self.word_bigrams:
                for pair in set(pairwise(words)):
                    bigram_df[pair] = bigram_df.get(pair, 0) + 1
            seen: set[str] = set()
            for word in set(words):
                grams = grams_cache.get(word)
                if grams is None:
                    grams = grams_cache[word] = char_ngrams(word, low, high)
                seen.update(grams)
            for gram in seen:
                char_df[gram] = char_df.get(gram, 0) + 1
        n_docs = max(len(docs), 1)
        unigrams = _keep(unigram_df, self.min_df_word, self.max_word_features)
        known = set(unigrams)
        # A bigram is only usable when both its words are columns: that is how it is looked up.
        pairs = {p: n for p, n in bigram_df.items() if p[0] in known and p[1] in known}
        bigrams = _keep(pairs, self.min_df_word, max(self.max_word_features - len(unigrams), 0))
        self.word_vocab_ = {word: i for i, word in enumerate(unigrams)}
        n_unigrams = len(unigrams)
        keys = np.asarray(
            [self.word_vocab_[a] * n_unigrams + self.word_vocab_[b] for a, b in bigrams],
            dtype=np.int64,
        )
        order = np.argsort(keys, kind="stable")
        self.bigram_keys_ = keys[order]
        self.bigram_cols_ = (n_unigrams + order).astype(np.int64)
        self.bigrams_ = tuple(f"{a} {b}" for a, b in bigrams)
        word_counts = [unigram_df[w] for w in unigrams] + [pairs[p] for p in bigrams]
        self.word_idf_ = _idf(word_counts, n_docs)
        chars = _keep(char_df, self.min_df_char, self.max_char_features)
        self.char_vocab_ = {gram: i for i, gram in enumerate(chars)}
        self.char_idf_ = _idf([char_df[g] for g in chars], n_docs)
        self.n_word_features_ = n_unigrams + len(bigrams)
        self.n_features_ = self.n_word_features_ + len(chars)
        return self

    # -- units ---------------------------------------------------------------------------------

    def unit(self, words: Sequence[str]) -> Unit:
        """Feature ids of a run of words (one raw token); ``UnitTable`` stores them by id."""
        vocab = self.char_vocab_
        low, high = self.char_range
        unigram = np.asarray([self.word_vocab_.get(w, -1) for w in words], dtype=np.int64)
        ids = [
            col
            for w in words
            for gram in char_ngrams(w, low, high)
            if (col := vocab.get(gram)) is not None
        ]
        return unigram, np.asarray(ids, dtype=np.int32) if ids else _EMPTY32

    # -- transforming ------------------------------------------------------------------------

    def transform(self, docs: Sequence[Sequence[str]]) -> sp.csr_matrix:
        """TF-IDF matrix (n_docs x n_features), word block first, then characters."""
        from moderation.model.unit_table import UnitTable

        # Every distinct word is one unit, stored in one call (not one call per word).
        distinct = list(dict.fromkeys(word for words in docs for word in words))
        table = UnitTable(self)
        units = table.add_many([((word,), 0, 0, False) for word in distinct])
        known = dict(zip(distinct, units, strict=True))
        ids = [known[word] for words in docs for word in words]
        lengths = np.fromiter((len(words) for words in docs), dtype=np.int64, count=len(docs))
        documents = self.transform_units(table.view(), np.asarray(ids, dtype=np.int64), lengths)[0]
        return documents.tocsr()

    def transform_units(
        self, table: TableView, ids: NDArray[np.int64], lengths: NDArray[np.int64]
    ) -> tuple[sp.csr_matrix | sp.csc_matrix, UnitLayout]:
        """Document matrix from the units ``ids`` of every document, in order (``lengths``
        units per document), read from ``table``: CSR for small batches, CSC for large ones
        (see ``_documents``; products with it are the same either way).

        Also returns the layout from which ``UnitLayout.contributions`` gives each unit's
        share of its document's score (explanation spans), only when asked for.
        """
        n_docs = len(lengths)
        unit_doc = np.repeat(np.arange(n_docs), lengths)
        unigrams, unigram_sizes = table.unigrams(ids)
        chars, char_sizes = table.char_columns(ids)
        word_doc = np.repeat(unit_doc, unigram_sizes)
        # 32-bit: the large batches' entries are bucketed as int32 (``_documents_csc``), and
        # repeating the units' documents narrow halves the bytes over every n-gram of the batch.
        char_doc = np.repeat(unit_doc.astype(np.int32), char_sizes)
        word_cols, word_rows = self._word_columns(unigrams, word_doc)
        documents, word_scale, char_scale = self._documents(
            word_rows, word_cols, char_doc, chars, n_docs
        )
        layout = UnitLayout(
            self, table, ids, unit_doc, unigrams, unigram_sizes, word_scale, char_scale
        )
        return documents, layout

    def weighted_units(
        self,
        table: TableView,
        ids: NDArray[np.int64],
        lengths: NDArray[np.int64],
        weights: NDArray[np.float32],
    ) -> tuple[NDArray[np.float64], UnitLayout] | None:
        """``transform_units(table, ids, lengths)[0] @ weights`` (as float64) and the
        layout, computed by the compiled kernel (``_kernels.c``) without building the matrix:
        the same numbers added in the same order, so the same to the bit.

        None when the kernel was not built, for small batches (at most
        ``SMALL_BATCH_ENTRIES`` character n-grams: the NumPy path costs less there), or when
        the kernel declines the batch (a count past its log table): the caller then takes
        ``transform_units``.
        """
        kernels = compiled.kernels
        if kernels is None or weights.dtype != np.float32 or not weights.flags.c_contiguous:
            return None
        char_ptr = table.char_ptr
        if int((char_ptr[ids + 1] - char_ptr[ids]).sum()) <= SMALL_BATCH_ENTRIES:
            return None  # decided before any other work: a request's call must not pay twice
        n_docs = len(lengths)
        unit_doc = np.repeat(np.arange(n_docs), lengths)
        unigrams, unigram_sizes = table.unigrams(ids)
        word_cols, word_rows = self._word_columns(unigrams, np.repeat(unit_doc, unigram_sizes))
        product = np.zeros((n_docs, weights.shape[1]), dtype=np.float32)
        word_scale = np.empty(n_docs, dtype=np.float32)
        char_scale = np.empty(n_docs, dtype=np.float32)
        code = kernels.tfidf_product(
            np.ascontiguousarray(lengths, dtype=np.int64),
            np.ascontiguousarray(ids, dtype=np.int64),
            np.ascontiguousarray(char_ptr, dtype=np.int64),
            np.ascontiguousarray(table.chars, dtype=np.int32),
            np.ascontiguousarray(word_rows, dtype=np.int64),
            np.ascontiguousarray(word_cols, dtype=np.int64),
            np.ascontiguousarray(self._idf(), dtype=np.float32),
            _LOGS,
            weights,
            product,
            word_scale,
            char_scale,
            self.n_word_features_,
            self.n_features_,
            float(self.char_weight),
        )
        if code != 0:
            return None
        layout = UnitLayout(
            self, table, ids, unit_doc, unigrams, unigram_sizes, word_scale, char_scale
        )
        return np.asarray(product, dtype=np.float64), layout

    def feature_names(self) -> list[str]:
        """Feature names in column order (for inspection and tests)."""
        names = [f"w:{w}" for w in self.word_vocab_] + [f"w:{b}" for b in self.bigrams_]
        names += [f"c:{g}" for g in self.char_vocab_]
        return names

    # -- helpers -----------------------------------------------------------------------------

    def _documents(
        self,
        word_rows: NDArray[np.int64],
        word_cols: NDArray[np.int64],
        char_rows: NDArray[np.int32],
        char_cols: NDArray[np.int32],
        n_docs: int,
    ) -> tuple[sp.csr_matrix | sp.csc_matrix, NDArray[np.float32], NDArray[np.float32]]:
        """The TF-IDF matrix and each document's word and character block scales.

        Both blocks are built at once straight into compressed arrays, so there is no
        ``hstack``: for the one-comment batches a service mostly scores by one sort of the
        entries' keys (scipy's constructors cost more than the arithmetic there), for large
        batches by scipy's linear-time bucket passes. Sublinear tf, idf, and L2
        normalisation of each block, with the character block weighted by ``char_weight``.

        Large batches come back in CSC form (``tocsr()`` gives the rows): a product with the
        head weights adds each document's entries in the same (column) order either way, so
        the scores are bit for bit those of the CSR matrix, without a transposition.
        """
        n_word = self.n_word_features_
        if word_rows.size + char_rows.size > SMALL_BATCH_ENTRIES:
            return self._documents_csc(
                np.concatenate([word_rows, char_rows], dtype=np.int32),
                np.concatenate([word_cols, char_cols + np.int32(n_word)], dtype=np.int32),
                n_docs,
            )
        width = self.n_features_
        rows = np.concatenate([word_rows, char_rows])
        cols = np.concatenate([word_cols, char_cols + n_word])
        keys = rows * width + cols
        unique_keys, key_counts = np.unique(keys, return_counts=True)
        rows = unique_keys // width
        cols = unique_keys - rows * width
        indptr = np.zeros(n_docs + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=n_docs), out=indptr[1:])
        data = np.log(key_counts.astype(np.float32), dtype=np.float32)
        data += 1.0
        data *= self._idf()[cols]
        block = rows * 2 + (cols >= n_word)
        norms = np.sqrt(np.bincount(block, weights=data * data, minlength=2 * n_docs))
        weight = np.tile(np.asarray([1.0, self.char_weight]), n_docs)
        scale = np.divide(weight, norms, out=np.zeros_like(norms), where=norms > 0).astype(
            np.float32
        )
        data *= scale[block]
        matrix = sp.csr_matrix((data, cols, indptr), shape=(n_docs, width))
        return matrix, scale[0::2], scale[1::2]

    def _documents_csc(
        self, rows: NDArray[np.int32], cols: NDArray[np.int32], n_docs: int
    ) -> tuple[sp.csc_matrix, NDArray[np.float32], NDArray[np.float32]]:
        """``_documents`` for large batches (``rows``, ``cols``: every entry, word block
        first; 32-bit, half the bytes to bucket): the (document, column) pairs bucketed by column
        and their duplicates summed (scipy's COO to CSC, linear in the entries; half the
        time of sorting the entries' keys). Within a column the rows come out sorted, and a
        document's entries column by column, as in CSR: every sum below (norms, products)
        adds the same numbers in the same order as the CSR form would."""
        n_word, width = self.n_word_features_, self.n_features_
        ones = np.ones(rows.size, dtype=np.float32)
        counted = sp.csc_matrix((ones, (rows, cols)), shape=(n_docs, width))
        counts, indptr = counted.data, counted.indptr
        # Widened once: bincount and indexing convert 32-bit indices on every call otherwise.
        doc = counted.indices.astype(np.intp)
        data = np.log(counts, dtype=np.float32)
        data += 1.0
        data *= np.repeat(self._idf(), np.diff(indptr))
        squares = data * data
        split = int(indptr[n_word])  # word columns first: their entries are a prefix
        word_norms = np.bincount(doc[:split], weights=squares[:split], minlength=n_docs)
        char_norms = np.bincount(doc[split:], weights=squares[split:], minlength=n_docs)
        word_scale, char_scale = self._block_scales(np.sqrt(word_norms), np.sqrt(char_norms))
        data[:split] *= word_scale[doc[:split]]
        data[split:] *= char_scale[doc[split:]]
        counted.data = data
        return counted, word_scale, char_scale

    def _block_scales(
        self, word_norms: NDArray[np.float64], char_norms: NDArray[np.float64]
    ) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        """Per document, what each block's entries are multiplied by: its weight (1 for
        words, ``char_weight`` for characters) over its norm; 0 for an empty block."""
        weight = float(self.char_weight)
        word = np.divide(1.0, word_norms, out=np.zeros_like(word_norms), where=word_norms > 0)
        char = np.divide(weight, char_norms, out=np.zeros_like(char_norms), where=char_norms > 0)
        return word.astype(np.float32), char.astype(np.float32)

    def _idf(self) -> NDArray[np.float32]:
        """IDF of every column, word block then characters (one gather instead of two)."""
        idf: NDArray[np.float32] | None = self.__dict__.get("_idf_all")
        if idf is None:
            idf = self.__dict__["_idf_all"] = np.concatenate([self.word_idf_, self.char_idf_])
        return idf

    def _bigram_table(self) -> IntTable:
        """Bigram key -> column, as a hash table (see ``IntTable``); built on first use."""
        table: IntTable | None = self.__dict__.get("_bigrams_table")
        if table is None:
            table = self.__dict__["_bigrams_table"] = IntTable(self.bigram_keys_, self.bigram_cols_)
        return table

    def _word_columns(
        self, unigrams: NDArray[np.int64], word_doc: NDArray[np.int64]
    ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Columns and rows of unigrams and of the bigrams of consecutive known words."""
        known = unigrams >= 0
        cols = [unigrams[known]]
        rows = [word_doc[known]]
        if self.word_bigrams and unigrams.size > 1 and self.bigram_keys_.size:
            left, right = unigrams[:-1], unigrams[1:]
            pair_ok = (left >= 0) & (right >= 0) & (word_doc[:-1] == word_doc[1:])
            keys = left[pair_ok] * len(self.word_vocab_) + right[pair_ok]
            if keys.size > HASHED_BIGRAM_LOOKUPS:
                found = self._bigram_table().get(keys)
                hit = found >= 0
                cols.append(found[hit])
            else:  # a request's few pairs: a binary search each costs less than the probing
                where = np.searchsorted(self.bigram_keys_, keys)
                where = np.minimum(where, self.bigram_keys_.size - 1)
                hit = self.bigram_keys_[where] == keys
                cols.append(self.bigram_cols_[where[hit]])
            rows.append(word_doc[:-1][pair_ok][hit])
        return np.concatenate(cols), np.concatenate(rows)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_idf_all", None)  # derived; rebuilt on first use
        state.pop("_bigrams_table", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Bundles written before units moved to ``UnitTable`` carry a word cache: drop it.
        state.pop("_cache", None)
        state.pop("cache_size", None)
        # A tuple: the garbage collector stops tracking it (all strings), where a list of
        # 100,000 bigram names would be walked by every full collection while it is loaded.
        if isinstance(state.get("bigrams_"), list):
            state["bigrams_"] = tuple(state["bigrams_"])
        self.__dict__.update(state)


#: Word pairs in a batch above which bigram columns are looked up in the hash table
#: (``IntTable``); below, binary searches (fewer NumPy calls) are quicker.
HASHED_BIGRAM_LOOKUPS: Final = 1_000
#: Feature entries up to which a batch is assembled with NumPy alone; above it scipy's
#: constructors (linear-time, fixed overhead) are faster. About 20 average comments.
SMALL_BATCH_ENTRIES: Final = 30_000
#: float32 log(c) for c = 1..65,536, from NumPy's own float32 log (the compiled kernel reads
#: counts' logs here, so they are NumPy's to the bit); a larger count falls back.
_LOGS: Final = np.log(np.arange(1, (1 << 16) + 1, dtype=np.float32), dtype=np.float32)


@dataclass(frozen=True)
class UnitLayout:
    """Where each unit's features sit in a batch, to build per-unit rows on demand."""

    featurizer: TextFeaturizer
    table: TableView
    ids: NDArray[np.int64]
    unit_doc: NDArray[np.int64]
    unigrams: NDArray[np.int64]
    unigram_sizes: NDArray[np.int64]
    word_scale: NDArray[np.float32]
    char_scale: NDArray[np.float32]

    def row_norms(self) -> NDArray[np.float64]:
        """Each document row's Euclidean norm, from how it was built: every non-empty block
        is L2-normalised to its weight (1 for words, ``char_weight`` for characters)."""
        weight = float(self.featurizer.char_weight)
        squares = (self.word_scale > 0).astype(np.float64)
        squares += (self.char_scale > 0) * weight * weight
        return np.asarray(np.sqrt(squares), dtype=np.float64)

    def rows(self, documents: NDArray[np.bool_]) -> sp.csr_matrix:
        """One row per unit with its unigrams and character n-grams weighted exactly as in
        its document (IDF and the document's normalisation), so head weights times a unit
        row is that unit's contribution to the decision. Units of documents not selected
        get empty rows. (Repeated n-grams count linearly here, not sublinearly.)
        """
        f = self.featurizer
        n_units = self.unit_doc.size
        unit_ids = np.arange(n_units)
        selected = documents[self.unit_doc]
        word_unit = np.repeat(unit_ids, self.unigram_sizes)
        word_keep = (self.unigrams >= 0) & selected[word_unit]
        all_chars, char_sizes = self.table.char_columns(self.ids)
        char_unit = np.repeat(unit_ids, char_sizes)
        char_keep = selected[char_unit]
        chars = all_chars[char_keep]
        unigrams = self.unigrams[word_keep]
        rows = np.concatenate([word_unit[word_keep], char_unit[char_keep]])
        cols = np.concatenate([unigrams, chars + f.n_word_features_])
        values = np.concatenate(
            [
                f.word_idf_[unigrams] * self.word_scale[self.unit_doc[word_unit[word_keep]]],
                f.char_idf_[chars] * self.char_scale[self.unit_doc[char_unit[char_keep]]],
            ]
        ).astype(np.float32)
        return sp.csr_matrix((values, (rows, cols)), shape=(n_units, f.n_features_))

    def contributions(
        self, documents: NDArray[np.bool_], weights: NDArray[np.float32]
    ) -> NDArray[np.float64]:
        """``rows(documents) @ weights`` (n_units x n_columns).

        When the unit table keeps per-unit parts for these ``weights`` (the scorer's span
        weights), each unit's row is its two stored parts times its document's block
        scales: a gather instead of a product over every n-gram of the batch.
        """
        table = self.table
        if table.weights is not weights or table.word_parts is None or table.char_parts is None:
            return np.asarray(self.rows(documents) @ weights, dtype=np.float64)
        # np.take gathers whole rows (half the time of fancy indexing on this 2-D table).
        out = np.take(table.word_parts, self.ids, axis=0).astype(np.float64)
        out *= self.word_scale[self.unit_doc][:, None]
        chars = np.take(table.char_parts, self.ids, axis=0)
        chars *= self.char_scale[self.unit_doc][:, None]
        out += chars
        out[~documents[self.unit_doc]] = 0.0
        return out


def _keep(df: dict[Any, int], min_df: int, limit: int) -> list[Any]:
    """Grams with df >= min_df, the most frequent first, at most ``limit``."""
    kept = sorted((g for g, n in df.items() if n >= min_df), key=lambda g: (-df[g], str(g)))
    return kept[:limit]


def _idf(counts: list[int], n_docs: int) -> NDArray[np.float32]:
    """Smoothed IDF, as scikit-learn computes it."""
    df = np.asarray(counts, dtype=np.float64)
    return (np.log((1.0 + n_docs) / (1.0 + df)) + 1.0).astype(np.float32)
